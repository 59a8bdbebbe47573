// The shared shape of every property's test file: the property holds on `upstream` over a pinned seed, and it
// kills its mutant with a shrunk counterexample of at most the stated number of steps. Kept in one place so each
// property's test file is its name and nothing else to get wrong.

import { test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { withMutant } from "../model/mutants.ts";
import { upstream } from "../model/variants/upstream.ts";
import { runArb } from "../generators/run.ts";
import { checkRun, runProperty, type Property } from "./property.ts";

/** Seeds and run counts for the test suite (npm test); `npm run check` runs more. */
export const TEST_SEED = 20261125;
export const TEST_RUNS = 250;
const MUTANT_RUNS = 1000;

export function describeProperty(p: Property): void {
  describe(`property ${p.name}`, () => {
    test.prop([runArb(upstream.name)], { seed: TEST_SEED, numRuns: TEST_RUNS })(`holds on upstream`, (s) => {
      const f = checkRun(p, s, upstream);
      if (f !== null) throw new Error(`${p.name} violated after step ${f.index + 1}: ${f.message}\nscenario: ${JSON.stringify({ ...s, steps: s.steps.slice(0, f.index + 1) })}`);
    });

    it(`kills the mutant ${p.killedBy.mutant} with at most ${p.killedBy.maxSteps} steps`, () => {
      const out = runProperty(p, withMutant(upstream, p.killedBy.mutant), { seed: TEST_SEED, numRuns: MUTANT_RUNS });
      expect(out.error).toBeUndefined();
      expect(out.ok).toBe(false);
      expect(out.counterexample?.steps.length).toBeLessThanOrEqual(p.killedBy.maxSteps);
      expect(out.counterexample?.counterexample?.property).toBe(p.name);
      expect(out.message).toBeTruthy();
    });
  });
}
