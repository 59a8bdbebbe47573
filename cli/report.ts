// `--report DIR` for check and gate: results.json (the stable schema of reports/results.ts), summary.md for a CI
// job summary or PR comment, junit.xml (one testcase per design x property) and a self-contained index.html.

import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { variantByName } from "../model/variants/index.ts";
import { CONCURRENT_PROPERTIES, judgesOf, notApplicableTo, PROPERTIES } from "../properties/index.ts";
import type { Outcome } from "../properties/property.ts";
import { CoverageCollector, coverageExpectations } from "../reports/coverage.ts";
import { provenance, statesOf } from "../reports/provenance.ts";
import { renderHtml, renderJunit, renderSummaryMarkdown } from "../reports/render.ts";
import type { CellResult, Coverage, CoverageExpectations, Results, Verdict } from "../reports/results.ts";
import type { Io } from "./common.ts";
import { corpus, corpusSummary, type CorpusRun } from "./corpus.ts";
import { designFileProvenance } from "./design-file.ts";
import { InputError, shownPath } from "./load.ts";
import { replayNamed } from "./replay.ts";
import { replayCommandFor } from "./entry.ts";
import type { ConcurrentResult } from "../model/concurrent.ts";
import type { Provenance } from "../model/scenario.ts";

export interface CellInput {
  readonly design: string;
  readonly property: string;
  readonly kind: "variant" | "mutant" | "history";
  readonly outcome: Outcome;
  readonly expected: Verdict | null;
  readonly changed: boolean;
  /** Where its counterexample was saved, if it failed. */
  readonly file: string | null;
  /** The baseline the design was judged against, and the change (CellResult.against). */
  readonly against?: CellResult["against"];
}

/** The readable trace of a failed cell's counterexample, as plain lines, and the line to bring into view. */
function traceOf(o: Outcome): { readonly lines: string[]; readonly focus: number | null } {
  const d = variantByName(o.variant);
  if (o.counterexample === undefined || d === undefined) return { lines: [], focus: null };
  const r = replayNamed(o.counterexample, o.property, d);
  if (r === undefined) return { lines: [], focus: null };
  const lines = r.lines.map((l) => stripVTControlCharacters(l));
  const tick = r.result !== undefined && r.failure !== null ? failingTick(r.result, r.failure.message) : null;
  return { lines, focus: tick !== null ? tickRow(lines, tick) : stepMark(lines) };
}

/**
 * The tick a concurrent property's message points at: the one it names ("tick 41: ..."), else the last tick of
 * the call it names ("cpu2 call f: ...", "cpu2 call f (across steps 2..4): ...") that has that violation, where that
 * call stopped or returned.
 */
export function failingTick(result: ConcurrentResult, message: string): number | null {
  const named = /^tick (\d+):/.exec(message);
  if (named !== null) return Number(named[1]);
  const call = /^cpu(\d+) call (\S+)(?: \([^)]*\))?: (.*)$/s.exec(message);
  if (call === null) return null;
  const [, cpu, fn, what] = call;
  const calls = result.calls.filter((c) => c.cpu === Number(cpu) && c.fn === fn);
  const hit = calls.find((c) => c.obs.violations.some((v) => what!.includes(v.message) || v.message.includes(what!))) ?? calls.find((c) => c.obs.violations.length > 0) ?? calls.at(-1);
  if (hit === undefined) return null;
  // The instruction the violation names ("ldr x4, [x2] at ftrace_caller+0x64"), as that CPU's row shows it
  // ("ftrace_caller+0x64: ldr x4, [x2]"): its last tick within the call; else where the call ended.
  const rows = result.timeline.filter((e) => e.actor === hit.cpu && e.tick >= hit.start && e.tick <= hit.end);
  const shown = rows.filter((e) => {
    const at = e.text.indexOf(": ");
    return at > 0 && what!.includes(`${e.text.slice(at + 2)} at ${e.text.slice(0, at)}`);
  });
  return shown.at(-1)?.tick ?? hit.end;
}

/** The index of a timeline's last row for `tick` (rows start with the tick, right-aligned), or null. */
export function tickRow(lines: ReadonlyArray<string>, tick: number): number | null {
  let at: number | null = null;
  lines.forEach((l, i) => {
    const m = /^\s*(\d+)  /.exec(l);
    if (i > 0 && m !== null && Number(m[1]) === tick) at = i;
  });
  return at;
}

/** The line a sequential trace marks its failing step with ("x property: ..."), or null. */
export function stepMark(lines: ReadonlyArray<string>): number | null {
  const i = lines.findIndex((l) => /^\s*x \S+: /.test(l));
  return i < 0 ? null : i;
}

export function cellResult(c: CellInput): CellResult {
  const o = c.outcome;
  return {
    design: c.design,
    property: c.property,
    kind: c.kind,
    verdict: o.ok ? "holds" : "fails",
    expected: c.expected,
    changed: c.changed,
    ...(c.against !== undefined ? { against: c.against } : {}),
    judges: judgesOf(c.property),
    runs: o.runs,
    ms: Math.round(o.ms),
    seed: o.seed,
    path: o.path ?? null,
    message: o.message ?? null,
    error: o.error ?? null,
    counterexample: o.counterexample === undefined ? null : counterexampleOf(c, o),
  };
}

function counterexampleOf(c: CellInput, o: Outcome): NonNullable<CellResult["counterexample"]> {
  const t = traceOf(o);
  return { file: c.file, steps: o.counterexample?.steps.length ?? 0, trace: t.lines, ...(c.file !== null ? { replay: replayCommandFor(c.file, c.design) } : {}), ...(t.focus !== null ? { focus: t.focus } : {}) };
}

export interface ResultsInput {
  readonly command: "check" | "gate";
  readonly seed: number;
  readonly runs: number;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly cells: ReadonlyArray<CellInput>;
  readonly corpus: CorpusRun;
  readonly ok: boolean;
}

/**
 * The end check and gate share: replay the regression corpus and print its summary, decide the run's verdict
 * (`passed` says whether the command's own cells are as they should be), and write the report if one was asked for.
 */
export function finishRun(
  io: Io,
  report: string | undefined,
  run: Omit<ResultsInput, "corpus" | "ok" | "durationMs"> & { readonly started: number; readonly passed: boolean; readonly judged?: ReadonlyArray<string> },
): { corpus: CorpusRun; ok: boolean } {
  const c = corpus();
  io.out(corpusSummary(c, run.judged));
  const ok = run.passed && c.failed === 0;
  if (report !== undefined) {
    const results = buildResults({ command: run.command, seed: run.seed, runs: run.runs, startedAt: run.startedAt, durationMs: performance.now() - run.started, cells: run.cells, corpus: c, ok });
    io.out(`report: ${writeReport(report, results).join(", ")}\n`);
  }
  return { corpus: c, ok };
}

/** The coverage of these cells, merged per design. */
export function coverageByDesign(cells: ReadonlyArray<{ readonly design: string; readonly outcome: Outcome }>): Record<string, Coverage> {
  const byDesign = new Map<string, CoverageCollector>();
  for (const c of cells) {
    if (c.outcome.coverage === undefined) continue;
    const col = byDesign.get(c.design) ?? new CoverageCollector();
    col.merge(c.outcome.coverage);
    byDesign.set(c.design, col);
  }
  return Object.fromEntries([...byDesign].map(([d, c]) => [d, c.result()]));
}

/** Per variant of the cells, the properties (of the kinds the cells judge) with nothing to judge on it. */
function notApplicableOf(cells: ReadonlyArray<CellInput>): Record<string, Array<{ property: string; why: string }>> {
  const judged = new Set(cells.map((c) => c.property));
  const kinds = [PROPERTIES, CONCURRENT_PROPERTIES].filter((ps) => ps.some((p) => judged.has(p.name)));
  const out: Record<string, Array<{ property: string; why: string }>> = {};
  for (const name of new Set(cells.filter((c) => c.kind === "variant").map((c) => c.design))) {
    const d = variantByName(name);
    if (d === undefined) continue;
    const na = kinds.flatMap((ps) => notApplicableTo(ps, d));
    if (na.length > 0) out[name] = na;
  }
  return out;
}

export function buildResults(r: ResultsInput): Results {
  const coverage = coverageByDesign(r.cells);
  const coverageExpected: Record<string, CoverageExpectations> = {};
  for (const design of Object.keys(coverage)) {
    // A mutant stops at its first failure, so only whole variants are held to what they should reach.
    const d = variantByName(design);
    if (d !== undefined && d.mutations.size === 0) coverageExpected[design] = coverageExpectations(d);
  }
  return {
    schema: "dispatch-spec/results@1",
    command: r.command,
    seed: r.seed,
    runs: r.runs,
    startedAt: r.startedAt.toISOString(),
    durationMs: Math.round(r.durationMs),
    cells: r.cells.map(cellResult),
    coverage,
    notApplicable: notApplicableOf(r.cells),
    coverageExpected,
    corpus: { files: r.corpus.files, failed: r.corpus.failed, failures: r.corpus.rows.map((f) => stripVTControlCharacters(f)) },
    ok: r.ok,
    provenance: withDesignFiles(provenance({
      design: designsOf(r.cells),
      seed: r.seed,
      runs: r.runs,
      totalRuns: r.cells.reduce((n, c) => n + c.outcome.runs, 0),
      states: statesOf(r.cells.map((c) => c.outcome.coverage)),
      wallMs: r.durationMs,
      at: new Date(r.startedAt.getTime() + r.durationMs),
    }), r.cells.map((c) => c.design)),
  };
}

/** The run's provenance with the --design files its designs came from, when any did. */
function withDesignFiles(p: Provenance, designs: ReadonlyArray<string>): Provenance {
  const files = designFileProvenance(designs);
  return files.length === 0 ? p : { ...p, designFiles: files };
}

/** The design a run judged, or how many (a gate run judges every variant, mutant and design of the history). */
function designsOf(cells: ReadonlyArray<{ readonly design: string }>): string {
  const ds = [...new Set(cells.map((c) => c.design))];
  return ds.length === 1 ? ds[0]! : `${ds.length} designs`;
}

/** Make the report directory, before a run, so a bad --report fails in a second rather than after the run. */
export function prepareReportDir(dir: string): void {
  try {
    // One level at a time: Node's recursive mkdir never returns under /proc, where each level fails at once.
    const missing: string[] = [];
    for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) mkdirSync(d);
    if (!statSync(resolve(dir)).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
  } catch (e) {
    throw new InputError(`--report: cannot make directory ${dir} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** Write the four report files into dir; returns their paths relative to the working directory. */
export function writeReport(dir: string, results: Results): string[] {
  prepareReportDir(dir);
  const files: Array<[string, string]> = [
    ["results.json", JSON.stringify(results, null, 2) + "\n"],
    ["summary.md", renderSummaryMarkdown(results)],
    ["junit.xml", renderJunit(results)],
    ["index.html", renderHtml(results)],
  ];
  return files.map(([name, text]) => {
    const path = join(dir, name);
    try {
      writeFileSync(path, text);
    } catch (e) {
      throw new InputError(`--report: cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    }
    return shownPath(path);
  });
}
