// `dispatch-spec gate`: every property on every variant and each mutant on its property, compared with the
// committed reports/expected.json; a verdict table with changes highlighted, counterexample files for every
// failure, exit 1 on any difference. It also holds the run's coverage to reports/coverage-minimums.json (one line
// per behaviour reached less often than its minimum, exit 1). `--update` rewrites both from the run.

import { plural } from "../reports/format.ts";
import { columnHeads, shortName } from "../reports/heads.ts";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pc } from "../reports/colours.ts";
import { CONCURRENT_PROPERTIES, PROPERTIES, propertyApplies } from "../properties/index.ts";
import { variantByName } from "../model/variants/index.ts";
import { CONCURRENT_MUTANT_RUNS } from "../properties/concurrency.ts";
import type { Outcome } from "../properties/property.ts";
import { changes, designCells, expectedForBinary, expectedSchema, expectedVerdict, gateCells, judge, updatedExpected, type Cell, type Expected, type Judged } from "./gate-plan.ts";
import { entrySummary, loadEntry, replayCommandFor } from "./entry.ts";
import { runJobs, workersFlag, type Progress } from "./check.ts";
import type { Job } from "./check-worker.ts";
import { COUNTEREXAMPLE_DIR, intFlag, ROOT, saveCounterexample, seconds, type Io } from "./common.ts";
import { validateCorpus } from "./corpus.ts";
import { InputError, readJson, shownPath } from "./load.ts";
import { coverageByDesign, finishRun, prepareReportDir } from "./report.ts";
import { minimumsSchema, shortfallLine, shortfalls, updatedMinimums, type Minimums } from "../reports/coverage-gate.ts";

export const EXPECTED_FILE = join(ROOT, "reports", "expected.json");

/** The seed the gate uses unless told otherwise, so that CI's verdicts are reproducible. */
export const GATE_SEED = 20261125;

export interface GateFlags {
  readonly coverageMinimums?: string;
  readonly runs?: string;
  readonly seed?: string;
  readonly workers?: string;
  readonly update?: boolean;
  readonly expected?: string;
  readonly report?: string;
  readonly entry?: string;
  /** Every mutant and history row and every recorded failure's counterexample, not only what differs. */
  readonly verbose?: boolean;
}

/** Runs per cell unless --runs says otherwise. */
export const DEFAULT_RUNS = 2000;

/** --seed for a gate: a number, "random", or the pinned GATE_SEED. */
export function gateSeedFlag(value: string | undefined): number {
  return value === "random" ? Math.floor(Math.random() * 2 ** 31) : intFlag("seed", value, GATE_SEED, 0);
}

/**
 * Runs for a cell. A cell expected to fail stops at its first failure, so it gets at least the default whatever
 * --runs says (a low --runs shortens only the cells that must hold), and at least what a mutant names for itself
 * (a rarer bug). Concurrent cells run half as many schedules (each costs about two sequential runs); a concurrent
 * mutant cell as many as the test suite gives it.
 */
function cellRuns(c: Cell, runs: number, mustFail: boolean): number {
  if (mustFail && c.concurrent !== true) runs = Math.max(runs, DEFAULT_RUNS);
  if (c.runs !== undefined) return Math.max(c.runs, runs);
  if (c.concurrent !== true) return runs;
  const half = Math.max(1, Math.round(runs / 2));
  return c.kind !== "variant" && mustFail ? Math.max(CONCURRENT_MUTANT_RUNS, half) : half;
}

/** The committed coverage minimums (reports/coverage-gate.ts). */
export const MINIMUMS_FILE = join(ROOT, "reports", "coverage-minimums.json");
const MINIMUMS_COMMENT =
  "Coverage minimums per gate run: each label (section: label, as in results.json's coverage) must be reached at least this often on its design, or `gate` fails naming it. `npx dispatch-spec gate --update` rewrites them (half of what that run reached). See README (The gate).";

export function loadMinimums(file: string): Minimums {
  if (!existsSync(file)) throw new InputError(`${file}: no such file (the coverage minimums; \`gate --update\` writes it)`);
  const r = minimumsSchema.safeParse(readJson(file));
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InputError(`${file}: ${i?.path.join(".") ?? ""}: ${i?.message ?? "invalid"}`);
  }
  return r.data;
}

export function loadExpected(file: string): Expected {
  const json = readJson(file);
  const r = expectedSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InputError(`${file}: ${i?.path.join(".") ?? ""}: ${i?.message ?? "invalid"}`);
  }
  return r.data;
}

/**
 * A cell: `holds`, `fails*` for a failure the expected file records (a finding, a mutant killed, a bug flagged),
 * `ERROR` for a run that broke, and `!` after anything that differs from the expected file.
 */
function cellText(j: Judged, width: number): string {
  const text = j.outcome.error !== undefined ? "ERROR" : j.got === "fails" && !j.changed ? "fails*" : j.got;
  const padded = (j.changed ? `${text}!` : text).padEnd(width);
  if (j.changed) return pc.inverse(pc.yellow(padded));
  return j.got === "holds" ? pc.green(padded) : pc.yellow(padded);
}

/** The legend under the verdict table: each short head's property and what it judges, and the marks. */
export function verdictLegend(): string[] {
  const entries = columnHeads().map((h) => `${h.short} = ${h.property}${h.judges === "agreement" ? " [agreement]" : ""}`);
  // A few heads a line, so the legend stays short.
  const lines: string[] = [];
  for (let i = 0; i < entries.length; i += 4) lines.push(`  ${entries.slice(i, i + 4).join(", ")}`);
  return [
    "columns (c: concurrent; every property judges safety but those marked [agreement], which judge agreement with upstream's choices):",
    ...lines,
    "fails* = a failure reports/expected.json records (a finding, a mutant killed, a bug flagged); ! = differs from it; n/a = nothing to judge there",
  ];
}

export function verdictTable(judged: ReadonlyArray<Judged>, verbose = true): string[] {
  const names = [...PROPERTIES, ...CONCURRENT_PROPERTIES].map((p) => p.name);
  // Each column as wide as its head or its widest cell ("holds!", "fails*!") plus two spaces.
  const w = Math.max(8, ...names.map((n) => shortName(n).length)) + 2;
  const variantRows = judged.filter((j) => j.cell.kind === "variant");
  const designs = [...new Set(variantRows.map((j) => j.cell.design))];
  const dw = Math.max(16, ...designs.map((d) => d.length + 2));
  const lines = [`${"variant".padEnd(dw)}${names.map((n) => shortName(n).padEnd(w)).join("")}`];
  for (const d of designs) {
    const row = names.map((n) => {
      const j = variantRows.find((x) => x.cell.design === d && x.cell.property === n);
      if (j !== undefined) return cellText(j, w);
      // A property with nothing to judge on the design (the literal ones, on a design without CALL_OPS).
      const design = variantByName(d);
      const p = [...PROPERTIES, ...CONCURRENT_PROPERTIES].find((x) => x.name === n);
      return (design !== undefined && p !== undefined && !propertyApplies(p, design) ? pc.dim("n/a") + " ".repeat(w - 3) : "".padEnd(w));
    });
    lines.push(`${d.padEnd(dw)}${row.join("")}`);
  }
  const mutants = judged.filter((x) => x.cell.kind === "mutant");
  const history = judged.filter((x) => x.cell.kind === "history");
  // Each column as wide as its longest entry plus two spaces, so that no name runs into the next column.
  const mw = Math.max(36, ...[...mutants, ...history].map((j) => j.cell.design.length + 2));
  const pw = Math.max(22, ...[...mutants, ...history].map((j) => j.cell.property.length + 2));
  // Without --verbose a section whose every cell is as expected is one line; a cell that differs is always shown.
  const section = (rows: ReadonlyArray<Judged>, head: string, what: string): void => {
    if (rows.length === 0) return;
    const shown = verbose ? rows : rows.filter((j) => j.changed);
    if (!verbose) lines.push("", `${what}: ${rows.length - shown.length} of ${rows.length} cells as expected${shown.length > 0 ? `, ${shown.length} not:` : " (--verbose lists them)"}`);
    if (shown.length === 0) return;
    lines.push(...(verbose ? [""] : []), `${head.padEnd(mw)}${"property".padEnd(pw)}${what === "mutants" ? "verdict (must fail)" : "verdict (a bug must fail, a fix hold)"}`);
    for (const j of shown) lines.push(`${j.cell.design.padEnd(mw)}${j.cell.property.padEnd(pw)}${cellText(j, 8)}`);
  };
  section(mutants, "mutant", "mutants");
  section(history, "kernel history", "kernel history");
  return lines;
}

/** The gate's cells as worker jobs: each with its seed and its run count (more for a cell expected to fail). */
export function gateJobs(expected: Expected, cells: ReadonlyArray<Cell>, seed: number, runs: number): Job[] {
  return cells.map((c) => ({ property: c.property, variant: c.design, seed: c.seed ?? seed, runs: cellRuns(c, runs, expectedVerdict(expected, c) === "fails"), concurrent: c.concurrent === true }));
}

export async function gateCommand(io: Io, flags: GateFlags, progress: Progress): Promise<number> {
  const runs = intFlag("runs", flags.runs, DEFAULT_RUNS, 1);
  const seed = gateSeedFlag(flags.seed);
  const workers = workersFlag(flags.workers);
  const file = flags.expected ?? EXPECTED_FILE;
  const fileShown = file === EXPECTED_FILE ? "reports/expected.json" : file;
  const minimumsFile = flags.coverageMinimums ?? MINIMUMS_FILE;
  const minimumsShown = minimumsFile === MINIMUMS_FILE ? "reports/coverage-minimums.json" : minimumsFile;
  const fromEntry = flags.entry !== undefined ? loadEntry(flags.entry) : null;
  if (fromEntry !== null && flags.update === true) throw new InputError("--update with --entry: a binary's row is judged against upstream's verdicts; add a row to expected.json by hand to change them");
  const loaded = loadExpected(file);
  // Read before the run, so that a bad file costs a second, not the gate's minute.
  const minimums = fromEntry === null && flags.update !== true ? loadMinimums(minimumsFile) : null;
  const expected = fromEntry === null ? loaded : expectedForBinary(loaded, fromEntry.name);
  const cells = fromEntry === null ? gateCells() : designCells(fromEntry.name);
  if (fromEntry !== null) io.out(entrySummary(fromEntry));
  io.out(`${pc.bold("dispatch-spec gate")}: ${cells.length} cells, seed ${seed}, ${runs} runs per cell${runs < DEFAULT_RUNS ? ` (${DEFAULT_RUNS} for a cell expected to fail)` : ""}, expected verdicts from ${fileShown}\n`);
  if (flags.report !== undefined) prepareReportDir(flags.report);
  validateCorpus();
  const started = performance.now();
  const startedAt = new Date();
  const outcomes: Outcome[] = await runJobs(gateJobs(expected, cells, seed, runs), workers, progress);
  const judged = judge(expected, cells, outcomes);
  const verbose = flags.verbose === true;
  io.out(verdictTable(judged, verbose).join("\n") + "\n" + verdictLegend().map((l) => pc.dim(l)).join("\n") + "\n");
  const files = new Map<Judged, string>();
  let quiet = 0;
  for (const j of judged.filter((x) => x.got === "fails" || x.outcome.error !== undefined)) {
    const o = j.outcome;
    const saved = saveCounterexample(o);
    if (saved !== null) files.set(j, saved);
    // A recorded failure reproduced is counted, not printed, unless --verbose.
    if (!verbose && !j.changed) {
      quiet++;
      continue;
    }
    const mark = j.changed ? pc.yellow("UNEXPECTED ") : "";
    io.out(`${mark}${o.variant} x ${o.property}: ${o.message ?? o.error ?? ""}${saved !== null ? `\n    ${plural(o.counterexample?.steps.length ?? 0, "step")}, seed ${o.seed}, path ${o.path ?? ""}: ${saved}${fromEntry !== null ? `\n    replay: ${replayCommandFor(saved, o.variant)}` : ""}` : ""}\n`);
  }
  if (quiet > 0) io.out(`${quiet} recorded failure(s) reproduced, each counterexample saved under ${shownPath(COUNTEREXAMPLE_DIR)}/ (--verbose prints them)\n`);
  const diff = changes(judged);
  const broken = judged.filter((j) => j.outcome.error !== undefined);
  io.out(`${seconds(performance.now() - started)} for ${cells.length} cells\n`);
  // The coverage gate: the behaviours that matter reached often enough (not for a binary's own row).
  // Per design, from its variant rows (mutants stop early; history rows are designs of their own).
  const covered = coverageByDesign(judged.filter((j) => j.cell.kind === "variant").map((j) => ({ design: j.cell.design, outcome: j.outcome })));
  const short = minimums === null ? [] : shortfalls(covered, minimums, Math.min(1, runs / DEFAULT_RUNS));
  for (const sf of short) io.out(`${pc.red(shortfallLine(sf))}\n`);
  if (minimums !== null && short.length === 0) io.out(`coverage: every gated label reached its minimum (${minimumsShown})\n`);
  const { ok } = finishRun(io, flags.report, {
    command: "gate",
    seed,
    runs,
    startedAt,
    started,
    cells: judged.map((j) => ({ design: j.cell.design, property: j.cell.property, kind: j.cell.kind, outcome: j.outcome, expected: j.want ?? null, changed: j.changed, file: files.get(j) ?? null })),
    passed: diff.length === 0 && broken.length === 0 && short.length === 0,
  });
  if (flags.update === true) {
    if (broken.length > 0) throw new InputError(`--update refused: ${broken.length} cell(s) broke with an error, not a verdict`);
    writeFileSync(file, JSON.stringify(updatedExpected(expected, judged), null, 2) + "\n");
    io.out(diff.length === 0 ? "expected verdicts unchanged\n" : `updated ${file}:\n${diff.map((d) => `  ${d}`).join("\n")}\n`);
    if (fromEntry === null) {
      if (runs !== DEFAULT_RUNS) throw new InputError(`--update: coverage minimums are set from a run of ${DEFAULT_RUNS} runs per cell; drop --runs ${runs}`);
      const previous = existsSync(minimumsFile) ? loadMinimums(minimumsFile) : null;
      writeFileSync(minimumsFile, JSON.stringify(updatedMinimums(covered, previous, MINIMUMS_COMMENT), null, 2) + "\n");
      io.out(`updated ${minimumsShown}: each gated label's minimum is half what this run reached\n`);
    }
    return 0;
  }
  if (ok) {
    io.out(pc.green("every verdict is as expected\n"));
    return 0;
  }
  if (diff.length + broken.length > 0) io.out(pc.red(`${diff.length + broken.length} verdict(s) differ from ${fileShown}:\n`) + diff.map((d) => `  ${d}\n`).join(""));
  if (short.length > 0) io.out(pc.red(`${short.length} coverage label(s) below their minimum in ${minimumsShown}\n`));
  return 1;
}
