// The coverage gate can fail: a generator with one input class removed (layouts with an out-of-range trampoline
// filtered out) falls below the minimums `gate --update` would set from the full generator, and the gate names that
// label (and the one dispatch path it feeds); the full generator passes. Also the judgement's edges and the committed file's shape.

import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../cli/common.ts";
import { classifyAddress } from "../generators/layout.ts";
import { runArb } from "../generators/run.ts";
import { scenarioLayout, type Scenario } from "../model/scenario.ts";
import { upstream } from "../model/variants/upstream.ts";
import { propertyByName } from "../properties/index.ts";
import { checkRun } from "../properties/property.ts";
import { CoverageCollector } from "./coverage.ts";
import { GATED_LABELS, minimumsSchema, shortfallLine, shortfalls, updatedMinimums } from "./coverage-gate.ts";
import type { Coverage } from "./results.ts";

/** What a property's runs over these scenarios reach (its layouts, states, paths, returns). */
function coverageOf(scenarios: ReadonlyArray<Scenario>): Coverage {
  const c = new CoverageCollector();
  const p = propertyByName("exact-handlers")!;
  for (const s of scenarios) checkRun(p, s, upstream, c);
  return c.result();
}

const hasFar = (s: Scenario): boolean => {
  const l = scenarioLayout(s);
  return l.trampolines.some((t) => classifyAddress(l, t.addr).includes("far"));
};

describe("the coverage gate", () => {
  it("names the label a blinded generator stops reaching, and the path it feeds", { timeout: 120_000 }, () => {
    const N = 300;
    const full = coverageOf(fc.sample(runArb("upstream"), { seed: 20261206, numRuns: N }));
    const blind = coverageOf(fc.sample(runArb("upstream").filter((s) => !hasFar(s)), { seed: 20261206, numRuns: N }));
    const minimums = updatedMinimums({ upstream: full }, null, "test");
    expect(shortfalls({ upstream: full }, minimums)).toEqual([]);
    const short = shortfalls({ upstream: blind }, minimums);
    // The class itself, and the path it feeds: a direct call to an out-of-range trampoline goes through ftrace_caller
    // (caller-direct), so without far trampolines that path is reached half as often. Nothing else moves.
    expect(short.map((s) => s.label).sort()).toEqual(["paths: caller-direct", "trampolineClasses: far"]);
    const far = short.find((s) => s.label === "trampolineClasses: far")!;
    expect(shortfallLine(far)).toMatch(/^coverage: upstream: "trampolineClasses: far" reached 0 times, below its minimum of [1-9]\d*$/);
  });

  it("scales minimums for a shorter run and skips designs the run did not include", () => {
    const c: Coverage = { siteStates: {}, transitions: {}, paths: { "caller-list": 40 }, trampolineClasses: {}, apiReturns: {}, windows: {} };
    const m = { designs: { upstream: { "paths: caller-list": 100 }, "survivor-fix": { "paths: caller-list": 100 } } };
    expect(shortfalls({ upstream: c }, m).map((s) => [s.design, s.got, s.min])).toEqual([["upstream", 40, 100]]);
    expect(shortfalls({ upstream: c }, m, 0.4)).toEqual([]);
    // A label of a section a result does not have (an older results.json) counts zero.
    expect(shortfalls({ upstream: { ...c, windows: undefined } as unknown as Coverage }, { designs: { upstream: { "windows: a grace period that waits for a CPU": 1 } } })).toHaveLength(1);
  });

  it("is committed for upstream with every gated label and a positive minimum for each", () => {
    const file = minimumsSchema.parse(JSON.parse(readFileSync(join(ROOT, "reports", "coverage-minimums.json"), "utf8")));
    const up = file.designs["upstream"] ?? {};
    expect(Object.keys(up).sort()).toEqual([...(GATED_LABELS["upstream"] ?? [])].sort());
    for (const [label, min] of Object.entries(up)) expect(min, label).toBeGreaterThan(0);
  });
});
