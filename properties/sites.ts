// Reading patch-sites back from model memory, for properties: the literal's value and owner, and the
// instruction at rec->ip decoded.

import { decode, NOP_WORD, type Insn } from "../model/insn.ts";
import type { DynFtrace, FtraceOps, Kernel } from "../model/kernel.ts";
import { allOps, hasCallOps, symbolize } from "../model/kernel.ts";
import { literalAddr } from "../model/layout.ts";

export interface SiteState {
  readonly rec: DynFtrace;
  readonly literal: bigint;
  /** The ops object the literal points at, if it points at one. */
  readonly ops: FtraceOps | undefined;
  readonly word: number;
  readonly insn: Insn;
  readonly isNop: boolean;
  /** Where the BL goes, if it is a BL. */
  readonly blTarget: bigint | null;
}

export function siteState(k: Kernel, rec: DynFtrace): SiteState {
  const literal = k.mem.read64(literalAddr(rec.ip));
  const word = k.mem.read32(rec.ip);
  const insn = decode(word);
  return {
    rec,
    literal,
    ops: allOps(k).find((o) => o.addr === literal),
    word,
    insn,
    isNop: word === NOP_WORD,
    blTarget: insn.kind === "bl" ? (rec.ip + BigInt(insn.offset)) & ((1n << 64n) - 1n) : null,
  };
}

/** The literal as scenario files name it: its ops, a symbol or address, or "none" on a design without CALL_OPS. */
export function literalName(k: Kernel, s: SiteState): string {
  return !hasCallOps(k.design) ? "none" : (s.ops?.name ?? symbolOr(k, s.literal));
}

export function symbolOr(k: Kernel, addr: bigint): string {
  return symbolize(k, addr) ?? `0x${addr.toString(16)}`;
}
