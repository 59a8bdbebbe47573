// Patching interleaved with execution on other CPUs. arm64 rewrites patch-sites without stop_machine
// (arch_ftrace_update_code calls ftrace_modify_all_code directly): one single-copy-atomic store at a time, in
// the order ftrace_startup / ftrace_shutdown / __ftrace_replace_code and the arm64 hooks issue them, while
// other CPUs keep calling the functions being patched.
//
// An API step is run on the updater's own copy of the kernel, recording its micro-steps in order: each store
// (literals, instructions, ops->func, ops->direct_call, list links), each hash published, each grace-period wait
// (synchronize_rcu_tasks_rude / synchronize_rcu_tasks in ftrace_shutdown), then what the ops' owner does after
// the call returns (free the ops, free a trampoline). A schedule then interleaves those micro-steps with the
// CPUs' instructions on the kernel the CPUs see; after the schedule, all actors take turns until done. A grace period ends only when every CPU that was inside ftrace
// (between a site's BL and the function body) when it began has left; a freed object is poisoned, and any later
// load from it or branch into it is a use-after-free.

import { boot, opsByName } from "./boot.ts";
import { errName } from "./errno.ts";
import { CallRun, defaultSetup, type CallObservation, type CallSetup } from "./exec.ts";
import { FTRACE_OPS_FL, formatOpsFlags, hasFlag } from "./flags.ts";
import { decode, disasm, toHex } from "./insn.ts";
import type { Design, DynFtrace, FtraceOps, Kernel, OpsKind } from "./kernel.ts";
import { allOps, hasCallOps, opsNamed, symbolize } from "./kernel.ts";
import { literalAddr, type Layout } from "./layout.ts";
import { mutated } from "./mutants.ts";
import { applyApi, type Step } from "./scenario.ts";
import { FTRACE_OPS_SIZE } from "./structs.ts";
import { TRAMPOLINE_SPAN } from "./layout.ts";

export type ApiStep = Exclude<Step, { do: "call" }>;

/** One micro-step of the updater, as the other CPUs can observe it. */
export type MicroStep =
  | { readonly kind: "begin"; readonly step: number; readonly text: string }
  | { readonly kind: "store"; readonly addr: bigint; readonly size: 4 | 8; readonly value: bigint; readonly half?: "low" | "high" }
  | { readonly kind: "new-ops"; readonly name: string; readonly opsKind: OpsKind }
  | { readonly kind: "flags"; readonly ops: string; readonly flags: number }
  | { readonly kind: "hash"; readonly ops: string; readonly filter: ReadonlySet<bigint>; readonly notrace: ReadonlySet<bigint> }
  | { readonly kind: "hash-share"; readonly ops: string; readonly from: string }
  | { readonly kind: "fgraph"; readonly slots: ReadonlyArray<string | null> }
  | { readonly kind: "direct"; readonly entries: ReadonlyMap<bigint, bigint> }
  | { readonly kind: "sync"; readonly what: string }
  | { readonly kind: "free"; readonly what: "ops" | "trampoline"; readonly name: string; readonly lo: bigint; readonly hi: bigint }
  | { readonly kind: "end"; readonly step: number; readonly ret: string | 0 };

/** A CPU's program: the functions it calls, one after the other. */
export type CpuCalls = ReadonlyArray<string>;

export interface ConcurrentInput {
  readonly layout: Layout;
  readonly design: Design;
  readonly steps: ReadonlyArray<ApiStep>;
  readonly cpus: ReadonlyArray<CpuCalls>;
  /** Who moves at each tick: 0 = the updater, i = CPU i (1-based). Ticks where the actor cannot move are skipped. */
  readonly schedule: ReadonlyArray<number>;
}

/** One line of the timeline: who did what at which tick. */
export interface TimelineEntry {
  readonly tick: number;
  /** 0 = updater, i = CPU i. */
  readonly actor: number;
  readonly text: string;
}

export interface CallRecord {
  readonly cpu: number;
  readonly fn: string;
  readonly start: number;
  readonly end: number;
  readonly obs: CallObservation;
}

export interface ConcurrentResult {
  readonly timeline: ReadonlyArray<TimelineEntry>;
  readonly calls: ReadonlyArray<CallRecord>;
  /** For each API step, the ticks of its first and last micro-step, and what it returned. */
  readonly stepSpans: ReadonlyArray<{ readonly step: number; readonly first: number; readonly last: number; readonly ret: string | 0 }>;
  /** Literals found pointing somewhere other than ftrace_nop_ops, ftrace_list_ops or a live ops, with the tick. */
  readonly badLiterals: ReadonlyArray<{ readonly tick: number; readonly message: string }>;
  /** The kernel the CPUs saw, at the end. */
  readonly kernel: Kernel;
  /** The schedule entries actually used (for replay and shrinking). */
  readonly ticks: number;
  /** How often each racy window of CONCURRENT_WINDOWS was entered, for coverage. */
  readonly windows: Readonly<Record<string, number>>;
}

/**
 * The racy windows a schedule can put a CPU in while the updater works, as coverage labels: what the concurrent
 * properties exist to judge, so a generator that stops reaching one makes the coverage gate say so.
 */
export const CONCURRENT_WINDOWS = {
  rewriteInCaller: "a patch-site rewritten while a CPU is inside ftrace_caller",
  literalHeld: "a literal rewritten while a CPU holds the ops it named",
  graceWaits: "a grace period that waits for a CPU",
  modifyInTramp: "modify_ftrace_direct while a CPU is in a direct trampoline",
} as const;

const MAX_TICKS = 20_000;
/** Each CPU's stack: below the layout's stack top, 16 KiB apart. */
const CPU_STACK_GAP = 0x4000n;

function cpuSetup(k: Kernel, cpu: number): CallSetup {
  const d = defaultSetup(k);
  const sp = d.sp - BigInt(cpu - 1) * CPU_STACK_GAP;
  return { ...d, sp, fp: sp + 0x40n };
}

/** What the owner of an ops or trampoline does once an API call returns: free what is no longer used. */
function ownerFrees(truth: Kernel, st: ApiStep, ret: string | 0, before: { direct: bigint; opsKind: OpsKind | null; enabled: boolean }): MicroStep[] {
  const ops = truth.ops.get(st.ops);
  if (ops === undefined) return [];
  const freeOps: MicroStep = { kind: "free", what: "ops", name: ops.name, lo: ops.addr, hi: ops.addr + FTRACE_OPS_SIZE };
  if (ret !== 0) {
    // A refused registration: an owner that allocated the ops frees it at once, as livepatch's klp_patch_func does
    // (kfree right after register_ftrace_function fails). Not a subops (fgraph's instances keep theirs), not a
    // direct ops (BPF keeps the ops in its trampoline and retries), not an ops that was already registered.
    const refused = st.do === "register_ftrace_function" && !st.flags.includes("SUBOP") && !before.enabled && !ops.coreData;
    return refused ? [freeOps] : [];
  }
  const freeTramp = (addr: bigint): MicroStep[] => {
    const t = truth.layout.trampolines.find((x) => x.addr === addr);
    const stillUsed = [...truth.ops.values()].some((o) => hasFlag(o.flags, FTRACE_OPS_FL.ENABLED) && o.direct_call === addr);
    if (t === undefined || stillUsed) return [];
    return [{ kind: "free", what: "trampoline", name: t.name, lo: t.addr, hi: t.addr + TRAMPOLINE_SPAN }];
  };
  switch (st.do) {
    case "unregister_ftrace_function":
      return hasFlag(ops.flags, FTRACE_OPS_FL.DYNAMIC) ? [freeOps] : [];
    case "unregister_ftrace_direct":
      return [freeOps, ...freeTramp(before.direct)];
    case "modify_ftrace_direct": {
      // The owner (a BPF trampoline, say) frees the old image only after its own RCU-tasks grace period.
      const wait: MicroStep[] = mutated(truth.design, "modify-direct-in-place") ? [] : [{ kind: "sync", what: "synchronize_rcu_tasks (owner, before freeing the old trampoline)" }];
      const frees = before.direct === ops.direct_call ? [] : freeTramp(before.direct);
      return frees.length === 0 ? [] : [...wait, ...frees];
    }
    default:
      return [];
  }
}

/**
 * A store as other CPUs can see it: one single-copy-atomic store (WRITE_ONCE, the literal, an instruction), or,
 * in a design that writes ops->direct_call with a plain store, two 32-bit halves, low first (a torn store).
 */
function storeSteps(truth: Kernel, addr: bigint, size: 4 | 8, value: bigint): MicroStep[] {
  const torn =
    size === 8 &&
    mutated(truth.design, "direct-call-torn-store") &&
    allOps(truth).some((o) => addr === o.addr + BigInt(truth.design.ops.direct_call));
  if (!torn) return [{ kind: "store", addr, size, value }];
  return [
    { kind: "store", addr, size: 4, value: value & 0xffffffffn, half: "low" },
    { kind: "store", addr: addr + 4n, size: 4, value: value >> 32n, half: "high" },
  ];
}

/** Run one API step on the updater's kernel, recording its micro-steps in order. */
export function recordStep(truth: Kernel, st: ApiStep, index: number, text: string): { micro: MicroStep[]; ret: string | 0 } {
  const micro: MicroStep[] = [{ kind: "begin", step: index, text }];
  const known = new Set(truth.ops.keys());
  // The caller's ops, and fgraph's static graph_ops, whose flags the core changes when it takes a subops.
  const flagged = (): FtraceOps[] => [...truth.ops.values(), truth.graphOps];
  const flagsBefore = new Map(flagged().map((o) => [o.name, o.flags]));
  const mine = truth.ops.get(st.ops);
  const before = { direct: mine?.direct_call ?? 0n, opsKind: mine?.kind ?? null, enabled: mine !== undefined && hasFlag(mine.flags, FTRACE_OPS_FL.ENABLED) };
  truth.mem.listener = (addr, size, value) => micro.push(...storeSteps(truth, addr, size, value));
  truth.note = (n) => micro.push(n.kind === "sync" ? { kind: "sync", what: n.what } : n);
  truth.events = [];
  let ret: string | 0;
  try {
    ret = errName(applyApi(truth, st));
  } finally {
    truth.mem.listener = null;
    truth.note = null;
  }
  // Ops created by the step exist before any of its stores (opsByName runs first in every step).
  const created: MicroStep[] = [...truth.ops.values()].filter((o) => !known.has(o.name)).map((o) => ({ kind: "new-ops", name: o.name, opsKind: o.kind }));
  // The caller sets its ops' flags (RECURSION, RCU, ...) before the call; CPUs read them (the list walk's STUB
  // test, who needs the assist function), so they are published right after allocation.
  const flags: MicroStep[] = flagged()
    .filter((o) => flagsBefore.get(o.name) !== o.flags)
    .map((o) => ({ kind: "flags", ops: o.name, flags: o.flags }));
  micro.splice(1, 0, ...created, ...flags);
  micro.push(...ownerFrees(truth, st, ret, before));
  micro.push({ kind: "end", step: index, ret });
  return { micro, ret };
}

function describeMicro(k: Kernel, m: MicroStep): string {
  const sym = (a: bigint): string => k.symbols.get(a) ?? siteName(k, a) ?? toHex(a);
  switch (m.kind) {
    case "begin":
      return `begin ${m.text}`;
    case "end":
      return `end (ret ${m.ret})`;
    case "new-ops":
      return `allocate ops ${m.name}`;
    case "flags":
      return `${m.ops}->flags = ${formatOpsFlags(m.flags)}`;
    case "hash":
      return `publish ${m.ops} hash`;
    case "hash-share":
      return `${m.ops} shares ${m.from}'s hash`;
    case "fgraph":
      return `fgraph_array = [${m.slots.map((n) => n ?? "-").join(", ")}]`;
    case "direct":
      return `publish direct_functions (${m.entries.size} entr${m.entries.size === 1 ? "y" : "ies"})`;
    case "sync":
      return `${m.what}`;
    case "free":
      return `free ${m.what} ${m.name}`;
    case "store":
      if (m.half !== undefined) return `store ${m.half} half of ${sym(m.half === "low" ? m.addr : m.addr - 4n)}+${m.half === "low" ? 0 : 4} = 0x${m.value.toString(16)} (torn)`;
      return `store ${sym(m.addr)} = ${m.size === 8 ? (k.symbols.get(m.value) ?? toHex(m.value)) : disasm(decode(Number(m.value)), m.addr, (a) => symbolize(k, a))}`;
  }
}

function siteName(k: Kernel, addr: bigint): string | undefined {
  for (const r of k.recs) {
    if (addr === literalAddr(r.ip)) return `[${r.fn} literal]`;
    if (addr === r.ip) return `[${r.fn}+${r.ip - (k.layout.functions.find((f) => f.name === r.fn)?.addr ?? r.ip)}]`;
  }
  for (const o of k.ops.values()) if (addr >= o.addr && addr < o.addr + FTRACE_OPS_SIZE) return `${o.name}+${addr - o.addr}`;
  return undefined;
}

/** Apply one micro-step to the kernel the CPUs see. */
function applyMicro(k: Kernel, m: MicroStep): void {
  switch (m.kind) {
    case "store":
      if (m.size === 8) k.mem.write64(m.addr, m.value);
      else k.mem.write32(m.addr, Number(m.value));
      return;
    case "new-ops":
      opsByName(k, m.name, m.opsKind);
      return;
    case "flags": {
      const o = opsNamed(k, m.ops);
      if (o !== undefined) o.flags = m.flags;
      return;
    }
    case "fgraph":
      k.fgraphArray = m.slots.map((n) => (n === null ? null : (k.ops.get(n) ?? null)));
      return;
    case "direct":
      k.directFunctions = new Map(m.entries);
      return;
    case "hash": {
      const o = opsNamed(k, m.ops);
      if (o !== undefined) {
        o.funcHash.filter = m.filter;
        o.funcHash.notrace = m.notrace;
      }
      return;
    }
    case "hash-share": {
      const o = opsNamed(k, m.ops);
      const from = k.ops.get(m.from);
      if (o !== undefined && from !== undefined) o.funcHash = from.funcHash;
      return;
    }
    case "free":
      k.freed.push({ lo: m.lo, hi: m.hi, what: m.what, name: m.name });
      // Poison the object: its words become junk an access would trip over.
      for (let a = m.lo; a < m.hi; a += 8n) k.mem.write64(a, 0xfeedfacefeedfacen);
      return;
    case "begin":
    case "end":
    case "sync":
      return;
  }
}

/** Every literal points to ftrace_nop_ops, ftrace_list_ops, or an ops that is not freed (checked at each tick). */
function literalProblems(k: Kernel): string[] {
  const out: string[] = [];
  if (!hasCallOps(k.design)) return out;
  for (const r of k.recs) {
    const v = k.mem.read64(literalAddr(r.ip));
    if (v === k.nopOps.addr || v === k.listOps.addr) continue;
    const freed = k.freed.find((f) => f.what === "ops" && v >= f.lo && v < f.hi);
    if (freed !== undefined) out.push(`${r.fn}: literal points to freed ops ${freed.name}`);
    else if (![...k.ops.values(), k.graphOps].some((o) => o.addr === v)) out.push(`${r.fn}: literal ${toHex(v)} is not an ops`);
  }
  return out;
}

interface CpuState {
  readonly calls: CpuCalls;
  next: number;
  run: CallRun | null;
  start: number;
  /** Bumped whenever the CPU leaves ftrace or starts a new call: grace periods wait for a change. */
  epoch: number;
}

/**
 * An interleaving being built one move at a time: who can move now, one move of an actor (0 = the updater, i =
 * CPU i), and the run taken to completion. runConcurrent drives it by a schedule; an explorer of interleavings can
 * drive it by choice (replaying a prefix, since a CPU in the middle of a C function cannot be copied).
 */
export interface Interleaving {
  /** Ticks taken so far. */
  readonly tick: number;
  /** The actors that can move now, updater first: the updater unless done or waiting for a grace period, each CPU with work. */
  movable(): number[];
  /** One move of that actor (a micro-step of the updater, one instruction or C-function step of a CPU); false if it cannot move. */
  move(actor: number): boolean;
  /** Everyone in turn, one move each, until all are done (or MAX_TICKS); then what the run saw. */
  finish(): ConcurrentResult;
}

/** Run API steps interleaved with calls on several CPUs, following the schedule, then to completion. */
export function runConcurrent(input: ConcurrentInput, describe: (st: ApiStep) => string): ConcurrentResult {
  const run = interleave(input, describe);
  for (const actor of input.schedule) {
    if (run.tick >= MAX_TICKS) break;
    run.move(actor);
  }
  return run.finish();
}

/** The start of an interleaving of the input's API steps with its CPUs' calls (see Interleaving). */
export function interleave(input: ConcurrentInput, describe: (st: ApiStep) => string): Interleaving {
  const truth = boot(input.layout, input.design);
  const shared = boot(input.layout, input.design);
  const timeline: TimelineEntry[] = [];
  const calls: CallRecord[] = [];
  const badLiterals: Array<{ tick: number; message: string }> = [];
  const stepSpans: Array<{ step: number; first: number; last: number; ret: string | 0 }> = [];
  const cpus: CpuState[] = input.cpus.map((c) => ({ calls: c, next: 0, run: null, start: 0, epoch: 0 }));
  let pending: MicroStep[] = [];
  let stepIndex = 0;
  let span: { step: number; first: number; ret: string | 0 } | null = null;
  let wait: { what: string; epochs: Map<number, number> } | null = null;
  let tick = 0;
  const windows: Record<string, number> = {};
  const seen = (label: string): void => {
    windows[label] = (windows[label] ?? 0) + 1;
  };
  // Literal words (both halves) and instruction addresses of every site, with the record each belongs to.
  const literals = new Map<bigint, DynFtrace>();
  const insns = new Set<bigint>();
  for (const r of shared.recs) {
    literals.set(literalAddr(r.ip), r);
    literals.set(literalAddr(r.ip) + 4n, r);
    insns.add(r.ip);
  }
  /** Before the updater applies a micro-step: which racy windows it opens on the CPUs as they stand. */
  const observeWindows = (m: MicroStep): void => {
    const runs = cpus.map((c) => c.run).filter((r): r is CallRun => r !== null && !r.done);
    if (m.kind === "store") {
      const rec = literals.get(m.addr);
      if ((rec !== undefined || insns.has(m.addr)) && runs.some((r) => r.where === "ftrace_caller")) seen(CONCURRENT_WINDOWS.rewriteInCaller);
      if (rec !== undefined) {
        const old = shared.mem.read64(literalAddr(rec.ip));
        if (runs.some((r) => r.fn === rec.fn && r.heldOps === old)) seen(CONCURRENT_WINDOWS.literalHeld);
      }
    }
    if (span !== null && input.steps[span.step]?.do === "modify_ftrace_direct" && runs.some((r) => r.where === "trampoline")) seen(CONCURRENT_WINDOWS.modifyInTramp);
  };

  const updaterHasWork = (): boolean => pending.length > 0 || stepIndex < input.steps.length;
  const cpuHasWork = (c: CpuState): boolean => c.run !== null || c.next < c.calls.length;
  const blocked = (): boolean => {
    if (wait === null) return false;
    for (const [i, e] of wait.epochs) if (cpus[i]!.epoch === e) return true;
    return false;
  };

  const stepUpdater = (): boolean => {
    if (!updaterHasWork() || blocked()) return false;
    wait = null;
    if (pending.length === 0) {
      const st = input.steps[stepIndex]!;
      pending = recordStep(truth, st, stepIndex, describe(st)).micro;
      stepIndex++;
    }
    const m = pending.shift()!;
    observeWindows(m);
    applyMicro(shared, m);
    if (m.kind === "begin") span = { step: m.step, first: tick, ret: 0 };
    if (m.kind === "end" && span !== null) {
      stepSpans.push({ step: span.step, first: span.first, last: tick, ret: m.ret });
      span = null;
    }
    if (m.kind === "sync") {
      const epochs = new Map<number, number>();
      cpus.forEach((c, i) => {
        if (c.run?.inFtrace === true) epochs.set(i, c.epoch);
      });
      wait = { what: m.what, epochs };
      if (epochs.size > 0) seen(CONCURRENT_WINDOWS.graceWaits);
    }
    const waitsFor = m.kind === "sync" && wait !== null && wait.epochs.size > 0 ? ` (waits for ${[...wait.epochs.keys()].map((i) => `cpu${i + 1}`).join(", ")})` : "";
    timeline.push({ tick, actor: 0, text: describeMicro(shared, m) + waitsFor });
    for (const p of literalProblems(shared)) badLiterals.push({ tick, message: p });
    return true;
  };

  /**
   * When the updater cannot move and every CPU with work is in a call that came back to a state of its own at the
   * memory's current generation, memory has not changed since the earliest of those states (the generation only
   * grows) and none of them can change it: each goes round for ever. Those calls end there, as loops.
   */
  const endLoops = (): void => {
    if (updaterHasWork() && !blocked()) return;
    const gen = shared.mem.generation;
    const live = cpus.filter(cpuHasWork);
    if (live.every((o) => o.run !== null && o.run.loopAt === gen)) for (const o of live) o.run?.endAsLoop();
  };

  const stepCpu = (i: number): boolean => {
    const c = cpus[i]!;
    if (!cpuHasWork(c)) return false;
    if (c.run === null) {
      const fn = c.calls[c.next++]!;
      c.run = new CallRun(shared, fn, cpuSetup(shared, i + 1), "note");
      c.start = tick;
      c.epoch++;
      timeline.push({ tick, actor: i + 1, text: `call ${fn}` });
      return true;
    }
    const run = c.run;
    endLoops();
    const wasIn = run.inFtrace;
    const before = run.traceCount;
    run.step();
    const line = run.traceCount > before ? run.lastTraceLine : undefined;
    timeline.push({ tick, actor: i + 1, text: line === undefined ? "…" : `${line.where}: ${line.text}` });
    if (wasIn && !run.inFtrace) c.epoch++;
    if (run.done) {
      calls.push({ cpu: i + 1, fn: run.fn, start: c.start, end: tick, obs: run.observe() });
      c.run = null;
      c.epoch++;
    }
    return true;
  };

  const move = (actor: number): boolean => {
    const moved = actor === 0 ? stepUpdater() : actor - 1 < cpus.length && actor >= 1 ? stepCpu(actor - 1) : false;
    if (moved) tick++;
    return moved;
  };
  const movable = (): number[] => [...(updaterHasWork() && !blocked() ? [0] : []), ...cpus.flatMap((c, i) => (cpuHasWork(c) ? [i + 1] : []))];
  const finish = (): ConcurrentResult => {
    // After the schedule: everyone in turn, one micro-step each (updater, cpu1, cpu2, ...), until all are done.
    const actors = cpus.length + 1;
    let rr = 0;
    let idle = 0;
    while (tick < MAX_TICKS && idle < actors) {
      const actor = rr % actors;
      rr++;
      if (move(actor)) idle = 0;
      else idle++;
    }
    return { timeline, calls, stepSpans, badLiterals, kernel: shared, ticks: tick, windows };
  };
  return {
    get tick() {
      return tick;
    },
    movable,
    move,
    finish,
  };
}
