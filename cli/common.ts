// Shared pieces of the command line: where things are, the output sink, flag parsing, and writing
// counterexample files.

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { plural } from "../reports/format.ts";
import { ModelInputError } from "../model/errors.ts";
import { designFileProvenance } from "./design-file.ts";
import { type Outcome } from "../properties/property.ts";
import { outcomeProvenance, writeCounterexample } from "../properties/runner.ts";
import { InputError, shownPath } from "./load.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SCENARIO_DIR = join(ROOT, "properties", "scenarios");
export { COUNTEREXAMPLE_DIR } from "../properties/runner.ts";

/** Where the command line writes: the process's streams, or a test's buffers. */
export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

export const processIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export function wrapInput<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ModelInputError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

/** The longest error line printed; longer messages are cut, with their full length stated. */
export const MAX_ERROR_CHARS = 400;

/**
 * A message as one printable line: control characters (newlines, ESC sequences, C1 codes) shown escaped as \xNN,
 * and a message longer than MAX_ERROR_CHARS cut with its full length stated, so no input can clear the terminal,
 * forge a second line or flood it.
 */
export function printableLine(s: string): string {
  const escaped = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped.length <= MAX_ERROR_CHARS ? escaped : `${escaped.slice(0, MAX_ERROR_CHARS)}… (cut: ${escaped.length} characters in all)`;
}

export function intFlag(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new InputError(`--${name}: expected an integer >= ${min}, got "${v}"`);
  return Number(v);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Write a counterexample scenario where people and CI can find it; returns its path relative to the cwd. */
export function saveCounterexample(o: Outcome): string | null {
  if (o.counterexample === undefined) return null;
  const made = outcomeProvenance(o);
  const files = designFileProvenance([o.variant]);
  return shownPath(writeCounterexample(o.counterexample, files.length === 0 ? made : { ...made, designFiles: files }));
}

/**
 * The line a failure gets the moment a worker has it (check, gate --variant/--design), before the table: which
 * property, on which design, after how many runs, and the violation. Printed above a terminal's bar.
 */
export function announceFailure(io: Io, progress: { readonly log?: (line: string) => void }): (o: Outcome) => void {
  return (o) => {
    // A design's own fault stops the command with its one line; it is not a failure to announce.
    if (o.fault !== undefined) return;
    const what = o.error !== undefined ? `the run broke: ${o.error.split("\n")[0] ?? ""}` : (o.message ?? "").split("\n")[0];
    const line = `found: ${o.property} fails on ${o.variant} (run ${o.runs}${o.counterexample !== undefined ? `, shrunk to ${plural(o.counterexample.steps.length, "step")}` : ""}): ${what}\n`;
    if (progress.log !== undefined) progress.log(line);
    else io.out(line);
  };
}
