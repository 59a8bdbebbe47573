// Progress reporting for long runs: a bar on a terminal, a periodic line in a log.

import { describe, expect, it } from "vitest";
import { lineProgress } from "./check.ts";

describe("lineProgress", () => {
  it("writes at most one line per 10 seconds with the count so far", () => {
    let t = 0;
    const lines: string[] = [];
    const p = lineProgress((s) => lines.push(s), () => t);
    p.start(1000);
    p.tick(100);
    t = 5_000;
    p.tick(100);
    t = 10_500;
    p.tick(100);
    t = 12_000;
    p.tick(100);
    t = 21_000;
    p.tick(200);
    p.stop();
    expect(lines).toEqual(["progress: 300/1000 runs (30%)\n", "progress: 600/1000 runs (60%)\n"]);
  });
});
