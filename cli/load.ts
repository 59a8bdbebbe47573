// Reading scenario files from disk for the command line: every problem becomes one line naming the file.

import { readFileSync, readSync, readdirSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { ModelInputError } from "../model/errors.ts";
import { parseScenario, type Scenario } from "../model/scenario.ts";

/** A problem with the user's input: printed as one line, exit code 2. */
export class InputError extends Error {}

/** The largest file the command line reads (a scenario, expected.json, a saved console): 16 MiB. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * A file's text, or an InputError that says in one line why it cannot be read. Only a regular file (a symlink is
 * followed) of at most MAX_FILE_BYTES is read: a device or pipe such as /dev/zero would never end. "-" is standard
 * input, read with the same cap.
 */
export function readText(file: string): string {
  if (file === "-") return readStdin();
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new InputError(`${file}: not a regular file (${st.isDirectory() ? "a directory" : "a device, pipe or socket"})`);
    if (st.size > MAX_FILE_BYTES) throw new InputError(`${file}: ${st.size} bytes, more than the ${MAX_FILE_BYTES} bytes (16 MiB) a file may have`);
    const text = readFileSync(file, "utf8");
    if (text.length > MAX_FILE_BYTES) throw new InputError(`${file}: more than the ${MAX_FILE_BYTES} bytes (16 MiB) a file may have`);
    return text;
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: ${code === "ENOENT" ? "not found" : `cannot read (${code ?? "error"})`}`);
  }
}

/**
 * Standard input (a FILE given as "-"), read to its end in chunks and refused once it passes MAX_FILE_BYTES, so an
 * endless stream (`yes | dispatch-spec run -`) costs 16 MiB and a second, not all the memory there is.
 */
function readStdin(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") continue;
      if (code === "EOF") break;
      throw new InputError(`standard input: cannot read (${code ?? "error"})`);
    }
    if (n === 0) break;
    total += n;
    if (total > MAX_FILE_BYTES) throw new InputError(`standard input: more than the ${MAX_FILE_BYTES} bytes (16 MiB) a file may have`);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A JSON file's contents (a leading UTF-8 byte-order mark is allowed); one InputError naming the file otherwise. */
export function readJson(file: string): unknown {
  const raw = readText(file);
  const text = raw.startsWith("\uFEFF") ? raw.slice(1) : raw;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    // The parser quotes the text around the error, newlines and all: one line, with them shown as \n.
    throw new InputError(`${file}: not valid JSON (${(e as Error).message.replace(/\r?\n/g, "\\n")})`);
  }
}

/** A scenario file, parsed and checked; with `on` (run/replay --variant), taken to that design (parseScenario). */
export function loadScenario(file: string, on?: string): Scenario {
  return loadScenarioNamed(file, on).s;
}

/**
 * loadScenario, with the design the file itself names (its counterexample's, else its own; null when it names none
 * readable), for a command that says so when it runs the file on another.
 */
export function loadScenarioNamed(file: string, on?: string): { readonly s: Scenario; readonly named: string | null } {
  const json = readJson(file);
  const named = namedDesign(json);
  try {
    return { s: parseScenario(json, on), named };
  } catch (e) {
    if (e instanceof ModelInputError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

function namedDesign(json: unknown): string | null {
  if (typeof json !== "object" || json === null) return null;
  const o = json as { variant?: unknown; counterexample?: { variant?: unknown } };
  const v = typeof o.counterexample === "object" && o.counterexample !== null && typeof o.counterexample.variant === "string" ? o.counterexample.variant : o.variant;
  return typeof v === "string" ? v : null;
}

/** Scenario files of a directory, sorted by name. */
export function scenarioFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f));
}

/** A path as the commands print it: relative to the working directory, unless that climbs out of it (then absolute). */
export function shownPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? resolve(p) : rel;
}
