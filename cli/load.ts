// Reading scenario files from disk for the command line: every problem becomes one line naming the file.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LayoutError } from "../model/layout.ts";
import { parseScenario, ScenarioError, type Scenario } from "../model/scenario.ts";

/** A problem with the user's input: printed as one line, exit code 2. */
export class InputError extends Error {}

/** A JSON file's contents; a file that cannot be read or parsed is one InputError naming it. */
/** A file's text, or an InputError that says in one line why it cannot be read. */
export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: ${code === "ENOENT" ? "not found" : `cannot read (${code ?? "error"})`}`);
  }
}

export function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new InputError(`${file}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
}

export function loadScenario(file: string): Scenario {
  const json = readJson(file);
  try {
    return parseScenario(json);
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof LayoutError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

/** Scenario files of a directory, sorted by name. */
export function scenarioFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f));
}
