// ops-ownership: holds on upstream and on the v6.0 world whose registrations can kill ftrace (c3b0f72e805f's fix is
// in it), kills the tree before c3b0f72e805f, and judges the direct API's and IPMODIFY's error paths on upstream.

import { describe, expect, it } from "vitest";
import { variantByName } from "../model/variants/index.ts";
import { describeProperty, failureReport, TEST_RUNS, TEST_SEED } from "./harness.ts";
import { opsOwnership } from "./ops-ownership.ts";
import { runProperty } from "./runner.ts";

describeProperty(opsOwnership);

describe("ops-ownership where ftrace dies", () => {
  it("holds on the v6.0 world (ftrace dies there, and c3b0f72e805f unlinks the ops that killed it)", () => {
    const out = runProperty(opsOwnership, variantByName("bug-91970bef48d6")!, { seed: TEST_SEED, numRuns: TEST_RUNS });
    if (!out.ok) throw new Error(failureReport(out));
    expect(out.runs).toBe(TEST_RUNS);
  });

  it("says why the owner is misled before c3b0f72e805f", () => {
    const out = runProperty(opsOwnership, variantByName("bug-91970bef48d6+startup-keeps-dead-ops")!, { seed: TEST_SEED, numRuns: 1000 });
    expect(out.ok).toBe(false);
    expect(out.message).toMatch(/register_ftrace_function \w+ returned 0, but its own patching killed ftrace/);
    expect(out.counterexample?.steps.length).toBe(1);
  });
});
