// Provenance: what produced a report or a counterexample, so that a file read a month later says which suite,
// model and tools made it, and how hard the run tried. The static part (package version, git commit and whether the
// tree was dirty, a SHA-256 of model/'s source, Node and fast-check versions) is read once per process: this module
// is the one place in reports/ that reads git and the source tree. The rest is the run's own.

import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Provenance } from "../model/scenario.ts";
import type { Coverage } from "./results.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Static {
  readonly version: string;
  readonly commit: string;
  readonly dirty: boolean;
  readonly modelHash: string;
  readonly node: string;
  readonly fastCheck: string;
}

let cached: Static | null = null;

function git(args: ReadonlyArray<string>): string | null {
  const r = spawnSync("git", [...args], { cwd: ROOT, encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The model's own files under dir (its TypeScript and JSON, not its tests), sorted. */
function sources(dir: string): string[] {
  const own = (n: string): boolean => (n.endsWith(".ts") && !n.endsWith(".test.ts")) || n.endsWith(".json");
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : own(e.name) ? [join(dir, e.name)] : []))
    .sort();
}

/** SHA-256 over model/'s files, each as its path relative to the root and its bytes. */
export function modelSourceHash(): string {
  const h = createHash("sha256");
  for (const f of sources(join(ROOT, "model"))) {
    h.update(relative(ROOT, f));
    h.update("\0");
    h.update(readFileSync(f));
    h.update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

function staticPart(): Static {
  if (cached !== null) return cached;
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version?: string };
  const commit = git(["rev-parse", "HEAD"]) ?? "unknown";
  const status = git(["status", "--porcelain", "--untracked-files=no"]);
  cached = { version: pkg.version ?? "unknown", commit, dirty: status === null ? true : status !== "", modelHash: modelSourceHash(), node: process.version, fastCheck: fc.__version };
  return cached;
}

/** The current commit, as provenance records it ("unknown" outside a git work tree). */
export function currentCommit(): string {
  return staticPart().commit;
}

/** API steps judged, from a run's coverage: each leaves one return code. */
export function statesOf(coverage: ReadonlyArray<Coverage | undefined>): number {
  return coverage.reduce((n, c) => n + Object.values(c?.apiReturns ?? {}).reduce((a, b) => a + b, 0), 0);
}

/** The provenance of a run: the static part, then the design, seed, runs per cell, wall time and rates. */
export function provenance(run: { readonly design: string; readonly seed: number; readonly runs: number; readonly totalRuns: number; readonly states: number; readonly wallMs: number; readonly at?: Date }): Provenance {
  const s = staticPart();
  const per = (n: number): number => (run.wallMs > 0 ? Math.round((n / run.wallMs) * 1000) : 0);
  return { ...s, design: run.design, seed: run.seed, runs: run.runs, wallMs: Math.round(run.wallMs), runsPerSec: per(run.totalRuns), statesPerSec: per(run.states), createdAt: (run.at ?? new Date()).toISOString() };
}

/** The provenance as label/value rows, in the order every report shows them. */
export function provenanceRows(p: Provenance): Array<readonly [string, string]> {
  return [
    ["dispatch-spec", `${p.version} at ${p.commit.slice(0, 12)}${p.dirty ? " (uncommitted changes)" : ""}`],
    ["commit", p.commit],
    ["model source", `sha256 ${p.modelHash}`],
    ["node", p.node],
    ["fast-check", p.fastCheck],
    ["design", p.design],
    ["seed", String(p.seed)],
    ["runs per cell", String(p.runs)],
    ["wall time", `${(p.wallMs / 1000).toFixed(1)} s`],
    ["runs/s", String(p.runsPerSec)],
    ["states/s", String(p.statesPerSec)],
    ["created", p.createdAt],
    ...(p.designFiles ?? []).map((f) => [`design file`, `${f.name}: ${f.file}, sha256 ${f.sha256}`] as const),
  ];
}
