// manager-exact: holds where it has nothing to judge (upstream) and on the proposed fix, kills its mutant there,
// and flags both merges the kernel has run: today's for a subops whose notrace covers its filter, the one before
// 0ae6b8ce200d for a subops' notrace name another subops' filter brings back.

import { describe, expect, it } from "vitest";
import { variantByName } from "../model/variants/index.ts";
import { describeProperty, failureReport, TEST_RUNS, TEST_SEED } from "./harness.ts";
import { managerExact } from "./manager-exact.ts";
import { runProperty } from "./runner.ts";

describeProperty(managerExact);

describe("manager-exact on the fgraph designs", () => {
  it("holds on the proposed fix, whose runs register subops", () => {
    const out = runProperty(managerExact, variantByName("fgraph-notrace-fix")!, { seed: TEST_SEED, numRuns: TEST_RUNS });
    if (!out.ok) throw new Error(failureReport(out));
    expect(out.runs).toBe(TEST_RUNS);
  });

  it("flags today's merge with one subops whose notrace covers its filter", () => {
    const out = runProperty(managerExact, variantByName("fix-38b14061947f")!, { seed: TEST_SEED, numRuns: 1000 });
    expect(out.ok).toBe(false);
    expect(out.message).toMatch(/graph_ops traces \w+, which no subops selects/);
    expect(out.counterexample?.steps.length).toBe(1);
  });

  it("flags the merge before 0ae6b8ce200d in two steps: a live notrace change the manager does not follow", () => {
    const out = runProperty(managerExact, variantByName("bug-0ae6b8ce200d")!, { seed: TEST_SEED, numRuns: 1000 });
    expect(out.ok).toBe(false);
    // One subops cannot show it: the first one's hashes are the manager's as they are.
    expect(out.counterexample?.steps.length).toBe(2);
    expect(out.message).toMatch(/graph_ops (traces \w+, which no subops selects|does not trace \w+, which a subops selects)/);
  });
});
