// The small-scope explorer: breadth-first over every API step in a small scope (up to 3 functions, up to 4 ops),
// checking every property at every state reached. Addresses are abstracted into the classes that matter: a
// function in kernel text with BTI C, one in a module far from ftrace_caller (module PLT), one in kernel text
// without BTI; a trampoline within BL range of kernel text and one out of range of everything. States are
// compared by a canonical key (rec flags, literals, instructions, registered ops and their hashes, the direct
// entries and the reference's CALL_OPS history), with symmetry reduction over the interchangeable ordinary ops;
// BFS finds the shortest violating scenario.

import { boot, cloneKernel } from "../model/boot.ts";
import { callFunction } from "../model/exec.ts";
import { FTRACE_OPS_FL, hasFlag, type UserOpsFlag } from "../model/flags.ts";
import { literalAddr } from "../model/layout.ts";
import type { Design, Kernel } from "../model/kernel.ts";
import { parseScenario, runStep, scenarioLayout, type Scenario, type Step } from "../model/scenario.ts";
import { applyRef, initRef, type RefState } from "./reference.ts";
import type { Property, StepContext } from "./property.ts";

export interface ExploreScope {
  readonly functions: number;
  readonly ops: number;
  readonly depth: number;
}

export interface ExploreResult {
  /** States reached (every expansion), distinct canonical states, the deepest level finished. */
  readonly statesFound: number;
  readonly distinct: number;
  readonly depthReached: number;
  readonly ms: number;
  readonly violation: { readonly property: string; readonly depth: number; readonly message: string; readonly scenario: Scenario } | null;
  /** True if the time limit stopped the search before the depth limit. */
  readonly timedOut: boolean;
  /** True if no new state remained: the whole scope was explored (to any depth). */
  readonly exhausted: boolean;
}

const FUNCS = [
  { name: "f", addr: "0xffff800009000000", bti: true },
  { name: "g", addr: "0xffff800080001000", module: "m1", bti: false },
  { name: "h", addr: "0xffff800009001000", bti: false },
] as const;

/** The scope's layout as a scenario without steps. */
export function scopeScenario(scope: ExploreScope, variant: string, steps: ReadonlyArray<Step> = []): Scenario {
  const functions = FUNCS.slice(0, Math.max(1, Math.min(3, scope.functions)));
  const usesModule = functions.some((f) => "module" in f);
  return parseScenario({
    variant,
    modules: usesModule ? [{ name: "m1", text: "0xffff800080000000", plt: true }] : [],
    functions,
    trampolines: [
      { name: "Tnear", addr: "0xffff80000a100000" },
      { name: "Tfar", addr: "0xffff8000c0000000" },
    ],
    steps,
  });
}

function opsNames(scope: ExploreScope): { ordinary: string[]; direct: string[] } {
  const n = Math.max(1, scope.ops);
  return { ordinary: ["A", "B", "C"].slice(0, Math.max(1, n - 1)), direct: n >= 2 ? ["D"] : [] };
}

/** Every API step in the scope. Calls are not actions: every function is called after every step anyway. */
export function scopeActions(scope: ExploreScope): Step[] {
  const fns = FUNCS.slice(0, Math.max(1, Math.min(3, scope.functions))).map((f) => f.name);
  const { ordinary, direct } = opsNames(scope);
  const filters: string[][] = [[], ...fns.map((f) => [f])];
  const out: Step[] = [];
  for (const ops of ordinary) {
    for (const filter of filters) {
      const notraces = filter.length === 0 && fns.length > 1 ? [[], [fns[0]!]] : [[]];
      for (const notrace of notraces)
        for (const flags of [[], ["RECURSION"]] as UserOpsFlag[][]) out.push({ do: "register_ftrace_function", ops, filter, notrace, flags });
    }
    // An IPMODIFY ops (a livepatch) on one function: it may share no function with another IPMODIFY or direct ops.
    for (const filter of filters.filter((f) => f.length > 0)) {
      out.push({ do: "register_ftrace_function", ops, filter, notrace: [], flags: ["IPMODIFY"] });
    }
    out.push({ do: "register_ftrace_function", ops, filter: [], notrace: [], flags: ["SAVE_REGS"] });
    out.push({ do: "unregister_ftrace_function", ops });
    for (const filter of filters) out.push({ do: "ftrace_set_filter", ops, filter });
  }
  if (direct.length > 0) {
    for (const ops of direct) {
      const dfilters = [...fns.map((f) => [f]), ...(fns.length > 1 ? [fns] : [])];
      for (const filter of dfilters) for (const addr of ["Tnear", "Tfar"]) out.push({ do: "register_ftrace_direct", ops, filter, addr });
      out.push({ do: "unregister_ftrace_direct", ops, free_filters: true });
      for (const addr of ["Tnear", "Tfar"]) out.push({ do: "modify_ftrace_direct", ops, addr });
    }
  }
  return out;
}

/**
 * Whether an action is tried here. As in the generators, an ops that is registered is not registered again (the
 * step would first change its live filter: API misuse, not a design question), and a filter change is tried only
 * on a registered ops (on another it changes nothing a later register would not overwrite).
 */
function applicable(k: Kernel, st: Step): boolean {
  const o = "ops" in st ? k.ops.get(st.ops) : undefined;
  const live = o !== undefined && hasFlag(o.flags, FTRACE_OPS_FL.ENABLED);
  if (st.do === "ftrace_set_filter") return live;
  if (st.do === "register_ftrace_function" || st.do === "register_ftrace_direct") return !live;
  return true;
}

function permutations<T>(xs: ReadonlyArray<T>): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** The canonical key of a state under one renaming of the ordinary ops. */
function keyUnder(k: Kernel, ref: RefState, rename: ReadonlyMap<string, string>): string {
  const nameOf = (n: string): string => rename.get(n) ?? n;
  const fnName = new Map(k.recs.map((r) => [r.ip, r.fn]));
  const set = (s: ReadonlySet<bigint>): string => [...s].map((ip) => fnName.get(ip) ?? "?").sort().join("+");
  const ops = [...k.ops.values()]
    .map((o) => {
      const on = hasFlag(o.flags, FTRACE_OPS_FL.ENABLED);
      if (!on) return `${nameOf(o.name)}:-`;
      const user = (["RECURSION", "RCU", "SAVE_REGS", "IPMODIFY"] as const).filter((f) => hasFlag(o.flags, FTRACE_OPS_FL[f])).join("|");
      return `${nameOf(o.name)}:${set(o.funcHash.filter)}/${set(o.funcHash.notrace)}/${user}/${o.direct_call.toString(16)}`;
    })
    .sort()
    .join(",");
  const lit = (v: bigint): string => {
    const s = k.symbols.get(v);
    return s === undefined ? v.toString(16) : nameOf(s);
  };
  const recs = k.recs.map((r) => `${r.fn}:${r.flags.toString(16)}:${lit(k.mem.read64(literalAddr(r.ip)))}:${k.mem.read32(r.ip).toString(16)}`).join(",");
  const direct = [...k.directFunctions].map(([ip, a]) => `${fnName.get(ip)}=${a.toString(16)}`).sort().join(",");
  const movers = [...ref.lastMoverCallable].map(([f, c]) => `${f}${c ? "+" : "-"}`).sort().join("");
  return `${ops}|${recs}|${direct}|${movers}|${k.disabled ? "dead" : ""}`;
}

/** The least key over every renaming of the interchangeable ordinary ops. */
export function canonicalKey(k: Kernel, ref: RefState, ordinary: ReadonlyArray<string>): string {
  let best: string | null = null;
  for (const p of permutations(ordinary)) {
    const key = keyUnder(k, ref, new Map(ordinary.map((n, i) => [n, p[i]!])));
    if (best === null || key < best) best = key;
  }
  return best ?? "";
}

interface Node {
  readonly k: Kernel;
  readonly ref: RefState;
  readonly path: ReadonlyArray<Step>;
}

/** Check every property after one step; the first violation, if any. */
function violated(props: ReadonlyArray<Property>, ctxBase: Omit<StepContext, "calls">, needCalls: boolean): { property: string; message: string } | null {
  const calls = needCalls ? ctxBase.k.layout.functions.map((f) => ({ fn: f.name, obs: callFunction(ctxBase.k, f.name) })) : [];
  for (const p of props) {
    const cs = p.needsCalls ? calls : [];
    for (const c of cs.length > 0 ? cs : [null]) {
      const m = p.check({ ...ctxBase, calls: c === null ? [] : [c] });
      if (m !== null) return { property: p.name, message: m };
    }
  }
  return null;
}

export function explore(scope: ExploreScope, design: Design, props: ReadonlyArray<Property>, timeLimitMs = 60_000): ExploreResult {
  const started = performance.now();
  const base = scopeScenario(scope, design.name);
  const k0 = boot(scenarioLayout(base), design);
  const ref0 = initRef(base, design);
  const ordinary = opsNames(scope).ordinary;
  const actions = scopeActions(scope);
  const needCalls = props.some((p) => p.needsCalls);
  const result = (depthReached: number, statesFound: number, distinct: number, violation: ExploreResult["violation"], timedOut: boolean, exhausted = false): ExploreResult => ({
    statesFound,
    distinct,
    depthReached,
    ms: performance.now() - started,
    violation,
    timedOut,
    exhausted,
  });
  for (const p of props) {
    const m = p.atBoot?.(k0) ?? null;
    if (m !== null) return result(0, 1, 1, { property: p.name, depth: 0, message: m, scenario: withCx(base, p.name, design, m) }, false);
  }
  const visited = new Set<string>([canonicalKey(k0, ref0, ordinary)]);
  let frontier: Node[] = [{ k: k0, ref: ref0, path: [] }];
  let found = 1;
  for (let depth = 1; depth <= scope.depth; depth++) {
    const next: Node[] = [];
    for (const node of frontier) {
      for (const st of actions) {
        if (performance.now() - started > timeLimitMs) return result(depth - 1, found, visited.size, null, true);
        if (!applicable(node.k, st)) continue;
        const k = cloneKernel(node.k);
        const ref = structuredClone(node.ref);
        const index = node.path.length;
        const expectedRet = applyRef(ref, st);
        const r = runStep(k, st, index);
        found++;
        const bad = violated(props, { k, ref, index, step: st, result: r, expectedRet }, needCalls);
        const path = [...node.path, st];
        if (bad !== null) return result(depth, found, visited.size, { ...bad, depth, scenario: withCx(scopeScenario(scope, design.name, path), bad.property, design, bad.message) }, false);
        const key = canonicalKey(k, ref, ordinary);
        if (visited.has(key)) continue;
        visited.add(key);
        next.push({ k, ref, path });
      }
    }
    frontier = next;
    if (frontier.length === 0) return result(depth, found, visited.size, null, false, true);
  }
  return result(scope.depth, found, visited.size, null, false);
}

function withCx(s: Scenario, property: string, design: Design, message: string): Scenario {
  return { ...s, counterexample: { property, variant: design.name, seed: 0, path: "explore", message } };
}
