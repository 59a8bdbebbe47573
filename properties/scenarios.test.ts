// The scenario corpus under properties/scenarios: the seed's three cases, the SCENARIO.md example, and the
// kernel's direct-call samples. Each file carries its own expectations; this test runs them all and checks,
// besides, the headline facts of each case directly.

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario, runScenario, type StepResult } from "../model/scenario.ts";
import { scenarioFiles } from "../cli/load.ts";
import { SCENARIO_DIR } from "../cli/main.ts";

const files = scenarioFiles(SCENARIO_DIR);

function run(name: string) {
  const file = files.find((f) => basename(f) === name);
  if (file === undefined) throw new Error(`missing scenario ${name}`);
  return runScenario(parseScenario(JSON.parse(readFileSync(file, "utf8"))));
}

function call(results: ReadonlyArray<StepResult>, step: number) {
  const r = results[step - 1];
  if (r === undefined || r.do !== "call") throw new Error(`step ${step} is not a call`);
  return r;
}

function api(results: ReadonlyArray<StepResult>, step: number) {
  const r = results[step - 1];
  if (r === undefined || r.do === "call") throw new Error(`step ${step} is not an API step`);
  return r;
}

describe("scenario corpus", () => {
  it("has the seed cases and all five direct-call samples", () => {
    const names = files.map((f) => basename(f));
    for (const n of ["seed-case1-direct-alone.json", "seed-case2-several-ops.json", "seed-case3-one-ordinary-ops.json", "seed-example.json"])
      expect(names).toContain(n);
    for (const s of ["ftrace-direct", "ftrace-direct-too", "ftrace-direct-modify", "ftrace-direct-multi", "ftrace-direct-multi-modify"])
      expect(names).toContain(`sample-${s}.json`);
  });

  it.each(files.map((f) => [basename(f), f] as const))("%s holds every expectation it states", (_name, file) => {
    const json: unknown = JSON.parse(readFileSync(file, "utf8"));
    const s = parseScenario(json);
    const res = runScenario(s);
    expect(res.failures).toEqual([]);
    // A corpus file must assert something about dispatch and about the patch-sites.
    expect(s.steps.some((st) => st.do === "call" && st.expect?.path !== undefined && st.expect.tramp !== undefined)).toBe(true);
    expect(s.steps.some((st) => st.do !== "call" && Object.values(st.expect?.sites ?? {}).some((x) => x.literal !== undefined && x.insn !== undefined))).toBe(true);
  });
});

describe("seed cases", () => {
  it("case 1: a lone direct ops is reached by BL in range, through ftrace_caller or the module PLT out of range", () => {
    const { results } = run("seed-case1-direct-alone.json");
    expect(api(results, 1).sites).toEqual([expect.objectContaining({ fn: "near_fn", literal: "Dnear", insn: "bl Tnear" })]);
    expect(call(results, 2)).toMatchObject({ path: "direct-bl", tramp: "Tnear", handlers: [] });
    expect(api(results, 3).sites.map((s) => [s.fn, s.literal, s.insn])).toEqual([
      ["kern_fn", "Dfar", "bl ftrace_caller"],
      ["mod_fn", "Dfar", "bl far.ftrace_plt"],
    ]);
    const viaCaller = call(results, 4);
    expect(viaCaller).toMatchObject({ path: "caller-direct", tramp: "Tfar", handlers: [] });
    // The early exit saves nothing: no C function runs between the site and the trampoline.
    expect(viaCaller.obs.boundaries[0]?.at).toBe("Tfar.func");
    const viaPlt = call(results, 5);
    expect(viaPlt.obs.branches.map((b) => `${b.kind} x${b.reg}`).slice(0, 2)).toEqual(["br x16", "br x17"]);
  });

  it("case 2: several ops share the list path; the direct trampoline runs after every callback", () => {
    const { results } = run("seed-case2-several-ops.json");
    const c = call(results, 5);
    expect(c).toMatchObject({ path: "caller-list", handlers: ["D", "B", "A"], tramp: "T1", body: 1, returned: true });
    const trampAt = c.obs.trace.findIndex((t) => t.where === "T1");
    const lastHandlerCall = c.obs.trace.findIndex((t) => t.where === "ftrace_ops_list_func");
    expect(lastHandlerCall).toBeGreaterThan(-1);
    expect(trampAt).toBeGreaterThan(lastHandlerCall);
    expect(api(results, 9).sites.map((s) => [s.fn, s.literal, s.insn])).toEqual([
      ["f", "D", "bl T1"],
      ["g", "D", "bl m1.ftrace_plt"],
    ]);
  });

  it("case 3: one ordinary ops is called directly with ip = rec->ip and parent_ip = the caller's LR", () => {
    const { results, kernel } = run("seed-case3-one-ordinary-ops.json");
    const c = call(results, 3);
    expect(c).toMatchObject({ path: "caller-ops", handlers: ["A"], tramp: null });
    const rec = kernel.recs.find((r) => r.fn === "f");
    expect(c.obs.handlers[0]).toMatchObject({ ops: "A", ip: rec?.ip, parentIp: kernel.layout.kernel.callerReturn, op: "A" });
  });
});

describe("the SCENARIO.md example", () => {
  it("as written: SAVE_REGS without SAVE_REGS_IF_SUPPORTED is refused on arm64, so D alone is reached by BL", () => {
    const { results } = run("seed-example.json");
    expect(api(results, 1).ret).toBe("-EINVAL");
    expect(call(results, 3)).toMatchObject({ path: "direct-bl", tramp: "T1", handlers: [] });
  });

  it("with SAVE_REGS_IF_SUPPORTED: list path in ftrace_ops_list order (newest first), then direct-bl, then caller-direct to T2", () => {
    const { results } = run("seed-example-if-supported.json");
    expect(call(results, 3)).toMatchObject({ path: "caller-list", handlers: ["D", "A"], tramp: "T1" });
    expect(call(results, 6)).toMatchObject({ path: "direct-bl", tramp: "T1" });
    expect(call(results, 8)).toMatchObject({ path: "caller-direct", tramp: "T2" });
  });
});

describe("kernel samples", () => {
  it("ftrace-direct-too: the trampoline sees the call's arguments and the body gets them back intact", () => {
    const { results, kernel } = run("sample-ftrace-direct-too.json");
    const c = call(results, 3);
    const entry = c.obs.tramps[0];
    expect(entry?.tramp).toBe("my_tramp_too");
    const rec = kernel.recs.find((r) => r.fn === "handle_mm_fault");
    expect(entry?.regs.x30).toBe((rec?.ip ?? 0n) + 4n);
    expect(entry?.regs.x[9]).toBe(kernel.layout.kernel.callerReturn);
    expect(c.obs.bodies[0]?.regs.x.slice(0, 9)).toEqual(entry?.regs.x.slice(0, 9));
    expect(api(results, 5).ret).toBe("-EBUSY");
  });

  it("ftrace-direct-modify: each call between modifies reaches exactly the current trampoline", () => {
    const { results } = run("sample-ftrace-direct-modify.json");
    const tramps = results.filter((r) => r.do === "call").map((r) => (r.do === "call" ? r.tramp : null));
    expect(tramps).toEqual(["my_tramp1", "my_tramp2", "my_tramp1", "my_tramp2", null]);
  });

  it("ftrace-direct-modify: the modify moves the site through ftrace_list_ops and back, literal before instruction", () => {
    const { results } = run("sample-ftrace-direct-modify.json");
    const writes = api(results, 3).events.flatMap((e) => (e.kind === "write" ? [e.what] : []));
    expect(writes).toEqual(["literal", "insn", "literal", "insn"]);
  });

  it("ftrace-direct-multi and -multi-modify: one ops, two functions, one trampoline", () => {
    const multi = run("sample-ftrace-direct-multi.json").results;
    expect([call(multi, 2).tramp, call(multi, 3).tramp]).toEqual(["my_tramp", "my_tramp"]);
    const mm = run("sample-ftrace-direct-multi-modify.json").results;
    expect(call(mm, 7)).toMatchObject({ path: "caller-list", handlers: ["tracer", "direct"], tramp: "my_tramp2" });
    expect(call(mm, 9)).toMatchObject({ path: "caller-list", tramp: "my_tramp1" });
  });
});
