// npm run conformance: the model against a real AArch64. (1) Every encoder's words against GNU as. (2) Differential
// runs: generated scenarios on every variant, each call run by the model's interpreter and by QEMU's AArch64
// (conformance/harness under qemu-aarch64-static), compared call by call. (3) The BTI matrix. (4) Self-checks: a
// broken LDUR encoder and a broken BTI rule must each be caught, or the comparison proves nothing. Needs Debian's
// AArch64 binutils, cross compiler and qemu-user-static; when one is missing it prints the one install line and
// exits 2, installing nothing itself.

import { Command, CommanderError } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VARIANT_NAMES } from "../model/variants/index.ts";
import { compareEncodings } from "./encodings.ts";
import { brokenRule, btiMatrix, describeCase, type BtiResult } from "./bti.ts";
import { brokenLdur, differential, type DiffResult, type Difference } from "./differential.ts";
import { CONFORMANCE_APT_LINE, CONFORMANCE_TOOLS, missingTools } from "./tools.ts";

const OUT_DIR = join("reports", "conformance");

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const hex = (w: number): string => `0x${(w >>> 0).toString(16).padStart(8, "0")}`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** The first differing call, both ways, with the scenario saved for `dispatch-spec run`. */
function showDifference(d: Difference, save: boolean): void {
  out(`  ${d.c.variant}: call of ${d.c.fn} after step ${d.c.step + 1}: ${d.what}`);
  out(`    model: path ${d.c.model.path}; ${d.c.model.events.length} events; ${d.c.model.end}`);
  out(`    cpu:   path ${d.cpu.path}; ${d.cpu.events.length} events; ${d.cpu.end}`);
  if (!save) return;
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `${d.c.variant}.json`);
  writeFileSync(file, JSON.stringify({ ...d.c.scenario, description: `conformance difference: ${d.what.split("\n")[0]}` }, bigintJson, 2) + "\n");
  out(`    scenario (kernel addresses; the run moved them to user space): ${file}`);
}

function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? `0x${v.toString(16)}` : v;
}

function summary(r: DiffResult): string {
  const paths = Object.entries(r.paths)
    .sort((a, b) => b[1] - a[1])
    .map(([p, n]) => `${p} ${n}`)
    .join(", ");
  return [
    `differential ${r.variant.padEnd(14)} ${String(r.calls).padStart(5)} calls in ${String(r.scenarios).padStart(3)} scenarios, ${r.differences.length} differences (${secs(r.ms)})`,
    `  covered: ${paths}; ${r.btiCalls} calls on BTI layouts, ${r.handlerCalls} ops callbacks, ${r.trampEntries} trampoline entries`,
  ].join("\n");
}

function btiSummary(r: BtiResult): string {
  return `bti matrix: ${r.cases} cases (BR/BLR/RET x every register, B, BL onto ${7} landings, guarded and plain), ${r.differences.length} differences (${secs(r.ms)})`;
}

function main(argv: ReadonlyArray<string>): number {
  const program = new Command("conformance")
    .description("the model's words and interpreter against GNU as and QEMU's AArch64")
    .option("--calls <n>", "generated calls per variant, at least", "2000")
    .option("--seed <s>", "fast-check seed for the differential runs", "20261125")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  const opts = program.opts<{ calls: string; seed: string }>();
  const calls = Number(opts.calls);
  const seed = Number(opts.seed);
  if (!Number.isInteger(calls) || calls < 1) return usage(`--calls: expected a positive integer, got "${opts.calls}"`);
  if (!Number.isInteger(seed) || seed < 0) return usage(`--seed: expected a non-negative integer, got "${opts.seed}"`);
  const missing = missingTools(CONFORMANCE_TOOLS);
  if (missing.length > 0) {
    process.stderr.write(`conformance: missing ${missing.join(", ")}; install them with: ${CONFORMANCE_APT_LINE}\n`);
    return 2;
  }
  const started = performance.now();
  let failed = false;

  const enc = compareEncodings();
  for (const m of enc.mismatches) out(`MISMATCH ${m.where}: "${m.text}" model ${hex(m.model)} gas ${hex(m.gas)}`);
  out(`encodings: ${enc.checked - enc.mismatches.length} passed, ${enc.mismatches.length} failed`);
  failed ||= enc.mismatches.length > 0;

  for (const v of VARIANT_NAMES) {
    const r = differential(v, { minCalls: calls, seed });
    out(summary(r));
    const first = r.differences[0];
    if (first !== undefined) {
      showDifference(first, true);
      failed = true;
    }
  }

  const bti = btiMatrix();
  out(btiSummary(bti));
  for (const d of bti.differences.slice(0, 5)) out(`  ${describeCase(d.c)}: model ${d.model}, cpu ${d.cpu}`);
  failed ||= bti.differences.length > 0;

  // Self-checks: the comparison must see a broken encoder and a broken interpreter rule.
  const enc2 = differential("upstream", { minCalls: 200, seed, corrupt: brokenLdur });
  const caught = enc2.differences[0];
  out(`self-check, LDUR encoded 8 bytes short: ${enc2.differences.length} of ${enc2.calls} calls differ${caught === undefined ? " (NOT CAUGHT)" : "; the first:"}`);
  if (caught !== undefined) showDifference(caught, false);
  const bti2 = btiMatrix(brokenRule);
  const caughtBti = bti2.differences[0];
  out(`self-check, BR X16/X17 onto BTI C refused: ${bti2.differences.length} of ${bti2.cases} cases differ${caughtBti === undefined ? " (NOT CAUGHT)" : `; the first: ${describeCase(caughtBti.c)}: model ${caughtBti.model}, cpu ${caughtBti.cpu}`}`);
  failed ||= caught === undefined || caughtBti === undefined;

  out(`conformance: ${failed ? "DIFFERENCES FOUND" : "the model and the CPU agree"} (${secs(performance.now() - started)})`);
  return failed ? 1 : 0;
}

function usage(message: string): number {
  process.stderr.write(`conformance: ${message}\n`);
  return 2;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`conformance: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
}
