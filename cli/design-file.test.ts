// `--design FILE` as a user runs it: the README's worked example (model/variants/examples/list-ops-only.ts) gated
// by the real binary, its counterexample replayed by the command the gate printed, the same file on check, run and
// replay, and every kind of bad file refused in one line.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { upstream } from "../model/variants/upstream.ts";
import { ROOT } from "./common.ts";
import { designProblem } from "./design-file.ts";
import { cli } from "./testkit.ts";

const EXAMPLE = "model/variants/examples/list-ops-only.ts";

/** The real command in a child process, from the project root, as the README has the user type it. */
function binary(...argv: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "cli", "bin.js"), ...argv], { cwd: ROOT, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" }, maxBuffer: 1 << 24 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("gate --design: the README's worked example", () => {
  it("a safe change of path: recursion-protected newly holding, two agreement properties newly failing, safety unchanged, exit 1", { timeout: 180_000 }, () => {
    const r = binary("gate", "--design", EXAMPLE);
    expect(r.out).toContain("list-ops-only against upstream's recorded verdicts");
    expect(r.out).toMatch(/recursion-protected\s+safety\s+fails\s+holds\s+newly holding/);
    expect(r.out).toMatch(/path-selection\s+agreement\s+holds\s+fails\s+newly failing/);
    expect(r.out).toMatch(/reference-agreement\s+agreement\s+holds\s+fails\s+newly failing/);
    for (const p of ["literal-valid", "exact-handlers", "literal-valid-always", "no-use-after-free", "transitional-handlers", "quiescent-exact"]) expect(r.out).toMatch(new RegExp(`${p}\\s+safety\\s+holds\\s+holds\\s+unchanged`));
    expect(r.out).toContain("2 cell(s) break against upstream (all 2 judge agreement with upstream's choices: no safety property breaks)");
    expect(r.status).toBe(1);
    // The replay command it printed names the design file, and replays the counterexample on it.
    const replay = /replay: npx dispatch-spec (replay \S+--path-selection\.json --design \S+)/.exec(r.out);
    expect(replay?.[1]).toBe(`replay reports/counterexamples/list-ops-only--path-selection.json --design ${EXAMPLE}`);
    const again = binary(...replay![1]!.split(" "));
    expect(again.err).toBe("");
    expect(again.out).toContain("literal = &ftrace_nop_ops -> &ftrace_list_ops");
    expect(again.out).toContain("path-selection still fails on list-ops-only");
    expect(again.status).toBe(1);
    // Without the file the saved design is not known, and the line says what to add.
    const bare = binary("replay", "reports/counterexamples/list-ops-only--path-selection.json");
    expect(bare.status).toBe(2);
    expect(bare.err).toContain('unknown variant "list-ops-only"');
    expect(bare.err).toContain("--design FILE");
  });
});

describe("gate --design: step 1 of the worked example", () => {
  it("upstream under a new name: every property unchanged, upstream's finding inherited, exit 0", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "design-empty-"));
    // Outside this checkout a .ts file would be CommonJS to Node: .mts is ESM anywhere.
    const file = join(dir, "empty-change.mts");
    writeFileSync(file, `import { upstream } from "${pathToFileURL(join(ROOT, "model/variants/upstream.ts")).href}";\nexport default { ...upstream, name: "empty-change", description: "upstream under another name" };\n`);
    const r = await cli(["gate", "--design", file, "--runs", "300"]);
    expect(r.out).toMatch(/recursion-protected\s+safety\s+fails\s+fails\s+inherited/);
    expect(r.out).toContain("0 newly failing, 0 newly holding, 15 unchanged, 1 inherited");
    expect(r.code).toBe(0);
  });
});

describe("--design on check, run, replay and explore", () => {
  it("check --design checks the file's design, with mutants by name", { timeout: 120_000 }, async () => {
    const r = await cli(["check", "--design", EXAMPLE, "--property", "recursion-protected", "--runs", "200", "--seed", "1"]);
    expect(r.out).toContain("variant list-ops-only");
    expect(r.out).toMatch(/recursion-protected\s+\d+\s+holds/);
    // A mutant of the core acts on it as on upstream (one of upstream's arch hooks the file replaced would not).
    const m = await cli(["check", "--design", EXAMPLE, "--variant", "list-ops-only+drop-notrace", "--property", "exact-handlers", "--runs", "500", "--seed", "1", "--workers", "1"]);
    expect(m.out).toMatch(/exact-handlers\s+\d+\s+FAILS/);
    expect(m.code).toBe(1);
  });

  it("run and replay take a scenario naming the design, and replay --seed/--path defaults to it", { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "design-"));
    const file = join(dir, "s.json");
    const steps = [
      { do: "register_ftrace_function", ops: "A", filter: ["f"], expect: { ret: 0, sites: { f: { literal: "ftrace_list_ops", insn: "bl ftrace_caller" } } } },
      { do: "call", fn: "f", expect: { path: "caller-list", handlers: ["A"] } },
    ];
    writeFileSync(file, JSON.stringify({ variant: "list-ops-only", functions: [{ name: "f", addr: "0xffff800008010008" }], steps }));
    const r = await cli(["run", file, "--design", EXAMPLE]);
    expect(r.err).toBe("");
    expect(r.out).toContain("literal ftrace_nop_ops -> ftrace_list_ops");
    expect(r.out).toContain("2 steps, all expectations held");
    expect(r.code).toBe(0);
    // The same steps on upstream: a lone ops is called through the literal, so the expectations fail there.
    const up = await cli(["run", file, "--design", EXAMPLE, "--variant", "upstream"]);
    expect(up.code).toBe(1);
    const cx = await cli(["replay", "--design", EXAMPLE, "--property", "path-selection", "--seed", "20261125", "--path", "0:0:0:0:0:0:0:0:0:0:0:2:0:0:1:2:2:1"]);
    expect(cx.out).toContain("path-selection still fails on list-ops-only");
    expect(cx.code).toBe(1);
    const e = await cli(["explore", "--design", EXAMPLE, "--functions", "1", "--ops", "2", "--depth", "2", "--property", "literal-valid"]);
    expect(e.out).toContain("dispatch-spec explore: list-ops-only");
    expect(e.code).toBe(0);
  });
});

describe("--design refuses bad files in one line", () => {
  const dir = mkdtempSync(join(tmpdir(), "design-bad-"));
  const up = pathToFileURL(join(ROOT, "model/variants/upstream.ts")).href;
  const arch = pathToFileURL(join(ROOT, "model/arm64.ts")).href;
  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const bad = async (argv: string[]): Promise<string> => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    const lines = r.err.trim().split("\n");
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it.each([
    ["missing.ts", null, "not found"],
    ["a.json", "{}", "a design is a TypeScript module (.ts)"],
    ["throws.mts", 'throw new Error("half-written");\nexport default 1;', "cannot load it: half-written"],
    ["syntax.mts", "export default { name: ", "cannot load it:"],
    ["named.mts", `import { upstream } from "${up}";\nexport const d = { ...upstream, name: "named" };`, "no default export"],
    ["typo.mts", `import { upstream } from "${up}";\nexport default { ...upstream, name: "typo", callOpsOnSurvior: true };`, "unknown field callOpsOnSurvior (did you mean callOpsOnSurvivor"],
    ["hook.mts", `import { upstream } from "${up}";\nexport default { ...upstream, name: "hook", arch: { ftrace_make_call: () => 0 } };`, "field arch must be a function for every hook; ftrace_init_nop is missing"],
    ["hookname.mts", `import { upstream } from "${up}";\nimport { UPSTREAM_ARCH } from "${arch}";\nexport default { ...upstream, name: "hookname", arch: { ...UPSTREAM_ARCH, ftrace_make_cal: () => 0 } };`, "field arch must be ArchHooks; ftrace_make_cal is not a hook (did you mean ftrace_make_call"],
    ["taken.mts", `import { upstream } from "${up}";\nexport default upstream;`, "the name upstream is taken by a known design"],
    ["plus.mts", `import { upstream } from "${up}";\nexport default { ...upstream, name: "a+b" };`, "field name must be lower-case letters"],
  ])("%s", async (name, text, message) => {
    const f = text === null ? join(dir, name) : write(name, text);
    expect(await bad(["gate", "--design", f])).toContain(`dispatch-spec: --design ${f}: ${message}`);
  });

  it("a .ts file outside an ESM package, --entry too, and a directory", async () => {
    const cjs = write("outside.ts", `export default 1;`);
    expect(await bad(["gate", "--design", cjs])).toContain('loads a .ts file as CommonJS outside a package whose package.json says "type": "module"; name it .mts');
    expect(await bad(["check", "--design", EXAMPLE, "--entry", "x.json"])).toContain("give --design or --entry, not both");
    expect(await bad(["gate", "--design", dir])).toContain("not a regular file");
  });
});

describe("designProblem", () => {
  it("takes upstream's shape under a new name and names the first thing wrong otherwise", () => {
    expect(designProblem({ ...upstream, name: "mine" })).toBeNull();
    expect(designProblem({ ...upstream, name: "mine", subopsHashRule: "skip-nothing", rollbackWaits: true })).toBeNull();
    expect(designProblem(42)).toContain("not a design");
    expect(designProblem({ ...upstream, name: "mine", directCalls: "yes" })).toBe("field directCalls must be true or false");
    expect(designProblem({ ...upstream, name: "mine", mutations: new Set(["no-such-mutant"]) })).toContain("field mutations must be a Set of mutant names");
    expect(designProblem({ ...upstream, name: "mine", frame: 100 })).toContain("field frame must be a positive multiple of 16");
    expect(designProblem({ ...upstream, name: "mine", entry: { kind: "asm" } })).toContain('kind "listing" or "binary"');
    const { arch: _arch, ...noArch } = upstream;
    expect(designProblem({ ...noArch, name: "mine" })).toContain("field arch is missing");
  });
});
