// The refused-registration experiment, judged from the console of a run on Debian's 6.12.117 under QEMU (2 vCPUs):
// every registration of the second IPMODIFY ops was refused with -EBUSY, and its callback ran all the same, as the
// model predicted (reports/findings/failed-registration-visible.md). Also the one-line errors around it.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../cli/common.ts";
import { cli } from "../cli/testkit.ts";
import { callsFunction, codeDifference, judgeLivepatch, judgeRefused, LIVEPATCH_STAGES, livepatchPlan, parseLivepatch, parseRefused, PATCHED_ERRNO, refusedPlan, trampolineCode } from "./experiment.ts";
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
    [["--experiment", "no-such"], /--experiment: expected one of refused-registration, livepatch-fexit, got "no-such"/],
    [["--experiment", "livepatch-fexit", "--tries", "5"], /--tries is for --experiment refused-registration/],
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

const LIVEPATCH_FIXTURE = join(ROOT, "kernel", "fixtures", "debian-6.12-livepatch-fexit.console");

describe("the livepatch + fexit experiment (3e9a18e1c3e9 on arm64)", () => {
  const console = readFileSync(LIVEPATCH_FIXTURE, "utf8");

  it("reads every stage's call, the run counts, dsmod's line and both fexit trampolines from the console", () => {
    const r = parseLivepatch(console);
    expect(r).not.toBeNull();
    expect(r!.stages.map((s) => s.stage)).toEqual(LIVEPATCH_STAGES.map((s) => s.stage));
    expect(r!.stages[0]).toMatchObject({ ret: 0, errno: 0 });
    for (const s of r!.stages.slice(1)) expect(s).toMatchObject({ ret: -1, errno: PATCHED_ERRNO });
    expect(r!.report["self_at_modify"]).toBeGreaterThan(r!.report["self_at_register"]!);
    expect([...r!.images.keys()].sort()).toEqual(["__arm64_sys_setdomainname", "__arm64_sys_sethostname"]);
    const v = judgeLivepatch(r!);
    expect(v.confirmed).toBe(true);
    expect(v.lines.join("\n")).toMatch(/same \d+ instructions but for addresses/);
  });

  it("says so on the command line, from the saved console", async () => {
    const r = await cli(["kernel", "--experiment", "livepatch-fexit", "--console", LIVEPATCH_FIXTURE]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/it carries 3e9a18e1c3e9/);
    expect(r.out).toMatch(/^confirmed: .*every call ran the replacement/m);
  });

  it("does not confirm a run in which the fexit stage reached the original body", () => {
    const lines = console.split("\n");
    const at = lines.findIndex((l) => l === "### stage:fexit");
    const call = lines.findIndex((l, i) => i > at && l.startsWith('### {"call":'));
    lines[call] = '### {"call":"__arm64_sys_sethostname","ret":0,"errno":0}';
    const v = judgeLivepatch(parseLivepatch(lines.join("\n"))!);
    expect(v.confirmed).toBe(false);
    expect(v.lines.find((l) => l.startsWith("fexit"))).toMatch(/the original body ran/);
  });

  it("tells two trampolines apart when they differ in more than an address", () => {
    const r = parseLivepatch(console)!;
    const lp = trampolineCode(r.images.get("__arm64_sys_sethostname")![0]!.words)!;
    const ref = trampolineCode(r.images.get("__arm64_sys_setdomainname")![0]!.words)!;
    expect(callsFunction(lp)).toBe(true);
    expect(codeDifference(lp, ref)).toBe(-1);
    // Another register in a MOVK, a BL made a B, and a trampoline one instruction shorter each count as a difference.
    const movk = lp.findIndex((w) => (w & 0xff800000) >>> 0 === 0xf2800000);
    expect(codeDifference(lp, lp.map((w, i) => (i === movk ? (w ^ 1) >>> 0 : w)))).toBe(movk);
    const bl = lp.findIndex((w) => (w & 0xfc000000) >>> 0 === 0x94000000);
    expect(codeDifference(lp, lp.map((w, i) => (i === bl ? (w & 0x7fffffff) >>> 0 : w)))).toBe(bl);
    expect(codeDifference(lp, lp.slice(1))).toBe(0);
    expect(callsFunction(lp.filter((w) => w !== 0xd65f0140))).toBe(false);
  });

  it("runs the commit's three steps in the guest's init, dsmod's part first", () => {
    const init = initScript([livepatchPlan()]);
    const order = ["echo patch >", "echo direct >", "echo direct-modify >", "kagent fentry __arm64_sys_sethostname", "kagent fexit __arm64_sys_sethostname", "kagent images __arm64_sys_sethostname"];
    const at = order.map((s) => init.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });
});
