// recursion-protected: fails on upstream (the CALL_OPS rule judged on the removed ops), holds on survivor-fix,
// and kills its mutant on survivor-fix.

import { describe, it } from "vitest";
import { survivorFix } from "../model/variants/survivor-fix.ts";
import { describeProperty, failureReport, TEST_RUNS, TEST_SEED } from "./harness.ts";
import { runProperty } from "./runner.ts";
import { recursionProtected } from "./recursion-protected.ts";

describeProperty(recursionProtected);

describe("property recursion-protected on survivor-fix", () => {
  it("holds", () => {
    const out = runProperty(recursionProtected, survivorFix, { seed: TEST_SEED, numRuns: TEST_RUNS });
    if (!out.ok) throw new Error(failureReport(out));
  });
});

