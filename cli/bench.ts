// npm run bench: the suite's speed and strength, measured in one run on this machine, printed as one table and
// written to bench.json. Not part of npm test: performance goals live here, never in timed tests.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism, cpus } from "node:os";
import { bootScenario, parseScenario, runStep } from "../model/scenario.ts";
import { CallRun } from "../model/exec.ts";
import { withMutant } from "../model/mutants.ts";
import { upstream } from "../model/variants/upstream.ts";
import { variantByName } from "../model/variants/index.ts";
import { PROPERTIES } from "../properties/index.ts";
import { expectedFindings, explore } from "../properties/explore.ts";
import { runProperty } from "../properties/runner.ts";
import { ROOT } from "./common.ts";
import { defaultWorkers } from "./check.ts";
import { exploreParallel } from "./explore.ts";
import { EXPECTED_FILE, GATE_SEED, gateJobs, loadExpected } from "./gate.ts";
import { runJobs, silentProgress } from "./check.ts";
import { designCells, gateCells } from "./gate-plan.ts";
import { loadDesignFile } from "./design-file.ts";
import { baselineRow } from "./gate-variant.ts";
import { differential } from "../conformance/differential.ts";
import { runBatch } from "../conformance/qemu.ts";

const SEEDS = 20;
const PROPERTY_RUNS = 500;

function interpreterThroughput(): { instructionsPerSec: number; apiStepsPerSec: number } {
  const s = parseScenario({
    functions: [{ name: "f", addr: "0xffff800009000000" }],
    trampolines: [{ name: "T1", addr: "0xffff80000a100000" }],
    steps: [
      { do: "register_ftrace_function", ops: "A", filter: ["f"] },
      { do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "T1" },
    ],
  });
  const k = bootScenario(s);
  s.steps.forEach((st, i) => runStep(k, st, i));
  let instructions = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    const run = new CallRun(k, "f");
    run.finish();
    instructions += run.traceCount;
  }
  const insnRate = instructions / ((performance.now() - t0) / 1000);
  // API steps: register and unregister an ops on a fresh kernel, over and over.
  const api = parseScenario({
    functions: [{ name: "f", addr: "0xffff800009000000" }, { name: "g", addr: "0xffff800009001000" }],
    steps: [
      { do: "register_ftrace_function", ops: "A", filter: [] },
      { do: "register_ftrace_function", ops: "B", filter: ["f"] },
      { do: "unregister_ftrace_function", ops: "A" },
      { do: "unregister_ftrace_function", ops: "B" },
    ],
  });
  let steps = 0;
  const t1 = performance.now();
  while (performance.now() - t1 < 2000) {
    const k2 = bootScenario(api);
    api.steps.forEach((st, i) => runStep(k2, st, i));
    steps += api.steps.length;
  }
  return { instructionsPerSec: Math.round(insnRate), apiStepsPerSec: Math.round(steps / ((performance.now() - t1) / 1000)) };
}

/** The conformance harness's calls timed on both sides (null where QEMU or the toolchain is missing). */
function interpreterVsQemu(): { calls: number; modelMs: number; qemuMs: number; qemuStartMs: number; batches: number } | null {
  try {
    const r = differential("upstream", { minCalls: 500, seed: 1 });
    // What one QEMU process costs before its first call: the median of three that run no command.
    const starts = [0, 1, 2].map(() => {
      const t = performance.now();
      runBatch([]);
      return performance.now() - t;
    });
    return { calls: r.calls, modelMs: Math.round(r.modelCallMs), qemuMs: Math.round(r.qemuMs), qemuStartMs: Math.round(median(starts)), batches: r.batches };
  } catch {
    return null;
  }
}

/** The figures of the last bench run, to print each target as a ratio against them. */
function previousBench(): { gate?: { seconds: number }; explorer?: { statesPerSec: number } } | null {
  const f = join(ROOT, "bench.json");
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as { gate?: { seconds: number }; explorer?: { statesPerSec: number } };
  } catch {
    return null;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  console.log(`dispatch-spec bench: ${cpus()[0]?.model ?? "cpu"} x${availableParallelism()}, node ${process.version}`);
  const model = interpreterThroughput();
  const properties = PROPERTIES.map((p) => {
    const o = runProperty(p, upstream, { seed: 1, numRuns: PROPERTY_RUNS });
    return { property: p.name, runs: o.runs, runsPerSec: Math.round(o.runs / (o.ms / 1000)) };
  });
  const mutants = PROPERTIES.flatMap((p) => p.kills.map((k) => ({ p, k }))).map(({ p, k }) => {
    const mutant = k.mutant;
    const design = withMutant(variantByName(k.base ?? "upstream") ?? upstream, mutant);
    const times: number[] = [];
    const runsToFail: number[] = [];
    const lengths: number[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const o = runProperty(p, design, { seed, numRuns: 5000 });
      times.push(o.ms);
      runsToFail.push(o.ok ? Infinity : o.runs);
      lengths.push(o.counterexample?.steps.length ?? -1);
    }
    const ex = explore({ functions: 2, ops: 3, depth: 4 }, design, [p]);
    return {
      mutant,
      property: p.name,
      killed: runsToFail.filter(Number.isFinite).length,
      medianMs: Math.round(median(times)),
      maxMs: Math.round(Math.max(...times)),
      medianRunsToFail: median(runsToFail),
      maxShrunkSteps: Math.max(...lengths),
      explorerMinimalDepth: ex.violation?.depth ?? null,
    };
  });
  // As `dispatch-spec explore` runs it: every property on upstream, the recorded finding expected, over the
  // default worker threads.
  const workers = defaultWorkers();
  const ex = await exploreParallel({ functions: 2, ops: 3, depth: 30 }, upstream, PROPERTIES, { expected: expectedFindings(upstream, PROPERTIES) }, workers);
  const explorer = {
    scope: "2 functions, 3 ops",
    hangGuardHit: ex.timedOut,
    workers,
    statesFound: ex.statesFound,
    distinct: ex.distinct,
    depthReached: ex.depthReached,
    exhausted: ex.exhausted,
    seconds: +(ex.ms / 1000).toFixed(1),
    statesPerSec: Math.round(ex.statesFound / (ex.ms / 1000)),
    expectedFindings: ex.expected.map((f) => `${f.property} at depth ${f.depth}`),
    violation: ex.violation?.message ?? null,
  };

  // Issue 18's targets, each measured as the user would run it.
  const gateStarted = performance.now();
  const cells = gateCells();
  await runJobs(gateJobs(loadExpected(EXPECTED_FILE), cells, GATE_SEED, 2000), workers, silentProgress);
  const gate = { cells: cells.length, workers, seconds: +((performance.now() - gateStarted) / 1000).toFixed(1) };
  // Run to exhaustion (the hang guard only stops a hang), so the counts are the scope's; the target is its time.
  const ex3 = await exploreParallel({ functions: 3, ops: 3, depth: 30 }, upstream, PROPERTIES, { expected: expectedFindings(upstream, PROPERTIES) }, workers);
  const explorer3 = { scope: "3 functions, 3 ops", statesFound: ex3.statesFound, distinct: ex3.distinct, depthReached: ex3.depthReached, exhausted: ex3.exhausted, hangGuardHit: ex3.timedOut, seconds: +(ex3.ms / 1000).toFixed(1) };
  // Issue 30's target: a design whose calls loop gets its verdict as fast as any other (gate --design's 16 cells).
  const looping = await loadDesignFile(join(ROOT, "model/variants/examples/direct-exit-loops.ts"));
  const loopStarted = performance.now();
  const loopCells = designCells(looping.name);
  const loopExpected = loadExpected(EXPECTED_FILE);
  await runJobs(gateJobs({ ...loopExpected, variants: { ...loopExpected.variants, [looping.name]: baselineRow(loopExpected, "upstream") } }, loopCells, GATE_SEED, 2000), workers, silentProgress);
  const loopGate = { design: looping.name, cells: loopCells.length, workers, seconds: +((performance.now() - loopStarted) / 1000).toFixed(1) };
  const vsQemu = interpreterVsQemu();
  const previous = previousBench();

  const rows: string[] = [];
  rows.push("model", `  interpreter          ${model.instructionsPerSec.toLocaleString("en")} instructions/s`, `  API steps            ${model.apiStepsPerSec.toLocaleString("en")} steps/s (boot included)`);
  rows.push(`properties (${PROPERTY_RUNS} runs on upstream)`);
  for (const p of properties) rows.push(`  ${p.property.padEnd(22)} ${String(p.runsPerSec).padStart(6)} runs/s`);
  rows.push(`mutants (${SEEDS} seeds each)          killed  median ms  max ms  median runs  max shrunk  explorer depth`);
  for (const m of mutants)
    rows.push(`  ${m.mutant.padEnd(34)} ${`${m.killed}/${SEEDS}`.padStart(6)}  ${String(m.medianMs).padStart(9)}  ${String(m.maxMs).padStart(6)}  ${String(m.medianRunsToFail).padStart(11)}  ${String(m.maxShrunkSteps).padStart(10)}  ${String(m.explorerMinimalDepth).padStart(14)}`);
  rows.push(
    `explorer (${explorer.scope}, every property, 60 s, ${workers} worker${workers === 1 ? "" : "s"})`,
    `  ${explorer.statesFound} states (${explorer.distinct} distinct), depth ${explorer.depthReached}${explorer.exhausted ? " (scope exhausted)" : ""} in ${explorer.seconds} s, ${explorer.statesPerSec} states/s${explorer.violation !== null ? `, violation: ${explorer.violation}` : ", no unexpected violation"}${explorer.expectedFindings.length > 0 ? ` (expected finding: ${explorer.expectedFindings.join(", ")})` : ""}`,
  );
  const ratio = (now: number, before: number | undefined, higherIsBetter: boolean): string =>
    before === undefined || before === 0 ? "" : ` (x${(higherIsBetter ? now / before : before / now).toFixed(2)} against bench.json before this run)`;
  rows.push(
    "targets (issue 18)",
    `  gate                 ${gate.seconds} s for ${gate.cells} cells on ${workers} worker${workers === 1 ? "" : "s"}; target <= 45 s: ${gate.seconds <= 45 ? "met" : "not met"}${ratio(gate.seconds, previous?.gate?.seconds, false)}`,
    `  explorer             ${explorer.statesPerSec} states/s on the 2-function/3-ops scope; target >= 50 000: ${explorer.statesPerSec >= 50_000 ? "met" : "not met"}${ratio(explorer.statesPerSec, previous?.explorer?.statesPerSec, true)}`,
    `  looping design       gate --design ${loopGate.design}: ${loopGate.seconds} s for ${loopGate.cells} cells; target < 60 s (issue 30): ${loopGate.seconds < 60 ? "met" : "not met"}`,
    `  3-function scope     ${explorer3.exhausted ? "exhausted" : `depth ${explorer3.depthReached} reached`}: ${explorer3.statesFound} states (${explorer3.distinct} distinct) in ${explorer3.seconds} s; target: exhausted within 120 s: ${explorer3.exhausted && explorer3.seconds <= 120 ? "met" : "not met"}`,
    vsQemu === null
      ? "  interpreter vs QEMU  not measured: qemu-aarch64 or the cross toolchain is missing (npm run conformance says which)"
      : (() => {
          const net = Math.max(1, vsQemu.qemuMs - vsQemu.batches * vsQemu.qemuStartMs);
          return `  interpreter vs QEMU  ${vsQemu.calls} calls (the conformance harness's, identical words): the model's interpreter ${vsQemu.modelMs} ms; qemu-aarch64 ${vsQemu.qemuMs} ms in ${vsQemu.batches} processes, ${net} ms without their start-up (${vsQemu.qemuStartMs} ms each; memory images copied in included): QEMU/interpreter = ${(net / Math.max(1, vsQemu.modelMs)).toFixed(1)}`;
        })(),
  );
  console.log(rows.join("\n"));
  const out = { started, node: process.version, cpus: availableParallelism(), model, properties, mutants, explorer, gate, loopGate, explorer3, vsQemu };
  writeFileSync(join(ROOT, "bench.json"), JSON.stringify(out, null, 2) + "\n");
  console.log("written bench.json");
}

await main();
