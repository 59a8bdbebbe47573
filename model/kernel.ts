// The state of one modelled kernel: memory (text and data), the ftrace core's objects (ops, ftrace_ops_list,
// dyn_ftrace records, direct_functions), the C functions that live at addresses, and the design (variant)
// whose trampoline code and arch hooks are in use. Stands for the globals of kernel/trace/ftrace.c plus the
// text and data of the arm64 kernel image and its modules.

import type { Listing } from "./asm.ts";
import type { Ret } from "./errno.ts";
import type { Layout } from "./layout.ts";
import type { Memory } from "./memory.ts";
import type { FtraceRegsLayout, OpsLayout } from "./structs.ts";

/** A set of rec->ip values. */
export type IpSet = ReadonlySet<bigint>;

/** struct ftrace_ops_hash: filter (empty = every function) and notrace. Shared by tmp_ops and its direct ops. */
export interface FuncHash {
  filter: IpSet;
  notrace: IpSet;
}

export type OpsKind = "ordinary" | "direct" | "stub";

/** struct ftrace_ops, as far as dispatch depends on it. func and direct_call are mirrored in memory. */
export interface FtraceOps {
  readonly name: string;
  readonly addr: bigint;
  readonly kind: OpsKind;
  /** Static ops in core kernel data (never freed); heap ops become FTRACE_OPS_FL_DYNAMIC. */
  readonly coreData: boolean;
  /** Address of the C callback this ops was created with (its handler, or call_direct_funcs once direct). */
  readonly handler: bigint;
  flags: number;
  funcHash: FuncHash;
  /** ops->old_hash while REMOVING or MODIFYING, else null. */
  oldHash: FuncHash | null;
  func: bigint;
  trampoline: bigint;
  direct_call: bigint;
}

/** struct dyn_ftrace: one per traceable function. */
export interface DynFtrace {
  readonly fn: string;
  readonly ip: bigint;
  flags: number;
}

/** C functions the interpreter runs as TypeScript when the pc reaches their address. */
export type HostFn =
  | { readonly kind: "ops_func"; readonly ops: string }
  | { readonly kind: "ftrace_ops_list_func" }
  | { readonly kind: "ftrace_ops_nop_func" }
  | { readonly kind: "call_direct_funcs" }
  | { readonly kind: "ftrace_graph_func" }
  | { readonly kind: "ftrace_stub" }
  | { readonly kind: "body"; readonly fn: string }
  | { readonly kind: "caller_return" }
  | { readonly kind: "direct_func"; readonly tramp: string };

/** What a step did to the kernel, in order: the raw material for site tables and for interleavings. */
export type KernelEvent =
  | {
      readonly kind: "write";
      readonly what: "literal" | "insn";
      readonly fn: string;
      readonly addr: bigint;
      readonly old: bigint;
      readonly new: bigint;
      /** For a BL: the target the arch code meant it to reach. */
      readonly meant?: bigint;
    }
  /** A WARN (or pr_err) of the kernel function `fn`; the message as scenario files record it. */
  | { readonly kind: "warn"; readonly fn: string; readonly message: string }
  | { readonly kind: "bug"; readonly message: string }
  | { readonly kind: "sync"; readonly what: "synchronize_rcu_tasks_rude" | "synchronize_rcu_tasks" };

/**
 * A design's own code threw (a hook of a design given with --design FILE): not a verdict on the design but a fault
 * of the file. The message is one line naming the hook and where in the file it threw.
 */
export class DesignFault extends Error {}

/** The arm64 arch hooks (arch/arm64/kernel/ftrace.c); a variant may replace any of them. */
export interface ArchHooks {
  readonly ftrace_init_nop: (k: Kernel, rec: DynFtrace) => Ret;
  readonly ftrace_make_call: (k: Kernel, rec: DynFtrace, addr: bigint) => Ret;
  readonly ftrace_make_nop: (k: Kernel, rec: DynFtrace, addr: bigint) => Ret;
  readonly ftrace_modify_call: (k: Kernel, rec: DynFtrace, oldAddr: bigint, addr: bigint) => Ret;
  readonly ftrace_find_callable_addr: (k: Kernel, rec: DynFtrace, addr: bigint) => bigint | null;
  readonly arch_ftrace_set_direct_caller: (k: Kernel, fregs: bigint, addr: bigint) => void;
  /** Point ftrace_caller's `ftrace_call` BL at the global trace function (nothing to do under CALL_OPS). */
  readonly ftrace_update_ftrace_func: (k: Kernel, func: bigint) => Ret;
}

/** Addresses the trampoline listings refer to, resolved at boot. */
export interface TrampolineConsts {
  readonly fregs: FtraceRegsLayout;
  readonly mutations: ReadonlySet<string>;
  /** Where the global function_trace_op lives (a design without CALL_OPS loads the op from it). */
  readonly functionTraceOp?: bigint;
}

/** A piece of entry-ftrace.S as the words of a built kernel, placed where the model's layout puts it. */
export interface BinaryCode {
  /** The symbol (ftrace_caller, ftrace_stub_direct_tramp). */
  readonly name: string;
  /** Where the binary has it, for people (the model places it at the layout's address). */
  readonly linkedAt: bigint;
  readonly words: ReadonlyArray<number>;
  /** Symbols inside it, as byte offsets from its start (e.g. ftrace_caller_direct_late). */
  readonly labels: ReadonlyArray<{ readonly name: string; readonly offset: number }>;
  /** Branches that leave it, by word offset: the symbol the model binds them to (one of its C functions or code). */
  readonly binds: ReadonlyArray<{ readonly offset: number; readonly symbol: string }>;
}

/**
 * Where a design's trampoline code comes from: listings assembled by the model (our transcription of
 * entry-ftrace.S), or the words of a built kernel (a vmlinux, or a dump of a running kernel).
 */
export type EntryCode =
  | {
      readonly kind: "listing";
      /** The ftrace_caller listing (labels allowed); assembled at the kernel's ftrace_caller address. */
      readonly ftraceCaller: (c: TrampolineConsts) => Listing;
      readonly stubDirectTramp: Listing;
    }
  | {
      readonly kind: "binary";
      /** Where the words were read from, for people: `vmlinux (ELF)`, `dump of 6.12.117+deb13-arm64`. */
      readonly source: string;
      readonly ftraceCaller: BinaryCode;
      readonly stubDirectTramp: BinaryCode | null;
    };

/**
 * Parts of the world that generated runs reach only for the designs that ask for them, so that adding one leaves
 * every other design's pinned seeds drawing the same runs:
 * - `module-init-text`: modules get init text (near their text, or out of its BL range as 3e35d303ab7d allows),
 *   and some module functions live there.
 * - `subops`: ordinary ops are now and then registered as subops of fgraph's manager ops (register_ftrace_graph).
 */
export type ScopeExtension = "module-init-text" | "subops";

/** A spec variant: the design under test. */
export interface Design {
  readonly name: string;
  readonly description: string;
  /** struct ftrace_regs as the C side sees it (arch_ftrace_set_direct_caller writes fregs->direct_tramp there). */
  readonly fregs: FtraceRegsLayout;
  /** struct ftrace_ops's func and direct_call offsets as the C side stores them. */
  readonly ops: OpsLayout;
  readonly entry: EntryCode;
  /**
   * Bytes ftrace_caller reserves below the callsite's sp, when the code says so itself (a binary design);
   * otherwise the listing's ftraceCallerFrame(fregs).
   */
  readonly frame?: number;
  readonly arch: ArchHooks;
  /** Whether DYNAMIC_FTRACE_WITH_DIRECT_CALLS is built in. */
  readonly directCalls: boolean;
  /**
   * Judge CALL_OPS on decrement by the ops that remains (ftrace_find_unique_ops) instead of the one removed:
   * the survivor-fix variant. Unset for the kernel as written.
   */
  readonly callOpsOnSurvivor?: boolean;
  /**
   * Whether the patch-sites carry the CALL_OPS literal (DYNAMIC_FTRACE_WITH_CALL_OPS); unset means they do. Without
   * it (a kCFI or GCC -Os build, or arm64 before v6.3) the site is MOV X9, X30; BL with no literal, and
   * ftrace_caller reaches the global trace function through its own patched `ftrace_call` BL with
   * function_trace_op as the op.
   */
  readonly callOps?: boolean;
  /**
   * DYNAMIC_FTRACE_WITH_REGS (arm64 v5.5..v6.1): a second trampoline, ftrace_regs_caller (FTRACE_REGS_ADDR), for the
   * records an ops with SAVE_REGS traces, and a second ftrace PLT per module to reach it.
   */
  readonly withRegs?: boolean;
  /**
   * Whether ftrace_startup's rollbacks (a registration ftrace_hash_ipmodify_enable refuses, or whose patching killed
   * ftrace) wait as ftrace_shutdown does for a dynamic ops before returning the error: the fix
   * reports/findings/failed-registration-visible.md proposes, so that an owner freeing the refused ops leaves no
   * list walker on it. Unset: the kernel's rollbacks, which only unlink.
   */
  readonly rollbackWaits?: true;
  /**
   * How fgraph's manager merges its subops' hashes: unset for today's rule (add_first_hash/add_next_hash, since
   * 0ae6b8ce200d); "append-intersect" for the rule before it (38b14061947f..0ae6b8ce200d: the first subops' hashes
   * copied, then filters united and notrace hashes intersected), which Debian's 6.12.117 still runs; "skip-nothing"
   * for today's rule with a subops that selects no function (a filter its notrace covers) left out of the merge,
   * the fix reports/findings/fgraph-notrace-covers-filter.md proposes.
   */
  readonly subopsHashRule?: "append-intersect" | "skip-nothing";
  /**
   * HAVE_SINGLE_FTRACE_DIRECT_OPS (x86 since the 2026 "Use single direct ops for bpf trampolines" series; arm64 does
   * not select it): every direct call lives in one shared ops (`direct_ops`), updated with update_ftrace_direct_add/
   * del/mod, whose direct_call stays 0, and call_direct_funcs finds the trampoline by ip. A scenario's direct ops D
   * then stands for D's ip->trampoline pairs in that one ops.
   */
  readonly singleDirectOps?: true;
  /** Set when the design is another one under a new name (a fix of the kernel's history that upstream contains). */
  readonly standsFor?: string;
  /** Mutation switches (model/mutants.ts) in force; empty for a real design. */
  readonly mutations: ReadonlySet<string>;
  /** What generated runs reach beyond the default world (sorted, no repeats); unset for the default. */
  readonly scope?: ReadonlyArray<ScopeExtension>;
}

/**
 * What the updater did that other CPUs can see, besides stores to memory (which the memory listener reports):
 * a hash published for an ops, an ops made to share another's hashes, a grace-period wait, a new direct_functions
 * (rcu_assign_pointer; read by call_direct_funcs' by-ip lookup).
 */
export type UpdaterNote =
  | { readonly kind: "hash"; readonly ops: string; readonly filter: IpSet; readonly notrace: IpSet }
  | { readonly kind: "hash-share"; readonly ops: string; readonly from: string }
  | { readonly kind: "sync"; readonly what: "synchronize_rcu_tasks_rude" | "synchronize_rcu_tasks" }
  | { readonly kind: "fgraph"; readonly slots: ReadonlyArray<string | null> }
  | { readonly kind: "direct"; readonly entries: ReadonlyMap<bigint, bigint> };

export interface Kernel {
  readonly layout: Layout;
  readonly design: Design;
  /** The design's switches, defaults filled in (designSwitches). */
  readonly switches: DesignSwitches;
  readonly mem: Memory;
  readonly recs: ReadonlyArray<DynFtrace>;
  /** ftrace_ops_list, newest first (without the ftrace_list_end sentinel). */
  opsList: FtraceOps[];
  readonly ops: Map<string, FtraceOps>;
  readonly listOps: FtraceOps;
  readonly nopOps: FtraceOps;
  readonly listEnd: FtraceOps;
  readonly tmpOps: FtraceOps;
  /** Address of the ftrace_ops_list head pointer (kernel data). */
  readonly listHead: bigint;
  /** Objects freed so far: any later load from or branch into them is a use-after-free. */
  readonly freed: Array<{ readonly lo: bigint; readonly hi: bigint; readonly what: "ops" | "trampoline"; readonly name: string }>;
  /** fgraph's manager ops (graph_ops): static, on ftrace_ops_list only while it has subops. */
  readonly graphOps: FtraceOps;
  /** fgraph_array: the subops in their slots (null where one left); a new one takes the first free slot. */
  fgraphArray: Array<FtraceOps | null>;
  /** The manager's subop_list by name, newest first (list_add puts a new subops at the head). */
  subopList: string[];
  /** direct_functions: ip -> direct trampoline. */
  directFunctions: Map<bigint, bigint>;
  removedOps: FtraceOps | null;
  /** ftrace_disabled: set by ftrace_kill after a ftrace_bug. */
  disabled: boolean;
  /** ftrace_trace_function and saved_ftrace_func, by name (bookkeeping only under CALL_OPS). */
  ftraceTraceFunction: string;
  savedFtraceFunc: string;
  readonly hosts: Map<bigint, HostFn>;
  readonly symbols: Map<bigint, string>;
  /** Code regions for symbolizing addresses inside them: [start, end, name, the address name stands for]. */
  readonly codeRegions: Array<readonly [bigint, bigint, string, bigint]>;
  events: KernelEvent[];
  /** Set while an updater's micro-steps are being recorded for a concurrent run. */
  note: ((n: UpdaterNote) => void) | null;
  nextHeap: bigint;
  nextCtext: bigint;
  /**
   * The global trace function's machinery, used only by a design without CALL_OPS: set_function_trace_op (chosen
   * by update_ftrace_function), the function update_ftrace_func last patched in (its static save_func), and where
   * function_trace_op and the `ftrace_call` BL live.
   */
  setFunctionTraceOp: FtraceOps;
  savedUpdateFunc: string;
  readonly functionTraceOp: bigint;
  ftraceCallSite: bigint | null;
  /** FTRACE_REGS_ADDR when the design has WITH_REGS (ftrace_regs_caller), else null. */
  ftraceRegsCaller: bigint | null;
  readonly helpers: { readonly list_func: bigint; readonly nop_func: bigint; readonly call_direct_funcs: bigint; readonly ftrace_stub: bigint };
}

/** DYNAMIC_FTRACE_WITH_CALL_OPS: the design's patch-sites have the ops literal. */
export function hasCallOps(d: Design): boolean {
  return designSwitches(d).callOps;
}

/** A design's optional switches with what "unset" means filled in. */
export interface DesignSwitches {
  readonly callOps: boolean;
  readonly withRegs: boolean;
  readonly callOpsOnSurvivor: boolean;
  readonly rollbackWaits: boolean;
  readonly singleDirectOps: boolean;
}

/**
 * The one place that says what an unset switch of a Design means: CALL_OPS is on (the kernel as merged has it);
 * every other switch is off (the kernel as written has none of them). The model reads k.switches, filled at boot.
 */
export function designSwitches(d: Pick<Design, "callOps" | "withRegs" | "callOpsOnSurvivor" | "rollbackWaits" | "singleDirectOps">): DesignSwitches {
  return {
    callOps: d.callOps ?? true,
    withRegs: d.withRegs ?? false,
    callOpsOnSurvivor: d.callOpsOnSurvivor ?? false,
    rollbackWaits: d.rollbackWaits ?? false,
    singleDirectOps: d.singleDirectOps ?? false,
  };
}

/** Every ftrace_ops the kernel holds: the static ones (list, nop, list end, tmp_ops) and the registered ones. */
export function allOps(k: Kernel): FtraceOps[] {
  return [k.listOps, k.nopOps, k.listEnd, k.tmpOps, k.graphOps, ...k.ops.values()];
}

/** A registered ops, or tmp_ops (the static ops an update rewrites), by name. */
export function opsNamed(k: Kernel, name: string): FtraceOps | undefined {
  return k.ops.get(name) ?? (name === k.tmpOps.name ? k.tmpOps : name === k.graphOps.name ? k.graphOps : undefined);
}

export function warn(k: Kernel, fn: string, message: string): void {
  k.events.push({ kind: "warn", fn, message });
}

/** Name an address for tables and disassembly: a symbol, or symbol+offset inside a known code region. */
export function symbolize(k: Kernel, addr: bigint): string | undefined {
  const exact = k.symbols.get(addr);
  if (exact !== undefined) return exact;
  for (const [lo, hi, name, base] of k.codeRegions) {
    if (addr >= lo && addr < hi) return addr >= base ? `${name}+0x${(addr - base).toString(16)}` : `${name}-0x${(base - addr).toString(16)}`;
  }
  return undefined;
}
