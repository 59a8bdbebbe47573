// Shared fixtures for the model's unit tests: small layouts (kernel functions, a far module with an ftrace
// PLT, near and far direct trampolines), booting them with the upstream design, reading a patch-site back
// as words, and registering ordinary or direct ops the way samples/ftrace does (set the filter, then
// register). Not a test file itself; it only builds inputs.

import { boot, opsByName } from "./boot.ts";
import { ftrace_set_filter, ftrace_set_notrace, register_ftrace_direct, register_ftrace_function } from "./core.ts";
import type { Ret } from "./errno.ts";
import { FTRACE_FL, FTRACE_OPS_FL, formatRecFlags, type UserOpsFlag } from "./flags.ts";
import { encode, genBranch } from "./insn.ts";
import type { DynFtrace, FtraceOps, Kernel, KernelEvent } from "./kernel.ts";
import { DEFAULT_KERNEL, literalAddr, type FunctionLayout, type Layout, type ModuleLayout, type TrampolineLayout } from "./layout.ts";
import { upstream } from "./variants/upstream.ts";

export const KS = DEFAULT_KERNEL;
export const FTRACE_CALLER = KS.ftrace_caller;

/** Kernel-text functions: f, g, h (8-byte aligned symbols, well inside BL range of ftrace_caller). */
export const F_ADDR = 0xffff800008010008n;
export const G_ADDR = 0xffff800008010108n;
export const H_ADDR = 0xffff800008010208n;

/** A module far (about 2 GiB) from the kernel, so ftrace_caller is out of BL range of its functions. */
export const MOD_TEXT = 0xffff800080000000n;
export const MOD_SIZE = 0x200000n;
export const MOD_PLT = 0xffff800080100000n;
export const M_ADDR = 0xffff800080000108n;

/** A direct trampoline within BL range of f/g/h, a second one, and one far out of range. */
export const T_NEAR = 0xffff80000a000000n;
export const T_NEAR2 = 0xffff80000a001000n;
export const T_FAR = 0xffff8000c0000000n;

export function fn(name: string, addr: bigint, opts: { bti?: boolean; module?: string } = {}): FunctionLayout {
  return { name, addr, module: opts.module ?? null, bti: opts.bti ?? false };
}

export function tramp(name: string, addr: bigint): TrampolineLayout {
  return { name, addr };
}

export function module(name: string, text: bigint, plt: bigint | null, textSize: bigint = MOD_SIZE): ModuleLayout {
  return { name, text, textSize, plt };
}

export interface LayoutOpts {
  readonly bti?: boolean;
  readonly functions?: ReadonlyArray<FunctionLayout>;
  readonly modules?: ReadonlyArray<ModuleLayout>;
  readonly trampolines?: ReadonlyArray<TrampolineLayout>;
}

/** The default test layout: f, g, h in kernel text; module m1 (with PLT) holding m; trampolines T1, T2, TFAR. */
export function layout(opts: LayoutOpts = {}): Layout {
  const bti = opts.bti ?? false;
  return {
    bti,
    kernel: KS,
    modules: opts.modules ?? [module("m1", MOD_TEXT, MOD_PLT)],
    functions: opts.functions ?? [
      fn("f", F_ADDR, { bti }),
      fn("g", G_ADDR, { bti }),
      fn("h", H_ADDR, { bti }),
      fn("m", M_ADDR, { bti, module: "m1" }),
    ],
    trampolines: opts.trampolines ?? [tramp("T1", T_NEAR), tramp("T2", T_NEAR2), tramp("TFAR", T_FAR)],
  };
}

export function bootUpstream(l: Layout = layout()): Kernel {
  return boot(l, upstream);
}

export function recOf(k: Kernel, name: string): DynFtrace {
  const r = k.recs.find((x) => x.fn === name);
  if (r === undefined) throw new Error(`no record for ${name}`);
  return r;
}

/** rec->flags of a function as "BITS count=N" (formatRecFlags), for exact and readable comparisons. */
export function flagsOf(k: Kernel, name: string): string {
  return formatRecFlags(recOf(k, name).flags);
}

/** The WARN messages since the event log was last cleared. */
export function warnings(k: Kernel): string[] {
  return k.events.flatMap((e) => (e.kind === "warn" ? [e.message] : []));
}

export function ipOf(k: Kernel, name: string): bigint {
  return recOf(k, name).ip;
}

/** What one patch-site holds in memory right now. */
export interface SiteWords {
  readonly literal: bigint;
  readonly mov: number;
  readonly insn: number;
}

export function siteWords(k: Kernel, name: string): SiteWords {
  const ip = ipOf(k, name);
  return { literal: k.mem.read64(literalAddr(ip)), mov: k.mem.read32(ip - 4n), insn: k.mem.read32(ip) };
}

/** Every site's words, keyed by function name (for "nothing changed" checks). */
export function allSites(k: Kernel): Record<string, SiteWords> {
  return Object.fromEntries(k.recs.map((r) => [r.fn, siteWords(k, r.fn)]));
}

/** The BL word at pc to target. */
export function bl(pc: bigint, target: bigint): number {
  return encode(genBranch(pc, target, true));
}

/** BL from the site of `name` to target. */
export function blFrom(k: Kernel, name: string, target: bigint): number {
  return bl(ipOf(k, name), target);
}

export type WriteEvent = Extract<KernelEvent, { kind: "write" }>;

export function writes(k: Kernel): WriteEvent[] {
  return k.events.filter((e): e is WriteEvent => e.kind === "write");
}

/** Set the filter (and notrace) of an ordinary ops, add flags, register it; returns the ops and the result. */
export function regOrdinary(
  k: Kernel,
  name: string,
  fns: ReadonlyArray<string>,
  opts: { flags?: ReadonlyArray<UserOpsFlag>; notrace?: ReadonlyArray<string> } = {},
): { ops: FtraceOps; ret: Ret } {
  const ops = opsByName(k, name, "ordinary");
  const r1 = ftrace_set_filter(
    k,
    ops,
    fns.map((n) => ipOf(k, n)),
  );
  if (r1 !== 0) return { ops, ret: r1 };
  if (opts.notrace !== undefined) {
    const r2 = ftrace_set_notrace(
      k,
      ops,
      opts.notrace.map((n) => ipOf(k, n)),
    );
    if (r2 !== 0) return { ops, ret: r2 };
  }
  for (const f of opts.flags ?? []) ops.flags |= FTRACE_OPS_FL[f];
  return { ops, ret: register_ftrace_function(k, ops) };
}

/** Register an IPMODIFY ops (a livepatch) on these functions; its return code. */
export function regIpmodify(k: Kernel, name: string, fns: ReadonlyArray<string>): Ret {
  return regOrdinary(k, name, fns, { flags: ["IPMODIFY"] }).ret;
}

/** Whether a function's record carries FTRACE_FL_IPMODIFY. */
export function ipmodifyOn(k: Kernel, name: string): boolean {
  return (recOf(k, name).flags & FTRACE_FL.IPMODIFY) !== 0;
}

/** Set the filter of a direct ops and register_ftrace_direct it at addr. */
export function regDirect(k: Kernel, name: string, fns: ReadonlyArray<string>, addr: bigint): { ops: FtraceOps; ret: Ret } {
  const ops = opsByName(k, name, "direct");
  const r1 = ftrace_set_filter(
    k,
    ops,
    fns.map((n) => ipOf(k, n)),
  );
  if (r1 !== 0) return { ops, ret: r1 };
  return { ops, ret: register_ftrace_direct(k, ops, addr) };
}

/** Address of a symbol the boot placed (ftrace_caller labels, trampolines, PLTs). */
export function symbolAddr(k: Kernel, name: string): bigint {
  for (const [addr, s] of k.symbols) if (s === name) return addr;
  throw new Error(`no symbol ${name}`);
}

/** The error `f` throws, which must be an instance of `type` (a test helper for one-line error messages). */
export function thrown<E extends Error>(type: new (...args: never[]) => E, f: () => unknown): E {
  try {
    f();
  } catch (e) {
    if (e instanceof type) return e;
    throw new Error(`expected ${type.name}, got ${String(e)}`);
  }
  throw new Error(`expected ${type.name}, nothing thrown`);
}
