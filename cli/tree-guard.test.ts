// The guard that fails npm test when the suite writes among the user's counterexamples.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { guard } from "./tree-guard.ts";

describe("the working-tree guard of npm test", () => {
  const exitCode = process.exitCode;
  afterEach(() => {
    process.exitCode = exitCode;
    vi.restoreAllMocks();
  });

  it("leaves the exit code alone when nothing was written, and sets it to 1, naming the file, when one was", () => {
    const dir = mkdtempSync(join(tmpdir(), "tree-guard-"));
    writeFileSync(join(dir, "old.json"), "{}");
    guard(dir)();
    expect(process.exitCode).toBe(exitCode);
    const said = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const done = guard(dir);
    writeFileSync(join(dir, "upstream--literal-valid.json"), "{}");
    done();
    expect(process.exitCode).toBe(1);
    expect(String(said.mock.calls[0]?.[0])).toContain("npm test wrote into reports/counterexamples/ (the user's): upstream--literal-valid.json");
  });
});
