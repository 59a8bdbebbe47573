// A design whose trampoline code is a built kernel's: the words of entry-ftrace.S's ftrace_caller and
// ftrace_stub_direct_tramp as a vmlinux or a running kernel holds them, with upstream's ftrace core and arch code.
// What the model needs to know about that code is read from the code itself (the frame it reserves, where it
// stores x0-x8/fp/lr/sp/pc, the ops members it loads, where it looks for the literal), and, when the image carries
// BTF, the C side's struct layouts come from there. Stands for arch/arm64/kernel/entry-ftrace.S as built.

import { match } from "ts-pattern";
import { z } from "zod";
import { decode, disasm, HINT_NAMES, insnRole, pcOffset, toHex, type Insn } from "./insn.ts";
import type { BinaryCode } from "./kernel.ts";
import { FTRACE_OPS_DIRECT_CALL, FTRACE_OPS_NEXT, FTRACE_OPS_SIZE, type FtraceRegsLayout, type OpsLayout } from "./structs.ts";
import { ModelInputError } from "./errors.ts";

/** Input the model cannot take as a design: one line, naming the word or symbol and its address. */
export class EntryError extends ModelInputError {}

/** A symbol of the image: inside its code, a branch target, or one the model binds by name. */
export interface ImageSymbol {
  readonly name: string;
  readonly addr: bigint;
  /** A global symbol (an object's own start), as against a local label inside one. */
  readonly global: boolean;
}

/** One piece of entry-ftrace.S: its words from its symbol to its end. */
export interface ImageCode {
  readonly name: string;
  readonly addr: bigint;
  readonly words: ReadonlyArray<number>;
}

/** struct layouts as the kernel's BTF gives them (byte offsets), when the image has them. */
export interface ImageBtf {
  readonly ops: { readonly func: number; readonly direct_call: number; readonly size: number } | null;
  readonly regs: FtraceRegsLayout | null;
}

/** What --entry reads from a vmlinux or a dump: plain data (bigints and numbers), so worker threads can take it. */
export interface EntryImage {
  /** The design's name. */
  readonly name: string;
  /** Where it came from, for people. */
  readonly source: string;
  /** The kernel release, when known (a dump says it). */
  readonly release: string | null;
  readonly code: ReadonlyArray<ImageCode>;
  readonly symbols: ReadonlyArray<ImageSymbol>;
  readonly btf: ImageBtf | null;
}

/** The model places ftrace_caller 0x400 bytes below ftrace_stub_direct_tramp; larger code would overlap it. */
export const MAX_FTRACE_CALLER_BYTES = 0x400;
export const MAX_STUB_BYTES = 0x100;

/** C functions and code the model has under the kernel's names: a branch out of the binary may be bound to them. */
export const BINDABLE = ["ftrace_ops_list_func", "ftrace_ops_nop_func", "call_direct_funcs", "ftrace_stub", "ftrace_caller", "ftrace_stub_direct_tramp"] as const;

// ---------------------------------------------------------------------------------------------------------------
// Naming words the interpreter does not implement
// ---------------------------------------------------------------------------------------------------------------

/** Hints the interpreter may run as NOPs: they change no register or memory the model observes. */
const NOP_HINTS = new Set([1, 2, 3, 4, 5, 16, 17, 18, 20, 22]);

/** The hint space's pointer-authentication instructions (xpaclri, the *1716 forms, the *z and *sp forms). */
const PAC_HINTS = new Set([7, 8, 10, 12, 14, 24, 25, 26, 27, 28, 29, 30, 31]);

/** A coarse A64 name for a word outside the interpreter's subset, for the one-line refusal. */
export function describeWord(w: number): string {
  const is = (mask: number, value: number): boolean => (w & mask) >>> 0 === value >>> 0;
  if (w === 0) return "udf #0 (zero word)";
  if (is(0xfff00000, 0xd5300000)) return "mrs (system register read)";
  if (is(0xfff00000, 0xd5100000)) return "msr (system register write)";
  if (is(0xfffff0ff, 0xd50330bf)) return "dmb (barrier)";
  if (is(0xfffff0ff, 0xd503309f)) return "dsb (barrier)";
  if (is(0xfffff0ff, 0xd50330df)) return "isb (barrier)";
  if (is(0xfffff01f, 0xd503201f)) {
    const imm = (w >>> 5) & 0x7f;
    return `${HINT_NAMES.get(imm) ?? `hint #${imm}`} (${PAC_HINTS.has(imm) ? "pointer authentication: changes x30 or x17" : "hint"})`;
  }
  if (is(0xffc00000, 0xd5000000)) return "a system instruction (sys, sysl, msr immediate)";
  if (is(0x3f000000, 0x08000000)) return "a load/store exclusive (ldxr, stxr, ldaxr, stlxr, cas)";
  if (is(0xff000010, 0x54000000)) return "b.cond";
  if (is(0x7e000000, 0x36000000)) return "tbz/tbnz";
  if (is(0x9f000000, 0x10000000)) return "adr";
  if (is(0x3b000000, 0x18000000)) return "ldr (literal)";
  if (is(0x1f000000, 0x0b000000)) return "add/sub (register)";
  if (is(0x1f000000, 0x0a000000)) return "a logical operation (register) other than a 64-bit mov";
  if (is(0x1f000000, 0x11000000)) return "add/sub (immediate) in 32 bits or setting flags";
  if (is(0x1f800000, 0x12000000)) return "a logical operation (immediate) other than a 64-bit and";
  if (is(0x1f800000, 0x13000000)) return "a bitfield move (ubfm, sbfm, lsl, lsr)";
  if (is(0x0a000000, 0x08000000)) return "a load or store of another size or addressing mode";
  if (is(0x1e000000, 0x1a000000)) return "data processing (register: csel, adc, lslv)";
  return "an instruction outside the interpreter's subset";
}

/** Why the interpreter cannot run this instruction, or null when it can. */
function unsupported(insn: Insn, word: number): string | null {
  return match(insn)
    .with({ kind: "unknown" }, () => describeWord(word))
    .with({ kind: "hint" }, (i) => (NOP_HINTS.has(i.imm) ? null : describeWord(word)))
    .with({ kind: "brk" }, () => "brk (a trap)")
    .otherwise(() => null);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the code
// ---------------------------------------------------------------------------------------------------------------

function at(code: ImageCode, offset: number): string {
  return `${code.name}+0x${offset.toString(16)} (${toHex(code.addr + BigInt(offset))})`;
}

/**
 * Word offsets reachable from the code's entry: straight-line flow, both ways of a conditional branch, a BL's
 * return; BR and RET end a path. Padding after the last instruction is not reached, so it is never judged.
 * Branches that leave the code are returned by offset with their targets.
 */
export function reachable(code: ImageCode): { readonly offsets: ReadonlyArray<number>; readonly exits: ReadonlyArray<{ offset: number; target: bigint; insn: Insn }> } {
  const seen = new Set<number>();
  const exits: Array<{ offset: number; target: bigint; insn: Insn }> = [];
  const todo = [0];
  const size = code.words.length * 4;
  const inside = (t: bigint): number | null => {
    const off = t - code.addr;
    return off >= 0n && off < BigInt(size) ? Number(off) : null;
  };
  while (todo.length > 0) {
    const off = todo.pop()!;
    if (seen.has(off)) continue;
    if (off >= size) throw new EntryError(`${code.name} runs off its end at ${at(code, off)}: its last reachable instruction falls through`);
    seen.add(off);
    const word = code.words[off / 4]!;
    const insn = decode(word);
    const why = unsupported(insn, word);
    if (why !== null) throw new EntryError(`${at(code, off)}: word 0x${word.toString(16).padStart(8, "0")} is ${why}, which the interpreter does not implement`);
    const pc = code.addr + BigInt(off);
    const follow = (target: bigint, fallThrough: boolean): void => {
      const t = inside(target);
      if (t === null) exits.push({ offset: off, target, insn });
      else todo.push(t);
      if (fallThrough) todo.push(off + 4);
    };
    const target = pc + BigInt(pcOffset(insn) ?? 0);
    match(insnRole(insn))
      .with("jump", () => follow(target, false))
      .with("call", "cond-jump", () => follow(target, true))
      .with("address", () => {
        throw new EntryError(`${at(code, off)}: ${disasm(insn, pc)} refers to data at ${toHex((pc & ~0xfffn) + BigInt(pcOffset(insn) ?? 0))}, which the model does not bind`);
      })
      // An indirect branch or a return ends the block: where it goes is not in the words.
      .with("indirect-jump", "return", () => undefined)
      // Everything else falls through to the next word (a BLR returns there, BRK is judged when it runs).
      .with("indirect-call", "load", "store", "other", () => todo.push(off + 4))
      .exhaustive();
  }
  return { offsets: [...seen].sort((a, b) => a - b), exits };
}

/** What ftrace_caller's own words say about the structures it uses. Null where the code does not say. */
export interface EntryFacts {
  /** `bic xA, x30, #m; ldr xOP, [xA, #off]`: the literal is at (x30 & mask) + offset. */
  readonly literal: { readonly mask: bigint; readonly offset: number } | null;
  /** The offset loaded from the ops pointer and tested by CBZ/CBNZ (ops->direct_call). */
  readonly opsDirectCall: number | null;
  /** The offset loaded from the ops pointer and called through BLR (ops->func). */
  readonly opsFunc: number | null;
  /** `sub sp, sp, #N`: bytes reserved below the callsite's sp. */
  readonly frame: number | null;
  /** struct ftrace_regs as the code stores it, when every slot is found. */
  readonly fregs: FtraceRegsLayout | null;
}

/** Read ftrace_caller's reachable instructions in address order and note what they reveal. */
export function entryFacts(code: ImageCode): EntryFacts {
  const insns = reachable(code).offsets.map((o) => decode(code.words[o / 4]!));
  let aligned: { reg: number; mask: bigint } | null = null;
  let literal: EntryFacts["literal"] = null;
  const opRegs = new Set<number>();
  const loadedFromOp = new Map<number, number>();
  let opsDirectCall: number | null = null;
  let opsFunc: number | null = null;
  let frame: number | null = null;
  let spCopy: number | null = null;
  const x: Array<number | undefined> = [];
  let directTramp: number | null = null;
  let fp: number | null = null;
  let lr: number | null = null;
  let sp: number | null = null;
  let pc: number | null = null;
  let record: number | null = null;
  for (const i of insns) {
    match(i)
      .with({ kind: "and_imm" }, (a) => {
        if (a.rn === 30 && aligned === null) aligned = { reg: a.rd, mask: a.imm };
      })
      .with({ kind: "ldr_imm" }, { kind: "ldur" }, (l) => {
        const off = l.kind === "ldr_imm" ? l.imm : l.simm9;
        const al: { reg: number; mask: bigint } | null = aligned;
        if (literal === null && ((al !== null && l.rn === al.reg) || l.rn === 30)) {
          literal = { mask: al !== null && l.rn === al.reg ? al.mask : (1n << 64n) - 1n, offset: off };
          opRegs.clear();
          opRegs.add(l.rt);
          return;
        }
        if (opRegs.has(l.rn)) loadedFromOp.set(l.rt, off);
        else loadedFromOp.delete(l.rt);
      })
      .with({ kind: "orr_reg" }, (m) => {
        if (m.rn === 31 && opRegs.has(m.rm)) opRegs.add(m.rd);
        const v = loadedFromOp.get(m.rm);
        if (m.rn === 31 && v !== undefined) loadedFromOp.set(m.rd, v);
      })
      .with({ kind: "cbz" }, { kind: "cbnz" }, (c) => {
        const v = loadedFromOp.get(c.rt);
        if (v !== undefined && opsDirectCall === null) opsDirectCall = v;
      })
      .with({ kind: "blr" }, (b) => {
        const v = loadedFromOp.get(b.rn);
        if (v !== undefined && opsFunc === null) opsFunc = v;
      })
      .with({ kind: "add_imm" }, (a) => {
        if (a.rn === 31 && a.imm12 === 0 && a.rd !== 31 && frame === null) spCopy = a.rd;
      })
      .with({ kind: "sub_imm" }, (s) => {
        if (s.rd === 31 && s.rn === 31 && frame === null) frame = s.imm12 << (s.lsl12 ? 12 : 0);
      })
      .with({ kind: "stp" }, (s) => {
        if (s.rn !== 31 || s.mode !== "offset" || frame === null) return;
        if (s.rt <= 8 && s.rt2 === s.rt + 1 && x[s.rt] === undefined) {
          x[s.rt] = s.imm;
          x[s.rt2] = s.imm + 8;
        } else if (s.rt === 29 && s.rt2 === 30 && record === null) record = s.imm;
      })
      .with({ kind: "str_imm" }, (s) => {
        if (s.rn !== 31 || frame === null) return;
        if (s.rt <= 8 && x[s.rt] === undefined) x[s.rt] = s.imm;
        else if (s.rt === 31 && directTramp === null) directTramp = s.imm;
        else if (s.rt === 29 && fp === null) fp = s.imm;
        else if (s.rt === 9 && lr === null) lr = s.imm;
        else if (s.rt === 30 && pc === null) pc = s.imm;
        else if (s.rt === spCopy && sp === null) sp = s.imm;
      })
      .otherwise(() => undefined);
  }
  const xs = x.slice(0, 9);
  const size = record ?? (frame !== null ? frame - 32 : null);
  const complete = xs.length === 9 && xs.every((v) => v !== undefined) && fp !== null && lr !== null && sp !== null && pc !== null && size !== null;
  const fregs: FtraceRegsLayout | null = complete ? { x: xs as number[], direct_tramp: directTramp, fp: fp!, lr: lr!, sp: sp!, pc: pc!, size: size! } : null;
  return { literal, opsDirectCall, opsFunc, frame, fregs };
}

/** The facts as lines for people (what `--entry` reports it read). */
export function factLines(f: EntryFacts, btf: ImageBtf | null): string[] {
  const r = f.fregs;
  const lit = f.literal;
  const btfSays = (what: string, code: number | null, b: number | undefined): string =>
    b === undefined ? "" : b === code ? " (BTF agrees)" : `, but BTF says ${what} is at ${b}`;
  return [
    `literal at ${lit === null ? "?" : `(x30 & ${lit.mask === ~7n + (1n << 64n) ? "~7" : toHex(lit.mask)}) ${lit.offset < 0 ? "-" : "+"} ${Math.abs(lit.offset)}`}`,
    `ops->func at ${f.opsFunc ?? "?"}${btfSays("ops->func", f.opsFunc, btf?.ops?.func)}, ops->direct_call at ${f.opsDirectCall ?? "? (no early direct exit)"}${btfSays("ops->direct_call", f.opsDirectCall, btf?.ops?.direct_call)}`,
    `frame ${f.frame ?? "?"} bytes; ftrace_regs ${r === null ? "?" : `${r.size} bytes: x0-x8 at ${r.x.join(",")}, direct_tramp at ${r.direct_tramp ?? "-"}, fp ${r.fp}, lr ${r.lr}, sp ${r.sp}, pc ${r.pc}`}${btf?.regs !== null && btf?.regs !== undefined && r !== null && btf.regs.size !== r.size ? `, but BTF says ${btf.regs.size} bytes` : ""}`,
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// The design
// ---------------------------------------------------------------------------------------------------------------

export function codeNamed(image: EntryImage, name: string): ImageCode | null {
  return image.code.find((c) => c.name === name) ?? null;
}

/** The words as the model places them: internal labels by offset, and each exit bound to a symbol the model has. */
export function binaryCode(image: EntryImage, code: ImageCode): BinaryCode {
  const { exits } = reachable(code);
  const end = code.addr + BigInt(code.words.length * 4);
  const labels = image.symbols.filter((s) => s.addr >= code.addr && s.addr < end).map((s) => ({ name: s.name, offset: Number(s.addr - code.addr) }));
  const binds = exits.map((e) => {
    const at = image.symbols.filter((s) => s.addr === e.target);
    const sym = at.find((s) => (BINDABLE as ReadonlyArray<string>).includes(s.name)) ?? at.find((s) => s.global) ?? at[0];
    const where = `${code.name}+0x${e.offset.toString(16)}`;
    if (sym === undefined) throw new EntryError(`${where}: ${disasm(e.insn, code.addr + BigInt(e.offset))} leaves ${code.name} for ${toHex(e.target)}, which no symbol of the image names`);
    if (!(BINDABLE as ReadonlyArray<string>).includes(sym.name)) throw new EntryError(`${where}: ${e.insn.kind} to ${sym.name}, a function the model does not have (it binds ${BINDABLE.join(", ")})`);
    if (e.insn.kind !== "b" && e.insn.kind !== "bl") throw new EntryError(`${where}: ${e.insn.kind} to ${sym.name} leaves ${code.name}; only B and BL can be bound`);
    return { offset: e.offset, symbol: sym.name };
  });
  return { name: code.name, linkedAt: code.addr, words: code.words, labels, binds };
}

/** Offsets the C side uses: BTF's when the image has them, else what the code loads. */
export function opsLayout(image: EntryImage, facts: EntryFacts, direct: boolean): OpsLayout {
  const b = image.btf?.ops ?? null;
  const func = b?.func ?? facts.opsFunc;
  // Without DIRECT_CALLS the ops has no direct_call member: nothing reads it, so the model keeps it in its own slot.
  const directCall = b?.direct_call ?? facts.opsDirectCall ?? (direct ? null : FTRACE_OPS_DIRECT_CALL);
  if (func === null) throw new EntryError("ftrace_caller: no BLR through a member of the ops loaded from the literal, and no BTF to say where ops->func is");
  if (directCall === null) throw new EntryError("ftrace_caller: no load of ops->direct_call tested by CBZ/CBNZ, and no BTF to say where it is");
  for (const [what, off] of [["func", func], ["direct_call", directCall]] as const) {
    if (off < 0 || off % 8 !== 0 || BigInt(off) + 8n > FTRACE_OPS_SIZE) throw new EntryError(`ops->${what} at ${off}: the model gives each ops ${FTRACE_OPS_SIZE} bytes and needs an aligned 8-byte member inside them`);
    if (off === FTRACE_OPS_NEXT) throw new EntryError(`ops->${what} at ${off}: the model keeps ops->next there (the list walk reads it)`);
  }
  if (func === directCall) throw new EntryError(`ops->func and ops->direct_call are both at ${func}`);
  return { func, direct_call: directCall, ...(b?.size !== undefined ? { size: b.size } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// The dump a running kernel's guest agent writes (kernel/agent/kagent.c `dump`)
// ---------------------------------------------------------------------------------------------------------------

const hexAddr = z.string().regex(/^0x[0-9a-f]{1,16}$/i, "expected a hex address such as 0xffff800080010000");
const word = z.string().regex(/^[0-9a-f]{8}$/i, "expected an instruction word as 8 hex digits");
const offsetOrMissing = z.number().int().min(-1);

const dumpSchema = z
  .object({
    format: z.literal("dispatch-spec/entry@1"),
    release: z.string(),
    code: z.array(
      z.union([
        z
          .object({
            name: z.string(),
            addr: hexAddr.refine((a) => BigInt(a) % 4n === 0n, "code must start at a 4-byte aligned address"),
            words: z.array(word).min(1).max(256),
            symbols: z.array(z.object({ name: z.string(), addr: hexAddr, type: z.string().length(1) })),
          })
          .strict(),
        z.object({ name: z.string(), error: z.string() }).strict(),
      ]),
    ),
    refs: z.array(z.object({ at: hexAddr, to: hexAddr, sym: z.string() }).strict()),
    named: z.record(z.string(), hexAddr),
    btf: z.record(z.string(), z.record(z.string(), offsetOrMissing)),
  })
  .strict();

export type EntryDump = z.infer<typeof dumpSchema>;

/** The first problem zod found, as `path: message`. */
function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return i === undefined ? "invalid" : `${i.path.length > 0 ? i.path.join(".") : "(top)"}: ${i.message}`;
}

function btfOf(b: EntryDump["btf"]): ImageBtf {
  const o = b["ftrace_ops"];
  const r = b["__arch_ftrace_regs"] ?? b["ftrace_regs"];
  const known = (v: number | undefined): v is number => v !== undefined && v >= 0;
  const ops = o !== undefined && known(o["func"]) && known(o["direct_call"]) && known(o["size"]) ? { func: o["func"], direct_call: o["direct_call"], size: o["size"] } : null;
  const regs =
    r !== undefined && known(r["regs"]) && known(r["fp"]) && known(r["lr"]) && known(r["sp"]) && known(r["pc"]) && known(r["size"])
      ? { x: Array.from({ length: 9 }, (_, i) => r["regs"]! + 8 * i), direct_tramp: known(r["direct_tramp"]) ? r["direct_tramp"] : null, fp: r["fp"], lr: r["lr"], sp: r["sp"], pc: r["pc"], size: r["size"] }
      : null;
  return { ops, regs };
}

/** A dump (parsed JSON) as an image; `name` is the design's name, `source` says where it came from (errors name no file: the caller does). */
export function imageFromDump(json: unknown, name: string, source: string): EntryImage {
  const r = dumpSchema.safeParse(json);
  if (!r.success) throw new EntryError(firstIssue(r.error));
  const d = r.data;
  const code: ImageCode[] = [];
  const symbols: ImageSymbol[] = [];
  for (const c of d.code) {
    if ("error" in c) {
      // Only a symbol the kernel does not have means the piece is absent (no DIRECT_CALLS); a failed read is an error.
      if (c.name === "ftrace_caller" || c.error !== "no such symbol") throw new EntryError(`the guest could not read ${c.name}: ${c.error}`);
      continue;
    }
    code.push({ name: c.name, addr: BigInt(c.addr), words: c.words.map((w) => parseInt(w, 16)) });
    for (const s of c.symbols) symbols.push({ name: s.name, addr: BigInt(s.addr), global: s.type === s.type.toUpperCase() });
  }
  for (const ref of d.refs) if (!ref.sym.includes("+") && !ref.sym.startsWith("0x")) symbols.push({ name: ref.sym, addr: BigInt(ref.to), global: true });
  for (const [n, a] of Object.entries(d.named)) if (BigInt(a) !== 0n) symbols.push({ name: n, addr: BigInt(a), global: true });
  return { name, source, release: d.release, code, symbols, btf: btfOf(d.btf) };
}
