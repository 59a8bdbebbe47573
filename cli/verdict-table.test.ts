// The gate's verdict table keeps its columns apart: the longest design, mutant and property names leave at least two
// spaces before the next column, in every section.

import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import type { Cell, Judged } from "./gate-plan.ts";
import { verdictLegend, verdictTable } from "./gate.ts";

function judged(cell: Cell, got: "holds" | "fails"): Judged {
  return { cell, outcome: { property: cell.property, variant: cell.design, runs: 1, ok: got === "holds", seed: 1, ms: 1 }, got, want: got, changed: false };
}

describe("the verdict table", () => {
  it("leaves two spaces after the longest names in every column", () => {
    const rows: Judged[] = [
      judged({ design: "pending-direct-without-call-ops", property: "literal-valid", kind: "variant" }, "holds"),
      judged({ design: "upstream+shutdown-skips-sync-without-command", property: "transitional-handlers", kind: "mutant", concurrent: true }, "fails"),
      judged({ design: "survivor-fix+call-ops-ignores-assist", property: "recursion-protected", kind: "mutant" }, "fails"),
      judged({ design: "pending-direct-without-call-ops", property: "transitional-handlers", kind: "history", concurrent: true }, "holds"),
    ];
    const lines = verdictTable(rows).map((l) => stripVTControlCharacters(l));
    for (const r of rows) {
      const line = lines.find((l) => l.startsWith(`${r.cell.design} `) && (r.cell.kind === "variant" || l.includes(r.cell.property)));
      expect(line, `${r.cell.kind} ${r.cell.design}`).toBeDefined();
      // The design's own column ends in two spaces at least.
      expect(line!.slice(r.cell.design.length, r.cell.design.length + 2)).toBe("  ");
      if (r.cell.kind !== "variant") {
        const at = line!.indexOf(r.cell.property, r.cell.design.length);
        expect(line!.slice(at + r.cell.property.length, at + r.cell.property.length + 2)).toBe("  ");
      }
    }
  });
});

describe("the verdict table's heads and legend", () => {
  it("keeps every head apart, marks recorded failures, and explains every short head", () => {
    const rows: Judged[] = [judged({ design: "upstream", property: "recursion-protected", kind: "variant" }, "fails"), judged({ design: "upstream", property: "manager-exact", kind: "variant" }, "holds")];
    const [head, row] = verdictTable(rows).map((l) => stripVTControlCharacters(l));
    // Heads are separated by at least two spaces: none runs into the next.
    const heads = head!.trim().split(/ {2,}/);
    expect(heads[0]).toBe("variant");
    expect(heads).toContain("manager");
    expect(heads).toContain("owner");
    expect(heads).toContain("c:uaf");
    expect(heads.every((h) => !h.includes(" "))).toBe(true);
    expect(row).toContain("fails*");
    const legend = verdictLegend().join("\n");
    for (const h of heads.slice(1)) expect(legend).toMatch(new RegExp(`(^  |, )${h} = [a-z-]+`, "m"));
    expect(legend).toContain("reference = reference-agreement [agreement]");
    expect(legend).not.toContain("literal-valid [agreement]");
    expect(legend).toContain("fails* = a failure reports/expected.json records");
  });
});
