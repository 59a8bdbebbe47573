// The properties judged on a real kernel's observations: on the recorded boots of Debian's 6.12.117 and 7.3.4 they
// find exactly the findings the suite knows (the CALL_OPS survivor, fgraph's merge), and each judge fails on an
// observation made wrong on purpose.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../cli/load.ts";
import { parseScenario, type Step } from "../model/scenario.ts";
import { compareScenario, parseConsole, type KernelSite, type KernelStep } from "./compare.ts";
import { planScenario } from "./guest.ts";
import { judgeKernelRun, KERNEL_PROPERTIES, NOT_JUDGED_ON_KERNEL } from "./judge.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIR = join(HERE, "scenarios");
const plans = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => planScenario(f.replace(/\.json$/, ""), loadScenario(join(DIR, f))));

function verdicts(console: string, which = plans): Record<string, string[]> {
  const run = parseConsole(readFileSync(join(HERE, "fixtures", console), "utf8"));
  const out: Record<string, string[]> = {};
  which.forEach((p, i) => {
    const c = compareScenario(p, i, run);
    const v = judgeKernelRun(c.modelScenario!, c.kernel).map((x) => x.property);
    if (v.length > 0) out[p.name.slice(0, 3)] = v;
  });
  return out;
}

describe("the kernel's verdicts on recorded boots", () => {
  it("finds the survivor and fgraph's 6.12 merge on Debian's 6.12.117, with KASLR off and on, and nothing else", () => {
    const want = { k14: ["manager-exact"], k15: ["exact-handlers", "manager-exact"], k16: ["recursion-protected"], k18: ["recursion-protected"] };
    expect(verdicts("debian-6.12-kaslr-off.console")).toEqual(want);
    expect(verdicts("debian-6.12-kaslr-on.console")).toEqual(want);
  });

  it("on 7.3.4 (today's merge) still the survivor, and a subops whose notrace covers its filter tracing every function", () => {
    const recorded = plans.filter((p) => /^k1[3-9]/.test(p.name));
    expect(verdicts("debian-7.3.4-kaslr-off.console", recorded)).toEqual({ k13: ["manager-exact"], k15: ["manager-exact"], k16: ["recursion-protected"], k18: ["recursion-protected"] });
  });

  it("names a reason for every property it does not judge", () => {
    for (const p of KERNEL_PROPERTIES) expect(NOT_JUDGED_ON_KERNEL[p]).toBeUndefined();
    expect(Object.keys(NOT_JUDGED_ON_KERNEL)).toContain("ops-ownership");
  });
});

describe("each judge fails on an observation made wrong", () => {
  const scenario = parseScenario({
    functions: [
      { name: "f", addr: "0xffff800009000000" },
      { name: "g", addr: "0xffff800009001000" },
    ],
    trampolines: [{ name: "T.D.0", addr: "0xffff800009100000" }],
    steps: [],
  });
  const site = (literal: string, bl: string): KernelSite => ({ literal, bl });
  const untraced = site("ftrace_nop_ops", "nop");
  const reg: Step = { do: "register_ftrace_function", ops: "A", filter: ["f"], notrace: [], flags: [] };
  const step = (n: number, api: KernelStep["api"], f: KernelSite, call: KernelStep["call"] = null, ftraceBug = false): KernelStep => ({ step: n, text: "", api, sites: new Map([["f", f], ["g", untraced]]), call, ftraceBug });
  const judge = (steps: KernelStep[]): string[] => judgeKernelRun(scenario, steps).map((v) => `${v.property} @${v.step}`);
  const good = [step(0, [], untraced), step(1, [{ step: reg, ret: 0 }], site("A", "bl ftrace_caller"))];

  it("holds on a good run", () => {
    expect(judge(good)).toEqual([]);
    // The lone ops or the list ops: both are §7's (which one is upstream's CALL_OPS choice, not safety).
    expect(judge([good[0]!, step(1, [{ step: reg, ret: 0 }], site("ftrace_list_ops", "bl ftrace_caller"))])).toEqual([]);
  });

  it("literal-valid and path-selection: another ops in the literal, a NOP for a traced function", () => {
    expect(judge([good[0]!, step(1, [{ step: reg, ret: 0 }], site("B", "bl ftrace_caller"))])).toEqual(["literal-valid @1"]);
    expect(judge([good[0]!, step(1, [{ step: reg, ret: 0 }], site("A", "nop"))])).toEqual(["literal-valid @1", "path-selection @1"]);
  });

  it("modify-validates: a return code the API does not give", () => {
    expect(judge([good[0]!, step(1, [{ step: reg, ret: -16 }], site("A", "bl ftrace_caller"))])).toEqual(["modify-validates @1"]);
  });

  it("modify-validates: ftrace_bug in the kernel's log during a step, even when every site and return code looks right", () => {
    expect(judge([good[0]!, step(1, [{ step: reg, ret: 0 }], site("A", "bl ftrace_caller"), null, true)])).toEqual(["modify-validates @1"]);
  });

  it("exact-handlers and recursion-protected: a handler run twice, a RECURSION ops called from the literal", () => {
    const twice = step(2, [], site("A", "bl ftrace_caller"), { fn: "f", counts: new Map([["A", 2]]), dsmod: new Map() });
    expect(judge([...good, twice])).toEqual(["exact-handlers @2"]);
    const r: Step = { do: "register_ftrace_function", ops: "R", filter: ["f"], notrace: [], flags: ["RECURSION"] };
    const fromCaller = step(2, [], site("R", "bl ftrace_caller"), { fn: "f", counts: new Map([["R", 1]]), dsmod: new Map([["R", { calls: 1, fromCaller: 1 }]]) });
    expect(judge([good[0]!, step(1, [{ step: r, ret: 0 }], site("R", "bl ftrace_caller")), fromCaller])).toEqual(["recursion-protected @2"]);
  });

  it("manager-exact: a subops' function left untraced", () => {
    const sub: Step = { do: "register_ftrace_function", ops: "S", filter: ["f"], notrace: [], flags: ["SUBOP"] };
    expect(judge([good[0]!, step(1, [{ step: sub, ret: 0 }], site("graph_ops", "bl ftrace_caller"))])).toEqual([]);
    expect(judge([good[0]!, step(1, [{ step: sub, ret: 0 }], untraced)])).toEqual(["manager-exact @1"]);
  });
});
