// The gate runs all properties of a design over one execution of each generated run (runProperties,
// runConcurrentProperties). Its outcomes must be exactly those of each property run alone, on every design the
// gate runs rows of, on a design whose runs kill ftrace, and where calls themselves change the kernel.

import { describe, expect, it } from "vitest";
import { VARIANT_NAMES, variantByName } from "../model/variants/index.ts";
import { CONCURRENT_PROPERTIES, PROPERTIES, propertyApplies } from "./index.ts";
import { runConcurrentProperties, runConcurrentProperty } from "./concurrency.ts";
import { type Outcome } from "./property.ts";
import { runProperties, runProperty } from "./runner.ts";
import { TEST_SEED } from "./harness.ts";

/** What a verdict consists of (the time aside). */
function verdict(o: Outcome): unknown {
  return { property: o.property, variant: o.variant, runs: o.runs, ok: o.ok, path: o.path, message: o.message, error: o.error, steps: o.counterexample?.steps, schedule: o.counterexample?.schedule, coverage: o.coverage };
}

const DESIGNS = [...VARIANT_NAMES, "fix-c3b0f72e805f", "pending-single-direct-ops", "upstream+reset-direct-early", "upstream+drop-notrace"];
const RUNS = 60;

describe("fused runs", () => {
  it.each(DESIGNS)("give each sequential property on %s the outcome it gets alone", (name) => {
    const d = variantByName(name)!;
    const ps = PROPERTIES.filter((p) => propertyApplies(p, d));
    const fused = runProperties(ps, d, { seed: TEST_SEED, numRuns: RUNS });
    const alone = ps.map((p) => runProperty(p, d, { seed: TEST_SEED, numRuns: RUNS }));
    expect(fused.map(verdict)).toEqual(alone.map(verdict));
  });

  it.each(DESIGNS)("give each concurrent property on %s the outcome it gets alone", (name) => {
    const d = variantByName(name)!;
    const ps = CONCURRENT_PROPERTIES.filter((p) => propertyApplies(p, d));
    const fused = runConcurrentProperties(ps, d, { seed: TEST_SEED, numRuns: RUNS });
    const alone = ps.map((p) => runConcurrentProperty(p, d, { seed: TEST_SEED, numRuns: RUNS }));
    expect(fused.map(verdict)).toEqual(alone.map(verdict));
  });
});
