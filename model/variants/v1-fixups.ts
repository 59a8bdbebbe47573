// v1 with the review's fixups (Mark Rutland, Feb 2023): custom_tramp renamed direct_tramp and moved into the
// unused slot at 72 (ftrace_regs back to 112 bytes), and the direct call made by stubs at the end of
// ftrace_caller through BR X17 (early: straight after loading the ops; late: after the callbacks, shuffling
// LR to x9 and the saved pc to x30). Unlike the merged code it keeps v1's restore order and x10 as the return
// register on the normal path.

import { at, LOAD_LITERAL, STUB_DIRECT_TRAMP, saveCallRestore } from "../entry.ts";
import type { Design, TrampolineConsts } from "../kernel.ts";
import { FTRACE_OPS_DIRECT_CALL, ftraceCallerFrame, UPSTREAM_FREGS } from "../structs.ts";
import { upstream } from "./upstream.ts";

function v1FixupsFtraceCaller(c: TrampolineConsts): ReadonlyArray<string> {
  const r = c.fregs;
  if (r.direct_tramp === null) throw new Error("v1-fixups ftrace_caller needs direct_tramp");
  const frame = ftraceCallerFrame(r);
  return [
    "bti c",
    ...LOAD_LITERAL,
    `ldr x17, [x11, #${FTRACE_OPS_DIRECT_CALL}]`,
    "cbnz x17, ftrace_caller_direct",
    ...saveCallRestore(r),
    `ldr x30, ${at(r.lr)}`,
    `ldr x10, ${at(r.pc)}`,
    `ldr x17, ${at(r.direct_tramp)}`,
    "cbnz x17, ftrace_caller_direct_late",
    `add sp, sp, #${frame}`,
    "ret x10",
    "ftrace_caller_direct_late:",
    "mov x9, x30",
    `ldr x30, ${at(r.pc)}`,
    `add sp, sp, #${frame}`,
    "ftrace_caller_direct:",
    "br x17",
  ];
}

export const v1Fixups: Design = {
  ...upstream,
  name: "v1-fixups",
  description: "v1 with the review's fixups: direct_tramp in the unused slot, BR X17 stubs",
  fregs: UPSTREAM_FREGS,
  entry: { kind: "listing", ftraceCaller: v1FixupsFtraceCaller, stubDirectTramp: STUB_DIRECT_TRAMP },
};
