// `dispatch-spec gate --variant V [--variant W] [--baseline B]`: a design change, written as a variant, judged
// against a baseline's recorded verdicts (upstream's row of reports/expected.json unless --baseline names another):
// per property newly failing (with its counterexample and the command that replays it), newly holding, or
// unchanged, a failure the baseline records for a finding of the kernel as written marked as inherited. Only
// those designs' cells run. Exit 1 when a design breaks a property its baseline holds, or a cell broke.

import { plural } from "../reports/format.ts";
import { CONCURRENT_PROPERTIES, judgesOf, notApplicableLines, PROPERTIES, propertyByName } from "../properties/index.ts";
import type { Outcome } from "../properties/property.ts";
import { pc } from "../reports/colours.ts";
import { agreementNote } from "../reports/heads.ts";
import { designCells, expectedVerdict, recordedRow, type Cell, type Expected, type Verdict } from "./gate-plan.ts";
import { runJobs, workersFlag, type Progress } from "./check.ts";
import { announceFailure, intFlag, saveCounterexample, seconds, type Io } from "./common.ts";
import { validateCorpus } from "./corpus.ts";
import { replayCommandFor } from "./entry.ts";
import { DEFAULT_RUNS, EXPECTED_FILE, gateJobs, gateSeedFlag, loadExpected } from "./gate.ts";
import { designFileOf } from "./design-file.ts";
import { InputError } from "./load.ts";
import { designNames, requireDesign, unknownName } from "./names.ts";
import { finishRun, prepareReportDir } from "./report.ts";
import type { BaselineChange } from "../reports/results.ts";

export interface VariantGateFlags {
  readonly variant: ReadonlyArray<string>;
  readonly baseline?: string;
  readonly runs?: string;
  readonly seed?: string;
  readonly workers?: string;
  readonly expected?: string;
  readonly report?: string;
}

export type VariantChange = BaselineChange;

/** One property of one design against the baseline. */
export interface VariantVerdict {
  readonly design: string;
  readonly property: string;
  readonly baseline: Verdict | null;
  readonly got: Verdict;
  readonly change: VariantChange;
  readonly outcome: Outcome;
}

/**
 * A verdict against the baseline's: a failure the baseline records too is unchanged, or inherited when it is a
 * finding of the kernel as written (the property's expectedOnUpstream) on a baseline that keeps upstream's rule; a
 * property the baseline does not judge (n/a there) is newly failing when it fails.
 */
export function variantChange(property: string, baseline: Verdict | null, got: Verdict, baselineIsUpstream: boolean, broke = false): VariantChange {
  if (broke) return "broke";
  if (baseline === got) return got === "fails" && baselineIsUpstream && propertyByName(property)?.expectedOnUpstream !== undefined ? "inherited" : "unchanged";
  return got === "fails" ? "newly failing" : baseline === null ? "unchanged" : "newly holding";
}

/** The baseline's recorded row: a variant's or a design of the kernel's history; a one-line error if it has none. */
export function baselineRow(e: Expected, baseline: string): Readonly<Record<string, Verdict>> {
  const row = recordedRow(e, baseline);
  if (row !== undefined) return row;
  const recorded = [...Object.keys(e.variants), ...Object.keys(e.history ?? {})];
  if (/[/\\]|\.m?[tj]s$/.test(baseline))
    throw new InputError(`--baseline: ${baseline} looks like a file; a baseline is the name of a design with recorded verdicts (${recorded.slice(0, 4).join(", ")}, ...), and a design file goes with --design`);
  const file = designFileOf(baseline);
  if (file !== undefined)
    throw new InputError(`--baseline: ${baseline} is the design loaded from ${file}, which has no recorded verdicts; a baseline is a design with a row in reports/expected.json (${recorded.slice(0, 4).join(", ")}, ...): gate each design against it`);
  if (!designNames().includes(baseline.split("+")[0] ?? "")) throw new InputError(`--baseline: ${unknownName("variant", baseline, recorded, "variants").message}`);
  throw new InputError(`--baseline: ${baseline} has no recorded row in reports/expected.json to compare with (a baseline must be one of: ${recorded.join(", ")})`);
}

export async function variantGateCommand(io: Io, flags: VariantGateFlags, progress: Progress): Promise<number> {
  const runs = intFlag("runs", flags.runs, DEFAULT_RUNS, 1);
  const seed = gateSeedFlag(flags.seed);
  const workers = workersFlag(flags.workers);
  const baseline = flags.baseline ?? "upstream";
  const designs = [...new Set(flags.variant)];
  for (const v of designs) requireDesign(v, "--variant");
  const loaded = loadExpected(flags.expected ?? EXPECTED_FILE);
  const row = baselineRow(loaded, baseline);
  const baselineIsUpstream = baseline === "upstream";
  // Each design held, for its run counts, to the baseline's row: a cell the baseline fails stops at its first
  // failure and gets the default runs at least, as in the full gate.
  const expected: Expected = { ...loaded, variants: { ...loaded.variants, ...Object.fromEntries(designs.map((d) => [d, row])) } };
  const cells: Cell[] = designs.flatMap((d) => designCells(d));
  io.out(`${pc.bold("dispatch-spec gate")}: ${designs.join(", ")} against ${baseline}'s recorded verdicts (reports/expected.json), ${cells.length} cells, seed ${seed}, ${runs} runs per cell\n`);
  if (flags.report !== undefined) prepareReportDir(flags.report);
  validateCorpus();
  const started = performance.now();
  const startedAt = new Date();
  const outcomes = await runJobs(gateJobs(expected, cells, seed, runs), workers, progress, announceFailure(io, progress));
  const verdicts: VariantVerdict[] = cells.map((c, i) => {
    const o = outcomes[i]!;
    const got: Verdict = o.ok ? "holds" : "fails";
    const b = expectedVerdict(expected, c) ?? null;
    return { design: c.design, property: c.property, baseline: b, got, change: variantChange(c.property, b, got, baselineIsUpstream, o.error !== undefined), outcome: o };
  });
  const files = new Map<VariantVerdict, string>();
  const pw = Math.max(...verdicts.map((v) => v.property.length)) + 2;
  for (const d of designs) {
    io.out(`\n${pc.bold(d)} against ${baseline}:\n`);
    // A property with nothing to judge on the design is said, not left out of the table silently.
    for (const line of notApplicableLines([...PROPERTIES, ...CONCURRENT_PROPERTIES], requireDesign(d, "--variant"))) io.out(pc.dim(`  ${line}\n`));
    io.out(pc.dim(`  ${"property".padEnd(pw)}${"judges".padEnd(11)}${baseline.padEnd(Math.max(10, baseline.length + 2))}${"now".padEnd(7)}change\n`));
    for (const v of verdicts.filter((x) => x.design === d)) {
      const colour = v.change === "newly failing" ? pc.red : v.change === "newly holding" ? pc.green : v.change === "inherited" ? pc.yellow : (s: string): string => s;
      const note = v.change === "inherited" ? " (upstream's recorded finding: the kernel as written fails it too)" : v.outcome.error !== undefined ? ` (the run broke: ${v.outcome.error.split("\n")[0] ?? ""})` : "";
      io.out(`  ${v.property.padEnd(pw)}${judgesOf(v.property).padEnd(11)}${(v.baseline ?? "n/a").padEnd(Math.max(10, baseline.length + 2))}${v.got.padEnd(7)}${colour(v.change)}${note}\n`);
    }
  }
  // Every failure's counterexample is saved, an inherited or unchanged one too, so each has its replay command.
  for (const v of verdicts) {
    const saved = v.got === "fails" && v.outcome.error === undefined ? saveCounterexample(v.outcome) : null;
    if (saved !== null) files.set(v, saved);
  }
  const broken = verdicts.filter((v) => v.change === "newly failing" || v.change === "broke");
  for (const v of broken) {
    const saved = files.get(v) ?? null;
    const agreement = pc.dim(agreementNote(v.property));
    io.out(`\n${pc.red(`${v.design} x ${v.property}`)}: ${v.outcome.message ?? v.outcome.error ?? ""}${agreement}\n`);
    if (saved !== null) io.out(`  ${plural(v.outcome.counterexample?.steps.length ?? 0, "step")}, seed ${v.outcome.seed}, path ${v.outcome.path ?? ""}: ${saved}\n  replay: ${replayCommandFor(saved, v.design)}\n`);
  }
  io.out(`\n${seconds(performance.now() - started)} for ${cells.length} cells\n`);
  const { ok } = finishRun(io, flags.report, {
    command: "gate",
    seed,
    runs,
    startedAt,
    started,
    cells: verdicts.map((v) => ({
      design: v.design,
      property: v.property,
      kind: "variant",
      outcome: v.outcome,
      expected: v.baseline,
      changed: v.change === "newly failing" || v.change === "broke",
      file: files.get(v) ?? null,
      against: { baseline, verdict: v.baseline, change: v.change },
    })),
    passed: broken.length === 0,
    judged: designs,
  });
  const counts = (c: VariantChange): number => verdicts.filter((v) => v.change === c).length;
  const tally = `${counts("newly failing")} newly failing, ${counts("newly holding")} newly holding, ${counts("unchanged")} unchanged, ${counts("inherited")} inherited${counts("broke") > 0 ? `, ${counts("broke")} broke` : ""}`;
  if (ok) {
    io.out(pc.green(`no property that holds on ${baseline} fails: ${tally}\n`));
    return 0;
  }
  // Whether any of it is safety: a design that only departs from upstream's choices of path is told so.
  const safety = broken.filter((v) => judgesOf(v.property) === "safety" || v.change === "broke").length;
  const kinds = safety === 0 ? ` (all ${broken.length} judge agreement with upstream's choices: no safety property breaks)` : safety < broken.length ? ` (${safety} of them safety)` : "";
  io.out(pc.red(`${broken.length} cell(s) break against ${baseline}${kinds}: ${tally}\n`));
  return 1;
}
