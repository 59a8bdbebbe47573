// A small A64 interpreter over the model's memory, and the call of a traced function run through it:
// the caller's BL, the patch-site, ftrace_caller or a module PLT, direct trampolines, and the C functions
// (ops callbacks, ftrace_ops_list_func, call_direct_funcs, the function body) run as TypeScript at their
// addresses. Stands for a CPU executing the kernel text; the observations are what properties judge.

import { ftrace_kill, ftrace_ops_get_func_is_func, ftrace_ops_test, hashEmpty, subopsOf } from "./core.ts";
import { mutated } from "./mutants.ts";
import { FTRACE_OPS_FL, hasFlag } from "./flags.ts";
import { decode, disasm, toHex, type Insn } from "./insn.ts";
import type { FtraceOps, HostFn, Kernel } from "./kernel.ts";
import { allOps, hasCallOps, symbolize } from "./kernel.ts";
import { U64_MASK } from "./memory.ts";
import { LISTING_SPANS, STACK_SPAN, TRAMPOLINE_SPAN } from "./layout.ts";
import { FTRACE_OPS_NEXT } from "./structs.ts";

export type Path = "untraced" | "direct-bl" | "caller-direct" | "caller-ops" | "caller-list" | "caller-nop";

export interface RegSnapshot {
  /** x0..x9 */
  readonly x: ReadonlyArray<bigint>;
  readonly x30: bigint;
  readonly sp: bigint;
}

export interface HandlerCall {
  /** The ops whose callback ran. */
  readonly ops: string;
  readonly ip: bigint;
  readonly parentIp: bigint;
  /** The ops pointer the callback received, by name. */
  readonly op: string;
  /** Position among the call's handler, trampoline and body events. */
  readonly seq: number;
  /** Who called the callback: ftrace_ops_list_func (with its recursion guard), or ftrace_caller directly. */
  readonly via: "list" | "caller";
}

export interface TrampEntry {
  readonly tramp: string;
  readonly regs: RegSnapshot;
  /** The instruction that branched there. */
  readonly via: string;
  readonly seq: number;
}

export interface BranchEvent {
  readonly kind: "br" | "blr" | "ret";
  readonly reg: number;
  readonly from: bigint;
  readonly to: bigint;
  /** What the branch landed on: disassembly of the target word, or the C function's name. */
  readonly landing: string;
  /** Whether a return-stack predictor would have predicted this RET correctly (always true for BR/BLR). */
  readonly predicted: boolean;
}

export interface Boundary {
  readonly at: string;
  readonly sp: bigint;
}

export interface TraceLine {
  readonly pc: bigint;
  readonly where: string;
  readonly text: string;
  /** The instruction executed (what a reader of the trace matches on); null for a C function's entry. */
  readonly insn: Insn | null;
}

export interface CallObservation {
  readonly fn: string;
  readonly path: Path;
  readonly handlers: ReadonlyArray<HandlerCall>;
  readonly tramps: ReadonlyArray<TrampEntry>;
  /** Times each body ran (normally only fn's). */
  readonly bodies: ReadonlyArray<{ readonly fn: string; readonly regs: RegSnapshot; readonly calleeSaved: ReadonlyArray<bigint>; readonly seq: number }>;
  readonly returned: boolean;
  readonly returnTarget: bigint | null;
  readonly final: RegSnapshot | null;
  readonly finalCalleeSaved: ReadonlyArray<bigint>;
  readonly branches: ReadonlyArray<BranchEvent>;
  readonly boundaries: ReadonlyArray<Boundary>;
  readonly trace: ReadonlyArray<TraceLine>;
  /** Breaches of the register, stack, BTI and return-stack rules seen during the call. */
  readonly violations: ReadonlyArray<Violation>;
  readonly fault: string | null;
}

/** The values a call starts with, so that hand-offs can be checked against them. */
export interface CallSetup {
  readonly args: ReadonlyArray<bigint>;
  readonly calleeSaved: ReadonlyArray<bigint>;
  readonly fp: bigint;
  readonly sp: bigint;
  readonly lr: bigint;
}

export const MAX_STEPS = 4000;

/**
 * Which check of the observer found a breach during a call: what the judges (properties/) match on, so that a
 * reworded message never blinds one.
 * - sp-alignment-fault: SP used as a base register while not 16-byte aligned (the CPU's SP alignment check)
 * - sp-alignment: SP not 16-byte aligned on entry to a C function
 * - ret-forward: a RET to an address no BL/BLR pushed (RET used as a forward branch)
 * - bti-landing: a BR/BLR into guarded text lands where BTI forbids
 * - use-after-free: a load from, or a branch into, a freed ops or trampoline
 * - recursion: ftrace_caller called an ops' func straight from the literal where it needs ftrace_ops_assist_func
 * - list-walk: ftrace_ops_list_func met something that is not an ops, a NULL func, or a callback it cannot call
 * - handoff: a register or sp at a hand-off (direct trampoline entry, body entry) is not what the contract says
 * - callee-saved: x19-x29 not the caller's at body entry or return
 * - caller-stack: a store at or above the callsite's sp, into the caller's frame
 * - return-sp: sp on return to the caller is not the callsite's
 * - body-count: the traced function's body ran other than once
 * - foreign-body: another function's body ran during the call
 * - fault: the call stopped (unmapped fetch, a loop, no return within MAX_STEPS, ...)
 */
export type ViolationKind =
  | "sp-alignment-fault"
  | "sp-alignment"
  | "ret-forward"
  | "bti-landing"
  | "use-after-free"
  | "recursion"
  | "list-walk"
  | "handoff"
  | "callee-saved"
  | "caller-stack"
  | "return-sp"
  | "body-count"
  | "foreign-body"
  | "fault";

/** A breach seen during a call: which check, where (a symbol+offset, a hand-off, a function), and the message. */
export interface Violation {
  readonly kind: ViolationKind;
  readonly where: string;
  /** As scenario files record it (and as every report prints it). */
  readonly message: string;
}

/** A call's violations as the messages scenario files and reports show. */
export function violationMessages(vs: ReadonlyArray<Violation>): string[] {
  return vs.map((v) => v.message);
}

/** How a bti-landing violation's message starts (as scenario files record it). */
const BTI_BREACH = "BTI:";

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

interface Cpu {
  readonly x: bigint[];
  sp: bigint;
  pc: bigint;
  /** Return-stack predictor: pushed by BL/BLR, popped by RET. */
  readonly rs: bigint[];
}

interface Recorder {
  handlers: HandlerCall[];
  tramps: TrampEntry[];
  bodies: Array<{ fn: string; regs: RegSnapshot; calleeSaved: bigint[]; seq: number }>;
  branches: BranchEvent[];
  boundaries: Boundary[];
  trace: TraceLine[];
  violations: Violation[];
  siteTarget: bigint | null;
  opCalled: bigint | null;
  /** The last branch taken, as text or as the instruction and its address (formatted only when needed). */
  lastBranch: string | { readonly insn: Insn; readonly pc: bigint };
  seq: number;
}

const wrap = (v: bigint): bigint => v & U64_MASK;

/** A trace line whose text is made only when someone reads it (getters on the prototype, no closures). */
class LazyTraceLine implements TraceLine {
  constructor(
    private readonly k: Kernel,
    readonly pc: bigint,
    readonly insn: Insn,
  ) {}
  get where(): string {
    return name(this.k, this.pc);
  }
  get text(): string {
    return disasm(this.insn, this.pc, (a) => symbolize(this.k, a));
  }
}

function traceLine(k: Kernel, pc: bigint, insn: Insn): TraceLine {
  return new LazyTraceLine(k, pc, insn);
}

function snap(cpu: Cpu): RegSnapshot {
  return { x: cpu.x.slice(0, 10), x30: cpu.x[30]!, sp: cpu.sp };
}

function name(k: Kernel, addr: bigint): string {
  return symbolize(k, addr) ?? toHex(addr);
}

/** Register read: 31 is XZR or SP depending on the field. */
function rd(cpu: Cpu, r: number, sp31: boolean): bigint {
  return r === 31 ? (sp31 ? cpu.sp : 0n) : cpu.x[r]!;
}

function wr(cpu: Cpu, r: number, v: bigint, sp31: boolean): void {
  if (r === 31) {
    if (sp31) cpu.sp = wrap(v);
    return;
  }
  cpu.x[r] = wrap(v);
}

function spCheck(k: Kernel, cpu: Cpu, rn: number, rec: Recorder): void {
  if (rn === 31 && cpu.sp % 16n !== 0n)
    rec.violations.push({ kind: "sp-alignment-fault", where: name(k, cpu.pc), message: `SP alignment fault: sp=${toHex(cpu.sp)} used as a base register at ${name(k, cpu.pc)}` });
}

/** Which landing pads accept an indirect branch (BTYPE rules of the Arm ARM, SCTLR_EL1.BT=0 for PAC*SP). */
export function landingOk(kind: "br" | "blr", reg: number, target: Insn | "host"): boolean {
  const viaX16X17 = reg === 16 || reg === 17;
  if (target === "host") return kind === "blr" || viaX16X17;
  if (target.kind === "bti") return target.target === "jc" || (target.target === "c" ? kind === "blr" || viaX16X17 : target.target === "j" && kind === "br");
  if (target.kind === "hint") return (target.imm === 25 || target.imm === 27) && (kind === "blr" || viaX16X17);
  return false;
}

/** Effective address of a load or store: base register (31 is SP) plus offset. */
function ea(cpu: Cpu, rn: number, off: number): bigint {
  return wrap(rd(cpu, rn, true) + BigInt(off));
}

/** What an indirect branch lands on, for people: a C function's name, the instruction there, or "unmapped". */
function landingText(k: Kernel, to: bigint): string {
  if (k.hosts.has(to)) return symbolize(k, to) ?? "C function";
  return k.mem.has(to) ? disasm(decode(k.mem.read32(to)), to, (a) => symbolize(k, a)) : "unmapped";
}

function indirect(k: Kernel, cpu: Cpu, rec: Recorder, kind: "br" | "blr" | "ret", reg: number, to: bigint): void {
  const host = k.hosts.get(to);
  let predicted = true;
  if (kind === "ret") {
    const expect = cpu.rs.pop();
    predicted = expect === to;
    if (!predicted) rec.violations.push({ kind: "ret-forward", where: name(k, cpu.pc), message: `RET used as a forward branch to ${name(k, to)} at ${name(k, cpu.pc)}` });
  } else if (k.layout.bti) {
    const target = host !== undefined ? "host" : k.mem.has(to) ? decode(k.mem.read32(to)) : null;
    if (target !== null && !landingOk(kind, reg, target))
      rec.violations.push({ kind: "bti-landing", where: name(k, cpu.pc), message: `${BTI_BREACH} ${kind} x${reg} at ${name(k, cpu.pc)} lands on "${landingText(k, to)}" at ${name(k, to)}` });
  }
  const from = cpu.pc;
  rec.branches.push({
    kind,
    reg,
    from,
    to,
    predicted,
    // Disassembly is only needed when a person reads it.
    get landing(): string {
      return landingText(k, to);
    },
  });
}

/** Execute one A64 instruction; returns a fault message or null. */
// The interpreter's hot loop uses a switch with a `never` check rather than ts-pattern: same exhaustiveness,
// several times faster (measured: ts-pattern was a third of a call's time).
function step(k: Kernel, cpu: Cpu, insn: Insn, rec: Recorder): string | null {
  const pc = cpu.pc;
  const next = pc + 4n;
  const mem = k.mem;
  switch (insn.kind) {
    case "nop":
    case "bti":
    case "hint":
      cpu.pc = next;
      return null;
    case "orr_reg":
      wr(cpu, insn.rd, rd(cpu, insn.rn, false) | rd(cpu, insn.rm, false), false);
      cpu.pc = next;
      return null;
    case "add_imm":
    case "sub_imm": {
      const imm = BigInt(insn.imm12) << (insn.lsl12 ? 12n : 0n);
      const a = rd(cpu, insn.rn, true);
      wr(cpu, insn.rd, insn.kind === "add_imm" ? a + imm : a - imm, true);
      cpu.pc = next;
      return null;
    }
    case "and_imm":
      wr(cpu, insn.rd, rd(cpu, insn.rn, false) & insn.imm, true);
      cpu.pc = next;
      return null;
    case "ldr_imm":
    case "ldur": {
      spCheck(k, cpu, insn.rn, rec);
      const a = ea(cpu, insn.rn, insn.kind === "ldr_imm" ? insn.imm : insn.simm9);
      if (a % 4n !== 0n) return `misaligned load at ${toHex(a)}`;
      wr(cpu, insn.rt, mem.read64(a), false);
      cpu.pc = next;
      return null;
    }
    case "str_imm":
    case "stur": {
      spCheck(k, cpu, insn.rn, rec);
      const a = ea(cpu, insn.rn, insn.kind === "str_imm" ? insn.imm : insn.simm9);
      if (a % 4n !== 0n) return `misaligned store at ${toHex(a)}`;
      mem.write64(a, rd(cpu, insn.rt, false));
      cpu.pc = next;
      return null;
    }
    case "ldp":
    case "stp": {
      spCheck(k, cpu, insn.rn, rec);
      const base = rd(cpu, insn.rn, true);
      const a = wrap(insn.mode === "post" ? base : base + BigInt(insn.imm));
      if (a % 4n !== 0n) return `misaligned pair access at ${toHex(a)}`;
      if (insn.kind === "stp") {
        mem.write64(a, rd(cpu, insn.rt, false));
        mem.write64(a + 8n, rd(cpu, insn.rt2, false));
      } else {
        const v1 = mem.read64(a);
        const v2 = mem.read64(a + 8n);
        wr(cpu, insn.rt, v1, false);
        wr(cpu, insn.rt2, v2, false);
      }
      if (insn.mode !== "offset") wr(cpu, insn.rn, base + BigInt(insn.imm), true);
      cpu.pc = next;
      return null;
    }
    case "cbz":
    case "cbnz": {
      const zero = rd(cpu, insn.rt, false) === 0n;
      cpu.pc = zero === (insn.kind === "cbz") ? wrap(pc + BigInt(insn.offset)) : next;
      return null;
    }
    case "b":
      cpu.pc = wrap(pc + BigInt(insn.offset));
      return null;
    case "bl":
      cpu.x[30] = next;
      cpu.rs.push(next);
      cpu.pc = wrap(pc + BigInt(insn.offset));
      return null;
    case "br": {
      const to = rd(cpu, insn.rn, false);
      indirect(k, cpu, rec, "br", insn.rn, to);
      cpu.pc = to;
      return null;
    }
    case "blr": {
      const to = rd(cpu, insn.rn, false);
      indirect(k, cpu, rec, "blr", insn.rn, to);
      cpu.x[30] = next;
      cpu.rs.push(next);
      cpu.pc = to;
      return null;
    }
    case "ret": {
      const to = rd(cpu, insn.rn, false);
      indirect(k, cpu, rec, "ret", insn.rn, to);
      cpu.pc = to;
      return null;
    }
    case "adrp":
      wr(cpu, insn.rd, (pc & ~0xfffn) + BigInt(insn.offset), false);
      cpu.pc = next;
      return null;
    case "movz":
      wr(cpu, insn.rd, BigInt(insn.imm16) << BigInt(16 * insn.hw), false);
      cpu.pc = next;
      return null;
    case "movk": {
      const sh = BigInt(16 * insn.hw);
      wr(cpu, insn.rd, (rd(cpu, insn.rd, false) & ~(0xffffn << sh)) | (BigInt(insn.imm16) << sh), false);
      cpu.pc = next;
      return null;
    }
    case "brk":
      return `BRK #0x${insn.imm16.toString(16)} at ${name(k, pc)}`;
    case "unknown":
      return `undefined instruction 0x${insn.word.toString(16).padStart(8, "0")} at ${name(k, pc)}`;
    default:
      return unreachable(insn);
  }
}

function unreachable(x: never): never {
  throw new Error(`unhandled case ${JSON.stringify(x)}`);
}

function opsAt(k: Kernel, addr: bigint): FtraceOps | undefined {
  return allOps(k).find((ops) => ops.addr === addr);
}

/**
 * Run a C callback `func(ip, parent_ip, op, fregs)` as the kernel would call it from C or from
 * ftrace_caller. Returns a problem message if func is not a callable C function.
 */
function callCallback(k: Kernel, func: bigint, ip: bigint, pip: bigint, op: bigint, fregs: bigint, rec: Recorder): string | null {
  const host = k.hosts.get(func);
  if (host === undefined) return `call of ${name(k, func)}, which is not a C function`;
  runHost(k, host, [ip, pip, op, fregs], rec, null);
  return null;
}

/** Load a pointer-sized word on behalf of C code, reporting a use-after-free if it lies in a freed object. */
function load64(k: Kernel, addr: bigint, rec: Recorder, what: string): bigint {
  useAfterFree(k, addr, rec, `load of ${what}`);
  return k.mem.read64(addr);
}

/** Record a use-after-free if addr lies in an object that has been freed. */
function useAfterFree(k: Kernel, addr: bigint, rec: Recorder, access: string): void {
  if (k.freed.length === 0) return;
  const f = k.freed.find((x) => addr >= x.lo && addr < x.hi);
  if (f !== undefined) rec.violations.push({ kind: "use-after-free", where: access, message: `use after free: ${access} at ${toHex(addr)} in freed ${f.what} ${f.name}` });
}

/**
 * The TypeScript body of a C function; args are x0..x3. A generator: it yields where another CPU may act in the
 * middle of it (between the ops of a list walk), so concurrent runs can interleave there.
 */
function* hostSteps(k: Kernel, host: HostFn, args: ReadonlyArray<bigint>, rec: Recorder, cpu: Cpu | null): Generator<void, void, void> {
  const [ip = 0n, pip = 0n, op = 0n, fregs = 0n] = args;
  switch (host.kind) {
    case "ops_func": {
      const via = cpu === null ? "list" : "caller";
      rec.handlers.push({ ops: host.ops, ip, parentIp: pip, op: name(k, op), seq: rec.seq++, via });
      const o = k.ops.get(host.ops);
      if (via === "caller" && o !== undefined && !ftrace_ops_get_func_is_func(o)) {
        const why = hasFlag(o.flags, FTRACE_OPS_FL.RECURSION) ? "RECURSION" : "RCU";
        rec.violations.push({ kind: "recursion", where: o.name, message: `recursion: ${o.name} needs ftrace_ops_assist_func (${why}) but ftrace_caller called ${o.name}.func directly from the literal (caller-ops path)` });
      }
      return;
    }
    case "call_direct_funcs": {
      // call_direct_funcs: READ_ONCE(ops->direct_call) (with HAVE_SINGLE_FTRACE_DIRECT_OPS, ftrace_find_rec_direct(ip)),
      // then arch_ftrace_set_direct_caller.
      const ops = opsAt(k, op);
      rec.handlers.push({ ops: ops?.name ?? name(k, op), ip, parentIp: pip, op: name(k, op), seq: rec.seq++, via: cpu === null ? "list" : "caller" });
      const byIp = k.switches.singleDirectOps && !mutated(k.design, "single-direct-no-lookup");
      const addr = byIp ? (k.directFunctions.get(ip) ?? 0n) : load64(k, op + BigInt(k.design.ops.direct_call), rec, "ops->direct_call");
      if (addr !== 0n) k.design.arch.arch_ftrace_set_direct_caller(k, fregs, addr);
      return;
    }
    case "ftrace_graph_func": {
      // ftrace_graph_func -> function_graph_enter_regs: run each subops (fgraph_array order) whose own hashes trace
      // ip; the manager may trace more functions than its subops do, and then runs none.
      for (const sub of subopsOf(k)) {
        if (ftrace_ops_test(sub, ip)) rec.handlers.push({ ops: sub.name, ip, parentIp: pip, op: name(k, op), seq: rec.seq++, via: "list" });
      }
      return;
    }
    case "ftrace_ops_list_func": {
      // arch_ftrace_ops_list_func: walk ftrace_ops_list through op->next, calling every non-stub ops that traces
      // ip; a removed ops keeps its next pointer, so a walker already on it carries on.
      let a = load64(k, k.listHead, rec, "ftrace_ops_list");
      // The head is read before the first ops is touched, and nothing (no grace period of the updater's rollbacks)
      // keeps the updater from unlinking and freeing that ops in between.
      yield;
      while (a !== k.listEnd.addr && a !== 0n) {
        const o = opsAt(k, a);
        if (o === undefined) {
          rec.violations.push({ kind: "list-walk", where: "ftrace_ops_list_func", message: `ftrace_ops_list_func: ${toHex(a)} on the list is not an ops` });
          return;
        }
        if (!hasFlag(o.flags, FTRACE_OPS_FL.STUB)) {
          const traces = mutated(k.design, "drop-notrace") ? hashEmpty(o.funcHash.filter) || o.funcHash.filter.has(ip) : ftrace_ops_test(o, ip);
          if (traces) {
            const func = load64(k, o.addr + BigInt(k.design.ops.func), rec, `${o.name}->func`);
            if (func === 0n) {
              // FTRACE_WARN_ON(!op->func): warn, kill ftrace, stop the walk.
              rec.violations.push({ kind: "list-walk", where: "ftrace_ops_list_func", message: `ftrace_ops_list_func: ${o.name} has a NULL func` });
              ftrace_kill(k);
              return;
            }
            const problem = callCallback(k, func, ip, pip, o.addr, fregs, rec);
            if (problem !== null) rec.violations.push({ kind: "list-walk", where: "ftrace_ops_list_func", message: `ftrace_ops_list_func: ${problem}` });
          }
        }
        a = load64(k, o.addr + BigInt(FTRACE_OPS_NEXT), rec, `${o.name}->next`);
        yield;
      }
      return;
    }
    case "ftrace_ops_nop_func":
    case "ftrace_stub":
    case "direct_func":
    case "caller_return":
      return;
    case "body":
      if (cpu !== null) rec.bodies.push({ fn: host.fn, regs: snap(cpu), calleeSaved: cpu.x.slice(19, 29), seq: rec.seq++ });
      return;
    default:
      unreachable(host);
  }
}

/** Run a C function to completion (for C-to-C calls such as the list walk calling a callback). */
function runHost(k: Kernel, host: HostFn, args: ReadonlyArray<bigint>, rec: Recorder, cpu: Cpu | null): void {
  for (const _ of hostSteps(k, host, args, rec, cpu)) void _;
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
