// Concurrent properties and how they run: a generated run is an updater's API steps interleaved, by a schedule,
// with 2-3 CPUs calling functions (model/concurrent.ts); each property judges the whole run (every micro-step,
// every call) against the sequential reference states the steps pass through.

import { match } from "ts-pattern";
import type { Violation, ViolationKind } from "../model/exec.ts";
import fc from "fast-check";
import { runConcurrent, type ApiStep, type CallRecord, type ConcurrentResult } from "../model/concurrent.ts";
import { DesignFault, type Design } from "../model/kernel.ts";
import type { MutantName } from "../model/mutants.ts";
import { parseScenario, scenarioLayout, scheduleEntries, scheduleTicks, type Scenario } from "../model/scenario.ts";
import { concurrentArbFor, type ConcurrentSpec } from "../generators/concurrent.ts";
import { applyRef, initRef, type RefState } from "./reference.ts";
import { type Outcome, type RunOptions } from "./property.ts";
import { brokenOutcome, faultOutcomes, reported } from "./runner.ts";
import { CoverageCollector, observeWindows } from "../reports/coverage.ts";

/** Schedules a concurrent mutant gets to be killed in (its window can be narrow), unless its kill names its own. */
export const CONCURRENT_MUTANT_RUNS = 3000;

export interface ConcurrentContext {
  readonly result: ConcurrentResult;
  /** Reference states: [0] before any step, [i] after API step i. */
  readonly states: ReadonlyArray<RefState>;
}

export interface ConcurrentProperty {
  readonly name: string;
  readonly says: string;
  readonly guards: string;
  /** Mutants this property must kill, with the most schedule segments a shrunk counterexample may have; a mutant
   * whose window is narrow may name the pinned seed and run count its test uses. */
  readonly kills: ReadonlyArray<{ readonly mutant: MutantName; readonly maxSegments: number; readonly seed?: number; readonly runs?: number }>;
  /** Set when the property speaks of the CALL_OPS literal: a design without one has nothing for it to judge. */
  readonly needsCallOps?: true;
  readonly check: (ctx: ConcurrentContext) => string | null;
}

/** The reference state index before the call started and after it ended, from the steps' spans. */
export function overlappedStates(result: ConcurrentResult, c: CallRecord): { from: number; to: number } {
  // States advance when a step's last micro-step (its "end") is applied.
  const endedBefore = (tick: number): number => result.stepSpans.filter((s) => s.last < tick).length;
  const from = endedBefore(c.start);
  const startedBy = result.stepSpans.filter((s) => s.first <= c.end).length;
  return { from, to: Math.max(from, startedBy) };
}

export function referenceStates(s: Scenario, design: Design): RefState[] {
  const ref = initRef(s, design);
  const states = [structuredClone(ref)];
  for (const st of s.steps) {
    applyRef(ref, st);
    states.push(structuredClone(ref));
  }
  return states;
}

export function runConcurrentScenario(s: Scenario, design: Design): ConcurrentResult {
  const steps = s.steps.filter((st): st is ApiStep => st.do !== "call");
  return runConcurrent({ layout: scenarioLayout(s), design, steps, cpus: s.cpus ?? [], schedule: scheduleTicks(s.schedule ?? []) }, (st) => `${st.do} ${st.ops}`);
}

export function checkConcurrentScenario(p: ConcurrentProperty, s: Scenario, design: Design): string | null {
  return p.check({ result: runConcurrentScenario(s, design), states: referenceStates(s, design) });
}

/** A generated spec as a scenario file (the form counterexamples are saved in). */
export function specScenario(spec: ConcurrentSpec, variant: string): Scenario {
  return parseScenario({
    variant,
    config: spec.layout.config,
    modules: spec.layout.modules,
    functions: spec.layout.functions,
    trampolines: spec.layout.trampolines,
    steps: spec.steps,
    cpus: spec.cpus,
    schedule: scheduleEntries(spec.schedule.filter(([, n]) => n > 0)),
  });
}

/**
 * The breaches a concurrent property judges in a call: hand-offs, faults, NULL callbacks, use-after-free. Stack
 * alignment, BTI and return-stack rules are the sequential properties' business (stack-aligned, branch-hygiene),
 * and recursion is recursion-protected's; a design breaking those fails there, not twice.
 */
export function dispatchBreach(violations: ReadonlyArray<Violation>): string | undefined {
  return violations.find((v) => judgedConcurrently(v.kind))?.message;
}

/** Whether the concurrent properties judge a breach of this kind (the rest are the sequential properties'). */
function judgedConcurrently(kind: ViolationKind): boolean {
  return match(kind)
    .with("recursion", "sp-alignment", "sp-alignment-fault", "ret-forward", "bti-landing", () => false)
    .with("use-after-free", "list-walk", "handoff", "callee-saved", "caller-stack", "return-sp", "body-count", "foreign-body", "fault", () => true)
    .exhaustive();
}

class ConcurrentViolation extends Error {}

export function runConcurrentProperty(p: ConcurrentProperty, design: Design, opts: RunOptions): Outcome {
  const started = performance.now();
  const coverage = new CoverageCollector();
  const prop = fc.property(concurrentArbFor(design.scope), (spec) => {
    opts.onRun?.();
    const s = specScenario(spec, design.name);
    const result = runConcurrentScenario(s, design);
    observeWindows(coverage, result.windows);
    const msg = p.check({ result, states: referenceStates(s, design) });
    if (msg !== null) throw new ConcurrentViolation(msg);
  });
  const d = fc.check(prop, { seed: opts.seed, numRuns: opts.numRuns, ...(opts.path !== undefined ? { path: opts.path } : {}) });
  const base = { property: p.name, variant: design.name, runs: d.numRuns, seed: opts.seed, ms: performance.now() - started, coverage: coverage.result() };
  if (!d.failed) return { ...base, ok: true };
  const spec = d.counterexample?.[0];
  const err = d.errorInstance;
  if (spec === undefined || !(err instanceof ConcurrentViolation)) return brokenOutcome(base, d.counterexamplePath ?? "", err);
  const path = d.counterexamplePath ?? "";
  const s = specScenario(spec, design.name);
  return {
    ...base,
    ok: false,
    path,
    message: err.message,
    counterexample: { ...s, counterexample: { property: p.name, variant: design.name, seed: opts.seed, path, message: err.message } },
  };
}

/**
 * Several concurrent properties on one design over the same generated schedules, each schedule run once (as
 * runProperties does for sequential ones): fc.sample gives the schedules fc.check gives each property alone; a
 * property that holds on all gets runConcurrentProperty's outcome, one that fails is run again alone and shrunk.
 */
export function runConcurrentProperties(ps: ReadonlyArray<ConcurrentProperty>, design: Design, opts: RunOptions & { readonly onFusedRun?: () => void }): Outcome[] {
  const alone = (p: ConcurrentProperty): Outcome => reported(runConcurrentProperty(p, design, opts), opts);
  if (ps.length === 1 || opts.path !== undefined) return ps.map(alone);
  const started = performance.now();
  const holds = ps.map(() => true);
  const coverage = new CoverageCollector();
  // A property that stops holding is run alone (shrunk) at once, so its failure is reported while the sweep goes on.
  const failed = new Map<number, Outcome>();
  for (const spec of fc.sample(concurrentArbFor(design.scope), { seed: opts.seed, numRuns: opts.numRuns })) {
    opts.onFusedRun?.();
    if (!holds.some((h) => h)) break;
    try {
      const s = specScenario(spec, design.name);
      const ctx: ConcurrentContext = { result: runConcurrentScenario(s, design), states: referenceStates(s, design) };
      observeWindows(coverage, ctx.result.windows);
      ps.forEach((p, i) => {
        if (holds[i] !== true || p.check(ctx) === null) return;
        holds[i] = false;
        failed.set(i, alone(p));
      });
    } catch (e) {
      // The design's own code threw: the same for every property, said once for them all.
      if (e instanceof DesignFault) return faultOutcomes(ps, design, opts, e);
      // Any other exception is not a verdict: each property alone reports it.
      holds.fill(false);
    }
  }
  const share = (performance.now() - started) / Math.max(1, holds.filter((h) => h).length);
  const covered = coverage.result();
  return ps.map((p, i) => (holds[i] === true ? { property: p.name, variant: design.name, runs: opts.numRuns, seed: opts.seed, ms: share, coverage: covered, ok: true } : (failed.get(i) ?? alone(p))));
}
