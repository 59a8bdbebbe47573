// recursion-protected: a callback whose ops needs ftrace's recursion or RCU protection is only ever called through
// a path that applies it (ftrace_ops_list_func's guard, or ftrace_ops_assist_func), never straight from
// ftrace_caller through the patch-site literal.

import { ftrace_ops_get_func_is_func } from "../model/core.ts";
import { literalAddr } from "../model/layout.ts";
import type { Property } from "./property.ts";
import { symbolOr } from "./sites.ts";

export const recursionProtected: Property = {
  name: "recursion-protected",
  says: "An ops with RECURSION or RCU (ftrace_ops_get_func(ops) != ops->func) is called only through ftrace_ops_list_func or ftrace_ops_assist_func, never directly by ftrace_caller from the literal.",
  guards: "the CALL_OPS rule of __ftrace_hash_rec_update (ftrace_ops_get_func(ops) == ops->func), in both directions",
  kills: [{ mutant: "call-ops-ignores-assist", maxSteps: 2, base: "survivor-fix" }],
  expectedOnUpstream: { message: /needs ftrace_ops_assist_func but ftrace_caller called .*\.func directly/, maxSteps: 4 },
  needsCalls: true,
  check: ({ k, calls }) => {
    for (const { fn, obs } of calls) {
      for (const h of obs.handlers) {
        if (h.via !== "caller") continue;
        const o = k.ops.get(h.ops);
        if (o === undefined || ftrace_ops_get_func_is_func(o)) continue;
        const rec = k.recs.find((r) => r.fn === fn);
        const lit = rec === undefined ? "?" : symbolOr(k, k.mem.read64(literalAddr(rec.ip)));
        return `call ${fn}: ${o.name} needs ftrace_ops_assist_func but ftrace_caller called ${o.name}.func directly (path ${obs.path}, literal ${lit})`;
      }
    }
    return null;
  },
};
