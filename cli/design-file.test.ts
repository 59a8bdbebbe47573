// `--design FILE` as a user runs it: the README's worked example (model/variants/examples/list-ops-only.ts) gated
// by the real binary, its counterexample replayed by the command the gate printed, the same file on check, run and
// replay, and every kind of bad file refused in one line.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { upstream } from "../model/variants/upstream.ts";
import { COUNTEREXAMPLE_DIR, ROOT } from "./common.ts";
import { designProblem } from "./design-file.ts";
import { shownPath } from "./load.ts";
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
    const saved = shownPath(join(COUNTEREXAMPLE_DIR, "list-ops-only--path-selection.json"));
    expect(replay?.[1]).toBe(`replay ${saved} --design ${EXAMPLE}`);
    const again = binary(...replay![1]!.split(" "));
    expect(again.err).toBe("");
    expect(again.out).toContain("literal = &ftrace_nop_ops -> &ftrace_list_ops");
    expect(again.out).toContain("path-selection still fails on list-ops-only");
    expect(again.status).toBe(1);
    // Without the file the saved design is not known, and the line says what to add.
    const bare = binary("replay", saved);
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
    ["a.json", "{}", "a .json file is not a module: a design is a TypeScript module (.ts or .mts)"],
    ["throws.mts", 'throw new Error("half-written");\nexport default 1;', "cannot load it: half-written"],
    ["syntax.mts", "export default { name: ", "cannot load it:"],
    ["named.mts", `import { upstream } from "${up}";\nexport const d = { ...upstream, name: "named" };`, "no default export"],
    ["typo.mts", `import { upstream } from "${up}";\nexport default { ...upstream, name: "typo", callOpsOnSurvior: true };`, "unknown field callOpsOnSurvior (did you mean callOpsOnSurvivor"],
    ["hook.mts", `import { upstream } from "${up}";\nexport default { ...upstream, name: "hook", arch: { ftrace_make_call: () => 0 } };`, "field arch must be a function for every hook; ftrace_init_nop is missing"],
    ["hookname.mts", `import { upstream } from "${up}";\nimport { UPSTREAM_ARCH } from "${arch}";\nexport default { ...upstream, name: "hookname", arch: { ...UPSTREAM_ARCH, ftrace_make_cal: () => 0 } };`, "field arch must be ArchHooks; ftrace_make_cal is not a hook (did you mean ftrace_make_call"],
    ["taken.mts", `import { upstream } from "${up}";\nexport default upstream;`, "its name is upstream's (the spread ...upstream gave it): give the change a name of its own"],
    ["taken2.mts", `import { upstream } from "${up}";\nexport default { ...upstream, description: "mine" };`, "the name upstream is taken by a known design"],
    ["mutant.mts", `import { upstream } from "${up}";\nexport default { ...upstream, name: "mutant", mutations: new Set(["always-via-caller"]) };`, "field mutations must be empty: a design file is a real design; ask for a mutant of it by name (--variant NAME+always-via-caller)"],
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
    expect(designProblem({ ...upstream, name: "mine", mutations: new Set(["no-such-mutant"]) })).toContain("field mutations must be empty");
    expect(designProblem({ ...upstream, name: "mine", mutations: [] })).toContain("field mutations must be new Set()");
    expect(designProblem({ ...upstream, name: "mine", frame: 100 })).toContain("field frame must be a positive multiple of 16");
    expect(designProblem({ ...upstream, name: "mine", entry: { kind: "asm" } })).toContain('kind "listing" or "binary"');
    const { arch: _arch, ...noArch } = upstream;
    expect(designProblem({ ...noArch, name: "mine" })).toContain("field arch is missing");
  });
});

describe("--design: one change, one verdict, however it is written", () => {
  const HOOKS = "model/variants/examples/survivor-as-hooks.ts";
  /** The property rows of a gate's table: property, judges, upstream, now, change. */
  const rows = (out: string): string[] => out.split("\n").filter((l) => /^\s{2}[a-z-]+\s+(safety|agreement)\s/.test(l)).map((l) => l.trim().split(/\s{2,}/).join(" | "));

  it("the survivor fix as arch hooks gets the survivor-fix switch's verdict (the reference judges behaviour, not switches)", { timeout: 180_000 }, () => {
    const hooks = binary("gate", "--design", HOOKS);
    const flag = binary("gate", "--variant", "survivor-fix");
    expect(hooks.err).toBe("");
    expect(rows(hooks.out)).toHaveLength(16);
    expect(rows(hooks.out)).toEqual(rows(flag.out));
    expect(hooks.out).toMatch(/recursion-protected\s+safety\s+fails\s+holds\s+newly holding/);
    expect(hooks.out).toContain("0 newly failing, 1 newly holding, 15 unchanged, 0 inherited");
    expect(hooks.status).toBe(0);
    expect(flag.status).toBe(0);
  });

  it("check --design of a design with no row judges as the gate does: a cure is newly holding, exit 0", { timeout: 120_000 }, async () => {
    const r = await cli(["check", "--design", HOOKS, "--runs", "300", "--seed", "20261125"]);
    expect(r.out).toMatch(/recursion-protected\s+\d+\s+holds\s+\S+\s+\(newly holding: upstream fails it/);
    expect(r.out).toContain("(1 newly holding against upstream's row)");
    expect(r.out).not.toContain("expected to fail");
    expect(r.code).toBe(0);
  });
});

describe("--design: a hook that throws, and the other mistakes a user makes", () => {
  const dir = mkdtempSync(join(tmpdir(), "design-mistakes-"));
  const url = (p: string): string => pathToFileURL(join(ROOT, p)).href;
  const throwing = join(dir, "throws-in-hook.mts");
  writeFileSync(
    throwing,
    [
      `import { UPSTREAM_ARCH } from "${url("model/arm64.ts")}";`,
      `import { upstream } from "${url("model/variants/upstream.ts")}";`,
      `function ftrace_make_call(k, rec, addr) {`,
      `  if (rec.fn !== "") throw new TypeError("half-written hook");`,
      `  return UPSTREAM_ARCH.ftrace_make_call(k, rec, addr);`,
      `}`,
      `export default { ...upstream, name: "throws-in-hook", description: "x", arch: { ...UPSTREAM_ARCH, ftrace_make_call } };`,
      ``,
    ].join("\n"),
  );
  const oneLine = (r: { code: number; err: string }): string => {
    expect(r.code).toBe(2);
    const lines = r.err.trim().split("\n");
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it.each([
    ["gate", ["gate", "--design", throwing, "--runs", "50"]],
    ["check", ["check", "--design", throwing, "--runs", "50", "--seed", "1"]],
    ["check --concurrency", ["check", "--design", throwing, "--runs", "20", "--seed", "1", "--concurrency"]],
  ])("a throwing hook stops %s with one line naming the hook and its file:line", { timeout: 60_000 }, async (_what, argv) => {
    const r = await cli(argv);
    expect(oneLine(r)).toBe(`dispatch-spec: --design ${throwing}: ftrace_make_call threw at ${throwing}:4:28: half-written hook`);
    expect(r.out).not.toContain("the run broke");
  });

  it("run of a scenario on a throwing design: the same line", async () => {
    const s = join(dir, "s.json");
    writeFileSync(s, JSON.stringify({ variant: "throws-in-hook", functions: [{ name: "f", addr: "0xffff800008010008" }], steps: [{ do: "register_ftrace_function", ops: "A" }] }));
    expect(oneLine(await cli(["run", s, "--design", throwing]))).toContain("ftrace_make_call threw at");
  });

  it("a counterexample made with --design replays with --variant alone, from standard input too, and --design takes any file to its design", { timeout: 120_000 }, () => {
    const made = binary("check", "--design", EXAMPLE, "--property", "path-selection", "--runs", "100", "--seed", "20261125");
    const file = /counterexample: (\S+)/.exec(made.out)?.[1];
    expect(file).toBeDefined();
    const onUpstream = binary("replay", file!, "--variant", "upstream");
    expect(onUpstream.err).toBe("");
    expect(onUpstream.out).toContain("path-selection holds on upstream for this scenario");
    expect(onUpstream.status).toBe(0);
    const piped = spawnSync(process.execPath, [join(ROOT, "cli", "bin.js"), "replay", "-", "--design", EXAMPLE], { cwd: ROOT, input: readFileSync(resolve(ROOT, file!)), encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
    expect(piped.stderr).toBe("");
    expect(piped.stdout).toContain("path-selection still fails on list-ops-only");
    expect(piped.status).toBe(1);
    // --design runs the file on the design it loads (as --variant would), and says so when the file names another.
    const other = binary("replay", file!, "--design", "model/variants/examples/survivor-as-hooks.ts");
    expect(other.err.trim()).toBe(`dispatch-spec: warning: ${file} names list-ops-only; --design model/variants/examples/survivor-as-hooks.ts runs it on survivor-as-hooks instead`);
    expect(other.out).toContain("path-selection holds on survivor-as-hooks for this scenario");
    expect(other.status).toBe(0);
    const seed = binary("run", "properties/scenarios/seed-example-if-supported.json", "--design", EXAMPLE);
    expect(seed.err).toContain("names upstream; --design model/variants/examples/list-ops-only.ts runs it on list-ops-only instead");
    expect(seed.out).toContain("variant list-ops-only");
    // run's last line says why it exits 1 when only the counterexample's property fails.
    const ran = binary("run", file!, "--design", EXAMPLE);
    expect(ran.out.trimEnd().split("\n").at(-1)).toBe("path-selection still fails on list-ops-only, as the first line says (1 step, all expectations held): exit 1");
    expect(ran.status).toBe(1);
  });

  it("two files of one name, and a loaded design as --baseline, are refused in one line", async () => {
    const twin = join(dir, "twin.mts");
    writeFileSync(twin, `import { upstream } from "${url("model/variants/upstream.ts")}";\nexport default { ...upstream, name: "list-ops-only", description: "another" };\n`);
    expect(oneLine(await cli(["gate", "--design", EXAMPLE, "--design", twin]))).toBe(
      `dispatch-spec: --design ${twin}: its name list-ops-only is the name of the design loaded from ${EXAMPLE}; give each change a name of its own`,
    );
    expect(oneLine(await cli(["gate", "--design", EXAMPLE, "--baseline", "list-ops-only"]))).toContain(
      `--baseline: list-ops-only is the design loaded from ${EXAMPLE}, which has no recorded verdicts`,
    );
  });
});

describe("npm run typecheck-design", () => {
  it("type-checks a design file alone with the project's strict settings: the examples pass, a type error fails", { timeout: 120_000 }, () => {
    const tsc = (file: string): { status: number | null; out: string } => {
      const r = spawnSync("npm", ["run", "-s", "typecheck-design", "--", file], { cwd: ROOT, encoding: "utf8" });
      return { status: r.status, out: r.stdout + r.stderr };
    };
    expect(tsc(EXAMPLE).status).toBe(0);
    expect(tsc("model/variants/examples/survivor-as-hooks.ts").status).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "design-types-"));
    const bad = join(dir, "bad.mts");
    writeFileSync(bad, `import type { Design } from "${join(ROOT, "model/kernel.ts")}";\nimport { upstream } from "${join(ROOT, "model/variants/upstream.ts")}";\nconst d: Design = { ...upstream, name: "bad", directCalls: "yes" };\nexport default d;\n`);
    const r = tsc(bad);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("bad.mts(3,47): error TS2322: Type 'string' is not assignable to type 'boolean'.");
    // An untyped default export is judged as the Design it must be: a hook that returns nothing is refused.
    const untyped = join(dir, "untyped.mts");
    writeFileSync(untyped, `import { UPSTREAM_ARCH } from "${join(ROOT, "model/arm64.ts")}";\nimport { upstream } from "${join(ROOT, "model/variants/upstream.ts")}";\nexport default { ...upstream, name: "untyped", arch: { ...UPSTREAM_ARCH, ftrace_make_call: () => undefined } };\n`);
    const u = tsc(untyped);
    expect(u.status).not.toBe(0);
    expect(u.out).toContain("Type 'undefined' is not assignable to type 'number'.");
    // Without a file: one line saying what to give, exit 2.
    const none = spawnSync("npm", ["run", "-s", "typecheck-design"], { cwd: ROOT, encoding: "utf8" });
    expect(none.stderr.trim()).toBe("typecheck-design: give one design file: npm run typecheck-design -- FILE (a .ts or .mts module whose default export is a Design)");
    expect(none.status).toBe(2);
  });
});

describe("a design that loops gets its verdict (issue 30)", () => {
  const LOOPS = "model/variants/examples/direct-exit-loops.ts";

  it("gate --design: each failure printed as it is found, before the table; the looping calls end as loops, not at the step limit", { timeout: 180_000 }, () => {
    const r = binary("gate", "--design", LOOPS);
    // Nothing on standard error but the progress lines a log gets.
    expect(r.err.split("\n").filter((l) => l !== "" && !/^progress: \d+\/\d+ runs \(\d+%\)$/.test(l))).toEqual([]);
    const table = r.out.indexOf("direct-exit-loops against upstream:");
    const found = r.out.indexOf("found: exact-handlers fails on direct-exit-loops");
    expect(found).toBeGreaterThan(0);
    expect(found).toBeLessThan(table);
    expect(r.out).toMatch(/exact-handlers\s+safety\s+holds\s+fails\s+newly failing/);
    expect(r.out).toMatch(/transitional-handlers\s+safety\s+holds\s+fails\s+newly failing/);
    expect(r.out).toMatch(/fault: a loop: ftrace_caller\S* reached again after \d+ steps with the same registers and memory, so the call never returns/);
    expect(r.out).not.toContain("no return to the caller after 4000 steps");
    expect(r.status).toBe(1);
  });

  it("replaying its exact-handlers counterexample shows the call stopped as a loop within a few dozen steps", { timeout: 120_000 }, () => {
    binary("check", "--design", LOOPS, "--property", "exact-handlers", "--seed", "20261125", "--runs", "200");
    const r = binary("run", shownPath(join(COUNTEREXAMPLE_DIR, "direct-exit-loops--exact-handlers.json")), "--design", LOOPS, "--trace");
    expect(r.out).toContain("violation: fault: a loop: ftrace_caller_direct reached again after 6 steps with the same registers and memory, so the call never returns");
    // The trace: the site, then ftrace_caller's six instructions twice round (the check met the state again).
    const traced = r.out.split("\n").filter((l) => /^ {8}(f|ftrace_caller\S*) {2,}\S/.test(l)).length;
    expect(traced).toBeGreaterThan(0);
    expect(traced).toBeLessThan(64);
  });
});

describe("--design: what the report keeps, and three more mistakes", () => {
  const HOOKS = "model/variants/examples/survivor-as-hooks.ts";

  it("--report records the baseline framing, the n/a properties and the design file's SHA-256", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "design-report-"));
    const r = await cli(["gate", "--design", HOOKS, "--runs", "100", "--report", dir]);
    expect(r.code).toBe(0);
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as {
      cells: Array<{ property: string; against?: { baseline: string; verdict: string; change: string }; judges?: string }>;
      notApplicable?: Record<string, Array<{ property: string; why: string }>>;
      provenance?: { designFiles?: Array<{ name: string; file: string; sha256: string }> };
    };
    const rp = results.cells.find((c) => c.property === "recursion-protected");
    expect(rp?.against).toEqual({ baseline: "upstream", verdict: "fails", change: "newly holding" });
    expect(results.cells.find((c) => c.property === "path-selection")?.judges).toBe("agreement");
    expect(results.notApplicable?.["survivor-as-hooks"]).toEqual([{ property: "manager-exact", why: "no fgraph subops in its runs" }]);
    expect(results.provenance?.designFiles).toEqual([{ name: "survivor-as-hooks", file: HOOKS, sha256: createHash("sha256").update(readFileSync(join(ROOT, HOOKS))).digest("hex") }]);
    const md = readFileSync(join(dir, "summary.md"), "utf8");
    expect(md).toContain("### `survivor-as-hooks` against `upstream`: 1 newly holding");
    expect(md).toContain("_n/a on survivor-as-hooks (no fgraph subops in its runs): manager-exact_");
    expect(r.out).toContain(`report: ${join(dir, "results.json")}`);
  });

  it("a --report directory that cannot be made, a file as --baseline, and JSON with a newline in it: one line each, exit 2", async () => {
    const proc = await cli(["check", "--report", "/proc/dispatch-spec-nope", "--runs", "1", "--property", "literal-valid"]);
    expect(proc.err.trim()).toBe("dispatch-spec: --report: cannot make directory /proc/dispatch-spec-nope (ENOENT)");
    expect(proc.code).toBe(2);
    const base = await cli(["gate", "--variant", "survivor-fix", "--baseline", HOOKS]);
    expect(base.err.trim()).toMatch(/^dispatch-spec: --baseline: model\/variants\/examples\/survivor-as-hooks\.ts looks like a file; a baseline is the name of a design with recorded verdicts/);
    expect(base.code).toBe(2);
    const piped = spawnSync(process.execPath, [join(ROOT, "cli", "bin.js"), "replay", "-"], { cwd: ROOT, input: "not json\n", encoding: "utf8" });
    expect(piped.stderr).toBe(`dispatch-spec: -: not valid JSON (Unexpected token 'o', "not json\\n" is not valid JSON)\n`);
    expect(piped.status).toBe(2);
  });
});
