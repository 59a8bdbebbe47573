// The command line as a user runs it: output of `run` (table and JSON lines), `check`, and one-line errors
// with exit code 2 for bad input.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli as run, type CliRun } from "./testkit.ts";
import { SCENARIO_DIR } from "./main.ts";

function cli(...argv: string[]): Promise<CliRun> {
  return run(argv);
}

const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-cli-"));
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

const minimal = { functions: [{ name: "f", addr: "0xffff800008010008" }], steps: [{ do: "call", fn: "f" }] };

describe("dispatch-spec run", () => {
  it("prints JSON lines in the SCENARIO.md shape", async () => {
    const r = await cli("run", join(SCENARIO_DIR, "seed-example-if-supported.json"), "--json");
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ step: 1, do: "register_ftrace_function", ops: "A", ret: 0, sites: [{ fn: "f", literal: "A", insn: "bl ftrace_caller" }] });
    expect(lines[2]).toEqual({ step: 3, do: "call", fn: "f", path: "caller-list", handlers: ["D", "A"], tramp: "T1", body: 1, returned: true, violations: [] });
  });

  it("prints a readable table with each rewritten site before and after", async () => {
    const r = await cli("run", join(SCENARIO_DIR, "seed-example.json"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("register_ftrace_function A");
    expect(r.out).toContain("-EINVAL");
    expect(r.out).toMatch(/f\s+literal ftrace_nop_ops -> D\s+insn nop -> bl T1/);
    expect(r.out).toMatch(/call f\s+path direct-bl/);
  });

  it("prints the instruction trace with --trace", async () => {
    const r = await cli("run", join(SCENARIO_DIR, "seed-case1-direct-alone.json"), "--trace");
    expect(r.out).toContain("ldr x17, [x11, #208]");
    expect(r.out).toContain("br x17");
  });

  it("exits 1 when a step's expectation does not hold", async () => {
    const bad = { ...minimal, steps: [{ do: "call", fn: "f", expect: { path: "caller-ops" } }] };
    const r = await cli("run", file("wrong-expect.json", bad));
    expect(r.code).toBe(1);
    expect(r.out).toContain("path is untraced, expected caller-ops");
  });
});

describe("bad input gets one line and exit code 2", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["malformed JSON", "{ not json", /not valid JSON/],
    ["unknown top-level key", { ...minimal, colour: "red" }, /unknown key\(s\) "colour"/],
    ["unknown step key", { ...minimal, steps: [{ do: "call", fn: "f", cpu: 1 }] }, /steps\[0\]: unknown key\(s\) "cpu"/],
    ["unknown step kind", { ...minimal, steps: [{ do: "frobnicate" }] }, /steps\[0\]\.do/],
    ["unknown variant", { ...minimal, variant: "v9" }, /unknown variant "v9"/],
    ["unknown function in a call", { ...minimal, steps: [{ do: "call", fn: "nope" }] }, /unknown function "nope"/],
    ["unknown flag", { ...minimal, steps: [{ do: "register_ftrace_function", ops: "A", flags: ["FAST"] }] }, /steps\[0\]\.flags\[0\]/],
    ["address that is not hex", { functions: [{ name: "f", addr: "kernel" }], steps: [] }, /functions\[0\]\.addr: expected a hex address/],
    ["function symbol not 8-byte aligned", { functions: [{ name: "f", addr: "0xffff800008010004" }], steps: [] }, /not 8-byte aligned/],
    ["trampoline address not 4-byte aligned", { ...minimal, steps: [{ do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "0xffff80000a000002" }] }, /not 4-byte aligned/],
    ["unknown trampoline name", { ...minimal, steps: [{ do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "T9" }] }, /unknown trampoline "T9"/],
    ["one ops name used for two kinds", { ...minimal, steps: [{ do: "register_ftrace_function", ops: "X" }, { do: "register_ftrace_direct", ops: "X", filter: ["f"], addr: "ftrace_stub_direct_tramp" }] }, /"X" names an ordinary ops \(steps\[0\]\); use another name for a direct ops/],
    ["function on top of the model's C helpers", { functions: [{ name: "f", addr: "0xffff800008100000" }], steps: [] }, /overlaps the C helpers|the C helpers at .* overlaps f/],
    ["module PLT out of ADRP range of ftrace_caller", { modules: [{ name: "m", text: "0xffffa00000000000" }], functions: [{ name: "f", addr: "0xffffa00000000108", module: "m" }], steps: [] }, /adrp|ADRP|out of range/],
    ["function outside kernel text", { functions: [{ name: "f", addr: "0xffff000000000000" }], steps: [] }, /outside kernel text/],
  ];
  it.each(cases)("%s", async (_what, content, message) => {
    const r = await cli("run", file("bad.json", content));
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message);
  });

  it("a missing file", async () => {
    const r = await cli("run", join(dir, "absent.json"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/absent\.json: not found/);
  });

  it("an unknown command", async () => {
    const r = await cli("frobnicate");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command/);
  });

  it("a misspelt command or option: commander's suggestion on the same line, no escaped newline", async () => {
    expect((await cli("gatee")).err).toBe("dispatch-spec: unknown command 'gatee' (Did you mean gate?)\n");
    const r = await cli("check", "--runz", "3");
    expect(r.err).toBe("dispatch-spec: unknown option '--runz' (Did you mean --runs?)\n");
    expect(r.code).toBe(2);
  });
});

describe("dispatch-spec check", () => {
  it("runs a property and the corpus, prints the table and exits 0 when everything holds", async () => {
    const r = await cli("check", "--runs", "30", "--seed", "7", "--property", "literal-valid", "--workers", "1");
    expect(r.code).toBe(0);
    expect(r.out).toContain("seed 7, 30 runs per property");
    expect(r.out).toMatch(/literal-valid\s+30\s+holds/);
    expect(r.out).toMatch(/scenario corpus: \d+ files, all expectations hold/);
  });

  it("says n/a for a property about the literal on a design without CALL_OPS, and runs nothing for it", async () => {
    const r = await cli("check", "--runs", "10", "--seed", "7", "--variant", "fix-91970bef48d6", "--property", "literal-valid", "--workers", "1");
    expect(r.code).toBe(0);
    expect(r.out).toContain("n/a on fix-91970bef48d6 (no CALL_OPS literal): literal-valid");
    expect(r.out).not.toMatch(/literal-valid\s+10\s+holds/);
  });

  it.each([
    [["--runs", "0"], /--runs: expected an integer >= 1/],
    [["--runs", "lots"], /--runs: expected an integer/],
    [["--seed", "-3"], /--seed: expected an integer >= 0/],
    [["--property", "nope"], /--property: unknown property "nope"/],
    [["--report", join(file("plain.txt", "not a directory"), "out")], /--report: cannot make directory .*plain\.txt\/out \(ENOTDIR\)/],
  ])("rejects bad flags %j with one line and exit 2", async (flags, message) => {
    const r = await cli("check", ...flags);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message);
  });
});

describe("dispatch-spec kernel: failures around dsmod are one line and exit 2", () => {
  const fixture = join(SCENARIO_DIR, "..", "..", "kernel", "fixtures", "debian-6.12-kaslr-off.console");
  const survivor = join(SCENARIO_DIR, "..", "..", "kernel", "scenarios", "k16-survivor-recursion.json");

  it("says so when the guest refused the module", async () => {
    const { readFileSync } = await import("node:fs");
    const refused = readFileSync(fixture, "utf8").replace(/\{"load":"\/dsmod\.ko","ok":1\}/, '{"load":"/dsmod.ko","error":"finit_module: Exec format error"}');
    const r = await cli("kernel", "--kaslr", "off", "--console", file("refused.console", refused), survivor);
    expect(r.code).toBe(2);
    expect(r.err).toBe("dispatch-spec kernel: the guest did not load dsmod.ko: finit_module: Exec format error\n");
  });

  it("compares a saved boot with the module loaded, and an --image that does not exist is refused", async () => {
    const ok = await cli("kernel", "--kaslr", "off", "--console", fixture);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("ran: Px0 Rx1@caller");
    const r = await cli("kernel", "--image", "/nonexistent/Image", survivor);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/--image: no such file/);
  });
});
