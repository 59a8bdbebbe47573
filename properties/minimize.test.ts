// The domain's shrinking pass: it finds the shorter scenario fast-check cannot reach (a RECURSION ops in place of
// two plain ones), keeps the property failing, and gives the same file every time.

import { describe, expect, it } from "vitest";
import { withMutant } from "../model/mutants.ts";
import { parseScenario } from "../model/scenario.ts";
import { upstream } from "../model/variants/upstream.ts";
import { blRange } from "./bl-range.ts";
import { exactHandlers } from "./exact-handlers.ts";
import { modifyValidates } from "./modify-validates.ts";
import { MinimizeHangError, minimizeCounterexample } from "./minimize.ts";
import { busyWait } from "./testkit.ts";
import { checkRun } from "./property.ts";

const design = withMutant(upstream, "drop-notrace");
const meta = { property: "exact-handlers", variant: design.name, seed: 0, path: "test" };
// fast-check's 1-minimal run for drop-notrace: two ops on f, a third that notraces f, the call.
const fourSteps = parseScenario({
  variant: design.name,
  functions: [{ name: "f", addr: "0xffff800009000000" }, { name: "g", addr: "0xffff800009001000" }],
  steps: [
    { do: "register_ftrace_function", ops: "A", filter: ["f"] },
    { do: "register_ftrace_function", ops: "B", filter: ["f"] },
    { do: "register_ftrace_function", ops: "C", filter: [], notrace: ["f"] },
    { do: "call", fn: "f" },
  ],
});

describe("minimizeCounterexample", () => {
  it("trades two plain ops for one RECURSION ops: 4 steps become the explorer's 3", () => {
    const f = checkRun(exactHandlers, fourSteps, design);
    expect(f).not.toBeNull();
    const m = minimizeCounterexample(exactHandlers, design, fourSteps, f!, meta);
    expect(m.scenario.steps.length).toBe(3);
    expect(m.scenario.functions.map((x) => x.name)).toEqual(["f"]);
    expect(checkRun(exactHandlers, m.scenario, design)?.message).toBe(m.failure.message);
    expect(m.scenario.counterexample?.message).toBe(m.failure.message);
  });

  it("is deterministic, and leaves a scenario that cannot shrink as it is", () => {
    const f = checkRun(exactHandlers, fourSteps, design)!;
    const a = minimizeCounterexample(exactHandlers, design, fourSteps, f, meta);
    const b = minimizeCounterexample(exactHandlers, design, fourSteps, f, meta);
    expect(JSON.stringify(a.scenario)).toBe(JSON.stringify(b.scenario));
    const again = minimizeCounterexample(exactHandlers, design, a.scenario, a.failure, meta);
    expect(JSON.stringify(again.scenario)).toBe(JSON.stringify(a.scenario));
  });
});

/** direct-entries-kept-on-failure's 4-step run: a refused direct registration retried after the IPMODIFY ops left. */
function retryScenario(): { d: ReturnType<typeof withMutant>; start: ReturnType<typeof parseScenario> } {
  const d = withMutant(upstream, "direct-entries-kept-on-failure");
  const start = parseScenario({
    variant: d.name,
    functions: [{ name: "f", addr: "0xffff800009000000" }],
    trampolines: [{ name: "T1", addr: "0xffff80000a100000" }],
    steps: [
      { do: "register_ftrace_function", ops: "A", filter: ["f"], flags: ["IPMODIFY"] },
      { do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "T1" },
      { do: "unregister_ftrace_function", ops: "A" },
      { do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "T1" },
    ],
  });
  return { d, start };
}

describe("minimizeCounterexample's breadth-first pass", () => {
  it("finds the shorter scenario edits cannot reach: a direct call registered near, then modified far", () => {
    const d = withMutant(upstream, "modify-call-no-plt");
    const start = parseScenario({
      variant: d.name,
      functions: [{ name: "f", addr: "0xffff800009000000" }],
      trampolines: [{ name: "T1", addr: "0xffff800001000000" }],
      steps: [
        { do: "register_ftrace_function", ops: "A", filter: ["f"] },
        { do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "T1" },
        { do: "unregister_ftrace_function", ops: "A" },
      ],
    });
    const f = checkRun(blRange, start, d);
    expect(f?.message).toMatch(/wrote "brk"/);
    const m = minimizeCounterexample(blRange, d, start, f!, { ...meta, property: "bl-range", variant: d.name });
    expect(m.scenario.steps.map((s) => s.do)).toEqual(["register_ftrace_direct", "modify_ftrace_direct"]);
    expect(checkRun(blRange, m.scenario, d)?.message).toBe(m.failure.message);
  });

  it("never turns a retry into registering a live direct ops (misuse upstream answers with a WARN too)", () => {
    const { d, start } = retryScenario();
    const f = checkRun(modifyValidates, start, d);
    expect(f?.message).toMatch(/returned -EBUSY, the kernel returns 0/);
    const m = minimizeCounterexample(modifyValidates, d, start, f!, { ...meta, property: "modify-validates", variant: d.name });
    expect(m.scenario.steps).toHaveLength(3);
    expect(m.failure.message).toMatch(/returned -EBUSY, the kernel returns 0/);
    // The mutant's bug, not a scenario upstream fails too.
    expect(checkRun(modifyValidates, m.scenario, upstream)).toBeNull();
    // Slowed down until its breadth-first pass takes seconds (as on a loaded machine): the same file. This search
    // once had a one-second budget, and a slow run kept the 4-step scenario.
    const started = performance.now();
    const slow = minimizeCounterexample(modifyValidates, d, start, f!, { ...meta, property: "modify-validates", variant: d.name }, { onTransition: busyWait(1) });
    expect(performance.now() - started).toBeGreaterThan(1000);
    expect(slow).toEqual(m);
  });

  it("breaks with a message, not another file, when its hang guard stops the breadth-first pass", () => {
    const { d, start } = retryScenario();
    const f = checkRun(modifyValidates, start, d);
    expect(() => minimizeCounterexample(modifyValidates, d, start, f!, { ...meta, property: "modify-validates", variant: d.name }, { hangGuardMs: 1, onTransition: busyWait(2) })).toThrow(MinimizeHangError);
  });
});
