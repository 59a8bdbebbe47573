// Designs without CALL_OPS: patch-sites of -fpatchable-function-entry=2 (MOV X9, X30; BL, no literal) and an
// ftrace_caller that reaches the global trace function through its patched `ftrace_call` BL, passing
// function_trace_op as the op. Two of them: the pending series "arm64: ftrace: allow DIRECT_CALLS without CALL_OPS"
// (2026-06), and the DYNAMIC_FTRACE_WITH_REGS design arm64 had from v5.5 to v6.1, with ftrace_regs_caller.

import { UPSTREAM_ARCH, get_ftrace_plt, reachable_by_bl } from "../arm64.ts";
import { STUB_DIRECT_TRAMP, noCallOpsFtraceCaller } from "../entry.ts";
import type { Design, DynFtrace, Kernel } from "../kernel.ts";
import { symbolize, warn } from "../kernel.ts";
import { moduleTextAt } from "../layout.ts";
import { toHex } from "../insn.ts";
import { UPSTREAM_FREGS, type FtraceRegsLayout } from "../structs.ts";
import { upstream } from "./upstream.ts";

/**
 * "arm64: ftrace: allow DIRECT_CALLS without CALL_OPS" (posted 2026-06): today's arch code with the literal stubs
 * empty (patch 1 builds ftrace_modify_call without CALL_OPS), and DIRECT_CALLS selected without CALL_OPS (patch 2).
 * An unreachable trampoline is reached through ftrace_caller, the list function, call_direct_funcs and the late exit.
 */
export const directWithoutCallOps: Design = {
  ...upstream,
  name: "pending-direct-without-call-ops",
  description: 'the pending "arm64: ftrace: allow DIRECT_CALLS without CALL_OPS" (no literal, function_trace_op, late direct exit only)',
  entry: { kind: "listing", ftraceCaller: (c) => noCallOpsFtraceCaller(c, { regsCaller: false }), stubDirectTramp: STUB_DIRECT_TRAMP },
  callOps: false,
};

/** v5.5..v6.1 had no direct calls: struct pt_regs with no direct_tramp slot (the model keeps ftrace_regs' offsets). */
const WITH_REGS_FREGS: FtraceRegsLayout = { ...UPSTREAM_FREGS, direct_tramp: null };

/**
 * ftrace_find_callable_addr as a6253579977e wrote it (v5.19..v6.3): the target itself when a BL reaches it, else the
 * module's PLT for that target (get_ftrace_plt by address); there is no trampoline to fall back from.
 */
function ftrace_find_callable_addr_v5(k: Kernel, rec: DynFtrace, addr: bigint): bigint | null {
  if (reachable_by_bl(k, addr, rec.ip)) return addr;
  const mod = moduleTextAt(k.layout, rec.ip);
  if (mod === undefined) {
    warn(k, "ftrace_find_callable_addr", `ftrace_find_callable_addr: ${rec.fn} at ${toHex(rec.ip)} cannot reach ${toHex(addr)} and is not in a module`);
    return null;
  }
  const plt = get_ftrace_plt(k, mod, rec.ip, addr);
  if (plt === null) {
    warn(k, "ftrace_find_callable_addr", `ftrace: no module PLT for ${symbolize(k, addr) ?? toHex(addr)}`);
    return null;
  }
  return plt;
}

/**
 * DYNAMIC_FTRACE_WITH_REGS as arm64 had it from v5.19 to v6.1 (after a6253579977e, 3eefdf9d1e40, 35b6b28e6998 and
 * 91970bef48d6; before the move to WITH_ARGS in v6.2): no literal, no direct calls, and a record that an ops with
 * SAVE_REGS traces branches to ftrace_regs_caller, a far module's through the second ftrace PLT entry.
 */
export const withRegs: Design = {
  ...upstream,
  name: "with-regs-v5.19",
  description: "DYNAMIC_FTRACE_WITH_REGS as of v5.19..v6.1 (ftrace_caller and ftrace_regs_caller, no literal, no direct calls)",
  fregs: WITH_REGS_FREGS,
  entry: { kind: "listing", ftraceCaller: (c) => noCallOpsFtraceCaller(c, { regsCaller: true }), stubDirectTramp: STUB_DIRECT_TRAMP },
  arch: { ...UPSTREAM_ARCH, ftrace_find_callable_addr: ftrace_find_callable_addr_v5 },
  directCalls: false,
  callOps: false,
  withRegs: true,
};
