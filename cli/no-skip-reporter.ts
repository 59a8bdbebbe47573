// A vitest reporter for CI: every test must run there, so a skipped test (an `it.skip`, a `skipIf` that took) fails
// the run with one line per test; off CI it says nothing. vitest.config.ts adds it when CI=true.

import type { Reporter, TestModule } from "vitest/node";

/** The skipped tests of a run, as "file > test" lines. */
export function skippedTests(modules: ReadonlyArray<TestModule>): string[] {
  const out: string[] = [];
  for (const m of modules) for (const t of m.children.allTests("skipped")) out.push(`${m.moduleId.replace(`${process.cwd()}/`, "")} > ${t.fullName}`);
  return out;
}

export class NoSkipInCi implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped = skippedTests(modules);
    if (skipped.length === 0) return;
    for (const s of skipped) process.stderr.write(`dispatch-spec: a test was skipped in CI (every test must run there): ${s}\n`);
    process.exitCode = 1;
  }
}

/** The reporters vitest.config.ts sets: vitest's own, plus NoSkipInCi when CI=true. */
export function ciReporters(ci: string | undefined = process.env["CI"]): Array<"default" | Reporter> {
  return ci === "true" ? ["default", new NoSkipInCi()] : ["default"];
}
