// The reports rendered from a run's Results: summary.md for a CI job summary or PR comment, junit.xml for CI test
// views, and index.html, one self-contained page for people. Pure: Results in, text out; writing files is cli/'s.

import { stripVTControlCharacters } from "node:util";
import { unreached, type BaselineChange, type CellResult, type Coverage, type CoverageExpectations, type Results } from "./results.ts";
import { provenanceRows } from "./provenance.ts";
import { plural } from "./format.ts";
import { columnHeads, type ColumnHead } from "./heads.ts";
import { notApplicableText } from "../properties/index.ts";

type Section = keyof CoverageExpectations;

/** Coverage sections in reading order, with the names people see. */
const SECTIONS: ReadonlyArray<readonly [Section, string]> = [
  ["siteStates", "site states"],
  ["transitions", "transitions"],
  ["paths", "dispatch paths"],
  ["trampolineClasses", "trampoline classes"],
  ["apiReturns", "API returns"],
  ["windows", "racy windows"],
];

/** Traces longer than this are cut in summary.md (the counterexample file has the whole run). */
export const MARKDOWN_TRACE_LINES = 60;

const EMPTY_COVERAGE: Coverage = { siteStates: {}, transitions: {}, paths: {}, trampolineClasses: {}, apiReturns: {}, windows: {} };

// ---- shared views of a run ----

function uniq(xs: ReadonlyArray<string>): string[] {
  return [...new Set(xs)];
}

function ofKind(r: Results, kind: CellResult["kind"]): CellResult[] {
  return r.cells.filter((c) => c.kind === kind);
}

function designs(cells: ReadonlyArray<CellResult>): string[] {
  return uniq(cells.map((c) => c.design));
}

function properties(cells: ReadonlyArray<CellResult>): string[] {
  return uniq(cells.map((c) => c.property));
}

function cellAt(cells: ReadonlyArray<CellResult>, design: string, property: string): CellResult | undefined {
  return cells.find((c) => c.design === design && c.property === property);
}

/** What a cell shows: its verdict, or "error" when the run broke. */
function shown(c: CellResult): "holds" | "fails" | "error" {
  return c.error !== null ? "error" : c.verdict;
}

/** The expectation a cell was judged against: the committed one (gate), or "holds" (check). */
function expectation(c: CellResult): "holds" | "fails" {
  return c.expected ?? "holds";
}

/** Why a changed cell is flagged, e.g. "expected holds, got fails", or "newly failing against upstream (...)". */
function mismatch(c: CellResult): string {
  const a = c.against;
  if (a !== undefined) return `${a.change} against ${a.baseline} (${a.baseline} ${a.verdict ?? "n/a"}, now ${shown(c)})`;
  return `expected ${expectation(c)}, got ${shown(c)}`;
}

/** Whether the cell's property judges agreement with upstream's choices rather than safety. */
function isAgreement(c: CellResult): boolean {
  return c.judges === "agreement";
}

/** Cells judged against a baseline, by design: gate --variant/--design, or check of a design with no row. */
function baselineDesigns(r: Results): Array<{ readonly design: string; readonly baseline: string; readonly cells: CellResult[] }> {
  const judged = r.cells.filter((c) => c.against !== undefined);
  return designs(judged).map((d) => {
    const cells = judged.filter((c) => c.design === d);
    return { design: d, baseline: cells[0]?.against?.baseline ?? "upstream", cells };
  });
}

/** "2 newly failing (both agreement), 1 newly holding": a design's changes against its baseline, or "no change". */
function changeTally(cells: ReadonlyArray<CellResult>): string {
  const of = (ch: BaselineChange): CellResult[] => cells.filter((c) => c.against?.change === ch);
  const failing = of("newly failing");
  const agreement = failing.filter(isAgreement).length;
  const judged = failing.length === 0 ? "" : agreement === failing.length ? ` (${failing.length === 1 ? "it judges" : `all ${failing.length} judge`} agreement, not safety)` : agreement > 0 ? ` (${agreement} of them agreement)` : "";
  const parts = [
    ...(failing.length > 0 ? [`${failing.length} newly failing${judged}`] : []),
    ...(of("broke").length > 0 ? [`${of("broke").length} broke`] : []),
    ...(of("newly holding").length > 0 ? [`${of("newly holding").length} newly holding`] : []),
    ...(of("inherited").length > 0 ? [`${of("inherited").length} inherited`] : []),
  ];
  return parts.length === 0 ? "no change" : parts.join(", ");
}

/** A cell worth a section of its own: a failure, a change or an error. */
function isNoteworthy(c: CellResult): boolean {
  return c.verdict === "fails" || c.changed || c.error !== null;
}

/** Every noteworthy cell, changes first. */
function noteworthy(r: Results): CellResult[] {
  const all = r.cells.filter(isNoteworthy);
  return [...all.filter((c) => c.changed), ...all.filter((c) => !c.changed)];
}

/** Every design with coverage or coverage expectations, in the order the cells name them. */
function coverageDesigns(r: Results): string[] {
  return uniq([...designs(r.cells), ...Object.keys(r.coverage), ...Object.keys(r.coverageExpected)]).filter(
    (d) => r.coverage[d] !== undefined || r.coverageExpected[d] !== undefined,
  );
}

function coverageOf(r: Results, design: string): Coverage {
  return r.coverage[design] ?? EMPTY_COVERAGE;
}

/** Labels expected but never reached, per section, for one design (none when nothing is expected). */
function missing(r: Results, design: string): Record<Section, string[]> {
  const e = r.coverageExpected[design];
  if (e === undefined) return { siteStates: [], transitions: [], paths: [], trampolineClasses: [], apiReturns: [], windows: [] };
  return unreached(coverageOf(r, design), e);
}

function missingCount(r: Results, design: string): number {
  return Object.values(missing(r, design)).reduce((n, xs) => n + xs.length, 0);
}

/** A section's rows: expected labels first (in their order, zero when unreached), then anything else reached. */
function sectionRows(r: Results, design: string, s: Section): Array<{ label: string; count: number; expected: boolean }> {
  const got = coverageOf(r, design)[s] ?? {};
  const want = r.coverageExpected[design]?.[s] ?? [];
  const extra = Object.keys(got).filter((k) => !want.includes(k));
  return [
    ...want.map((label) => ({ label, count: got[label] ?? 0, expected: true })),
    ...extra.map((label) => ({ label, count: got[label] ?? 0, expected: false })),
  ];
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** One line on the whole run, e.g. "every verdict as expected" or "2 unexpected verdicts, corpus: 1 of 14 files fail". */
function headline(r: Results): string {
  const judged = baselineDesigns(r);
  if (judged.length > 0) {
    const corpus = r.corpus.failed > 0 ? `, corpus: ${r.corpus.failed} of ${r.corpus.files} files fail` : "";
    return judged.map((j) => `${j.design} against ${j.baseline}: ${changeTally(j.cells)}`).join("; ") + corpus;
  }
  const changed = r.cells.filter((c) => c.changed).length;
  const parts = [
    ...(changed > 0 ? [plural(changed, "unexpected verdict")] : []),
    ...(r.corpus.failed > 0 ? [`corpus: ${r.corpus.failed} of ${r.corpus.files} files fail`] : []),
  ];
  if (parts.length > 0) return parts.join(", ");
  if (!r.ok) return "failed";
  return r.command === "gate" ? "every verdict as expected" : "every property holds";
}

function corpusLine(r: Results): string {
  return r.corpus.failed === 0
    ? `${plural(r.corpus.files, "scenario file")}, all expectations hold`
    : `${r.corpus.failed} of ${plural(r.corpus.files, "scenario file")} fail`;
}

function finishedAt(r: Results): string {
  const t = Date.parse(r.startedAt);
  return Number.isNaN(t) ? r.startedAt : new Date(t + r.durationMs).toISOString();
}

/** Text as it may be shown anywhere: no terminal colour codes, no characters XML 1.0 forbids. */
function clean(s: string): string {
  return stripVTControlCharacters(s).replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "");
}

function traceOf(c: CellResult): ReadonlyArray<string> {
  return c.counterexample?.trace ?? [];
}

/** Where the counterexample's scenario file was written, if it was. */
function fileOf(c: CellResult): string | null {
  return c.counterexample?.file ?? null;
}

/** The command that replays the counterexample: the one the run recorded, or a bare one for older results. */
function replayOf(c: CellResult): string | null {
  const file = fileOf(c);
  if (file === null) return null;
  return c.counterexample?.replay ?? `npx dispatch-spec replay ${file}`;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? "";
}

// ---- summary.md ----

/** Inline text: nothing in it starts emphasis, code, a link, an HTML tag or an entity. */
function md(s: string): string {
  return clean(s)
    .replace(/\s*\n\s*/g, " ")
    // Leading spaces would make a list item or paragraph an indented code block.
    .trim()
    .replace(/&(?=#?[A-Za-z0-9]+;)/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/([\\`*[\]~])/g, "\\$1")
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, "\\_")
    .replace(/^([#+-])/, "\\$1")
    .replace(/^(\d+)([.)])/, "$1\\$2");
}

/** A code span that survives backticks in its text. */
function mdCode(s: string): string {
  const text = clean(s).replace(/\s*\n\s*/g, " ");
  const runs = text.match(/`+/g) ?? [];
  const fence = "`".repeat(Math.max(0, ...runs.map((x) => x.length)) + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A table row; a | inside a cell (even in a code span) is escaped, as GFM tables require. */
function mdRow(cells: ReadonlyArray<string>): string {
  return `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
}

function mdTable(head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string[] {
  return [mdRow(head), mdRow(head.map(() => "---")), ...rows.map(mdRow)];
}

function mdCell(c: CellResult | undefined): string {
  if (c === undefined) return "—";
  if (c.changed) return `**${shown(c)}** ⚠️ (expected ${expectation(c)})`;
  return shown(c);
}

function mdVerdicts(r: Results): string[] {
  const cells = ofKind(r, "variant");
  if (cells.length === 0) return [];
  const props = properties(cells);
  const rows = designs(cells).map((d) => [mdCode(d), ...props.map((p) => mdCell(cellAt(cells, d, p)))]);
  return ["### Verdicts", "", ...mdTable(["variant", ...props.map(md)], rows), ""];
}

/** "n/a on D (why): a, b": the properties with nothing to judge on the design, by reason. */
function naLines(r: Results, design: string): string[] {
  return notApplicableText(design, r.notApplicable?.[design] ?? []);
}

/** A change's mark in summary.md. */
function mdChange(c: CellResult): string {
  const ch = c.against?.change ?? "unchanged";
  if (ch === "newly failing") return `**❌ newly failing**${isAgreement(c) ? " (agreement, not safety)" : ""}`;
  if (ch === "broke") return "**⚠️ broke**";
  if (ch === "newly holding") return "✅ newly holding";
  if (ch === "inherited") return "inherited (upstream's recorded finding)";
  return "unchanged";
}

/** Per design judged against a baseline: property, what it judges, the baseline's verdict, now, the change. */
function mdBaseline(r: Results): string[] {
  return baselineDesigns(r).flatMap((j) => [
    `### ${mdCode(j.design)} against ${mdCode(j.baseline)}: ${md(changeTally(j.cells))}`,
    "",
    ...naLines(r, j.design).map((l) => `_${md(l)}_`),
    ...(naLines(r, j.design).length > 0 ? [""] : []),
    ...mdTable(
      ["property", "judges", j.baseline, "now", "change"],
      j.cells.map((c) => [mdCode(c.property), c.judges ?? "safety", c.against?.verdict ?? "n/a", shown(c), mdChange(c)]),
    ),
    "",
  ]);
}

function mdMutants(r: Results): string[] {
  const cells = ofKind(r, "mutant");
  if (cells.length === 0) return [];
  const rows = cells.map((c) => [mdCode(c.design), md(c.property), mdCell(c)]);
  return ["### Mutants (each must fail its property)", "", ...mdTable(["mutant", "property", "verdict"], rows), ""];
}

function mdHistory(r: Results): string[] {
  const cells = ofKind(r, "history");
  if (cells.length === 0) return [];
  const rows = cells.map((c) => [mdCode(c.design), md(c.property), mdCell(c)]);
  return ["### The kernel's history (each bug must fail its property, each fix hold)", "", ...mdTable(["design", "property", "verdict"], rows), ""];
}

/** A fenced block longer than any backtick run inside it. */
function mdFence(lines: ReadonlyArray<string>): string[] {
  const runs = lines.flatMap((l) => l.match(/`{3,}/g) ?? []);
  const fence = "`".repeat(Math.max(3, ...runs.map((x) => x.length + 1)));
  return [`${fence}text`, ...lines, fence];
}

function mdTrace(c: CellResult): string[] {
  const trace = traceOf(c).map(clean);
  if (trace.length === 0) return [];
  const cut = trace.length - MARKDOWN_TRACE_LINES;
  const file = fileOf(c);
  const where = file !== null ? ` (the whole run is in ${mdCode(file)})` : "";
  const note = cut > 0 ? [`*Trace truncated: showing ${MARKDOWN_TRACE_LINES} of ${trace.length} lines, ${plural(cut, "line")} left out${where}.*`, ""] : [];
  return [...mdFence(trace.slice(0, MARKDOWN_TRACE_LINES)), "", ...note];
}

function mdFacts(c: CellResult): string {
  const ce = c.counterexample;
  const file = fileOf(c);
  return [
    ...(c.changed ? [`**${mismatch(c)}**`] : []),
    `seed ${mdCode(String(c.seed))}`,
    ...(c.path !== null ? [`path ${mdCode(c.path)}`] : []),
    ...(file !== null ? [`counterexample ${mdCode(file)}`] : []),
    ...(ce !== null ? [plural(ce.steps, "step")] : []),
    `${plural(c.runs, "run")} in ${duration(c.ms)}`,
    ...(replayOf(c) !== null ? [`replay: ${mdCode(replayOf(c) ?? "")}`] : []),
  ].join(" · ");
}

function mdFailure(c: CellResult): string[] {
  const mark = (c.changed ? (c.against !== undefined ? `⚠️ ${c.against.change === "broke" ? "Broke" : "Newly failing"} against ${c.against.baseline}` : "⚠️ Unexpected") : c.kind === "mutant" ? "Mutant killed" : c.kind === "history" ? "Bug flagged" : "Expected failure") + (isAgreement(c) && c.changed ? " [agreement]" : "");
  const text = c.error ?? c.message;
  return [
    `#### ${mark}: ${mdCode(c.design)} × ${mdCode(c.property)}`,
    "",
    ...(text !== null ? [`> ${c.error !== null ? "**error:** " : ""}${md(text)}`, ""] : []),
    mdFacts(c),
    "",
    ...mdTrace(c),
  ];
}

/** One line for a failure the expected file records: what, the message, and the file that replays it. */
function mdKnownFailure(c: CellResult): string {
  const mark = c.changed ? `⚠️ unexpected ${shown(c)}` : c.kind === "mutant" ? "mutant killed" : c.kind === "history" ? "bug flagged" : "expected failure";
  const replay = replayOf(c);
  const steps = c.counterexample !== null ? ` (${plural(c.counterexample.steps, "step")})` : "";
  return `- ${mark}: ${mdCode(c.design)} × ${mdCode(c.property)}: ${md(c.message ?? "")}${replay !== null ? ` — replay: ${mdCode(replay)}${steps}` : ""}`;
}

/**
 * Unexpected verdicts in full (message, facts, trace); recorded failures a line each, their traces left to
 * index.html and the counterexample files, so that summary.md fits a pull-request comment (SUMMARY_LIMIT).
 */
function mdFailures(r: Results): string[] {
  const cells = noteworthy(r);
  const changed = cells.filter((c) => c.changed);
  const known = cells.filter((c) => !c.changed);
  const open = changed.length > 0 ? ["### Unexpected verdicts", "", ...changed.flatMap(mdFailure)] : [];
  const closed =
    known.length > 0
      ? [`<details><summary>${plural(known.length, "expected failure")} (known findings, killed mutants, flagged bugs; traces in index.html)</summary>`, "", ...known.map(mdKnownFailure), "", "</details>", ""]
      : [];
  return [...open, ...closed];
}

function mdSectionCounts(r: Results, design: string, s: Section, name: string): string | null {
  const rows = sectionRows(r, design, s);
  if (rows.length === 0) return null;
  const reached = rows.filter((x) => x.expected && x.count > 0).length;
  const want = rows.filter((x) => x.expected).length;
  const items = rows.map((x) => (x.expected && x.count === 0 ? `**${mdCode(x.label)} 0 ⚠️ never reached**` : `${mdCode(x.label)} ${x.count}`));
  return `- ${name} (${want === 0 ? "none expected" : `${reached}/${want} expected reached`}): ${items.join(" · ")}`;
}

function mdCoverage(r: Results): string[] {
  const ds = coverageDesigns(r);
  if (ds.length === 0) return [];
  const lost = ds.flatMap((d) =>
    SECTIONS.flatMap(([s, name]) => {
      const xs = missing(r, d)[s];
      return xs.length > 0 ? [`- ${mdCode(d)} · ${name}: ${xs.map(mdCode).join(", ")}`] : [];
    }),
  );
  const head =
    lost.length > 0
      ? ["> [!WARNING]", "> **Never reached**: expected of the generated runs but exercised zero times:", ">", ...lost.map((l) => `> ${l}`), ""]
      : ["Every expected coverage label was reached.", ""];
  // The counts of upstream and of any design that missed a label; the others' are in index.html and results.json.
  const detailed = ds.filter((d) => d === "upstream" || missingCount(r, d) > 0);
  const perDesign = detailed.flatMap((d) => {
    const n = missingCount(r, d);
    const lines = SECTIONS.flatMap(([s, name]) => mdSectionCounts(r, d, s, name) ?? []);
    return [`<details><summary>${escapeHtml(d)}${n > 0 ? ` — ⚠️ ${n} never reached` : ""}</summary>`, "", ...lines, "", "</details>", ""];
  });
  const rest = ds.length - detailed.length;
  return ["### Coverage", "", ...head, ...perDesign, ...(rest > 0 ? [`The counts of the ${plural(rest, "other design")}, each reaching every expected label, are in index.html and results.json.`, ""] : [])];
}

function mdCorpus(r: Results): string[] {
  const fails = r.corpus.failures.map((f) => `- ${md(f)}`);
  return [`**Corpus:** ${r.corpus.failed === 0 ? "✅" : "❌"} ${corpusLine(r)}`, "", ...fails, ...(fails.length > 0 ? [""] : [])];
}

/** The provenance block: what produced the run, as a two-column table. */
function mdProvenance(r: Results): string[] {
  if (r.provenance === undefined) return [];
  return ["### Provenance", "", ...mdTable(["field", "value"], provenanceRows(r.provenance).map(([k, v]) => [md(k), mdCode(v)])), ""];
}

/** GitHub's limit on a pull-request comment is 65 536 characters: summary.md stays below as many bytes. */
export const SUMMARY_LIMIT = 65_536;

/** summary.md: for a CI job summary or a PR comment. */
export function renderSummaryMarkdown(r: Results): string {
  const title = `## ${r.ok ? "✅" : "❌"} dispatch-spec ${r.command}: ${md(headline(r))}`;
  const meta = `${mdCode(r.command)} · seed ${mdCode(String(r.seed))} · ${plural(r.runs, "run")} per cell · ${duration(r.durationMs)} · ${plural(r.cells.length, "cell")} · started ${md(r.startedAt)}`;
  const head = [title, "", meta, "", ...mdBaseline(r), ...mdVerdicts(r), ...mdMutants(r), ...mdHistory(r)];
  const tail = [...mdCorpus(r), ...mdCoverage(r), ...mdProvenance(r)];
  const full = [...head, ...mdFailures(r), ...tail].join("\n").trimEnd() + "\n";
  if (utf8Bytes(full) < SUMMARY_LIMIT) return full;
  // Many unexpected verdicts at once: each a line, as the recorded ones are; the traces are in index.html.
  const changed = noteworthy(r).filter((c) => c.changed);
  const short = [...head, "### Unexpected verdicts", "", "_Each a line: summary.md stays below a pull-request comment's size; traces in index.html._", "", ...changed.map(mdKnownFailure), "", ...mdFailures({ ...r, cells: r.cells.filter((c) => !c.changed) }), ...tail].join("\n").trimEnd() + "\n";
  if (utf8Bytes(short) < SUMMARY_LIMIT) return short;
  let cut = short.slice(0, SUMMARY_LIMIT / 2);
  while (utf8Bytes(cut) > SUMMARY_LIMIT - 200) cut = cut.slice(0, -1000);
  return `${cut}\n\n_(cut short; the whole report is index.html and results.json)_\n`;
}

function utf8Bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}

// ---- junit.xml ----

function xml(s: string): string {
  return clean(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** An attribute value: escaped, with line breaks kept as character references. */
function xmlAttr(s: string): string {
  return xml(s).replace(/\r/g, "&#13;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;");
}

function attrs(a: Readonly<Record<string, string | number>>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join("");
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** The body of a failure, error or expected failure: what was judged, where to replay it, then the trace. */
function junitBody(c: CellResult): string {
  const ce = c.counterexample;
  const file = fileOf(c);
  const facts = [
    c.changed ? mismatch(c) : `${shown(c)}, as expected`,
    ...(c.message !== null ? [c.message] : []),
    `seed ${c.seed}${c.path !== null ? `, path ${c.path}` : ""}`,
    ...(ce !== null && file !== null ? [`counterexample ${file} (${plural(ce.steps, "step")})`, `replay: ${replayOf(c) ?? ""}`] : []),
  ];
  const trace = traceOf(c);
  return [...facts, ...(trace.length > 0 ? ["", ...trace] : [])].join("\n");
}

function junitOutcome(c: CellResult): string {
  if (c.error !== null) return `\n      <error${attrs({ message: firstLine(c.error), type: "error" })}>${xml(`${c.error}\n\n${junitBody(c)}`)}</error>\n    `;
  if (c.changed) return `\n      <failure${attrs({ message: c.message ?? mismatch(c), type: "unexpected-verdict" })}>${xml(junitBody(c))}</failure>\n    `;
  if (c.verdict === "fails") return `\n      <system-out>${xml(junitBody(c))}</system-out>\n    `;
  return "";
}

function junitCase(c: CellResult): string {
  const a = attrs({ classname: `dispatch-spec.${c.design}`, name: c.property, time: secs(c.ms) });
  const body = junitOutcome(c);
  return body === "" ? `    <testcase${a}/>` : `    <testcase${a}>${body}</testcase>`;
}

interface Tally {
  readonly tests: number;
  readonly failures: number;
  readonly errors: number;
  readonly ms: number;
}

function tally(cells: ReadonlyArray<CellResult>): Tally {
  return {
    tests: cells.length,
    failures: cells.filter((c) => c.error === null && c.changed).length,
    errors: cells.filter((c) => c.error !== null).length,
    ms: cells.reduce((n, c) => n + c.ms, 0),
  };
}

function tallyAttrs(t: Tally): Record<string, string | number> {
  return { tests: t.tests, failures: t.failures, errors: t.errors, skipped: 0, time: secs(t.ms) };
}

/** The provenance as JUnit properties (dispatch-spec.<field>, as results.json names them), in every testsuite. */
function junitProperties(r: Results): string[] {
  if (r.provenance === undefined) return [];
  const rows = Object.entries(r.provenance).map(([k, v]) => `      <property${attrs({ name: `dispatch-spec.${k}`, value: String(v) })}/>`);
  return ["    <properties>", ...rows, "    </properties>"];
}

function junitSuite(r: Results, design: string): string {
  const cells = r.cells.filter((c) => c.design === design);
  const head = `  <testsuite${attrs({ name: design, ...tallyAttrs(tally(cells)), timestamp: r.startedAt })}>`;
  return [head, ...junitProperties(r), ...cells.map(junitCase), "  </testsuite>"].join("\n");
}

/**
 * The scenario and regression corpora as one testsuite: a testcase per failing file (named by its path), failed,
 * and one testcase standing for the files that held.
 */
function junitCorpus(r: Results): string {
  const held = r.corpus.files - r.corpus.failed;
  const fails = r.corpus.failures.map((f) => {
    const line = clean(f).trim();
    const name = (line.split(/\s+/)[0] ?? "corpus file").replace(/:$/, "");
    return `    <testcase${attrs({ classname: "dispatch-spec.corpus", name, time: "0" })}>\n      <failure${attrs({ message: line, type: "corpus" })}>${xml(line)}</failure>\n    </testcase>`;
  });
  const ok = held > 0 ? [`    <testcase${attrs({ classname: "dispatch-spec.corpus", name: `${held} file(s) that keep their recorded outcome`, time: "0" })}/>`] : [];
  const head = `  <testsuite${attrs({ name: "corpus", tests: fails.length + ok.length, failures: fails.length, errors: 0, skipped: 0, time: "0", timestamp: r.startedAt })}>`;
  return [head, ...fails, ...ok, "  </testsuite>"].join("\n");
}

/** junit.xml: one testsuite per design, one testcase per cell, and the corpus; only changes, errors and corpus failures count against the run. */
export function renderJunit(r: Results): string {
  const t = tally(r.cells);
  const corpusCases = r.corpus.files === 0 ? 0 : r.corpus.failures.length + (r.corpus.files - r.corpus.failed > 0 ? 1 : 0);
  const root = attrs({ name: `dispatch-spec ${r.command}`, ...tallyAttrs({ ...t, tests: t.tests + corpusCases, failures: t.failures + r.corpus.failures.length }), time: secs(r.durationMs), timestamp: r.startedAt });
  const corpus = r.corpus.files > 0 ? [junitCorpus(r)] : [];
  return ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${root}>`, ...designs(r.cells).map((d) => junitSuite(r, d)), ...corpus, "</testsuites>", ""].join("\n");
}

// ---- index.html ----

function escapeHtml(s: string): string {
  return clean(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** A name that may break after its hyphens, plus signs and colons in a narrow column. */
function breakable(s: string): string {
  return escapeHtml(s).replace(/([-+:])/g, "$1<wbr>");
}

function anchor(c: CellResult): string {
  return `cell-${`${c.design}--${c.property}`.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

const CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;
--warn:#9a6700;--warn-bg:#fff8c5;--accent:#0969da;--mono:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
main,.top-inner,footer{max-width:1320px;margin:0 auto;padding:0 24px}
code,pre,.mono{font-family:var(--mono);font-size:12.5px}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.top{background:#fff;border-bottom:1px solid var(--line);border-top:6px solid var(--ok)}
.top.bad{border-top-color:var(--bad)}
.top-inner{display:flex;gap:18px;align-items:center;padding-top:20px;padding-bottom:20px}
.badge{flex:none;width:52px;height:52px;border-radius:50%;display:grid;place-items:center;font-size:28px;font-weight:700;color:#fff;background:var(--ok)}
.bad .badge{background:var(--bad)}
h1{margin:0;font-size:22px;font-weight:600}
h1 .status{color:var(--ok)}.bad h1 .status{color:var(--bad)}
.meta{margin:4px 0 0;color:var(--muted)}
.meta span+span::before{content:"·";margin:0 8px;color:var(--line)}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:24px 0 8px}
.stat{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px}
.stat b{display:block;font-size:24px;font-weight:600;line-height:1.2}
.stat span{color:var(--muted);font-size:12.5px}
.stat.bad{border-color:var(--bad);background:var(--bad-bg)}.stat.bad b{color:var(--bad)}
.stat.warn{border-color:#d4a72c;background:var(--warn-bg)}.stat.warn b{color:var(--warn)}
section{margin:28px 0}
h2{font-size:17px;font-weight:600;margin:0 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h2 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:8px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
table{border-collapse:collapse;width:100%}
th,td{padding:7px 10px;text-align:left;vertical-align:middle}
thead th{background:var(--bg);font-size:12px;font-weight:600;color:var(--muted);border-bottom:1px solid var(--line)}
tbody tr+tr>*{border-top:1px solid #eaeef2}
table.verdicts{table-layout:fixed}
table.verdicts th:first-child{width:170px}
table.verdicts.grid th:first-child{width:140px}
table.verdicts.grid thead th+th{text-align:center}
table.verdicts td.v{text-align:center;padding:5px}
.v span.pill{display:block;max-width:150px;margin:0 auto;padding:5px 4px;border-radius:6px;font-weight:600;font-size:12.5px;line-height:1.3}
.holds span.pill{background:var(--ok-bg);color:var(--ok)}
.fails span.pill{background:var(--bad-bg);color:var(--bad)}
.error span.pill{background:#eaeef2;color:var(--fg)}
.v.unexpected span.pill{outline:2px dashed var(--warn);outline-offset:1px;box-shadow:0 0 0 4px var(--warn-bg)}
.v span.pill small{display:block;font-weight:400;font-size:11px;color:var(--warn)}
.v a{color:inherit;text-decoration:none}
.legend{display:flex;flex-wrap:wrap;gap:16px;margin:10px 2px 0;color:var(--muted);font-size:12.5px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:-1px;margin-right:6px}
.legend .lh{background:var(--ok-bg);border:1px solid var(--ok)}.legend .lf{background:var(--bad-bg);border:1px solid var(--bad)}
.legend .lu{outline:2px dashed var(--warn);outline-offset:1px;background:var(--bad-bg)}
.legend .lr{background:var(--warn-bg);border:1px solid #d4a72c}
.recorded span.pill{background:var(--warn-bg);color:var(--warn)}
.card.scroll{overflow-x:auto}
table.verdicts.grid thead th{vertical-align:bottom;overflow-wrap:normal;word-break:normal;padding:7px 3px;font-size:11px}
table.verdicts.grid td.v{padding:5px 3px}
table.verdicts.grid thead th .head{display:inline-block;max-width:100%}
dl.heads{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:2px 18px;margin:10px 2px 0;font-size:12.5px}
dl.heads div{display:flex;gap:8px;min-width:0;align-items:baseline}
dl.heads dt{font-weight:600;min-width:72px;font-family:var(--mono)}dl.heads dd{margin:0;color:var(--muted);min-width:0;overflow-wrap:anywhere}
p.heads-note{margin:6px 2px 0;color:var(--muted);font-size:12.5px}
pre.trace mark.hit{display:inline-block;min-width:100%;background:#9e6a03;color:#fff;outline:1px solid #d29922}
pre.trace+pre.trace,details.fold+pre.trace,pre.trace+details.fold,details.fold+details.fold{margin-top:2px}
details.fold>summary{margin:6px 0 0}
td.name{font-family:var(--mono);font-size:12.5px;font-weight:600;word-break:break-word}
.tag{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;font-weight:600;white-space:nowrap}
.tag.ok{background:var(--ok-bg);color:var(--ok)}.tag.bad{background:var(--bad-bg);color:var(--bad)}.tag.warn{background:var(--warn-bg);color:var(--warn)}
.tag.muted{background:#eaeef2;color:var(--muted)}
.failure{display:block;background:#fff;border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:8px;padding:14px 18px;margin:0 0 10px}
.failure.unexpected{border-color:#d4a72c;border-left-color:var(--warn);box-shadow:0 0 0 3px var(--warn-bg)}
.failure.known{border-left-color:#8c959f;padding:0}
.failure.known>summary{list-style:none;display:block;padding:10px 18px 10px 36px;position:relative;color:inherit}
.failure.known>summary::-webkit-details-marker{display:none}
.failure.known>summary::before{content:"▸";position:absolute;left:16px;top:10px;color:var(--muted)}
.failure.known[open]>summary::before{content:"▾"}
.failure.known>summary .msg{margin:0}
.failure.known>summary h3{margin-bottom:6px}
.failure.known>dl,.failure.known>.trace-head,.failure.known>pre{margin-left:36px;margin-right:18px}
.failure.known>dl{margin-top:2px}
.failure.known>pre{margin-bottom:14px}
.trace-head{color:var(--muted);font-size:12.5px}
.failure h3 .x{color:var(--muted);font-weight:400}
.failure h3{margin:0 0 8px;font-size:15px;font-weight:600;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.failure h3 code{font-size:14px}
.msg{display:block;margin:0 0 10px;padding:8px 12px;background:var(--bad-bg);border-radius:6px;font-family:var(--mono);font-size:12.5px;white-space:pre-wrap;word-break:break-word}
.known .msg,.msg.quiet{background:var(--bg)}
dl.facts{display:flex;flex-wrap:wrap;gap:4px 22px;margin:0 0 8px;font-size:13px}
dl.facts div{display:flex;gap:6px;min-width:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;font-family:var(--mono);font-size:12.5px;word-break:break-all}
dl.facts .judged dd{color:var(--warn);font-weight:600}
details>summary{cursor:pointer;color:var(--accent);font-size:13px;user-select:none}
pre.trace{margin:8px 0 0;padding:10px 12px;background:#0d1117;color:#e6edf3;border-radius:6px;overflow:auto;max-height:36em;line-height:1.45;white-space:pre}
.cov-alert{background:var(--warn-bg);border:1px solid #d4a72c;border-radius:8px;padding:10px 16px;margin:0 0 14px}
.cov-alert strong{color:var(--warn)}
.cov-alert ul{margin:6px 0 0;padding-left:20px}
.cov-ok{color:var(--ok);margin:0 0 14px}
.cov-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:14px}
.cov-grid .card h3{margin:0;padding:10px 14px;font-size:13.5px;font-family:var(--mono);display:flex;justify-content:space-between;align-items:center;gap:8px;border-bottom:1px solid var(--line);background:var(--bg)}
table.cov td,table.cov th{padding:3px 14px;font-size:12.5px}
table.cov th.sec{padding-top:10px;font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;border-top:0}
table.cov{table-layout:fixed}
table.cov col.n{width:76px}
table.cov td.n{text-align:right;font-variant-numeric:tabular-nums;font-family:var(--mono)}
table.cov td.l{word-break:break-word}
table.cov tr.extra td.l{color:var(--muted)}
table.cov tr.never td{background:var(--bad-bg);color:var(--bad);font-weight:600}
table.cov .nr{display:inline-block;white-space:nowrap;margin-left:4px;padding:1px 7px;border-radius:999px;background:var(--bad);color:#fff;font:600 10.5px/1.4 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;vertical-align:1px}
table.cov tbody tr:last-child td{padding-bottom:10px}
details.more{margin-top:14px}
details.more>summary{margin-bottom:12px}
.corpus{padding:12px 16px}
.corpus ul{margin:6px 0 0;padding-left:20px;font-family:var(--mono);font-size:12.5px}
footer{color:var(--muted);font-size:12.5px;padding-top:8px;padding-bottom:32px}
`;

function tag(kind: "ok" | "bad" | "warn" | "muted", text: string): string {
  return `<span class="tag ${kind}">${escapeHtml(text)}</span>`;
}

function htmlTitle(c: CellResult): string {
  const head = c.changed ? (c.against !== undefined ? mismatch(c) : `UNEXPECTED: ${mismatch(c)}`) : shown(c) === "holds" ? "holds" : c.kind === "mutant" ? "fails, as a mutant must" : c.kind === "history" ? "fails, as the bug must" : "fails, as expected";
  const text = c.error ?? c.message;
  return text !== null ? `${head}\n${text}` : head;
}

function htmlCell(c: CellResult | undefined): string {
  if (c === undefined) return `<td class="v"><span class="tag muted">not run</span></td>`;
  // A failure the expected verdicts record (a finding, a killed mutant, a flagged bug) is marked as such: fails*.
  const recorded = !c.changed && shown(c) === "fails";
  const cls = ["v", shown(c), ...(c.changed ? ["unexpected"] : []), ...(recorded ? ["recorded"] : [])].join(" ");
  const label = c.changed ? `⚠ ${shown(c)}<small>expected ${expectation(c)}</small>` : recorded ? "fails*" : shown(c);
  const pill = `<span class="pill">${label}</span>`;
  const linked = isNoteworthy(c) ? `<a href="#${anchor(c)}">${pill}</a>` : pill;
  return `<td class="${cls}" title="${escapeHtml(htmlTitle(c))}">${linked}</td>`;
}

function htmlLegend(props: ReadonlyArray<string>): string {
  const marks = `<div class="legend"><span><i class="lh"></i>holds</span><span><i class="lr"></i>fails* = a failure the expected verdicts record (a finding, a killed mutant, a flagged bug)</span><span><i class="lf"></i>fails</span><span><i class="lu"></i>⚠ unexpected: differs from the expectation</span><span>Hover a cell for its message; click a failure for its counterexample.</span></div>`;
  const heads = props.map((p) => {
    const h = headOf(p);
    const judges = h.judges === "agreement" ? ` <span class="tag warn" title="judges agreement with upstream's choices: a design may fail it and be safe">agreement</span>` : "";
    return `<div><dt>${escapeHtml(h.short)}</dt><dd><code>${escapeHtml(p)}</code>${h.concurrent ? " (concurrent)" : ""}${judges}</dd></div>`;
  });
  return `${marks}<dl class="heads" aria-label="columns">${heads.join("")}</dl><p class="heads-note">Every property judges the safety of dispatch but those marked agreement, which judge agreement with upstream's choices of path: a design may fail them and still be safe.</p>`;
}

/** A property's column head (short text, full name, what it judges); a name the suite does not know stands as itself. */
function headOf(property: string): ColumnHead {
  return columnHeads().find((h) => h.property === property) ?? { short: property, property, judges: "safety", concurrent: false };
}

/**
 * The verdict grid's columns: NAME_PX for the design and at least COLUMN_PX per property, so that heads never
 * overlap: the whole gate's 17 columns fit a 1280-pixel window, and a narrower one scrolls the table sideways.
 */
const NAME_PX = 140;
const COLUMN_PX = 64;

function htmlVerdicts(r: Results): string {
  const cells = ofKind(r, "variant");
  if (cells.length === 0) return "";
  const props = properties(cells);
  const head = `<tr><th>variant</th>${props.map((p) => `<th title="${escapeHtml(`${p} (${headOf(p).judges})`)}"><span class="head">${breakable(headOf(p).short)}</span></th>`).join("")}</tr>`;
  const rows = designs(cells).map((d) => `<tr><td class="name">${escapeHtml(d)}</td>${props.map((p) => htmlCell(cellAt(cells, d, p))).join("")}</tr>`);
  const sub = `${plural(designs(cells).length, "variant")} × ${plural(props.length, "property", "properties")}`;
  const width = NAME_PX + COLUMN_PX * props.length;
  return `<section id="verdicts"><h2>Verdicts<small>${sub}</small></h2><div class="card scroll"><table class="verdicts grid" style="min-width:${width}px"><thead>${head}</thead><tbody>${rows.join("")}</tbody></table></div>${htmlLegend(props)}</section>`;
}

/** A change's tag on the page. */
function htmlChange(c: CellResult): string {
  const ch = c.against?.change ?? "unchanged";
  if (ch === "newly failing") return tag("bad", isAgreement(c) ? "newly failing (agreement)" : "newly failing");
  if (ch === "broke") return tag("bad", "broke");
  if (ch === "newly holding") return tag("ok", "newly holding");
  if (ch === "inherited") return `${tag("warn", "inherited")} <small>upstream's recorded finding</small>`;
  return tag("muted", "unchanged");
}

/** Per design judged against a baseline: the baseline's verdict beside the design's, and the change. */
function htmlBaseline(r: Results): string {
  return baselineDesigns(r)
    .map((j) => {
      const head = `<tr><th style="width:28%">property</th><th style="width:110px">judges</th><th style="width:110px;text-align:center">${escapeHtml(j.baseline)}</th><th style="width:90px;text-align:center">now</th><th>change</th></tr>`;
      const rows = j.cells.map((c) => {
        const judges = isAgreement(c) ? tag("warn", "agreement") : tag("muted", "safety");
        const was = c.against?.verdict ?? null;
        const base = was === null ? `<td class="v"><span class="tag muted">n/a</span></td>` : `<td class="v ${was}"><span class="pill">${was}</span></td>`;
        return `<tr><td><code>${escapeHtml(c.property)}</code></td><td>${judges}</td>${base}${htmlCell(c)}<td>${htmlChange(c)}</td></tr>`;
      });
      const id = `against-${j.design.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const na = naLines(r, j.design).map((l) => `<p class="heads-note">${escapeHtml(l)}</p>`).join("");
      return `<section id="${id}"><h2>${escapeHtml(j.design)} against ${escapeHtml(j.baseline)}<small>${escapeHtml(changeTally(j.cells))}</small></h2>${na}<div class="card"><table class="verdicts mutants"><thead>${head}</thead><tbody>${rows.join("")}</tbody></table></div></section>`;
    })
    .join("\n");
}

function htmlMutantRow(c: CellResult): string {
  const status = c.changed ? tag("bad", `⚠ survived: ${mismatch(c)}`) : shown(c) === "fails" ? tag("ok", "killed") : tag("muted", shown(c));
  const msg = c.message !== null ? `<a href="#${anchor(c)}">${escapeHtml(c.message)}</a>` : "";
  return `<tr><td class="name">${escapeHtml(c.design)}</td><td><code>${escapeHtml(c.property)}</code></td>${htmlCell(c)}<td>${status}</td><td>${msg}</td></tr>`;
}

function htmlHistory(r: Results): string {
  const cells = ofKind(r, "history");
  if (cells.length === 0) return "";
  const head = `<tr><th style="width:28%">design</th><th style="width:17%">property</th><th style="width:90px;text-align:center">verdict</th><th style="width:150px">status</th><th>counterexample message</th></tr>`;
  return `<section id="history"><h2>The kernel's history<small>each bug must fail the property that flags it; each fix must hold</small></h2><div class="card"><table class="verdicts mutants"><thead>${head}</thead><tbody>${cells.map(htmlMutantRow).join("")}</tbody></table></div></section>`;
}

function htmlMutants(r: Results): string {
  const cells = ofKind(r, "mutant");
  if (cells.length === 0) return "";
  const head = `<tr><th style="width:28%">mutant</th><th style="width:17%">property</th><th style="width:90px;text-align:center">verdict</th><th style="width:150px">status</th><th>counterexample message</th></tr>`;
  const killed = cells.filter((c) => !c.changed && c.verdict === "fails").length;
  return `<section id="mutants"><h2>Mutants<small>each must fail the property that guards against it · ${killed} of ${cells.length} killed</small></h2><div class="card"><table class="verdicts mutants"><thead>${head}</thead><tbody>${cells.map(htmlMutantRow).join("")}</tbody></table></div></section>`;
}

function htmlFacts(c: CellResult): string {
  const ce = c.counterexample;
  const file = fileOf(c);
  const rows: Array<readonly [string, string]> = [
    ...(c.changed ? [["judged", mismatch(c)] as const] : []),
    ["seed", String(c.seed)],
    ...(c.path !== null ? [["path", c.path] as const] : []),
    ...(file !== null ? [["file", file] as const] : []),
    ...(ce !== null ? [["steps", String(ce.steps)] as const] : []),
    ["runs", `${c.runs} in ${duration(c.ms)}`],
    ...(replayOf(c) !== null ? [["replay", replayOf(c) ?? ""] as const] : []),
  ];
  return `<dl class="facts">${rows.map(([k, v]) => `<div class="${k}"><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join("")}</dl>`;
}

/** Lines around the focus shown before and after it; the rest of a long trace folds away. */
const FOCUS_BEFORE = 12;
const FOCUS_AFTER = 12;

function preOf(lines: ReadonlyArray<string>, focusAt: number | null = null): string {
  const body = lines.map((l, i) => (i === focusAt ? `<mark class="hit">${escapeHtml(l)}</mark>` : escapeHtml(l))).join("\n");
  return `<pre class="trace">${body}</pre>`;
}

/** A timeline row of a concurrent trace (it starts with its tick). */
function isTickRow(l: string): boolean {
  return /^\s*\d+ {2}/.test(l);
}

function folded(lines: ReadonlyArray<string>, what: string): string {
  return lines.length === 0 ? "" : `<details class="fold"><summary>${escapeHtml(what)} (${plural(lines.length, "line")})</summary>${preOf(lines)}</details>`;
}

/**
 * A trace with the line that matters in view: for a long trace, the lines before the focus and the timeline rows
 * after it fold away (a concurrent trace keeps its column heads on top and its calls and verdict below), so the
 * failing tick or step is on screen when the trace opens, marked.
 */
function htmlPre(c: CellResult): string {
  const trace = traceOf(c);
  const focus = c.counterexample?.focus;
  if (focus === undefined || focus < 0 || focus >= trace.length) return preOf(trace);
  if (trace.length <= FOCUS_BEFORE + FOCUS_AFTER + 12) return preOf(trace, focus);
  const heads = isTickRow(trace[1] ?? "") && /^\s*tick /.test(trace[0] ?? "") ? 1 : 0;
  const from = Math.max(heads, focus - FOCUS_BEFORE);
  const to = Math.min(trace.length, focus + FOCUS_AFTER + 1);
  const after = trace.slice(to);
  const rows = heads === 1 ? after.findIndex((l) => !isTickRow(l)) : 0;
  const laterRows = after.slice(0, rows < 0 ? after.length : rows);
  const rest = after.slice(laterRows.length);
  const unit = heads === 1 ? "ticks" : "lines";
  // The column heads stay on top of the rows in view, in the same block, so they scroll sideways together.
  const top = trace.slice(0, heads);
  const inView = [...top, ...trace.slice(from, to)];
  const focusAt = heads + focus - from;
  return [
    folded(trace.slice(heads, from), `earlier ${unit}`),
    laterRows.length === 0 ? preOf([...inView, ...rest], focusAt) : `${preOf(inView, focusAt)}${folded(laterRows, `later ${unit}`)}${rest.length > 0 ? preOf(rest) : ""}`,
  ].join("");
}

function htmlTrace(c: CellResult): string {
  const trace = traceOf(c);
  if (trace.length === 0) return "";
  const open = trace.length <= 60 || c.counterexample?.focus !== undefined ? " open" : "";
  return `<details${open}><summary>trace (${plural(trace.length, "line")})</summary>${htmlPre(c)}</details>`;
}

function htmlMessage(c: CellResult): string {
  if (c.error !== null) return `<span class="msg">error: ${escapeHtml(c.error)}</span>`;
  if (c.message !== null) return `<span class="msg">${escapeHtml(c.message)}</span>`;
  return shown(c) === "holds" ? `<span class="msg quiet">no run of ${c.runs} found a violation</span>` : "";
}

function cellTitle(c: CellResult): string {
  const judges = isAgreement(c) ? ` ${tag("warn", "agreement")}` : "";
  return `<code>${escapeHtml(c.design)}</code><span class="x">×</span><code>${escapeHtml(c.property)}</code>${judges}`;
}

/** An unexpected verdict or an error: shown in full, trace open unless it is long. */
function htmlChanged(c: CellResult): string {
  const mark = c.error !== null ? "⚠ error" : c.against !== undefined ? `⚠ newly failing against ${c.against.baseline}` : "⚠ unexpected";
  return `<article class="failure unexpected" id="${anchor(c)}"><h3>${tag("warn", mark)}${cellTitle(c)}</h3>${htmlMessage(c)}${htmlFacts(c)}${htmlTrace(c)}</article>`;
}

/** An expected failure: one line with its message, the facts and trace folded beneath. */
function htmlKnown(c: CellResult): string {
  const badge = c.kind === "mutant" ? tag("ok", "mutant killed") : c.kind === "history" ? tag("ok", "bug flagged") : tag("muted", "expected failure");
  const trace = traceOf(c);
  const body = `${htmlFacts(c)}${trace.length > 0 ? `<div class="trace-head">trace (${plural(trace.length, "line")})</div>${htmlPre(c)}` : ""}`;
  return `<details class="failure known" id="${anchor(c)}"><summary><h3>${badge}${cellTitle(c)}</h3>${htmlMessage(c)}</summary>${body}</details>`;
}

function htmlFailures(r: Results): string {
  const cells = noteworthy(r);
  if (cells.length === 0) return "";
  const changed = cells.filter((c) => c.changed).length;
  const base = baselineDesigns(r)[0]?.baseline;
  const sub = `${changed} ${base !== undefined ? `newly failing against ${base}` : "unexpected"} · ${cells.length - changed} expected`;
  const items = cells.map((c) => (c.changed || c.error !== null ? htmlChanged(c) : htmlKnown(c)));
  return `<section id="failures"><h2>Failures<small>${sub}; expected ones fold open on a click</small></h2>${items.join("")}</section>`;
}

function htmlCovSection(r: Results, design: string, s: Section, name: string): string {
  const rows = sectionRows(r, design, s);
  const body = rows.map((x) => {
    const cls = x.expected ? (x.count === 0 ? "never" : "") : "extra";
    const title = x.expected ? (x.count === 0 ? "expected, never reached" : "expected") : "reached, not in the expectations";
    const never = cls === "never" ? ` <span class="nr">never reached</span>` : "";
    return `<tr class="${cls}" title="${title}"><td class="l">${escapeHtml(x.label)}${never}</td><td class="n">${x.count}</td></tr>`;
  });
  const none = rows.length === 0 ? `<tr class="extra"><td class="l">none</td><td class="n">—</td></tr>` : "";
  return `<tr><th class="sec" colspan="2">${escapeHtml(name)}</th></tr>${body.join("")}${none}`;
}

function htmlCovCard(r: Results, design: string): string {
  const n = missingCount(r, design);
  const status = r.coverageExpected[design] === undefined ? tag("muted", "no expectations") : n > 0 ? tag("bad", `${n} never reached`) : tag("ok", "all reached");
  const sections = SECTIONS.map(([s, name]) => htmlCovSection(r, design, s, name)).join("");
  return `<div class="card"><h3><span>${escapeHtml(design)}</span>${status}</h3><table class="cov"><colgroup><col><col class="n"></colgroup><tbody>${sections}</tbody></table></div>`;
}

function htmlCovAlert(r: Results, ds: ReadonlyArray<string>): string {
  const lost = ds.flatMap((d) =>
    SECTIONS.flatMap(([s, name]) => {
      const xs = missing(r, d)[s];
      return xs.length > 0 ? [`<li><code>${escapeHtml(d)}</code> · ${escapeHtml(name)}: ${xs.map((x) => `<code>${escapeHtml(x)}</code>`).join(", ")}</li>`] : [];
    }),
  );
  if (lost.length === 0) return `<p class="cov-ok">✓ Every expected coverage label was reached.</p>`;
  return `<div class="cov-alert"><strong>⚠ Never reached</strong>: expected of the generated runs but exercised zero times:<ul>${lost.join("")}</ul></div>`;
}

/** Variants' coverage, and any design with a label never reached, is shown; the mutants' is folded away. */
function htmlCoverage(r: Results): string {
  const ds = coverageDesigns(r);
  if (ds.length === 0) return "";
  const mutants = new Set(designs(ofKind(r, "mutant")));
  const folded = ds.filter((d) => mutants.has(d) && missingCount(r, d) === 0);
  const shownDs = ds.filter((d) => !folded.includes(d));
  const grid = (xs: ReadonlyArray<string>): string => `<div class="cov-grid">${xs.map((d) => htmlCovCard(r, d)).join("")}</div>`;
  const more = folded.length > 0 ? `<details class="more"><summary>${plural(folded.length, "mutant design")}, every expected label reached</summary>${grid(folded)}</details>` : "";
  return `<section id="coverage"><h2>Coverage<small>what the generated runs exercised, per design; grey labels were reached but are not expected</small></h2>${htmlCovAlert(r, ds)}${shownDs.length > 0 ? grid(shownDs) : ""}${more}</section>`;
}

function htmlCorpus(r: Results): string {
  const status = r.corpus.failed === 0 ? tag("ok", "holds") : tag("bad", "fails");
  const list = r.corpus.failures.length > 0 ? `<ul>${r.corpus.failures.map((f) => `<li>${escapeHtml(f)}</li>`).join("")}</ul>` : "";
  return `<section id="corpus"><h2>Scenario corpus</h2><div class="card corpus">${status} ${escapeHtml(corpusLine(r))}${list}</div></section>`;
}

function htmlStat(value: string | number, label: string, kind = ""): string {
  return `<div class="stat ${kind}"><b>${escapeHtml(String(value))}</b><span>${escapeHtml(label)}</span></div>`;
}

function htmlStats(r: Results): string {
  const changed = r.cells.filter((c) => c.changed).length;
  const errors = r.cells.filter((c) => c.error !== null).length;
  const known = r.cells.filter((c) => !c.changed && c.verdict === "fails").length;
  const lost = coverageDesigns(r).reduce((n, d) => n + missingCount(r, d), 0);
  // Against a baseline a change is newly failing or newly holding, not "unexpected".
  const base = baselineDesigns(r)[0]?.baseline;
  const holding = r.cells.filter((c) => c.against?.change === "newly holding").length;
  return `<div class="stats">${[
    htmlStat(r.cells.length, "cells (design × property)"),
    ...(base !== undefined
      ? [htmlStat(changed, `newly failing against ${base}`, changed > 0 ? "bad" : ""), htmlStat(holding, `newly holding against ${base}`)]
      : [htmlStat(changed, "unexpected verdicts", changed > 0 ? "bad" : "")]),
    htmlStat(errors, "errors", errors > 0 ? "bad" : ""),
    htmlStat(known, "expected failures"),
    htmlStat(`${r.corpus.files - r.corpus.failed}/${r.corpus.files}`, "corpus files hold", r.corpus.failed > 0 ? "bad" : ""),
    htmlStat(lost, "coverage labels never reached", lost > 0 ? "warn" : ""),
  ].join("")}</div>`;
}

function htmlHeader(r: Results): string {
  const meta = [`<code>${escapeHtml(r.command)}</code>`, `seed <code>${r.seed}</code>`, `${plural(r.runs, "run")} per cell`, duration(r.durationMs), `started ${escapeHtml(r.startedAt)}`];
  return `<header class="top ${r.ok ? "ok" : "bad"}"><div class="top-inner"><div class="badge" aria-hidden="true">${r.ok ? "✓" : "✗"}</div><div><h1>dispatch-spec ${escapeHtml(r.command)}: <span class="status">${escapeHtml(headline(r))}</span></h1><p class="meta">${meta.map((m) => `<span>${m}</span>`).join("")}</p></div></div></header>`;
}

/** What produced the run, as a small table at the end of the page. */
function htmlProvenance(r: Results): string {
  if (r.provenance === undefined) return "";
  const rows = provenanceRows(r.provenance).map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td><code>${escapeHtml(v)}</code></td></tr>`);
  return `<section id="provenance"><h2>Provenance</h2><table class="provenance">${rows.join("")}</table></section>`;
}

export interface HtmlOptions {
  /** When the page was generated (ISO 8601); the run's end by default, so the page is a function of the results. */
  readonly generatedAt?: string;
}

/** index.html: one self-contained page (inline CSS, no scripts, no external resources). */
export function renderHtml(r: Results, opts: HtmlOptions = {}): string {
  const title = `${r.ok ? "✅" : "❌"} dispatch-spec ${r.command}: ${headline(r)}`;
  const footer = `<footer>Generated ${escapeHtml(opts.generatedAt ?? finishedAt(r))} from ${escapeHtml(r.schema)} · run started ${escapeHtml(r.startedAt)}, took ${duration(r.durationMs)}</footer>`;
  const main = [htmlStats(r), htmlBaseline(r), htmlVerdicts(r), htmlMutants(r), htmlHistory(r), htmlFailures(r), htmlCorpus(r), htmlCoverage(r), htmlProvenance(r)].join("\n");
  return [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>`,
    `<body>${htmlHeader(r)}<main>\n${main}\n</main>${footer}</body></html>`,
    "",
  ].join("\n");
}
