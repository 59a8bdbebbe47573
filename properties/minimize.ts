// Domain-aware shrinking, after fast-check's own: a counterexample people can read is the shortest one. fast-check
// shrinks each drawn value towards its own "smallest" (no flags, the first choice), so it cannot trade two ops
// without flags for one ops with RECURSION, which is sometimes what the shortest scenario needs. This pass tries,
// greedily and in a fixed order (so a pinned seed gives the same file every time), edits that follow the domain:
// drop a step; give one registration other flags and drop another step; then fewer functions, fewer ops names in
// use, fewer flags. An edit is kept when the property still fails on the design (any message: the same property
// fails). It only ever makes a counterexample smaller.

import type { Design } from "../model/kernel.ts";
import type { StepFlag } from "../model/flags.ts";
import { parseScenario, ScenarioError, type Scenario, type Step } from "../model/scenario.ts";
import { LayoutError } from "../model/layout.ts";
import { BootError } from "../model/boot.ts";
import { checkRun, counterexampleScenario, type Failure, type Property } from "./property.ts";

/** The flag sets a registration may be given while minimizing (those the generators draw, SUBOP aside). */
const FLAG_SETS: ReadonlyArray<ReadonlyArray<StepFlag>> = [[], ["RECURSION"], ["RCU"], ["SAVE_REGS"], ["SAVE_REGS_IF_SUPPORTED"], ["IPMODIFY"]];

/** How big a counterexample is, compared in this order: steps, functions, ops named, flags given. */
function size(s: Scenario): ReadonlyArray<number> {
  const ops = new Set(s.steps.flatMap((st) => ("ops" in st ? [st.ops] : [])));
  const flags = s.steps.reduce((n, st) => n + (st.do === "register_ftrace_function" ? st.flags.length : 0), 0);
  return [s.steps.length, s.functions.length, ops.size, flags];
}

function smaller(a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/**
 * The failure, if the property still fails on the edited scenario. A scenario the file format or the model refuses
 * counts as holding: every file the pass writes must load and replay.
 */
function fails(p: Property, s: Scenario, design: Design): Failure | null {
  try {
    parseScenario(JSON.parse(JSON.stringify(s)) as unknown);
    return checkRun(p, s, design);
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof LayoutError || e instanceof BootError) return null;
    throw e;
  }
}

/** The scenario without step i. */
function without(s: Scenario, i: number): Scenario {
  return { ...s, steps: s.steps.filter((_, j) => j !== i) };
}

/** The scenario with step i's flags replaced (a registration of an ordinary ops only). */
function withFlags(s: Scenario, i: number, flags: ReadonlyArray<StepFlag>): Scenario | null {
  const st = s.steps[i];
  if (st?.do !== "register_ftrace_function" || st.flags.includes("SUBOP")) return null;
  if (st.flags.length === flags.length && st.flags.every((f, j) => f === flags[j])) return null;
  const next: Step = { ...st, flags: [...flags] };
  return { ...s, steps: s.steps.map((x, j) => (j === i ? next : x)) };
}

/** The scenario without a function no step names. */
function withoutFunction(s: Scenario, fn: string): Scenario | null {
  const named = s.steps.some((st) => JSON.stringify(st).includes(`"${fn}"`));
  return named || s.functions.length <= 1 ? null : { ...s, functions: s.functions.filter((f) => f.name !== fn) };
}

/** Every edit to try from s, in the order the pass prefers them. */
function* edits(s: Scenario): Generator<Scenario> {
  for (let i = s.steps.length - 1; i >= 0; i--) yield without(s, i);
  for (let i = 0; i < s.steps.length; i++)
    for (const flags of FLAG_SETS) {
      const f = withFlags(s, i, flags);
      if (f === null) continue;
      for (let j = f.steps.length - 1; j >= 0; j--) if (j !== i) yield without(f, j);
      yield f;
    }
  for (const f of s.functions) {
    const w = withoutFunction(s, f.name);
    if (w !== null) yield w;
  }
}

/**
 * Make a failing scenario as small as the domain allows. Returns the smallest scenario found (cut at its failure,
 * with the implicit call that showed it, as counterexampleScenario writes it) and its failure.
 */
export function minimizeCounterexample(p: Property, design: Design, start: Scenario, failure: Failure, meta: { property: string; variant: string; seed: number; path: string }): { readonly scenario: Scenario; readonly failure: Failure } {
  let best = counterexampleScenario(start, failure, meta);
  let bestFailure = failure;
  // Each kept edit makes the scenario strictly smaller, so this ends; the bound only guards against a slow check.
  for (let round = 0; round < 64; round++) {
    let improved = false;
    for (const cand of edits(best)) {
      if (!smaller(size(cand), size(best))) continue;
      const f = fails(p, cand, design);
      if (f === null) continue;
      const cut = counterexampleScenario(cand, f, meta);
      if (!smaller(size(cut), size(best))) continue;
      best = cut;
      bestFailure = f;
      improved = true;
      break;
    }
    if (!improved) break;
  }
  return { scenario: best, failure: bestFailure };
}
