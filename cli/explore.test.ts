// `dispatch-spec explore` as a user runs it: the known finding on upstream reported as expected while the search
// goes on, a mutant's violation as a shortest scenario with exit 1, the same numbers over worker threads as in
// one thread, and one-line errors for bad flags.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cli as run, type CliRun } from "./testkit.ts";

function cli(...argv: string[]): Promise<CliRun> {
  return run(argv);
}

/** The "states found ..." line without its timing. */
function counts(out: string): string {
  return /states found \d+, distinct \d+, depth reached \d+/.exec(out)?.[0] ?? "";
}

describe("dispatch-spec explore", { timeout: 60_000 }, () => {
  it("reports the recorded finding on upstream as expected and explores on with the other properties", async () => {
    const r = await cli("explore", "--functions", "1", "--depth", "3", "--workers", "1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/recursion-protected fails as expected on upstream \(a known finding, see README\) at depth 3: call f: B needs ftrace_ops_assist_func/);
    expect(r.out).toContain("no violation of the other 11 properties up to depth 3\n");
    const file = /shortest scenario: (\S+)/.exec(r.out)?.[1] ?? "";
    const s = JSON.parse(readFileSync(file, "utf8")) as { steps: unknown[]; counterexample: { property: string } };
    expect(s.steps).toHaveLength(3);
    expect(s.counterexample.property).toBe("recursion-protected");
  });

  it("says when the finding does not show at a shallower depth, without failing", async () => {
    const r = await cli("explore", "--functions", "1", "--depth", "2", "--workers", "1", "--property", "recursion-protected");
    expect(r.code).toBe(0);
    expect(r.out).toContain("recursion-protected (a known finding on upstream) did not show up to depth 2\n");
  });

  it("stops at a mutant's violation with the shortest scenario and exit 1", async () => {
    const r = await cli("explore", "--variant", "upstream+skip-literal-update", "--property", "literal-valid", "--depth", "3", "--workers", "1");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/literal-valid violated at depth 1: /);
    expect(r.out).toMatch(/shortest scenario: \S+ \(replay: npx dispatch-spec replay \S+\)/);
  });

  it("finds the same states over two worker threads as in one", async () => {
    const one = await cli("explore", "--functions", "1", "--depth", "3", "--workers", "1");
    const two = await cli("explore", "--functions", "1", "--depth", "3", "--workers", "2");
    expect(two.out).toContain("2 workers");
    expect(counts(two.out)).not.toBe("");
    expect(counts(two.out)).toBe(counts(one.out));
    expect(two.code).toBe(one.code);
  });

  it.each([
    [["--functions", "4"], "--functions: the scope has at most 3 functions"],
    [["--ops", "5"], "--ops: the scope has at most 4 ops"],
    [["--variant", "nope"], '--variant: unknown variant "nope"'],
    [["--property", "nope"], '--property: unknown property "nope"'],
    [["--workers", "0"], '--workers: expected an integer >= 1, got "0"'],
    [["--depth", "x"], '--depth: expected an integer >= 0, got "x"'],
  ])("rejects %j in one line with exit 2", async (argv, message) => {
    const r = await cli("explore", ...argv);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain(message);
  });
});

describe("explore's bounds as a user gives them", () => {
  it("--states: a budget in states, the same answer over one and two workers, exit 0", { timeout: 120_000 }, async () => {
    const one = await run(["explore", "--depth", "8", "--states", "400", "--property", "literal-valid", "--workers", "1"]);
    const two = await run(["explore", "--depth", "8", "--states", "400", "--property", "literal-valid", "--workers", "2"]);
    const verdict = (out: string): string => out.split("\n").filter((l) => l.startsWith("no violation") || l.startsWith("states found")).map((l) => l.replace(/, [\d.]+ s, \d+ states\/s/, "")).join("\n");
    expect(one.out).toMatch(/no violation up to depth \d+ \(the state budget of 400 was passed at that depth\)/);
    expect(verdict(one.out)).toBe(verdict(two.out));
    expect(one.code).toBe(0);
  });

  it("--time is a hang guard: a search it stops is no verdict, exit 1", { timeout: 120_000 }, async () => {
    const r = await run(["explore", "--depth", "20", "--time", "1", "--property", "literal-valid", "--workers", "1"]);
    expect(r.out).toMatch(/the search hit its 1 s hang guard after \d+ states .*no verdict.*give --time more seconds/);
    expect(r.code).toBe(1);
  });
});
