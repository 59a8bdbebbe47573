// The small-scope explorer: breadth-first over every API step in a small scope (up to 3 functions, up to 4 ops),
// checking every property at every state reached. Addresses are abstracted into the classes that matter: a
// function in kernel text with BTI C, one in a module far from ftrace_caller (module PLT), one in kernel text
// without BTI; a trampoline within BL range of kernel text and one out of range of everything. States are
// compared by a canonical key (rec flags, literals, instructions, registered ops and their hashes, the direct
// entries and the reference's CALL_OPS history), with symmetry reduction over the interchangeable ordinary ops;
// BFS finds the shortest violating scenario. A violation the caller expects (a recorded finding, such as
// recursion-protected on upstream) is kept as the shortest scenario for that property, which is then dropped, and
// the search goes on with the others.

import { createHash } from "node:crypto";
import { boot, cloneKernel } from "../model/boot.ts";
import { FTRACE_OPS_FL, hasFlag, type UserOpsFlag } from "../model/flags.ts";
import { literalAddr } from "../model/layout.ts";
import type { Design, Kernel } from "../model/kernel.ts";
import { parseScenario, runStep, scenarioLayout, type Scenario, type Step } from "../model/scenario.ts";
import { applyRef, initRef, type RefState } from "./reference.ts";
import { callEvery, keepsUpstreamRule, listedOps, stepViolation, type CallCheck, type Property, type StepContext } from "./property.ts";

export interface ExploreScope {
  readonly functions: number;
  readonly ops: number;
  readonly depth: number;
}

/** A property violated at a state: which, how deep, why, and the shortest scenario that reaches it. */
export interface ExploreViolation {
  readonly property: string;
  readonly depth: number;
  readonly message: string;
  readonly scenario: Scenario;
}

export interface ExploreResult {
  /** States reached (every expansion), distinct canonical states, the deepest level finished. */
  readonly statesFound: number;
  readonly distinct: number;
  readonly depthReached: number;
  readonly ms: number;
  /** The first violation that was not expected; the search stops at it. */
  readonly violation: ExploreViolation | null;
  /** The expected violations met (the shortest for each property), in the order found. */
  readonly expected: ReadonlyArray<ExploreViolation>;
  /**
   * True if the hang guard (a wall-clock limit) stopped the search: the result then depends on the machine's speed
   * and is no verdict; every caller reports it as a failure.
   */
  readonly timedOut: boolean;
  /** True if no new state remained: the whole scope was explored (to any depth). */
  readonly exhausted: boolean;
  /** True if the state budget (maxStates) stopped the search after depthReached: a result of the inputs alone. */
  readonly budgetReached: boolean;
}

/** How a search is bounded beyond its scope's depth, and what it expects. */
export interface ExploreOptions {
  /** Violations the caller expects (recorded findings), property -> message: met, recorded, and the search goes on. */
  readonly expected?: ReadonlyMap<string, RegExp>;
  /**
   * A budget counted in states: the search stops after the first level at which more than this many states were
   * found. Levels are whole and counted the same over any number of workers, so the result is the inputs' alone.
   */
  readonly maxStates?: number;
  /** A guard against a hang, in wall-clock milliseconds (default HANG_GUARD_MS): when hit, the result is timedOut. */
  readonly hangGuardMs?: number;
  readonly memo?: CallMemo;
  /** Called before each transition is run: a test's slow-down, to show that no result depends on speed. */
  readonly onTransition?: () => void;
}

/** The default hang guard: ten minutes, far beyond any search the suite runs (the whole default scope takes 20-40 s). */
export const HANG_GUARD_MS = 600_000;

/** The one-line failure for a search the hang guard stopped: no verdict, and what to change. */
export function hangGuardMessage(r: ExploreResult, guardMs: number): string {
  const guard = guardMs < 1000 ? `${guardMs} ms` : `${Math.round(guardMs / 1000)} s`;
  return `the search hit its ${guard} hang guard after ${r.statesFound} states (depth ${r.depthReached} finished): no verdict, since what it found would depend on this machine's speed`;
}

const FUNCS = [
  { name: "f", addr: "0xffff800009000000", bti: true },
  { name: "g", addr: "0xffff800080001000", module: "m1", bti: false },
  { name: "h", addr: "0xffff800009001000", bti: false },
] as const;

/** For a design whose scope has module init text: m1's init text, out of BL range of its core text, holds g. */
const INIT_TEXT = "0xffff800088400000";
const G_IN_INIT = "0xffff800088401000";

/** The scope's layout as a scenario without steps. */
export function scopeScenario(scope: ExploreScope, design: Pick<Design, "name" | "scope">, steps: ReadonlyArray<Step> = []): Scenario {
  const initText = design.scope?.includes("module-init-text") === true;
  const functions = FUNCS.slice(0, Math.max(1, Math.min(3, scope.functions))).map((f) => (initText && "module" in f ? { ...f, addr: G_IN_INIT } : f));
  const usesModule = functions.some((f) => "module" in f);
  return parseScenario({
    variant: design.name,
    // A BTI kernel: text is guarded, so every BR/BLR must land on a pad that accepts it (f has BTI C, g and h none).
    config: { bti: true },
    modules: usesModule ? [{ name: "m1", text: "0xffff800080000000", plt: true, ...(initText ? { init: { text: INIT_TEXT, plt: true } } : {}) }] : [],
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
export function scopeActions(scope: ExploreScope, design: Pick<Design, "scope"> = {}): Step[] {
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
    // For a design whose scope has fgraph subops: the ops registered as a subops instead, on each filter, with no
    // notrace or with one that covers its filter (a subops that selects nothing, where the merges differ).
    if (design.scope?.includes("subops") === true)
      for (const filter of filters)
        for (const notrace of filter.length === 0 ? (fns.length > 1 ? [[], [fns[0]!]] : [[]]) : [[], filter]) out.push({ do: "register_ftrace_function", ops, filter, notrace, flags: ["SUBOP"] });
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
      const user = (["RECURSION", "RCU", "SAVE_REGS", "IPMODIFY", "SUBOP"] as const).filter((f) => hasFlag(o.flags, FTRACE_OPS_FL[f])).join("|");
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
  const movers = [...ref.callable.values()].map((m) => [...m].map(([f, c]) => `${f}${c ? "+" : "-"}`).sort().join("")).join("/");
  // The manager's subop_list order decides how its hashes are rebuilt, so states that differ in it are distinct.
  const subops = k.subopList.map(nameOf).join(">");
  return `${ops}|${recs}|${direct}|${movers}|${subops}|${k.disabled ? "dead" : ""}`;
}

/** The least key over every renaming of the interchangeable ordinary ops. */
export function canonicalKey(k: Kernel, ref: RefState, ordinary: ReadonlyArray<string>): string {
  return canonicalKeys(k, ref, ordinary).state;
}

/**
 * What a call can see beyond the state key, under one renaming: the order the list walk meets the ops in (with
 * every flag the core keeps, not only the user's), fgraph's array, and what the reference says is registered
 * (which the call-judging properties compare the calls with).
 */
function callExtraUnder(k: Kernel, ref: RefState, rename: ReadonlyMap<string, string>): string {
  const nameOf = (n: string): string => rename.get(n) ?? n;
  const list = k.opsList.map((o) => `${nameOf(o.name)}:${o.flags.toString(16)}`).join(">");
  const fgraph = k.fgraphArray.map((o) => (o === null ? "-" : nameOf(o.name))).join(",");
  const registered = [...ref.ops.values()]
    .filter((o) => o.registered)
    .map((o) => `${nameOf(o.name)}:${[...o.filter].sort().join("+")}/${[...o.notrace].sort().join("+")}/${[...o.flags].sort().join("|")}/${o.tramp?.toString(16) ?? "-"}/${o.subop ? "s" : ""}`)
    .sort()
    .join(",");
  const order = ref.order.map(nameOf).join(">");
  const rest = `${[...ref.regs].sort().join("+")}|${[...ref.entries].map(([f, a]) => `${f}=${a.toString(16)}`).sort().join(",")}|${ref.subopSlots.map((n) => (n === null ? "-" : nameOf(n))).join(",")}|${ref.subopList.map(nameOf).join(">")}`;
  return `${list}|${fgraph}|${registered}|${order}|${rest}`;
}

/**
 * The state key and the call key, each the least over every renaming of the ordinary ops. Two states with one
 * call key see the same calls and the same judgements of them, up to the renaming (which no property can tell).
 */
export function canonicalKeys(k: Kernel, ref: RefState, ordinary: ReadonlyArray<string>): { readonly state: string; readonly call: string } {
  const under = permutations(ordinary).map((p) => {
    const rename = new Map(ordinary.map((n, i) => [n, p[i]!]));
    return { rename, key: keyUnder(k, ref, rename) };
  });
  let state: string | null = null;
  for (const u of under) if (state === null || u.key < state) state = u.key;
  // Renamings change names of one length, so every state key has the same length and the least call key starts with
  // the least state key: only the renamings that reach it need their extra part.
  let call: string | null = null;
  for (const u of under) {
    if (u.key !== state) continue;
    const c = `${u.key}#${callExtraUnder(k, ref, u.rename)}`;
    if (call === null || c < call) call = c;
  }
  return { state: state ?? "", call: call ?? "" };
}

/**
 * Whether expandPaths memoizes clean call judgements by call key: true (the default), false, or "constant-key", a
 * deliberately broken memo (every state shares one key) with which the equivalence test shows it can tell.
 */
export type CallMemo = boolean | "constant-key";

/**
 * Per scope context, the call keys (with the names of the properties judged) at which every call-judging property
 * held: a transition into such a state needs neither the calls nor their judgements, only the step's own.
 */
const callsHeld = new WeakMap<ScopeContext, Set<string>>();

/**
 * The fingerprint of a canonical key: 128 bits (MD5, as a base64 string), the "compact key" the visited set holds,
 * as TLC holds 64-bit fingerprints. Two distinct states share one with a chance of about n^2 / 2^129.
 */
export function fingerprint(key: string): string {
  return createHash("md5").update(key).digest("base64");
}

/** A state of the frontier, as the action indices that reach it from boot (rebuilt by replaying them). */
export type ActionPath = ReadonlyArray<number>;

/** A property violated after one step. */
export interface Bad {
  readonly property: string;
  readonly message: string;
}

/** One applicable action from a frontier state: the fingerprint of the state it leads to, and what it violated. */
export interface Transition {
  readonly action: number;
  readonly key: string;
  /** Violations in property order: every one of the `expected` properties, then at most one other. */
  readonly bad: ReadonlyArray<Bad>;
}

/** What a worker needs to expand part of a frontier: everything by name, so it crosses a thread boundary. */
export interface ExpandJob {
  readonly scope: ExploreScope;
  readonly variant: string;
  /** The properties still checked, and those of them whose violation may be expected. */
  readonly properties: ReadonlyArray<string>;
  readonly expected: ReadonlyArray<string>;
  readonly paths: ReadonlyArray<ActionPath>;
  /** performance.timeOrigin + performance.now() after which to stop. */
  readonly deadline: number;
}

export interface ExpandReply {
  /** For each path expanded (a prefix of the job's paths when timed out), its transitions in action order. */
  readonly expansions: ReadonlyArray<ReadonlyArray<Transition>>;
  readonly timedOut: boolean;
}

/** The scope bound to a design: its boot state, its actions and the renamings that symmetry allows. */
export interface ScopeContext {
  readonly scope: ExploreScope;
  readonly design: Design;
  readonly k0: Kernel;
  readonly ref0: RefState;
  readonly actions: ReadonlyArray<Step>;
  readonly ordinary: ReadonlyArray<string>;
}

export function scopeContext(scope: ExploreScope, design: Design): ScopeContext {
  const base = scopeScenario(scope, design);
  return { scope, design, k0: boot(scenarioLayout(base), design), ref0: initRef(base, design), actions: scopeActions(scope, design), ordinary: opsNames(scope).ordinary };
}

/** The steps an action path stands for. */
function stepsOf(ctx: ScopeContext, path: ActionPath): Step[] {
  return path.map((a) => ctx.actions[a]!);
}

/** Rebuild a frontier state by replaying its path from boot (API steps only: calls change nothing but the stack). */
function rebuild(ctx: ScopeContext, path: ActionPath): { k: Kernel; ref: RefState } {
  const k = cloneKernel(ctx.k0);
  const ref = structuredClone(ctx.ref0);
  path.forEach((a, i) => {
    const st = ctx.actions[a]!;
    applyRef(ref, st);
    runStep(k, st, i);
  });
  return { k, ref };
}

/** The first violation of one property after a step (each call judged on its own, if it judges calls), or null. */
function violationOf(p: Property, ctxBase: Omit<StepContext, "calls">, calls: ReadonlyArray<CallCheck>): string | null {
  return stepViolation(p, ctxBase, p.needsCalls ? calls : [])?.message ?? null;
}

/**
 * Expand frontier states: every applicable action from each, run, judged and fingerprinted. With `memo` (the
 * default), a transition into a state whose call key was already judged clean skips the calls and their
 * judgements (properties/explore.test.ts runs whole scopes both ways and compares every result).
 */
export function expandPaths(
  ctx: ScopeContext,
  props: ReadonlyArray<Property>,
  expected: ReadonlySet<string>,
  paths: ReadonlyArray<ActionPath>,
  deadline: number,
  memo: CallMemo = true,
  onTransition?: () => void,
): ExpandReply {
  const needCalls = props.some((p) => p.needsCalls);
  const callProps = props.filter((p) => p.needsCalls);
  const sig = callProps.map((p) => p.name).join(",");
  let held = callsHeld.get(ctx);
  if (held === undefined) {
    held = new Set();
    callsHeld.set(ctx, held);
  }
  const expansions: Transition[][] = [];
  for (const path of paths) {
    const node = rebuild(ctx, path);
    const out: Transition[] = [];
    for (let a = 0; a < ctx.actions.length; a++) {
      if (now() > deadline) return { expansions, timedOut: true };
      const st = ctx.actions[a]!;
      if (!applicable(node.k, st)) continue;
      onTransition?.();
      const k = cloneKernel(node.k);
      const ref = structuredClone(node.ref);
      const expectedRet = applyRef(ref, st);
      const listedBefore = listedOps(node.k);
      const result = runStep(k, st, path.length);
      const base = { k, ref, index: path.length, step: st, result, expectedRet, listedBefore };
      // The keys before any call: calls write the stack and nothing a key reads, but judge the state as stepped.
      const keys = canonicalKeys(k, ref, ctx.ordinary);
      const callKey = !needCalls || memo === false ? null : memo === "constant-key" ? sig : `${sig}#${fingerprint(keys.call)}`;
      const skipCalls = callKey !== null && held.has(callKey);
      const calls = needCalls && !skipCalls ? callEvery(k) : [];
      const bad: Bad[] = [];
      let callsJudged = 0;
      let callsClean = true;
      for (const p of props) {
        if (skipCalls && p.needsCalls) continue;
        const m = violationOf(p, base, calls);
        if (p.needsCalls) callsJudged++;
        if (m === null) continue;
        if (p.needsCalls) callsClean = false;
        bad.push({ property: p.name, message: m });
        if (!expected.has(p.name)) break;
      }
      if (callKey !== null && !skipCalls && callsClean && callsJudged === callProps.length) held.add(callKey);
      out.push({ action: a, key: fingerprint(keys.state), bad });
    }
    expansions.push(out);
  }
  return { expansions, timedOut: false };
}

/** Wall-clock milliseconds comparable across threads. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Explore the scope on a design, checking `props` at every state. `expected` maps a property to the message of a
 * violation the caller expects (a recorded finding): such a violation is recorded and the property dropped, and
 * the search goes on; any other violation stops it. A generator: it yields each level's frontier as a job and is
 * resumed with the expansion, so the same search runs in this thread or over worker threads, with one result.
 */
export function* search(ctx: ScopeContext, props: ReadonlyArray<Property>, opts: ExploreOptions = {}): Generator<ExpandJob, ExploreResult, ExpandReply> {
  const started = performance.now();
  const deadline = now() + (opts.hangGuardMs ?? HANG_GUARD_MS);
  const expected = opts.expected ?? new Map<string, RegExp>();
  const maxStates = opts.maxStates ?? Infinity;
  const { scope, design } = ctx;
  let active = [...props];
  const met: ExploreViolation[] = [];
  let found = 1;
  const visited = new Set<string>([fingerprint(canonicalKey(ctx.k0, ctx.ref0, ctx.ordinary))]);
  const result = (depthReached: number, violation: ExploreViolation | null, timedOut: boolean, exhausted = false, budgetReached = false): ExploreResult => ({
    statesFound: found,
    distinct: visited.size,
    depthReached,
    ms: performance.now() - started,
    violation,
    expected: met,
    timedOut,
    exhausted,
    budgetReached,
  });
  /** Record the violations of one state in order: expected ones drop their property; the first other is returned. */
  const judge = (depth: number, path: ReadonlyArray<Step>, bad: ReadonlyArray<Bad>): ExploreViolation | null => {
    for (const b of bad) {
      if (!active.some((p) => p.name === b.property)) continue;
      const v: ExploreViolation = { ...b, depth, scenario: withCx(scopeScenario(scope, design, path), b.property, design, b.message) };
      if (expected.get(b.property)?.test(b.message) !== true) return v;
      met.push(v);
      active = active.filter((p) => p.name !== b.property);
    }
    return null;
  };
  const atBoot = judge(
    0,
    [],
    active.flatMap((p) => {
      const m = p.atBoot?.(ctx.k0) ?? null;
      return m === null ? [] : [{ property: p.name, message: m }];
    }),
  );
  if (atBoot !== null) return result(0, atBoot, false);
  let frontier: ActionPath[] = [[]];
  for (let depth = 1; depth <= scope.depth; depth++) {
    const reply = yield {
      scope,
      variant: design.name,
      properties: active.map((p) => p.name),
      expected: active.filter((p) => expected.has(p.name)).map((p) => p.name),
      paths: frontier,
      deadline,
    };
    const next: ActionPath[] = [];
    for (const [i, transitions] of reply.expansions.entries()) {
      const path = frontier[i]!;
      for (const t of transitions) {
        found++;
        if (t.bad.length > 0) {
          const bad = judge(depth, stepsOf(ctx, [...path, t.action]), t.bad);
          if (bad !== null) return result(depth, bad, false);
        }
        if (visited.has(t.key)) continue;
        visited.add(t.key);
        next.push([...path, t.action]);
      }
    }
    if (reply.timedOut) return result(depth - 1, null, true);
    frontier = next;
    if (frontier.length === 0) return result(depth, null, false, true);
    if (found > maxStates && depth < scope.depth) return result(depth, null, false, false, true);
  }
  return result(scope.depth, null, false);
}

/** The recorded findings a design is expected to show (those of upstream, as `check` expects them): property -> message. */
export function expectedFindings(design: Design, props: ReadonlyArray<Property>): Map<string, RegExp> {
  if (!keepsUpstreamRule(design)) return new Map();
  return new Map(props.flatMap((p) => (p.expectedOnUpstream === undefined ? [] : [[p.name, p.expectedOnUpstream.message] as const])));
}

/** Explore in this thread. (The properties stay objects here, so a test may pass its own; workers look them up by name.) */
export function explore(scope: ExploreScope, design: Design, props: ReadonlyArray<Property>, opts: ExploreOptions = {}): ExploreResult {
  const ctx = scopeContext(scope, design);
  const gen = search(ctx, props, opts);
  for (let r = gen.next(); ; ) {
    if (r.done === true) return r.value;
    const job = r.value;
    r = gen.next(expandPaths(ctx, props.filter((p) => job.properties.includes(p.name)), new Set(job.expected), job.paths, job.deadline, opts.memo ?? true, opts.onTransition));
  }
}

function withCx(s: Scenario, property: string, design: Design, message: string): Scenario {
  return { ...s, counterexample: { property, variant: design.name, seed: 0, path: "explore", message } };
}
