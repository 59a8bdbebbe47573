// The regression corpus: every file in properties/corpus keeps its recorded outcome. A file records a property,
// the design it ran on and the message it failed with; `outcome: "holds"` marks a fixed bug that must stay fixed.

import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { scenarioFiles } from "../cli/load.ts";
import { replayFile } from "../cli/replay.ts";
import { ROOT } from "../cli/common.ts";
import { CORPUS_DIR } from "../cli/corpus.ts";
const files = scenarioFiles(CORPUS_DIR);

describe("regression corpus", () => {
  it("holds a counterexample for every mutant, every expected variant failure and every bug of the kernel's history", () => {
    const expected = JSON.parse(readFileSync(join(ROOT, "reports", "expected.json"), "utf8")) as {
      variants: Record<string, Record<string, string>>;
      mutants: Record<string, Record<string, string>>;
      history?: Record<string, Record<string, string>>;
    };
    const failing = [...Object.entries(expected.variants), ...Object.entries(expected.mutants), ...Object.entries(expected.history ?? {})].flatMap(([d, ps]) =>
      Object.entries(ps)
        .filter(([, v]) => v === "fails")
        .map(([p]) => `${d}--${p}.json`),
    );
    expect(files.map((f) => basename(f)).sort()).toEqual(expect.arrayContaining(failing.sort()));
  });

  it.each(files.map((f) => [basename(f), f] as const))("%s keeps its recorded outcome", (_name, file) => {
    const r = replayFile(file);
    const outcome = r.scenario.counterexample?.outcome ?? "fails";
    if (outcome === "holds") {
      expect(r.failure).toBeNull();
    } else {
      expect(r.failure?.message).toBe(r.recorded);
    }
  });
});
