// `dispatch-spec gate --kernel-patch FILE [--kernel-patch FILE]... [--generated N] [--seed S]`: gate a kernel patch
// on the kernel itself. Builds Debian's 6.12 source unpatched and patched (kernel/build.ts), runs the same generated
// runs (same seed) on both in guests that stay up, and the --entry gate on the patched vmlinux's ftrace_caller; then
// says per property what the patch changed: newly failing (with the shrunk counterexample), newly holding, unchanged.
// Exit 1 when the patch breaks a property that holds without it.

import { relative } from "node:path";
import { pc } from "../reports/colours.ts";
import { readEntryImage } from "./entry.ts";
import { fetchKernel, FetchError, type KernelFiles } from "../kernel/fetch.ts";
import type { BuiltKernel } from "../kernel/build.ts";
import { MODULE_NAME } from "../kernel/guest.ts";
import { KERNEL_PROPERTIES, NOT_JUDGED_ON_KERNEL } from "../kernel/judge.ts";
import type { BatchResult } from "../kernel/generated.ts";
import { SessionError } from "../kernel/session.ts";
import { batchVerdicts, generatedBatch, saveFindings } from "./kernel-generated.ts";
import { buildOrSay } from "./kernel-build.ts";
import { gateCommand } from "./gate.ts";
import type { Progress } from "./check.ts";
import type { Io } from "./common.ts";
import { InputError } from "./load.ts";

export interface KernelGateFlags {
  readonly kernelPatch: ReadonlyArray<string>;
  readonly generated?: string;
  readonly seed?: string;
  readonly runs?: string;
  readonly workers?: string;
  /** What the patch must do to a property: "P=newly-holding" etc. (repeatable); a change that differs fails the gate. */
  readonly expect?: ReadonlyArray<string>;
}

/** `--expect P=CHANGE`, read: the property must be a kernel-judged one, the change one of the three. */
export function expectations(xs: ReadonlyArray<string>): ReadonlyMap<string, Change> {
  const out = new Map<string, Change>();
  for (const x of xs) {
    const m = /^([a-z-]+)=(newly-failing|newly-holding|unchanged)$/.exec(x);
    if (m === null) throw new InputError(`--expect: expected PROPERTY=newly-failing|newly-holding|unchanged, got ${JSON.stringify(x)}`);
    if (!(KERNEL_PROPERTIES as ReadonlyArray<string>).includes(m[1]!)) throw new InputError(`--expect: ${m[1]} is not judged on a kernel (those are: ${KERNEL_PROPERTIES.join(", ")})`);
    out.set(m[1]!, m[2]!.replace("-", " ") as Change);
  }
  return out;
}

/** Generated runs per kernel by default: every step kind, and the survivor reached in a call on 19 seeds of 20 (measured on the model: first at run 1-65, median 13). */
export const KERNEL_GATE_RUNS = 48;

export type Change = "newly failing" | "newly holding" | "unchanged";

/** What a patch changed, per property, from the two kernels' verdicts. */
export function patchChanges(before: Readonly<Record<string, "holds" | "fails">>, after: Readonly<Record<string, "holds" | "fails">>): Array<{ property: string; before: string; after: string; change: Change }> {
  return Object.keys(after).map((p) => {
    const b = before[p] ?? "holds";
    const a = after[p]!;
    return { property: p, before: b, after: a, change: b === a ? "unchanged" : a === "fails" ? "newly failing" : "newly holding" };
  });
}

/** The guest files for a built kernel (busybox and the agent from kernel/fetch.ts). */
function filesFor(k: BuiltKernel, say: (s: string) => void): KernelFiles {
  const fetched = fetchKernel(say);
  const module = k.modules.get(MODULE_NAME);
  if (module === undefined) throw new FetchError(`the build ${k.key} has no ${MODULE_NAME}.ko`);
  return { ...fetched, image: k.image, module, dsmod: k.dsmod };
}

/** Whether two vmlinux files have the same ftrace_caller and ftrace_stub_direct_tramp words. */
function sameEntryWords(a: string, b: string): boolean {
  const words = (f: string): string => readEntryImage(f).code.map((c) => `${c.name}:${c.words.join(",")}`).join(";");
  return words(a) === words(b);
}

export async function kernelGateCommand(io: Io, flags: KernelGateFlags, progress: Progress): Promise<number> {
  const count = flags.generated === undefined ? KERNEL_GATE_RUNS : Number(flags.generated);
  if (!Number.isInteger(count) || count < 1 || count > 2000) throw new InputError(`--generated: expected a number of runs from 1 to 2000, got ${JSON.stringify(flags.generated)}`);
  const seed = flags.seed === undefined ? 1 : Number(flags.seed);
  if (!Number.isInteger(seed)) throw new InputError(`--seed: expected an integer, got ${JSON.stringify(flags.seed)}`);
  const expect = expectations(flags.expect ?? []);
  io.out(`${pc.bold("dispatch-spec gate --kernel-patch")}: ${flags.kernelPatch.join(", ")}; ${count} generated runs (seed ${seed}) on the unpatched and the patched kernel, and the --entry gate on the patched ftrace_caller\n`);
  const base = await buildOrSay(io, []);
  if (base === null) return 2;
  const patched = await buildOrSay(io, flags.kernelPatch);
  if (patched === null) return 2;
  io.out(`unpatched: ${relative(process.cwd(), base.image)}\npatched:   ${relative(process.cwd(), patched.image)}\n`);
  const say = (s: string): void => void io.err(`${s}\n`);
  let batches: [BatchResult, BatchResult];
  try {
    const b0 = await generatedBatch(io, filesFor(base, say), { count, seed, kaslr: false, tag: `build-${base.key}` });
    const b1 = await generatedBatch(io, filesFor(patched, say), { count, seed, kaslr: false, tag: `build-${patched.key}` });
    batches = [b0, b1];
  } catch (e) {
    if (e instanceof SessionError || e instanceof FetchError) {
      io.err(`dispatch-spec gate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const [b0, b1] = batches;
  const changes = patchChanges(batchVerdicts(b0), batchVerdicts(b1));
  io.out(`${pc.bold("generated runs on the kernel")} (${count} runs, seed ${seed}, the same on both):\n`);
  const saved = saveFindings(b1, `build-${patched.key}`);
  const savedBefore = saveFindings(b0, `build-${base.key}`);
  for (const c of changes) {
    const colour = c.change === "newly failing" ? pc.red : c.change === "newly holding" ? pc.green : (s: string): string => s;
    const f = b1.findings.find((x) => x.property === c.property);
    const file = saved.find((x) => x.includes(`-${c.property}-seed`));
    const f0 = b0.findings.find((x) => x.property === c.property);
    const file0 = savedBefore.find((x) => x.includes(`-${c.property}-seed`));
    const detail =
      c.change === "newly failing" && f !== undefined
        ? `\n      patched: ${f.message} (run ${f.run}, shrunk to ${f.shrunkSteps} step(s)${f.reproduced === "after-earlier-runs" ? ", only after earlier runs in the same guest" : ""}: ${file !== undefined ? relative(process.cwd(), file) : ""})`
        : c.change === "newly holding" && f0 !== undefined
          ? `\n      unpatched: ${f0.message} (run ${f0.run}, shrunk to ${f0.shrunkSteps} step(s): ${file0 !== undefined ? relative(process.cwd(), file0) : ""})`
          : "";
    io.out(`  ${c.property.padEnd(20)} ${colour(c.change.padEnd(14))} unpatched ${c.before}, patched ${c.after}${detail}\n`);
  }
  for (const [p, why] of Object.entries(NOT_JUDGED_ON_KERNEL)) io.out(pc.dim(`  ${p.padEnd(20)} not judged on the kernel: ${why}\n`));
  const modelLine = (b: BatchResult, which: string): string => (b.differing === 0 ? `the model predicted the ${which} kernel in every run` : `the model differs from the ${which} kernel in ${b.differing} run(s) (expected when the patch changes what upstream's design does)`);
  io.out(`${modelLine(b0, "unpatched")}; ${modelLine(b1, "patched")}\n`);
  // The entry part: the patched ftrace_caller as a design, through the model's properties.
  let entryFails = false;
  if (sameEntryWords(base.vmlinux, patched.vmlinux)) {
    io.out(`--entry: the patch leaves ftrace_caller and ftrace_stub_direct_tramp as they are (word for word): unchanged\n`);
  } else {
    io.out(`--entry: the patch changes ftrace_caller; its row, against upstream's verdicts:\n`);
    entryFails = (await gateCommand(io, { entry: patched.vmlinux, ...(flags.runs !== undefined ? { runs: flags.runs } : {}), ...(flags.workers !== undefined ? { workers: flags.workers } : {}) }, progress)) !== 0;
  }
  const broken = changes.filter((c) => c.change === "newly failing");
  const unmet = [...expect].filter(([p, want]) => changes.find((c) => c.property === p)?.change !== want);
  for (const [p, want] of unmet) io.out(pc.red(`expected ${p} to be ${want}, it is ${changes.find((c) => c.property === p)?.change ?? "?"}\n`));
  if (unmet.length > 0) return 1;
  if (broken.length === 0 && !entryFails) {
    io.out(pc.green(`the patch breaks no property that holds without it\n`));
    return 0;
  }
  io.out(pc.red(`the patch breaks ${[...broken.map((c) => c.property), ...(entryFails ? ["the --entry row"] : [])].join(", ")}\n`));
  return 1;
}
