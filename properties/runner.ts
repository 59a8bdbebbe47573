// Running properties over generated runs: fast-check draws the runs (properties/property.ts judges each), a failure
// is shrunk by fast-check and then by the domain's minimizer (properties/minimize.ts), and comes back as a scenario
// file (../shared/SCENARIO.md with a `counterexample` block) that `dispatch-spec run` replays. Several properties
// on one design share their runs (runProperties), each failure reported as soon as it is shrunk.

import fc from "fast-check";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DesignFault, type Design } from "../model/kernel.ts";
import { boot } from "../model/boot.ts";
import { runStep, scenarioLayout, type Provenance, type Scenario } from "../model/scenario.ts";
import { runArb } from "../generators/run.ts";
import { provenance, statesOf } from "../reports/provenance.ts";
import { CoverageCollector, observeLayout, observeStep } from "../reports/coverage.ts";
import { MinimizeHangError, minimizeCounterexample } from "./minimize.ts";
import { callEvery, checkRun, listedOps, stepViolation, type CallCheck, type Failure, type Outcome, type Property, type RunOptions, type StepContext } from "./property.ts";
import { applyRef, initRef } from "./reference.ts";
export class PropertyViolation extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

/**
 * Where counterexample scenario files go (check, gate and vitest alike): reports/counterexamples/, or the directory
 * $DISPATCH_SPEC_COUNTEREXAMPLES names. The test suite sets it to a temporary directory (vitest.config.ts), so that
 * `npm test` leaves a user's own counterexamples alone.
 */
export const COUNTEREXAMPLE_DIR = process.env["DISPATCH_SPEC_COUNTEREXAMPLES"] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "reports", "counterexamples");

/**
 * Save a counterexample scenario as `<variant>--<property>.json` (`--<by>` before `.json` when another search made
 * it, e.g. the explorer's, so it leaves check's and gate's file alone), with what made it; returns the path.
 */
export function writeCounterexample(s: Scenario, made?: Provenance, by?: string): string {
  const cx = s.counterexample;
  const file = join(COUNTEREXAMPLE_DIR, `${cx?.variant ?? s.variant}--${cx?.property ?? "scenario"}${by === undefined ? "" : `--${by}`}.json`);
  mkdirSync(COUNTEREXAMPLE_DIR, { recursive: true });
  const out: Scenario = cx !== undefined && made !== undefined ? { ...s, counterexample: { provenance: made, ...cx } } : s;
  writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
  return file;
}

/** The provenance of a property's outcome: its design, seed, runs and time, and the API steps its runs judged. */
export function outcomeProvenance(o: Outcome): Provenance {
  return provenance({ design: o.variant, seed: o.seed, runs: o.runs, totalRuns: o.runs, states: statesOf([o.coverage]), wallMs: o.ms });
}

/** Check a property on a design over generated runs; shrinks a failure to a short scenario. */
export function runProperty(p: Property, design: Design, opts: RunOptions): Outcome {
  const started = performance.now();
  const coverage = new CoverageCollector();
  const prop = fc.property(runArb(design.name, design.scope), (s) => {
    opts.onRun?.();
    const f = checkRun(p, s, design, coverage);
    if (f !== null) throw new PropertyViolation(f);
  });
  const details = fc.check(prop, { seed: opts.seed, numRuns: opts.numRuns, ...(opts.path !== undefined ? { path: opts.path } : {}) });
  const ms = performance.now() - started;
  const base = { property: p.name, variant: design.name, runs: details.numRuns, seed: opts.seed, ms, coverage: coverage.result() };
  if (!details.failed) return { ...base, ok: true };
  const s = details.counterexample?.[0];
  const err = details.errorInstance;
  if (s === undefined || !(err instanceof PropertyViolation)) return brokenOutcome(base, details.counterexamplePath ?? "", err);
  const path = details.counterexamplePath ?? "";
  // fast-check's shrink, then the domain's (properties/minimize.ts): the file is the smallest scenario found.
  let min;
  try {
    min = minimizeCounterexample(p, design, s, err.failure, { property: p.name, variant: design.name, seed: opts.seed, path });
  } catch (e) {
    // A minimizer stopped by its hang guard: no file rather than one that depends on the machine's speed.
    if (e instanceof MinimizeHangError) return { ...base, ok: false, path, error: e.message };
    throw e;
  }
  return { ...base, ok: false, path, message: min.failure.message, counterexample: min.scenario };
}

/** A run that broke on an exception rather than a verdict; a design's own fault says so in one line. */
export function brokenOutcome<B extends Omit<Outcome, "ok">>(base: B, path: string, err: unknown): B & Outcome {
  if (err instanceof DesignFault) return { ...base, ok: false, path, error: err.message, fault: err.message };
  return { ...base, ok: false, path, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

/** Every property's outcome when the design's own code threw during their shared runs: one fault for them all. */
export function faultOutcomes(ps: ReadonlyArray<{ readonly name: string }>, design: Design, opts: RunOptions, e: DesignFault): Outcome[] {
  return ps.map((p) => brokenOutcome({ property: p.name, variant: design.name, runs: opts.numRuns, seed: opts.seed, ms: 0 }, "", e));
}

/** What one generated run did to each property checked on it together with others: its failure, or null. */
type FusedVerdict = "holds" | "fails" | "rerun";

/**
 * checkRun for several properties on one execution of the run: the kernel is booted and each step run once, and
 * every property is checked after every step exactly as checkRun checks it alone (the same step context, and calls
 * of every function only for the properties that need them). A property that fails is dropped for the rest of the
 * run. Calls can change the kernel (a NULL func kills ftrace, events are recorded): if they do, the properties that
 * do not call functions would have seen another kernel alone, so they are marked "rerun".
 */
function checkRunFused(ps: ReadonlyArray<Property>, s: Scenario, design: Design, coverage: { readonly calls: CoverageCollector; readonly plain: CoverageCollector }): FusedVerdict[] {
  const verdicts: FusedVerdict[] = ps.map(() => "holds");
  const k = boot(scenarioLayout(s), design);
  observeLayout(coverage.calls, k);
  observeLayout(coverage.plain, k);
  ps.forEach((p, i) => {
    if (p.atBoot?.(k) != null) verdicts[i] = "fails";
  });
  const live = (): number[] => ps.map((_, i) => i).filter((i) => verdicts[i] === "holds");
  if (live().length === 0) return verdicts;
  const ref = initRef(s, design);
  for (let index = 0; index < s.steps.length; index++) {
    const alive = live();
    if (alive.length === 0) break;
    const step = s.steps[index]!;
    const expectedRet = applyRef(ref, step);
    const listedBefore = listedOps(k);
    const result = runStep(k, step, index);
    const own: CallCheck[] = result.do === "call" ? [{ fn: result.fn, obs: result.obs }] : [];
    const needCalls = result.do !== "call" && alive.some((i) => ps[i]!.needsCalls);
    const before = { disabled: k.disabled, events: k.events.length };
    const every: CallCheck[] = needCalls ? callEvery(k) : own;
    const callsChangedKernel = k.disabled !== before.disabled || k.events.length !== before.events;
    observeStep(coverage.calls, k, result, every);
    observeStep(coverage.plain, k, result, own);
    const ctx: StepContext = { k, ref, index, step, result, expectedRet, calls: own, listedBefore };
    for (const i of alive) {
      const p = ps[i]!;
      if (!p.needsCalls && callsChangedKernel) verdicts[i] = "rerun";
      else if (stepViolation(p, ctx, p.needsCalls ? every : own) !== null) verdicts[i] = "fails";
    }
  }
  return verdicts;
}

/**
 * Several properties on one design over the same generated runs, each run executed once (what a gate row costs):
 * fc.sample with the seed gives exactly the runs fc.check gives each property alone. A property that holds on all
 * of them gets the outcome runProperty would give it; one that fails (or whose run the calls changed) is run again
 * alone, which finds the same first failing run and shrinks it as always. Outcomes come back in the order of `ps`;
 * each holding property's `ms` is its share of the fused pass.
 */
export function runProperties(ps: ReadonlyArray<Property>, design: Design, opts: RunOptions & { readonly onFusedRun?: () => void }): Outcome[] {
  const alone = (p: Property): Outcome => reported(runProperty(p, design, opts), opts);
  if (ps.length === 1 || opts.path !== undefined) return ps.map(alone);
  const started = performance.now();
  const coverage = { calls: new CoverageCollector(), plain: new CoverageCollector() };
  const state: FusedVerdict[] = ps.map(() => "holds");
  // A property that stops holding is run alone (shrunk) at once, so its failure is reported while the sweep goes on.
  const failed = new Map<number, Outcome>();
  for (const s of fc.sample(runArb(design.name, design.scope), { seed: opts.seed, numRuns: opts.numRuns })) {
    opts.onFusedRun?.();
    const live = ps.filter((_, i) => state[i] === "holds");
    if (live.length === 0) break;
    let v: FusedVerdict[];
    try {
      v = checkRunFused(live, s, design, coverage);
    } catch (e) {
      // The design's own code threw: the same for every property, said once for them all rather than re-run each.
      if (e instanceof DesignFault) return faultOutcomes(ps, design, opts, e);
      // Any other exception is not a verdict: each property alone reports it as runProperty does.
      v = live.map(() => "rerun");
    }
    let j = 0;
    ps.forEach((p, i) => {
      if (state[i] !== "holds") return;
      state[i] = v[j++]!;
      if (state[i] !== "holds") failed.set(i, alone(p));
    });
  }
  const holding = state.filter((v) => v === "holds").length;
  const share = (performance.now() - started) / Math.max(1, holding);
  return ps.map((p, i) =>
    state[i] === "holds"
      ? { property: p.name, variant: design.name, runs: opts.numRuns, seed: opts.seed, ms: share, ok: true, coverage: (p.needsCalls ? coverage.calls : coverage.plain).result() }
      : (failed.get(i) ?? alone(p)),
  );
}

/** The outcome, told to opts.onFailure first when it is a failure. */
export function reported(o: Outcome, opts: RunOptions): Outcome {
  if (!o.ok) opts.onFailure?.(o);
  return o;
}
