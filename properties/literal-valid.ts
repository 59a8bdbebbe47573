// literal-valid: the ops pointer in every patch-site is valid at all times (checked after every step).

import { ftrace_ops_test } from "../model/core.ts";
import type { Property } from "./property.ts";
import { siteState, symbolOr } from "./sites.ts";

export const literalValid: Property = {
  name: "literal-valid",
  kills: [{ mutant: "skip-literal-update", maxSteps: 1 }],
  says: "Every patch-site literal is ftrace_nop_ops, ftrace_list_ops, or the one registered ops that traces the function, and it is ftrace_nop_ops exactly when the site is a NOP.",
  guards: "ftrace_rec_set_ops / arm64_rec_get_ops ordering in ftrace_make_call, ftrace_modify_call and ftrace_make_nop (literal before instruction), and ftrace_find_unique_ops",
  needsCallOps: true,
  needsCalls: false,
  check: ({ k }) => {
    for (const rec of k.recs) {
      const s = siteState(k, rec);
      const lit = symbolOr(k, s.literal);
      if (s.ops === k.nopOps) {
        if (!s.isNop) return `${rec.fn}: literal is ftrace_nop_ops but the site is "${s.insn.kind}", not a NOP`;
        continue;
      }
      if (s.isNop) return `${rec.fn}: the site is a NOP but its literal is ${lit}, not ftrace_nop_ops`;
      if (s.ops === k.listOps) continue;
      if (s.ops === undefined || !k.opsList.includes(s.ops)) return `${rec.fn}: literal ${lit} is not ftrace_list_ops, ftrace_nop_ops or a registered ops`;
      if (!ftrace_ops_test(s.ops, rec.ip)) return `${rec.fn}: literal ${s.ops.name} does not trace ${rec.fn}`;
      const others = k.opsList.filter((o) => o !== s.ops && ftrace_ops_test(o, rec.ip)).map((o) => o.name);
      if (others.length > 0) return `${rec.fn}: literal ${s.ops.name} is not the only ops tracing ${rec.fn} (also ${others.join(", ")})`;
    }
    return null;
  },
};
