// Repeated violations fold into one line with the first and last place and a count.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "../cli/testkit.ts";
import { parseScenario, runScenario } from "../model/scenario.ts";
import { foldViolations } from "./fold.ts";
import { traceLines } from "./trace.ts";

describe("foldViolations", () => {
  it("folds a run of one check at consecutive instructions and keeps the others in order", () => {
    const sp = (off: string): string => `SP alignment fault: sp=0xffff80000effff68 used as a base register at ftrace_caller+${off}`;
    const entry = "SP alignment: sp 0xffff80000effff68 is not 16-byte aligned on entry to A.func";
    expect(foldViolations([sp("0x20"), sp("0x24"), sp("0x28"), entry, sp("0x70"), sp("0x74")])).toEqual([
      "SP alignment fault: sp=0xffff80000effff68 used as a base register at ftrace_caller+0x20 … ftrace_caller+0x28 (3 times)",
      entry,
      "SP alignment fault: sp=0xffff80000effff68 used as a base register at ftrace_caller+0x70 … ftrace_caller+0x74 (2 times)",
    ]);
  });

  it("keeps single messages, messages without a place, and different checks apart", () => {
    const m = ["body of f ran 2 times", "fault: x at a", "fault: y at a", "fault: y at b"];
    expect(foldViolations(m)).toEqual(["body of f ran 2 times", "fault: x at a", "fault: y at a … b (2 times)"]);
    expect(foldViolations([])).toEqual([]);
  });
});

describe("folded violations where people read them", () => {
  const scenario = parseScenario({
    variant: "v1-posted",
    functions: [{ name: "f", addr: "0xffff800009000000" }],
    steps: [
      { do: "register_ftrace_function", ops: "A", filter: ["f"] },
      { do: "call", fn: "f" },
    ],
  });

  it("in a counterexample's trace (the reports' step table), one line per run of repeats", () => {
    const lines = traceLines(scenario.steps, runScenario(scenario), null);
    expect(lines.filter((l) => l.includes("used as a base register"))).toEqual([
      "       ! SP alignment fault: sp=0xffff80000effff68 used as a base register at ftrace_caller+0x20 … ftrace_caller+0x50 (12 times)",
      "       ! SP alignment fault: sp=0xffff80000effff68 used as a base register at ftrace_caller+0x70 … ftrace_caller+0x90 (9 times)",
    ]);
  });

  it("in the terminal's `run` table", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-fold-"));
    const file = join(dir, "sp.json");
    writeFileSync(file, JSON.stringify({ variant: "v1-posted", functions: [{ name: "f", addr: "0xffff800009000000" }], steps: scenario.steps }));
    const r = await cli(["run", file]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.out).toContain("used as a base register at ftrace_caller+0x20 … ftrace_caller+0x50 (12 times)");
    expect(r.out.match(/used as a base register/g)).toHaveLength(2);
  });
});
