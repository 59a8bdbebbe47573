// literal-discovery: ftrace_caller finds each site's literal from LR alone, with and without BTI C.

import { runUntil } from "../model/exec.ts";
import { toHex } from "../model/insn.ts";
import type { Kernel } from "../model/kernel.ts";
import { literalAddr, literalFromLr } from "../model/layout.ts";
import type { Property } from "./property.ts";

/**
 * Where ftrace_caller's first load reads for each site, per kernel: the instructions before it and their registers
 * (x30 alone) do not depend on memory, and a CALL_OPS design never patches ftrace_caller, so once found the load
 * address stays; what it reads there is read again after every step.
 */
const LOADS = new WeakMap<Kernel, Map<bigint, { readonly addr: bigint; readonly rt: number }>>();

/** Run ftrace_caller from its entry as the site's BL would, up to its first load (the literal); compare values. */
function discovers(k: Kernel): string | null {
  let loads = LOADS.get(k);
  if (loads === undefined) {
    loads = new Map();
    LOADS.set(k, loads);
  }
  for (const rec of k.recs) {
    const lr = rec.ip + 4n;
    if (literalFromLr(lr) !== literalAddr(rec.ip)) return `${rec.fn}: (x30 & ~7) - 16 = ${toHex(literalFromLr(lr))}, literal is at ${toHex(literalAddr(rec.ip))}`;
    const want = k.mem.read64(literalAddr(rec.ip));
    let load = loads.get(rec.ip);
    let got: bigint;
    if (load !== undefined) {
      got = k.mem.read64(load.addr);
    } else {
      const x = Array.from({ length: 31 }, () => 0n);
      x[30] = lr;
      const out = runUntil(k, k.layout.kernel.ftrace_caller, { x, sp: k.layout.kernel.stackTop }, (i) => i.kind === "ldr_imm" || i.kind === "ldur");
      if (out.fault !== null) return `${rec.fn}: ftrace_caller faulted loading the literal: ${out.fault}`;
      const rt = out.insn !== null && (out.insn.kind === "ldr_imm" || out.insn.kind === "ldur") ? out.insn.rt : 11;
      got = out.x[rt] ?? 0n;
      if (out.loadAddr !== undefined) {
        load = { addr: out.loadAddr, rt };
        loads.set(rec.ip, load);
      }
    }
    const rt = load?.rt ?? 11;
    if (got !== want) return `${rec.fn}${k.layout.functions.find((f) => f.name === rec.fn)?.bti === true ? " (BTI C)" : ""}: ftrace_caller loaded x${rt} = ${toHex(got)}, the literal holds ${toHex(want)}`;
  }
  return null;
}

export const literalDiscovery: Property = {
  name: "literal-discovery",
  kills: [{ mutant: "literal-no-align", maxSteps: 0 }],
  says: "For both patch-site layouts (with and without BTI C) and every aligned placement, ftrace_caller's (x30 & ~7) - 16 finds the literal and loads the ops it holds.",
  guards: "ftrace_call_adjust's layout (literal at ALIGN_DOWN(rec->ip - 12, 8)) and the literal load at the start of ftrace_caller",
  needsCallOps: true,
  needsCalls: false,
  atBoot: discovers,
  check: ({ k, result }) => (result.do === "call" ? null : discovers(k)),
};
