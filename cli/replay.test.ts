// dispatch-spec replay as a user runs it: from a counterexample file or from the numbers a failure printed,
// with the readable trace, exit 1 while the property fails and 0 once it holds, and one-line errors.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli as run, type CliRun } from "./testkit.ts";
import { CORPUS_DIR } from "./corpus.ts";

function cli(...argv: string[]): Promise<CliRun> {
  return run(argv);
}

const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-replay-"));
const retFile = join(CORPUS_DIR, "v1-posted--branch-hygiene.json");

describe("dispatch-spec replay FILE", () => {
  it("prints the step table, site rewrites, the dispatch chain and the violation; exit 1 while it fails", async () => {
    const r = await cli("replay", retFile);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1 {2}register_ftrace_direct D filter=\[f\] addr=T1: ret 0/);
    expect(r.out).toMatch(/\[f-0x8\]\s+literal = &ftrace_nop_ops -> &D/);
    expect(r.out).toMatch(/\[f\+0x4\]\s+nop -> bl ftrace_caller/);
    expect(r.out).toContain("f+0x4: bl ftrace_caller -> ldr literal = &D -> ret x12 -> T1");
    expect(r.out).toMatch(/x branch-hygiene: call f: ret x12 at ftrace_caller\+0x14 goes to T1/);
    expect(r.out).toContain("branch-hygiene still fails on v1-posted");
  });

  it("exits 0 when the property now holds (a fixed bug's file joins the corpus)", async () => {
    const s = JSON.parse(readFileSync(retFile, "utf8")) as { variant: string; counterexample: { variant: string } };
    const fixed = join(dir, "fixed.json");
    writeFileSync(fixed, JSON.stringify({ ...s, variant: "v1-fixups", counterexample: { ...s.counterexample, variant: "v1-fixups" } }));
    const r = await cli("replay", fixed);
    expect(r.code).toBe(0);
    expect(r.out).toContain("branch-hygiene holds on v1-fixups for this scenario");
  });

  it("replays on the design --variant names, and warns when a file's two variant fields differ", async () => {
    const r = await cli("replay", retFile, "--variant", "v1-fixups");
    expect(r.code).toBe(0);
    expect(r.out).toContain("branch-hygiene holds on v1-fixups for this scenario");
    const s = JSON.parse(readFileSync(retFile, "utf8")) as { variant: string; counterexample: { variant: string } };
    const mixed = join(dir, "mixed.json");
    writeFileSync(mixed, JSON.stringify({ ...s, variant: "upstream" }));
    const m = await cli("replay", mixed);
    expect(m.err).toContain("warning: the scenario names variant upstream and its counterexample v1-posted: replaying on v1-posted");
    expect(m.out).toContain("branch-hygiene still fails on v1-posted");
    const bad = await cli("replay", retFile, "--variant", "v1-fixup");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown variant "v1-fixup" (did you mean v1-fixups?');
  });

  it.each([
    ["malformed JSON", "{", /not valid JSON/],
    ["no counterexample block", { functions: [{ name: "f", addr: "0xffff800008010008" }], steps: [] }, /no "counterexample" block/],
    ["unknown property", { functions: [{ name: "f", addr: "0xffff800008010008" }], steps: [], counterexample: { property: "nope", seed: 1, path: "0", message: "m" } }, /unknown property "nope"/],
  ])("%s: one line, exit 2", async (_what, content, message) => {
    const f = join(dir, "bad.json");
    writeFileSync(f, typeof content === "string" ? content : JSON.stringify(content));
    const r = await cli("replay", f);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message);
  });
});

describe("dispatch-spec replay --seed --path --property", () => {
  it("re-runs from the printed numbers and reproduces the failure", async () => {
    const cx = (JSON.parse(readFileSync(retFile, "utf8")) as { counterexample: { seed: number; path: string; message: string } }).counterexample;
    const r = await cli("replay", "--seed", String(cx.seed), "--path", cx.path, "--property", "branch-hygiene", "--variant", "v1-posted", "--runs", "150");
    expect(r.code).toBe(1);
    expect(r.out).toContain(`branch-hygiene still fails on v1-posted: ${cx.message}`);
  });

  it("rejects a malformed path and missing numbers", async () => {
    expect((await cli("replay", "--seed", "1", "--path", "a:b", "--property", "bl-range")).err).toMatch(/--path: expected a fast-check path/);
    const r = await cli("replay", "--seed", "1");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/give a counterexample FILE/);
  });
});

describe("dispatch-spec run on a counterexample", () => {
  it("exits 1 while its property fails, numbers the step as the table does, and honours --variant", async () => {
    const r = await cli("run", retFile);
    expect(r.code).toBe(1);
    expect(r.out).toContain("property branch-hygiene fails on v1-posted at step 1 (register_ftrace_direct D filter=[f] addr=T1; in the call of f the property makes after each step)");
    expect(r.out).toMatch(/^ {2}1 {2}register_ftrace_direct D/m);
    const fixed = await cli("run", retFile, "--variant", "v1-fixups");
    expect(fixed.out).toContain("property branch-hygiene holds on v1-fixups for this scenario now");
    expect(fixed.out).toContain("variant v1-fixups, BTI off");
    expect(fixed.code).toBe(0);
    const s = JSON.parse(readFileSync(retFile, "utf8")) as { variant: string };
    const mixed = join(dir, "mixed-run.json");
    writeFileSync(mixed, JSON.stringify({ ...s, variant: "upstream" }));
    // The table and the verdict run on one design, the counterexample's, and the file's disagreement is said.
    const m = await cli("run", mixed);
    expect(m.err).toContain("warning: the scenario names variant upstream and its counterexample v1-posted");
    expect(m.out).toContain("variant v1-posted, BTI off");
    expect((await cli("run", retFile, "--variant", "v1-fixupz")).err).toContain("did you mean v1-fixups?");
  });
});
