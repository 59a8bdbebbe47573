// Coverage of a run: which patch-site states, site rewrites, dispatch paths, trampoline-address classes and API
// return codes the generated runs exercised, per design, and which of those the design should reach at all, so a
// summary can flag what was never reached.

import type { CallObservation } from "../model/exec.ts";
import { decode, NOP_WORD } from "../model/insn.ts";
import { FTRACE_OPS_FL, hasFlag } from "../model/flags.ts";
import type { Design, FtraceOps, Kernel, KernelEvent } from "../model/kernel.ts";
import { literalAddr } from "../model/layout.ts";
import type { StepResult } from "../model/scenario.ts";
import { classifyAddress, TRAMPOLINE_CLASSES } from "../generators/layout.ts";
import type { Coverage, CoverageExpectations } from "./results.ts";

type Section = keyof Coverage;

/** Counts by section and label; plain objects so outcomes can cross worker threads. */
export class CoverageCollector {
  private readonly counts: Record<Section, Record<string, number>> = { siteStates: {}, transitions: {}, paths: {}, trampolineClasses: {}, apiReturns: {}, windows: {} };

  add(section: Section, label: string, n = 1): void {
    const s = this.counts[section];
    s[label] = (s[label] ?? 0) + n;
  }

  merge(c: Coverage): void {
    for (const section of Object.keys(this.counts) as Section[]) for (const [label, n] of Object.entries(c[section] ?? {})) this.add(section, label, n);
  }

  result(): Coverage {
    return structuredClone(this.counts);
  }
}

/** The survivor state (reports/findings/call-ops-survivor.md): a literal naming a lone ops that needs the assist. */
export const SURVIVOR_WINDOW = "a literal naming an ops that needs ftrace_ops_assist_func (the survivor state)";

/** A concurrent run's windows, into the collector. */
export function observeWindows(c: CoverageCollector, windows: Readonly<Record<string, number>>): void {
  for (const [label, n] of Object.entries(windows)) c.add("windows", label, n);
}

function literalKind(k: Kernel, v: bigint): string {
  if (v === k.nopOps.addr) return "ftrace_nop_ops";
  if (v === k.listOps.addr) return "ftrace_list_ops";
  const o = opsAt(k, v);
  if (o !== undefined) return o.kind === "direct" ? "direct ops" : "ordinary ops";
  return v === 0xd503201fd503201fn ? "uninitialised" : "other";
}

/** The caller's ops at an address, if one is there. */
function opsAt(k: Kernel, v: bigint): FtraceOps | undefined {
  for (const o of k.ops.values()) if (o.addr === v) return o;
  return undefined;
}

function targetKind(k: Kernel, pc: bigint, word: number): string {
  if (word === NOP_WORD) return "nop";
  const i = decode(word);
  if (i.kind !== "bl") return "other";
  const to = (pc + BigInt(i.offset)) & ((1n << 64n) - 1n);
  if (to === k.layout.kernel.ftrace_caller) return "bl ftrace_caller";
  if (k.layout.modules.some((m) => m.plt === to || (m.init?.plt ?? null) === to)) return "bl module PLT";
  if (k.layout.trampolines.some((t) => t.addr === to) || to === k.layout.kernel.ftrace_stub_direct_tramp) return "bl trampoline";
  return "bl other";
}

export function siteStateLabel(literal: string, insn: string): string {
  return `literal=${literal}, insn=${insn}`;
}

/** The layout's trampolines, by address class relative to the functions. */
export function observeLayout(c: CoverageCollector, k: Kernel): void {
  for (const t of k.layout.trampolines) for (const cls of classifyAddress(k.layout, t.addr)) c.add("trampolineClasses", cls);
}

function observeWrites(c: CoverageCollector, k: Kernel, events: ReadonlyArray<KernelEvent>): void {
  for (const e of events) {
    if (e.kind !== "write") continue;
    if (e.what === "literal") {
      const from = literalKind(k, e.old);
      const to = literalKind(k, e.new);
      c.add("transitions", from === to ? `literal ${from} rewritten` : `literal ${from} -> ${to}`);
    } else {
      const from = Number(e.old) === NOP_WORD ? "nop" : "bl";
      const to = Number(e.new) === NOP_WORD ? "nop" : "bl";
      const retarget = from === "bl" && to === "bl" ? (e.old === e.new ? " (same target)" : " (retarget)") : "";
      c.add("transitions", `insn ${from} -> ${to}${retarget}`);
    }
  }
}

/** After one step: site states of every record, the step's rewrites or return code, and call paths. */
export function observeStep(c: CoverageCollector, k: Kernel, r: StepResult, calls: ReadonlyArray<{ readonly obs: CallObservation }>): void {
  for (const rec of k.recs) {
    const v = k.mem.read64(literalAddr(rec.ip));
    const lit = literalKind(k, v);
    c.add("siteStates", siteStateLabel(lit, targetKind(k, rec.ip, k.mem.read32(rec.ip))));
    const o = lit === "ordinary ops" ? opsAt(k, v) : undefined;
    if (o !== undefined && hasFlag(o.flags, FTRACE_OPS_FL.RECURSION | FTRACE_OPS_FL.RCU)) c.add("windows", SURVIVOR_WINDOW);
  }
  if (r.do !== "call") {
    c.add("apiReturns", `${r.do} ${r.ret}`);
    observeWrites(c, k, r.events);
  }
  for (const { obs } of calls) c.add("paths", obs.path);
}

/** What a design should reach: every state, rewrite, path, class and documented return its features allow. */
export function coverageExpectations(d: Design, withModules = true): CoverageExpectations {
  const direct = d.directCalls;
  const callerTargets = ["bl ftrace_caller", ...(withModules ? ["bl module PLT"] : [])];
  const siteStates = [
    siteStateLabel("ftrace_nop_ops", "nop"),
    ...callerTargets.flatMap((t) => [siteStateLabel("ftrace_list_ops", t), siteStateLabel("ordinary ops", t), ...(direct ? [siteStateLabel("direct ops", t)] : [])]),
    ...(direct ? [siteStateLabel("direct ops", "bl trampoline"), siteStateLabel("ftrace_list_ops", "bl trampoline")] : []),
  ];
  const kinds = ["ordinary ops", ...(direct ? ["direct ops"] : [])];
  const transitions = [
    "insn nop -> bl",
    "insn bl -> nop",
    // Without direct calls ftrace_modify_call only rewrites the literal.
    ...(direct ? ["insn bl -> bl (same target)", "insn bl -> bl (retarget)"] : []),
    "literal ftrace_nop_ops -> ftrace_list_ops",
    ...kinds.flatMap((x) => [`literal ftrace_nop_ops -> ${x}`, `literal ${x} -> ftrace_list_ops`, `literal ftrace_list_ops -> ${x}`, `literal ${x} -> ftrace_nop_ops`]),
    "literal ftrace_list_ops -> ftrace_nop_ops",
  ];
  const paths = ["untraced", "caller-ops", "caller-list", ...(direct ? ["direct-bl", "caller-direct"] : [])];
  const apiReturns = [
    "register_ftrace_function 0",
    "register_ftrace_function -EINVAL",
    "unregister_ftrace_function 0",
    "unregister_ftrace_function -EBUSY",
    "ftrace_set_filter 0",
    ...(direct
      ? ["register_ftrace_direct 0", "register_ftrace_direct -EINVAL", "register_ftrace_direct -EBUSY", "unregister_ftrace_direct 0", "unregister_ftrace_direct -EINVAL", "modify_ftrace_direct 0", "modify_ftrace_direct -EINVAL"]
      : ["register_ftrace_direct -ENODEV", "unregister_ftrace_direct -ENODEV", "modify_ftrace_direct -ENODEV"]),
  ];
  return { siteStates, transitions, paths, trampolineClasses: [...TRAMPOLINE_CLASSES], apiReturns };
}

