// transitional-handlers: a call that overlaps API steps runs handlers between those of the states around it.

import { handlerNames, tracers, expected } from "./reference.ts";
import { dispatchBreach, overlappedStates, type ConcurrentProperty } from "./concurrency.ts";

export const transitionalHandlers: ConcurrentProperty = {
  name: "transitional-handlers",
  says: "A call overlapping API steps from S to S' runs ordinary handlers H with (S ∩ S') ⊆ H ⊆ (S ∪ S'), each at most once, at most one direct trampoline (S's or S''s), the body exactly once, and returns.",
  guards: "literal-before-instruction ordering, the list walk over removed ops, modify_ftrace_direct's window-free switch, direct_call read once",
  kills: [{ mutant: "reset-direct-early", maxSegments: 12 }],
  check: ({ result, states }) => {
    for (const c of result.calls) {
      const { from, to } = overlappedStates(result, c);
      if (from === to) continue;
      const span = states.slice(from, to + 1);
      const sets = span.map((s) => new Set(handlerNames(s, c.fn, tracers(s, c.fn).filter((o) => o.kind === "ordinary"))));
      const lower = [...(sets[0] ?? [])].filter((n) => sets.every((x) => x.has(n)));
      const upper = new Set(sets.flatMap((x) => [...x]));
      const ran = c.obs.handlers.map((h) => h.ops).filter((n) => result.kernel.ops.get(n)?.kind === "ordinary");
      const who = `cpu${c.cpu} call ${c.fn} (across steps ${from + 1}..${to})`;
      for (const n of lower) if (!ran.includes(n)) return `${who}: ${n} traces ${c.fn} before and after, but its handler did not run`;
      for (const n of ran) {
        if (!upper.has(n)) return `${who}: handler of ${n} ran, but ${n} traces ${c.fn} in none of the states`;
        if (ran.filter((x) => x === n).length > 1) return `${who}: handler of ${n} ran twice`;
      }
      const tramps = new Set(span.map((s) => expected(s, c.fn).tramp).filter((t): t is string => t !== null));
      if (c.obs.tramps.length > 1) return `${who}: entered ${c.obs.tramps.length} direct trampolines`;
      const t = c.obs.tramps[0];
      if (t !== undefined && !tramps.has(t.tramp)) return `${who}: entered ${t.tramp}, which is the trampoline of none of the states`;
      const broken = dispatchBreach(c.obs.violations);
      if (broken !== undefined) return `${who}: ${broken}`;
      if (!c.obs.returned) return `${who}: did not return (${c.obs.fault ?? "no fault"})`;
      const bodies = c.obs.bodies.filter((b) => b.fn === c.fn).length;
      if (bodies !== 1) return `${who}: the body ran ${bodies} times`;
    }
    return null;
  },
};
