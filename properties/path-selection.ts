// path-selection: each patch-site is in the state SPEC.md §7's three cases prescribe for the ops that trace it.
// It judges agreement with upstream's choices of literal and branch target: a design that routes a call another
// way (a literal of ftrace_list_ops where upstream names the lone ops) fails it and may dispatch correctly.

import { decode, disasm } from "../model/insn.ts";
import type { Property } from "./property.ts";
import { permitted, type Expected } from "./reference.ts";
import { literalName, siteState } from "./sites.ts";

export const pathSelection: Property = {
  name: "path-selection",
  judges: "agreement",
  kills: [{ mutant: "always-via-caller", maxSteps: 1 }],
  says: "Each site's literal and BL target match the seed's three cases: NOP when untraced; BL to a lone direct ops' trampoline when in range, else ftrace_caller (or the module PLT) with the direct ops as literal; the single ops or ftrace_list_ops with ftrace_caller otherwise.",
  guards: "ftrace_get_addr_new, ftrace_find_callable_addr (BL range, module PLT), arm64_rec_get_ops",
  needsCalls: false,
  check: ({ k, ref }) => {
    for (const rec of k.recs) {
      const s = siteState(k, rec);
      const lit = literalName(k, s);
      const insn = (): string => disasm(decode(s.word), rec.ip, (a) => k.symbols.get(a));
      const breach = (want: Expected): string | null => {
        if (lit !== want.literal) return `${rec.fn}: literal is ${lit}, expected ${want.literal} (${want.path})`;
        if (want.target.kind === "nop") return s.isNop ? null : `${rec.fn}: site is "${insn()}", expected nop (untraced)`;
        return s.blTarget === want.target.to ? null : `${rec.fn}: site is "${insn()}", expected bl ${want.target.what} (${want.path})`;
      };
      // A design that brings its own arch code may follow either CALL_OPS rule: the site must match one of them.
      const breaches = permitted(ref, rec.fn).map(breach);
      if (breaches.every((b) => b !== null)) return breaches.join("; or ");
    }
    return null;
  },
};
