// The profile summary: self time per function from a V8 .cpuprofile, largest first.

import { describe, expect, it } from "vitest";
import { selfTimes } from "./profile.ts";

describe("selfTimes", () => {
  it("sums each sample's time onto its function and sorts by share", () => {
    const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url } });
    const s = selfTimes({
      nodes: [frame(1, "(garbage collector)", ""), frame(2, "step", "file:///work/main/model/exec.ts"), frame(3, "o", "file:///x/node_modules/ts-pattern/dist/index.cjs")],
      samples: [2, 1, 2, 3, 2],
      timeDeltas: [10, 20, 30, 10, 30],
    });
    expect(s.total).toBe(100);
    expect(s.top[0]![1]).toBeCloseTo(0.7);
    expect(s.top[0]![0]).toMatch(/^step .*exec\.ts$/);
    expect(s.top.map(([k]) => k.split(" ")[0])).toEqual(["step", "(garbage", "o"]);
    expect(s.top[2]![0]).toBe("o ts-pattern");
  });
});
