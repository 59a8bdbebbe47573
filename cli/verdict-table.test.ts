// The gate's verdict table keeps its columns apart: the longest design, mutant and property names leave at least two
// spaces before the next column, in every section.

import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import type { Cell, Judged } from "../reports/gate.ts";
import { verdictTable } from "./gate.ts";

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
