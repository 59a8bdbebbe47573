// Domain-aware shrinking, after fast-check's own: a counterexample people can read is the shortest one. fast-check
// shrinks each drawn value towards its own "smallest" (no flags, the first choice), so it cannot trade two ops
// without flags for one ops with RECURSION, which is sometimes what the shortest scenario needs. This pass tries,
// greedily and in a fixed order (so a pinned seed gives the same file every time), edits that follow the domain:
// drop a step; give one step another form (other flags, one function of its filter, no notrace, another
// trampoline) and drop another step; then fewer functions, ops names in use, flags and hash entries. An edit is kept when the property still fails on the design (any message: the same property
// fails) and the scenario stays one the generators could draw (no direct ops registered while live). Then the
// explorer searches breadth-first, up to one API step fewer (at most 3), for anything shorter that edits cannot reach
// (steps in another order, another mechanism), and the edits trim what it finds. It only ever makes a counterexample
// smaller, and what it makes is a function of its inputs: the search is bounded by depth, never by the clock (a hang
// guard stops a search that runs away, and the run then breaks with a message instead of giving another file).

import type { Design } from "../model/kernel.ts";
import type { StepFlag } from "../model/flags.ts";
import { parseScenario, runStep, scenarioLayout, ScenarioError, type Scenario, type Step } from "../model/scenario.ts";
import { boot } from "../model/boot.ts";
import { FTRACE_OPS_FL, hasFlag } from "../model/flags.ts";
import { LayoutError } from "../model/layout.ts";
import { BootError } from "../model/boot.ts";
import { checkRun, counterexampleScenario, type Failure, type Property } from "./property.ts";
import { explore, HANG_GUARD_MS, hangGuardMessage } from "./explore.ts";

/** The flag sets a registration may be given while minimizing (those the generators draw, SUBOP aside). */
const FLAG_SETS: ReadonlyArray<ReadonlyArray<StepFlag>> = [[], ["RECURSION"], ["RCU"], ["SAVE_REGS"], ["SAVE_REGS_IF_SUPPORTED"], ["IPMODIFY"]];

/** How big a counterexample is, compared in this order: steps, functions, ops named, flags given, hash entries. */
function size(s: Scenario): ReadonlyArray<number> {
  const ops = new Set(s.steps.flatMap((st) => ("ops" in st ? [st.ops] : [])));
  const flags = s.steps.reduce((n, st) => n + (st.do === "register_ftrace_function" ? st.flags.length : 0), 0);
  const entries = s.steps.reduce((n, st) => n + ("filter" in st ? st.filter.length : 0) + ("notrace" in st ? st.notrace.length : 0), 0);
  return [s.steps.length, s.functions.length, ops.size, flags, entries];
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
    if (registersLiveDirectOps(s, design)) return null;
    return checkRun(p, s, design);
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof LayoutError || e instanceof BootError) return null;
    throw e;
  }
}

/**
 * Whether a step registers a direct ops that is registered already. The generators never do (normalise in
 * generators/steps.ts: the step would first change a live direct ops' filter behind the direct API's back, misuse the
 * kernel answers with a WARN on upstream too), nor does the explorer, so a counterexample must not either: dropping
 * the step that made a first registration fail can turn a retry into one. (A live ordinary ops registered again is
 * drawn on purpose, for the kernel's -EBUSY.)
 */
function registersLiveDirectOps(s: Scenario, design: Design): boolean {
  // Only a second registration of the same direct ops can meet it live: most candidates need no run to tell.
  const registered = s.steps.flatMap((st) => (st.do === "register_ftrace_direct" ? [st.ops] : []));
  if (new Set(registered).size === registered.length) return false;
  const k = boot(scenarioLayout(s), design);
  return s.steps.some((st, i) => {
    if (st.do === "register_ftrace_direct") {
      const o = k.ops.get(st.ops);
      if (o !== undefined && hasFlag(o.flags, FTRACE_OPS_FL.ENABLED)) return true;
    }
    runStep(k, st, i);
    return false;
  });
}

/** The scenario without step i. */
function without(s: Scenario, i: number): Scenario {
  return { ...s, steps: s.steps.filter((_, j) => j !== i) };
}

/** Other forms of one step the pass may try: other flags, one function of its filter, no notrace, another trampoline. */
function variantsOf(st: Step, trampolines: ReadonlyArray<string>): Step[] {
  const out: Step[] = [];
  if (st.do === "register_ftrace_function" && !st.flags.includes("SUBOP")) {
    for (const flags of FLAG_SETS) if (!(st.flags.length === flags.length && st.flags.every((f, j) => f === flags[j]))) out.push({ ...st, flags: [...flags] });
    if (st.filter.length > 1) for (const fn of st.filter) out.push({ ...st, filter: [fn] });
    if (st.notrace.length > 0) out.push({ ...st, notrace: [] });
  }
  if (st.do === "register_ftrace_direct") {
    if (st.filter.length > 1) for (const fn of st.filter) out.push({ ...st, filter: [fn] });
    for (const t of trampolines) if (t !== st.addr) out.push({ ...st, addr: t });
  }
  if (st.do === "modify_ftrace_direct") for (const t of trampolines) if (t !== st.addr) out.push({ ...st, addr: t });
  return out;
}

/** The scenario with step i replaced. */
function replaced(s: Scenario, i: number, st: Step): Scenario {
  return { ...s, steps: s.steps.map((x, j) => (j === i ? st : x)) };
}

/**
 * The scenario with a live hash change folded into the registration it follows (the ops registered with that
 * filter or notrace in the first place), and the change dropped.
 */
function* folded(s: Scenario): Generator<Scenario> {
  for (let j = 0; j < s.steps.length; j++) {
    const ch = s.steps[j]!;
    if (ch.do !== "ftrace_set_filter" && ch.do !== "ftrace_set_notrace") continue;
    for (let i = j - 1; i >= 0; i--) {
      const reg = s.steps[i]!;
      if ("ops" in reg && reg.ops === ch.ops && reg.do !== "register_ftrace_function") break;
      if (reg.do !== "register_ftrace_function" || reg.ops !== ch.ops) continue;
      const merged: Step = ch.do === "ftrace_set_filter" ? { ...reg, filter: [...ch.filter] } : { ...reg, notrace: [...ch.notrace] };
      yield without(replaced(s, i, merged), j);
      break;
    }
  }
}

/** Trampoline addresses of the two classes that matter (as the explorer's scope has them): within BL range of
 * kernel text, and out of it. */
const CANONICAL_TRAMPOLINES: ReadonlyArray<string> = ["0xffff80000a100000", "0xffff8000c0000000"];

/** The scenario with one trampoline moved to the other BL-range class's canonical address. */
function* relocated(s: Scenario): Generator<Scenario> {
  for (const t of s.trampolines)
    for (const addr of CANONICAL_TRAMPOLINES) if (t.addr !== addr) yield { ...s, trampolines: s.trampolines.map((x) => (x === t ? { ...x, addr } : x)) };
}

/** The scenario without a function no step names. */
function withoutFunction(s: Scenario, fn: string): Scenario | null {
  const named = s.steps.some((st) => JSON.stringify(st).includes(`"${fn}"`));
  return named || s.functions.length <= 1 ? null : { ...s, functions: s.functions.filter((f) => f.name !== fn) };
}

/** Every edit to try from s, in the order the pass prefers them. */
function* edits(s: Scenario): Generator<Scenario> {
  for (let i = s.steps.length - 1; i >= 0; i--) yield without(s, i);
  const trampolines = [...s.trampolines.map((t) => t.name), "ftrace_stub_direct_tramp"];
  for (let i = 0; i < s.steps.length; i++)
    for (const v of variantsOf(s.steps[i]!, trampolines)) {
      const f = replaced(s, i, v);
      for (let j = f.steps.length - 1; j >= 0; j--) if (j !== i) yield without(f, j);
      yield f;
    }
  yield* folded(s);
  for (const r of relocated(s)) for (let j = r.steps.length - 1; j >= 0; j--) yield without(r, j);
  for (const f of s.functions) {
    const w = withoutFunction(s, f.name);
    if (w !== null) yield w;
  }
}

type Meta = { property: string; variant: string; seed: number; path: string };
type Found = { readonly scenario: Scenario; readonly failure: Failure };

/** Greedy edits until none makes the scenario smaller. */
function greedy(p: Property, design: Design, start: Found, meta: Meta): Found {
  let best = start.scenario;
  let bestFailure = start.failure;
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

/**
 * How far the explorer looks for a shorter counterexample than the edits found: scenarios of at most 3 API steps
 * over its 2-function/3-ops scope (a few thousand states, up to about a second). Edits cannot reorder steps or
 * trade one mechanism for another (a direct call registered near and then modified far, for a plain ops leaving a
 * function whose direct call is far); breadth-first search finds the shortest outright.
 */
const EXPLORE_DEPTH = 3;

/** The minimizer's breadth-first pass stopped by its hang guard: the run breaks rather than give another file. */
export class MinimizeHangError extends Error {}

/** What a caller may give the minimizer: a slow-down before each explored transition (tests), the hang guard. */
export interface MinimizeOptions {
  readonly onTransition?: () => void;
  readonly hangGuardMs?: number;
}

function apiSteps(s: Scenario): number {
  return s.steps.filter((st) => st.do !== "call").length;
}

/** The explorer's shortest violation of the property, if it is shorter than `best`. */
function explored(p: Property, design: Design, best: Found, meta: Meta, opts: MinimizeOptions): Found | null {
  const n = apiSteps(best.scenario);
  if (n < 2) return null;
  const guard = opts.hangGuardMs ?? HANG_GUARD_MS;
  const r = explore({ functions: 2, ops: 3, depth: Math.min(EXPLORE_DEPTH, n - 1) }, design, [p], { hangGuardMs: guard, ...(opts.onTransition !== undefined ? { onTransition: opts.onTransition } : {}) });
  if (r.timedOut) throw new MinimizeHangError(`minimizing ${p.name} on ${design.name}: ${hangGuardMessage(r, guard)}`);
  const v = r.violation;
  if (v === null || v.property !== p.name) return null;
  const f = fails(p, v.scenario, design);
  if (f === null) return null;
  const cut = counterexampleScenario(v.scenario, f, meta);
  return smaller(size(cut), size(best.scenario)) ? { scenario: cut, failure: f } : null;
}

/**
 * Make a failing scenario as small as the domain allows: the greedy edits, then a breadth-first search for anything
 * shorter (which the edits then trim). Returns the smallest scenario found (cut at its failure, with the implicit call
 * that showed it, as counterexampleScenario writes it) and its failure.
 */
export function minimizeCounterexample(p: Property, design: Design, start: Scenario, failure: Failure, meta: Meta, opts: MinimizeOptions = {}): Found {
  const first = greedy(p, design, { scenario: counterexampleScenario(start, failure, meta), failure }, meta);
  const shorter = explored(p, design, first, meta, opts);
  return shorter === null ? first : greedy(p, design, shorter, meta);
}
