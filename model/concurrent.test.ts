// The steppable interleaving behind runConcurrent (the ground an explorer of interleavings stands on): driven move
// by move it is the same run a schedule gives, and it says who can move.

import { describe, expect, it } from "vitest";
import { interleave, runConcurrent, type ApiStep, type ConcurrentInput } from "./concurrent.ts";
import { parseScenario, scenarioLayout } from "./scenario.ts";
import { upstream } from "./variants/upstream.ts";

const s = parseScenario({
  functions: [{ name: "f", addr: "0xffff800009000000" }],
  steps: [
    { do: "register_ftrace_function", ops: "A", filter: ["f"] },
    { do: "unregister_ftrace_function", ops: "A" },
  ],
});
const steps = s.steps.filter((st): st is ApiStep => st.do !== "call");
const input = (schedule: number[]): ConcurrentInput => ({ layout: scenarioLayout(s), design: upstream, steps, cpus: [["f"], ["f"]], schedule });
const describeStep = (st: ApiStep): string => `${st.do} ${st.ops}`;

describe("interleave", () => {
  it("driven by a schedule's moves, then finished, is the run runConcurrent makes of that schedule", () => {
    const schedule = [1, 1, 0, 2, 0, 1, 1, 1, 0, 0, 2, 2, 2, 0, 1, 2, 0, 0, 0, 1, 2];
    const whole = runConcurrent(input(schedule), describeStep);
    const run = interleave(input([]), describeStep);
    for (const a of schedule) run.move(a);
    const stepped = run.finish();
    expect(stepped.timeline).toEqual(whole.timeline);
    expect(stepped.calls.map((c) => [c.cpu, c.fn, c.start, c.end, c.obs.path])).toEqual(whole.calls.map((c) => [c.cpu, c.fn, c.start, c.end, c.obs.path]));
    expect(stepped.ticks).toBe(whole.ticks);
  });

  it("says who can move: everyone at first, no one at the end; a move of an actor that cannot move is refused", () => {
    const run = interleave(input([]), describeStep);
    expect(run.movable()).toEqual([0, 1, 2]);
    expect(run.move(3)).toBe(false);
    expect(run.tick).toBe(0);
    run.finish();
    expect(run.movable()).toEqual([]);
    expect(run.move(0)).toBe(false);
  });
});
