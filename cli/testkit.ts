// Test helper for the command line: run `dispatch-spec ARGS` in-process and read what it printed as plain text.

import { stripVTControlCharacters } from "node:util";
import { silentProgress, type Progress } from "./check.ts";
import { COUNTEREXAMPLE_DIR } from "./common.ts";
import { shownPath } from "./load.ts";
import { main } from "./main.ts";

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Run the command line with these arguments; colours depend on the terminal and on CI=true, so they are removed. */
export async function cli(argv: ReadonlyArray<string>, progress: Progress = silentProgress): Promise<CliRun> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) }, progress);
  return { code, out: stripVTControlCharacters(out), err: stripVTControlCharacters(err) };
}

/** Where the commands print a saved counterexample goes (the suite's own directory, vitest.config.ts), as a RegExp source. */
export const SAVED_DIR_RE = shownPath(COUNTEREXAMPLE_DIR).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
