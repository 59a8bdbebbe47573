// The command line, the front door: `dispatch-spec run FILE [--json]` executes a scenario on the model and
// `dispatch-spec check` runs the whole suite with a one-screen summary. Input problems exit 2 with one line.

import { Command, CommanderError } from "commander";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";
import pc from "picocolors";
import { LayoutError } from "../model/layout.ts";
import { runScenario, ScenarioError } from "../model/scenario.ts";
import { formatRun, jsonLines } from "../reports/format.ts";
import { InputError, loadScenario, scenarioFiles } from "./load.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SCENARIO_DIR = join(ROOT, "properties", "scenarios");

/** Where the command line writes: the process's streams, or a test's buffers. */
export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

const processIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function runCommand(io: Io, file: string, opts: { json?: boolean; trace?: boolean }): number {
  const s = loadScenario(file);
  const run = wrapInput(file, () => runScenario(s));
  io.out((opts.json === true ? jsonLines(run) : formatRun(file, run, { trace: opts.trace === true })) + "\n");
  return run.failures.length === 0 ? 0 : 1;
}

function wrapInput<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof LayoutError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

function checkCommand(io: Io): number {
  const files = scenarioFiles(SCENARIO_DIR);
  let failed = 0;
  const rows: string[] = [];
  for (const file of files) {
    const s = loadScenario(file);
    const run = wrapInput(file, () => runScenario(s));
    const calls = run.results.filter((r) => r.do === "call");
    const violations = calls.reduce((n, r) => n + (r.do === "call" ? r.violations.length : 0), 0);
    const ok = run.failures.length === 0;
    if (!ok) failed++;
    rows.push(
      `${ok ? pc.green("ok  ") : pc.red("FAIL")}  ${relative(ROOT, file).padEnd(52)} ${String(run.results.length).padStart(3)} steps ${String(calls.length).padStart(3)} calls ${String(violations).padStart(2)} violations`,
    );
    for (const f of run.failures) rows.push(`        ${pc.red(f)}`);
  }
  io.out(`${pc.bold("dispatch-spec check")}: scenario suite (${files.length} files)\n${rows.join("\n")}\n`);
  io.out(failed === 0 ? pc.green(`all ${files.length} scenarios hold their expectations\n`) : pc.red(`${failed} of ${files.length} scenarios failed\n`));
  return failed === 0 ? 0 : 1;
}

export function main(argv: ReadonlyArray<string>, io: Io = processIo): number {
  let code = 0;
  const program = new Command()
    .name("dispatch-spec")
    .description("Property-based verification of the arm64 ftrace dispatch design (CALL_OPS + DIRECT_CALLS)")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program
    .command("run")
    .argument("<file>", "scenario file (JSON)")
    .option("--json", "one JSON object per step instead of a table")
    .option("--trace", "print every instruction each call executed")
    .description("execute a scenario file on the model")
    .action((file: string, opts: { json?: boolean; trace?: boolean }) => {
      code = runCommand(io, file, opts);
    });
  program
    .command("check")
    .description("run the whole suite and print a summary; exit 1 if anything fails")
    .action(() => {
      code = checkCommand(io);
    });
  try {
    program.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InputError) {
      io.err(`dispatch-spec: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return code;
}
