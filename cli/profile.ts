// `npm run profile`: where the time goes. Runs three workloads under V8's sampling profiler (node --cpu-prof), each
// in its own process: the gate's sequential row of upstream (every property over one execution of 2 000 runs, the
// gate's seed), its concurrent row (every concurrent property over 1 000 schedules) and the explorer (2 functions,
// 3 ops, depth 6, one thread). For each it prints the wall time and the functions with the most self time (by name and file; the
// line numbers of tsx's output are not the source's), and leaves the .cpuprofile files for a flame graph
// (Chrome DevTools or speedscope open them).

import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(import.meta.url);
const ROOT = join(HERE, "..", "..");
const OUT = join(ROOT, "reports", "profile");
const SEED = 20261125;

type Workload = "seq" | "conc" | "explore";
const WORKLOADS: ReadonlyArray<{ readonly name: Workload; readonly what: string }> = [
  { name: "seq", what: "gate row: every sequential property on upstream, 2 000 runs executed once" },
  { name: "conc", what: "gate row: every concurrent property on upstream, 1 000 schedules executed once" },
  { name: "explore", what: "explorer: upstream, 2 functions, 3 ops, depth 6, one thread" },
];

/** Run one workload in this process (the child side). */
async function runWorkload(w: Workload): Promise<void> {
  const { upstream } = await import("../model/variants/upstream.ts");
  const { PROPERTIES, CONCURRENT_PROPERTIES } = await import("../properties/index.ts");
  if (w === "seq") {
    const { runProperties } = await import("../properties/runner.ts");
    runProperties(PROPERTIES, upstream, { seed: SEED, numRuns: 2000 });
  } else if (w === "conc") {
    const { runConcurrentProperties } = await import("../properties/concurrency.ts");
    runConcurrentProperties(CONCURRENT_PROPERTIES, upstream, { seed: SEED, numRuns: 1000 });
  } else {
    const { explore, expectedFindings } = await import("../properties/explore.ts");
    explore({ functions: 2, ops: 3, depth: 6 }, upstream, PROPERTIES, { expected: expectedFindings(upstream, PROPERTIES) });
  }
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<{ readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string } }>;
  readonly samples: ReadonlyArray<number>;
  readonly timeDeltas: ReadonlyArray<number>;
}

/** Self time by function, largest first, as fractions of the total. */
export function selfTimes(p: CpuProfile): { readonly total: number; readonly top: ReadonlyArray<readonly [string, number]> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const cf = byId.get(id);
    const file = cf === undefined ? "?" : cf.url.includes("/node_modules/") ? cf.url.replace(/.*\/node_modules\/([^/]+).*/, "$1") : cf.url.startsWith("file://") ? relative(ROOT, fileURLToPath(cf.url)) : "(native)";
    const key = `${cf?.functionName || "(anonymous)"} ${file}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const top = [...self].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, total === 0 ? 0 : v / total] as const);
  return { total, top };
}

function profileAll(): void {
  rmSync(OUT, { recursive: true, force: true });
  for (const w of WORKLOADS) {
    const dir = join(OUT, w.name);
    mkdirSync(dir, { recursive: true });
    const started = performance.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", "--cpu-prof", `--cpu-prof-dir=${dir}`, HERE, "--workload", w.name], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error(`profile: the ${w.name} workload failed`);
    const wall = (performance.now() - started) / 1000;
    // The main thread's profile is the largest; tsx's loader thread writes a small one beside it.
    const file = readdirSync(dir)
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const s = selfTimes(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
    console.log(`${w.what}: ${wall.toFixed(1)} s wall, ${(s.total / 1e6).toFixed(1)} s sampled (${relative(ROOT, file)})`);
    for (const [k, f] of s.top.slice(0, 12)) console.log(`  ${(100 * f).toFixed(1).padStart(5)}%  ${k}`);
  }
}

// Run only as a program (a test imports selfTimes alone).
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf("--workload");
  if (at >= 0) await runWorkload(process.argv[at + 1] as Workload);
  else profileAll();
}
