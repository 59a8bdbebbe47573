// CALL_OPS before direct calls (v6.3): ftrace_caller loads the literal only to pass it to op->func, the slot at
// 72 of ftrace_regs is unused, the direct API is compiled out (inline stubs return -ENODEV), and
// ftrace_modify_call only ever moves between ftrace_caller and ftrace_caller (it warns and fails otherwise),
// updating the literal.

import { ftrace_rec_update_ops } from "../arm64.ts";
import { CALL_OP_FUNC, CALLBACK_ARGS, STUB_DIRECT_TRAMP, at, frameEnter, frameRestore } from "../entry.ts";
import { ERRNO, type Ret } from "../errno.ts";
import type { Design, DynFtrace, Kernel, TrampolineConsts } from "../kernel.ts";
import { warn } from "../kernel.ts";
import { ftraceCallerFrame, UPSTREAM_FREGS, type FtraceRegsLayout } from "../structs.ts";
import { upstream } from "./upstream.ts";

const CALL_OPS_FREGS: FtraceRegsLayout = { ...UPSTREAM_FREGS, direct_tramp: null };

function callOpsFtraceCaller(c: TrampolineConsts): ReadonlyArray<string> {
  const r = c.fregs;
  return [
    "bti c",
    ...frameEnter(r),
    ...CALLBACK_ARGS,
    // the literal, found from LR, is the op
    "bic x2, x30, #7",
    "ldr x2, [x2, #-16]",
    ...CALL_OP_FUNC,
    ...frameRestore(r),
    `ldr x30, ${at(r.lr)}`,
    `ldr x9, ${at(r.pc)}`,
    `add sp, sp, #${ftraceCallerFrame(r)}`,
    "ret x9",
  ];
}

/** ftrace_modify_call (v6.3): both addresses must be ftrace_caller; only the literal changes. */
function ftrace_modify_call(k: Kernel, rec: DynFtrace, oldAddr: bigint, addr: bigint): Ret {
  const caller = k.layout.kernel.ftrace_caller;
  if (oldAddr !== caller || addr !== caller) {
    warn(k, "ftrace_modify_call", `ftrace_modify_call: ${rec.fn} asked to move from ${oldAddr === caller ? "ftrace_caller" : "a custom trampoline"} to ${addr === caller ? "ftrace_caller" : "a custom trampoline"}`);
    return -ERRNO.EINVAL;
  }
  return ftrace_rec_update_ops(k, rec);
}

export const callOpsOnly: Design = {
  ...upstream,
  name: "call-ops-only",
  description: "CALL_OPS without direct calls (v6.3)",
  fregs: CALL_OPS_FREGS,
  entry: { kind: "listing", ftraceCaller: callOpsFtraceCaller, stubDirectTramp: STUB_DIRECT_TRAMP },
  arch: { ...upstream.arch, ftrace_modify_call },
  directCalls: false,
};
