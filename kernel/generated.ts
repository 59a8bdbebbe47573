// Generated runs on a real kernel: fast-check draws runs in the guest's vocabulary (generators/guest.ts) from a seed,
// a guest that stays up (kernel/session.ts) runs them one by one, and each is both compared with the model
// (kernel/compare.ts) and judged by the properties the kernel's observations decide (kernel/judge.ts). The first
// run failing each property is shrunk in the same guest by deleting steps (one at a time, then again until no
// deletion keeps it failing), and saved as a scenario file that `dispatch-spec kernel FILE` replays.
//
// Deterministic: the runs are a function of the seed and the count, the shrinking a function of the run and the
// kernel's answers; nothing depends on the clock.

import fc from "fast-check";
import type { Design } from "../model/kernel.ts";
import { parseScenario, type Scenario } from "../model/scenario.ts";
import { GENERATED_GUEST, guestRunArb } from "../generators/guest.ts";
import { bootedDesign, compareScenario, parseConsole, type Comparison } from "./compare.ts";
import { KernelScenarioError, planScenario, type GuestOptions, type GuestScenario } from "./guest.ts";
import { judgeKernelRun, KERNEL_PROPERTIES, type KernelProperty, type KernelViolation } from "./judge.ts";
import type { GuestSession } from "./session.ts";

/** The runs of a seed: the same list every time. */
export function generatedRuns(seed: number, count: number): Scenario[] {
  return fc.sample(guestRunArb, { seed, numRuns: count });
}

/** One run's outcome in the guest. */
export interface GuestRunResult {
  readonly scenario: Scenario;
  readonly comparison: Comparison;
  readonly violations: ReadonlyArray<KernelViolation>;
  /** Rows where the model and the kernel differ, and problems of the run (a step the guest reported an error for). */
  readonly differences: number;
  readonly problems: ReadonlyArray<string>;
}

/** Runs scenarios in one guest, numbering them as the console's scenarios. */
export class GuestRunner {
  private next = 0;
  private readonly setupText: string;
  private readonly design: Design;
  readonly designProblem: string | null;
  /** Guest runs made, shrinking included. */
  runs = 0;

  constructor(
    private readonly guest: GuestSession,
    private readonly impose: Partial<GuestOptions> = GENERATED_GUEST,
  ) {
    this.setupText = guest.console;
    const booted = bootedDesign(parseConsole(this.setupText));
    this.design = booted.design;
    this.designProblem = booted.problem;
  }

  /** Plan a scenario for this guest (throws KernelScenarioError for what the guest cannot do). */
  plan(s: Scenario, name: string): GuestScenario {
    return planScenario(name, s, this.impose);
  }

  /** Run one scenario and judge it. */
  async run(s: Scenario, name: string): Promise<GuestRunResult> {
    const plan = this.plan(s, name);
    const si = this.next++;
    this.runs++;
    const from = this.guest.console.length;
    await this.guest.runScenario(plan, si);
    const run = parseConsole(this.setupText + this.guest.console.slice(from));
    const comparison = compareScenario(plan, si, run, this.design);
    const violations = comparison.modelScenario === null ? [] : judgeKernelRun(comparison.modelScenario, comparison.kernel);
    return { scenario: s, comparison, violations, differences: comparison.rows.filter((r) => r.differs).length, problems: comparison.problems };
  }
}

/** The scenario without step i (null when the guest cannot run what is left). */
function without(s: Scenario, i: number): Scenario | null {
  const steps = s.steps.filter((_, j) => j !== i);
  if (steps.length === 0) return null;
  return parseScenario({ ...JSON.parse(JSON.stringify(s)), steps } as unknown);
}

/**
 * Delete steps while the run still fails `still` (in the guest): each step tried once per pass, from the last, and
 * passes repeated until one deletes nothing. A deletion the guest cannot run (its planner refuses what is left) is
 * skipped. Bounded by the steps: at most n passes of n tries.
 */
export async function shrinkInGuest(r: GuestRunner, s: Scenario, still: (x: GuestRunResult) => boolean, onTry: (steps: number) => void = () => {}): Promise<{ scenario: Scenario; result: GuestRunResult | null; tries: number }> {
  let cur = s;
  let result: GuestRunResult | null = null;
  let tries = 0;
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = cur.steps.length - 1; i >= 0; i--) {
      const cand = without(cur, i);
      if (cand === null) continue;
      try {
        r.plan(cand, "shrink");
      } catch (e) {
        if (e instanceof KernelScenarioError) continue;
        throw e;
      }
      tries++;
      onTry(cand.steps.length);
      const res = await r.run(cand, `shrink ${tries}`);
      if (still(res)) {
        cur = cand;
        result = res;
        changed = true;
      }
    }
  }
  return { scenario: cur, result, tries };
}

/** What a batch found, per property: the first failing run (its index) and the shrunk scenario. */
export interface PropertyFinding {
  readonly property: KernelProperty;
  readonly run: number;
  readonly message: string;
  readonly shrunk: Scenario;
  readonly shrunkSteps: number;
  readonly originalSteps: number;
}

export interface BatchResult {
  readonly seed: number;
  readonly runs: number;
  readonly steps: number;
  readonly findings: ReadonlyArray<PropertyFinding>;
  /** Runs where the model and the kernel differ: the first, shrunk (while it still differs), and how many. */
  readonly differing: number;
  readonly firstDifference: { readonly run: number; readonly shrunk: Scenario; readonly rows: ReadonlyArray<string> } | null;
  readonly problems: ReadonlyArray<string>;
  /** Guest runs made, shrinking included. */
  readonly guestRuns: number;
}

/** A shrunk scenario as a counterexample file. */
export function asCounterexample(s: Scenario, property: string, seed: number, run: number, message: string): Scenario {
  return { ...s, counterexample: { property, variant: "upstream", seed, path: `generated run ${run}`, message } };
}

/** Run a seed's batch in the guest: judge every run, shrink the first failure of each property and the first difference. */
export async function runBatch(r: GuestRunner, seed: number, count: number, progress: (line: string) => void): Promise<BatchResult> {
  const runs = generatedRuns(seed, count);
  const first = new Map<KernelProperty, { run: number; result: GuestRunResult }>();
  let differing = 0;
  let firstDiff: { run: number; result: GuestRunResult } | null = null;
  let steps = 0;
  const problems: string[] = [];
  for (const [i, s] of runs.entries()) {
    const res = await r.run(s, `run ${i}`);
    steps += s.steps.length;
    for (const v of res.violations) if (!first.has(v.property)) first.set(v.property, { run: i, result: res });
    if (res.differences > 0) {
      differing++;
      firstDiff ??= { run: i, result: res };
    }
    problems.push(...res.problems.map((p) => `run ${i}: ${p}`));
    progress(`run ${i + 1}/${count}: ${s.steps.length} steps, ${res.violations.length === 0 ? "every property holds" : `fails ${res.violations.map((v) => v.property).join(", ")}`}${res.differences > 0 ? `, ${res.differences} differences from the model` : ""}`);
  }
  const findings: PropertyFinding[] = [];
  for (const p of KERNEL_PROPERTIES) {
    const f = first.get(p);
    if (f === undefined) continue;
    progress(`shrinking run ${f.run} (${f.result.scenario.steps.length} steps) while ${p} fails`);
    const fails = (x: GuestRunResult): boolean => x.violations.some((v) => v.property === p);
    const sh = await shrinkInGuest(r, f.result.scenario, fails);
    const last = sh.result ?? f.result;
    const message = last.violations.find((v) => v.property === p)?.message ?? "";
    findings.push({ property: p, run: f.run, message, shrunk: asCounterexample(sh.scenario, p, seed, f.run, message), shrunkSteps: sh.scenario.steps.length, originalSteps: f.result.scenario.steps.length });
  }
  let firstDifference: BatchResult["firstDifference"] = null;
  if (firstDiff !== null) {
    progress(`shrinking run ${firstDiff.run} while the model and the kernel differ`);
    const sh = await shrinkInGuest(r, firstDiff.result.scenario, (x) => x.differences > 0);
    const last = sh.result ?? firstDiff.result;
    firstDifference = { run: firstDiff.run, shrunk: sh.scenario, rows: last.comparison.rows.filter((x) => x.differs).map((x) => `step ${x.step} ${x.fn}: model ${x.model}, kernel ${x.kernel}`) };
  }
  return { seed, runs: count, steps, findings, differing, firstDifference, problems, guestRuns: r.runs };
}
