// A test that needs a host tool is skipped only off CI: in CI a missing tool fails the run.

import { describe, expect, it } from "vitest";
import { toolTestMode } from "./needs-tool.ts";

describe("tests that need a host tool", () => {
  it.each([
    [true, undefined, "run"],
    [true, "true", "run"],
    [false, undefined, "skip"],
    [false, "false", "skip"],
    [false, "true", "fail"],
  ] as const)("present=%s, CI=%s: %s", (present, ci, mode) => {
    expect(toolTestMode(present, ci)).toBe(mode);
  });
});
