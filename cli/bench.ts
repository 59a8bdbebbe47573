// npm run bench: the suite's speed and strength, measured in one run on this machine, printed as one table and
// written to bench.json. Not part of npm test: performance goals live here, never in timed tests.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism, cpus } from "node:os";
import { bootScenario, parseScenario, runStep } from "../model/scenario.ts";
import { CallRun } from "../model/exec.ts";
import { withMutant } from "../model/mutants.ts";
import { upstream } from "../model/variants/upstream.ts";
import { variantByName } from "../model/variants/index.ts";
import { PROPERTIES } from "../properties/index.ts";
import { expectedFindings, explore } from "../properties/explore.ts";
import { runProperty } from "../properties/property.ts";
import { ROOT } from "./common.ts";
import { defaultWorkers } from "./check.ts";
import { exploreParallel } from "./explore.ts";

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
    const ex = explore({ functions: 2, ops: 3, depth: 4 }, design, [p], 30_000);
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
  const ex = await exploreParallel({ functions: 2, ops: 3, depth: 30 }, upstream, PROPERTIES, 60_000, expectedFindings(upstream, PROPERTIES), workers);
  const explorer = {
    scope: "2 functions, 3 ops",
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
  console.log(rows.join("\n"));
  const out = { started, node: process.version, cpus: availableParallelism(), model, properties, mutants, explorer };
  writeFileSync(join(ROOT, "bench.json"), JSON.stringify(out, null, 2) + "\n");
  console.log("written bench.json");
}

await main();
