// What a call of a traced function leaves for the judges: the path it took, the handlers and trampolines it
// entered with their registers, the bodies that ran, every branch and C-function boundary, the instruction trace,
// and the breaches the observer saw (Violation, by kind). The CPU (model/cpu.ts) and ftrace's C functions
// (model/host.ts) record into a Recorder; model/exec.ts runs the call and judges its end.

import type { Insn } from "./insn.ts";

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

/** What a running call has recorded so far (the observation's raw material). */
export interface Recorder {
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

