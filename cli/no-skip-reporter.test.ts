// In CI a skipped test fails the run: vitest run on a throwaway project (under node_modules/.cache) with one skipped test, with CI=true and
// without, through the reporters vitest.config.ts takes (ciReporters).

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./common.ts";

describe("a skipped test in CI", { timeout: 60_000 }, () => {
  it("fails the run with one line naming it, and only in CI", () => {
    // Inside the project, so that the throwaway config resolves vitest from its node_modules.
    const cache = join(ROOT, "node_modules", ".cache");
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(join(cache, "dispatch-spec-noskip-"));
    try {
      writeFileSync(join(dir, "a.test.ts"), 'import { it } from "vitest";\nit.skip("left out", () => {});\nit("runs", () => {});\n');
      writeFileSync(
        join(dir, "vitest.config.ts"),
        `import { defineConfig } from "vitest/config";\nimport { ciReporters } from ${JSON.stringify(join(ROOT, "cli", "no-skip-reporter.ts"))};\nexport default defineConfig({ test: { include: ["a.test.ts"], reporters: ciReporters() } });\n`,
      );
      const run = (ci: string): { status: number | null; err: string } => {
        const r = spawnSync(join(ROOT, "node_modules", ".bin", "vitest"), ["run", "--root", dir], { encoding: "utf8", env: { ...process.env, CI: ci } });
        return { status: r.status, err: r.stderr };
      };
      const inCi = run("true");
      expect(inCi.status).toBe(1);
      expect(inCi.err).toMatch(/^dispatch-spec: a test was skipped in CI \(every test must run there\): .*a\.test\.ts > left out$/m);
      const local = run("false");
      expect(local.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
