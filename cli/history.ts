// `dispatch-spec history`: the kernel's own record judged. Each bug of model/variants/history/ runs on the
// properties that must flag it (pinned seed, as the gate runs it), with the length of its shrunk counterexample
// and, for a sequential property, the explorer's minimal depth in its small scope; each fix is judged by the row
// that stands for it; entries the model cannot run say why. Writes reports/history/verdicts.md (generated: do not
// edit by hand) and exits 1 if a bug is not flagged or a fix does not hold.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { HISTORY, OUT_OF_SCOPE, type HistoryDesign } from "../model/variants/history/index.ts";
import { CONCURRENT_PROPERTIES, PROPERTIES, concurrentPropertyByName, propertyByName } from "../properties/index.ts";
import { CONCURRENT_MUTANT_RUNS, runConcurrentProperty } from "../properties/concurrency.ts";
import { explore, HANG_GUARD_MS, hangGuardMessage } from "../properties/explore.ts";
import { type Outcome } from "../properties/property.ts";
import { runProperty } from "../properties/runner.ts";
import { pc } from "../reports/colours.ts";
import { intFlag, ROOT, seconds, type Io } from "./common.ts";
import { EXPECTED_FILE, GATE_SEED, loadExpected } from "./gate.ts";
import { InputError, shownPath } from "./load.ts";

export const VERDICTS_FILE = join(ROOT, "reports", "history", "verdicts.md");

export interface HistoryFlags {
  readonly out?: string;
  /** Seconds the explorer may spend on one bug (default 60). */
  readonly time?: string;
}

/** One judged row of the table. */
interface Row {
  readonly h: HistoryDesign;
  readonly property: string;
  readonly verdict: "holds" | "fails";
  readonly ok: boolean;
  readonly length: string;
  readonly depth: string;
  readonly message: string;
}

/**
 * The explorer's minimal depth for a sequential property, in the default 2-function/3-ops scope; a search the hang
 * guard stopped is no answer, and says so.
 */
function minimalDepth(h: HistoryDesign, property: string, limitMs: number): { readonly depth: string; readonly guard: string | null } {
  const p = propertyByName(property);
  if (p === undefined) return { depth: "— (concurrent: the explorer does not interleave)", guard: null };
  const r = explore({ functions: 2, ops: 3, depth: 8 }, h.design, [p], { hangGuardMs: limitMs });
  if (r.timedOut) return { depth: "no answer (hang guard)", guard: hangGuardMessage(r, limitMs) };
  if (r.violation !== null) return { depth: String(r.violation.depth), guard: null };
  return { depth: r.exhausted ? "none in the scope" : `none up to depth ${r.depthReached}`, guard: null };
}

function judgeBug(h: HistoryDesign, limitMs: number): Row[] {
  return (h.flaggedBy ?? []).map((f) => {
    const seq = propertyByName(f.property);
    const conc = concurrentPropertyByName(f.property);
    if (seq === undefined && conc === undefined) throw new InputError(`${h.name}: unknown property "${f.property}"`);
    const seed = f.seed ?? GATE_SEED;
    const out: Outcome =
      seq !== undefined
        ? runProperty(seq, h.design, { seed, numRuns: f.runs ?? 2000 })
        : runConcurrentProperty(conc!, h.design, { seed, numRuns: f.runs ?? CONCURRENT_MUTANT_RUNS });
    const cx = out.counterexample;
    const steps = (n: number): string => `${n} step${n === 1 ? "" : "s"}`;
    const length = cx === undefined ? "—" : conc !== undefined ? `${cx.schedule?.length ?? 0} segment(s), ${steps(cx.steps.length)}` : steps(cx.steps.length);
    const short = cx === undefined ? false : (conc !== undefined ? (cx.schedule?.length ?? 0) : cx.steps.length) <= f.maxSteps;
    const minimal = out.ok ? { depth: "—", guard: null } : minimalDepth(h, f.property, limitMs);
    return {
      h,
      property: f.property,
      verdict: out.ok ? "holds" : "fails",
      ok: !out.ok && out.error === undefined && short && minimal.guard === null,
      length,
      depth: minimal.depth,
      message: minimal.guard ?? out.message ?? out.error ?? "",
    };
  });
}

/** A fix the merged design contains: what the committed gate expects of that design's row. */
function judgeFix(h: HistoryDesign): Row[] {
  const e = loadExpected(EXPECTED_FILE);
  const row = h.sameAs !== undefined ? (e.variants[h.sameAs] ?? e.history?.[h.sameAs]) : e.history?.[h.name];
  if (row === undefined) return [{ h, property: "(all)", verdict: "fails", ok: false, length: "—", depth: "—", message: `no row for ${h.sameAs ?? h.name} in expected.json` }];
  const failing = Object.entries(row).filter(([, v]) => v === "fails").map(([p]) => p);
  // The recorded finding (recursion-protected) is in every design that keeps the kernel's CALL_OPS rule; no fix of
  // this record touches it, so it does not count against one.
  const findings = new Set(PROPERTIES.filter((p) => p.expectedOnUpstream !== undefined).map((p) => p.name));
  const own = new Map<string, string>((h.findings ?? []).map((f) => [f.property, `finding: ${f.finding}`] as const));
  for (const p of h.inherits?.properties ?? []) own.set(p, `${h.inherits!.from}'s, which this world carries`);
  const unexpected = failing.filter((p) => !findings.has(p) && !own.has(p));
  const why = (p: string): string => (own.has(p) ? `${p} (${own.get(p)})` : `${p} (the recorded finding)`);
  // The properties that have something to judge on the design (no literal without CALL_OPS, no manager without subops).
  const all = Object.keys(row).length;
  const na = PROPERTIES.length + CONCURRENT_PROPERTIES.length - all;
  // A pending change is judged, not held to holding: its verdicts are what the record reports.
  const ok = unexpected.length === 0 || h.kind === "pending";
  return [
    {
      h,
      property: `all ${all}${na > 0 ? ` (${na} n/a)` : ""}${h.sameAs !== undefined ? ` (${h.sameAs}'s row)` : ""}`,
      verdict: unexpected.length === 0 ? "holds" : "fails",
      ok,
      length: "—",
      depth: "—",
      message: unexpected.length === 0 ? (failing.length > 0 ? `holds all but ${failing.map(why).join(", ")}` : "holds all") : `fails ${unexpected.join(", ")}`,
    },
  ];
}

function md(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The median of sorted numbers (the mean of the middle two for an even count). */
export function medianOf(sorted: ReadonlyArray<number>): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function render(rows: ReadonlyArray<Row>): string {
  const bugs = HISTORY.filter((h) => h.kind === "bug");
  const flagged = new Set(rows.filter((r) => r.h.kind === "bug" && r.ok).map((r) => r.h.name));
  const lengths = rows.filter((r) => r.h.kind === "bug" && r.ok).map((r) => Number(/^(\d+)/.exec(r.length)?.[1] ?? "0")).sort((a, b) => a - b);
  const median = lengths.length === 0 ? "—" : String(medianOf(lengths));
  return [
    "# The kernel's history, judged",
    "",
    "Generated by `npx dispatch-spec history` (do not edit by hand); the record with its sources is",
    "[record.md](record.md), the designs are `model/variants/history/`. Seeds as the gate's.",
    "",
    `**${bugs.length} bugs in scope, ${flagged.size} flagged; median shrunk length ${median}.** ${OUT_OF_SCOPE.length} entries of the record are not run: out of the model's scope, or needing a mechanism it lacks (below, with the reason).`,
    "",
    "| design | commit | kind | subject | property | verdict | shrunk length | explorer's minimal depth | what the run said |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| \`${r.h.name}\` | ${r.h.commit} | ${r.h.kind} | ${md(r.h.subject)} | ${md(r.property)} | ${r.verdict}${r.ok ? "" : " ⚠️"} | ${r.length} | ${md(r.depth)} | ${md(r.message)} |`),
    "",
    "## Not run (out of scope, or not yet)",
    "",
    "| commit | kind | subject | why the model does not run it |",
    "|---|---|---|---|",
    ...OUT_OF_SCOPE.map((o) => `| ${o.commit} | ${o.kind} | ${md(o.subject)} | ${md(o.why)} |`),
    "",
  ].join("\n");
}

export function historyCommand(io: Io, flags: HistoryFlags): number {
  const limit = intFlag("time", flags.time, HANG_GUARD_MS / 1000, 1);
  const file = flags.out ?? VERDICTS_FILE;
  // Find out before the runs whether the table can be written.
  try {
    // Only the default directory is made; a directory given with --out must exist (a recursive mkdir under /proc
    // never returns on Node 20).
    if (flags.out === undefined) mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, "", { flag: "a" });
  } catch (e) {
    throw new InputError(`--out ${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const started = performance.now();
  const rows: Row[] = [];
  for (const h of HISTORY) {
    const judged = h.kind === "bug" ? judgeBug(h, limit * 1000) : judgeFix(h);
    for (const r of judged) io.out(`${(r.ok ? pc.green : pc.red)(r.ok ? "ok  " : "FAIL")} ${r.h.name.padEnd(22)} ${r.property.padEnd(22)} ${r.verdict.padEnd(6)} ${r.length.padEnd(26)} depth ${r.depth}\n`);
    rows.push(...judged);
  }
  writeFileSync(file, render(rows));
  const bad = rows.filter((r) => !r.ok);
  io.out(`${shownPath(file)} written in ${seconds(performance.now() - started)}: ${rows.length} rows, ${bad.length === 0 ? "every bug flagged within its bound and every fix holding" : `${bad.length} not as the record requires`}\n`);
  return bad.length === 0 ? 0 : 1;
}
