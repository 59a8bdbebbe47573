// Generated runs on a real kernel: fast-check draws runs in the guest's vocabulary (generators/guest.ts) from a seed,
// a guest that stays up (kernel/session.ts) runs them one by one, and each is both compared with the model
// (kernel/compare.ts) and judged by the properties the kernel's observations decide (kernel/judge.ts). The first
// run failing each property is shrunk in the same guest by deleting steps (one at a time, then again until no
// deletion keeps it failing), and saved as a scenario file that `dispatch-spec kernel FILE` replays.
//
// Deterministic: the runs are a function of the seed and the count, the shrinking a function of the run and the
// kernel's answers; nothing depends on the clock.

import { plural } from "../reports/format.ts";
import fc from "fast-check";
import type { Design } from "../model/kernel.ts";
import { parseScenario, type Scenario } from "../model/scenario.ts";
import { GENERATED_GUEST, guestRunArb } from "../generators/guest.ts";
import { bootedDesign, compareScenario, parseConsole, type Comparison } from "./compare.ts";
import { KernelScenarioError, planScenario, type GuestOptions, type GuestScenario } from "./guest.ts";
import { judgeKernelRun, KERNEL_PROPERTIES, type KernelProperty, type KernelViolation } from "./judge.ts";
import { SessionError, type GuestSession } from "./session.ts";

/** What a runner needs of a guest (a GuestSession; a stand-in in tests). */
export type Guest = Pick<GuestSession, "console" | "runScenario" | "kernelBroken" | "stop" | "kill">;

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
  /** What the kernel logged when the run broke it (ftrace killed, an oops), or null. */
  readonly kernelBroke: string | null;
}

/** What runs scenarios in a guest: one that stays up, or a fresh guest for every run. */
export interface Runner {
  plan(s: Scenario, name: string): GuestScenario;
  run(s: Scenario, name: string): Promise<GuestRunResult>;
  /** Guest runs made. */
  readonly runs: number;
}

/**
 * Runs scenarios in one guest, numbering them as the console's scenarios. When a run leaves the kernel broken (ftrace
 * killed by ftrace_bug, an oops) and a way to boot another guest was given, the next run gets a new guest: no run is
 * judged on a kernel an earlier run broke.
 */
export class GuestRunner implements Runner {
  private next = 0;
  private setupText: string;
  private design: Design;
  designProblem: string | null;
  private broken: string | null = null;
  /** Guest runs made, shrinking included. */
  runs = 0;
  /** Guests booted again after a run broke the kernel. */
  reboots = 0;

  constructor(
    private guest: Guest,
    private readonly impose: Partial<GuestOptions> = GENERATED_GUEST,
    private readonly reboot: (() => Promise<Guest>) | null = null,
  ) {
    this.setupText = guest.console;
    const booted = bootedDesign(parseConsole(this.setupText));
    this.design = booted.design;
    this.designProblem = booted.problem;
  }

  /** Take a guest as the one in use: its boot console is the set-up its scenarios are read with. */
  private adopt(guest: Guest): void {
    this.guest = guest;
    this.next = 0;
    this.broken = null;
    this.setupText = guest.console;
    const booted = bootedDesign(parseConsole(this.setupText));
    this.design = booted.design;
    this.designProblem = booted.problem;
  }

  /** Plan a scenario for this guest (throws KernelScenarioError for what the guest cannot do). */
  plan(s: Scenario, name: string): GuestScenario {
    return planScenario(name, s, this.impose);
  }

  /** The guest in use. */
  get session(): Guest {
    return this.guest;
  }

  /** A new guest in place of one a run broke. */
  private async replace(): Promise<void> {
    if (this.reboot === null) return;
    await this.guest.stop();
    this.adopt(await this.reboot());
    this.reboots++;
  }

  /** Run one scenario and judge it. */
  async run(s: Scenario, name: string): Promise<GuestRunResult> {
    if (this.broken !== null) await this.replace();
    const plan = this.plan(s, name);
    const si = this.next++;
    this.runs++;
    const from = this.guest.console.length;
    let died: string | null = null;
    try {
      await this.guest.runScenario(plan, si);
    } catch (e) {
      // A guest that died (a panic) or stopped answering: with a way to boot another, the run is judged on what it
      // showed, and says so; without one, the batch cannot go on.
      if (!(e instanceof SessionError) || this.reboot === null) throw e;
      died = `the guest stopped: ${e.message}`;
    }
    const run = parseConsole(this.setupText + this.guest.console.slice(from));
    const comparison = compareScenario(plan, si, run, this.design);
    const violations = comparison.modelScenario === null ? [] : judgeKernelRun(comparison.modelScenario, comparison.kernel);
    // Asked after the run: what the kernel logged while it ran (a kernel broken before it was replaced at its start).
    this.broken = died ?? (await this.guest.kernelBroken());
    const problems = this.broken === null ? comparison.problems : [...comparison.problems, `the kernel broke during the run: ${this.broken}`];
    return { scenario: s, comparison, violations, differences: comparison.rows.filter((r) => r.differs).length, problems, kernelBroke: this.broken };
  }

  /** Power the guest in use off. */
  async stop(): Promise<void> {
    await this.guest.stop();
  }
}

/**
 * Each run in a guest booted for it alone, powered off after: nothing a run leaves in the kernel (a stale
 * direct_functions entry, a leaked hash) can reach the next. Slower by a boot a run; used to confirm a counterexample,
 * and to shrink one that fails only after what earlier runs left.
 */
export class FreshRunner implements Runner {
  runs = 0;
  constructor(
    private readonly boot: () => Promise<GuestSession>,
    private readonly impose: Partial<GuestOptions> = GENERATED_GUEST,
  ) {}

  plan(s: Scenario, name: string): GuestScenario {
    return planScenario(name, s, this.impose);
  }

  async run(s: Scenario, name: string): Promise<GuestRunResult> {
    const g = await this.boot();
    try {
      const res = await new GuestRunner(g, this.impose).run(s, name);
      this.runs++;
      await g.stop();
      return res;
    } catch (e) {
      g.kill();
      throw e;
    }
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
export async function shrinkInGuest(r: Runner, s: Scenario, still: (x: GuestRunResult) => boolean, onTry: (steps: number) => void = () => {}): Promise<{ scenario: Scenario; result: GuestRunResult | null; tries: number }> {
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
  /**
   * Whether the shrunk run fails in a guest booted for it alone ("fresh"), or only after the runs before it in the
   * same guest ("after-earlier-runs": the kernel kept state across runs, and no fresh run reproduced it), or was not
   * checked (no fresh guest could be had).
   */
  readonly reproduced: "fresh" | "after-earlier-runs" | "unchecked";
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
/**
 * Shrink a failing run: in the guest that stays up first (cheap); then the result is run in a fresh guest. If it
 * fails there, done. If not, the kernel kept something from earlier runs: the original run is tried fresh, and if it
 * fails fresh it is shrunk with a fresh guest for every try, so the counterexample stands on its own.
 */
async function shrinkConfirmed(r: GuestRunner, fresh: FreshRunner | null, s: Scenario, still: (x: GuestRunResult) => boolean, progress: (line: string) => void): Promise<{ scenario: Scenario; result: GuestRunResult | null; reproduced: PropertyFinding["reproduced"] }> {
  const sh = await shrinkInGuest(r, s, still);
  if (fresh === null) return { ...sh, reproduced: "unchecked" };
  const again = await fresh.run(sh.scenario, "confirm");
  if (still(again)) return { scenario: sh.scenario, result: again, reproduced: "fresh" };
  progress(`the shrunk run does not fail in a fresh guest: the kernel kept state from earlier runs; trying the original run fresh`);
  const original = await fresh.run(s, "confirm original");
  if (!still(original)) return { ...sh, reproduced: "after-earlier-runs" };
  progress(`the original run fails in a fresh guest: shrinking it with a fresh guest for every try`);
  const fsh = await shrinkInGuest(fresh, s, still);
  return { scenario: fsh.scenario, result: fsh.result ?? original, reproduced: "fresh" };
}

export async function runBatch(r: GuestRunner, seed: number, count: number, progress: (line: string) => void, fresh: FreshRunner | null = null): Promise<BatchResult> {
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
    progress(`run ${i + 1}/${count}: ${plural(s.steps.length, "step")}, ${res.violations.length === 0 ? "every property holds" : `fails ${res.violations.map((v) => v.property).join(", ")}`}${res.differences > 0 ? `, ${res.differences} differences from the model` : ""}`);
  }
  const findings: PropertyFinding[] = [];
  for (const p of KERNEL_PROPERTIES) {
    const f = first.get(p);
    if (f === undefined) continue;
    progress(`shrinking run ${f.run} (${plural(f.result.scenario.steps.length, "step")}) while ${p} fails`);
    const fails = (x: GuestRunResult): boolean => x.violations.some((v) => v.property === p);
    const sh = await shrinkConfirmed(r, fresh, f.result.scenario, fails, progress);
    const last = sh.result ?? f.result;
    const message = last.violations.find((v) => v.property === p)?.message ?? "";
    findings.push({ property: p, run: f.run, message, shrunk: asCounterexample(sh.scenario, p, seed, f.run, message), shrunkSteps: sh.scenario.steps.length, originalSteps: f.result.scenario.steps.length, reproduced: sh.reproduced });
  }
  let firstDifference: BatchResult["firstDifference"] = null;
  if (firstDiff !== null) {
    progress(`shrinking run ${firstDiff.run} while the model and the kernel differ`);
    const sh = await shrinkInGuest(r, firstDiff.result.scenario, (x) => x.differences > 0);
    const last = sh.result ?? firstDiff.result;
    firstDifference = { run: firstDiff.run, shrunk: sh.scenario, rows: last.comparison.rows.filter((x) => x.differs).map((x) => `step ${x.step} ${x.fn}: model ${x.model}, kernel ${x.kernel}`) };
  }
  return { seed, runs: count, steps, findings, differing, firstDifference, problems, guestRuns: r.runs + (fresh?.runs ?? 0) };
}
