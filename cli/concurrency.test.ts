// The concurrency front door: check --concurrency, concurrent scenario files in run and replay, and their input
// errors.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli as run, type CliRun } from "./testkit.ts";
import { CORPUS_DIR } from "./corpus.ts";
import { loadScenario } from "./load.ts";
import { cellResult } from "./report.ts";

function cli(...argv: string[]): Promise<CliRun> {
  return run(argv);
}

const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-conc-"));
const base = {
  functions: [{ name: "f", addr: "0xffff800009000000" }],
  trampolines: [{ name: "T1", addr: "0xffff8000c0000000" }],
  steps: [
    { do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "T1" },
    { do: "unregister_ftrace_direct", ops: "D" },
  ],
  cpus: [["f", "f"], ["f"]],
  schedule: ["updater x10", "cpu1 x6", "cpu2 x3"],
};

describe("concurrent scenarios", () => {
  it("run prints a per-CPU timeline and each call's outcome", async () => {
    const f = join(dir, "conc.json");
    writeFileSync(f, JSON.stringify(base));
    const r = await cli("run", f);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tick {2}updater\s+cpu1\s+cpu2/);
    expect(r.out).toContain("begin register_ftrace_direct D");
    expect(r.out).toMatch(/cpu1 call f \[ticks \d+-\d+\]: path /);
  });

  it("replay of a concurrent counterexample reproduces its message (exit 1)", async () => {
    const r = await cli("replay", join(CORPUS_DIR, "upstream+free-without-grace--no-use-after-free.json"));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no-use-after-free still fails on upstream\+free-without-grace: .*use after free/);
  });

  it.each([
    ["a call step in a concurrent scenario", { ...base, steps: [...base.steps, { do: "call", fn: "f" }] }, /calls belong under "cpus"/],
    ["a schedule naming a CPU that does not exist", { ...base, schedule: ["cpu3 x2"] }, /cpu3 does not exist/],
    ["a malformed schedule entry", { ...base, schedule: ["cpu1 times 2"] }, /schedule\[0\]: expected "updater", "cpuN"/],
    ["an unknown function on a CPU", { ...base, cpus: [["nope"]] }, /cpus\[0\]\[0\]: unknown function "nope"/],
    ["a schedule without cpus", { ...base, cpus: undefined }, /a schedule needs "cpus"/],
  ])("%s: one line, exit 2", async (_what, content, message) => {
    const f = join(dir, "bad.json");
    writeFileSync(f, JSON.stringify(content));
    const r = await cli("run", f);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message);
  });
});

describe("dispatch-spec check --concurrency", () => {
  it("runs the concurrent properties and prints the table", async () => {
    const r = await cli("check", "--concurrency", "--runs", "40", "--seed", "3", "--workers", "1");
    expect(r.code).toBe(0);
    for (const p of ["literal-valid-always", "no-use-after-free", "transitional-handlers", "quiescent-exact"]) expect(r.out).toMatch(new RegExp(`${p}\\s+40\\s+holds`));
  });

  it("rejects a sequential property name with --concurrency", async () => {
    const r = await cli("check", "--concurrency", "--property", "literal-valid");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown concurrent property "literal-valid"/);
  });
});

describe("reports of concurrent failures", () => {
  it("carry the replayed timeline and the violation as the cell's trace", () => {
    const s = loadScenario(join(CORPUS_DIR, "upstream+reset-direct-early--transitional-handlers.json"));
    const c = cellResult({
      design: "upstream+reset-direct-early",
      property: "transitional-handlers",
      kind: "mutant",
      outcome: { property: "transitional-handlers", variant: "upstream+reset-direct-early", runs: 1, ok: false, seed: 1, ms: 0, counterexample: s },
      expected: "fails",
      changed: false,
      file: null,
    });
    expect(c.counterexample?.trace.some((l) => /^tick\s+updater/.test(l))).toBe(true);
    expect(c.counterexample?.trace.at(-1)).toMatch(/^x transitional-handlers: /);
  });
});
