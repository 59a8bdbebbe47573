// quiescent-exact: a call that overlaps no API step is dispatched exactly as in the sequential model.

import { expected, handlerNames, tracers } from "./reference.ts";
import { dispatchBreach, overlappedStates, type ConcurrentProperty } from "./concurrency.ts";

export const quiescentExact: ConcurrentProperty = {
  name: "quiescent-exact",
  says: "A call that overlaps no API step runs exactly the ordinary handlers of the state it runs in, its direct trampoline if any, the body once, and returns.",
  guards: "the same dispatch as exact-handlers, on CPUs running between updates",
  kills: [{ mutant: "drop-notrace", maxSegments: 12 }],
  check: ({ result, states }) => {
    for (const c of result.calls) {
      const { from, to } = overlappedStates(result, c);
      if (from !== to) continue;
      const s = states[from];
      if (s === undefined) continue;
      const want = handlerNames(s, c.fn, tracers(s, c.fn).filter((o) => o.kind === "ordinary")).sort();
      const ran = c.obs.handlers.map((h) => h.ops).filter((n) => result.kernel.ops.get(n)?.kind === "ordinary").sort();
      const who = `cpu${c.cpu} call ${c.fn} (after step ${from})`;
      if (want.join(",") !== ran.join(",")) return `${who}: handlers [${ran.join(", ")}], expected [${want.join(", ")}]`;
      const tramp = expected(s, c.fn).tramp;
      const entered = c.obs.tramps.map((t) => t.tramp);
      if (tramp === null ? entered.length > 0 : entered.length !== 1 || entered[0] !== tramp) return `${who}: entered [${entered.join(", ")}], expected ${tramp ?? "none"}`;
      const broken = dispatchBreach(c.obs.violations);
      if (broken !== undefined) return `${who}: ${broken}`;
      if (!c.obs.returned) return `${who}: did not return (${c.obs.fault ?? "no fault"})`;
      if (c.obs.bodies.filter((b) => b.fn === c.fn).length !== 1) return `${who}: the body did not run exactly once`;
    }
    return null;
  },
};
