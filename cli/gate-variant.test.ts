// The variant front door as a user runs it: `gate --variant` judges only the named designs against a baseline's
// recorded row, says per property what changed, marks upstream's own findings as inherited, and exits 1 only when
// a property the baseline holds fails; bad names get one line with the nearest known ones.

import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cli } from "./testkit.ts";
import { variantChange } from "./gate-variant.ts";

describe("gate --variant", () => {
  it("a fix: newly holding where upstream fails, the rest unchanged, exit 0", { timeout: 120_000 }, async () => {
    const r = await cli(["gate", "--variant", "survivor-fix", "--runs", "100", "--workers", "2"]);
    expect(r.err).toBe("");
    expect(r.out).toContain("survivor-fix against upstream's recorded verdicts");
    expect(r.out).toMatch(/recursion-protected\s+safety\s+fails\s+holds\s+newly holding/);
    expect(r.out).toMatch(/reference-agreement\s+agreement\s+holds\s+holds\s+unchanged/);
    expect(r.out).toContain("0 newly failing, 1 newly holding");
    // Only that design's cells ran: no other variant, no mutant.
    expect(r.out).not.toMatch(/^v1-posted/m);
    expect(r.code).toBe(0);
  });

  it("a breaking change: newly failing with its counterexample and replay command, upstream's finding inherited, exit 1", { timeout: 120_000 }, async () => {
    const r = await cli(["gate", "--variant", "upstream+skip-literal-update", "--runs", "100", "--workers", "2"]);
    expect(r.out).toMatch(/literal-valid\s+safety\s+holds\s+fails\s+newly failing/);
    expect(r.out).toMatch(/recursion-protected\s+safety\s+fails\s+fails\s+inherited \(upstream's recorded finding/);
    expect(r.out).toMatch(/reference-agreement: .*\[agreement with upstream's choices, not safety/);
    const replay = /replay: npx dispatch-spec replay (\S+--literal-valid\.json)/.exec(r.out);
    expect(replay).not.toBeNull();
    expect(existsSync(replay![1]!)).toBe(true);
    expect(r.code).toBe(1);
  });

  it("judges against another recorded baseline when told", { timeout: 120_000 }, async () => {
    const r = await cli(["gate", "--variant", "upstream", "--baseline", "survivor-fix", "--runs", "100", "--workers", "2"]);
    expect(r.out).toContain("upstream against survivor-fix's recorded verdicts");
    expect(r.out).toMatch(/recursion-protected\s+safety\s+holds\s+fails\s+newly failing/);
    expect(r.code).toBe(1);
  });

  it("refuses bad names and flags in one line", async () => {
    const bad = async (...argv: string[]): Promise<string> => {
      const r = await cli(["gate", ...argv]);
      expect(r.code).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      return r.err;
    };
    expect(await bad("--variant", "survivor-fx")).toContain('unknown variant "survivor-fx" (did you mean survivor-fix?');
    expect(await bad("--variant", "upstream+drop-notrac")).toContain("did you mean drop-notrace?");
    expect(await bad("--variant", "upstream", "--baseline", "upstrm")).toContain("did you mean upstream?");
    expect(await bad("--baseline", "upstream")).toContain("--baseline is for --variant");
    expect(await bad("--variant", "upstream", "--update")).toContain("--variant and --design judge designs against a baseline");
  });
});

describe("variantChange", () => {
  it("names each change, upstream's own findings inherited only against upstream", () => {
    expect(variantChange("literal-valid", "holds", "fails", true)).toBe("newly failing");
    expect(variantChange("recursion-protected", "fails", "holds", true)).toBe("newly holding");
    expect(variantChange("recursion-protected", "fails", "fails", true)).toBe("inherited");
    expect(variantChange("recursion-protected", "fails", "fails", false)).toBe("unchanged");
    expect(variantChange("literal-valid", "fails", "fails", true)).toBe("unchanged");
    expect(variantChange("manager-exact", null, "fails", true)).toBe("newly failing");
    expect(variantChange("manager-exact", null, "holds", true)).toBe("unchanged");
  });
});

describe("list", () => {
  it("lists variants, properties (with what each judges) and mutants (with what kills each)", async () => {
    const v = await cli(["list", "variants"]);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^upstream\s+merged CALL_OPS/m);
    expect(v.out).toMatch(/^bug-3b23e4991fb6\s/m);
    const p = await cli(["list", "properties"]);
    expect(p.out).toMatch(/^reference-agreement\s+\[agreement\]/m);
    expect(p.out).toMatch(/^no-use-after-free\s+\[safety, concurrent\]/m);
    const m = await cli(["list", "mutants"]);
    expect(m.out).toMatch(/^skip-literal-update\s+.*\(killed by .*literal-valid/m);
    const bad = await cli(["list", "mutant"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("did you mean mutants?");
  });

  it("prints the version", async () => {
    const r = await cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
