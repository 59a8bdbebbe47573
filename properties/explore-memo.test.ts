// The explorer's call memo (expandPaths: a transition into a state whose call key was judged clean skips the calls)
// changes nothing but the time: whole searches run with and without it must give the same result, to the state
// counts, the violation found, its depth, message and scenario, and the expected findings met.

import { describe, expect, it } from "vitest";
import { withMutant } from "../model/mutants.ts";
import { variantByName } from "../model/variants/index.ts";
import { upstream } from "../model/variants/upstream.ts";
import { survivorFix } from "../model/variants/survivor-fix.ts";
import type { Design } from "../model/kernel.ts";
import { PROPERTIES } from "./index.ts";
import { expectedFindings, explore, type CallMemo, type ExploreResult, type ExploreScope } from "./explore.ts";
import type { Property } from "./property.ts";

/** A result without its wall time, for comparison. */
function comparable(r: ExploreResult): Omit<ExploreResult, "ms"> {
  const { ms: _ms, ...rest } = r;
  return rest;
}

function bothWays(scope: ExploreScope, design: Design, props: ReadonlyArray<Property>, memo: CallMemo = true): { memo: ExploreResult; plain: ExploreResult } {
  const expected = expectedFindings(design, props);
  return { plain: explore(scope, design, props, { expected, memo: false }), memo: explore(scope, design, props, { expected, memo }) };
}

describe("the explorer's call memo", { timeout: 120_000 }, () => {
  it.each([
    ["upstream", upstream, 4],
    ["survivor-fix", survivorFix, 3],
  ] as const)("explores %s with every property to the same result, state for state", (_name, design, depth) => {
    const { memo, plain } = bothWays({ functions: 2, ops: 3, depth }, design, PROPERTIES);
    expect(plain.timedOut).toBe(false);
    expect(comparable(memo)).toEqual(comparable(plain));
  });

  it.each([
    [1, 3],
    [2, 2],
  ] as const)("exhausts the %i-function/%i-ops scope on upstream to the same result: every state of it, both ways", (functions, ops) => {
    const { memo, plain } = bothWays({ functions, ops, depth: 30 }, upstream, PROPERTIES);
    expect(plain.exhausted).toBe(true);
    expect(comparable(memo)).toEqual(comparable(plain));
  });

  // Every mutant a call-judging property must kill: the memo may skip only calls that would have held.
  const callKills = PROPERTIES.filter((p) => p.needsCalls).flatMap((p) => p.kills.map((k) => ({ p, k })));
  it.each(callKills.map(({ p, k }) => [p.name, k.mutant, k.base ?? "upstream", p, k.maxSteps] as const))(
    "finds %s's kill of %s (on %s) at the same depth with the same scenario",
    (_p, mutant, base, p, maxSteps) => {
      const design = withMutant(variantByName(base) ?? upstream, mutant);
      const { memo, plain } = bothWays({ functions: 2, ops: 3, depth: Math.min(4, maxSteps) }, design, [p]);
      expect(comparable(memo)).toEqual(comparable(plain));
    },
  );

  it("can tell: a memo that keys every state alike skips a call that would have failed", () => {
    const p = PROPERTIES.find((q) => q.name === "exact-handlers")!;
    const kill = p.kills[0];
    const design = withMutant(variantByName(kill.base ?? "upstream") ?? upstream, kill.mutant);
    const { memo, plain } = bothWays({ functions: 2, ops: 3, depth: 4 }, design, [p], "constant-key");
    expect(plain.violation).not.toBeNull();
    expect(comparable(memo)).not.toEqual(comparable(plain));
  });
});
