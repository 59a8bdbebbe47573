// Progress reporting for long runs: a bar on a terminal, a periodic line in a log.

import { describe, expect, it } from "vitest";
import { lineProgress } from "./check.ts";
import { cli } from "./testkit.ts";

describe("lineProgress", () => {
  it("writes at most one line per 10 seconds with the count so far", () => {
    let t = 0;
    const lines: string[] = [];
    const p = lineProgress((s) => lines.push(s), () => t);
    p.start(1000);
    p.tick(100);
    t = 5_000;
    p.tick(100);
    t = 10_500;
    p.tick(100);
    t = 12_000;
    p.tick(100);
    t = 21_000;
    p.tick(200);
    p.stop();
    expect(lines).toEqual(["progress: 300/1000 runs (30%)\n", "progress: 600/1000 runs (60%)\n"]);
  });
});

describe("check --property with a concurrent property", () => {
  it("checks it as one without --concurrency, and suggests the nearest name for a typo", async () => {
    const r = await cli(["check", "--property", "no-use-after-free", "--runs", "20", "--seed", "1", "--workers", "1"]);
    expect(r.out).toContain("dispatch-spec check --concurrency: variant upstream");
    expect(r.out).toMatch(/no-use-after-free\s+20\s+holds/);
    expect(r.code).toBe(0);
    const bad = await cli(["check", "--property", "no-use-after-fre"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown property "no-use-after-fre" (did you mean no-use-after-free?');
  });
});

describe("progress", () => {
  it("ends at its total even when cells stop at their first failure", { timeout: 60_000 }, async () => {
    let total = -1;
    let done = 0;
    const r = await cli(["check", "--variant", "upstream+skip-literal-update", "--runs", "300", "--seed", "1", "--workers", "2"], { start: (t) => (total = t), tick: (n) => (done += n), stop: () => {} });
    expect(r.code).toBe(1);
    expect(total).toBeGreaterThan(0);
    expect(done).toBe(total);
  });
});

describe("check on a design without a row of its own", () => {
  it("judges it against upstream's row: upstream's finding is inherited, a new failure is not", { timeout: 60_000 }, async () => {
    const r = await cli(["check", "--variant", "upstream+skip-literal-update", "--runs", "200", "--seed", "1", "--workers", "2"]);
    expect(r.out).toMatch(/recursion-protected .* fails .*\(expected: inherited: upstream fails it too/);
    expect(r.out).toMatch(/literal-valid .* FAILS/);
    expect(r.code).toBe(1);
  });
});
