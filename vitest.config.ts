// Vitest configuration: tests sit next to the code they test.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { ciReporters } from "./cli/no-skip-reporter.ts";

export default defineConfig({
  test: {
    include: ["{model,generators,properties,reports,cli,conformance,kernel}/**/*.test.ts"],
    pool: "threads",
    // A guard against a hang, not a speed bound: every test runs a fixed number of seeded runs, and how fast they
    // go is measured by `npm run bench`. (The default 5 s failed a mutant-kill test that takes 4-6 s alone.)
    testTimeout: 60_000,
    // In CI every test must run: a skipped one fails the run (cli/no-skip-reporter.ts).
    reporters: ciReporters(),
    // Counterexamples the tests make (and the commands they run) go to a directory of the run's own, never into the
    // working tree's reports/counterexamples/ among the user's (properties/property.ts COUNTEREXAMPLE_DIR).
    globalSetup: ["./cli/tree-guard.ts"],
    env: { DISPATCH_SPEC_COUNTEREXAMPLES: process.env["DISPATCH_SPEC_COUNTEREXAMPLES"] ?? mkdtempSync(join(tmpdir(), "dispatch-spec-counterexamples-")) },
  },
});
