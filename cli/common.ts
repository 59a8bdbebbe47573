// Shared pieces of the command line: where things are, the output sink, flag parsing, and writing
// counterexample files.

import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { pc } from "../reports/colours.ts";
import { plural } from "../reports/format.ts";
import { LayoutError } from "../model/layout.ts";
import { InsnError } from "../model/insn.ts";
import { runScenario, ScenarioError } from "../model/scenario.ts";
import { designFileProvenance } from "./design-file.ts";
import { outcomeProvenance, writeCounterexample, type Outcome } from "../properties/property.ts";
import { InputError, loadScenario, scenarioFiles, shownPath } from "./load.ts";
import { loadCounterexample, replayFile } from "./replay.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SCENARIO_DIR = join(ROOT, "properties", "scenarios");
export { COUNTEREXAMPLE_DIR } from "../properties/property.ts";

/** Where the command line writes: the process's streams, or a test's buffers. */
export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

export const processIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export function wrapInput<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof LayoutError || e instanceof InsnError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

export const CORPUS_DIR = join(ROOT, "properties", "corpus");

/** What a corpus run found: failing rows (coloured, for the terminal), how many files failed, how many ran. */
export interface CorpusRun {
  readonly rows: ReadonlyArray<string>;
  readonly failed: number;
  readonly files: number;
  /** The designs its files ran on (each names its own). */
  readonly designs: ReadonlySet<string>;
}

/**
 * The scenario corpus (every file holds the expectations it states) and the regression corpus (every
 * counterexample keeps its recorded outcome). Returns failing rows and counts.
 */
export function corpus(): CorpusRun {
  const rows: string[] = [];
  const designs = new Set<string>();
  let failed = 0;
  const scenarios = scenarioFiles(SCENARIO_DIR);
  for (const file of scenarios) {
    const s = loadScenario(file);
    designs.add(s.variant);
    const run = wrapInput(file, () => runScenario(s));
    if (run.failures.length === 0) continue;
    failed++;
    rows.push(`  ${pc.red("FAIL")} ${relative(ROOT, file)}`, ...run.failures.map((f) => `       ${f}`));
  }
  const regressions = scenarioFiles(CORPUS_DIR);
  for (const file of regressions) {
    const r = replayFile(file);
    designs.add(r.design.name);
    const outcome = r.scenario.counterexample?.outcome ?? "fails";
    const kept = outcome === "holds" ? r.failure === null : r.failure?.message === r.recorded;
    if (kept) continue;
    failed++;
    rows.push(`  ${pc.red("FAIL")} ${relative(ROOT, file)}: recorded ${outcome === "holds" ? "holds" : `"${r.recorded}"`}, now ${r.failure === null ? "holds" : `"${r.failure.message}"`}`);
  }
  return { rows, failed, files: scenarios.length + regressions.length, designs };
}

/**
 * Every corpus file read and checked before a run starts (check and gate replay them at the end): each scenario
 * parses, each counterexample names a known design and a property of its kind. The first bad file is one line, so
 * a broken corpus costs a second, not a whole run and an empty report directory.
 */
export function validateCorpus(scenarioDir: string = SCENARIO_DIR, corpusDir: string = CORPUS_DIR): void {
  for (const file of scenarioFiles(scenarioDir)) loadScenario(file);
  for (const file of scenarioFiles(corpusDir)) wrapInput(file, () => loadCounterexample(file));
}

/** The longest error line printed; longer messages are cut, with their full length stated. */
export const MAX_ERROR_CHARS = 400;

/**
 * A message as one printable line: control characters (newlines, ESC sequences, C1 codes) shown escaped as \xNN,
 * and a message longer than MAX_ERROR_CHARS cut with its full length stated, so no input can clear the terminal,
 * forge a second line or flood it.
 */
export function printableLine(s: string): string {
  const escaped = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped.length <= MAX_ERROR_CHARS ? escaped : `${escaped.slice(0, MAX_ERROR_CHARS)}… (cut: ${escaped.length} characters in all)`;
}

export function intFlag(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new InputError(`--${name}: expected an integer >= ${min}, got "${v}"`);
  return Number(v);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Write a counterexample scenario where people and CI can find it; returns its path relative to the cwd. */
export function saveCounterexample(o: Outcome): string | null {
  if (o.counterexample === undefined) return null;
  const made = outcomeProvenance(o);
  const files = designFileProvenance([o.variant]);
  return shownPath(writeCounterexample(o.counterexample, files.length === 0 ? made : { ...made, designFiles: files }));
}

/** One line (plus failing files) saying how the scenario and regression corpora fared. */
/**
 * The line a failure gets the moment a worker has it (check, gate --variant/--design), before the table: which
 * property, on which design, after how many runs, and the violation. Printed above a terminal's bar.
 */
export function announceFailure(io: Io, progress: { readonly log?: (line: string) => void }): (o: Outcome) => void {
  return (o) => {
    // A design's own fault stops the command with its one line; it is not a failure to announce.
    if (o.fault !== undefined) return;
    const what = o.error !== undefined ? `the run broke: ${o.error.split("\n")[0] ?? ""}` : (o.message ?? "").split("\n")[0];
    const line = `found: ${o.property} fails on ${o.variant} (run ${o.runs}${o.counterexample !== undefined ? `, shrunk to ${plural(o.counterexample.steps.length, "step")}` : ""}): ${what}\n`;
    if (progress.log !== undefined) progress.log(line);
    else io.out(line);
  };
}

export function corpusSummary(c: CorpusRun, judged: ReadonlyArray<string> = []): string {
  // The corpus is the suite's own regression check: each file runs on the design it names, so it says when it
  // judged none of the designs this command is about.
  const unrun = judged.filter((d) => !c.designs.has(d));
  const on = unrun.length === 0 ? "" : ` (each on the design it names: none on ${unrun.join(", ")})`;
  return c.failed === 0 ? `scenario corpus: ${c.files} files, all expectations hold${on}\n` : `scenario corpus: ${c.failed} of ${c.files} files fail${on}\n${c.rows.join("\n")}\n`;
}
