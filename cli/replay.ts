// `dispatch-spec replay`: re-run a counterexample deterministically, from its scenario file or from the numbers a
// failure printed (seed, path, property, variant), print the readable trace, and exit 1 if the property still
// fails, 0 if it holds.

import { pc } from "../reports/colours.ts";
import { stripVTControlCharacters } from "node:util";
import { loadEntry, onEntryDesign } from "./entry.ts";
import { runScenario, type Scenario } from "../model/scenario.ts";
import { CONCURRENT_PROPERTIES, concurrentPropertyByName, PROPERTIES, propertyByName } from "../properties/index.ts";
import { referenceStates, runConcurrentProperty, runConcurrentScenario, type ConcurrentProperty } from "../properties/concurrency.ts";
import type { ConcurrentResult } from "../model/concurrent.ts";
import { timelineLines } from "../reports/timeline.ts";
import { checkRun, type Failure, type Outcome, type Property } from "../properties/property.ts";
import { runProperty } from "../properties/runner.ts";
import { traceLines } from "../reports/trace.ts";
import type { Design } from "../model/kernel.ts";
import { intFlag, saveCounterexample, wrapInput, type Io } from "./common.ts";
import { requireDesign, unknownName } from "./names.ts";
import { InputError, loadScenario, loadScenarioNamed } from "./load.ts";
import { currentCommit } from "../reports/provenance.ts";

export interface Replay {
  /** A concurrent replay's run, for callers that print more of it. */
  readonly result?: ConcurrentResult;
  readonly property: Property | ConcurrentProperty;
  readonly design: Design;
  readonly scenario: Scenario;
  readonly failure: Failure | null;
  readonly lines: ReadonlyArray<string>;
}

function propertyNamed(name: string, where: string): Property {
  const p = propertyByName(name);
  if (p === undefined) throw new InputError(`${where}: ${unknownName("property", name, [...PROPERTIES, ...CONCURRENT_PROPERTIES].map((x) => x.name), "properties").message}`);
  return p;
}

function designNamed(name: string, where: string): Design {
  return requireDesign(name, where);
}

/** A warning when a file's scenario names one design and its counterexample another (the counterexample's is replayed). */
export function variantMismatch(s: Scenario): string | null {
  const cx = s.counterexample;
  if (cx?.variant === undefined || cx.variant === s.variant) return null;
  return `the scenario names variant ${s.variant} and its counterexample ${cx.variant}: replaying on ${cx.variant}, the design it failed on`;
}

/** Replay a scenario against a property on a design: the failure (or null) and the readable trace. */
export function replayScenario(s: Scenario, p: Property, design: Design): Replay {
  const failure = checkRun(p, s, design);
  const run = runScenario({ ...s, variant: design.name });
  const lines = traceLines(s.steps, run, failure === null ? null : { property: p.name, index: failure.index, fn: failure.fn, message: failure.message });
  return { property: p, design, scenario: s, failure, lines };
}

/** Replay a concurrent scenario against a concurrent property: the timeline and the violation, if any. */
export function replayConcurrent(s: Scenario, p: ConcurrentProperty, design: Design): Replay {
  const result = runConcurrentScenario(s, design);
  const message = p.check({ result, states: referenceStates(s, design) });
  const lines = [...timelineLines(result, s.cpus?.length ?? 0), ...(message === null ? [] : [`x ${p.name}: ${message}`])];
  return { property: p, design, scenario: s, failure: message === null ? null : { index: s.steps.length - 1, message, fn: null }, lines, result };
}

/** The property a scenario names: a concurrent one when the scenario has CPUs; undefined if unknown. */
type Named = { readonly kind: "concurrent"; readonly p: ConcurrentProperty } | { readonly kind: "sequential"; readonly p: Property };
function scenarioProperty(s: Scenario, property: string): Named | undefined {
  if (s.cpus !== undefined) {
    const cp = concurrentPropertyByName(property);
    return cp === undefined ? undefined : { kind: "concurrent", p: cp };
  }
  const p = propertyByName(property);
  return p === undefined ? undefined : { kind: "sequential", p };
}

/** Replay a scenario on the property it names: a concurrent one when the scenario has CPUs; undefined if unknown. */
export function replayNamed(s: Scenario, property: string, design: Design): Replay | undefined {
  const n = scenarioProperty(s, property);
  if (n === undefined) return undefined;
  return n.kind === "concurrent" ? replayConcurrent(s, n.p, design) : replayScenario(s, n.p, design);
}

/**
 * A counterexample file read and checked without running it: its scenario, the recorded block, the design it
 * names (or `on`'s, for replay --entry) and the property. One InputError naming the file for anything missing.
 */
export function loadCounterexample(
  file: string,
  on?: Design,
  variant?: string,
  read: Scenario = loadScenario(file, variant),
): { readonly s: Scenario; readonly recorded: string; readonly design: Design; readonly property: string } {
  const s = read;
  const cx = s.counterexample;
  if (cx === undefined) throw new InputError(`${file}: no "counterexample" block to replay (use "dispatch-spec run" for a plain scenario)`);
  const named = cx.variant ?? s.variant;
  const design = variant !== undefined ? designNamed(variant, "--variant") : designNamed(on !== undefined ? onEntryDesign(named, on) : named, file);
  if (scenarioProperty(s, cx.property) === undefined) throw new InputError(`${file}: unknown ${s.cpus !== undefined ? "concurrent " : ""}property "${cx.property}"`);
  return { s, recorded: cx.message, design, property: cx.property };
}

/** Replay a counterexample file (it must carry a `counterexample` block). */
export function replayFile(file: string, on?: Design, variant?: string, read?: Scenario): Replay & { readonly recorded: string } {
  return wrapInput(file, () => replayLoaded(file, on, variant, read));
}

/**
 * Replay the file's counterexample on the design it names, on `on` (replay --entry), or on `variant` (--variant);
 * `read` is the file already read (standard input can be read once).
 */
function replayLoaded(file: string, on?: Design, variant?: string, read?: Scenario): Replay & { readonly recorded: string } {
  const c = loadCounterexample(file, on, variant, read ?? loadScenario(file, variant));
  return { ...replayNamed(c.s, c.property, c.design)!, recorded: c.recorded };
}

function report(io: Io, r: Replay, recorded: string | null): number {
  io.out(r.lines.map((l) => (l.trimStart().startsWith("x ") ? pc.red(l) : l)).join("\n") + "\n");
  if (r.failure === null) {
    io.out(pc.green(`${r.property.name} holds on ${r.design.name} for this scenario\n`));
    return 0;
  }
  io.out(pc.red(`${r.property.name} still fails on ${r.design.name}: ${r.failure.message}\n`));
  if (recorded !== null && stripVTControlCharacters(recorded) !== r.failure.message) io.out(pc.yellow(`(the file recorded a different message: ${recorded})\n`));
  return 1;
}

/** The warning when --design takes a file made on one design to another. */
export function designOverride(file: string, named: string, on: string, designFile: string): string {
  return `${file} names ${named}; --design ${designFile} runs it on ${on} instead`;
}

export interface ReplayFlags {
  /** The --design file whose design `variant` names (for the warning when the file names another). */
  readonly design?: string;
  readonly seed?: string;
  readonly path?: string;
  readonly property?: string;
  readonly variant?: string;
  readonly runs?: string;
  readonly entry?: string;
}

/** A warning when a counterexample was made by another commit than the one replaying it (it still replays). */
export function otherCommit(made: string | undefined, now: string): string | null {
  if (made === undefined || made === now) return null;
  return `this counterexample was made by commit ${made.slice(0, 12)}, this is ${now.slice(0, 12)}: the model may have changed since (replaying anyway)`;
}

export function replayCommand(io: Io, file: string | undefined, flags: ReplayFlags): number {
  const fromEntry = flags.entry !== undefined ? loadEntry(flags.entry) : undefined;
  if (file !== undefined) {
    if (flags.seed !== undefined || flags.path !== undefined) throw new InputError("replay: give either FILE or --seed/--path/--property, not both");
    if (flags.variant !== undefined && fromEntry !== undefined) throw new InputError("replay: give --variant or --entry, not both");
    if (flags.property !== undefined || flags.runs !== undefined) throw new InputError("replay FILE: the file names its property and run; --property and --runs are for --seed/--path");
    // Read once: "-" is standard input. A --variant takes the file to that design, so its own need not be known.
    if (flags.variant !== undefined) designNamed(flags.variant, "--variant");
    const { s: loaded, named } = loadScenarioNamed(file, flags.variant);
    if (flags.design !== undefined && named !== null && named !== flags.variant) io.err(`dispatch-spec: warning: ${designOverride(file, named, flags.variant ?? "", flags.design)}\n`);
    const asMade = flags.variant === undefined ? loaded : null;
    const r = replayFile(file, fromEntry, flags.variant, loaded);
    const warning = otherCommit(loaded.counterexample?.provenance?.commit, currentCommit());
    if (warning !== null) io.err(`dispatch-spec: warning: ${warning}\n`);
    const mismatch = asMade !== null ? variantMismatch(asMade) : null;
    if (mismatch !== null) io.err(`dispatch-spec: warning: ${mismatch}\n`);
    return report(io, r, r.recorded);
  }
  if (flags.seed === undefined || flags.path === undefined || flags.property === undefined)
    throw new InputError("replay: give a counterexample FILE, or --seed S --path P --property X [--variant V]");
  const seed = intFlag("seed", flags.seed, 0, 0);
  if (!/^\d+(:\d+)*$/.test(flags.path)) throw new InputError(`--path: expected a fast-check path like 3:1:0, got "${flags.path}"`);
  const design = designNamed(flags.variant ?? fromEntry?.name ?? "upstream", "--variant");
  const name = flags.property;
  const cp = concurrentPropertyByName(name);
  const numRuns = intFlag("runs", flags.runs, cp !== undefined ? 1000 : 2000, 1);
  const opts = { seed, numRuns, path: flags.path };
  const run = ((): { name: string; out: Outcome; replay: (s: Scenario) => Replay } => {
    if (cp !== undefined) return { name: cp.name, out: runConcurrentProperty(cp, design, opts), replay: (s) => replayConcurrent(s, cp, design) };
    const p = propertyNamed(name, "--property");
    return { name: p.name, out: runProperty(p, design, opts), replay: (s) => replayScenario(s, p, design) };
  })();
  const out = run.out;
  if (out.error !== undefined) throw new InputError(`replay: the run broke: ${out.error.split("\n")[0] ?? ""}`);
  // fast-check runs nothing for a path its runs never reach: that is not a property that holds.
  if (out.ok && out.runs === 0) throw new InputError(`--path: ${flags.path} is not a path of ${name} on ${design.name} at seed ${seed} (${numRuns} runs; a path names a run, then the shrink steps of its failure)`);
  if (out.ok || out.counterexample === undefined) {
    io.out(pc.green(`${run.name} holds on ${design.name} at seed ${seed}, path ${flags.path}\n`));
    return 0;
  }
  const saved = saveCounterexample(out);
  if (saved !== null) io.out(`counterexample saved: ${saved}\n`);
  return report(io, run.replay(out.counterexample), out.message ?? null);
}
