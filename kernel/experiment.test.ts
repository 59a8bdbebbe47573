// The refused-registration experiment, judged from the console of a run on Debian's 6.12.117 under QEMU (2 vCPUs):
// every registration of the second IPMODIFY ops was refused with -EBUSY, and its callback ran all the same, as the
// model predicted (reports/findings/failed-registration-visible.md). Also the one-line errors around it.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../cli/common.ts";
import { cli } from "../cli/testkit.ts";
import { judgeRefused, parseRefused, refusedPlan } from "./experiment.ts";
import { initScript } from "./guest.ts";

const FIXTURE = join(ROOT, "kernel", "fixtures", "debian-6.12-refused-registration.console");

describe("the refused-registration experiment", () => {
  it("reads dsmod's count from the guest's console: refused every time, called anyway", () => {
    const r = parseRefused(readFileSync(FIXTURE, "utf8"));
    expect(r).not.toBeNull();
    expect(r!.busy).toBe(r!.tries);
    expect(r!.other).toBe(0);
    expect(r!.hits).toBeGreaterThan(0);
    expect(judgeRefused(r!).confirmed).toBe(true);
  });

  it("says so on the command line, from the saved console", async () => {
    const r = await cli(["kernel", "--experiment", "refused-registration", "--console", FIXTURE]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^confirmed: (\d+) of \1 registrations of a second IPMODIFY ops refused with -EBUSY; the refused ops' callback ran [1-9]\d* time\(s\)/m);
  });

  it("does not call a run without a refused ops' callback a confirmation", () => {
    expect(judgeRefused({ tries: 300, busy: 300, other: 0, firstOther: 0, hits: 0, calls: 1000 }).confirmed).toBe(false);
    expect(judgeRefused({ tries: 300, busy: 299, other: 1, firstOther: 0, hits: 5, calls: 1000 }).line).toMatch(/^not shown: .*1 ended otherwise, first 0/);
  });

  it("loads dsmod and runs the experiment in the guest's init", () => {
    const init = initScript([refusedPlan(300)]);
    expect(init).toContain("kagent load /dsmod.ko");
    expect(init).toContain('echo "refused 300" > /sys/kernel/debug/dispatch_spec/ctl');
  });

  it.each([
    [["--experiment", "no-such"], /--experiment: the one experiment is "refused-registration", got "no-such"/],
    [["--experiment", "refused-registration", "--tries", "0"], /--tries: expected an integer >= 1, got "0"/],
    [["--experiment", "refused-registration", "--tries", "1000001"], /--tries: at most 100000, got 1000001/],
    [["--experiment", "refused-registration", "--kaslr", "both"], /--kaslr: the experiment boots once/],
    [["--tries", "5"], /--tries is for --experiment/],
  ])("refuses bad flags in one line: %j", async (args, message) => {
    const r = await cli(["kernel", ...args]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message);
  });
});
