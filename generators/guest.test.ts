// The guest's generator: every run it draws is one the guest accepts (the planner refuses nothing), the same seed
// gives the same runs, and the runs reach every step kind and each dsmod flag.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planScenario } from "../kernel/guest.ts";
import { generatedRuns } from "../kernel/generated.ts";
import { KERNEL_GATE_RUNS } from "../cli/gate-kernel.ts";
import { GENERATED_GUEST, guestIntentsArb, guestScenario, normaliseGuest } from "./guest.ts";

describe("runs in the guest's vocabulary", () => {
  it("are always plannable for the guest, shrinks included", () => {
    fc.assert(
      fc.property(guestIntentsArb, (xs) => {
        planScenario("g", guestScenario(normaliseGuest(xs)), GENERATED_GUEST);
      }),
      { seed: 7, numRuns: 2000 },
    );
  });

  it("are a function of the seed", () => {
    expect(JSON.stringify(generatedRuns(3, 20))).toBe(JSON.stringify(generatedRuns(3, 20)));
    expect(JSON.stringify(generatedRuns(3, 20))).not.toBe(JSON.stringify(generatedRuns(4, 20)));
  });

  it("reach every step kind, both dsmod flags and fgraph subops in the gate's default batch", () => {
    const steps = generatedRuns(1, KERNEL_GATE_RUNS).flatMap((s) => s.steps);
    const kinds = new Set(steps.map((s) => s.do));
    for (const k of ["register_ftrace_function", "unregister_ftrace_function", "ftrace_set_filter", "ftrace_set_notrace", "register_ftrace_direct", "modify_ftrace_direct", "unregister_ftrace_direct", "call"]) expect(kinds).toContain(k);
    const flags = new Set(steps.flatMap((s) => (s.do === "register_ftrace_function" ? s.flags : [])));
    for (const f of ["RECURSION", "RCU", "SUBOP"]) expect(flags).toContain(f);
    // A live fgraph instance's filter changed (the manager's rebuild), and the module function traced and called.
    expect(steps.some((s) => s.do === "ftrace_set_filter" && s.ops === "G")).toBe(true);
    expect(steps.some((s) => s.do === "register_ftrace_direct" && s.filter.includes("m"))).toBe(true);
    expect(steps.some((s) => s.do === "call" && s.fn === "m")).toBe(true);
  });

  it("change a subops' filter only while it is live, and call what it traced and traces", () => {
    const steps = normaliseGuest([
      { kind: "subops_filter", filter: [0] },
      { kind: "subops", filter: [1], notrace: [], on: true },
      { kind: "subops_filter", filter: [3] },
    ]);
    expect(steps).toEqual([
      { do: "register_ftrace_function", ops: "G", filter: ["g"], notrace: [], flags: ["SUBOP"] },
      { do: "call", fn: "g" },
      { do: "ftrace_set_filter", ops: "G", filter: ["m"] },
      { do: "call", fn: "g" },
      { do: "call", fn: "m" },
    ]);
    expect(guestScenario(steps).functions.find((f) => f.name === "m")?.module).toBe("m1");
  });
});
