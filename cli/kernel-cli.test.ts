// The kernel-engineer commands' bad input, run as a user would: one line on stderr and exit 2, before anything is
// built or booted. And the pure parts of the patch gate: what a patch changed, what --expect asks.

import { describe, expect, it } from "vitest";
import { anyFails, expectations, gateExit, patchChanges } from "./gate-kernel.ts";
import { batchSummary } from "./kernel-generated.ts";
import { cli } from "./testkit.ts";

describe("bad input to kernel build, kernel --generated and gate --kernel-patch", () => {
  const cases: Array<[string[], RegExp]> = [
    [["kernel", "build", "--patch", "/nonexistent/fix.patch"], /^dispatch-spec kernel build: --patch: no such file: \/nonexistent\/fix\.patch$/],
    [["kernel", "--generated", "many"], /--generated: expected a number of runs from 1 to 2000/],
    [["kernel", "--generated", "0"], /--generated: expected a number of runs/],
    [["kernel", "--generated", "5", "--kaslr", "sometimes"], /--kaslr: expected on, off or both, got "sometimes"/],
    [["gate", "--kernel-patch", "x.patch", "--kaslr", "maybe"], /--kaslr: expected on, off or both/],
    [["kernel", "--generated", "5", "--seed", "x"], /--seed: expected an integer/],
    [["kernel", "--generated", "5", "kernel/scenarios/k01-list-and-unique.json"], /--generated draws its own runs/],
    [["kernel", "--seed", "3"], /--seed is for --generated/],
    [["gate", "--kernel-patch", "x.patch", "--expect", "recursion-protected"], /--expect: expected PROPERTY=/],
    [["gate", "--kernel-patch", "x.patch", "--expect", "stack-aligned=unchanged"], /--expect: stack-aligned is not judged on a kernel/],
    [["gate", "--kernel-patch", "x.patch", "--entry", "vmlinux"], /--kernel-patch builds its own kernels/],
    [["gate", "--expect", "recursion-protected=unchanged"], /--generated, --expect and --kaslr are for --kernel-patch/],
    [["gate", "--kernel-patch", "x.patch", "--generated", "-1"], /--generated: expected a number of runs/],
  ];
  for (const [argv, line] of cases)
    it(`refuses: ${argv.join(" ")}`, async () => {
      const r = await cli(argv);
      expect(r.code).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err.trim()).toMatch(line);
    });
});

describe("the patch gate's verdicts", () => {
  it("says per property what the patch changed", () => {
    expect(patchChanges({ a: "fails", b: "holds", c: "holds" }, { a: "holds", b: "fails", c: "holds" }).map((c) => `${c.property} ${c.change}`)).toEqual(["a newly holding", "b newly failing", "c unchanged"]);
  });

  it("takes a kernel's verdict over its KASLR settings: a property fails when it fails in either boot", () => {
    expect(anyFails([{ a: "holds", b: "fails", c: "holds" }, { a: "fails", b: "holds", c: "holds" }])).toEqual({ a: "fails", b: "fails", c: "holds" });
  });

  it("exits 0 only when every expectation is met and nothing breaks that was not expected to", () => {
    const out: string[] = [];
    const io = { out: (s: string): void => void out.push(s) };
    const ch = patchChanges({ "literal-valid": "holds", "path-selection": "holds", "recursion-protected": "fails" }, { "literal-valid": "fails", "path-selection": "fails", "recursion-protected": "holds" });
    expect(gateExit(io, ch, new Map(), false)).toBe(1);
    expect(gateExit(io, ch, expectations(["literal-valid=newly-failing"]), false)).toBe(1);
    expect(gateExit(io, ch, expectations(["literal-valid=newly-failing", "path-selection=newly-failing"]), false)).toBe(0);
    expect(gateExit(io, ch, expectations(["literal-valid=newly-failing", "path-selection=newly-failing", "recursion-protected=unchanged"]), false)).toBe(1);
    expect(gateExit(io, ch, expectations(["literal-valid=newly-failing", "path-selection=newly-failing"]), true)).toBe(1);
    expect(out.join("")).toContain("the patch breaks literal-valid, path-selection, as expected");
  });

  it("reads --expect", () => {
    expect([...expectations(["recursion-protected=newly-holding", "literal-valid=unchanged"])]).toEqual([
      ["recursion-protected", "newly holding"],
      ["literal-valid", "unchanged"],
    ]);
  });

  it("fails a batch only on a property the baseline says holds", () => {
    const finding = (property: "recursion-protected" | "literal-valid") => ({ property, run: 3, message: "m", shrunk: { steps: [] } as never, shrunkSteps: 2, originalSteps: 5, reproduced: "fresh" as const });
    const batch = (fs: ReturnType<typeof finding>[]) => ({ seed: 1, runs: 4, steps: 9, findings: fs, differing: 0, firstDifference: null, problems: [], guestRuns: 4 });
    const base = { "recursion-protected": "fails", "literal-valid": "holds" } as const;
    expect(batchSummary(batch([finding("recursion-protected")]), base, "b").unexpected).toEqual([]);
    expect(batchSummary(batch([finding("literal-valid")]), base, "b").unexpected).toEqual(["literal-valid"]);
  });
});
