// v1 of "arm64: ftrace: Add direct call support" as posted (Feb 2023): custom_tramp appended after pc in
// struct ftrace_regs (120 bytes), an early exit `ldr x12, [x11, #direct_call]; cbz x12; ret x12`, and a late
// exit that moves LR to x9, the saved pc to x30 and custom_tramp to x10, then `ret x10`. Its
// ftrace_modify_call and ftrace_find_callable_addr as posted behave as upstream's (literal first, both addresses
// resolved, unreachable custom trampolines replaced by ftrace_caller), so the arch hooks are upstream's.

import { at, LOAD_LITERAL, STUB_DIRECT_TRAMP, saveCallRestore } from "../entry.ts";
import type { Design, TrampolineConsts } from "../kernel.ts";
import { FTRACE_OPS_DIRECT_CALL, ftraceCallerFrame, UPSTREAM_FREGS, type FtraceRegsLayout } from "../structs.ts";
import { upstream } from "./upstream.ts";

/** The v6.3 layout with custom_tramp appended after pc: 120 bytes, not a multiple of 16. */
export const V1_FREGS: FtraceRegsLayout = { ...UPSTREAM_FREGS, direct_tramp: 112, size: 120 };

function v1PostedFtraceCaller(c: TrampolineConsts): ReadonlyArray<string> {
  const r = c.fregs;
  if (r.direct_tramp === null) throw new Error("v1 ftrace_caller needs custom_tramp");
  return [
    "bti c",
    ...LOAD_LITERAL,
    `ldr x12, [x11, #${FTRACE_OPS_DIRECT_CALL}]`,
    "cbz x12, v1_no_direct",
    "ret x12",
    "v1_no_direct:",
    ...saveCallRestore(r),
    `ldr x30, ${at(r.lr)}`,
    `ldr x10, ${at(r.pc)}`,
    `ldr x11, ${at(r.direct_tramp)}`,
    "cbz x11, v1_return",
    "mov x9, x30",
    `ldr x30, ${at(r.pc)}`,
    "mov x10, x11",
    "v1_return:",
    `add sp, sp, #${ftraceCallerFrame(r)}`,
    "ret x10",
  ];
}

export const v1Posted: Design = {
  ...upstream,
  name: "v1-posted",
  description: "v1 as posted: 120-byte ftrace_regs, RET X12 / RET X10 to the direct trampoline",
  fregs: V1_FREGS,
  entry: { kind: "listing", ftraceCaller: v1PostedFtraceCaller, stubDirectTramp: STUB_DIRECT_TRAMP },
};
