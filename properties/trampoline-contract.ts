// trampoline-contract: whichever path reaches a direct trampoline, it is entered with the register state the
// direct-call ABI promises.

import { defaultSetup } from "../model/exec.ts";
import { toHex } from "../model/insn.ts";
import type { Property } from "./property.ts";

export const trampolineContract: Property = {
  name: "trampoline-contract",
  kills: [{ mutant: "late-exit-keeps-x9", maxSteps: 3 }],
  says: "A direct trampoline, reached by BL, by the early exit or by the late exit, sees x0-x8 = the call's arguments, x9 = the caller's return address, x30 = rec->ip + 4 and sp = the sp at the patch-site.",
  guards: "ftrace_caller's early (ftrace_caller_direct) and late (ftrace_caller_direct_late) exits, MOV X9, X30 at the site",
  needsCalls: true,
  check: ({ k, calls }) => {
    const setup = defaultSetup(k);
    for (const { fn, obs } of calls) {
      const rec = k.recs.find((r) => r.fn === fn);
      if (rec === undefined) continue;
      for (const t of obs.tramps) {
        const r = t.regs;
        const bad = setup.args.findIndex((v, i) => r.x[i] !== v);
        if (bad >= 0) return `call ${fn}: ${t.tramp} entered (${t.via}) with x${bad} = ${toHex(r.x[bad] ?? 0n)}, not the argument`;
        if (r.x[9] !== setup.lr) return `call ${fn}: ${t.tramp} entered (${t.via}) with x9 = ${toHex(r.x[9] ?? 0n)}, not the caller's return address ${toHex(setup.lr)}`;
        if (r.x30 !== rec.ip + 4n) return `call ${fn}: ${t.tramp} entered (${t.via}) with x30 = ${toHex(r.x30)}, not rec->ip + 4 = ${toHex(rec.ip + 4n)}`;
        if (r.sp !== setup.sp) return `call ${fn}: ${t.tramp} entered (${t.via}) with sp = ${toHex(r.sp)}, not the patch-site's ${toHex(setup.sp)}`;
      }
    }
    return null;
  },
};
