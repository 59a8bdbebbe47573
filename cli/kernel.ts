// `dispatch-spec kernel [--image PATH] [--kaslr on|off|both] [SCENARIO...]`: replay scenarios on a real arm64
// Linux kernel under qemu-system-aarch64 and compare every patch-site after every step with the model's
// prediction (kernel/). Without scenarios, the default set in kernel/scenarios/. Exit 1 on any difference.

import { plural } from "../reports/format.ts";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pc } from "../reports/colours.ts";
import { bootedDesign, bootedImage, compareScenario, parseConsole, type GuestRun, type SiteRow } from "../kernel/compare.ts";
import type { EntryImage } from "../model/binary.ts";
import { BootError } from "../model/boot.ts";
import { LayoutError } from "../model/layout.ts";
import { toHex } from "../model/insn.ts";
import { debian612Image } from "../model/variants/debian-6.12.ts";
import { FetchError, fetchKernel, HOST_APT_LINE, missingHostTools, type KernelFiles } from "../kernel/fetch.ts";
import { buildModule, DEBIAN_TARGET, imageRelease, ModuleError, moduleFresh, type ModuleTarget } from "../kernel/module.ts";
import { boot, KernelScenarioError, MODULE_NAME, planScenario, setupFor, type GuestOptions, type GuestScenario, type GuestSetup } from "../kernel/guest.ts";
import { GuestSession, SessionError } from "../kernel/session.ts";
import { builtKernelAt } from "../kernel/build.ts";
import { generatedBatch, generatedFlags, reportBatch, type Verdicts } from "./kernel-generated.ts";
import { judgeKernelRun, KERNEL_PROPERTIES } from "../kernel/judge.ts";
import { EXPECTED_FILE, loadExpected } from "./gate.ts";
import { intFlag, type Io } from "./common.ts";
import { judgeLivepatch, judgeRefused, LIVEPATCH_EXPERIMENT, livepatchPlan, parseLivepatch, parseRefused, REFUSED_DEFAULT_TRIES, REFUSED_EXPERIMENT, REFUSED_MAX_TRIES, refusedPlan } from "../kernel/experiment.ts";
import { InputError, loadScenario, readText, shownPath } from "./load.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const KERNEL_SCENARIOS = join(ROOT, "kernel", "scenarios");

export interface KernelFlags {
  readonly image?: string;
  readonly kaslr?: string;
  /** Compare a saved console instead of booting (one file per KASLR mode asked for). */
  readonly console?: string;
  /** Run an experiment instead of scenarios (kernel/experiment.ts), and how many registrations it tries. */
  readonly experiment?: string;
  readonly tries?: string;
  /** Generated runs instead of scenarios (kernel/generated.ts): how many, and the seed. */
  readonly generated?: string;
  readonly seed?: string;
}

/** The baseline a kernel's verdicts are read against: the 6.12 kernel as written (reports/expected.json's debian-6.12 row). */
export function kernelBaseline(): Verdicts {
  const row = loadExpected(EXPECTED_FILE).variants["debian-6.12"] ?? {};
  return Object.fromEntries(Object.entries(row).filter((e): e is [string, "holds" | "fails"] => e[1] === "holds" || e[1] === "fails"));
}

/** `kernel --generated N`: one boot, N generated runs, the findings shrunk and saved. */
async function generatedCommand(io: Io, files: ReadonlyArray<string>, flags: KernelFlags): Promise<number> {
  if (files.length > 0) throw new InputError("--generated draws its own runs: give no scenario files");
  if (flags.console !== undefined) throw new InputError("--generated boots a guest: --console is for replaying saved scenario boots");
  const o = generatedFlags(flags);
  if (flags.image !== undefined && !existsSync(flags.image)) throw new InputError(`--image: no such file: ${flags.image}`);
  const kernelFiles = prepareKernel(io, true, flags.image);
  if (kernelFiles === null) return 2;
  const built = flags.image === undefined ? null : builtKernelAt(flags.image);
  const tag = built !== null ? `build-${built.key}` : flags.image === undefined ? "debian-6.12" : "image";
  try {
    let code = 0;
    for (const kaslr of o.kaslr) {
      const b = await generatedBatch(io, kernelFiles, { count: o.count, seed: o.seed, kaslr, tag });
      io.out(`${pc.bold(`KASLR ${kaslr ? "on" : "off"}`)}: `);
      code = Math.max(code, reportBatch(io, b, kernelBaseline(), "reports/expected.json's debian-6.12 row (the 6.12 kernel as written)", `${tag}-kaslr-${kaslr ? "on" : "off"}`));
    }
    return code;
  } catch (e) {
    if (e instanceof SessionError || e instanceof KernelScenarioError) {
      io.err(`dispatch-spec kernel: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const CONSOLE_DIR = join(ROOT, "reports", "kernel");

function table(rows: ReadonlyArray<SiteRow>): string[] {
  const out: string[] = [];
  let last = "";
  for (const r of rows) {
    const head = `${r.scenario} step ${r.step}`;
    if (head !== last) {
      out.push(pc.bold(`${head}: ${r.stepText}`));
      last = head;
    }
    const mark = r.differs ? pc.red("DIFFERS") : pc.green("same   ");
    out.push(`  ${mark} ${r.fn.padEnd(36)} model:  ${r.model}`);
    if (r.differs) out.push(`  ${" ".repeat(8)}${" ".repeat(36)} kernel: ${r.kernel}`);
  }
  return out;
}

/**
 * The booted kernel's dumped words against the committed debian-6.12 design: the model runs those words in the
 * gate, so for Debian's kernel they must be the ones it really boots. Another kernel (--image) is only described.
 */
export function dumpAgainstDebian(run: GuestRun, otherKernel: boolean): { readonly ok: boolean; readonly line: string } {
  let image: EntryImage | null;
  try {
    image = bootedImage(run);
  } catch (e) {
    return { ok: false, line: `the guest's dump is malformed: ${(e as Error).message}` };
  }
  if (image === null) return { ok: false, line: "the guest wrote no dump of ftrace_caller" };
  const words = (i: EntryImage, name: string): string => i.code.find((c) => c.name === name)?.words.join(",") ?? "";
  const same = ["ftrace_caller", "ftrace_stub_direct_tramp"].every((n) => words(image, n) === words(debian612Image, n));
  const btfSame = JSON.stringify(image.btf) === JSON.stringify(debian612Image.btf);
  const caller = image.code.find((c) => c.name === "ftrace_caller");
  const what = `${image.release ?? "?"}: ftrace_caller ${caller?.words.length ?? 0} words at ${toHex(caller?.addr ?? 0n)}`;
  if (same && btfSame) return { ok: true, line: `${what}, word for word the committed debian-6.12 design (and its BTF offsets)` };
  if (otherKernel) return { ok: true, line: `${what}, not the debian-6.12 design's words: gate them with --entry reports/kernel/entry-kaslr-*.json` };
  return { ok: false, line: `${what} differ from the committed debian-6.12 design (model/variants/debian-6.12.entry.json is stale?)` };
}

/** The kernel dsmod is built for: Debian's 6.12 by default, else the release an --image says it is. */
function moduleTarget(image: string | undefined): ModuleTarget {
  if (image === undefined) return DEBIAN_TARGET;
  const release = imageRelease(readFileSync(image));
  if (release === null) throw new ModuleError(`dsmod: cannot tell which kernel ${image} is (no "Linux version" banner), so not which headers to build against`);
  return { release };
}

/**
 * The host tools, the kernel and, when asked, dsmod built for it; null (after one line on stderr) when a tool is
 * missing, a package cannot be fetched, or the module does not build or carries another vermagic. A kernel
 * dispatch-spec built (kernel/build.ts) brings its own binfmt_misc and dsmod.
 */
function prepareKernel(io: Io, withModule: boolean, image: string | undefined): KernelFiles | null {
  const missing = missingHostTools();
  if (missing.length > 0) {
    io.err(`dispatch-spec kernel: missing ${missing.join(", ")}; install them with: ${HOST_APT_LINE}\n`);
    return null;
  }
  try {
    const fetched = fetchKernel((s) => io.out(`${s}\n`));
    const built = image === undefined ? null : builtKernelAt(image);
    if (built !== null) {
      const module = built.modules.get(MODULE_NAME);
      if (module === undefined || !existsSync(built.dsmod)) throw new FetchError(`${image}: its cache entry lacks ${MODULE_NAME}.ko or dsmod.ko (build it again with: dispatch-spec kernel build)`);
      if (!moduleFresh(built.dsmod)) throw new FetchError(`${image}: kernel/module/dsmod.c changed since its dsmod.ko was built: run dispatch-spec kernel build (with the same --patch files) again`);
      return { ...fetched, image: built.image, module, dsmod: built.dsmod };
    }
    return withModule ? { ...fetched, dsmod: buildModule((s) => io.out(`${s}\n`), moduleTarget(image)) } : fetched;
  } catch (e) {
    if (e instanceof FetchError || e instanceof ModuleError) {
      io.err(`dispatch-spec kernel: ${e.message}\n`);
      return null;
    }
    throw e;
  }
}

/** Whether the guest loaded dsmod.ko; if not, one line on stderr. */
function dsmodLoaded(io: Io, run: GuestRun): boolean {
  if (run.dsmodLoad === "ok") return true;
  io.err(`dispatch-spec kernel: the guest did not load dsmod.ko: ${run.dsmodLoad ?? "no answer from kagent load"}\n`);
  return false;
}

/** What an experiment's console says: the details, the verdict, and its one-line summary. */
interface Verdict {
  readonly confirmed: boolean;
  readonly details: ReadonlyArray<string>;
  readonly summary: string;
}

/** An experiment `kernel --experiment` runs (kernel/experiment.ts): the guest's part, and how its console is judged. */
interface Experiment {
  readonly plan: (tries: number) => GuestScenario;
  /** The dsmod report line that carries its result (named when the console has none). */
  readonly line: string;
  readonly judge: (console: string) => Verdict | null;
}

const EXPERIMENTS: Readonly<Record<string, Experiment>> = {
  [REFUSED_EXPERIMENT]: {
    plan: refusedPlan,
    line: "refused",
    judge: (console) => {
      const r = parseRefused(console);
      if (r === null) return null;
      const v = judgeRefused(r);
      return { confirmed: v.confirmed, details: [], summary: v.line.slice(v.line.indexOf(":") + 2) };
    },
  },
  [LIVEPATCH_EXPERIMENT]: {
    plan: () => livepatchPlan(),
    line: "livepatch",
    judge: (console) => {
      const r = parseLivepatch(console);
      if (r === null) return null;
      const v = judgeLivepatch(r);
      return {
        confirmed: v.confirmed,
        details: v.lines,
        summary: v.confirmed
          ? "with a livepatch-style IPMODIFY ops, a BPF fentry and then an fexit program, every call ran the replacement: the fexit trampoline calls the function through the pc the livepatch set"
          : "the kernel did not do what the arm64 reading predicts (see the stages above)",
      };
    },
  },
};

/** `kernel --experiment NAME`: boot once (or read a saved console), run it, judge what the guest reported. */
function experimentCommand(io: Io, files: ReadonlyArray<string>, flags: KernelFlags): number {
  const names = Object.keys(EXPERIMENTS);
  const name = names.find((e) => e === flags.experiment);
  const experiment = name === undefined ? undefined : EXPERIMENTS[name];
  if (name === undefined || experiment === undefined) throw new InputError(`--experiment: expected one of ${names.join(", ")}, got ${JSON.stringify(flags.experiment)}`);
  if (files.length > 0) throw new InputError("--experiment runs no scenarios: give no scenario files");
  if (name !== REFUSED_EXPERIMENT && flags.tries !== undefined) throw new InputError(`--tries is for --experiment ${REFUSED_EXPERIMENT}`);
  const tries = intFlag("tries", flags.tries, REFUSED_DEFAULT_TRIES, 1);
  if (tries > REFUSED_MAX_TRIES) throw new InputError(`--tries: at most ${REFUSED_MAX_TRIES}, got ${tries}`);
  const kaslr = flags.kaslr ?? "off";
  if (kaslr !== "on" && kaslr !== "off") throw new InputError(`--kaslr: the experiment boots once: expected on or off, got "${kaslr}"`);
  if (flags.image !== undefined && !existsSync(flags.image)) throw new InputError(`--image: no such file: ${flags.image}`);
  let console: string;
  if (flags.console !== undefined) {
    console = readText(flags.console);
  } else {
    const kernelFiles = prepareKernel(io, true, flags.image);
    if (kernelFiles === null) return 2;
    const what = name === REFUSED_EXPERIMENT ? `, ${tries} tries` : "";
    io.out(`${pc.bold("dispatch-spec kernel")}: experiment ${name}${what}, one boot of ${shownPath(flags.image ?? kernelFiles.image)}, KASLR ${kaslr}\n`);
    const b = boot(kernelFiles, [experiment.plan(tries)], { kaslr: kaslr === "on", ...(flags.image !== undefined ? { image: flags.image } : {}) });
    console = b.console;
    mkdirSync(CONSOLE_DIR, { recursive: true });
    const file = join(CONSOLE_DIR, `${name}-kaslr-${kaslr}.log`);
    writeFileSync(file, console);
    io.out(`console saved: ${shownPath(file)} (judge it again with --console); boot and run ${b.seconds.toFixed(1)} s\n`);
  }
  if (!dsmodLoaded(io, parseConsole(console))) return 2;
  const v = experiment.judge(console);
  if (v === null) {
    io.err(`dispatch-spec kernel: the guest wrote no result of the experiment (dsmod's "${experiment.line}" line)\n`);
    return 2;
  }
  for (const l of v.details) io.out(`  ${l}\n`);
  io.out(`${v.confirmed ? pc.green("confirmed") : pc.red("not shown")}: ${v.summary}\n`);
  return v.confirmed ? 0 : 1;
}

/** A guest's progress on stderr: a line per scenario (the guest stays up, so it shows while the boot runs). */
function scenarioProgress(io: Io, plans: ReadonlyArray<GuestScenario>): (si: number, step: number, of: number) => void {
  return (si, step, of) => {
    if (step === of) io.err(`kernel: scenario ${si + 1}/${plans.length} done (${plans[si]?.name ?? "?"}, ${plural(of, "step")})\n`);
  };
}

/** Boot a guest that stays up, run every plan in it a step at a time, power it off; the console. */
async function runInGuest(io: Io, files: KernelFiles, plans: ReadonlyArray<GuestScenario>, setup: GuestSetup, opts: { kaslr: boolean; image?: string }): Promise<{ console: string; seconds: number }> {
  const progress = scenarioProgress(io, plans);
  io.err(`kernel: booting (KASLR ${opts.kaslr ? "on" : "off"})\n`);
  mkdirSync(CONSOLE_DIR, { recursive: true });
  const log = join(CONSOLE_DIR, `console-kaslr-${opts.kaslr ? "on" : "off"}.log`);
  io.err(`kernel: the console goes to ${shownPath(log)} as it arrives\n`);
  const g = await GuestSession.start(files, setup, { ...opts, log });
  io.err(`kernel: the guest is up after ${g.seconds.toFixed(1)} s\n`);
  try {
    for (const [si, p] of plans.entries()) await g.runScenario(p, si, (step, of) => progress(si, step, of));
    await g.stop();
  } catch (e) {
    g.kill();
    if (e instanceof SessionError) return { console: `${g.console}\n(dispatch-spec: ${e.message})\n`, seconds: g.seconds };
    throw e;
  }
  return { console: g.console, seconds: g.seconds };
}

export async function kernelCommand(io: Io, files: ReadonlyArray<string>, flags: KernelFlags): Promise<number> {
  if (flags.experiment !== undefined) return experimentCommand(io, files, flags);
  if (flags.generated !== undefined) return generatedCommand(io, files, flags);
  if (flags.seed !== undefined) throw new InputError("--seed is for --generated");
  if (flags.tries !== undefined) throw new InputError(`--tries is for --experiment ${REFUSED_EXPERIMENT}`);
  const kaslr = flags.kaslr ?? "both";
  if (kaslr !== "on" && kaslr !== "off" && kaslr !== "both") throw new InputError(`--kaslr: expected on, off or both, got "${kaslr}"`);
  if (flags.image !== undefined && !existsSync(flags.image)) throw new InputError(`--image: no such file: ${flags.image}`);
  const paths = files.length > 0 ? [...files] : readdirSync(KERNEL_SCENARIOS).filter((f) => f.endsWith(".json")).sort().map((f) => join(KERNEL_SCENARIOS, f));
  // A kernel dispatch-spec built has no BTF: no BPF fentry, so its direct ops are dsmod's, and dsmod gives the offsets.
  const built = flags.image !== undefined && builtKernelAt(flags.image) !== null;
  const impose: Partial<GuestOptions> = built ? { direct: "dsmod" } : {};
  const plans: GuestScenario[] = [];
  for (const p of paths) {
    const s = loadScenario(p);
    try {
      plans.push(planScenario(shownPath(p), s, impose));
    } catch (e) {
      if (e instanceof KernelScenarioError) throw new InputError(e.message);
      throw e;
    }
  }
  const saved = flags.console !== undefined ? readText(flags.console) : null;
  const started = performance.now();
  if (flags.console !== undefined && kaslr === "both") throw new InputError("--console compares one saved boot: say which with --kaslr on or --kaslr off");
  const setup = setupFor(plans, built);
  const needsModule = setup.dsmod;
  let kernelFiles: KernelFiles | null = null;
  if (saved === null) {
    const prepared = prepareKernel(io, needsModule, flags.image);
    if (prepared === null) return 2;
    kernelFiles = prepared;
  }
  let differences = 0;
  let problems = 0;
  let stillFailing = 0;
  for (const mode of kaslr === "both" ? [false, true] : [kaslr === "on"]) {
    const image = flags.image ?? (kernelFiles === null ? "the saved console's kernel" : shownPath(kernelFiles.image));
    io.out(`${pc.bold("dispatch-spec kernel")}: ${plans.length} scenarios in one boot of ${image}, KASLR ${mode ? "on" : "off"}\n`);
    const b = kernelFiles === null ? { console: saved ?? "", seconds: 0 } : await runInGuest(io, kernelFiles, plans, setup, { kaslr: mode, image: kernelFiles.image });
    if (flags.console === undefined) {
      mkdirSync(CONSOLE_DIR, { recursive: true });
      const file = join(CONSOLE_DIR, `console-kaslr-${mode ? "on" : "off"}.log`);
      writeFileSync(file, b.console);
      io.out(`console saved: ${shownPath(file)} (compare it again with --console)\n`);
    }
    const run = parseConsole(b.console);
    if (needsModule && !dsmodLoaded(io, run)) return 2;
    if (flags.console === undefined && run.entry !== null) {
      const file = join(CONSOLE_DIR, `entry-kaslr-${mode ? "on" : "off"}.json`);
      writeFileSync(file, JSON.stringify(run.entry, null, 1) + "\n");
      io.out(`the booted kernel's ftrace_caller and ftrace_stub_direct_tramp dumped: ${shownPath(file)} (gate them with --entry)\n`);
    }
    const dumped = dumpAgainstDebian(run, flags.image !== undefined);
    io.out(`${dumped.ok ? pc.green("entry") : pc.red("entry")}: ${dumped.line}\n`);
    if (!dumped.ok) problems++;
    if (!run.ended) {
      io.out(`${pc.red("the guest did not finish")}; last console lines:\n${b.console.split("\n").slice(-15).join("\n")}\n`);
      problems++;
    }
    let sites = 0;
    const booted = bootedDesign(run);
    if (booted.problem !== null) {
      io.out(`${pc.red("entry")}: ${booted.problem}\n`);
      problems++;
    }
    plans.forEach((p, si) => {
      let c: ReturnType<typeof compareScenario>;
      try {
        c = compareScenario(p, si, run, booted.design);
      } catch (e) {
        // The model cannot be laid out as this kernel is (say, a struct size it does not take): one line, counted.
        if (!(e instanceof LayoutError || e instanceof BootError)) throw e;
        io.out(`  ${pc.red("model")}: ${p.name}: ${e.message}\n`);
        problems++;
        return;
      }
      io.out(table(c.rows).join("\n") + "\n");
      for (const pr of c.problems) io.out(`  ${pc.yellow("note")}: ${pr}\n`);
      for (const n of c.notes) io.out(`  ${pc.cyan("seen")}: ${n}\n`);
      // The properties the kernel's observations decide, on this scenario (kernel/judge.ts).
      const verdicts = c.modelScenario === null ? [] : judgeKernelRun(c.modelScenario, c.kernel);
      for (const v of verdicts) io.out(`  ${pc.magenta("kernel")}: ${v.property} fails after step ${v.step}: ${v.message}\n`);
      const cx = p.scenario.counterexample;
      if (cx !== undefined && (KERNEL_PROPERTIES as ReadonlyArray<string>).includes(cx.property)) {
        const still = verdicts.find((v) => v.property === cx.property);
        io.out(still !== undefined ? `${pc.red("still fails")}: ${cx.property} on this kernel (recorded: ${cx.message})\n` : `${pc.green("holds now")}: ${cx.property} on this kernel (it failed with: ${cx.message})\n`);
        if (still !== undefined) stillFailing++;
      }
      sites += c.rows.length;
      differences += c.rows.filter((r) => r.differs).length;
      problems += c.problems.filter((x) => !x.includes("the guest said")).length;
    });
    const took = flags.console !== undefined ? `from the saved console ${flags.console}` : `boot and run ${b.seconds.toFixed(1)} s`;
    io.out(`KASLR ${mode ? "on" : "off"}: ${sites} site observations in ${plans.length} scenarios, ${differences} differences; ${took}\n`);
  }
  io.out(`dispatch-spec kernel: ${differences === 0 && problems === 0 ? "the model predicted every site" : `${differences} differences, ${problems} problems`}${stillFailing > 0 ? `; ${stillFailing} counterexample(s) still fail on this kernel` : ""} (${((performance.now() - started) / 1000).toFixed(1)} s wall)\n`);
  return differences === 0 && problems === 0 && stillFailing === 0 ? 0 : 1;
}
