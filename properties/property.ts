// What a property is and how one is run: a named invariant checked after every step of a generated run against
// the model (and, where it needs one, the reference), with fast-check doing the generating and the shrinking.
// A failure comes back as a scenario file (../shared/SCENARIO.md with a `counterexample` block) that
// `dispatch-spec run` replays.

import fc from "fast-check";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { boot } from "../model/boot.ts";
import { callFunction, type CallObservation } from "../model/exec.ts";
import { DesignFault, type Design, type Kernel } from "../model/kernel.ts";
import type { MutantName } from "../model/mutants.ts";
import { runStep, scenarioLayout, type Provenance, type Scenario, type Step, type StepResult } from "../model/scenario.ts";
import { provenance, statesOf } from "../reports/provenance.ts";
import { runArb } from "../generators/run.ts";
import { MinimizeHangError, minimizeCounterexample } from "./minimize.ts";
import { applyRef, initRef, type RefState } from "./reference.ts";
import { CoverageCollector, observeLayout, observeStep } from "../reports/coverage.ts";
import type { Coverage } from "../reports/results.ts";

export interface CallCheck {
  readonly fn: string;
  readonly obs: CallObservation;
}

/** Everything a property may look at after one step. */
export interface StepContext {
  readonly k: Kernel;
  readonly ref: RefState;
  /** 0-based index of the step just run. */
  readonly index: number;
  readonly step: Step;
  readonly result: StepResult;
  /** The return code the reference expects for an API step (null for a call). */
  readonly expectedRet: 0 | string | null;
  /** Calls to judge: the step's own call, or (for properties that need them) a call of every function. */
  readonly calls: ReadonlyArray<CallCheck>;
  /** The ops a lock-free walker could reach before the step (listedOps). */
  readonly listedBefore: ReadonlyMap<string, WalkedList>;
}

/** The lists walked without ftrace_lock that an ops can be on. */
export type WalkedList = "ftrace_ops_list" | "fgraph_array";

/**
 * The ops a lock-free list walker can reach, by name, with the list: those on ftrace_ops_list
 * (ftrace_ops_list_func, is_ftrace_trampoline) and fgraph's subops (in fgraph_array, walked by the graph entry).
 */
export function listedOps(k: Kernel): ReadonlyMap<string, WalkedList> {
  const lists = new Map<string, WalkedList>();
  for (const o of k.fgraphArray) if (o !== null) lists.set(o.name, "fgraph_array");
  for (const o of k.opsList) lists.set(o.name, "ftrace_ops_list");
  return lists;
}

/** A call of every function of the kernel, for the properties that judge calls. */
export function callEvery(k: Kernel): CallCheck[] {
  return k.layout.functions.map((f) => ({ fn: f.name, obs: callFunction(k, f.name) }));
}

/**
 * A property's violation after a step, if any: each call judged on its own (or the step once, with no call, when there
 * is none), with the call that showed it. A full context may be passed (its calls are replaced): the checks then see
 * objects of one shape, which V8 keeps fast.
 */
export function stepViolation(p: Property, ctx: StepContext | Omit<StepContext, "calls">, calls: ReadonlyArray<CallCheck>): { readonly message: string; readonly call: CallCheck | null } | null {
  for (const c of calls.length > 0 ? calls : [null]) {
    const message = p.check({ ...ctx, calls: c === null ? [] : [c] });
    if (message !== null) return { message, call: c };
  }
  return null;
}

/** A mutant a property must kill, on which design, with how short a counterexample. */
export interface Kill {
  readonly mutant: MutantName;
  readonly maxSteps: number;
  readonly base?: string;
  /** Runs to allow for a bug that needs a rarer sequence than most (default: the suite's mutant runs). */
  readonly runs?: number;
}

export interface Property {
  readonly name: string;
  /** What it says, in one sentence. */
  readonly says: string;
  /** The kernel behaviour it guards. */
  readonly guards: string;
  /**
   * The mutants this property must kill (at least one; each on its `base`, default upstream, e.g. bugs from the
   * kernel's history), and the most steps each counterexample may have.
   */
  readonly kills: readonly [Kill, ...Kill[]];
  /**
   * Set when the kernel as written violates the property (a finding): upstream must then fail it, with a message
   * that matches `message` and a counterexample of at most `maxSteps` steps.
   */
  readonly expectedOnUpstream?: { readonly message: RegExp; readonly maxSteps: number };
  /**
   * Set when the property judges agreement with upstream's choices (which path a call takes, which ops a site
   * names) rather than the safety of dispatch: a design that differs fails it and may still be safe.
   */
  readonly judges?: "agreement";
  /** Set when the property speaks of the CALL_OPS literal: a design without one has nothing for it to judge. */
  readonly needsCallOps?: true;
  /** Set when the property speaks of fgraph's manager: a design whose runs register no subops has nothing for it. */
  readonly needsSubops?: true;
  /** Whether to call every function after each API step (costly; only for properties about dispatch). */
  readonly needsCalls: boolean;
  /** Checked once after boot, before any step (e.g. a layout fact of the design). */
  readonly atBoot?: (k: Kernel) => string | null;
  /** A violation message, or null if the property holds after this step. */
  readonly check: (ctx: StepContext) => string | null;
}

/**
 * Whether a design keeps the kernel's rules as written, so that a recorded finding (a property with
 * `expectedOnUpstream`) is expected to fail on it: upstream itself, and a design read from a built kernel (its
 * words with upstream's core), neither mutated nor carrying a fix.
 */
export function keepsUpstreamRule(d: Design): boolean {
  return d.mutations.size === 0 && d.callOpsOnSurvivor !== true && (d.name === "upstream" || d.standsFor === "upstream" || d.entry.kind === "binary");
}

export interface Failure {
  /** Index of the step after which the property failed (-1: at boot). */
  readonly index: number;
  readonly message: string;
  /** The function whose call showed the failure, when it was an implicit call after an API step. */
  readonly fn: string | null;
}

/** Run one scenario on a design and return the first violation of the property, if any. */
export function checkRun(p: Property, s: Scenario, design: Design, coverage?: CoverageCollector): Failure | null {
  const k = boot(scenarioLayout(s), design);
  if (coverage !== undefined) observeLayout(coverage, k);
  const atBoot = p.atBoot?.(k) ?? null;
  if (atBoot !== null) return { index: -1, message: atBoot, fn: null };
  const ref = initRef(s, design);
  for (let index = 0; index < s.steps.length; index++) {
    const step = s.steps[index]!;
    const expectedRet = applyRef(ref, step);
    const listedBefore = listedOps(k);
    const result = runStep(k, step, index);
    const calls: CallCheck[] = result.do === "call" ? [{ fn: result.fn, obs: result.obs }] : p.needsCalls ? callEvery(k) : [];
    if (coverage !== undefined) observeStep(coverage, k, result, calls);
    const v = stepViolation(p, { k, ref, index, step, result, expectedRet, calls, listedBefore }, calls);
    if (v !== null) return { index, message: v.message, fn: result.do === "call" || v.call === null ? null : v.call.fn };
  }
  return null;
}

export class PropertyViolation extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

export interface RunOptions {
  readonly seed: number;
  readonly numRuns: number;
  readonly path?: string;
  /** Called after each generated run (shrinking included), for progress lines. */
  readonly onRun?: () => void;
  /**
   * Called with a failing property's outcome (shrunk) as soon as it is known, while the properties that share its
   * runs go on: a design that breaks one property on run 1 is reported then, not after the others' sweep.
   */
  readonly onFailure?: (o: Outcome) => void;
}

export interface Outcome {
  readonly property: string;
  readonly variant: string;
  readonly runs: number;
  readonly ok: boolean;
  readonly seed: number;
  readonly ms: number;
  /** On failure: fast-check's replay path, the shrunk scenario (truncated at the failure) and the message. */
  readonly path?: string;
  readonly counterexample?: Scenario;
  readonly message?: string;
  /** An exception that is not a property violation (a bug in the suite or the model). */
  readonly error?: string;
  /** Set (with error) when the exception is the design's own code throwing (DesignFault): one line, hook and place. */
  readonly fault?: string;
  /** What the runs exercised. */
  readonly coverage?: Coverage;
}

/** The counterexample as a scenario file: the steps up to the failure, plus the implicit call that showed it. */
export function counterexampleScenario(s: Scenario, f: Failure, meta: { property: string; variant: string; seed: number; path: string }): Scenario {
  const steps: Step[] = s.steps.slice(0, f.index + 1);
  if (f.fn !== null) steps.push({ do: "call", fn: f.fn });
  return { ...s, variant: meta.variant, steps, counterexample: { property: meta.property, variant: meta.variant, seed: meta.seed, path: meta.path, message: f.message } };
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
      if (e instanceof DesignFault) return ps.map((p) => brokenOutcome({ property: p.name, variant: design.name, runs: opts.numRuns, seed: opts.seed, ms: 0 }, "", e));
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
