// The gate as CI runs it (pinned seed, fewer runs than npm run check): every verdict equals
// reports/expected.json, expected failures come with short counterexamples that name the defect, and a
// defect reintroduced where a design is expected to hold makes the gate exit 1 with a counterexample file.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { cli, SAVED_DIR_RE, type CliRun } from "./testkit.ts";
import { silentProgress } from "./check.ts";
import { COUNTEREXAMPLE_DIR } from "./common.ts";
import { EXPECTED_FILE, gateCommand, loadExpected } from "./gate.ts";
import { replayFile } from "./replay.ts";
import { PROPERTIES } from "../properties/index.ts";

function gate(...argv: string[]): Promise<CliRun> {
  return cli(["gate", ...argv]);
}

describe("dispatch-spec gate", () => {
  it("matches reports/expected.json on every variant and mutant (pinned seed)", { timeout: 120_000 }, async () => {
    const r = await gate("--runs", "150", "--workers", "2", "--verbose");
    expect(r.err).toBe("");
    expect(r.out).toContain("every verdict is as expected");
    expect(r.out).toContain("coverage: every gated label reached its minimum (reports/coverage-minimums.json)");
    expect(r.code).toBe(0);
    // v1-posted's two review findings, each with a short counterexample naming the defect.
    const stack = JSON.parse(readFileSync(join(COUNTEREXAMPLE_DIR, "v1-posted--stack-aligned.json"), "utf8")) as { steps: unknown[]; counterexample: { message: string } };
    expect(stack.steps.length).toBeLessThanOrEqual(4);
    expect(stack.counterexample.message).toMatch(/ftrace_regs is 120 bytes: sp is 8 mod 16/);
    const ret = JSON.parse(readFileSync(join(COUNTEREXAMPLE_DIR, "v1-posted--branch-hygiene.json"), "utf8")) as { steps: unknown[]; counterexample: { message: string } };
    expect(ret.steps.length).toBeLessThanOrEqual(4);
    expect(ret.counterexample.message).toMatch(/ret x12 .*RET used as a forward branch/);
    // Replaying any counterexample the gate wrote reproduces the same message.
    const written = [...r.out.matchAll(new RegExp(`(${SAVED_DIR_RE}/\\S+\\.json)`, "g"))].map((m) => m[1]!);
    const e = loadExpected(EXPECTED_FILE);
    const expectedFailures = [...Object.values(e.variants), ...Object.values(e.mutants), ...Object.values(e.history ?? {})].flatMap((ps) => Object.values(ps)).filter((v) => v === "fails").length;
    expect(written.length).toBe(expectedFailures);
    for (const f of written) {
      const rep = replayFile(f);
      expect(rep.failure?.message, f).toBe(rep.recorded);
    }
  });

  it("fits one screen by default: sections as expected are one line each, recorded failures counted", { timeout: 120_000 }, async () => {
    const r = await gate("--runs", "40", "--workers", "2");
    const lines = r.out.trimEnd().split("\n");
    expect(lines.length).toBeLessThanOrEqual(50);
    expect(r.out).toMatch(/^mutants: (\d+) of \1 cells as expected \(--verbose lists them\)$/m);
    expect(r.out).toMatch(/^kernel history: (\d+) of \1 cells as expected/m);
    expect(r.out).toMatch(new RegExp(`^\\d+ recorded failure\\(s\\) reproduced, each counterexample saved under ${SAVED_DIR_RE}/`, "m"));
    expect(r.out).not.toMatch(/^upstream\+skip-literal-update /m);
  });

  it("exits 1 with a counterexample naming the defect when a design expected to hold fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-gate-"));
    const expected = loadExpected(EXPECTED_FILE);
    // Claim that the v1 RET-as-forward-branch defect, put into upstream, holds: the gate must disagree.
    const file = join(dir, "expected.json");
    writeFileSync(file, JSON.stringify({ ...expected, mutants: { ...expected.mutants, "upstream+ret-instead-of-br": { "branch-hygiene": "holds" } } }));
    let out = "";
    const code = await gateCommand({ out: (s) => (out += s), err: () => {} }, { runs: "60", expected: file, workers: "2" }, silentProgress);
    out = stripVTControlCharacters(out);
    expect(code).toBe(1);
    expect(out).toMatch(/UNEXPECTED upstream\+ret-instead-of-br x branch-hygiene: .*RET used as a forward branch/);
    expect(out).toContain("upstream+ret-instead-of-br x branch-hygiene: holds -> fails");
    const cx = JSON.parse(readFileSync(join(COUNTEREXAMPLE_DIR, "upstream+ret-instead-of-br--branch-hygiene.json"), "utf8")) as { counterexample: { property: string } };
    expect(cx.counterexample.property).toBe("branch-hygiene");
  }, 120_000);

  it("refuses a malformed expected file with one line and exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-gate-"));
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ variants: { upstream: { "literal-valid": "maybe" } }, mutants: {} }));
    const r = await gate("--expected", file);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/variants\.upstream\.literal-valid/);
  });

  it("refuses a malformed or missing coverage minimums file with one line and exit 2, before running anything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-gate-"));
    const bad = join(dir, "minimums.json");
    writeFileSync(bad, JSON.stringify({ designs: { upstream: { "paths: caller-list": -1 } } }));
    const r = await gate("--coverage-minimums", bad);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/designs\.upstream\.paths: caller-list/);
    const missing = await gate("--coverage-minimums", join(dir, "none.json"));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/none\.json: no such file \(the coverage minimums; `gate --update` writes it\)/);
  });

  it("records as failing on upstream exactly the properties that declare a finding there (check's view)", () => {
    const upstream = loadExpected(EXPECTED_FILE).variants["upstream"] ?? {};
    const recorded = PROPERTIES.filter((p) => upstream[p.name] === "fails").map((p) => p.name);
    const declared = PROPERTIES.filter((p) => p.expectedOnUpstream !== undefined).map((p) => p.name);
    expect(recorded).toEqual(declared);
  });

  it("says a directory given as the expected file cannot be read, not that it is bad JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-gate-"));
    const r = await gate("--expected", dir);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/not a regular file \(a directory\)/);
  });
});
