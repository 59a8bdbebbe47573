// A tiny two-pass assembler for readable listings of the model's code (ftrace_caller, patch-site
// sequences, PLTs, direct trampolines). Stands for the hand-written .S sources as GNU as would
// assemble them; it accepts exactly the text `disasm` prints plus a few GNU as conveniences.

import {
  BRANCH_RANGES,
  HINT_NAMES,
  InsnError,
  decode,
  encode,
  genBranch,
  toHex,
  type Insn,
  type PairMode,
  type Reg,
} from "./insn.ts";

/** One instruction or label (`name:`) per line; `//` comments and blank lines allowed. */
export type Listing = ReadonlyArray<string>;

export interface Assembled {
  readonly words: ReadonlyArray<number>;
  readonly labels: ReadonlyMap<string, bigint>;
  readonly insns: ReadonlyArray<Insn>;
}

const U64 = (1n << 64n) - 1n;
const LABEL_LINE = /^([A-Za-z_.$][A-Za-z0-9_.$]*):$/;

function fail(message: string): never {
  throw new InsnError(message);
}

function stripComment(line: string): string {
  const at = line.indexOf("//");
  return (at < 0 ? line : line.slice(0, at)).trim();
}

/** Assemble a whole listing placed at `base`; labels may be referenced before they are defined. */
export function assemble(listing: Listing, base: bigint, externals?: (name: string) => bigint | undefined): Assembled {
  const labels = new Map<string, bigint>();
  const lines: Array<{ readonly text: string; readonly pc: bigint; readonly lineNo: number }> = [];
  let pc = BigInt.asUintN(64, base);
  listing.forEach((raw, index) => {
    const text = stripComment(raw);
    if (text === "") return;
    const label = LABEL_LINE.exec(text);
    if (label !== null) {
      const name = label[1] ?? "";
      if (labels.has(name)) fail(`line ${index + 1} ${JSON.stringify(raw.trim())}: label "${name}" is defined twice`);
      labels.set(name, pc);
      return;
    }
    lines.push({ text: raw, pc, lineNo: index + 1 });
    pc = BigInt.asUintN(64, pc + 4n);
  });
  const resolve = (name: string): bigint | undefined => labels.get(name) ?? externals?.(name);
  const insns = lines.map(({ text, pc: at, lineNo }) => {
    try {
      return assembleLine(text, at, resolve);
    } catch (e) {
      if (e instanceof InsnError) throw new InsnError(`line ${lineNo} at ${toHex(at)}: ${e.message}`);
      throw e;
    }
  });
  return { words: insns.map(encode), labels, insns };
}

/** Assemble one instruction at `pc`; throws InsnError naming the line for anything malformed or unencodable. */
export function assembleLine(text: string, pc: bigint, resolve: (name: string) => bigint | undefined): Insn {
  try {
    const insn = parseLine(stripComment(text), BigInt.asUintN(64, pc), resolve);
    encode(insn); // validates every operand
    return insn;
  } catch (e) {
    if (e instanceof InsnError) throw new InsnError(`${JSON.stringify(text.trim())}: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Operands
// ---------------------------------------------------------------------------------------------

/** Split on commas outside brackets; every operand must be non-empty. */
function splitOperands(rest: string): string[] {
  if (rest.trim() === "") return [];
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of rest) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (depth < 0) fail("unbalanced ']'");
    if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else {
      cur += ch;
    }
  }
  if (depth !== 0) fail("unbalanced '['");
  out.push(cur.trim());
  if (out.some((o) => o === "")) fail("empty operand");
  return out;
}

function want(ops: ReadonlyArray<string>, mnemonic: string, ...counts: number[]): void {
  if (!counts.includes(ops.length)) {
    fail(`${mnemonic} takes ${counts.join(" or ")} operand(s), got ${ops.length}`);
  }
}

function op(ops: ReadonlyArray<string>, i: number): string {
  return ops[i] ?? fail(`missing operand ${i + 1}`);
}

/** A 64-bit register; register 31 is `sp` when `sp31`, else `xzr`. */
function reg(token: string, sp31: boolean): Reg {
  const t = token.trim().toLowerCase();
  if (t === "lr") return 30;
  if (t === "fp") return 29;
  if (t === "sp" || t === "wsp") {
    if (t === "sp" && sp31) return 31;
    fail(`${t} is not allowed here (expected ${sp31 ? "x0..x30 or sp" : "x0..x30 or xzr"})`);
  }
  if (t === "xzr") {
    if (!sp31) return 31;
    fail("xzr is not allowed here (expected x0..x30 or sp)");
  }
  const x = /^x([0-9]|[12][0-9]|30)$/.exec(t);
  if (x !== null) return Number(x[1]);
  if (/^w([0-9]|[12][0-9]|30|zr)$/.test(t)) fail(`32-bit register ${t} is not supported`);
  return fail(`expected a register, got ${JSON.stringify(token)}`);
}

/** `#123`, `#-0x10`, `0x10` (the `#` is optional) as a bigint. */
function immediate(token: string): bigint {
  const t = token.trim().replace(/^#/, "");
  const m = /^(-?)(0x[0-9a-fA-F]+|[0-9]+)$/.exec(t);
  if (m === null) return fail(`expected an immediate, got ${JSON.stringify(token)}`);
  const v = BigInt(m[2] ?? "0");
  return m[1] === "-" ? -v : v;
}

/** An immediate that must lie in [lo, hi]. */
function smallImm(token: string, lo: number, hi: number, what: string): number {
  const v = immediate(token);
  if (v < BigInt(lo) || v > BigInt(hi)) fail(`${what} ${v} is out of range [${lo}, ${hi}]`);
  return Number(v);
}

/** `lsl #n` with n from `allowed`. */
function shift(token: string, allowed: ReadonlyArray<number>): number {
  const m = /^lsl\s+(#?\S+)$/i.exec(token.trim());
  if (m === null) return fail(`expected "lsl #n", got ${JSON.stringify(token)}`);
  const n = immediate(m[1] ?? "");
  if (!allowed.some((a) => BigInt(a) === n)) fail(`shift lsl #${n} is not one of ${allowed.map((a) => `#${a}`).join(", ")}`);
  return Number(n);
}

interface Mem {
  readonly rn: Reg;
  readonly imm: number;
  readonly writeback: boolean;
}

/** `[xn]`, `[xn, #imm]`, optionally followed by `!`. */
function memory(token: string): Mem {
  const m = /^\[([^\],]+)(?:,([^\]]+))?\](!?)$/.exec(token.trim());
  if (m === null) return fail(`expected a memory operand [xn{, #imm}], got ${JSON.stringify(token)}`);
  const rn = reg(m[1] ?? "", true);
  const imm = m[2] === undefined ? 0 : smallImm(m[2], -(2 ** 31), 2 ** 31, "offset");
  return { rn, imm, writeback: m[3] === "!" };
}

/** A branch target: absolute hex address, `.`/`.±n`, a label or external symbol, or `symbol±n`. */
function targetAddr(token: string, pc: bigint, resolve: (name: string) => bigint | undefined): bigint {
  const t = token.trim();
  if (/^0x[0-9a-fA-F]+$/.test(t)) {
    const v = BigInt(t);
    if (v > U64) fail(`address ${t} does not fit in 64 bits`);
    return v;
  }
  if (t === ".") return pc;
  const direct = resolve(t);
  if (direct !== undefined) return BigInt.asUintN(64, direct);
  const m = /^(.+?)\s*([+-])\s*(0x[0-9a-fA-F]+|[0-9]+)$/.exec(t);
  if (m !== null) {
    const baseName = m[1] ?? "";
    const base = baseName === "." ? pc : resolve(baseName);
    if (base !== undefined) {
      const off = BigInt(m[3] ?? "0");
      return BigInt.asUintN(64, m[2] === "-" ? base - off : base + off);
    }
  }
  return fail(`undefined symbol ${JSON.stringify(t)}`);
}

/** PC-relative byte offset for cbz/cbnz/adrp, checked against [lo, hi] and `align` with a message naming both ends. */
function pcRel(mnemonic: string, from: bigint, to: bigint, lo: number, hi: number, align: number, range: string): number {
  const off = BigInt.asIntN(64, to - from);
  const where = `${mnemonic.toUpperCase()} from ${toHex(from)} to ${toHex(to)}`;
  const sign = off < 0n ? `-0x${(-off).toString(16)}` : `+0x${off.toString(16)}`;
  if (off % BigInt(align) !== 0n) fail(`${where}: offset ${sign} is not a multiple of ${align}`);
  if (off < BigInt(lo) || off > BigInt(hi)) fail(`${where}: offset ${sign} is out of range ${range}`);
  return Number(off);
}

// ---------------------------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------------------------

const HINT_BY_NAME: ReadonlyMap<string, number> = new Map([...HINT_NAMES].map(([imm, name]) => [name, imm]));

function pairInsn(kind: "ldp" | "stp", ops: ReadonlyArray<string>): Insn {
  want(ops, kind, 3, 4);
  const rt = reg(op(ops, 0), false);
  const rt2 = reg(op(ops, 1), false);
  const mem = memory(op(ops, 2));
  let mode: PairMode;
  let imm: number;
  if (ops.length === 4) {
    if (mem.writeback || mem.imm !== 0 || op(ops, 2).includes(",")) fail(`${kind} post-index takes [xn], #imm`);
    mode = "post";
    imm = smallImm(op(ops, 3), -(2 ** 31), 2 ** 31, `${kind} offset`);
  } else {
    mode = mem.writeback ? "pre" : "offset";
    imm = mem.imm;
  }
  return { kind, rt, rt2, rn: mem.rn, imm, mode };
}

function loadStore(kind: "ldr" | "str" | "ldur" | "stur", ops: ReadonlyArray<string>): Insn {
  want(ops, kind, 2);
  const rt = reg(op(ops, 0), false);
  const operand = op(ops, 1);
  if (!operand.startsWith("[")) fail(`${kind} needs a [xn{, #imm}] operand (literal loads are not supported)`);
  const mem = memory(operand);
  if (mem.writeback) fail(`pre-index ${kind} is not supported`);
  const load = kind === "ldr" || kind === "ldur";
  const scaledOk = mem.imm >= 0 && mem.imm <= 32760 && mem.imm % 8 === 0;
  if (kind === "ldr" || kind === "str") {
    if (scaledOk) return { kind: load ? "ldr_imm" : "str_imm", rt, rn: mem.rn, imm: mem.imm };
    if (mem.imm < -256 || mem.imm > 255) {
      fail(`${kind} offset ${mem.imm} is neither a multiple of 8 in [0, 32760] nor in [-256, 255]`);
    }
  }
  return { kind: load ? "ldur" : "stur", rt, rn: mem.rn, simm9: mem.imm };
}

function addSub(kind: "add_imm" | "sub_imm", ops: ReadonlyArray<string>): Insn {
  const name = kind === "add_imm" ? "add" : "sub";
  want(ops, name, 3, 4);
  const rd = reg(op(ops, 0), true);
  const rn = reg(op(ops, 1), true);
  const value = immediate(op(ops, 2));
  if (ops.length === 4) {
    const lsl12 = shift(op(ops, 3), [0, 12]) === 12;
    if (value < 0n || value > 4095n) fail(`${name} immediate ${value} is out of range [0, 4095]`);
    return { kind, rd, rn, imm12: Number(value), lsl12 };
  }
  if (value >= 0n && value <= 4095n) return { kind, rd, rn, imm12: Number(value), lsl12: false };
  // Like GNU as: a multiple of 4096 that fits after shifting uses LSL #12.
  if (value > 0n && value % 4096n === 0n && value / 4096n <= 4095n) return { kind, rd, rn, imm12: Number(value / 4096n), lsl12: true };
  return fail(`${name} immediate ${value} is not encodable (0..4095, optionally shifted left by 12)`);
}

function logical(mnemonic: "and" | "bic", ops: ReadonlyArray<string>): Insn {
  want(ops, mnemonic, 3);
  const rd = reg(op(ops, 0), true);
  const rn = reg(op(ops, 1), false);
  const value = immediate(op(ops, 2));
  if (value < -(1n << 63n) || value > U64) fail(`${mnemonic} immediate ${value} does not fit in 64 bits`);
  const bits = BigInt.asUintN(64, value);
  return { kind: "and_imm", rd, rn, imm: mnemonic === "bic" ? ~bits & U64 : bits };
}

function parseLine(text: string, pc: bigint, resolve: (name: string) => bigint | undefined): Insn {
  if (text === "") fail("empty line");
  if (text.includes("\n")) fail("more than one line");
  if (LABEL_LINE.test(text)) fail("labels are only accepted by assemble()");
  const normal = text.replace(/\s+/g, " ").toLowerCase();
  const named = HINT_BY_NAME.get(normal);
  if (named !== undefined) return { kind: "hint", imm: named };
  const m = /^(\S+)\s*(.*)$/.exec(text);
  const mnemonic = (m?.[1] ?? "").toLowerCase();
  const ops = splitOperands(m?.[2] ?? "");
  switch (mnemonic) {
    case "nop":
      want(ops, mnemonic, 0);
      return { kind: "nop" };
    case "bti": {
      want(ops, mnemonic, 0, 1);
      const t = ops.length === 0 ? "none" : op(ops, 0).toLowerCase();
      if (t === "none" || t === "c" || t === "j" || t === "jc") return { kind: "bti", target: t };
      return fail(`bti target ${JSON.stringify(t)} is not c, j or jc`);
    }
    case "hint": {
      want(ops, mnemonic, 1);
      return decode(encode({ kind: "hint", imm: smallImm(op(ops, 0), 0, 127, "hint") }));
    }
    case "mov": {
      want(ops, mnemonic, 2);
      const a = op(ops, 0).toLowerCase();
      const b = op(ops, 1).toLowerCase();
      if (b.startsWith("#")) return fail("mov with an immediate is not supported (use movz/movk)");
      if (a === "sp" || b === "sp") return { kind: "add_imm", rd: reg(a, true), rn: reg(b, true), imm12: 0, lsl12: false };
      return { kind: "orr_reg", rd: reg(a, false), rn: 31, rm: reg(b, false) };
    }
    case "orr":
      want(ops, mnemonic, 3);
      return { kind: "orr_reg", rd: reg(op(ops, 0), false), rn: reg(op(ops, 1), false), rm: reg(op(ops, 2), false) };
    case "add":
      return addSub("add_imm", ops);
    case "sub":
      return addSub("sub_imm", ops);
    case "and":
    case "bic":
      return logical(mnemonic, ops);
    case "ldr":
    case "str":
    case "ldur":
    case "stur":
      return loadStore(mnemonic, ops);
    case "ldp":
    case "stp":
      return pairInsn(mnemonic, ops);
    case "cbz":
    case "cbnz": {
      want(ops, mnemonic, 2);
      const rt = reg(op(ops, 0), false);
      const to = targetAddr(op(ops, 1), pc, resolve);
      const [lo, hi] = BRANCH_RANGES.cb;
      return { kind: mnemonic, rt, offset: pcRel(mnemonic, pc, to, lo, hi, 4, "[-1 MiB, +1 MiB - 4]") };
    }
    case "b":
    case "bl":
      want(ops, mnemonic, 1);
      return genBranch(pc, targetAddr(op(ops, 0), pc, resolve), mnemonic === "bl");
    case "br":
    case "blr":
      want(ops, mnemonic, 1);
      return { kind: mnemonic, rn: reg(op(ops, 0), false) };
    case "ret":
      want(ops, mnemonic, 0, 1);
      return { kind: "ret", rn: ops.length === 0 ? 30 : reg(op(ops, 0), false) };
    case "adrp": {
      want(ops, mnemonic, 2);
      const rd = reg(op(ops, 0), false);
      const to = targetAddr(op(ops, 1), pc, resolve);
      const [lo, hi] = BRANCH_RANGES.adrp;
      return { kind: "adrp", rd, offset: pcRel("adrp", pc & ~0xfffn, to & ~0xfffn, lo, hi, 4096, "[-4 GiB, +4 GiB - 4 KiB]") };
    }
    case "movz":
    case "movk": {
      want(ops, mnemonic, 2, 3);
      const rd = reg(op(ops, 0), false);
      const imm16 = smallImm(op(ops, 1), 0, 0xffff, `${mnemonic} immediate`);
      const hw = ops.length === 3 ? shift(op(ops, 2), [0, 16, 32, 48]) / 16 : 0;
      return { kind: mnemonic, rd, imm16, hw };
    }
    case "brk":
      want(ops, mnemonic, 1);
      return { kind: "brk", imm16: smallImm(op(ops, 0), 0, 0xffff, "brk immediate") };
    case ".word": {
      want(ops, mnemonic, 1);
      const t = op(ops, 0);
      if (t.startsWith("#")) fail(".word takes a plain number");
      return decode(smallImm(t, 0, 0xffffffff, ".word value"));
    }
    default:
      return fail(`unknown mnemonic ${JSON.stringify(mnemonic)}`);
  }
}
