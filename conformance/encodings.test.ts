// The encoding conformance check itself: its assembly text, and (where Debian's AArch64 binutils are installed)
// full agreement between the model's words and GNU as.

import { describe, expect, it } from "vitest";
import { itWithTool } from "../cli/needs-tool.ts";
import { cases, compareEncodings, gasText, toolsPresent, variantWords } from "./encodings.ts";

describe("encoding conformance", () => {
  it("writes pc-relative targets as .+N so no symbols are needed", () => {
    expect(gasText({ kind: "bl", offset: -0x8000000 })).toBe("bl .-134217728");
    expect(gasText({ kind: "cbnz", rt: 17, offset: 8 })).toBe("cbnz x17, .+8");
    expect(gasText({ kind: "adrp", rd: 16, offset: 4096 })).toBe("adrp x16, .+4096");
    expect(gasText({ kind: "orr_reg", rd: 9, rn: 31, rm: 30 })).toBe("mov x9, x30");
  });

  it("covers the range edges and every variant's trampoline words", () => {
    const all = cases();
    expect(all).toContainEqual({ kind: "bl", offset: -0x8000000 });
    expect(all).toContainEqual({ kind: "bl", offset: 0x7fffffc });
    expect(variantWords().some((w) => w.where.startsWith("v1-posted ftrace_caller"))).toBe(true);
  });

  itWithTool(toolsPresent(), "aarch64-linux-gnu-as")("agrees with aarch64-linux-gnu-as on every word", () => {
    const r = compareEncodings();
    expect(r.mismatches).toEqual([]);
    expect(r.checked).toBeGreaterThan(300);
  });
});
