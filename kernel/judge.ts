// The properties, judged on a real kernel: what the guest observed after every step (each site's literal and BL, each
// call's handlers, each API call's return code) against the reference (properties/reference.ts), which is written
// from the API's documented behaviour and never from the model. These are the kernel's own verdicts: a run can fail
// here while the model agrees with the kernel (the kernel as written has the defect), or hold here while the model
// differs (the model is wrong); the comparison with the model (kernel/compare.ts) is the other half.
//
// Judged on the kernel: literal-valid, path-selection, exact-handlers, modify-validates (return codes),
// recursion-protected and manager-exact. Not judged there, each for a reason (NOT_JUDGED_ON_KERNEL).

import { applyRef, expected, handlerNames, initRef, MANAGER, needsAssist, subops, tracedBy, tracers, type RefState } from "../properties/reference.ts";
import { errName } from "../model/errno.ts";
import type { Scenario } from "../model/scenario.ts";
import { stepText } from "../reports/trace.ts";
import type { KernelSite, KernelStep } from "./compare.ts";

/** The properties a guest's observations decide, in the order they are reported. */
export const KERNEL_PROPERTIES = ["literal-valid", "path-selection", "exact-handlers", "modify-validates", "recursion-protected", "manager-exact"] as const;
export type KernelProperty = (typeof KERNEL_PROPERTIES)[number];

/** The others, and why the guest cannot decide them. */
export const NOT_JUDGED_ON_KERNEL: Readonly<Record<string, string>> = {
  "ops-ownership": "needs the ops list a lock-free walker reads after a failed (un)registration; the guest sees only sites and callbacks (the refused-registration experiment shows one consequence)",
  "trampoline-contract": "needs the registers at a trampoline's entry; dsmod's trampolines only count entries",
  "stack-aligned": "needs sp at every call boundary; judged on the built ftrace_caller by gate --kernel-patch's --entry part",
  "branch-hygiene": "needs every indirect branch and its landing pad; judged on the built ftrace_caller by the --entry part",
  "literal-discovery": "a statement about the layout of every placement, not a run; judged by the --entry part",
  "bl-range": "needs the BL the arch code meant to write, not only the one it wrote; the sites' BL targets are judged by path-selection",
  "reference-agreement": "the lone ops' CALL_OPS choice is agreement with upstream's rule, not safety: the comparison with the model reports it",
};

export interface KernelViolation {
  readonly property: KernelProperty;
  /** The scenario step (1-based; 0 = at boot) after which it was seen. */
  readonly step: number;
  readonly message: string;
}

/** A branch to ftrace_caller, directly or through a module's ftrace PLT. */
function toCaller(bl: string): boolean {
  return bl === "bl ftrace_caller" || bl.endsWith(".ftrace_plt");
}

/** The literal and BL a site may have when exactly these ops trace it (by name; direct ops' trampolines by prefix). */
function wellFormed(names: ReadonlyArray<{ name: string; direct: boolean }>, site: KernelSite): { literal: boolean; bl: boolean } {
  if (names.length === 0) return { literal: site.literal === "ftrace_nop_ops" && site.bl === "nop", bl: site.bl === "nop" };
  const one = names.length === 1 ? names[0]! : null;
  const literal = site.literal === "ftrace_list_ops" || (one !== null && site.literal === one.name);
  const bl = toCaller(site.bl) || (one !== null && one.direct && site.bl.startsWith(`bl T.${one.name}.`));
  return { literal, bl };
}

/**
 * While fgraph's manager is registered (subops are), which functions graph_ops traces is manager-exact's to judge
 * (the merge rule changed in 0ae6b8ce200d, and a subops whose notrace covers its filter makes it trace every
 * function): literal-valid and path-selection then judge only that the site is well formed for the other ops, with
 * graph_ops or without it, so that one defect of the manager is reported once, where it is. Null without subops.
 */
function managerSite(ref: RefState, fn: string, site: KernelSite): { literal: string | null; bl: string | null } | null {
  if (subops(ref).length === 0) return null;
  const others = tracers(ref, fn)
    .filter((o) => o.name !== MANAGER)
    .map((o) => ({ name: o.name, direct: o.kind === "direct" }));
  const without = wellFormed(others, site);
  const withManager = wellFormed([...others, { name: MANAGER, direct: false }], site);
  const who = `valid neither for ${others.map((o) => o.name).join(", ") || "no ops"} nor with fgraph's manager besides`;
  return {
    literal: without.literal || withManager.literal ? null : `${fn}: the literal is ${site.literal}${site.bl === "nop" ? " at a NOP site" : ""}, ${who}`,
    bl: without.bl || withManager.bl ? null : `${fn}: the site is ${site.bl}, ${who}`,
  };
}

/** For a site traced by exactly one ops: its name or ftrace_list_ops (both are §7's; which one is upstream's choice). */
function literalProblem(ref: RefState, fn: string, site: KernelSite): string | null {
  const m = managerSite(ref, fn, site);
  if (m !== null) return m.literal;
  const nop = site.bl === "nop";
  const ts = tracers(ref, fn);
  if (ts.length === 0) return site.literal === "ftrace_nop_ops" && nop ? null : `${fn}: untraced, but the literal is ${site.literal}${nop ? "" : " and the site branches"}`;
  if (nop) return `${fn}: traced by ${ts.map((o) => o.name).join(", ")}, but the site is a NOP`;
  if (site.literal === "ftrace_nop_ops") return `${fn}: the site branches but its literal is ftrace_nop_ops`;
  const allowed = ts.length === 1 ? [ts[0]!.name, "ftrace_list_ops"] : ["ftrace_list_ops"];
  return allowed.includes(site.literal) ? null : `${fn}: the literal is ${site.literal}; the ops tracing it are ${ts.map((o) => o.name).join(", ")}, so it must be ${allowed.join(" or ")}`;
}

/** Where §7 says fn's site branches, as the comparison names it ("nop", "bl ftrace_caller", ...). */
function blProblem(ref: RefState, fn: string, site: KernelSite): string | null {
  const m = managerSite(ref, fn, site);
  if (m !== null) return m.bl;
  const want = expected(ref, fn);
  const target = want.target.kind === "nop" ? "nop" : `bl ${want.target.what}`;
  if (site.bl === target) return null;
  // A lone direct ops reached through ftrace_caller is §7's third case too when the literal is not the ops (the list
  // path calls call_direct_funcs); only a reachable trampoline with the ops as literal must be the site's own BL.
  if (want.path === "direct-bl" && site.literal === "ftrace_list_ops" && toCaller(site.bl)) return null;
  return `${fn}: the site is ${site.bl}, expected ${target} (${want.path})`;
}

/** Every violation of the kernel-judged properties in one run's observations (the first per property). */
export function judgeKernelRun(modelScenario: Scenario, kernel: ReadonlyArray<KernelStep>): KernelViolation[] {
  const ref = initRef(modelScenario, { directCalls: true });
  const found = new Map<KernelProperty, KernelViolation>();
  const fail = (property: KernelProperty, step: number, message: string): void => {
    if (!found.has(property)) found.set(property, { property, step, message });
  };
  const fns = modelScenario.functions.map((f) => f.name);
  for (const ks of kernel) {
    if (ks.ftraceBug) fail("modify-validates", ks.step, `${ks.text}: the kernel's log says ftrace_bug fired (a patch-site held a word ftrace did not expect, or faulted): ftrace is dead`);
    for (const { step, ret } of ks.api) {
      const want = applyRef(ref, step);
      if (ret !== null && want !== null) {
        const got = errName(ret);
        if (got !== want) fail("modify-validates", ks.step, `${stepText(step)} returned ${got}, the API says ${want}`);
      }
    }
    for (const fn of fns) {
      const site = ks.sites.get(fn);
      if (site === undefined) continue;
      const nop = site.bl === "nop";
      const lit = literalProblem(ref, fn, site);
      if (lit !== null) fail("literal-valid", ks.step, lit);
      const bl = blProblem(ref, fn, site);
      if (bl !== null) fail("path-selection", ks.step, bl);
      const m = managerProblem(ref, fn, nop);
      if (m !== null) fail("manager-exact", ks.step, m);
    }
    if (ks.call !== null) {
      const c = ks.call;
      const want = expected(ref, c.fn);
      const handlers = handlerNames(ref, c.fn);
      for (const [ops, n] of c.counts) {
        const direct = ref.ops.get(ops)?.kind === "direct";
        const should = direct ? (want.tramp !== null && tracers(ref, c.fn).some((o) => o.name === ops) ? 1 : 0) : handlers.filter((h) => h === ops).length;
        if (n !== should) fail("exact-handlers", ks.step, `call ${c.fn}: ${ops}'s ${direct ? "trampoline" : "handler"} ran ${n < 0 ? "an unknown number of" : n} time(s), expected ${should}`);
      }
      for (const [ops, d] of c.dsmod) {
        const o = ref.ops.get(ops);
        if (o !== undefined && needsAssist(o) && d.fromCaller > 0)
          fail("recursion-protected", ks.step, `call ${c.fn}: ${ops} (${[...o.flags].join(",")}) was called straight from the literal by ftrace_caller ${d.fromCaller} time(s), without ftrace_ops_assist_func`);
      }
    }
  }
  return KERNEL_PROPERTIES.flatMap((p) => {
    const v = found.get(p);
    return v === undefined ? [] : [v];
  });
}

/** manager-exact as a site shows it: with only subops on fn, the site is traced exactly when a subops selects fn. */
function managerProblem(ref: RefState, fn: string, nop: boolean): string | null {
  const subs = subops(ref);
  if (subs.length === 0) return null;
  const others = tracers(ref, fn).filter((o) => o.name !== MANAGER);
  if (others.length > 0) return null;
  const wanted = subs.some((s) => tracedBy(ref, s).includes(fn));
  const exact = subs.every((s) => s.filter.size > 0);
  if (wanted && nop) return `graph_ops does not trace ${fn}, which a subops selects`;
  if (!wanted && !nop && exact) return `graph_ops traces ${fn}, which no subops selects`;
  return null;
}
