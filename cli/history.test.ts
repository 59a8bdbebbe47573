// `dispatch-spec history` as a user runs it: every bug of the record flagged within its bound, every fix holding,
// and the generated table written with its headline.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HISTORY } from "../model/variants/history/index.ts";
import { medianOf } from "./history.ts";
import { cli } from "./testkit.ts";

describe("dispatch-spec history", () => {
  it("flags every bug of the record and writes the verdicts table", { timeout: 120_000 }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), "dispatch-spec-history-")), "verdicts.md");
    const r = await cli(["history", "--out", out, "--time", "20"]);
    expect(r.err).toBe("");
    expect(r.out).toContain("every bug flagged within its bound and every fix holding");
    expect(r.code).toBe(0);
    const md = readFileSync(out, "utf8");
    const bugs = HISTORY.filter((h) => h.kind === "bug").length;
    expect(md).toMatch(new RegExp(`\\*\\*${bugs} bugs in scope, ${bugs} flagged; median shrunk length \\d+(\\.5)?\\.\\*\\*`));
    for (const h of HISTORY) expect(md).toContain(`\`${h.name}\``);
  });

  it("refuses a table it cannot write, before running anything", async () => {
    const r = await cli(["history", "--out", "/proc/dispatch-spec/verdicts.md"]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^dispatch-spec: --out \/proc\/dispatch-spec\/verdicts.md: cannot write \(\w+\)$/);
  });

  it("refuses a bad --time in one line", async () => {
    const r = await cli(["history", "--time", "0"]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('dispatch-spec: --time: expected an integer >= 1, got "0"');
  });
});

describe("medianOf", () => {
  it("takes the middle of an odd count and the mean of the middle two of an even one", () => {
    expect(medianOf([0, 1, 3])).toBe(1);
    expect(medianOf([0, 1, 2, 3])).toBe(1.5);
    expect(medianOf([4])).toBe(4);
  });
});
