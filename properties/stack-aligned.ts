// stack-aligned: AAPCS64 and SCTLR_EL1.SA: sp is a multiple of 16 wherever it is used or handed on.

import { toHex } from "../model/insn.ts";
import { ftraceCallerFrame } from "../model/structs.ts";
import type { Property } from "./property.ts";

export const stackAligned: Property = {
  name: "stack-aligned",
  kills: [{ mutant: "fregs-size-120", maxSteps: 0 }],
  says: "sizeof(struct ftrace_regs) and ftrace_caller's frame are multiples of 16, and sp is 16-byte aligned at every call boundary and wherever it is used as a base register.",
  guards: "struct ftrace_regs layout (FREGS_SIZE) and ftrace_caller's frame size",
  needsCalls: true,
  atBoot: (k) => {
    const r = k.design.fregs;
    const frame = k.design.frame ?? ftraceCallerFrame(r);
    if (r.size % 16 !== 0) return `ftrace_regs is ${r.size} bytes: sp is ${frame % 16} mod 16 when ftrace_caller calls op->func`;
    if (frame % 16 !== 0) return `ftrace_caller reserves ${frame} bytes, not a multiple of 16`;
    return null;
  },
  check: ({ calls }) => {
    for (const { fn, obs } of calls) {
      const b = obs.boundaries.find((x) => x.sp % 16n !== 0n);
      if (b !== undefined) return `call ${fn}: sp = ${toHex(b.sp)} (${b.sp % 16n} mod 16) on entry to ${b.at}`;
      const fault = obs.violations.find((v) => v.kind === "sp-alignment-fault");
      if (fault !== undefined) return `call ${fn}: ${fault.message}`;
    }
    return null;
  },
};
