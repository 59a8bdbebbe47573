// behaviourKey: the gate runs a cell once for designs that behave alike. A bug of the history that is upstream with
// one of the suite's mutants has that mutant's key, and its outcome, design name aside, is the mutant's; designs that
// differ in anything but their names do not share a key.

import { describe, expect, it } from "vitest";
import { runProperty } from "../../properties/runner.ts";
import { propertyByName } from "../../properties/index.ts";
import { TEST_SEED } from "../../properties/harness.ts";
import { VARIANT_NAMES, behaviourKey, variantByName } from "./index.ts";
import { HISTORY } from "./history/index.ts";

const key = (n: string): string => behaviourKey(variantByName(n)!);

describe("behaviourKey", () => {
  it("gives a history bug that is upstream with a suite mutant that mutant's key", () => {
    expect(key("bug-d05cb470663a")).toBe(key("upstream+direct-entries-kept-on-failure"));
    expect(key("bug-edb096e00724")).toBe(key("upstream+shutdown-skips-sync-without-command"));
    expect(key("fix-a6253579977e")).toBe(key("upstream"));
  });

  it("separates designs that differ in anything but their names", () => {
    const keys = VARIANT_NAMES.map(key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(key("upstream+drop-notrace")).not.toBe(key("upstream"));
    // Same switches, another world: the init-text fix is upstream with a wider scope.
    expect(key("fix-a7ed7b9d0ebb")).not.toBe(key("upstream"));
    for (const h of HISTORY.filter((x) => x.kind === "bug")) expect(key(h.name), h.name).not.toBe(key(h.pairedWith!));
  });

  it("is honest: the two designs' outcomes differ only in the design's name", () => {
    const p = propertyByName("modify-validates")!;
    const a = runProperty(p, variantByName("bug-d05cb470663a")!, { seed: TEST_SEED, numRuns: 2000 });
    const b = runProperty(p, variantByName("upstream+direct-entries-kept-on-failure")!, { seed: TEST_SEED, numRuns: 2000 });
    expect(a.ok).toBe(false);
    const strip = (o: typeof a): unknown => ({ ...o, ms: 0, variant: "", counterexample: { ...o.counterexample, variant: "", counterexample: { ...o.counterexample?.counterexample, variant: "" } } });
    expect(strip(a)).toEqual(strip(b));
  });
});
