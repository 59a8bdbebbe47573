// A64 instruction words: the subset the patch-sites, ftrace_caller, the module PLTs and the direct
// trampolines need. Stands for arch/arm64/lib/insn.c (aarch64_insn_gen_*) and the decoders in
// arch/arm64/include/asm/insn.h, plus an objdump-style disassembler with symbolic targets.

import { match } from "ts-pattern";
import { ModelInputError } from "./errors.ts";

/** A general-purpose register number 0..31; whether 31 means SP or XZR depends on the field. */
export type Reg = number;

export type BtiTarget = "none" | "c" | "j" | "jc";
export type PairMode = "offset" | "pre" | "post";

/** One decoded instruction. Branch-type offsets are byte offsets relative to the instruction's own address. */
export type Insn =
  | { readonly kind: "nop" }
  | { readonly kind: "bti"; readonly target: BtiTarget }
  | { readonly kind: "hint"; readonly imm: number }
  | { readonly kind: "orr_reg"; readonly rd: Reg; readonly rn: Reg; readonly rm: Reg }
  | { readonly kind: "add_imm"; readonly rd: Reg; readonly rn: Reg; readonly imm12: number; readonly lsl12: boolean }
  | { readonly kind: "sub_imm"; readonly rd: Reg; readonly rn: Reg; readonly imm12: number; readonly lsl12: boolean }
  | { readonly kind: "and_imm"; readonly rd: Reg; readonly rn: Reg; readonly imm: bigint }
  | { readonly kind: "ldr_imm"; readonly rt: Reg; readonly rn: Reg; readonly imm: number }
  | { readonly kind: "str_imm"; readonly rt: Reg; readonly rn: Reg; readonly imm: number }
  | { readonly kind: "ldur"; readonly rt: Reg; readonly rn: Reg; readonly simm9: number }
  | { readonly kind: "stur"; readonly rt: Reg; readonly rn: Reg; readonly simm9: number }
  | { readonly kind: "ldp"; readonly rt: Reg; readonly rt2: Reg; readonly rn: Reg; readonly imm: number; readonly mode: PairMode }
  | { readonly kind: "stp"; readonly rt: Reg; readonly rt2: Reg; readonly rn: Reg; readonly imm: number; readonly mode: PairMode }
  | { readonly kind: "cbz"; readonly rt: Reg; readonly offset: number }
  | { readonly kind: "cbnz"; readonly rt: Reg; readonly offset: number }
  | { readonly kind: "b"; readonly offset: number }
  | { readonly kind: "bl"; readonly offset: number }
  | { readonly kind: "br"; readonly rn: Reg }
  | { readonly kind: "blr"; readonly rn: Reg }
  | { readonly kind: "ret"; readonly rn: Reg }
  | { readonly kind: "adrp"; readonly rd: Reg; readonly offset: number }
  | { readonly kind: "movz"; readonly rd: Reg; readonly imm16: number; readonly hw: number }
  | { readonly kind: "movk"; readonly rd: Reg; readonly imm16: number; readonly hw: number }
  | { readonly kind: "brk"; readonly imm16: number }
  | { readonly kind: "unknown"; readonly word: number };


// ---------------------------------------------------------------------------------------------
// Errors, constants, small helpers
// ---------------------------------------------------------------------------------------------

/** An operand that has no encoding (out of range, misaligned, unencodable, or UNPREDICTABLE). */
export class InsnError extends ModelInputError {
  override readonly name = "InsnError";
}

export const NOP_WORD = 0xd503201f;
export const BTI_C_WORD = 0xd503245f;
export const MOV_X9_X30_WORD = 0xaa1e03e9;

const U64 = (1n << 64n) - 1n;
const BRANCH26_MIN = -0x8000000;
const BRANCH26_MAX = 0x7fffffc;
const BRANCH19_MIN = -0x100000;
const BRANCH19_MAX = 0xffffc;
const ADRP_MIN = -0x100000000;
const ADRP_MAX = 0x100000000 - 4096;

/** `0x` + 16 lowercase hex digits of the address taken modulo 2^64. */
export function toHex(a: bigint): string {
  return "0x" + BigInt.asUintN(64, a).toString(16).padStart(16, "0");
}

/** A signed byte offset as `+0x…` / `-0x…`. */
function signedHex(n: number | bigint): string {
  const b = BigInt(n);
  return (b < 0n ? "-0x" + (-b).toString(16) : "+0x" + b.toString(16));
}

function hex(n: number | bigint): string {
  return "0x" + n.toString(16);
}

function fail(message: string): never {
  // Callers test encodability by catching this (bl-range asks the encoder about every BL-range edge of every run), and
  // its message is all anyone reads: no stack trace to capture.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    throw new InsnError(message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function checkReg(r: Reg, what: string): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) fail(`${what} register ${String(r)} is not in 0..31`);
  return r;
}

function checkInt(v: number, lo: number, hi: number, what: string): number {
  if (!Number.isSafeInteger(v)) fail(`${what} ${String(v)} is not an integer`);
  if (v < lo || v > hi) fail(`${what} ${v} is out of range [${lo}, ${hi}]`);
  return v;
}

function checkScaled(v: number, scale: number, lo: number, hi: number, what: string): number {
  if (!Number.isSafeInteger(v)) fail(`${what} ${String(v)} is not an integer`);
  if (v % scale !== 0) fail(`${what} ${v} is not a multiple of ${scale}`);
  if (v < lo || v > hi) fail(`${what} ${v} is out of range [${lo}, ${hi}]`);
  return v / scale;
}

/** Byte offset of a PC-relative branch; checked for alignment and range, returned as imm (offset/4). */
function branchImm(offset: number, lo: number, hi: number, mnemonic: string, range: string): number {
  if (!Number.isSafeInteger(offset)) fail(`${mnemonic} offset ${String(offset)} is not an integer`);
  if (offset % 4 !== 0) fail(`${mnemonic} offset ${signedHex(offset)} is not a multiple of 4`);
  if (offset < lo || offset > hi) fail(`${mnemonic} offset ${signedHex(offset)} is out of range ${range}`);
  return offset / 4;
}

function sext(v: number, bits: number): number {
  const shift = 32 - bits;
  return (v << shift) >> shift;
}

// ---------------------------------------------------------------------------------------------
// Bitmask immediates (logical immediate N:immr:imms)
// ---------------------------------------------------------------------------------------------

function ones(n: number): bigint {
  return (1n << BigInt(n)) - 1n;
}

function rorElem(v: bigint, r: number, size: number): bigint {
  if (r === 0) return v;
  const s = BigInt(size);
  const rb = BigInt(r);
  return ((v >> rb) | (v << (s - rb))) & ones(size);
}

function replicate(elem: bigint, size: number): bigint {
  let out = 0n;
  for (let i = 0; i < 64; i += size) out |= elem << BigInt(i);
  return out;
}

function popcount(v: bigint): number {
  let n = 0;
  for (let x = v; x !== 0n; x >>= 1n) if (x & 1n) n++;
  return n;
}

/** Encode a 64-bit value as N:immr:imms (13 bits: N << 12 | immr << 6 | imms), or undefined. */
export function encodeBitmask(value: bigint): number | undefined {
  if (value <= 0n || value >= U64) return undefined;
  // Smallest element size whose replication gives the value.
  let size = 64;
  for (const e of [2, 4, 8, 16, 32]) {
    if (replicate(value & ones(e), e) === value) {
      size = e;
      break;
    }
  }
  const elem = value & ones(size);
  const count = popcount(elem); // 1..size-1 since value is neither 0 nor all-ones
  const run = ones(count);
  // elem = ROR(run, r)  <=>  ROR(elem, size - r) = run
  for (let r = 0; r < size; r++) {
    if (rorElem(run, r, size) === elem) {
      const n = size === 64 ? 1 : 0;
      const imms = (~(2 * size - 1) & 0x3f) | (count - 1);
      return (n << 12) | (r << 6) | imms;
    }
  }
  return undefined;
}

/**
 * Decode N:immr:imms to the 64-bit value, or undefined when reserved. Stricter than the Arm ARM's
 * DecodeBitMasks: immr bits above the element size (which the architecture ignores) must be zero,
 * so that each value has exactly one accepted encoding.
 */
export function decodeBitmask(n: number, immr: number, imms: number): bigint | undefined {
  const combined = (n << 6) | (~imms & 0x3f);
  if (combined === 0) return undefined;
  const len = 31 - Math.clz32(combined);
  if (len < 1) return undefined;
  const size = 1 << len;
  const levels = size - 1;
  const s = imms & levels;
  const r = immr & levels;
  if (s === levels) return undefined;
  if (r !== immr) return undefined;
  return replicate(rorElem(ones(s + 1), r, size), size);
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

const BTI_HINT: Readonly<Record<BtiTarget, number>> = { none: 32, c: 34, j: 36, jc: 38 };

function pairBase(load: boolean, mode: PairMode): number {
  return match(mode)
    .with("offset", () => (load ? 0xa9400000 : 0xa9000000))
    .with("pre", () => (load ? 0xa9c00000 : 0xa9800000))
    .with("post", () => (load ? 0xa8c00000 : 0xa8800000))
    .exhaustive();
}

function encodePair(load: boolean, rt: Reg, rt2: Reg, rn: Reg, imm: number, mode: PairMode): number {
  const name = load ? "ldp" : "stp";
  checkReg(rt, `${name} Rt`);
  checkReg(rt2, `${name} Rt2`);
  checkReg(rn, `${name} Rn`);
  if (mode !== "offset" && mode !== "pre" && mode !== "post") fail(`${name} mode ${String(mode)} is not offset/pre/post`);
  const imm7 = checkScaled(imm, 8, -512, 504, `${name} offset`);
  if (load && rt === rt2) fail(`ldp with Rt == Rt2 (x${rt}) is CONSTRAINED UNPREDICTABLE`);
  if (mode !== "offset" && rn !== 31 && (rn === rt || rn === rt2)) {
    fail(`${name} ${mode}-index with base x${rn} also a transfer register is CONSTRAINED UNPREDICTABLE`);
  }
  return (pairBase(load, mode) | ((imm7 & 0x7f) << 15) | (rt2 << 10) | (rn << 5) | rt) >>> 0;
}

function encodeAddSub(base: number, name: string, rd: Reg, rn: Reg, imm12: number, lsl12: boolean): number {
  checkReg(rd, `${name} Rd`);
  checkReg(rn, `${name} Rn`);
  checkInt(imm12, 0, 4095, `${name} imm12`);
  if (typeof lsl12 !== "boolean") fail(`${name} lsl12 must be a boolean`);
  return (base | ((lsl12 ? 1 : 0) << 22) | (imm12 << 10) | (rn << 5) | rd) >>> 0;
}

function encodeLdStUimm(base: number, name: string, rt: Reg, rn: Reg, imm: number): number {
  checkReg(rt, `${name} Rt`);
  checkReg(rn, `${name} Rn`);
  const imm12 = checkScaled(imm, 8, 0, 32760, `${name} offset`);
  return (base | (imm12 << 10) | (rn << 5) | rt) >>> 0;
}

function encodeLdStUnscaled(base: number, name: string, rt: Reg, rn: Reg, simm9: number): number {
  checkReg(rt, `${name} Rt`);
  checkReg(rn, `${name} Rn`);
  checkInt(simm9, -256, 255, `${name} offset`);
  return (base | ((simm9 & 0x1ff) << 12) | (rn << 5) | rt) >>> 0;
}

function encodeCb(base: number, name: string, rt: Reg, offset: number): number {
  checkReg(rt, `${name} Rt`);
  const imm19 = branchImm(offset, BRANCH19_MIN, BRANCH19_MAX, name, "[-1 MiB, +1 MiB - 4]");
  return (base | ((imm19 & 0x7ffff) << 5) | rt) >>> 0;
}

function encodeB(base: number, name: string, offset: number): number {
  const imm26 = branchImm(offset, BRANCH26_MIN, BRANCH26_MAX, name, "[-128 MiB, +128 MiB - 4]");
  return (base | (imm26 & 0x3ffffff)) >>> 0;
}

function encodeMov(base: number, name: string, rd: Reg, imm16: number, hw: number): number {
  checkReg(rd, `${name} Rd`);
  checkInt(imm16, 0, 0xffff, `${name} imm16`);
  checkInt(hw, 0, 3, `${name} hw`);
  return (base | (hw << 21) | (imm16 << 5) | rd) >>> 0;
}

/** The u32 instruction word of `insn`; throws InsnError for any operand that cannot be encoded. */
export function encode(insn: Insn): number {
  return match(insn)
    .with({ kind: "nop" }, () => NOP_WORD)
    .with({ kind: "bti" }, (i) => {
      if (!Object.hasOwn(BTI_HINT, i.target)) fail(`bti target ${String(i.target)} is not none/c/j/jc`);
      return (NOP_WORD | (BTI_HINT[i.target] << 5)) >>> 0;
    })
    .with({ kind: "hint" }, (i) => (NOP_WORD | (checkInt(i.imm, 0, 127, "hint imm") << 5)) >>> 0)
    .with({ kind: "orr_reg" }, (i) => {
      checkReg(i.rd, "orr Rd");
      checkReg(i.rn, "orr Rn");
      checkReg(i.rm, "orr Rm");
      return (0xaa000000 | (i.rm << 16) | (i.rn << 5) | i.rd) >>> 0;
    })
    .with({ kind: "add_imm" }, (i) => encodeAddSub(0x91000000, "add", i.rd, i.rn, i.imm12, i.lsl12))
    .with({ kind: "sub_imm" }, (i) => encodeAddSub(0xd1000000, "sub", i.rd, i.rn, i.imm12, i.lsl12))
    .with({ kind: "and_imm" }, (i) => {
      checkReg(i.rd, "and Rd");
      checkReg(i.rn, "and Rn");
      if (typeof i.imm !== "bigint" || i.imm < 0n || i.imm > U64) fail(`and immediate ${String(i.imm)} is not a 64-bit value`);
      const bits = encodeBitmask(i.imm);
      if (bits === undefined) fail(`${hex(i.imm)} is not a valid bitmask immediate`);
      return (0x92000000 | (bits << 10) | (i.rn << 5) | i.rd) >>> 0;
    })
    .with({ kind: "ldr_imm" }, (i) => encodeLdStUimm(0xf9400000, "ldr", i.rt, i.rn, i.imm))
    .with({ kind: "str_imm" }, (i) => encodeLdStUimm(0xf9000000, "str", i.rt, i.rn, i.imm))
    .with({ kind: "ldur" }, (i) => encodeLdStUnscaled(0xf8400000, "ldur", i.rt, i.rn, i.simm9))
    .with({ kind: "stur" }, (i) => encodeLdStUnscaled(0xf8000000, "stur", i.rt, i.rn, i.simm9))
    .with({ kind: "ldp" }, (i) => encodePair(true, i.rt, i.rt2, i.rn, i.imm, i.mode))
    .with({ kind: "stp" }, (i) => encodePair(false, i.rt, i.rt2, i.rn, i.imm, i.mode))
    .with({ kind: "cbz" }, (i) => encodeCb(0xb4000000, "cbz", i.rt, i.offset))
    .with({ kind: "cbnz" }, (i) => encodeCb(0xb5000000, "cbnz", i.rt, i.offset))
    .with({ kind: "b" }, (i) => encodeB(0x14000000, "b", i.offset))
    .with({ kind: "bl" }, (i) => encodeB(0x94000000, "bl", i.offset))
    .with({ kind: "br" }, (i) => (0xd61f0000 | (checkReg(i.rn, "br Rn") << 5)) >>> 0)
    .with({ kind: "blr" }, (i) => (0xd63f0000 | (checkReg(i.rn, "blr Rn") << 5)) >>> 0)
    .with({ kind: "ret" }, (i) => (0xd65f0000 | (checkReg(i.rn, "ret Rn") << 5)) >>> 0)
    .with({ kind: "adrp" }, (i) => {
      checkReg(i.rd, "adrp Rd");
      if (!Number.isSafeInteger(i.offset)) fail(`adrp offset ${String(i.offset)} is not an integer`);
      if (i.offset % 4096 !== 0) fail(`adrp offset ${signedHex(i.offset)} is not a multiple of 4096`);
      if (i.offset < ADRP_MIN || i.offset > ADRP_MAX) {
        fail(`adrp offset ${signedHex(i.offset)} is out of range [-4 GiB, +4 GiB - 4 KiB]`);
      }
      const imm = (i.offset / 4096) & 0x1fffff;
      return (0x90000000 | ((imm & 3) << 29) | ((imm >> 2) << 5) | i.rd) >>> 0;
    })
    .with({ kind: "movz" }, (i) => encodeMov(0xd2800000, "movz", i.rd, i.imm16, i.hw))
    .with({ kind: "movk" }, (i) => encodeMov(0xf2800000, "movk", i.rd, i.imm16, i.hw))
    .with({ kind: "brk" }, (i) => (0xd4200000 | (checkInt(i.imm16, 0, 0xffff, "brk imm16") << 5)) >>> 0)
    .with({ kind: "unknown" }, (i) => checkInt(i.word, 0, 0xffffffff, "word"))
    .exhaustive();
}

// ---------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------

function hintInsn(imm: number): Insn {
  if (imm === 0) return { kind: "nop" };
  const bti = (Object.keys(BTI_HINT) as BtiTarget[]).find((t) => BTI_HINT[t] === imm);
  return bti === undefined ? { kind: "hint", imm } : { kind: "bti", target: bti };
}

function decodeRaw(w: number): Insn | undefined {
  const rd = w & 31;
  const rn = (w >>> 5) & 31;
  const rt2 = (w >>> 10) & 31;
  const rm = (w >>> 16) & 31;
  if ((w & 0xfffff01f) >>> 0 === 0xd503201f) return hintInsn((w >>> 5) & 0x7f);
  if ((w & 0xffe0fc00) >>> 0 === 0xaa000000) return { kind: "orr_reg", rd, rn, rm };
  const top9 = (w & 0xff800000) >>> 0;
  if (top9 === 0x91000000 || top9 === 0xd1000000) {
    return { kind: top9 === 0x91000000 ? "add_imm" : "sub_imm", rd, rn, imm12: (w >>> 10) & 0xfff, lsl12: ((w >>> 22) & 1) === 1 };
  }
  if (top9 === 0x92000000) {
    const imm = decodeBitmask((w >>> 22) & 1, (w >>> 16) & 0x3f, (w >>> 10) & 0x3f);
    return imm === undefined ? undefined : { kind: "and_imm", rd, rn, imm };
  }
  if (top9 === 0xd2800000 || top9 === 0xf2800000) {
    return { kind: top9 === 0xd2800000 ? "movz" : "movk", rd, imm16: (w >>> 5) & 0xffff, hw: (w >>> 21) & 3 };
  }
  const top10 = (w & 0xffc00000) >>> 0;
  if (top10 === 0xf9400000 || top10 === 0xf9000000) {
    return { kind: top10 === 0xf9400000 ? "ldr_imm" : "str_imm", rt: rd, rn, imm: ((w >>> 10) & 0xfff) * 8 };
  }
  const pairModes: ReadonlyArray<readonly [number, "ldp" | "stp", PairMode]> = [
    [0xa9400000, "ldp", "offset"], [0xa9c00000, "ldp", "pre"], [0xa8c00000, "ldp", "post"],
    [0xa9000000, "stp", "offset"], [0xa9800000, "stp", "pre"], [0xa8800000, "stp", "post"],
  ];
  for (const [value, kind, mode] of pairModes) {
    if (top10 === value) return { kind, rt: rd, rt2, rn, imm: sext((w >>> 15) & 0x7f, 7) * 8, mode };
  }
  const unscaled = (w & 0xffe00c00) >>> 0;
  if (unscaled === 0xf8400000 || unscaled === 0xf8000000) {
    return { kind: unscaled === 0xf8400000 ? "ldur" : "stur", rt: rd, rn, simm9: sext((w >>> 12) & 0x1ff, 9) };
  }
  const top8 = (w & 0xff000000) >>> 0;
  if (top8 === 0xb4000000 || top8 === 0xb5000000) {
    return { kind: top8 === 0xb4000000 ? "cbz" : "cbnz", rt: rd, offset: sext((w >>> 5) & 0x7ffff, 19) * 4 };
  }
  const top6 = (w & 0xfc000000) >>> 0;
  if (top6 === 0x14000000 || top6 === 0x94000000) {
    return { kind: top6 === 0x14000000 ? "b" : "bl", offset: sext(w & 0x3ffffff, 26) * 4 };
  }
  const brMasked = (w & 0xfffffc1f) >>> 0;
  if (brMasked === 0xd61f0000) return { kind: "br", rn };
  if (brMasked === 0xd63f0000) return { kind: "blr", rn };
  if (brMasked === 0xd65f0000) return { kind: "ret", rn };
  if ((w & 0x9f000000) >>> 0 === 0x90000000) {
    const imm = (((w >>> 5) & 0x7ffff) << 2) | ((w >>> 29) & 3);
    return { kind: "adrp", rd, offset: sext(imm, 21) * 4096 };
  }
  if ((w & 0xffe0001f) >>> 0 === 0xd4200000) return { kind: "brk", imm16: (w >>> 5) & 0xffff };
  return undefined;
}

/** Decoded words, memoised: decode is pure and the same few dozen words are decoded over and over. */
const DECODE_CACHE = new Map<number, Insn>();
const DECODE_CACHE_MAX = 1 << 16;

/**
 * Decode a u32 word. Total: words outside the subset, and words the encoder would reject
 * (reserved bitmasks, UNPREDICTABLE pair forms), decode to `{ kind: "unknown", word }`.
 */
export function decode(word: number): Insn {
  const hit = DECODE_CACHE.get(word);
  if (hit !== undefined) return hit;
  const insn = decodeUncached(word);
  if (DECODE_CACHE.size >= DECODE_CACHE_MAX) DECODE_CACHE.clear();
  DECODE_CACHE.set(word, insn);
  return insn;
}

function decodeUncached(word: number): Insn {
  if (!Number.isInteger(word) || word < 0 || word > 0xffffffff) fail(`word ${String(word)} is not a u32`);
  const insn = decodeRaw(word);
  if (insn === undefined) return { kind: "unknown", word };
  try {
    if (encode(insn) === word) return insn;
  } catch (e) {
    if (!(e instanceof InsnError)) throw e;
  }
  return { kind: "unknown", word };
}

// ---------------------------------------------------------------------------------------------
// Disassembler
// ---------------------------------------------------------------------------------------------

/** objdump 2.40 names of the allocated hints below #41 (others print as `hint #0x..`). */
export const HINT_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "yield"], [2, "wfe"], [3, "wfi"], [4, "sev"], [5, "sevl"], [7, "xpaclri"],
  [8, "pacia1716"], [10, "pacib1716"], [12, "autia1716"], [14, "autib1716"],
  [16, "esb"], [17, "psb csync"], [18, "tsb csync"], [20, "csdb"], [22, "clearbhb"],
  [24, "paciaz"], [25, "paciasp"], [26, "pacibz"], [27, "pacibsp"],
  [28, "autiaz"], [29, "autiasp"], [30, "autibz"], [31, "autibsp"],
]);

/** `x0`..`x30`, and register 31 as `sp` or `xzr` depending on the field. */
function xr(r: Reg, sp: boolean): string {
  return r === 31 ? (sp ? "sp" : "xzr") : `x${r}`;
}

function memOffset(rn: Reg, imm: number): string {
  return imm === 0 ? `[${xr(rn, true)}]` : `[${xr(rn, true)}, #${imm}]`;
}

/**
 * What an instruction does to the flow of control and to memory, decided once for every kind: the readers of code
 * (model/binary.ts's basic blocks, reports/trace.ts's dispatch chain) match on this rather than on kinds or text.
 * - jump (B), call (BL), cond-jump (CBZ/CBNZ): a PC-relative target; a call and a conditional jump also fall through
 * - indirect-jump (BR), indirect-call (BLR), return (RET): through a register
 * - load, store: memory; address (ADRP): a PC-relative page; other: none of these
 */
export type InsnRole = "jump" | "call" | "cond-jump" | "indirect-jump" | "indirect-call" | "return" | "load" | "store" | "address" | "other";

export function insnRole(insn: Insn): InsnRole {
  return match(insn)
    .returnType<InsnRole>()
    .with({ kind: "b" }, () => "jump")
    .with({ kind: "bl" }, () => "call")
    .with({ kind: "cbz" }, { kind: "cbnz" }, () => "cond-jump")
    .with({ kind: "br" }, () => "indirect-jump")
    .with({ kind: "blr" }, () => "indirect-call")
    .with({ kind: "ret" }, () => "return")
    .with({ kind: "ldr_imm" }, { kind: "ldur" }, { kind: "ldp" }, () => "load")
    .with({ kind: "str_imm" }, { kind: "stur" }, { kind: "stp" }, () => "store")
    .with({ kind: "adrp" }, () => "address")
    .with({ kind: "nop" }, { kind: "bti" }, { kind: "hint" }, { kind: "orr_reg" }, { kind: "add_imm" }, { kind: "sub_imm" }, { kind: "and_imm" }, { kind: "movz" }, { kind: "movk" }, { kind: "brk" }, { kind: "unknown" }, () => "other")
    .exhaustive();
}

/** The PC-relative offset of a B, BL, CBZ, CBNZ or ADRP; null for any other instruction. */
export function pcOffset(insn: Insn): number | null {
  return insn.kind === "b" || insn.kind === "bl" || insn.kind === "cbz" || insn.kind === "cbnz" || insn.kind === "adrp" ? insn.offset : null;
}

/** objdump-style text of `insn` at address `pc`; branch targets go through `symbolize` when it names them. */
export function disasm(insn: Insn, pc: bigint, symbolize?: (addr: bigint) => string | undefined): string {
  const target = (addr: bigint): string => symbolize?.(addr) ?? toHex(addr);
  const at = (offset: number): string => target(BigInt.asUintN(64, pc + BigInt(offset)));
  const addSub = (name: string, i: { rd: Reg; rn: Reg; imm12: number; lsl12: boolean }): string =>
    `${name} ${xr(i.rd, true)}, ${xr(i.rn, true)}, #${hex(i.imm12)}${i.lsl12 ? ", lsl #12" : ""}`;
  const pair = (name: string, i: { rt: Reg; rt2: Reg; rn: Reg; imm: number; mode: PairMode }): string => {
    const regs = `${name} ${xr(i.rt, false)}, ${xr(i.rt2, false)}, `;
    return match(i.mode)
      .with("offset", () => regs + memOffset(i.rn, i.imm))
      .with("pre", () => `${regs}[${xr(i.rn, true)}, #${i.imm}]!`)
      .with("post", () => `${regs}[${xr(i.rn, true)}], #${i.imm}`)
      .exhaustive();
  };
  const mov = (name: string, i: { rd: Reg; imm16: number; hw: number }): string =>
    `${name} ${xr(i.rd, false)}, #${hex(i.imm16)}${i.hw > 0 ? `, lsl #${i.hw * 16}` : ""}`;
  return match(insn)
    .with({ kind: "nop" }, () => "nop")
    .with({ kind: "bti" }, (i) => (i.target === "none" ? "bti" : `bti ${i.target}`))
    .with({ kind: "hint" }, (i) => {
      const normal = hintInsn(i.imm);
      if (normal.kind !== "hint") return disasm(normal, pc);
      return HINT_NAMES.get(i.imm) ?? `hint #${hex(i.imm)}`;
    })
    .with({ kind: "orr_reg" }, (i) =>
      i.rn === 31 ? `mov ${xr(i.rd, false)}, ${xr(i.rm, false)}` : `orr ${xr(i.rd, false)}, ${xr(i.rn, false)}, ${xr(i.rm, false)}`,
    )
    .with({ kind: "add_imm" }, (i) =>
      i.imm12 === 0 && !i.lsl12 && (i.rd === 31 || i.rn === 31) ? `mov ${xr(i.rd, true)}, ${xr(i.rn, true)}` : addSub("add", i),
    )
    .with({ kind: "sub_imm" }, (i) => addSub("sub", i))
    .with({ kind: "and_imm" }, (i) => `and ${xr(i.rd, true)}, ${xr(i.rn, false)}, #${hex(i.imm)}`)
    .with({ kind: "ldr_imm" }, (i) => `ldr ${xr(i.rt, false)}, ${memOffset(i.rn, i.imm)}`)
    .with({ kind: "str_imm" }, (i) => `str ${xr(i.rt, false)}, ${memOffset(i.rn, i.imm)}`)
    .with({ kind: "ldur" }, (i) => `ldur ${xr(i.rt, false)}, ${memOffset(i.rn, i.simm9)}`)
    .with({ kind: "stur" }, (i) => `stur ${xr(i.rt, false)}, ${memOffset(i.rn, i.simm9)}`)
    .with({ kind: "ldp" }, (i) => pair("ldp", i))
    .with({ kind: "stp" }, (i) => pair("stp", i))
    .with({ kind: "cbz" }, (i) => `cbz ${xr(i.rt, false)}, ${at(i.offset)}`)
    .with({ kind: "cbnz" }, (i) => `cbnz ${xr(i.rt, false)}, ${at(i.offset)}`)
    .with({ kind: "b" }, (i) => `b ${at(i.offset)}`)
    .with({ kind: "bl" }, (i) => `bl ${at(i.offset)}`)
    .with({ kind: "br" }, (i) => `br ${xr(i.rn, false)}`)
    .with({ kind: "blr" }, (i) => `blr ${xr(i.rn, false)}`)
    .with({ kind: "ret" }, (i) => (i.rn === 30 ? "ret" : `ret ${xr(i.rn, false)}`))
    .with({ kind: "adrp" }, (i) => `adrp ${xr(i.rd, false)}, ${target(BigInt.asUintN(64, (pc & ~0xfffn) + BigInt(i.offset)))}`)
    .with({ kind: "movz" }, (i) => mov("movz", i))
    .with({ kind: "movk" }, (i) => mov("movk", i))
    .with({ kind: "brk" }, (i) => `brk #${hex(i.imm16)}`)
    .with({ kind: "unknown" }, (i) => `.word 0x${(i.word >>> 0).toString(16).padStart(8, "0")}`)
    .exhaustive();
}

// ---------------------------------------------------------------------------------------------
// Branch helpers
// ---------------------------------------------------------------------------------------------

/** Signed distance target − pc with both taken as unsigned 64-bit addresses. */
function distance(pc: bigint, target: bigint): bigint {
  return BigInt.asIntN(64, BigInt.asUintN(64, target) - BigInt.asUintN(64, pc));
}

/** Whether a BL at `pc` can reach `target` (range only, alignment not considered), like ftrace's reachable_by_bl. */
export function reachableByBl(pc: bigint, target: bigint): boolean {
  const off = distance(pc, target);
  return off >= -0x8000000n && off < 0x8000000n;
}

/** B (or BL when `link`) at `pc` to `target`; throws InsnError naming pc, target and offset. */
export function genBranch(pc: bigint, target: bigint, link: boolean): Insn {
  const name = link ? "BL" : "B";
  const off = distance(pc, target);
  const where = `${name} from ${toHex(pc)} to ${toHex(target)}`;
  if ((BigInt.asUintN(64, pc) & 3n) !== 0n) fail(`${where}: branch source ${toHex(pc)} is not 4-byte aligned (offset ${signedHex(off)})`);
  if ((BigInt.asUintN(64, target) & 3n) !== 0n) fail(`${where}: branch target ${toHex(target)} is not 4-byte aligned (offset ${signedHex(off)})`);
  if (off < BigInt(BRANCH26_MIN) || off > BigInt(BRANCH26_MAX)) {
    fail(`${where}: offset ${signedHex(off)} is out of range [-128 MiB, +128 MiB - 4]`);
  }
  return { kind: link ? "bl" : "b", offset: Number(off) };
}

/** Absolute target of a b/bl/cbz/cbnz at `pc`, or the page adrp computes; undefined for other kinds. */
export function branchTarget(insn: Insn, pc: bigint): bigint | undefined {
  switch (insn.kind) {
    case "b":
    case "bl":
    case "cbz":
    case "cbnz":
      return BigInt.asUintN(64, pc + BigInt(insn.offset));
    case "adrp":
      return BigInt.asUintN(64, (pc & ~0xfffn) + BigInt(insn.offset));
    default:
      return undefined;
  }
}

/** Byte ranges of the PC-relative forms, for the assembler's messages and checks. */
export const BRANCH_RANGES = {
  b: [BRANCH26_MIN, BRANCH26_MAX],
  cb: [BRANCH19_MIN, BRANCH19_MAX],
  adrp: [ADRP_MIN, ADRP_MAX],
} as const;
