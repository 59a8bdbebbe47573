// What a property is: a named invariant checked after every step of a run against the model (and, where it needs
// one, the reference); how one run is judged (checkRun), and what running one gives (Outcome). Running properties
// over generated runs, shrinking and saving their counterexamples is properties/runner.ts.

import { boot } from "../model/boot.ts";
import { callFunction, type CallObservation } from "../model/exec.ts";
import type { Design, Kernel } from "../model/kernel.ts";
import type { MutantName } from "../model/mutants.ts";
import { runStep, scenarioLayout, type Scenario, type Step, type StepResult } from "../model/scenario.ts";
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
