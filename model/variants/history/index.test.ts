// The record's designs are well formed: named after their commits, paired bug with fix, each bug naming a property
// that exists, and every design found by name (as scenario files, the gate and replay look them up).

import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../../cli/common.ts";
import { CONCURRENT_PROPERTIES, PROPERTIES } from "../../../properties/index.ts";
import { variantByName } from "../index.ts";
import { HISTORY, OUT_OF_SCOPE, historyByName } from "./index.ts";

const PROPERTY_NAMES = new Set([...PROPERTIES, ...CONCURRENT_PROPERTIES].map((p) => p.name));

describe("the kernel's history as designs", () => {
  it("names each design after its commit and pairs every bug with its fix", () => {
    for (const h of HISTORY) {
      if (h.kind === "bug" || h.kind === "fix") {
        expect(h.commit, h.name).toMatch(/^[0-9a-f]{12}$/);
        expect(h.name).toBe(`${h.kind}-${h.commit}`);
      }
      expect(h.design.name).toBe(h.name);
      if (h.pairedWith !== undefined) expect(historyByName(h.pairedWith)?.pairedWith, h.name).toBe(h.name);
    }
    expect(new Set(HISTORY.map((h) => h.name)).size).toBe(HISTORY.length);
  });

  it("gives every finding a fix row may fail for a write-up and an existing property", () => {
    for (const h of HISTORY) {
      for (const f of h.findings ?? []) {
        expect(PROPERTY_NAMES.has(f.property), `${h.name}: ${f.property}`).toBe(true);
        expect(existsSync(join(ROOT, "reports", "findings", f.finding)), `${h.name}: ${f.finding}`).toBe(true);
      }
    }
  });

  it("lets a fix inherit failures only from a recorded bug whose world it runs in", () => {
    for (const h of HISTORY.filter((x) => x.inherits !== undefined)) {
      const from = historyByName(h.inherits!.from);
      expect(from?.kind, h.name).toBe("bug");
      // The same world: the bug's switches, and nothing else, under the fix's name.
      expect([...h.design.mutations].sort(), h.name).toEqual([...from!.design.mutations].sort());
      for (const p of h.inherits!.properties) expect(PROPERTY_NAMES.has(p), `${h.name}: ${p}`).toBe(true);
    }
  });

  it("has every bug name at least one existing property, with a bound of at most 6 steps or segments", () => {
    for (const h of HISTORY.filter((x) => x.kind === "bug")) {
      expect(h.flaggedBy?.length ?? 0, h.name).toBeGreaterThan(0);
      for (const f of h.flaggedBy ?? []) {
        expect(PROPERTY_NAMES.has(f.property), `${h.name}: ${f.property}`).toBe(true);
        expect(f.maxSteps).toBeLessThanOrEqual(6);
      }
    }
  });

  it("finds every design by name, and a fix the merged design contains points at a real variant", () => {
    for (const h of HISTORY) {
      expect(variantByName(h.name), h.name).toBe(h.design);
      if (h.sameAs !== undefined) expect(variantByName(h.sameAs), h.name).toBeDefined();
    }
  });

  it("says why each entry it does not run is out of scope", () => {
    for (const o of OUT_OF_SCOPE) expect(o.why.length, o.commit).toBeGreaterThan(20);
  });
});
