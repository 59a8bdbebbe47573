// The command line, the front door: `dispatch-spec run FILE [--json]` executes a scenario on the model and
// `dispatch-spec check` runs the whole suite with a one-screen summary. Input problems exit 2 with one line.

import { Command, CommanderError } from "commander";
import { pc } from "../reports/colours.ts";
import { agreementNote } from "../reports/heads.ts";
import { runScenario, type Scenario } from "../model/scenario.ts";
import { formatRun, jsonLines, plural } from "../reports/format.ts";
import { upstream } from "../model/variants/upstream.ts";
import { CONCURRENT_PROPERTIES, PROPERTIES, concurrentPropertyByName, notApplicableLines, propertyApplies, propertyByName, type Needs } from "../properties/index.ts";
import { checkRun } from "../properties/property.ts";
import { variantByName } from "../model/variants/index.ts";
import { runJobs, silentProgress, workersFlag, type Progress } from "./check.ts";
import { listCommand } from "./list.ts";
import { variantChange, variantGateCommand } from "./gate-variant.ts";
import { requireDesign, unknownName } from "./names.ts";
import { InputError, loadScenarioNamed } from "./load.ts";
import { DesignFault } from "../model/kernel.ts";
import { EXPECTED_FILE, GATE_SEED, gateCommand, loadExpected, type GateFlags } from "./gate.ts";
import { expectedForBinary, recordedRow } from "./gate-plan.ts";
import { designOverride, replayCommand, replayConcurrent, variantMismatch, type ReplayFlags } from "./replay.ts";
import { stepText } from "../reports/trace.ts";
import { exploreCommand, type ExploreFlags } from "./explore.ts";
import { kernelCommand, type KernelFlags } from "./kernel.ts";
import { kernelBuildCommand, type KernelBuildFlags } from "./kernel-build.ts";
import { KERNEL_GATE_RUNS, kernelGateCommand } from "./gate-kernel.ts";
import { runConcurrentScenario } from "../properties/concurrency.ts";
import { keepsUpstreamRule } from "../properties/property.ts";
import { loadDesignFile } from "./design-file.ts";
import { entrySummary, loadEntry, onEntryDesign, replayCommandFor } from "./entry.ts";
import { historyCommand, type HistoryFlags } from "./history.ts";
import { timelineLines } from "../reports/timeline.ts";
import { finishRun, prepareReportDir } from "./report.ts";
import type { Outcome } from "../properties/property.ts";
import { announceFailure, intFlag, printableLine, processIo, ROOT, saveCounterexample, seconds, wrapInput, type Io } from "./common.ts";
import { validateCorpus } from "./corpus.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export { SCENARIO_DIR } from "./common.ts";

const ENTRY_HELP = "take ftrace_caller and ftrace_stub_direct_tramp from a vmlinux (ELF) or a guest dump (JSON)";
const DESIGN_HELP = "load a design from a TypeScript file of yours (its default export, e.g. { ...upstream, name, arch }) and know it by its name";

/**
 * Load a command's --design file before anything looks a name up, so the name it gives is known to the command
 * (and to a scenario that names it); with --entry too, one line: each flag brings its own design.
 */
async function designFlag(flags: { readonly design?: string; readonly entry?: string }): Promise<string | undefined> {
  if (flags.design === undefined) return undefined;
  if (flags.entry !== undefined) throw new InputError("give --design or --entry, not both: each brings a design of its own");
  return (await loadDesignFile(flags.design)).name;
}

/**
 * For a counterexample file: does its property still fail on this scenario? One line above the table, and whether
 * it fails. Steps are numbered as the table numbers them; a failure in a call the property makes after an API step
 * (properties about dispatch call every function after each step) says so.
 */
function verdictLine(s: Scenario): { readonly line: string; readonly fails: boolean } | null {
  const cx = s.counterexample;
  if (cx === undefined) return null;
  // The design the counterexample failed on, as replay judges it.
  const design = variantByName(cx.variant ?? s.variant);
  if (design === undefined) return { line: pc.yellow(`counterexample names unknown variant "${cx.variant ?? s.variant}"`), fails: false };
  const p = propertyByName(cx.property);
  if (p === undefined) return { line: pc.yellow(`counterexample names unknown property "${cx.property}"`), fails: false };
  const f = checkRun(p, s, design);
  if (f === null) return { line: pc.green(`property ${p.name} holds on ${design.name} for this scenario now (it failed with: ${cx.message})`), fails: false };
  const step = f.index < 0 ? null : s.steps[f.index];
  const where = step === undefined || step === null ? "at boot" : `at step ${f.index + 1} (${stepText(step)}${f.fn !== null ? `; in the call of ${f.fn} the property makes after each step` : ""})`;
  return { line: pc.red(`property ${p.name} fails on ${design.name} ${where}: ${f.message}`), fails: true };
}

/** A concurrent scenario: the per-CPU timeline and each call's outcome (and its property's verdict). */
function runConcurrentCommand(io: Io, file: string, s: Scenario, json: boolean): number {
  const design = variantByName(s.variant);
  if (design === undefined) throw new InputError(`${file}: unknown variant "${s.variant}"`);
  const cx = s.counterexample;
  const cp = cx === undefined ? undefined : concurrentPropertyByName(cx.property);
  const r = cp !== undefined ? wrapInput(file, () => replayConcurrent(s, cp, design)) : null;
  const result = r?.result ?? wrapInput(file, () => runConcurrentScenario(s, design));
  if (json) {
    const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x)));
    io.out(JSON.stringify(plain({ timeline: result.timeline, calls: result.calls.map((c) => ({ cpu: c.cpu, fn: c.fn, start: c.start, end: c.end, path: c.obs.path, handlers: c.obs.handlers.map((h) => h.ops), tramps: c.obs.tramps.map((t) => t.tramp), returned: c.obs.returned, violations: c.obs.violations })) })) + "\n");
    return 0;
  }
  io.out(`${file}: variant ${design.name}, ${s.cpus?.length ?? 0} CPUs, ${s.steps.length} API steps, ${result.ticks} ticks\n`);
  io.out((r?.lines ?? timelineLines(result, s.cpus?.length ?? 0)).join("\n") + "\n");
  if (r !== null && cp !== undefined) io.out(r.failure === null ? pc.green(`${cp.name} holds on this schedule now\n`) : pc.red(`${cp.name} fails: ${r.failure.message}\n`));
  return 0;
}

function runCommand(io: Io, file: string, opts: { json?: boolean; trace?: boolean; entry?: string; variant?: string; design?: string }): number {
  if (opts.entry !== undefined && opts.variant !== undefined) throw new InputError("run: give --variant or --entry, not both");
  // With --entry the scenario (and a counterexample's verdict) runs on the binary's design, mutations kept; the
  // design is read first, so a file that names it is found.
  const design = opts.entry !== undefined ? loadEntry(opts.entry) : null;
  if (opts.variant !== undefined) requireDesign(opts.variant, "--variant");
  const { s: loaded, named } = loadScenarioNamed(file, opts.variant);
  if (opts.design !== undefined && named !== null && named !== opts.variant) io.err(`dispatch-spec: warning: ${designOverride(file, named, opts.variant ?? "", opts.design)}\n`);
  const cx = loaded.counterexample;
  // The table and a counterexample's verdict run on one design: --variant's, --entry's, or the counterexample's.
  const mismatch = opts.variant === undefined && design === null ? variantMismatch(loaded) : null;
  if (mismatch !== null) io.err(`dispatch-spec: warning: ${mismatch}\n`);
  const on = (v: string): string => opts.variant ?? (design !== null ? onEntryDesign(v, design) : v);
  const variant = on(cx?.variant ?? loaded.variant);
  const s: Scenario = { ...loaded, variant, ...(cx !== undefined ? { counterexample: { ...cx, variant } } : {}) };
  if (s.cpus !== undefined) return runConcurrentCommand(io, file, s, opts.json === true);
  const run = wrapInput(file, () => runScenario(s));
  const verdict = opts.json === true ? null : wrapInput(file, () => verdictLine(s));
  if (verdict !== null) io.out(verdict.line + "\n");
  const stillFails = verdict?.fails === true ? { stillFails: `${cx?.property ?? "its property"} still fails on ${variant}, as the first line says` } : {};
  io.out((opts.json === true ? jsonLines(run) : formatRun(file, run, { trace: opts.trace === true, ...stillFails })) + "\n");
  // A counterexample whose property still fails is a failing run, whatever its step expectations say.
  return run.failures.length === 0 && verdict?.fails !== true ? 0 : 1;
}

export interface CheckFlags {
  readonly runs?: string;
  readonly seed?: string;
  readonly property?: string;
  readonly workers?: string;
  readonly variant?: string;
  readonly report?: string;
  readonly concurrency?: boolean;
  readonly entry?: string;
}

/**
 * The verdicts reports/expected.json records for a design, as the gate holds it to them (a variant's or a history
 * design's row; a binary read with --entry is held to upstream's), or undefined for a design it has no row for.
 */
function expectedRow(design: string, fromBinary: boolean): Readonly<Record<string, "holds" | "fails">> | undefined {
  const loaded = loadExpected(EXPECTED_FILE);
  const e = fromBinary ? expectedForBinary(loaded, design) : loaded;
  return recordedRow(e, design);
}

async function checkCommand(io: Io, flags: CheckFlags, progress: Progress): Promise<number> {
  // A concurrent property named without --concurrency is checked as one (it has no sequential runs).
  const concurrent = flags.concurrency === true || (flags.property !== undefined && CONCURRENT_PROPERTIES.some((p) => p.name === flags.property));
  const runs = intFlag("runs", flags.runs, concurrent ? 1000 : 2000, 1);
  const seed = intFlag("seed", flags.seed, Math.floor(Math.random() * 2 ** 31), 0);
  const workers = workersFlag(flags.workers);
  const known: ReadonlyArray<{ readonly name: string } & Needs> = concurrent ? CONCURRENT_PROPERTIES : PROPERTIES;
  if (flags.property !== undefined && !known.some((p) => p.name === flags.property))
    throw new InputError(`--property: ${unknownName(concurrent ? "concurrent property" : "property", flags.property, [...PROPERTIES, ...CONCURRENT_PROPERTIES].map((p) => p.name), "properties").message}`);
  const props = known.filter((p) => flags.property === undefined || p.name === flags.property);
  const fromEntry = flags.entry !== undefined ? loadEntry(flags.entry) : null;
  const variant = flags.variant ?? fromEntry?.name ?? upstream.name;
  const checked = requireDesign(variant, "--variant");
  if (fromEntry !== null) io.out(entrySummary(fromEntry));
  io.out(`${pc.bold("dispatch-spec check")}${concurrent ? " --concurrency" : ""}: variant ${variant}, seed ${seed}, ${runs} ${concurrent ? "schedules" : "runs"} per property\n`);
  // A property with nothing to judge on the design (no CALL_OPS literal, no subops) is said once, not run.
  const na = props.filter((p) => !propertyApplies(p, checked));
  for (const line of notApplicableLines(props, checked)) io.out(`${line}\n`);
  if (na.length === props.length) return 0;
  // A property recorded as failing here gets at least the default runs, as the gate gives such a cell: it stops at
  // its first failure, and a low --runs must not make a recorded failure look like a change.
  // A design without a row of its own (a new variant, a mutant) is judged against upstream's row, as gate --variant
  // judges it: a failure upstream records too is inherited, not new.
  const own = expectedRow(variant, fromEntry !== null);
  const recorded = own ?? expectedRow(upstream.name, false);
  const isFinding = (name: string): boolean => keepsUpstreamRule(checked) && propertyByName(name)?.expectedOnUpstream !== undefined;
  const mustFail = (name: string): boolean => (recorded?.[name] !== undefined ? recorded[name] === "fails" : isFinding(name));
  const jobs = props
    .filter((p) => propertyApplies(p, checked))
    .map((p) => ({ property: p.name, variant, seed, runs: mustFail(p.name) && !concurrent ? Math.max(runs, 2000) : runs, concurrent }));
  if (flags.report !== undefined) prepareReportDir(flags.report);
  validateCorpus();
  const started = performance.now();
  const startedAt = new Date();
  const outcomes = await runJobs(jobs, workers, progress, announceFailure(io, progress));
  // Judged as the gate judges the design: by its row in reports/expected.json (a binary read with --entry by
  // upstream's), where that row names the property; otherwise a recorded finding is expected to fail on a design
  // that keeps the kernel's rules. A run that broke (an exception, not a verdict) is never the expected failure.
  const finding = (o: Outcome): boolean => o.error === undefined && mustFail(o.property);
  const why = (o: Outcome): string =>
    own === undefined ? `inherited: upstream fails it too (reports/expected.json), and ${variant} has no row of its own` : isFinding(o.property) ? "a known finding, see README" : `recorded as failing on ${variant} in reports/expected.json`;
  io.out(`${"property".padEnd(22)} ${"runs".padStart(6)}  ${"result".padEnd(7)} time\n`);
  // Without a row of its own the design is judged as gate --variant judges it: a hold where upstream fails is a
  // change the design makes (newly holding), not a failure; with its own row, a recorded failure must fail.
  const newlyHolding = (o: Outcome): boolean => own === undefined && o.ok && finding(o);
  // Not as it should be: a hold where a failure is recorded (unless newly holding), or a failure not recorded.
  const wrong = (o: Outcome): boolean => o.ok === finding(o) && !newlyHolding(o);
  for (const o of outcomes) {
    const verdict = o.ok ? pc.green("holds  ") : finding(o) ? pc.yellow("fails  ") : pc.red("FAILS  ");
    const note = newlyHolding(o)
      ? pc.green(`  (newly holding: upstream fails it, reports/expected.json)`)
      : finding(o)
        ? o.ok
          ? pc.red(`  (${why(o)}: expected to fail here)`)
          : `  (expected: ${why(o)})`
        : "";
    io.out(`${o.property.padEnd(22)} ${String(o.runs).padStart(6)}  ${verdict} ${seconds(o.ms)}${note}\n`);
  }
  const failures = outcomes.filter(wrong);
  const files = new Map<Outcome, string>();
  // Every failure's counterexample is saved, a recorded one's too, so that the report gives each a replay command.
  for (const o of outcomes.filter((x) => !x.ok && x.error === undefined && finding(x))) {
    const file = saveCounterexample(o);
    if (file !== null) files.set(o, file);
  }
  for (const o of failures) {
    io.out(
      o.ok
        ? `\n${pc.red(`${o.property} holds on ${o.variant}, but it is expected to fail there (${why(o)})`)}\n  seed ${o.seed}, ${o.runs} runs\n`
        : `\n${pc.red(`${o.property} fails on ${o.variant}`)}: ${o.message ?? o.error ?? ""}${pc.dim(agreementNote(o.property))}\n  seed ${o.seed}, path ${o.path ?? ""}\n`,
    );
    const file = saveCounterexample(o);
    if (file !== null) files.set(o, file);
    // The file and the command that prints its step table and trace; the scenario itself stays in the file.
    if (file !== null) io.out(`  counterexample: ${file} (${plural(o.counterexample?.steps.length ?? 0, "step")})\n  replay: ${replayCommandFor(file, o.variant)}\n`);
  }
  const { corpus: c, ok } = finishRun(io, flags.report, {
    command: "check",
    seed,
    runs,
    startedAt,
    started,
    cells: outcomes.map((o) => ({
      design: o.variant,
      property: o.property,
      kind: "variant",
      outcome: o,
      expected: finding(o) ? "fails" : null,
      changed: wrong(o),
      file: files.get(o) ?? null,
      // A design without a row of its own is judged against upstream's, and the report says so.
      ...(own === undefined ? { against: { baseline: upstream.name, verdict: recorded?.[o.property] ?? null, change: variantChange(o.property, recorded?.[o.property] ?? null, o.ok ? "holds" : "fails", true, o.error !== undefined) } } : {}),
    })),
    passed: failures.length === 0,
    judged: [variant],
  });
  const asRecorded = outcomes.filter((o) => !o.ok && finding(o)).length;
  const cured = outcomes.filter(newlyHolding).length;
  const allWell =
    (asRecorded === 0 ? `all ${outcomes.length} properties hold` : `every verdict as expected: ${outcomes.length - asRecorded} of ${outcomes.length} properties hold, ${asRecorded} fail${asRecorded === 1 ? "s" : ""} as recorded`) +
    (cured > 0 ? ` (${cured} newly holding against upstream's row)` : "");
  io.out(ok ? pc.green(`${allWell}\n`) : pc.red(`${failures.length} propert${failures.length === 1 ? "y fails" : "ies fail"}${c.failed > 0 ? `, ${c.failed} scenario file(s) fail` : ""}\n`));
  return ok ? 0 : 1;
}

/** package.json's version. */
function packageVersion(): string {
  const v = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version?: unknown }).version;
  return typeof v === "string" ? v : "unknown";
}

export async function main(argv: ReadonlyArray<string>, io: Io = processIo, progress: Progress = silentProgress): Promise<number> {
  let code = 0;
  const program = new Command()
    .name("dispatch-spec")
    .description("Property-based verification of the arm64 ftrace dispatch design (CALL_OPS + DIRECT_CALLS)")
    .version(packageVersion(), "--version", "print dispatch-spec's version")
    .exitOverride()
    // Commander's own errors (a missing argument, an unknown option) in the one form every other message has.
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (str, write) => write(`dispatch-spec: ${printableLine(str.replace(/^error: /, "").trimEnd().replace(/\s*\n\s*/g, " "))}\n`) });
  program
    .command("run")
    .argument("<file>", "scenario file (JSON), or - for standard input")
    .option("--json", "one JSON object per step instead of a table")
    .option("--trace", "print every instruction each call executed")
    .option("--entry <file>", ENTRY_HELP)
    .option("--variant <name>", "run it on this design instead of the one the file names")
    .option("--design <file>", DESIGN_HELP)
    .description("execute a scenario file on the model")
    .action(async (file: string, opts: { json?: boolean; trace?: boolean; entry?: string; variant?: string; design?: string }) => {
      // --design runs the file on the design it loads, unless --variant names another.
      const named = await designFlag(opts);
      code = runCommand(io, file, { ...opts, ...(opts.variant === undefined && named !== undefined ? { variant: named } : {}) });
    });
  program
    .command("list")
    .description("list the names the other commands take: variants, properties or mutants")
    .argument("<what>", "variants, properties or mutants")
    .action((what: string) => {
      code = listCommand(io, what);
    });
  program
    .command("check")
    .description("run every property on upstream and the scenario corpus; print a table; exit 1 if anything fails")
    .option("--runs <n>", "generated runs per property", undefined)
    .option("--seed <s>", "fast-check seed (default: random, printed)")
    .option("--property <name>", "check only this property")
    .option("--workers <n>", "worker threads (default: cores, at most 2)")
    .option("--variant <name>", "design to check, e.g. upstream or upstream+<mutant> (default: upstream)")
    .option("--report <dir>", "write results.json, summary.md, junit.xml and index.html into dir")
    .option("--concurrency", "check the concurrent properties: patching interleaved with calls on 2-3 CPUs")
    .option("--entry <file>", ENTRY_HELP)
    .option("--design <file>", `${DESIGN_HELP}; check it unless --variant names another`)
    .action(async (flags: CheckFlags & { design?: string }) => {
      const named = await designFlag(flags);
      code = await checkCommand(io, { ...flags, ...(flags.variant === undefined && named !== undefined ? { variant: named } : {}) }, progress);
    });
  program
    .command("replay")
    .argument("[file]", "counterexample scenario file, or - for standard input")
    .option("--seed <s>", "seed printed by a failure")
    .option("--path <p>", "fast-check path printed by a failure")
    .option("--property <name>", "the property that failed")
    .option("--variant <name>", "the design it failed on (default upstream)")
    .option("--runs <n>", "runs of the original check (default 2000)")
    .option("--entry <file>", ENTRY_HELP)
    .option("--design <file>", `${DESIGN_HELP} (without FILE: replay on it unless --variant names another)`)
    .description("re-run a counterexample and print its trace; exit 1 if the property still fails, 0 if it holds")
    .action(async (file: string | undefined, flags: ReplayFlags & { design?: string }) => {
      const named = await designFlag(flags);
      // --design replays on the design it loads, unless --variant names another.
      code = replayCommand(io, file, { ...flags, ...(flags.variant === undefined && named !== undefined ? { variant: named } : {}) });
    });
  program
    .command("explore")
    .description("breadth-first over every API step in a small scope, checking every property at every state")
    .option("--functions <n>", "functions in the scope, 1-3 (default 2)")
    .option("--ops <n>", "ops in the scope, 1-4: ordinary ops plus one direct ops (default 3)")
    .option("--depth <n>", "steps (default 8)")
    .option("--variant <name>", "design (default upstream)")
    .option("--property <name>", "check only this property")
    .option("--states <n>", "a budget counted in states: stop after the first level at which more than n were found")
    .option("--time <s>", "hang guard in seconds (default 600): a search it stops is no verdict and exits 1")
    .option("--workers <n>", "worker threads (default: one per core, at most 2)")
    .option("--entry <file>", ENTRY_HELP)
    .option("--design <file>", `${DESIGN_HELP}; explore it unless --variant names another`)
    .action(async (flags: ExploreFlags & { design?: string }) => {
      const named = await designFlag(flags);
      code = await exploreCommand(io, { ...flags, ...(flags.variant === undefined && named !== undefined ? { variant: named } : {}) });
    });
  const kernel = program
    .command("kernel")
    .description("replay scenarios on a real arm64 Linux kernel under QEMU and compare every patch-site with the model")
    .argument("[scenario...]", "scenario files (default: kernel/scenarios/*.json)")
    .option("--image <path>", "boot this arm64 Image instead of Debian's 6.12")
    .option("--kaslr <mode>", "on, off or both (default both: two boots)")
    .option("--console <file>", "compare a saved guest console instead of booting")
    .option("--experiment <name>", "run an experiment instead of scenarios: refused-registration or livepatch-fexit (see kernel/experiment.ts)")
    .option("--tries <n>", "registrations refused-registration tries (default 300)")
    .option("--generated <n>", "instead of scenarios: n runs drawn in the guest's vocabulary, compared with the model and judged by the properties")
    .option("--seed <s>", "the seed of --generated's runs (default 1)")
    .action(async (files: string[], flags: KernelFlags) => {
      code = await kernelCommand(io, files, flags);
    });
  kernel
    .command("build")
    .description("build Debian's 6.12 source with these patches and dispatch-spec's minimal config (cached by source, config and patches)")
    .option("--patch <file>", "a patch (-p1, as git format-patch writes) to apply; repeat for more, applied in order", (v: string, prev: string[] = []) => [...prev, v])
    .action(async (flags: KernelBuildFlags) => {
      code = await kernelBuildCommand(io, flags);
    });
  program
    .command("history")
    .description("judge the kernel's own record (model/variants/history/) and write reports/history/verdicts.md")
    .option("--out <file>", "where to write the table (default reports/history/verdicts.md)")
    .option("--time <s>", "hang guard in seconds for the explorer on one bug (default 600): a bug it stops is not judged")
    .action((flags: HistoryFlags) => {
      code = historyCommand(io, flags);
    });
  program
    .command("gate")
    .description("every property on every variant and each mutant on its property, against reports/expected.json")
    .option("--runs <n>", "generated runs per cell (default 2000)")
    .option("--seed <s>", `fast-check seed, or "random" (default ${GATE_SEED})`)
    .option("--workers <n>", "worker threads (default: cores, at most 2)")
    .option("--expected <file>", "expected verdicts (default reports/expected.json)")
    .option("--coverage-minimums <file>", "coverage minimums (default reports/coverage-minimums.json)")
    .option("--update", "rewrite the expected verdicts and the coverage minimums from this run and print what changed")
    .option("--report <dir>", "write results.json, summary.md, junit.xml and index.html into dir")
    .option("--entry <file>", `${ENTRY_HELP}; the gate then judges that design's row alone`)
    .option("--kernel-patch <file>", "gate a kernel patch on the kernel: build Debian's 6.12 with and without it, run the same generated runs on both (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--generated <n>", `with --kernel-patch: generated runs per kernel (default ${KERNEL_GATE_RUNS})`)
    .option("--expect <p=change>", "with --kernel-patch: what the patch must do to a property (newly-failing, newly-holding, unchanged); repeatable", (v: string, prev: string[] = []) => [...prev, v])
    .option("--kaslr <mode>", "with --kernel-patch: boot each kernel with KASLR on, off or both (default both)")
    .option("--variant <name>", "gate only this design (a variant, a history design, or either +mutants) against --baseline's recorded verdicts; repeatable", (v: string, prev: string[] = []) => [...prev, v])
    .option("--design <file>", "gate only the design a TypeScript file of yours exports (default export), as --variant gates a known one; repeatable", (v: string, prev: string[] = []) => [...prev, v])
    .option("--baseline <name>", "with --variant or --design: the design whose recorded row they are judged against (default upstream)")
    .option("--verbose", "list every mutant and history cell and every recorded failure, not only what differs")
    .action(async (flags: GateFlags & { kernelPatch?: string[]; generated?: string; expect?: string[]; kaslr?: string; variant?: string[]; design?: string[]; baseline?: string }) => {
      if (flags.baseline !== undefined && flags.variant === undefined && flags.design === undefined) throw new InputError("--baseline is for --variant and --design: say which design to judge against it");
      if (flags.variant !== undefined || flags.design !== undefined) {
        if (flags.kernelPatch !== undefined || flags.entry !== undefined || flags.update === true || flags.coverageMinimums !== undefined) throw new InputError("--variant and --design judge designs against a baseline's recorded row: they take no --kernel-patch, --entry, --update or --coverage-minimums");
        if (flags.generated !== undefined || flags.expect !== undefined || flags.kaslr !== undefined) throw new InputError("--generated, --expect and --kaslr are for --kernel-patch");
        const fromFiles: string[] = [];
        for (const f of flags.design ?? []) fromFiles.push((await loadDesignFile(f)).name);
        code = await variantGateCommand(io, { variant: [...fromFiles, ...(flags.variant ?? [])], ...(flags.baseline !== undefined ? { baseline: flags.baseline } : {}), ...(flags.runs !== undefined ? { runs: flags.runs } : {}), ...(flags.seed !== undefined ? { seed: flags.seed } : {}), ...(flags.workers !== undefined ? { workers: flags.workers } : {}), ...(flags.expected !== undefined ? { expected: flags.expected } : {}), ...(flags.report !== undefined ? { report: flags.report } : {}) }, progress);
        return;
      }
      if (flags.kernelPatch !== undefined) {
        if (flags.entry !== undefined || flags.update === true || flags.report !== undefined || flags.expected !== undefined) throw new InputError("--kernel-patch builds its own kernels: it takes no --entry, --update, --report or --expected");
        code = await kernelGateCommand(io, { kernelPatch: flags.kernelPatch, ...(flags.generated !== undefined ? { generated: flags.generated } : {}), ...(flags.seed !== undefined ? { seed: flags.seed } : {}), ...(flags.runs !== undefined ? { runs: flags.runs } : {}), ...(flags.workers !== undefined ? { workers: flags.workers } : {}), ...(flags.expect !== undefined ? { expect: flags.expect } : {}), ...(flags.kaslr !== undefined ? { kaslr: flags.kaslr } : {}) }, progress);
        return;
      }
      if (flags.generated !== undefined || flags.expect !== undefined || flags.kaslr !== undefined) throw new InputError("--generated, --expect and --kaslr are for --kernel-patch (or: dispatch-spec kernel --generated N)");
      code = await gateCommand(io, flags, progress);
    });
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InputError || e instanceof DesignFault) {
      io.err(`dispatch-spec: ${printableLine(e.message)}\n`);
      return 2;
    }
    throw e;
  }
  return code;
}
