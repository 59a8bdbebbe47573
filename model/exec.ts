// The call of a traced function, run on the CPU (model/cpu.ts) through the caller's BL, the patch-site,
// ftrace_caller or a module PLT, direct trampolines and ftrace's C functions (model/host.ts), and judged as it
// ends: the hand-offs' registers, callee-saved registers, the caller's stack, the bodies that ran, a loop or a
// fault. Its CallObservation (model/observation.ts) is what the properties judge.

import { decode, disasm, toHex, type Insn } from "./insn.ts";
import { hasCallOps, symbolize, type Kernel } from "./kernel.ts";
import { LISTING_SPANS, STACK_SPAN, TRAMPOLINE_SPAN } from "./layout.ts";
import { ea, indirect, name, rd, snap, step, traceLine, wrap, type Cpu } from "./cpu.ts";
import { hostSteps, useAfterFree } from "./host.ts";
import type { CallObservation, CallSetup, Path, Recorder, RegSnapshot, TraceLine, Violation } from "./observation.ts";

export { landingOk } from "./cpu.ts";
export type { BranchEvent, Boundary, CallObservation, CallSetup, HandlerCall, Path, RegSnapshot, TraceLine, TrampEntry, Violation, ViolationKind } from "./observation.ts";
export { violationMessages } from "./observation.ts";

export const MAX_STEPS = 4000;

const DEFAULT_ARGS: ReadonlyArray<bigint> = Object.freeze(Array.from({ length: 9 }, (_, i) => 0xa000000000000000n + BigInt(i)));
const DEFAULT_CALLEE_SAVED: ReadonlyArray<bigint> = Object.freeze(Array.from({ length: 10 }, (_, i) => 0xc500000000000000n + BigInt(19 + i)));

export function defaultSetup(k: Kernel): CallSetup {
  return {
    args: DEFAULT_ARGS,
    calleeSaved: DEFAULT_CALLEE_SAVED,
    fp: k.layout.kernel.stackTop + 0x40n,
    sp: k.layout.kernel.stackTop,
    lr: k.layout.kernel.callerReturn,
  };
}

/** Caller-saved registers a C function may leave with any value (AAPCS64 x0-x17). */
function clobberCallerSaved(cpu: Cpu): void {
  for (let r = 0; r <= 17; r++) cpu.x[r] = 0xdead000000000000n + BigInt(r);
}

function pathOf(k: Kernel, rec: Recorder, trampAddrs: ReadonlyMap<bigint, string>): Path {
  if (rec.siteTarget === null) return "untraced";
  if (trampAddrs.has(rec.siteTarget)) return "direct-bl";
  if (rec.opCalled === null) return "caller-direct";
  // Without CALL_OPS the list function is handed function_trace_op, which is ftrace_list_end whenever it is in use.
  if (rec.opCalled === k.listOps.addr || (!hasCallOps(k.design) && rec.opCalled === k.listEnd.addr)) return "caller-list";
  if (rec.opCalled === k.nopOps.addr) return "caller-nop";
  return "caller-ops";
}

/** The trampolines by address: fixed by the layout and design, so made once per layout and design. */
const TRAMPOLINE_ADDRS = new WeakMap<object, WeakMap<object, ReadonlyMap<bigint, string>>>();
function trampolineAddrs(k: Kernel): ReadonlyMap<bigint, string> {
  const byDesign = TRAMPOLINE_ADDRS.get(k.layout) ?? new WeakMap<object, ReadonlyMap<bigint, string>>();
  TRAMPOLINE_ADDRS.set(k.layout, byDesign);
  let m = byDesign.get(k.design);
  if (m === undefined) {
    const made = new Map<bigint, string>(k.layout.trampolines.map((t) => [t.addr, t.name]));
    if (k.design.directCalls) made.set(k.layout.kernel.ftrace_stub_direct_tramp, "ftrace_stub_direct_tramp");
    m = made;
    byDesign.set(k.design, m);
  }
  return m;
}

function inFtraceCaller(k: Kernel, pc: bigint): boolean {
  const region = k.codeRegions.find(([, , n]) => n === "ftrace_caller");
  return region !== undefined && pc >= region[0] && pc < region[1];
}

/** x19-x28 and the frame pointer as the caller left them (AAPCS64 callee-saved), checked at `where`. */
function calleeSavedBreaches(where: string, cpu: Cpu, setup: CallSetup): Violation[] {
  const out: Violation[] = [];
  const at = (message: string): Violation => ({ kind: "callee-saved", where, message });
  cpu.x.slice(19, 29).forEach((v, i) => {
    if (v !== setup.calleeSaved[i]) out.push(at(`${where}: x${19 + i} = ${toHex(v)}, expected ${toHex(setup.calleeSaved[i] ?? 0n)}`));
  });
  if (cpu.x[29] !== setup.fp) out.push(at(`${where}: x29 = ${toHex(cpu.x[29]!)}, expected the caller's fp ${toHex(setup.fp)}`));
  return out;
}

/** Check a hand-off against the call's setup; returns the mismatches as messages. */
function checkHandoff(where: string, got: RegSnapshot, want: { x: ReadonlyArray<bigint>; x9?: bigint; x30: bigint; sp: bigint }, k: Kernel): Violation[] {
  const out: Violation[] = [];
  const at = (message: string): Violation => ({ kind: "handoff", where, message });
  for (let i = 0; i < want.x.length; i++) {
    if (got.x[i] !== want.x[i]) out.push(at(`${where}: x${i} = ${toHex(got.x[i] ?? 0n)}, expected argument ${toHex(want.x[i]!)}`));
  }
  if (want.x9 !== undefined && got.x[9] !== want.x9) out.push(at(`${where}: x9 = ${name(k, got.x[9] ?? 0n)}, expected the caller's return address ${name(k, want.x9)}`));
  if (got.x30 !== want.x30) out.push(at(`${where}: x30 = ${name(k, got.x30)}, expected ${name(k, want.x30)}`));
  if (got.sp !== want.sp) out.push(at(`${where}: sp = ${toHex(got.sp)}, expected ${toHex(want.sp)}`));
  return out;
}

/** Bytes below the initial sp filled with junk before a call, so nothing depends on earlier calls' leftovers. */
export const STACK_POISON_BYTES = 512n;

/** What an uninitialised stack slot holds: a recognisable non-zero junk value (never a valid address). */
export function stackPoison(addr: bigint): bigint {
  return 0x5ca1ab1e00000000n | (addr & 0xffffffffn);
}

function poisonStack(k: Kernel, sp: bigint): void {
  k.mem.writeWords(sp - STACK_POISON_BYTES, poisonWords(sp));
}

/** The poison below sp as words (low half first), computed once per sp. */
const POISON_WORDS = new Map<bigint, Uint32Array>();
function poisonWords(sp: bigint): Uint32Array {
  let w = POISON_WORDS.get(sp);
  if (w === undefined) {
    w = new Uint32Array(Number(STACK_POISON_BYTES / 4n));
    for (let i = 0; i < w.length; i += 2) {
      const v = stackPoison(sp - STACK_POISON_BYTES + BigInt(i * 4));
      w[i] = Number(v & 0xffffffffn);
      w[i + 1] = Number(v >> 32n);
    }
    if (POISON_WORDS.size > 64) POISON_WORDS.clear();
    POISON_WORDS.set(sp, w);
  }
  return w;
}

/**
 * Run the code at `pc` with the given registers until `stop` says the last executed instruction was the one
 * of interest (or `maxSteps`); returns the registers then. For probes of a listing's prefix, e.g. how
 * ftrace_caller finds the literal.
 */
export function runUntil(
  k: Kernel,
  pc: bigint,
  regs: { x: ReadonlyArray<bigint>; sp: bigint },
  stop: (insn: Insn) => boolean,
  maxSteps = 64,
): { x: ReadonlyArray<bigint>; sp: bigint; fault: string | null; insn: Insn | null; loadAddr?: bigint } {
  const cpu: Cpu = { x: [...regs.x], sp: regs.sp, pc, rs: [] };
  const rec: Recorder = { handlers: [], tramps: [], bodies: [], branches: [], boundaries: [], trace: [], violations: [], siteTarget: null, opCalled: null, lastBranch: "", seq: 0 };
  for (let i = 0; i < maxSteps; i++) {
    if (!k.mem.has(cpu.pc) || k.hosts.has(cpu.pc)) return { x: cpu.x, sp: cpu.sp, fault: `left the code at ${name(k, cpu.pc)}`, insn: null };
    const insn = decode(k.mem.read32(cpu.pc));
    // Where a load reads, computed before it runs (it may overwrite its own base register).
    const loadAddr = insn.kind === "ldr_imm" ? ea(cpu, insn.rn, insn.imm) : insn.kind === "ldur" ? ea(cpu, insn.rn, insn.simm9) : undefined;
    const fault = step(k, cpu, insn, rec);
    if (fault !== null) return { x: cpu.x, sp: cpu.sp, fault, insn };
    if (stop(insn)) return { x: cpu.x, sp: cpu.sp, fault: null, insn, ...(loadAddr !== undefined ? { loadAddr } : {}) };
  }
  return { x: cpu.x, sp: cpu.sp, fault: `no stop after ${maxSteps} instructions`, insn: null };
}

/**
 * One call of a traced function, steppable: each step executes one instruction, or one step of a C function.
 * `callFunction` runs it to the end; concurrent runs interleave the steps of several CPUs with the updater.
 */
export class CallRun {
  private readonly cpu: Cpu;
  private readonly rec: Recorder;
  private readonly tramps: ReadonlyMap<bigint, string>;
  private readonly ip: bigint;
  private host: { gen: Generator<void, void, void>; where: string } | null = null;
  private fault: string | null = null;
  private returned = false;
  private steps = 0;
  /** Set once the site's BL has executed and until the body is entered: inside ftrace's code and data. */
  private inFtraceFlag = false;
  /**
   * The loop check (Brent's): the CPU's state at the last power-of-two step. Meeting it again, with no store and no
   * C function run in between, means the call goes round the same instructions for ever.
   */
  private mark: { readonly pc: bigint; readonly sp: bigint; readonly x: ReadonlyArray<bigint>; readonly gen: number; readonly hostRuns: number; readonly at: number } | null = null;
  private nextMark = 1;
  private hostRuns = 0;
  private loop: { readonly gen: number; readonly message: string } | null = null;

  constructor(
    private readonly k: Kernel,
    readonly fn: string,
    private readonly setup: CallSetup = defaultSetup(k),
    /**
     * What a revisited state does: "stop" ends the call as a loop (a fault) rather than at MAX_STEPS, for a call
     * that runs alone; "note" only records it (loopAt), for a call among other CPUs, one of which may yet store
     * what this one waits for: the concurrent run ends it (endAsLoop) once no actor can change memory any more.
     */
    private readonly loops: "stop" | "note" = "stop",
  ) {
    const f = k.layout.functions.find((x) => x.name === fn);
    const drec = k.recs.find((r) => r.fn === fn);
    if (f === undefined || drec === undefined) throw new Error(`unknown function ${fn}`);
    this.ip = drec.ip;
    const x: bigint[] = Array.from({ length: 31 }, (_, i) => 0xdead000000000000n + BigInt(i));
    setup.args.forEach((v, i) => (x[i] = v));
    setup.calleeSaved.forEach((v, i) => (x[19 + i] = v));
    x[29] = setup.fp;
    x[30] = setup.lr;
    this.cpu = { x, sp: setup.sp, pc: f.addr, rs: [setup.lr] };
    poisonStack(k, setup.sp);
    this.rec = {
      handlers: [],
      tramps: [],
      bodies: [],
      branches: [],
      boundaries: [],
      trace: [],
      violations: [],
      siteTarget: null,
      opCalled: null,
      lastBranch: `bl ${fn}`,
      seq: 0,
    };
    this.tramps = trampolineAddrs(k);
  }

  /**
   * The memory generation at which the call last came back to a state it was in (a revisit), or null: while memory
   * stays at that generation the call goes round for ever.
   */
  get loopAt(): number | null {
    return this.loop?.gen ?? null;
  }

  /** End the call as the loop it is in (loopAt is the memory's generation and no actor can change it). */
  endAsLoop(): void {
    if (this.loop !== null && this.fault === null) this.fault = this.loop.message;
  }

  get done(): boolean {
    return this.returned || this.fault !== null || this.steps >= MAX_STEPS;
  }

  /** The registers as they are now: before the first step, those the call starts with (to run it elsewhere). */
  initialRegisters(): { readonly pc: bigint; readonly sp: bigint; readonly x: ReadonlyArray<bigint> } {
    return { pc: this.cpu.pc, sp: this.cpu.sp, x: [...this.cpu.x] };
  }

  /** How many trace lines the call has so far, and the last one (for timelines). */
  get traceCount(): number {
    return this.rec.trace.length;
  }

  get lastTraceLine(): TraceLine | undefined {
    return this.rec.trace[this.rec.trace.length - 1];
  }

  /** Where the CPU is now, for concurrent coverage: inside ftrace_caller, in a direct trampoline, or elsewhere. */
  get where(): "ftrace_caller" | "trampoline" | "elsewhere" {
    const pc = this.cpu.pc;
    if (this.done || this.host !== null) return "elsewhere";
    if (inFtraceCaller(this.k, pc)) return "ftrace_caller";
    const ts = this.k.layout.trampolines;
    if (ts.some((t) => pc >= t.addr && pc < t.addr + TRAMPOLINE_SPAN)) return "trampoline";
    const stub = this.k.layout.kernel.ftrace_stub_direct_tramp;
    return pc >= stub && pc < stub + LISTING_SPANS.stubDirectTramp ? "trampoline" : "elsewhere";
  }

  /** The ops pointer ftrace_caller loaded from the literal (x11), while the CPU is inside ftrace_caller. */
  get heldOps(): bigint | null {
    return this.where === "ftrace_caller" ? this.cpu.x[11]! : null;
  }

  /** Between the site's BL and the body: where grace periods must wait for this CPU. */
  get inFtrace(): boolean {
    return this.inFtraceFlag && !this.done;
  }

  /** Execute one instruction, or one step of the C function being run. */
  step(): void {
    if (this.done) return;
    this.steps++;
    const { k, cpu, rec, setup } = this;
    if (this.host !== null) {
      if (this.host.gen.next().done === true) this.returnFromHost(this.host.where);
      return;
    }
    const pc = cpu.pc;
    if (pc === setup.lr) {
      this.returned = true;
      return;
    }
    const trampName = this.tramps.get(pc);
    if (trampName !== undefined) {
      const regs = snap(cpu);
      const lb = rec.lastBranch;
      const via = typeof lb === "string" ? lb : `${disasm(lb.insn, lb.pc, (a) => symbolize(k, a))} at ${name(k, lb.pc)}`;
      rec.tramps.push({ tramp: trampName, regs, via, seq: rec.seq++ });
      rec.violations.push(...checkHandoff(`entry of ${trampName}`, regs, { x: setup.args, x9: setup.lr, x30: this.ip + 4n, sp: setup.sp }, k));
    }
    const host = k.hosts.get(pc);
    if (host !== undefined) {
      const where = name(k, pc);
      useAfterFree(k, pc, rec, "call");
      rec.trace.push({ pc, where, text: `<C function ${where}>`, insn: null });
      rec.boundaries.push({ at: where, sp: cpu.sp });
      if (cpu.sp % 16n !== 0n) rec.violations.push({ kind: "sp-alignment", where, message: `SP alignment: sp ${toHex(cpu.sp)} is not 16-byte aligned on entry to ${where}` });
      if (host.kind === "body") {
        this.inFtraceFlag = false;
        rec.violations.push(...checkHandoff(`body of ${host.fn}`, snap(cpu), { x: setup.args, x30: setup.lr, sp: setup.sp }, k));
        rec.violations.push(...calleeSavedBreaches(`body of ${host.fn}`, cpu, setup));
      }
      this.hostRuns++;
      const gen = hostSteps(k, host, cpu.x.slice(0, 4), rec, cpu);
      if (gen.next().done === true) this.returnFromHost(where);
      else this.host = { gen, where };
      return;
    }
    if (!k.mem.has(pc)) {
      this.fault = `instruction fetch from unmapped ${name(k, pc)}`;
      return;
    }
    if (this.revisited() && this.loops === "stop") {
      this.endAsLoop();
      return;
    }
    useAfterFree(k, pc, rec, "instruction fetch");
    const insn = decode(k.mem.read32(pc));
    rec.trace.push(traceLine(k, pc, insn));
    if (pc === this.ip && insn.kind === "bl") {
      rec.siteTarget = wrap(pc + BigInt(insn.offset));
      this.inFtraceFlag = true;
    }
    // The op ftrace_caller hands its callee: at the BLR to op->func, or (without CALL_OPS) at the BL at ftrace_call.
    if ((insn.kind === "blr" || (insn.kind === "bl" && pc === k.ftraceCallSite)) && inFtraceCaller(k, pc) && rec.opCalled === null) rec.opCalled = cpu.x[2]!;
    if (insn.kind === "bl" || insn.kind === "b" || insn.kind === "br" || insn.kind === "blr" || insn.kind === "ret")
      rec.lastBranch = { insn, pc };
    if (this.inFtraceFlag) this.callerStackCheck(insn, pc);
    if (k.freed.length > 0 && (insn.kind === "ldr_imm" || insn.kind === "ldur")) {
      const base = insn.rn === 31 ? cpu.sp : cpu.x[insn.rn]!;
      useAfterFree(k, wrap(base + BigInt(insn.kind === "ldr_imm" ? insn.imm : insn.simm9)), rec, `${disasm(insn, pc)} at ${name(k, pc)}`);
    }
    this.fault = step(k, cpu, insn, rec);
  }

  /**
   * Whether the CPU is back in the state it was in at the last mark, with memory untouched and no C function run
   * since: then, while memory stays so, it repeats the same steps for ever (the loop is noted). Otherwise
   * a new mark is taken at each power-of-two step, so a loop of any length is met within twice its start plus its
   * length.
   */
  private revisited(): boolean {
    const { cpu, k } = this;
    const m = this.mark;
    if (m !== null && m.pc === cpu.pc && m.sp === cpu.sp && m.gen === k.mem.generation && m.hostRuns === this.hostRuns && m.x.every((v, i) => v === cpu.x[i])) {
      const n = this.steps - m.at;
      this.loop = { gen: m.gen, message: `a loop: ${name(k, cpu.pc)} reached again after ${n} step${n === 1 ? "" : "s"} with the same registers and memory, so the call never returns` };
      return true;
    }
    if (this.steps >= this.nextMark) {
      this.mark = { pc: cpu.pc, sp: cpu.sp, x: [...cpu.x], gen: k.mem.generation, hostRuns: this.hostRuns, at: this.steps };
      this.nextMark *= 2;
    }
    return false;
  }

  /**
   * ftrace's code runs on the traced function's stack below the callsite's sp; what lies at and above it is the
   * caller's frame. A store there (a frame reserved too small, a record written too high) corrupts the caller.
   */
  private callerStackCheck(insn: Insn, pc: bigint): void {
    const { k, cpu, setup } = this;
    let lo: bigint;
    let bytes: bigint;
    if (insn.kind === "str_imm" || insn.kind === "stur") {
      lo = ea(cpu, insn.rn, insn.kind === "str_imm" ? insn.imm : insn.simm9);
      bytes = 8n;
    } else if (insn.kind === "stp") {
      lo = wrap(rd(cpu, insn.rn, true) + (insn.mode === "post" ? 0n : BigInt(insn.imm)));
      bytes = 16n;
    } else return;
    const stackLo = k.layout.kernel.stackTop - STACK_SPAN;
    if (lo + bytes <= setup.sp || lo >= k.layout.kernel.stackTop || lo + bytes <= stackLo) return;
    this.rec.violations.push({ kind: "caller-stack", where: name(k, pc), message: `caller's stack: ${disasm(insn, pc)} at ${name(k, pc)} writes ${toHex(lo)}..+${bytes}, at or above the callsite's sp ${toHex(setup.sp)}` });
  }

  private returnFromHost(where: string): void {
    const { k, cpu, rec } = this;
    this.host = null;
    clobberCallerSaved(cpu);
    const to = cpu.x[30]!;
    indirect(k, cpu, rec, "ret", 30, to);
    rec.lastBranch = `ret from ${where}`;
    cpu.pc = to;
  }

  /** Run to the end and return what the call did. */
  finish(): CallObservation {
    while (!this.done) this.step();
    return this.observe();
  }

  /** What the call did (judged as finished: an unfinished call is reported as not returning). */
  observe(): CallObservation {
    const { k, cpu, rec, setup, fn } = this;
    const violations = [...rec.violations];
    let fault = this.fault;
    const returned = this.returned;
    if (fault === null && !returned) fault = `no return to the caller after ${MAX_STEPS} steps`;
    const calleeSaved = [...cpu.x.slice(19, 29)];
    if (returned) {
      if (cpu.sp !== setup.sp) violations.push({ kind: "return-sp", where: "return to caller", message: `return to caller: sp = ${toHex(cpu.sp)}, expected ${toHex(setup.sp)}` });
      violations.push(...calleeSavedBreaches("return to caller", cpu, setup));
    }
    const bodiesOfFn = rec.bodies.filter((b) => b.fn === fn).length;
    if (fault === null && bodiesOfFn !== 1) violations.push({ kind: "body-count", where: fn, message: `body of ${fn} ran ${bodiesOfFn} times` });
    for (const b of rec.bodies) if (b.fn !== fn) violations.push({ kind: "foreign-body", where: b.fn, message: `body of ${b.fn} ran during a call of ${fn}` });
    if (fault !== null) violations.push({ kind: "fault", where: fn, message: `fault: ${fault}` });
    return {
      fn,
      path: pathOf(k, rec, this.tramps),
      handlers: rec.handlers,
      tramps: rec.tramps,
      bodies: rec.bodies,
      returned,
      returnTarget: returned ? setup.lr : null,
      final: returned ? snap(cpu) : null,
      finalCalleeSaved: calleeSaved,
      branches: rec.branches,
      boundaries: rec.boundaries,
      trace: rec.trace,
      violations,
      fault,
    };
  }
}

/** Call function `fn` from a C caller and run until control returns to the caller (or faults). */
export function callFunction(k: Kernel, fn: string, setup: CallSetup = defaultSetup(k)): CallObservation {
  return new CallRun(k, fn, setup).finish();
}
