// The small-scope explorer: no violation on upstream but the recorded finding (to depth 3 here; the README gives
// the whole scope), and every mutant's bug and every expected v1-posted failure found at the minimal depth, as a
// replayable scenario.

import { describe, expect, it } from "vitest";
import { withMutant } from "../model/mutants.ts";
import { upstream } from "../model/variants/upstream.ts";
import { v1Posted } from "../model/variants/v1-posted.ts";
import { survivorFix } from "../model/variants/survivor-fix.ts";
import { variantByName } from "../model/variants/index.ts";
import { PROPERTIES, propertyByName } from "./index.ts";
import { expectedFindings, explore, hangGuardMessage, type ExploreResult } from "./explore.ts";
import { busyWait } from "./testkit.ts";
import { checkRun } from "./property.ts";

const SCOPE = { functions: 2, ops: 3, depth: 3 };

describe("explore", { timeout: 60_000 }, () => {
  /** The recorded findings, as the CLI expects them on upstream. */
  const findings = expectedFindings(upstream, PROPERTIES);

  it("finds the CALL_OPS survivor finding on upstream at depth 3 and no other violation up to depth 3", () => {
    const r = explore(SCOPE, upstream, PROPERTIES, { expected: findings });
    expect(r.violation).toBeNull();
    expect(r.expected.map((f) => [f.property, f.depth])).toEqual([["recursion-protected", 3]]);
    expect(r.expected[0]?.message).toMatch(/needs ftrace_ops_assist_func/);
    expect(r.expected[0]?.scenario.steps).toHaveLength(3);
    expect(r.depthReached).toBe(3);
    expect(r.timedOut).toBe(false);
    expect(r.distinct).toBeGreaterThan(500);
    expect([...expectedFindings(survivorFix, PROPERTIES).keys()]).toEqual([]);
  });

  it("stops at a violation whose message is not the one expected", () => {
    const r = explore(SCOPE, upstream, [propertyByName("recursion-protected")!], { expected: new Map([["recursion-protected", /no such message/]]) });
    expect(r.violation?.property).toBe("recursion-protected");
    expect(r.violation?.depth).toBe(3);
    expect(r.expected).toEqual([]);
  });

  /** The shortest depth at which each mutant's bug shows (BFS: nothing shallower violates). */
  const minimal: Record<string, number> = {
    "skip-literal-update": 1,
    "drop-notrace": 2,
    "always-via-caller": 1,
    "bl-range-off-by-4": 0,
    "bl-range-backwards": 0,
    "curr-after-update": 2,
    "ipmodify-shared": 2,
    "ipmodify-kept-on-shutdown": 4,
    "late-exit-keeps-x9": 2,
    "fregs-size-120": 0,
    "ret-instead-of-br": 1,
    "literal-no-align": 0,
    "direct-addr-despite-count": 2,
    "call-ops-ignores-assist": 1,
    "modify-call-no-plt": 2,
    "ftrace-caller-no-bti": 1,
    "direct-entries-kept-on-failure": 3,
    "ftrace-plt-core-only": 1,
    "subops-rebuild-every-function": 2,
    "regs-plt-unfound": 1,
    "startup-keeps-dead-ops": 1,
    "single-direct-no-lookup": 1,
  };
  const cases = PROPERTIES.flatMap((p) => p.kills.map((k) => [k.mutant, p.name] as const));
  it.each(cases)("finds %s with %s at its minimal depth, as a scenario that replays", (mutant, property) => {
    const p = propertyByName(property);
    if (p === undefined) throw new Error(property);
    const k = p.kills.find((x) => x.mutant === mutant);
    const base = (k?.base === undefined ? undefined : variantByName(k.base)) ?? upstream;
    const design = withMutant(base, mutant);
    // Deep enough for this mutant's minimal depth (BFS still proves nothing shallower violates).
    const r = explore({ ...SCOPE, depth: Math.max(SCOPE.depth, minimal[mutant] ?? 0) }, design, [p]);
    expect(r.timedOut).toBe(false);
    expect(r.violation?.property).toBe(property);
    expect(r.violation?.depth).toBe(minimal[mutant]);
    const s = r.violation?.scenario;
    if (s === undefined) throw new Error("no scenario");
    expect(s.steps.length).toBe(minimal[mutant]);
    expect(checkRun(p, s, design)).not.toBeNull();
  });

  it("finds nothing on survivor-fix, having searched the whole depth", () => {
    const r = explore(SCOPE, survivorFix, PROPERTIES);
    expect(r.violation).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.depthReached).toBe(SCOPE.depth);
  });

  it("gives the same result slowed down 50-fold per transition: no answer depends on the machine's speed", () => {
    const p = [propertyByName("exact-handlers")!, propertyByName("recursion-protected")!];
    const scope = { functions: 2, ops: 3, depth: 2 };
    const fast = explore(scope, upstream, p, { expected: findings });
    const slow = explore(scope, upstream, p, { expected: findings, onTransition: busyWait(0.5) });
    const answer = (r: ExploreResult): unknown => ({ ...r, ms: 0 });
    expect(slow.ms).toBeGreaterThan(fast.ms);
    expect(answer(slow)).toEqual(answer(fast));
  });

  it("stops on a budget counted in states after a whole level, the same on every run", () => {
    const a = explore({ ...SCOPE, depth: 8 }, upstream, [propertyByName("literal-valid")!], { maxStates: 300 });
    expect(a.budgetReached).toBe(true);
    expect(a.timedOut).toBe(false);
    expect(a.statesFound).toBeGreaterThan(300);
    const b = explore({ ...SCOPE, depth: a.depthReached }, upstream, [propertyByName("literal-valid")!]);
    // The budget cuts after a level: the same states as a search to that depth.
    expect([a.statesFound, a.distinct]).toEqual([b.statesFound, b.distinct]);
  });

  it("says when its hang guard stopped it, and that this is no verdict", () => {
    const r = explore({ ...SCOPE, depth: 20 }, upstream, [propertyByName("literal-valid")!], { hangGuardMs: 1, onTransition: busyWait(2) });
    expect(r.timedOut).toBe(true);
    expect(hangGuardMessage(r, 1)).toMatch(/hit its 1 ms hang guard after \d+ states .*no verdict/);
  });

  it("finds both v1-posted defects: stack-aligned at boot, branch-hygiene after one step", () => {
    const stack = explore(SCOPE, v1Posted, [propertyByName("stack-aligned")!]);
    expect(stack.violation?.depth).toBe(0);
    expect(stack.violation?.message).toMatch(/ftrace_regs is 120 bytes/);
    const ret = explore(SCOPE, v1Posted, [propertyByName("branch-hygiene")!]);
    expect(ret.violation?.depth).toBe(1);
    expect(ret.violation?.message).toMatch(/RET used as a forward branch/);
  });

  it("treats renamings of the ordinary ops as one state", () => {
    // After one step, registering A or B in the same way gives the same state up to renaming, so a second
    // ordinary ops adds no distinct states at depth 1.
    const a = explore({ ...SCOPE, depth: 1 }, upstream, []);
    const b = explore({ functions: 2, ops: 2, depth: 1 }, upstream, []);
    expect(a.distinct).toBe(b.distinct);
    expect(a.statesFound).toBeGreaterThan(b.statesFound);
  });
});
