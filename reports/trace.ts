// The readable trace of a scenario run, in kernel terms: a numbered step table; for each step that rewrote
// patch-sites, each site's literal and instruction before and after, disassembled with symbols; for each call,
// the dispatch path as a short chain (site BL, literal, callbacks, trampolines, body, return); and where a
// property broke, its message. Plain text; the CLI colours it on a terminal.

import { match } from "ts-pattern";
import type { CallObservation } from "../model/exec.ts";
import { decode, disasm, insnRole, toHex, type Insn } from "../model/insn.ts";
import type { Kernel, KernelEvent } from "../model/kernel.ts";
import { symbolize } from "../model/kernel.ts";
import type { ScenarioRun, Step, StepResult } from "../model/scenario.ts";
import { siteView } from "../model/scenario.ts";
import { foldViolations } from "./fold.ts";

/** Where a property failed: after which step (0-based) and, for an implicit call, of which function. */
export interface TraceFailure {
  readonly property: string;
  readonly index: number;
  readonly fn: string | null;
  readonly message: string;
}

function sym(k: Kernel, a: bigint): string {
  return symbolize(k, a) ?? toHex(a);
}

function literalName(k: Kernel, v: bigint): string {
  if (v === 0xd503201fd503201fn) return "(nops)";
  const s = k.symbols.get(v);
  return s === undefined ? toHex(v) : `&${s}`;
}

/** A step as one line of text, for tables. */
export function stepText(st: Step): string {
  switch (st.do) {
    case "call":
      return `call ${st.fn}`;
    case "register_ftrace_function":
      return `register_ftrace_function ${st.ops} filter=[${st.filter.join(", ")}]${st.notrace.length > 0 ? ` notrace=[${st.notrace.join(", ")}]` : ""}${st.flags.length > 0 ? ` flags=${st.flags.join("|")}` : ""}`;
    case "ftrace_set_filter":
      return `ftrace_set_filter ${st.ops} [${st.filter.join(", ")}]`;
    case "ftrace_set_notrace":
      return `ftrace_set_notrace ${st.ops} [${st.notrace.join(", ")}]`;
    case "register_ftrace_direct":
      return `register_ftrace_direct ${st.ops} filter=[${st.filter.join(", ")}] addr=${st.addr}`;
    case "unregister_ftrace_direct":
      return `unregister_ftrace_direct ${st.ops}${st.addr !== undefined ? ` addr=${st.addr}` : ""}`;
    case "modify_ftrace_direct":
      return `modify_ftrace_direct ${st.ops} addr=${st.addr}`;
    case "unregister_ftrace_function":
      return `unregister_ftrace_function ${st.ops}`;
  }
}

/** Before and after of every site an API step wrote: `[f-8] literal = &A -> &ftrace_list_ops`. */
export function siteChanges(k: Kernel, events: ReadonlyArray<KernelEvent>): string[] {
  const first = new Map<string, KernelEvent & { kind: "write" }>();
  const last = new Map<string, KernelEvent & { kind: "write" }>();
  for (const e of events) {
    if (e.kind !== "write") continue;
    const key = `${e.fn}:${e.what}`;
    if (!first.has(key)) first.set(key, e);
    last.set(key, e);
  }
  const out: string[] = [];
  for (const [key, f] of first) {
    const l = last.get(key) ?? f;
    const where = `[${sym(k, f.addr)}]`.padEnd(14);
    if (f.what === "literal") {
      out.push(`${where} literal = ${literalName(k, f.old)}${l.new === f.old ? " (rewritten, unchanged)" : ` -> ${literalName(k, l.new)}`}`);
    } else {
      const text = (w: bigint): string => disasm(decode(Number(w)), f.addr, (a) => symbolize(k, a));
      out.push(`${where} ${text(f.old)}${l.new === f.old ? " (rewritten, unchanged)" : ` -> ${text(l.new)}`}`);
    }
  }
  return out;
}

/**
 * What an instruction is to the dispatch chain: a jump it follows (B, BR, RET: the next hop is where it lands), a
 * 64-bit load (the first in ftrace_caller is the literal's), or nothing it shows.
 */
function hopOf(insn: Insn): "jump" | "load" | "none" {
  return match(insnRole(insn))
    .returnType<"jump" | "load" | "none">()
    .with("jump", "indirect-jump", "return", () => "jump")
    .with("load", () => (insn.kind === "ldp" ? "none" : "load"))
    .with("call", "cond-jump", "indirect-call", "store", "address", "other", () => "none")
    .exhaustive();
}

/** The dispatch of one call as a chain of hops. */
export function dispatchChain(k: Kernel, fn: string, obs: CallObservation): string {
  const rec = k.recs.find((r) => r.fn === fn);
  const hops: string[] = [];
  const lit = rec === undefined ? null : siteView(k, fn).literal;
  let literalShown = false;
  const t = obs.trace;
  for (let i = 0; i < t.length; i++) {
    const line = t[i]!;
    const next = t[i + 1];
    const text = line.text;
    const insn = line.insn;
    if (insn === null) {
      const name = line.where;
      if (name.endsWith(".body")) {
        const body = `${name.slice(0, -".body".length)} body`;
        if (!(hops.at(-1) ?? "").endsWith(body)) hops.push(body);
      }
      else if (name === "ftrace_ops_list_func") hops.push(`ftrace_ops_list_func (${obs.handlers.map((h) => (k.ops.get(h.ops)?.kind === "direct" ? `${h.ops}.call_direct_funcs` : `${h.ops}.func`)).join(", ") || "no callback"})`);
      else if (!name.endsWith(".func") || k.ops.has(name.slice(0, -".func".length))) hops.push(name);
      continue;
    }
    const role = hopOf(insn);
    if (rec !== undefined && line.pc === rec.ip && insn.kind === "bl") hops.push(`${line.where}: ${text}`);
    else if (!literalShown && lit !== null && role === "load" && line.where.startsWith("ftrace_caller")) {
      hops.push(`ldr literal = ${lit.startsWith("(") ? lit : `&${lit}`}`);
      literalShown = true;
    } else if (role === "jump") {
      hops.push(`${text}${next !== undefined ? ` -> ${next.where.replace(/\.body$/, " body")}` : ""}`);
    }
    // ftrace_caller's late direct exit: the CBNZ on fregs->direct_tramp (x17) taken.
    if (insn.kind === "cbnz" && insn.rt === 17 && next?.where === "ftrace_caller_direct_late") {
      const tramp = obs.tramps[0]?.tramp;
      if (tramp !== undefined) hops.push(`direct_tramp = ${tramp}`);
    }
  }
  hops.push(obs.returned ? "ret to caller" : `stopped: ${obs.fault ?? "did not return"}`);
  return hops.join(" -> ");
}

function callSummary(r: Extract<StepResult, { do: "call" }>): string {
  return `path ${r.path}, handlers [${r.handlers.join(", ")}], tramp ${r.tramp ?? "-"}, body ${r.body}, ${r.returned ? "returned" : "did not return"}`;
}

function layoutLines(k: Kernel): string[] {
  const fns = k.layout.functions.map((f) => `${f.name} ${toHex(f.addr)} (${f.module === null ? "kernel" : f.module}${f.bti ? ", BTI C" : ""})`);
  const plt = (p: bigint | null): string => (p === null ? "none" : toHex(p));
  const mods = k.layout.modules.map((m) => {
    const init = m.init ?? null;
    return `${m.name} ${toHex(m.text)} (PLT ${plt(m.plt)})${init === null ? "" : `, init text ${toHex(init.text)} (PLT ${plt(init.plt)})`}`;
  });
  const tramps = k.layout.trampolines.map((t) => `${t.name} ${toHex(t.addr)}`);
  return [
    `variant ${k.design.name}, BTI ${k.layout.bti ? "on" : "off"}, ftrace_caller ${toHex(k.layout.kernel.ftrace_caller)}`,
    `functions: ${fns.join("; ")}`,
    ...(mods.length > 0 ? [`modules: ${mods.join("; ")}`] : []),
    ...(tramps.length > 0 ? [`trampolines: ${tramps.join("; ")}`] : []),
  ];
}

/**
 * The whole run as lines. `extraCall` is the implicit call after the failing step that showed the failure
 * (already part of `run` when the scenario was cut at it).
 */
export function traceLines(steps: ReadonlyArray<Step>, run: ScenarioRun, failure: TraceFailure | null): string[] {
  const k = run.kernel;
  const out = [...layoutLines(k)];
  if (failure !== null && failure.index < 0) out.push(`x ${failure.property} (at boot): ${failure.message}`);
  run.results.forEach((r, i) => {
    const st = steps[i]!;
    const head = `${String(r.step).padStart(3)}  ${stepText(st)}`;
    if (r.do === "call") {
      out.push(`${head}: ${callSummary(r)}`, `       ${dispatchChain(k, r.fn, r.obs)}`);
      for (const v of foldViolations(r.violations)) out.push(`       ! ${v}`);
    } else {
      out.push(`${head}: ret ${r.ret}${r.sites.length === 0 ? " (no patch-site rewritten)" : ""}`);
      for (const c of siteChanges(k, r.events)) out.push(`       ${c}`);
      for (const e of r.events) if (e.kind === "warn" || e.kind === "bug") out.push(`       ${e.kind === "bug" ? "bug" : "warning"}: ${e.message}`);
    }
    for (const f of r.failures) out.push(`       expectation failed: ${f}`);
    const failsHere = failure !== null && (failure.fn === null ? failure.index === i : failure.index + 1 === i);
    if (failsHere) out.push(`       x ${failure.property}: ${failure.message}`);
  });
  return out;
}
