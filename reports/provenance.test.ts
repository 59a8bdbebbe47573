// Every report and every saved counterexample says what made it, and each format can be read back: results.json,
// summary.md, junit.xml (as properties), index.html and the counterexample file. `replay` warns in one line when a
// counterexample was made by another commit, and replays it all the same.

import fc from "fast-check";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { otherCommit } from "../cli/replay.ts";
import { cli } from "../cli/testkit.ts";
import { provenanceSchema } from "../model/scenario.ts";
import { currentCommit, modelSourceHash } from "./provenance.ts";

describe("provenance", { timeout: 120_000 }, () => {
  it("is in every report of a run, the same in each format", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-prov-"));
    const r = await cli(["check", "--variant", "v1-posted", "--runs", "50", "--seed", "1", "--workers", "2", "--report", dir]);
    expect(r.code).toBe(0);
    const commit = currentCommit();
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as { provenance: unknown };
    const p = provenanceSchema.parse(results.provenance);
    expect(p).toMatchObject({ commit, modelHash: modelSourceHash(), node: process.version, fastCheck: fc.__version, design: "v1-posted", seed: 1, runs: 50 });
    expect(p.runsPerSec).toBeGreaterThan(0);
    expect(p.statesPerSec).toBeGreaterThan(0);
    expect(p.wallMs).toBeGreaterThan(0);

    const md = readFileSync(join(dir, "summary.md"), "utf8");
    expect(md).toContain("### Provenance");
    expect(md).toContain(`| commit | \`${commit}\` |`);
    expect(md).toContain(`| model source | \`sha256 ${p.modelHash}\` |`);
    expect(md).toContain("| seed | `1` |");

    const junit = readFileSync(join(dir, "junit.xml"), "utf8");
    const prop = (name: string): string | undefined => junit.match(new RegExp(`<property name="dispatch-spec\\.${name}" value="([^"]*)"/>`))?.[1];
    expect(prop("commit")).toBe(commit);
    expect(prop("modelHash")).toBe(p.modelHash);
    expect(prop("design")).toBe("v1-posted");
    expect(prop("runsPerSec")).toBe(String(p.runsPerSec));

    const html = readFileSync(join(dir, "index.html"), "utf8");
    expect(html).toContain(`<th scope="row">commit</th><td><code>${commit}</code></td>`);
    expect(html).toContain(`<th scope="row">fast-check</th><td><code>${fc.__version}</code></td>`);
  });

  it("is in a saved counterexample, and replay warns in one line when another commit made it", async () => {
    const r = await cli(["check", "--variant", "upstream+drop-notrace", "--property", "exact-handlers", "--runs", "300", "--seed", "1"]);
    expect(r.code).toBe(1);
    const file = r.out.match(/counterexample: (\S+\.json)/)?.[1];
    expect(file).toBeDefined();
    const saved = JSON.parse(readFileSync(file!, "utf8")) as { counterexample: { provenance: unknown } };
    const p = provenanceSchema.parse(saved.counterexample.provenance);
    expect(p).toMatchObject({ commit: currentCommit(), design: "upstream+drop-notrace", seed: 1 });

    const same = await cli(["replay", file!]);
    expect(same.err).toBe("");
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-prov-"));
    const old = join(dir, "old.json");
    writeFileSync(old, JSON.stringify({ ...saved, counterexample: { ...saved.counterexample, provenance: { ...p, commit: "0123456789abcdef0123456789abcdef01234567" } } }));
    const other = await cli(["replay", old]);
    expect(other.err.trim().split("\n")).toHaveLength(1);
    expect(other.err).toMatch(/^dispatch-spec: warning: this counterexample was made by commit 0123456789ab, this is [0-9a-f]{12}.*\(replaying anyway\)$/m);
    expect(other.out).toBe(same.out);
    expect(other.code).toBe(same.code);
  });

  it("says nothing for a file without provenance or made by this commit", () => {
    expect(otherCommit(undefined, "abc")).toBeNull();
    expect(otherCommit("abc", "abc")).toBeNull();
    expect(otherCommit("abcdef", "123456")).toMatch(/made by commit abcdef, this is 123456/);
  });
});
