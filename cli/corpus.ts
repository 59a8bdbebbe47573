// The two corpora check and gate replay after their cells: the scenario corpus (properties/scenarios/, each file
// holding the expectations it states) and the regression corpus (properties/corpus/, each counterexample keeping
// its recorded outcome); read and checked before a run, replayed after it.

import { join, relative } from "node:path";
import { runScenario } from "../model/scenario.ts";
import { pc } from "../reports/colours.ts";
import { ROOT, SCENARIO_DIR, wrapInput } from "./common.ts";
import { loadScenario, scenarioFiles } from "./load.ts";
import { loadCounterexample, replayFile } from "./replay.ts";

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

/** One line (plus failing files) saying how the scenario and regression corpora fared. */
export function corpusSummary(c: CorpusRun, judged: ReadonlyArray<string> = []): string {
  // The corpus is the suite's own regression check: each file runs on the design it names, so it says when it
  // judged none of the designs this command is about.
  const unrun = judged.filter((d) => !c.designs.has(d));
  const on = unrun.length === 0 ? "" : ` (each on the design it names: none on ${unrun.join(", ")})`;
  return c.failed === 0 ? `scenario corpus: ${c.files} files, all expectations hold${on}\n` : `scenario corpus: ${c.failed} of ${c.files} files fail${on}\n${c.rows.join("\n")}\n`;
}
