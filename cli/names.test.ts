import { describe, expect, it } from "vitest";
import { editDistance, nearestNames, unknownName } from "./names.ts";

describe("nearest names", () => {
  it("measures edits", () => {
    expect(editDistance("upstrem", "upstream")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("literal-valid", "literal-valid")).toBe(0);
  });

  it("suggests the nearest known names, and none for a name far from all", () => {
    const known = ["upstream", "v1-posted", "v1-fixups", "survivor-fix"];
    expect(nearestNames("upstrem", known)).toEqual(["upstream"]);
    expect(nearestNames("v1-fixup", known)).toEqual(["v1-fixups"]);
    expect(nearestNames("survivor", known)).toEqual(["survivor-fix"]);
    expect(nearestNames("zzzzzzzz", known)).toEqual([]);
  });

  it("says it in one line, with the command that lists every name", () => {
    expect(unknownName("variant", "upstrem", ["upstream"], "variants").message).toBe('unknown variant "upstrem" (did you mean upstream? all of them: dispatch-spec list variants)');
    expect(unknownName("variant", "qqq", ["upstream"], "variants").message).toBe('unknown variant "qqq" (all of them: dispatch-spec list variants)');
  });
});
