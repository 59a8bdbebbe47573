// `check --variant V` judges V as the gate does, by its row in reports/expected.json: v1-posted's recorded defects
// are expected failures (exit 0), and a property recorded as holding that fails is still a failure.

import { describe, expect, it } from "vitest";
import { cli } from "./testkit.ts";

describe("check --variant against reports/expected.json", { timeout: 120_000 }, () => {
  it("reports v1-posted's recorded failures as expected and exits 0", async () => {
    const r = await cli(["check", "--variant", "v1-posted", "--runs", "100", "--seed", "1", "--workers", "2"]);
    expect(r.out).toMatch(/stack-aligned\s+\d+\s+fails\s.*\(expected: recorded as failing on v1-posted in reports\/expected\.json\)/);
    expect(r.out).toMatch(/branch-hygiene\s+\d+\s+fails\s.*\(expected: recorded as failing on v1-posted/);
    expect(r.out).not.toContain("FAILS");
    expect(r.out).toMatch(/every verdict as expected: \d+ of \d+ properties hold, 3 fail as recorded/);
    expect(r.code).toBe(0);
  });

  it("gives a property recorded as failing the default runs even under a low --runs, as the gate does", async () => {
    const r = await cli(["check", "--variant", "rollback-waits", "--property", "recursion-protected", "--runs", "5", "--seed", "1"]);
    expect(r.out).toMatch(/recursion-protected\s+\d+\s+fails\s.*recorded as failing on rollback-waits/);
    expect(r.code).toBe(0);
  });

  it("still fails a property the design's row says holds", async () => {
    const r = await cli(["check", "--variant", "upstream+drop-notrace", "--property", "exact-handlers", "--runs", "300", "--seed", "1"]);
    expect(r.out).toMatch(/exact-handlers\s+\d+\s+FAILS/);
    expect(r.code).toBe(1);
  });
});
