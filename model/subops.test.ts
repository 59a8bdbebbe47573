// fgraph's manager ops and its subops (ftrace_startup_subops, ftrace_shutdown_subops, the rebuild of the manager's
// hashes): what the manager traces, what its literal and sites hold, and which subops a call runs.

import { describe, expect, it } from "vitest";
import { boot, opsByName } from "./boot.ts";
import { ftrace_set_filter, ftrace_set_notrace, ftrace_shutdown_subops, ftrace_startup_subops } from "./core.ts";
import { ERRNO } from "./errno.ts";
import { callFunction } from "./exec.ts";
import { FTRACE_OPS_FL, hasFlag } from "./flags.ts";
import type { Kernel } from "./kernel.ts";
import { withMutant } from "./mutants.ts";
import { parseScenario, ScenarioError } from "./scenario.ts";
import { blFrom, bootUpstream, FTRACE_CALLER, ipOf, layout, siteWords, thrown } from "./testkit.ts";
import { upstream } from "./variants/upstream.ts";
import { NOP_WORD } from "./insn.ts";

/** register_ftrace_graph of an ordinary ops with these hashes. */
function regSubops(k: Kernel, name: string, fns: ReadonlyArray<string>, notrace: ReadonlyArray<string> = []): number {
  const ops = opsByName(k, name, "ordinary");
  ftrace_set_filter(k, ops, fns.map((f) => ipOf(k, f)));
  if (notrace.length > 0) ftrace_set_notrace(k, ops, notrace.map((f) => ipOf(k, f)));
  return ftrace_startup_subops(k, k.graphOps, ops);
}

function unregSubops(k: Kernel, name: string): number {
  return ftrace_shutdown_subops(k, k.graphOps, opsByName(k, name, "ordinary"));
}

/** The functions the manager traces, by name. */
function managerTraces(k: Kernel): string[] {
  const h = k.graphOps.funcHash;
  return k.recs.filter((r) => (h.filter.size === 0 || h.filter.has(r.ip)) && !h.notrace.has(r.ip)).map((r) => r.fn);
}

describe("fgraph subops", () => {
  it("the first subops puts graph_ops on the list with its functions; a lone site calls it from the literal", () => {
    const k = bootUpstream();
    expect(regSubops(k, "S1", ["f"])).toBe(0);
    expect(k.opsList.map((o) => o.name)).toEqual(["graph_ops"]);
    expect(hasFlag(opsByName(k, "S1", "ordinary").flags, FTRACE_OPS_FL.SUBOP)).toBe(true);
    expect(managerTraces(k)).toEqual(["f"]);
    expect(siteWords(k, "f").literal).toBe(k.graphOps.addr);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(siteWords(k, "g").insn).toBe(NOP_WORD);
    const obs = callFunction(k, "f");
    expect(obs.path).toBe("caller-ops");
    expect(obs.handlers.map((h) => h.ops)).toEqual(["S1"]);
  });

  it("a second subops widens the manager to the union; each call runs only the subops that trace it", () => {
    const k = bootUpstream();
    regSubops(k, "S1", ["f"]);
    regSubops(k, "S2", ["g", "h"], ["h"]);
    expect(managerTraces(k)).toEqual(["f", "g"]);
    expect(callFunction(k, "f").handlers.map((h) => h.ops)).toEqual(["S1"]);
    expect(callFunction(k, "g").handlers.map((h) => h.ops)).toEqual(["S2"]);
    expect(callFunction(k, "h").path).toBe("untraced");
  });

  it("a subops on every function makes the manager trace every function but what all such subops exclude", () => {
    const k = bootUpstream();
    regSubops(k, "S1", [], ["f", "g"]);
    regSubops(k, "S2", [], ["g"]);
    expect(managerTraces(k)).toEqual(["f", "h", "m"]);
    // f: the manager runs, S2 wants it, S1 excludes it.
    expect(callFunction(k, "f").handlers.map((h) => h.ops)).toEqual(["S2"]);
    expect(callFunction(k, "g").path).toBe("untraced");
  });

  it("removing a subops rebuilds the manager from the rest, and the last one takes graph_ops off the list", () => {
    const k = bootUpstream();
    regSubops(k, "S1", ["f"]);
    regSubops(k, "S2", ["g"]);
    expect(unregSubops(k, "S2")).toBe(0);
    expect(managerTraces(k)).toEqual(["f"]);
    expect(siteWords(k, "g").insn).toBe(NOP_WORD);
    expect(unregSubops(k, "S1")).toBe(0);
    expect(k.opsList).toEqual([]);
    expect(siteWords(k, "f").insn).toBe(NOP_WORD);
    expect(k.fgraphArray).toEqual([null, null]);
  });

  it("a new subops takes the first free fgraph_array slot", () => {
    const k = bootUpstream();
    regSubops(k, "S1", ["f"]);
    regSubops(k, "S2", ["f"]);
    unregSubops(k, "S1");
    regSubops(k, "S3", ["f"]);
    expect(k.fgraphArray.map((o) => o?.name ?? null)).toEqual(["S3", "S2"]);
    expect(callFunction(k, "f").handlers.map((h) => h.ops)).toEqual(["S3", "S2"]);
  });

  it("a live subops' filter change goes through the manager (ftrace_hash_move_and_update_subops)", () => {
    const k = bootUpstream();
    regSubops(k, "S1", ["f"]);
    expect(ftrace_set_filter(k, opsByName(k, "S1", "ordinary"), [ipOf(k, "g")])).toBe(0);
    expect(managerTraces(k)).toEqual(["g"]);
    expect(siteWords(k, "f").insn).toBe(NOP_WORD);
  });

  it("refuses a subops that is already enabled, with the WARN", () => {
    const k = bootUpstream();
    regSubops(k, "S1", ["f"]);
    expect(ftrace_startup_subops(k, k.graphOps, opsByName(k, "S1", "ordinary"))).toBe(-ERRNO.EBUSY);
    expect(k.events.some((e) => e.kind === "warn" && e.message.startsWith("ftrace_startup_subops:"))).toBe(true);
  });

  it("before 38b14061947f (subops-rebuild-every-function) a rebuild left the manager on every function", () => {
    const k = boot(layout(), withMutant(upstream, "subops-rebuild-every-function"));
    regSubops(k, "S1", ["f"]);
    regSubops(k, "S2", ["g"]);
    unregSubops(k, "S2");
    expect(managerTraces(k)).toEqual(["f", "g", "h", "m"]);
    // Handlers stay right (fgraph tests each subops' own hash); the sites do not.
    expect(callFunction(k, "g").handlers).toEqual([]);
    expect(siteWords(k, "g").insn).toBe(blFrom(k, "g", FTRACE_CALLER));
  });

  describe("the merge before 0ae6b8ce200d (append-intersect, as Debian's 6.12.117 runs it)", () => {
    const old = { ...upstream, name: "append-intersect", subopsHashRule: "append-intersect" as const };

    it("a first subops whose notrace covers its filter makes the manager trace nothing (today: every function)", () => {
      const k = boot(layout(), old);
      regSubops(k, "Q", ["f"], ["f"]);
      expect(managerTraces(k)).toEqual([]);
      expect(siteWords(k, "f").insn).toBe(NOP_WORD);
      const today = bootUpstream();
      regSubops(today, "Q", ["f"], ["f"]);
      expect(managerTraces(today)).toEqual(["f", "g", "h", "m"]);
    });

    it("a second subops unites the filters with a notrace entry kept in, and a rebuild keeps the manager's notrace", () => {
      const k = boot(layout(), old);
      regSubops(k, "S1", ["f", "g"], ["g"]);
      expect(managerTraces(k)).toEqual(["f"]);
      regSubops(k, "S2", ["h"]);
      // g is in the united filter and the notrace hashes ({g} and none) intersect to none.
      expect(managerTraces(k)).toEqual(["f", "g", "h"]);
      expect(callFunction(k, "g").handlers).toEqual([]);
      expect(unregSubops(k, "S2")).toBe(0);
      // intersect_hashes starts from the manager's own notrace (now empty), not S1's.
      expect(managerTraces(k)).toEqual(["f", "g"]);
      expect(siteWords(k, "g").insn).toBe(blFrom(k, "g", FTRACE_CALLER));
    });

    it("a live subops' notrace change recomputes only the manager's notrace, newest subops first", () => {
      const k = boot(layout(), old);
      regSubops(k, "S1", ["f", "g"]);
      regSubops(k, "S2", ["g", "h"]);
      expect(k.subopList).toEqual(["S2", "S1"]);
      expect(ftrace_set_notrace(k, opsByName(k, "S1", "ordinary"), [ipOf(k, "g")])).toBe(0);
      // The head (S2) stands for the manager's own notrace (none), so nothing is excluded.
      expect(managerTraces(k)).toEqual(["f", "g", "h"]);
      expect(ftrace_set_filter(k, opsByName(k, "S2", "ordinary"), [ipOf(k, "h")])).toBe(0);
      expect(managerTraces(k)).toEqual(["f", "g", "h"]);
      expect(callFunction(k, "g").handlers).toEqual([]);
    });
  });

  it("a scenario's SUBOP flag takes no other flag, in one line", () => {
    const e = thrown(ScenarioError, () =>
      parseScenario({ functions: [{ name: "f", addr: "0xffff800009000000" }], steps: [{ do: "register_ftrace_function", ops: "A", flags: ["SUBOP", "RCU"] }] }),
    );
    expect(e.message).toMatch(/SUBOP registers an fgraph subops and takes no other flag/);
    expect(e.message.split("\n")).toHaveLength(1);
  });
});
