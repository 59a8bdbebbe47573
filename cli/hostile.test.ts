// Hostile input (issue 20): every class of bad input gives exit 2 and one printable line naming what is wrong (no
// stack trace, no raw control characters, bounded length), or is accepted by a documented rule; and a fast-check
// property feeds mutated scenario JSON (fields deleted, duplicated, retyped, oversized) to `run` and holds every
// input to the same contract. Time is bounded by the tests' timeouts (a guard against a hang, as everywhere).

import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_ERROR_CHARS, ROOT } from "./common.ts";
import { cli, type CliRun } from "./testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-hostile-"));
let n = 0;
function file(content: string | Buffer): string {
  const f = join(dir, `in-${n++}.json`);
  writeFileSync(f, content);
  return f;
}
const json = (v: unknown): string => file(JSON.stringify(v));

const F = [{ name: "f", addr: "0xffff800009000000" }];

/** The contract for a refusal: exit 2, one line on stderr in the suite's form, printable, bounded, no stack. */
function refused(r: CliRun, message: RegExp): void {
  expect(r.code, r.err).toBe(2);
  const lines = r.err.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^dispatch-spec: /);
  expect(lines[0]).toMatch(message);
  expect(lines[0]).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  expect(lines[0]!.length).toBeLessThan(MAX_ERROR_CHARS + 120);
  expect(r.err).not.toMatch(/^\s+at /m);
}

describe("hostile input", { timeout: 30_000 }, () => {
  it.each([
    ["a schedule of 100 000 entries", () => ["run", json({ functions: F, cpus: [["f"]], steps: [], schedule: Array.from({ length: 100_000 }, () => "updater x9999") })], /schedule: at most 10000 entries, got 100000/],
    ["a schedule of too many ticks", () => ["run", json({ functions: F, cpus: [["f"]], steps: [], schedule: ["updater x9999", "cpu1 x9999", "updater x9999"] })], /schedule: at most 20000 ticks in all, got 29997/],
    ["10 001 steps", () => ["run", json({ functions: F, steps: Array.from({ length: 10_001 }, () => ({ do: "call", fn: "f" })) })], /steps: at most 10000 steps, got 10001/],
    ["65 functions", () => ["run", json({ functions: Array.from({ length: 65 }, (_, i) => ({ name: `f${i}`, addr: `0x${(0xffff800009000000n + BigInt(i) * 0x1000n).toString(16)}` })), steps: [] })], /functions: at most 64 functions, got 65/],
    ["a file that is /dev/zero", () => { const l = join(dir, `zero-${n++}.json`); symlinkSync("/dev/zero", l); return ["run", l]; }, /not a regular file \(a device, pipe or socket\)/],
    ["a directory", () => ["run", dir], /not a regular file \(a directory\)/],
    ["a missing file", () => ["run", join(dir, "none.json")], /none\.json: not found/],
    ["a file of 17 MiB", () => ["run", file(Buffer.alloc(17 * 1024 * 1024, 0x20))], /more than the 16777216 bytes \(16 MiB\) a file may have/],
    ["a variant name with a newline and an ESC sequence", () => ["check", "--variant", "a\n\u001b[2Jb"], /unknown variant "a\\x0a\\x1b\[2Jb"/],
    ["a 1 MB variant name", () => ["check", "--variant", "x".repeat(1_000_000)], /… \(cut: \d+ characters in all\)$/],
    ["--workers beyond the cores", () => ["check", "--workers", "1000"], /--workers: at most \d+ \(this machine's cores\), got 1000/],
    ["replay --path the run never reaches", () => ["replay", "--seed", "1", "--path", "99999:99999", "--property", "exact-handlers"], /--path: 99999:99999 is not a path of exact-handlers/],
    ["a mutant named twice", () => ["check", "--variant", "upstream+drop-notrace+drop-notrace"], /--variant: upstream\+drop-notrace\+drop-notrace: mutant drop-notrace is named twice$/],
    ["a trampoline address above 2^64", () => ["run", json({ functions: F, steps: [{ do: "register_ftrace_direct", ops: "D", filter: ["f"], addr: "0x1ffff80000a000000" }] })], /not a 64-bit address/],
    ["an unknown option", () => ["run", "--bogus", "x"], /^dispatch-spec: unknown option '--bogus'$/],
    ["a missing argument", () => ["run"], /^dispatch-spec: missing required argument 'file'$/],
    ...(["__proto__", "constructor", "toString"] as const).map(
      (k) => [`expect.sites naming "${k}", which is no function`, () => ["run", json({ functions: F, steps: [{ do: "register_ftrace_function", ops: "A", filter: ["f"], expect: { sites: { [k]: { literal: "A" } } } }] })], new RegExp(`expect\\.sites: "${k}" names no function of the scenario`)] as const,
    ),
    ["expect.handlers naming no ops", () => ["run", json({ functions: F, steps: [{ do: "call", fn: "f", expect: { handlers: ["__proto__"] } }] })], /expect\.handlers: "__proto__" names no ops/],
    ["expect.tramp naming no trampoline", () => ["run", json({ functions: F, steps: [{ do: "call", fn: "f", expect: { tramp: "toString" } }] })], /expect\.tramp: "toString" names no trampoline/],
  ] as ReadonlyArray<readonly [string, () => string[], RegExp]>)("%s: exit 2 and one printable line", async (_what, args, message) => {
    refused(await cli(args()), message);
  });

  it.each(["__proto__", "constructor", "toString"])("an expectation on a function named %s is judged, not dropped", async (name) => {
    const r = await cli(["run", json({ functions: [{ name, addr: "0xffff800009000000" }], steps: [{ do: "register_ftrace_function", ops: "A", filter: [name], expect: { sites: { [name]: { literal: "ftrace_nop_ops" } } } }] })]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`expectation failed: ${name}: literal is A, expected ftrace_nop_ops`);
  });

  it("accepts a file that starts with a UTF-8 byte-order mark", async () => {
    const r = await cli(["run", file(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ functions: F, steps: [] }))]))]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });
});

/** A scenario of the corpus to mutate: realistic, with steps of every kind and expectations. */
const BASE = JSON.parse(readFileSync(join(ROOT, "properties", "scenarios", "sample-ftrace-direct-modify.json"), "utf8")) as unknown;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The places in a JSON value, as key paths. */
function paths(v: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  const here = [at];
  if (Array.isArray(v)) return [...here, ...v.flatMap((x, i) => paths(x, [...at, i]))];
  if (v !== null && typeof v === "object") return [...here, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))];
  return here;
}

/** One mutation at a path: delete, duplicate (an array element), retype, or oversize the value there. */
type Mutation = { readonly at: number; readonly how: "delete" | "duplicate" | "retype" | "oversize" | "proto"; readonly pick: number };

function mutate(root: Json, m: Mutation): Json {
  const all = paths(root).filter((p) => p.length > 0);
  if (all.length === 0) return root;
  const p = all[m.at % all.length]!;
  const copy = structuredClone(root) as Json;
  let parent = copy as Record<string | number, Json>;
  for (const k of p.slice(0, -1)) parent = parent[k] as unknown as Record<string | number, Json>;
  const key = p[p.length - 1]!;
  const retypes: Json[] = [null, true, -1, 1e308, "", "0x", [], {}, "x".repeat(300), { __proto__: 1 } as unknown as Json];
  switch (m.how) {
    case "delete":
      if (Array.isArray(parent)) (parent as Json[]).splice(key as number, 1);
      else delete parent[key];
      break;
    case "duplicate":
      if (Array.isArray(parent)) (parent as Json[]).splice(key as number, 0, structuredClone(parent[key] as Json));
      else parent[`${String(key)}_`] = structuredClone(parent[key] as Json);
      break;
    case "retype":
      parent[key] = retypes[m.pick % retypes.length]!;
      break;
    case "oversize":
      parent[key] = typeof parent[key] === "string" ? "y".repeat(100_000) : Array.from({ length: 2_000 }, () => structuredClone(parent[key] as Json));
      break;
    case "proto":
      parent[key] = JSON.parse('{"__proto__": {"literal": "A"}, "constructor": 1}') as Json;
      break;
  }
  return copy;
}

describe("mutated scenarios", () => {
  it("every one is refused in one printable line (exit 2), or run (exit 0 or 1) with nothing on stderr", { timeout: 600_000 }, async () => {
    const mutation = fc.record({ at: fc.nat(), how: fc.constantFrom("delete", "duplicate", "retype", "oversize", "proto"), pick: fc.nat() }) as fc.Arbitrary<Mutation>;
    let refusedCount = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        const input = ms.reduce((j, m) => mutate(j, m), BASE as Json);
        const r = await cli(["run", json(input)]);
        if (r.code === 2) {
          refusedCount++;
          refused(r, /./);
        } else {
          expect([0, 1]).toContain(r.code);
          expect(r.err).toBe("");
        }
      }),
      { seed: 20261206, numRuns: 1000 },
    );
    // Most mutations break the file; some leave a scenario that runs: both sides of the contract were exercised.
    expect(refusedCount).toBeGreaterThan(100);
    expect(refusedCount).toBeLessThan(1000);
  });
});

describe("the corpus, checked before a run", () => {
  it("names a corpus file whose recorded property does not exist, in one line, before any run", async () => {
    const { validateCorpus } = await import("./corpus.ts");
    const scenarios = mkdtempSync(join(tmpdir(), "dispatch-spec-corpus-s-"));
    const corpus = mkdtempSync(join(tmpdir(), "dispatch-spec-corpus-c-"));
    writeFileSync(join(corpus, "a.json"), JSON.stringify({ functions: F, steps: [], counterexample: { property: "no-such-property", seed: 1, path: "0", message: "m" } }));
    expect(() => validateCorpus(scenarios, corpus)).toThrow(/a\.json: unknown property "no-such-property"/);
    writeFileSync(join(corpus, "a.json"), JSON.stringify({ functions: F, steps: [] }));
    expect(() => validateCorpus(scenarios, corpus)).toThrow(/a\.json: no "counterexample" block to replay/);
    writeFileSync(join(corpus, "a.json"), JSON.stringify({ functions: F, steps: [], counterexample: { property: "exact-handlers", variant: "nope", seed: 1, path: "0", message: "m" } }));
    expect(() => validateCorpus(scenarios, corpus)).toThrow(/a\.json: unknown variant "nope"/);
    // The project's own corpus is valid.
    expect(() => validateCorpus()).not.toThrow();
  });
});

describe("standard input as FILE (-)", { timeout: 60_000 }, () => {
  /** The real command in a child process with a 128 MiB heap: bounded memory is part of the contract. */
  const runStdin = (input: Buffer | string): { status: number | null; out: string; err: string } => {
    const r = spawnSync(process.execPath, [join(ROOT, "cli", "bin.js"), "run", "-"], { input, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=128", FORCE_COLOR: "0" }, maxBuffer: 1 << 24 });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };

  it("reads a scenario from standard input", () => {
    const r = runStdin(JSON.stringify({ functions: F, steps: [{ do: "call", fn: "f" }] }));
    expect(r.err).toBe("");
    expect(r.out).toContain("1 step, all expectations held");
    expect(r.status).toBe(0);
  });

  it("refuses more than 16 MiB on standard input in one line, within a 128 MiB heap", () => {
    const r = runStdin(Buffer.alloc(17 * 1024 * 1024, 0x79));
    expect(r.status).toBe(2);
    expect(r.err.trim().split("\n")).toEqual(["dispatch-spec: standard input: more than the 16777216 bytes (16 MiB) a file may have"]);
  });
});
