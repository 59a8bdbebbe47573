// The shared shape of every property's test file: the property holds on `upstream` over a pinned seed, and it
// kills its mutant with a shrunk counterexample of at most the stated number of steps. A failure is saved as a
// scenario file under reports/counterexamples/ and reported with its seed and path. Kept in one place so each
// property's test file is its name and nothing else to get wrong.

import { describe, expect, it } from "vitest";
import { withMutant } from "../model/mutants.ts";
import { upstream } from "../model/variants/upstream.ts";
import { variantByName } from "../model/variants/index.ts";
import { type Outcome, type Property } from "./property.ts";
import { outcomeProvenance, runProperty, writeCounterexample } from "./runner.ts";
import { CONCURRENT_MUTANT_RUNS, runConcurrentProperty, type ConcurrentProperty } from "./concurrency.ts";

/** Seeds and run counts for the test suite (npm test); `npm run check` runs more. */
export const TEST_SEED = 20261125;
export const TEST_RUNS = Number(process.env["DISPATCH_SPEC_TEST_RUNS"] ?? 250);
const MUTANT_RUNS = 1000;

/** A failed outcome as a test failure message, after saving its counterexample. */
export function failureReport(o: Outcome): string {
  const file = o.counterexample === undefined ? null : writeCounterexample(o.counterexample, outcomeProvenance(o));
  return [
    `${o.property} fails on ${o.variant}: ${o.message ?? o.error ?? ""}`,
    `seed ${o.seed}, path ${o.path ?? ""}`,
    ...(file !== null ? [`counterexample: ${file} (replay: npx dispatch-spec replay ${file})`] : []),
  ].join("\n");
}

export function describeProperty(p: Property): void {
  // Test names carry no seed: CI history and mutation testing track tests by name.
  describe(`property ${p.name}`, () => {
    const finding = p.expectedOnUpstream;
    if (finding !== undefined) {
      it("fails on upstream (the kernel as written) with a short counterexample", () => {
        const out = runProperty(p, upstream, { seed: TEST_SEED, numRuns: TEST_RUNS });
        expect(out.error).toBeUndefined();
        expect(out.ok).toBe(false);
        expect(out.message).toMatch(finding.message);
        expect(out.counterexample?.steps.length).toBeLessThanOrEqual(finding.maxSteps);
      });
    } else {
      it("holds on upstream", () => {
        const out = runProperty(p, upstream, { seed: TEST_SEED, numRuns: TEST_RUNS });
        if (!out.ok) throw new Error(failureReport(out));
        expect(out.runs).toBe(TEST_RUNS);
      });
    }

    for (const k of p.kills) {
      const base = variantByName(k.base ?? "upstream") ?? upstream;
      it(`kills the mutant ${k.mutant} with at most ${k.maxSteps} steps`, () => {
        const out = runProperty(p, withMutant(base, k.mutant), { seed: TEST_SEED, numRuns: k.runs ?? MUTANT_RUNS });
        expect(out.error).toBeUndefined();
        expect(out.ok).toBe(false);
        expect(out.counterexample?.steps.length).toBeLessThanOrEqual(k.maxSteps);
        expect(out.counterexample?.counterexample?.property).toBe(p.name);
        expect(out.message).toBeTruthy();
      });
    }
  });
}

/** The same for a concurrent property: it holds on upstream, and kills each of its mutants with a short schedule. */
export function describeConcurrentProperty(p: ConcurrentProperty): void {
  describe(`concurrent property ${p.name}`, () => {
    it("holds on upstream", () => {
      const out = runConcurrentProperty(p, upstream, { seed: TEST_SEED, numRuns: CONCURRENT_TEST_RUNS });
      if (!out.ok) throw new Error(failureReport(out));
      expect(out.runs).toBe(CONCURRENT_TEST_RUNS);
    });

    for (const k of p.kills) {
      it(`kills the mutant ${k.mutant} with a schedule of at most ${k.maxSegments} segments`, () => {
        const out = runConcurrentProperty(p, withMutant(upstream, k.mutant), { seed: k.seed ?? TEST_SEED, numRuns: k.runs ?? CONCURRENT_MUTANT_RUNS });
        expect(out.error).toBeUndefined();
        expect(out.ok).toBe(false);
        expect(out.counterexample?.schedule).toBeDefined();
        expect(out.counterexample?.schedule?.length).toBeLessThanOrEqual(k.maxSegments);
        expect(out.counterexample?.cpus?.length).toBeGreaterThanOrEqual(2);
      });
    }
  });
}

const CONCURRENT_TEST_RUNS = 200;
