// literal-valid-always: at every micro-step of a concurrent run, no literal points at anything but
// ftrace_nop_ops, ftrace_list_ops or an ops that is not freed.

import type { ConcurrentProperty } from "./concurrency.ts";

export const literalValidAlways: ConcurrentProperty = {
  name: "literal-valid-always",
  needsCallOps: true,
  says: "At every micro-step, every patch-site literal points to ftrace_nop_ops, ftrace_list_ops, or an ops that is not freed.",
  guards: "ftrace_make_nop writing ftrace_nop_ops before the NOP; ftrace_shutdown's grace periods before the owner frees",
  kills: [{ mutant: "make-nop-keeps-literal", maxSegments: 12 }],
  check: ({ result }) => {
    const b = result.badLiterals[0];
    return b === undefined ? null : `tick ${b.tick}: ${b.message}`;
  },
};
