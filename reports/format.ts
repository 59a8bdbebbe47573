// Readable text for people: step tables with the patch-site before and after each API step and the dispatch
// of each call, and the JSON-lines form scenario tools consume (../shared/SCENARIO.md).

import { pc } from "./colours.ts";
import { toHex } from "../model/insn.ts";
import type { ScenarioRun, SiteView, StepResult } from "../model/scenario.ts";
import { foldViolations } from "./fold.ts";

export interface FormatOptions {
  /** Print the instruction-by-instruction trace of every call. */
  readonly trace: boolean;
  /** Set when the file's counterexample property still fails: the last line says so (e.g. "literal-valid still fails on D"). */
  readonly stillFails?: string;
}

function site(before: SiteView | undefined, after: SiteView): string {
  const lit = before !== undefined && before.literal !== after.literal ? `${before.literal} -> ${after.literal}` : after.literal;
  const insn = before !== undefined && before.insn !== after.insn ? `${before.insn} -> ${after.insn}` : after.insn;
  return `      ${pc.bold(after.fn.padEnd(10))} literal ${lit.padEnd(34)} insn ${insn.padEnd(36)} ${pc.dim(after.flags)}`;
}

function retText(ret: string | 0): string {
  return ret === 0 ? pc.green("0") : pc.yellow(ret);
}

/** One step as lines of the readable table. */
export function formatStep(r: StepResult, opts: FormatOptions): string[] {
  const head = `${String(r.step).padStart(3)}  `;
  const fail = r.failures.map((f) => `      ${pc.red("expectation failed:")} ${f}`);
  if (r.do === "call") {
    const lines = [
      `${head}${pc.cyan(`call ${r.fn}`.padEnd(30))} path ${pc.bold(r.path.padEnd(13))} handlers ${JSON.stringify(r.handlers).padEnd(14)} tramp ${String(r.tramp).padEnd(8)} body ${r.body}  ${r.returned ? "returned" : pc.red("did not return")}`,
      ...foldViolations(r.violations).map((v) => `      ${pc.red("violation:")} ${v}`),
      ...fail,
    ];
    if (opts.trace) lines.push(...r.obs.trace.map((t) => pc.dim(`        ${t.where.padEnd(30)} ${t.text}`)));
    return lines;
  }
  const notes = r.events.flatMap((e) => (e.kind === "warn" ? [`      ${pc.yellow("warning:")} ${e.message}`] : e.kind === "bug" ? [`      ${pc.red("bug:")} ${e.message}`] : []));
  const sites = r.sites.map((s) => site(r.before.find((b) => b.fn === s.fn), s));
  return [`${head}${`${r.do} ${r.ops}`.padEnd(30)} ret ${retText(r.ret)}${r.sites.length === 0 ? pc.dim("  (no patch-site rewritten)") : ""}`, ...sites, ...notes, ...fail];
}

export function formatRun(title: string, run: ScenarioRun, opts: FormatOptions): string {
  const k = run.kernel;
  const lines = [
    pc.bold(`${title}: variant ${k.design.name}, BTI ${k.layout.bti ? "on" : "off"}, ftrace_caller at ${toHex(k.layout.kernel.ftrace_caller)}`),
    ...run.results.flatMap((r) => formatStep(r, opts)),
  ];
  // A counterexample whose property still fails ends on that, whatever the steps' own expectations say.
  const steps = run.failures.length === 0 ? `${plural(run.results.length, "step")}, all expectations held` : `${run.failures.length} expectation(s) failed`;
  lines.push(opts.stillFails !== undefined ? pc.red(`${opts.stillFails} (${steps}): exit 1`) : run.failures.length === 0 ? pc.green(steps) : pc.red(steps));
  return lines.join("\n");
}

/** The JSON-lines form of one step (bigints as hex strings). */
export function stepJson(r: StepResult): Record<string, unknown> {
  if (r.do === "call") {
    const { obs: _obs, failures, ...rest } = r;
    return failures.length === 0 ? rest : { ...rest, failures };
  }
  const base = { step: r.step, do: r.do, ops: r.ops, ret: r.ret, sites: r.sites.map((s) => ({ fn: s.fn, literal: s.literal, insn: s.insn })) };
  const warnings = r.events.flatMap((e) => (e.kind === "warn" || e.kind === "bug" ? [e.message] : []));
  return { ...base, ...(warnings.length > 0 ? { warnings } : {}), ...(r.failures.length > 0 ? { failures: r.failures } : {}) };
}

export function jsonLines(run: ScenarioRun): string {
  return run.results.map((r) => JSON.stringify(stepJson(r), (_k, v: unknown) => (typeof v === "bigint" ? toHex(v) : v))).join("\n");
}

/** "1 step", "2 steps": a count with its noun in the right number. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
