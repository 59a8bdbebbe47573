// branch-hygiene: BTI landing pads are reached only by the branches allowed to, and RET is used only to return.

import { decode } from "../model/insn.ts";
import type { Property } from "./property.ts";
import { symbolOr } from "./sites.ts";

export const branchHygiene: Property = {
  name: "branch-hygiene",
  kills: [
    { mutant: "ret-instead-of-br", maxSteps: 2 },
    { mutant: "ftrace-caller-no-bti", maxSteps: 2 },
  ],
  says: "Every indirect branch that lands on BTI C comes from BLR or from BR X16/X17, every BR/BLR into guarded text (BTI kernels) lands on a landing pad that accepts it, and every RET goes to the address its matching call pushed (return-stack balance).",
  guards: "BR X17 for both direct exits of ftrace_caller (not RET), BR X16 in module PLTs, BTI C at ftrace_caller and trampolines",
  needsCalls: true,
  check: ({ k, calls }) => {
    for (const { fn, obs } of calls) {
      for (const b of obs.branches) {
        if (b.kind === "ret") {
          if (!b.predicted) return `call ${fn}: ret x${b.reg} at ${symbolOr(k, b.from)} goes to ${symbolOr(k, b.to)}, which no call pushed (RET used as a forward branch)`;
          continue;
        }
        if (!k.mem.has(b.to) || k.hosts.has(b.to)) continue;
        const at = decode(k.mem.read32(b.to));
        if (at.kind === "bti" && at.target === "c" && b.kind === "br" && b.reg !== 16 && b.reg !== 17)
          return `call ${fn}: br x${b.reg} at ${symbolOr(k, b.from)} lands on BTI C at ${symbolOr(k, b.to)}`;
      }
      // The interpreter applies the landing rule to every BR/BLR into guarded text (config.bti): a miss faults.
      const landing = obs.violations.find((v) => v.kind === "bti-landing");
      if (landing !== undefined) return `call ${fn}: ${landing.message}`;
    }
    return null;
  },
};
