// Differential runs: the model's interpreter against a real AArch64 (QEMU user mode running conformance/harness).
// Scenarios come from the property suite's generators; each is laid out in user space (every address moved by
// one constant, so every BL offset and every distance to ftrace_caller, a PLT or a trampoline stays as generated),
// booted and stepped in the model, and after every API step every function is called. Before each call the
// model's memory image (words, C functions, which ops trace which ip) is copied to the harness; after it, the
// two accounts of the call are put in the same terms and compared:
//   path, then in order: each ops callback (ops, ip, parent_ip, op, called from ftrace_caller or the list walk),
//   each test trampoline's entry registers (x0-x9, x30, sp), each body entry (x0-x9, x30, sp, x19-x28), and how
//   the call ended (returned with x0-x9, x30, sp, x19-x28; a BTI fault at the branch target; another fault).
// What only the model judges: stack alignment, the return-stack rules, hand-off contracts (QEMU does not fault
// on them), and everything after the first BTI fault (the model records the breach and goes on).

import fc from "fast-check";
import { boot } from "../model/boot.ts";
import { ftrace_ops_test } from "../model/core.ts";
import { CallRun, landingOk, type CallObservation, type Path, type RegSnapshot } from "../model/exec.ts";
import { FTRACE_OPS_FL, hasFlag } from "../model/flags.ts";
import { decode, encode, toHex, type Insn } from "../model/insn.ts";
import { allOps, symbolize, type Design, type HostFn, type Kernel } from "../model/kernel.ts";
import type { Layout } from "../model/layout.ts";
import { runStep, scenarioLayout, type Scenario } from "../model/scenario.ts";
import { FTRACE_OPS_NEXT } from "../model/structs.ts";
import { variantByName } from "../model/variants/index.ts";
import { runArb } from "../generators/run.ts";
import { runBatch, splitReplies } from "./qemu.ts";

/** Where the generated layouts' addresses land in user space (ANCHOR goes to USER_BASE), and where the heap goes. */
export const USER_BASE = 0x2000000000n;
const ANCHOR = 0xffff7ff000000000n;
const HEAP = 0xffff8000d0000000n;
const PAGE = 0x1000n;

/** The same layout in user space: every address moved by one constant; the heap moved next to the rest. */
export function rebase(l: Layout): Layout {
  const mv = (a: bigint): bigint => {
    if (a < ANCHOR) throw new Error(`conformance: ${toHex(a)} is below the part of the kernel half the generators use`);
    return a - ANCHOR + USER_BASE;
  };
  const k = l.kernel;
  return {
    bti: l.bti,
    kernel: {
      text: mv(k.text),
      textSize: k.textSize,
      ftrace_caller: mv(k.ftrace_caller),
      ftrace_stub_direct_tramp: mv(k.ftrace_stub_direct_tramp),
      ftrace_list_ops: mv(k.ftrace_list_ops),
      ftrace_nop_ops: mv(k.ftrace_nop_ops),
      ctext: mv(k.ctext),
      data: mv(k.data),
      heap: mv(HEAP),
      stackTop: mv(k.stackTop),
      callerReturn: mv(k.callerReturn),
    },
    modules: l.modules.map((m) => {
      const init = m.init ?? null;
      return { ...m, text: mv(m.text), plt: m.plt === null ? null : mv(m.plt), init: init === null ? null : { ...init, text: mv(init.text), plt: init.plt === null ? null : mv(init.plt) } };
    }),
    functions: l.functions.map((f) => ({ ...f, addr: mv(f.addr) })),
    trampolines: l.trampolines.map((t) => ({ ...t, addr: mv(t.addr) })),
  };
}

const hex = (v: bigint): string => v.toString(16);

/** A word rewriter standing for a broken encoder: what the CPU is given instead of what the model meant. */
export type Corrupt = (addr: bigint, insn: Insn, word: number) => number;

/** What the harness has been told so far in one scenario, so that each call sends only what changed. */
class Mirror {
  readonly pages = new Set<bigint>();
  readonly words = new Map<bigint, number>();
  readonly hosts = new Map<bigint, number>();
  readonly hostList: HostFn[] = [];

  constructor(
    private readonly k: Kernel,
    private readonly out: string[],
    private readonly corrupt: Corrupt | null,
  ) {
    const ds = k.design.fregs.direct_tramp;
    out.push("reset");
    out.push(["cfg", hex(k.listHead), hex(k.listEnd.addr), hex(BigInt(k.design.ops.func)), hex(BigInt(FTRACE_OPS_NEXT)), hex(BigInt(k.design.ops.direct_call)), ds === null ? "ffffffffffffffff" : hex(BigInt(ds))].join(" "));
    const ks = k.layout.kernel;
    // The stack a call may use below the poisoned area, and the C-function slots, are mapped up front.
    for (let a = ks.stackTop - 0x4000n; a < ks.stackTop + PAGE; a += PAGE) this.map(a, "w");
  }

  private codePage(page: bigint): boolean {
    const hi = page + PAGE;
    if (this.k.codeRegions.some(([lo, end]) => lo < hi && end > page)) return true;
    for (const a of this.k.hosts.keys()) if (a >= page && a < hi) return true;
    return false;
  }

  private map(page: bigint, prot: "w" | "x"): void {
    if (this.pages.has(page)) return;
    this.pages.add(page);
    this.out.push(`map ${hex(page)} ${hex(PAGE)} ${prot === "w" ? "w" : this.k.layout.bti ? "g" : "x"}`);
  }

  private markerAddrs(): Set<bigint> {
    const s = new Set<bigint>();
    for (const [a, h] of this.k.hosts) {
      s.add(a);
      if (h.kind !== "body") s.add(a + 4n);
    }
    return s;
  }

  /** Send what changed since the last sync: pages, words (never over a C function's marker), C functions. */
  sync(): void {
    const k = this.k;
    const touched = new Set<bigint>();
    for (const [a] of k.mem.entries()) touched.add(a - (a % PAGE));
    for (const a of k.hosts.keys()) touched.add(a - (a % PAGE));
    for (const p of [...touched].sort((x, y) => (x < y ? -1 : 1))) this.map(p, this.codePage(p) ? "x" : "w");
    const markers = this.markerAddrs();
    const changed: Array<[bigint, number]> = [];
    for (const [a, w] of k.mem.entries()) {
      if (markers.has(a) || this.words.get(a) === w) continue;
      this.words.set(a, w);
      changed.push([a, w]);
    }
    changed.sort((x, y) => (x[0] < y[0] ? -1 : 1));
    let run: Array<[bigint, number]> = [];
    const flush = (): void => {
      if (run.length > 0) this.out.push(`w ${hex(run[0]![0])} ${run.map(([a, w]) => (this.corrupt === null ? w : this.corruptWord(a, w)).toString(16)).join(" ")}`);
      run = [];
    };
    for (const c of changed) {
      const last = run[run.length - 1];
      if (last !== undefined && c[0] !== last[0] + 4n) flush();
      run.push(c);
    }
    flush();
    for (const [a, h] of k.hosts) {
      if (this.hosts.has(a)) continue;
      this.hosts.set(a, this.hostList.length);
      this.hostList.push(h);
      this.out.push(`host ${hex(a)} ${hostKind(h)} ${hex(BigInt(this.hostList.length - 1))}`);
    }
    this.out.push("opsclear");
    for (const o of allOps(k)) {
      const ips = k.recs.filter((r) => ftrace_ops_test(o, r.ip)).map((r) => hex(r.ip));
      this.out.push(["ops", hex(o.addr), hasFlag(o.flags, FTRACE_OPS_FL.STUB) ? "1" : "0", ...ips].join(" "));
    }
  }

  private corruptWord(a: bigint, w: number): number {
    if (this.corrupt === null || !this.k.codeRegions.some(([lo, hi]) => a >= lo && a < hi)) return w;
    return this.corrupt(a, decode(w), w) >>> 0;
  }
}

function hostKind(h: HostFn): string {
  switch (h.kind) {
    case "ops_func":
      return "f";
    case "ftrace_ops_list_func":
      return "l";
    case "ftrace_ops_nop_func":
      return "n";
    case "call_direct_funcs":
      return "d";
    case "ftrace_graph_func":
      // The harness records the hit; the subops it would run are the model's own account (no generated run of the
      // default world registers one).
      return "g";
    case "ftrace_stub":
      return "s";
    case "body":
      return "b";
    case "caller_return":
      return "r";
    case "direct_func":
      return "t";
  }
}

/** One call in the two accounts' common terms. */
export interface Account {
  readonly path: Path;
  readonly events: ReadonlyArray<string>;
  readonly end: string;
}

export interface CallCase {
  readonly variant: string;
  readonly scenario: Scenario;
  /** Index of the step after which (or at which) the call was made. */
  readonly step: number;
  readonly fn: string;
  readonly model: Account;
  /** The model reported a BTI breach: the harness must fault there, having done a prefix of the model's events. */
  readonly btiFault: boolean;
  /** Names for addresses and what the harness's C-function ids stand for, as of the call. */
  readonly names: (a: bigint) => string;
  readonly hosts: ReadonlyArray<HostFn>;
  readonly opsAt: (a: bigint) => string | undefined;
  readonly listOps: bigint;
  readonly nopOps: bigint;
  readonly siteTarget: bigint | null;
  readonly trampAddrs: ReadonlySet<bigint>;
}

const regs = (r: RegSnapshot): string => [...r.x.map((v, i) => `x${i}=${hex(v)}`), `x30=${hex(r.x30)}`, `sp=${hex(r.sp)}`].join(" ");
const saved = (xs: ReadonlyArray<bigint>): string => xs.map((v, i) => `x${19 + i}=${hex(v)}`).join(" ");

/** The model's account of a call. */
export function modelAccount(k: Kernel, obs: CallObservation, names: (a: bigint) => string): { account: Account; btiFault: boolean } {
  type Ev = { seq: number; text: string };
  const evs: Ev[] = [
    ...obs.handlers.map((h) => ({ seq: h.seq, text: `handler ${h.ops} ip=${hex(h.ip)} pip=${hex(h.parentIp)} op=${h.op} via=${h.via}` })),
    // ftrace_stub_direct_tramp has no C helper for the harness to see it by.
    ...obs.tramps.filter((t) => t.tramp !== "ftrace_stub_direct_tramp").map((t) => ({ seq: t.seq, text: `tramp ${t.tramp} ${regs(t.regs)}` })),
    ...obs.bodies.map((b) => ({ seq: b.seq, text: `body ${b.fn} ${regs(b.regs)} ${saved(b.calleeSaved)}` })),
  ];
  evs.sort((a, b) => a.seq - b.seq);
  const bti = firstBtiBreach(k, obs);
  let end: string;
  if (bti !== null) end = `fault BTI at ${names(bti)}`;
  else if (obs.returned && obs.final !== null) end = `returned ${regs(obs.final)} ${saved(obs.finalCalleeSaved)}`;
  else end = modelFault(obs.fault ?? "");
  return { account: { path: obs.path, events: evs.map((e) => e.text), end }, btiFault: bti !== null };
}

/** The target of the first indirect branch that a guarded page would refuse (the model goes on past it). */
function firstBtiBreach(k: Kernel, obs: CallObservation): bigint | null {
  if (!k.layout.bti) return null;
  for (const b of obs.branches) {
    if (b.kind === "ret") continue;
    const target = k.hosts.has(b.to) ? "host" : k.mem.has(b.to) ? decode(k.mem.read32(b.to)) : null;
    if (target !== null && !landingOk(b.kind, b.reg, target)) return b.to;
  }
  return null;
}

function modelFault(fault: string): string {
  const fetch = /^instruction fetch from unmapped (\S+)/.exec(fault);
  if (fetch !== null) return `fault fetch at ${fetch[1]}`;
  if (fault.startsWith("no return")) return "timeout";
  if (fault.startsWith("BRK")) return `fault BRK ${fault.replace(/^BRK #\S+ at /, "at ")}`;
  if (fault.startsWith("undefined instruction")) return `fault undefined ${fault.replace(/^undefined instruction \S+ /, "")}`;
  return `fault ${fault}`;
}

const SIGILL = 4;
const SIGTRAP = 5;
const SIGSEGV = 11;

/** The harness's account of a call, from its reply lines. */
export function harnessAccount(c: CallCase, lines: ReadonlyArray<string>): Account {
  const events: string[] = [];
  let opCalled: bigint | null = null;
  let end = "no end line";
  const num = (s: string | undefined): bigint => BigInt(`0x${s ?? "0"}`);
  const snap = (t: ReadonlyArray<string>, at: number): RegSnapshot => ({ x: t.slice(at, at + 10).map(num), x30: num(t[at + 30]), sp: num(t[at + 31]) });
  for (const line of lines) {
    const t = line.split(" ");
    if (t[0] === "h") {
      const h = c.hosts[Number(num(t[1]))];
      const x = t.slice(2);
      const s = snap(x, 0);
      if (h === undefined) {
        events.push(`unknown C function ${t[1]}`);
        continue;
      }
      if (opCalled === null && (h.kind === "ops_func" || h.kind === "ftrace_ops_list_func" || h.kind === "ftrace_ops_nop_func" || h.kind === "call_direct_funcs" || h.kind === "ftrace_stub"))
        opCalled = s.x[2]!;
      if (h.kind === "ops_func") events.push(`handler ${h.ops} ip=${hex(s.x[0]!)} pip=${hex(s.x[1]!)} op=${c.names(s.x[2]!)} via=caller`);
      else if (h.kind === "call_direct_funcs") events.push(`handler ${c.opsAt(s.x[2]!) ?? c.names(s.x[2]!)} ip=${hex(s.x[0]!)} pip=${hex(s.x[1]!)} op=${c.names(s.x[2]!)} via=caller`);
      else if (h.kind === "direct_func") {
        // Seen at the helper call: x0-x8 as on entry, x9 and x30 as the trampoline saved them at [sp], sp + 96.
        const entry: RegSnapshot = { x: [...s.x.slice(0, 9), num(x[32])], x30: num(x[33]), sp: s.sp + 96n };
        events.push(`tramp ${h.tramp} ${regs(entry)}`);
      } else if (h.kind === "body") events.push(`body ${h.fn} ${regs(s)} ${saved(x.slice(19, 29).map(num))}`);
    } else if (t[0] === "c") {
      const h = c.hosts[Number(num(t[1]))];
      const op = num(t[4]);
      const who = h?.kind === "ops_func" ? h.ops : (c.opsAt(op) ?? c.names(op));
      events.push(`handler ${who} ip=${hex(num(t[2]))} pip=${hex(num(t[3]))} op=${c.names(op)} via=list`);
    } else if (t[0] === "v") {
      events.push(`list walk: ${t.slice(1).join(" ")}`);
    } else if (t[0] === "e") {
      if (t[1] === "ok") {
        const x = t.slice(2);
        end = `returned ${regs(snap(x, 0))} ${saved(x.slice(19, 29).map(num))}`;
      } else if (t[1] === "timeout") end = "timeout";
      else {
        const sig = Number(t[2]);
        const pc = num(t[4]);
        const addr = num(t[5]);
        if (sig === SIGILL && c.btiFault) end = `fault BTI at ${c.names(pc)}`;
        else if (sig === SIGSEGV && addr === pc) end = `fault fetch at ${c.names(pc)}`;
        else if (sig === SIGSEGV) end = `fault data access at ${c.names(pc)} (address ${toHex(addr)})`;
        else if (sig === SIGTRAP) end = `fault BRK at ${c.names(pc)}`;
        else if (sig === SIGILL) end = `fault undefined at ${c.names(pc)}`;
        else end = `fault signal ${sig} at ${c.names(pc)}`;
      }
    }
  }
  let path: Path;
  if (c.siteTarget === null) path = "untraced";
  else if (c.trampAddrs.has(c.siteTarget)) path = "direct-bl";
  else if (opCalled === null) path = "caller-direct";
  else if (opCalled === c.listOps) path = "caller-list";
  else if (opCalled === c.nopOps) path = "caller-nop";
  else path = "caller-ops";
  return { path, events, end };
}

/** The first way two accounts differ, or null. With a BTI fault the harness stops early: a prefix suffices. */
export function differ(model: Account, cpu: Account, btiFault: boolean): string | null {
  if (model.path !== cpu.path) return `path: model ${model.path}, cpu ${cpu.path}`;
  const n = btiFault ? cpu.events.length : Math.max(model.events.length, cpu.events.length);
  if (btiFault && cpu.events.length > model.events.length) return `the cpu did more before the BTI fault than the model: ${cpu.events[model.events.length]}`;
  for (let i = 0; i < n; i++) {
    if (model.events[i] !== cpu.events[i]) return `event ${i + 1}:\n    model ${model.events[i] ?? "(none)"}\n    cpu   ${cpu.events[i] ?? "(none)"}`;
  }
  if (model.end !== cpu.end) return `end:\n    model ${model.end}\n    cpu   ${cpu.end}`;
  return null;
}

interface Pending {
  readonly c: CallCase;
  /** Index of the call's reply among the batch's `call` commands. */
  readonly callNo: number;
}

/** Every call of a scenario: the commands for the harness, and the model's side of each call. */
function prepare(variant: string, design: Design, s: Scenario, out: string[], pending: Pending[], corrupt: Corrupt | null, timing: { modelMs: number }): void {
  const k = boot(rebase(scenarioLayout(s)), design);
  const mirror = new Mirror(k, out, corrupt);
  const trampAddrs = new Set<bigint>(k.layout.trampolines.map((t) => t.addr));
  if (design.directCalls) trampAddrs.add(k.layout.kernel.ftrace_stub_direct_tramp);
  const call = (fn: string, step: number): void => {
    const run = new CallRun(k, fn);
    mirror.sync();
    const rec = k.recs.find((r) => r.fn === fn)!;
    const site = decode(k.mem.read32(rec.ip));
    const siteTarget = site.kind === "bl" ? rec.ip + BigInt(site.offset) : null;
    const setupRegs = run.initialRegisters();
    out.push(["call", hex(setupRegs.pc), hex(setupRegs.sp), ...setupRegs.x.map(hex)].join(" "));
    const t = performance.now();
    const obs = run.finish();
    timing.modelMs += performance.now() - t;
    const names = (a: bigint): string => symbolize(k, a) ?? toHex(a);
    const opsNames = new Map(allOps(k).map((o) => [o.addr, o.name] as const));
    const { account, btiFault } = modelAccount(k, obs, names);
    pending.push({
      callNo: pending.length,
      c: {
        variant,
        scenario: s,
        step,
        fn,
        model: account,
        btiFault,
        names,
        hosts: [...mirror.hostList],
        opsAt: (a) => opsNames.get(a),
        listOps: k.listOps.addr,
        nopOps: k.nopOps.addr,
        siteTarget,
        trampAddrs,
      },
    });
  };
  s.steps.forEach((st, i) => {
    if (st.do === "call") return call(st.fn, i);
    runStep(k, st, i);
    for (const f of k.layout.functions) call(f.name, i);
  });
}

export interface Difference {
  readonly c: CallCase;
  readonly what: string;
  readonly cpu: Account;
}

export interface DiffResult {
  readonly variant: string;
  readonly scenarios: number;
  readonly calls: number;
  /** What the compared calls covered: calls per path, calls on BTI layouts, trampoline entries, handler calls. */
  readonly paths: Readonly<Record<string, number>>;
  readonly btiCalls: number;
  readonly trampEntries: number;
  readonly handlerCalls: number;
  readonly differences: ReadonlyArray<Difference>;
  readonly ms: number;
  /**
   * The same calls timed on both sides: the model's interpreter running them (CallRun.finish), and QEMU user mode
   * running the harness on them (each batch's process, start-up and the memory images copied in included).
   */
  readonly modelCallMs: number;
  readonly qemuMs: number;
  /** How many QEMU processes ran them (one per batch of scenarios). */
  readonly batches: number;
}

/** Generate scenarios for a variant until at least `minCalls` calls, run them in both, and compare every call. */
export function differential(variant: string, opts: { minCalls: number; seed: number; corrupt?: Corrupt; batch?: number }): DiffResult {
  const design = variantByName(variant);
  if (design === undefined) throw new Error(`unknown variant ${variant}`);
  const started = performance.now();
  const differences: Difference[] = [];
  const paths: Record<string, number> = {};
  let calls = 0;
  let scenarios = 0;
  let btiCalls = 0;
  let trampEntries = 0;
  let handlerCalls = 0;
  const batchSize = opts.batch ?? 25;
  const timing = { modelMs: 0 };
  let qemuMs = 0;
  let batches = 0;
  let seed = opts.seed;
  while (calls < opts.minCalls) {
    const batch = fc.sample(runArb(variant), { seed: seed++, numRuns: batchSize });
    const out: string[] = [];
    const pending: Pending[] = [];
    for (const s of batch) prepare(variant, design, s, out, pending, opts.corrupt ?? null, timing);
    scenarios += batch.length;
    const q = performance.now();
    const { lines } = runBatch(out);
    qemuMs += performance.now() - q;
    batches++;
    const replies = splitReplies(lines, out);
    pending.forEach((p) => {
      paths[p.c.model.path] = (paths[p.c.model.path] ?? 0) + 1;
      if (p.c.scenario.config.bti) btiCalls++;
      trampEntries += p.c.model.events.filter((e) => e.startsWith("tramp ")).length;
      handlerCalls += p.c.model.events.filter((e) => e.startsWith("handler ")).length;
      const cpu = harnessAccount(p.c, replies[p.callNo] ?? []);
      const what = differ(p.c.model, cpu, p.c.btiFault);
      if (what !== null) differences.push({ c: p.c, what, cpu });
    });
    calls += pending.length;
  }
  return { variant, scenarios, calls, paths, btiCalls, trampEntries, handlerCalls, differences, ms: performance.now() - started, modelCallMs: timing.modelMs, qemuMs, batches };
}

/** A broken LDUR encoder for the self-check: every negative LDUR offset comes out 8 bytes short. */
export const brokenLdur: Corrupt = (_a, insn, word) => (insn.kind === "ldur" && insn.simm9 < 0 ? encode({ ...insn, simm9: insn.simm9 + 8 }) : word);
