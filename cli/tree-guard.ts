// A vitest global setup: the test suite must leave the user's reports/counterexamples/ alone (its own go to the
// directory vitest.config.ts names in DISPATCH_SPEC_COUNTEREXAMPLES). It notes what the directory holds before the
// run and fails the run, naming the files, if any was added or rewritten by the end.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./common.ts";

const DIR = join(ROOT, "reports", "counterexamples");

/** Each file of the directory and when it was last written. */
function snapshot(dir: string): Map<string, number> {
  if (!existsSync(dir)) return new Map();
  return new Map(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs] as const));
}

export default function setup(): () => void {
  return guard(DIR);
}

/** Note what dir holds now; the function returned fails the process (exit code 1) if a file was added or rewritten. */
export function guard(dir: string): () => void {
  const before = snapshot(dir);
  return () => {
    const written = [...snapshot(dir)].filter(([f, t]) => before.get(f) !== t).map(([f]) => f);
    if (written.length === 0) return;
    // A throw here is only logged by vitest ("error during close"): the exit code is what fails the run.
    process.stderr.write(`dispatch-spec: npm test wrote into reports/counterexamples/ (the user's): ${written.slice(0, 5).join(", ")}${written.length > 5 ? `, and ${written.length - 5} more` : ""}\n`);
    process.exitCode = 1;
  };
}
