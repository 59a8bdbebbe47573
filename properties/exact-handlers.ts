// exact-handlers: every call reaches exactly the right handlers, the direct trampoline at most once, then the
// body once, and returns to its caller intact. The expected set comes from the reference, not from the model.

import { defaultSetup } from "../model/exec.ts";
import type { Property } from "./property.ts";
import { expected, handlerNames, tracers } from "./reference.ts";

export const exactHandlers: Property = {
  name: "exact-handlers",
  // The shortest counterexample is 3 steps (a lone RECURSION ops walked by the list func, an ops that notraces f,
  // the call: the explorer's depth 2). fast-check's shrinking never turns an ops' flags into RECURSION and stops at
  // a 4-step run; the domain's pass (properties/minimize.ts) trades two plain ops for one RECURSION ops and gets 3.
  kills: [
    { mutant: "drop-notrace", maxSteps: 3 },
    // arm64 taking the single shared direct ops without the by-ip lookup: an out-of-range trampoline is never entered.
    { mutant: "single-direct-no-lookup", maxSteps: 2, base: "pending-single-direct-ops" },
  ],
  says: "A call runs each enabled ordinary ops that traces the function once, the direct trampoline of its direct ops once (never two), then the body once, and returns to the caller with callee-saved registers, sp and the caller's stack (at and above its sp) intact.",
  guards: "ftrace_ops_list_func and ftrace_ops_test (filter and notrace), call_direct_funcs and the late direct exit, ftrace_caller's return into the body",
  needsCalls: true,
  check: ({ k, ref, calls }) => {
    const setup = defaultSetup(k);
    for (const { fn, obs } of calls) {
      const want = tracers(ref, fn);
      const ordinary = handlerNames(ref, fn, want.filter((o) => o.kind === "ordinary"));
      const ran = obs.handlers.map((h) => h.ops).filter((n) => k.ops.get(n)?.kind === "ordinary");
      for (const n of ordinary) {
        const times = ran.filter((r) => r === n).length;
        if (times !== 1) return `call ${fn}: ${n} traces ${fn} but its handler ran ${times} times`;
      }
      const extra = ran.filter((r) => !ordinary.includes(r));
      if (extra.length > 0) return `call ${fn}: handler of ${[...new Set(extra)].join(", ")} ran, but it does not trace ${fn}`;
      const tramp = expected(ref, fn).tramp;
      const entered = obs.tramps.map((t) => t.tramp);
      if (tramp === null && entered.length > 0) return `call ${fn}: entered ${entered.join(", ")}, but no direct ops traces ${fn}`;
      if (tramp !== null && (entered.length !== 1 || entered[0] !== tramp)) return `call ${fn}: expected to enter ${tramp} once, entered [${entered.join(", ")}]`;
      const bodies = obs.bodies.filter((b) => b.fn === fn);
      if (obs.fault !== null) return `call ${fn}: ${obs.fault}`;
      if (bodies.length !== 1) return `call ${fn}: the body ran ${bodies.length} times`;
      const body = bodies[0]!;
      const late = [...obs.handlers.map((h) => h.seq), ...obs.tramps.map((t) => t.seq)].filter((q) => q > body.seq);
      if (late.length > 0) return `call ${fn}: a handler or trampoline ran after the body`;
      if (!obs.returned) return `call ${fn}: did not return to the caller`;
      const cs = obs.finalCalleeSaved;
      const bad = setup.calleeSaved.findIndex((v, i) => cs[i] !== v);
      if (bad >= 0) return `call ${fn}: x${19 + bad} not preserved across the call`;
      if (obs.final?.sp !== setup.sp) return `call ${fn}: sp not restored on return`;
      const clobber = obs.violations.find((v) => v.kind === "caller-stack");
      if (clobber !== undefined) return `call ${fn}: ${clobber.message}`;
    }
    return null;
  },
};
