// `dispatch-spec kernel --generated N [--seed S] [--image IMAGE] [--kaslr on|off|both]`: N runs drawn from the seed
// in the guest's vocabulary, run one by one in a guest that stays up (one boot per KASLR setting, both by default),
// each compared with the model and judged by the properties the kernel's observations decide; the first failure of
// each property shrunk in the same guest and saved as a scenario file. Exit 1 when the model and the kernel differ,
// or when a property fails that the baseline row of reports/expected.json (debian-6.12: the 6.12 kernel as written)
// says holds.

import { plural } from "../reports/format.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pc } from "../reports/colours.ts";
import type { KernelFiles } from "../kernel/fetch.ts";
import { guestScenario } from "../generators/guest.ts";
import { FreshRunner, GuestRunner, runBatch, type BatchResult } from "../kernel/generated.ts";
import { KERNEL_PROPERTIES, NOT_JUDGED_ON_KERNEL } from "../kernel/judge.ts";
import { planScenario, setupFor } from "../kernel/guest.ts";
import { GuestSession, type SessionOptions } from "../kernel/session.ts";
import { GENERATED_GUEST } from "../generators/guest.ts";
import { ROOT, type Io } from "./common.ts";
import { InputError, shownPath } from "./load.ts";

export const GENERATED_DIR = join(ROOT, "reports", "kernel", "counterexamples");
const CONSOLE_DIR = join(ROOT, "reports", "kernel");
/** The most runs one batch may ask for (each is a guest run of a few seconds). */
export const MAX_GENERATED = 2000;

/** Verdicts per property: a batch's, against a baseline row. */
export type Verdicts = Readonly<Record<string, "holds" | "fails">>;

export function batchVerdicts(b: BatchResult): Verdicts {
  return Object.fromEntries(KERNEL_PROPERTIES.map((p) => [p, b.findings.some((f) => f.property === p) ? "fails" : "holds"]));
}

/** The lines of a batch's summary, and the properties that fail against the baseline's holds. */
export function batchSummary(b: BatchResult, baseline: Verdicts, baselineName: string): { lines: string[]; unexpected: string[] } {
  const lines: string[] = [];
  const unexpected: string[] = [];
  const v = batchVerdicts(b);
  for (const p of KERNEL_PROPERTIES) {
    const f = b.findings.find((x) => x.property === p);
    const base = baseline[p];
    const mark = v[p] === "holds" ? pc.green("holds") : base === "fails" ? pc.yellow("fails (as the baseline)") : pc.red("FAILS");
    if (v[p] === "fails" && base !== "fails") unexpected.push(p);
    const where = f === undefined ? "" : f.reproduced === "fresh" ? ", fails in a fresh guest" : f.reproduced === "after-earlier-runs" ? ", fails only after earlier runs in the same guest (the kernel kept state)" : "";
    lines.push(`  ${p.padEnd(20)} ${mark}${f !== undefined ? `: run ${f.run}, shrunk ${f.originalSteps} -> ${f.shrunkSteps} step(s)${where}: ${f.message}` : ""}`);
  }
  for (const [p, why] of Object.entries(NOT_JUDGED_ON_KERNEL)) lines.push(pc.dim(`  ${p.padEnd(20)} not judged on a kernel: ${why}`));
  lines.push(`baseline: ${baselineName}`);
  return { lines, unexpected };
}

/** Save each finding (and the first difference from the model) as a scenario file; their paths. */
export function saveFindings(b: BatchResult, tag: string, dir: string = GENERATED_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (const f of b.findings) {
    const file = join(dir, `${tag}-${f.property}-seed${b.seed}.json`);
    writeFileSync(file, JSON.stringify(f.shrunk, null, 2) + "\n");
    out.push(file);
  }
  if (b.firstDifference !== null) {
    const file = join(dir, `${tag}-model-differs-seed${b.seed}.json`);
    writeFileSync(file, JSON.stringify({ ...b.firstDifference.shrunk, description: `The model and the kernel differ (generated run ${b.firstDifference.run}, seed ${b.seed}): ${b.firstDifference.rows.join("; ")}` }, null, 2) + "\n");
    out.push(file);
  }
  return out;
}

export interface GeneratedOptions {
  readonly count: number;
  readonly seed: number;
  readonly kaslr: boolean;
  /** A name for the kernel in file names (debian-6.12, or a build's key). */
  readonly tag: string;
}

/** Boot, run the batch, power off. A hung or dead guest is a SessionError (one line, exit 2 by the caller). */
export async function generatedBatch(io: Io, files: KernelFiles, o: GeneratedOptions): Promise<BatchResult> {
  const sample = planScenario("sample", guestScenario([]), GENERATED_GUEST);
  io.err(`kernel: booting ${shownPath(files.image)} (KASLR ${o.kaslr ? "on" : "off"}) for ${o.count} generated runs, seed ${o.seed}\n`);
  const setup = setupFor([sample], true);
  mkdirSync(CONSOLE_DIR, { recursive: true });
  const log = join(CONSOLE_DIR, `generated-${o.tag}-kaslr-${o.kaslr ? "on" : "off"}.log`);
  io.err(`kernel: the console goes to ${shownPath(log)} as it arrives\n`);
  const start = (more: Partial<SessionOptions> = {}): Promise<GuestSession> => GuestSession.start(files, setup, { kaslr: o.kaslr, image: files.image, ...more });
  const g = await start({ log });
  io.err(`kernel: the guest is up after ${g.seconds.toFixed(1)} s\n`);
  const r = new GuestRunner(g, GENERATED_GUEST, async () => {
    io.err(`kernel: the last run broke the kernel; booting a new guest for the next\n`);
    return start({ log, appendLog: true });
  });
  try {
    if (r.designProblem !== null) io.err(`kernel: ${r.designProblem}\n`);
    const started = g.seconds;
    const fresh = new FreshRunner(() => start());
    const b = await runBatch(r, o.seed, o.count, (l) => io.err(`kernel: ${l}\n`), fresh);
    io.err(`kernel: ${plural(b.runs, "run")} (${plural(b.steps, "step")}) and the shrinking made ${b.guestRuns} guest runs in ${(g.seconds - started).toFixed(1)} s${r.reboots > 0 ? `, with ${r.reboots} new guest(s) after runs that broke the kernel` : ""}\n`);
    await r.stop();
    return b;
  } catch (e) {
    r.session.kill();
    throw e;
  }
}

/** `--kaslr on|off|both` for generated batches: the KASLR settings to boot, one batch each (default both). */
export function kaslrModes(flag: string | undefined): boolean[] {
  const k = flag ?? "both";
  if (k !== "on" && k !== "off" && k !== "both") throw new InputError(`--kaslr: expected on, off or both, got ${JSON.stringify(k)}`);
  return k === "both" ? [false, true] : [k === "on"];
}

/** Parse and check the flags of generated batches. */
export function generatedFlags(flags: { generated?: string; seed?: string; kaslr?: string }): { count: number; seed: number; kaslr: boolean[] } {
  const count = Number(flags.generated);
  if (!/^\d+$/.test(flags.generated ?? "") || count < 1 || count > MAX_GENERATED) throw new InputError(`--generated: expected a number of runs from 1 to ${MAX_GENERATED}, got ${JSON.stringify(flags.generated)}`);
  const seed = flags.seed === undefined ? 1 : Number(flags.seed);
  if (flags.seed !== undefined && !/^-?\d+$/.test(flags.seed)) throw new InputError(`--seed: expected an integer, got ${JSON.stringify(flags.seed)}`);
  return { count, seed, kaslr: kaslrModes(flags.kaslr) };
}

/** Print a batch; the exit code (1 on a difference from the model or a failure the baseline does not have). */
export function reportBatch(io: Io, b: BatchResult, baseline: Verdicts, baselineName: string, tag: string): number {
  const s = batchSummary(b, baseline, baselineName);
  io.out(`${pc.bold("generated runs")}: ${plural(b.runs, "run")}, ${plural(b.steps, "step")}, seed ${b.seed}; ${b.differing === 0 ? "the model predicted every site and call" : pc.red(`${b.differing} run(s) where the model and the kernel differ`)}\n`);
  for (const l of s.lines) io.out(`${l}\n`);
  if (b.firstDifference !== null) for (const l of b.firstDifference.rows.slice(0, 10)) io.out(`  ${pc.red("differs")} ${l}\n`);
  for (const p of b.problems.slice(0, 10)) io.out(`  ${pc.yellow("note")}: ${p}\n`);
  const saved = saveFindings(b, tag);
  for (const f of saved) io.out(`saved: ${shownPath(f)} (replay: npx dispatch-spec kernel ${shownPath(f)}${tag.startsWith("build-") ? " --image ..." : ""})\n`);
  return b.differing > 0 || s.unexpected.length > 0 ? 1 : 0;
}
