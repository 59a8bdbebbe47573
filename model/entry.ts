// Readable listings of the code the model runs as real A64 words: the merged design's ftrace_caller and
// ftrace_stub_direct_tramp (arch/arm64/kernel/entry-ftrace.S, written here from the design brief), a module's
// ftrace PLT entry (arch/arm64/kernel/module-plts.c's ADRP/ADD/BR veneer), and the test direct trampolines
// (shaped like the samples/ftrace/ftrace-direct*.c arm64 trampolines).

import type { Listing } from "./asm.ts";
import type { TrampolineConsts } from "./kernel.ts";
import type { MutantName } from "./mutants.ts";
import { FTRACE_OPS_DIRECT_CALL, FTRACE_OPS_FUNC, ftraceCallerFrame, type FtraceRegsLayout } from "./structs.ts";

/** `[sp, #off]` or `[sp]` for offset 0. */
export function at(off: number): string {
  return off === 0 ? "[sp]" : `[sp, #${off}]`;
}

/** Store x0-x8 into ftrace_regs (pairs where the layout allows an STP). */
export function saveArgs(r: FtraceRegsLayout): string[] {
  const x = (i: number): number => r.x[i]!;
  return [
    `stp x0, x1, ${at(x(0))}`,
    `stp x2, x3, ${at(x(2))}`,
    `stp x4, x5, ${at(x(4))}`,
    `stp x6, x7, ${at(x(6))}`,
    `str x8, ${at(x(8))}`,
  ];
}

export function restoreArgs(r: FtraceRegsLayout): string[] {
  const x = (i: number): number => r.x[i]!;
  return [
    `ldp x0, x1, ${at(x(0))}`,
    `ldp x2, x3, ${at(x(2))}`,
    `ldp x4, x5, ${at(x(4))}`,
    `ldp x6, x7, ${at(x(6))}`,
    `ldr x8, ${at(x(8))}`,
  ];
}

/** Load the site's literal into x11 from LR = rec->ip + 4: align down to 8, then 16 bytes back. */
export const LOAD_LITERAL: Listing = ["bic x11, x30, #7", "ldr x11, [x11, #-16]"];

/** Reserve ftrace_regs plus two frame records below the callsite's sp, save x0-x8, fp, lr (x9), sp and pc (x30). */
export function frameEnter(r: FtraceRegsLayout): string[] {
  return [
    "mov x10, sp",
    `sub sp, sp, #${ftraceCallerFrame(r)}`,
    ...saveArgs(r),
    ...(r.direct_tramp === null ? [] : [`str xzr, ${at(r.direct_tramp)}`]),
    `str x29, ${at(r.fp)}`,
    `str x9, ${at(r.lr)}`,
    `str x10, ${at(r.sp)}`,
    `str x30, ${at(r.pc)}`,
    // frame record for the callsite above the regs, then ours
    `stp x29, x9, [sp, #${r.size + 16}]`,
    `add x29, sp, #${r.size + 16}`,
    `stp x29, x30, [sp, #${r.size}]`,
    `add x29, sp, #${r.size}`,
  ];
}

/** ip = the BL's address, parent_ip = the callsite's LR, fregs = sp (x2 = op is set by the caller). */
export const CALLBACK_ARGS: Listing = ["sub x0, x30, #4", "mov x1, x9", "mov x3, sp"];

/** Call op->func with the ops pointer already in x2. */
export const CALL_OP_FUNC: Listing = [`ldr x4, [x2, #${FTRACE_OPS_FUNC}]`, "blr x4"];

/** Restore x0-x8 and the callsite's fp from ftrace_regs. */
export function frameRestore(r: FtraceRegsLayout): string[] {
  return [...restoreArgs(r), `ldr x29, ${at(r.fp)}`];
}

/** Build ftrace_regs and two frame records, call op->func(ip, parent_ip, op = x11, fregs), restore x0-x8 and fp. */
export function saveCallRestore(r: FtraceRegsLayout): string[] {
  return [...frameEnter(r), ...CALLBACK_ARGS, "mov x2, x11", ...CALL_OP_FUNC, ...frameRestore(r)];
}

/** The merged design's ftrace_caller: early direct exit, ops call, late direct exit or return to the body. */
export function upstreamFtraceCaller(c: TrampolineConsts): Listing {
  const r = c.fregs;
  if (r.direct_tramp === null) throw new Error("upstream ftrace_caller needs a direct_tramp slot");
  const frame = ftraceCallerFrame(r);
  const m = (name: MutantName): boolean => c.mutations.has(name);
  return [
    ...(m("ftrace-caller-no-bti") ? [] : ["bti c"]),
    ...(m("literal-no-align") ? ["ldr x11, [x30, #-16]"] : LOAD_LITERAL),
    `ldr x17, [x11, #${FTRACE_OPS_DIRECT_CALL}]`,
    "cbnz x17, ftrace_caller_direct",
    ...saveCallRestore(r),
    `ldr x17, ${at(r.direct_tramp)}`,
    "cbnz x17, ftrace_caller_direct_late",
    `ldr x30, ${at(r.lr)}`,
    `ldr x9, ${at(r.pc)}`,
    `add sp, sp, #${frame}`,
    "ret x9",
    "ftrace_caller_direct_late:",
    ...(m("late-exit-keeps-x9") ? [] : [`ldr x9, ${at(r.lr)}`]),
    `ldr x30, ${at(r.pc)}`,
    `add sp, sp, #${frame}`,
    "ftrace_caller_direct:",
    m("ret-instead-of-br") ? "ret x17" : "br x17",
  ];
}

/**
 * ftrace_caller without CALL_OPS (a kCFI or GCC -Os build; arm64 before v6.3): no literal and no early direct exit.
 * It builds ftrace_regs, loads the global function_trace_op as the op, and calls the global trace function through
 * the BL at `ftrace_call`, which update_ftrace_func patches (it starts as BL ftrace_stub). With DIRECT_CALLS the
 * late exit follows (fregs->direct_tramp, set by call_direct_funcs); with WITH_REGS, ftrace_regs_caller enters the
 * same code (the kernel's ftrace_common): the model's pt_regs saves what ftrace_regs saves, since no observation
 * reads the callee-saved registers ftrace_regs_caller adds.
 */
export function noCallOpsFtraceCaller(c: TrampolineConsts, opts: { readonly regsCaller: boolean }): Listing {
  const r = c.fregs;
  const fto = c.functionTraceOp;
  if (fto === undefined) throw new Error("ftrace_caller without CALL_OPS needs function_trace_op's address");
  const frame = ftraceCallerFrame(r);
  const late = r.direct_tramp === null ? [] : [`ldr x17, ${at(r.direct_tramp)}`, "cbnz x17, ftrace_caller_direct_late"];
  const body: string[] = [
    "bti c",
    "ftrace_common:",
    ...frameEnter(r),
    ...CALLBACK_ARGS,
    // ldr_l x2, function_trace_op
    "adrp x2, function_trace_op",
    `ldr x2, [x2, #${Number(fto & 0xfffn)}]`,
    "ftrace_call:",
    "bl ftrace_stub",
    ...frameRestore(r),
    ...late,
    `ldr x30, ${at(r.lr)}`,
    `ldr x9, ${at(r.pc)}`,
    `add sp, sp, #${frame}`,
    "ret x9",
    ...(r.direct_tramp === null ? [] : ["ftrace_caller_direct_late:", `ldr x9, ${at(r.lr)}`, `ldr x30, ${at(r.pc)}`, `add sp, sp, #${frame}`, "br x17"]),
  ];
  if (!opts.regsCaller) return body;
  const words = body.filter((l) => !l.endsWith(":")).length;
  const pad = Number(FTRACE_REGS_CALLER_OFFSET / 4n) - words;
  if (pad < 0) throw new Error("ftrace_caller's listing runs into ftrace_regs_caller");
  return [...body, ...Array.from({ length: pad }, () => "nop"), "ftrace_regs_caller:", "bti c", "b ftrace_common"];
}

/** Where the model puts ftrace_regs_caller (WITH_REGS): this far after ftrace_caller, inside its reserved span. */
export const FTRACE_REGS_CALLER_OFFSET = 0x100n;

/** ftrace_stub_direct_tramp: resume the traced function with LR restored from x9. */
export const STUB_DIRECT_TRAMP: Listing = ["bti c", "mov x10, x30", "mov x30, x9", "ret x10"];

/** A module's ftrace PLT entry: materialise ftrace_caller's address in x16 and BR to it. */
export function modulePlt(ftraceCaller: bigint, symbol = "ftrace_caller"): Listing {
  const lo12 = Number(ftraceCaller & 0xfffn);
  return [`adrp x16, ${symbol}`, `add x16, x16, #${lo12}`, "br x16"];
}

/** Offset of a test trampoline's C helper from the trampoline's start. */
export const TRAMP_HELPER_OFFSET = 0x48n;

/**
 * A test direct trampoline (as in samples/ftrace): save x9/x30 and the argument registers, call a C helper,
 * restore, then resume the traced function with LR = the caller's return address.
 */
export function testDirectTrampoline(helper: string): Listing {
  return [
    "bti c",
    "sub sp, sp, #96",
    "stp x9, x30, [sp]",
    "stp x0, x1, [sp, #16]",
    "stp x2, x3, [sp, #32]",
    "stp x4, x5, [sp, #48]",
    "stp x6, x7, [sp, #64]",
    "str x8, [sp, #80]",
    `bl ${helper}`,
    "ldp x0, x1, [sp, #16]",
    "ldp x2, x3, [sp, #32]",
    "ldp x4, x5, [sp, #48]",
    "ldp x6, x7, [sp, #64]",
    "ldr x8, [sp, #80]",
    "ldp x30, x9, [sp]",
    "add sp, sp, #96",
    "ret x9",
  ];
}
