// Tests for the generic ftrace core (kernel/trace/ftrace.c) as modelled: rec->flags (reference count and
// wanted/installed bits) after each registration change, the patch-site literal and BL that follow, the
// CALL_OPS rule applied "as written" to the ops being added or removed (research/kernel-core.md §2.2), direct
// ops alone and shared, the direct API's errors, modify_ftrace_direct's detour through ftrace_list_ops,
// unregister_ftrace_direct with a stale address, live filter changes, notrace, ftrace_find_unique_ops and
// ftrace_check_record's four answers.

import { describe, expect, it } from "vitest";
import { opsByName } from "./boot.ts";
import {
  ftrace_check_record,
  ftrace_find_unique_ops,
  ftrace_kill,
  ftrace_set_filter,
  ftrace_set_notrace,
  modify_ftrace_direct,
  register_ftrace_direct,
  register_ftrace_function,
  unregister_ftrace_direct,
  unregister_ftrace_function,
} from "./core.ts";
import { ERRNO } from "./errno.ts";
import { FTRACE_FL, FTRACE_OPS_FL, FTRACE_REF_MAX, formatRecFlags, recCount } from "./flags.ts";
import { MOV_X9_X30_WORD, NOP_WORD } from "./insn.ts";
import type { DynFtrace, Kernel } from "./kernel.ts";
import { FTRACE_OPS_DIRECT_CALL } from "./structs.ts";
import {
  FTRACE_CALLER,
  KS,
  T_FAR,
  T_NEAR,
  T_NEAR2,
  allSites,
  blFrom,
  bootUpstream,
  flagsOf,
  ipOf,
  ipmodifyOn,
  recOf,
  regDirect,
  regIpmodify,
  regOrdinary,
  siteWords,
  warnings,
  writes,
} from "./testkit.ts";

const EINVAL = -ERRNO.EINVAL;
const EBUSY = -ERRNO.EBUSY;


function opsAddr(k: Kernel, name: string): bigint {
  const ops = k.ops.get(name);
  if (ops === undefined) throw new Error(`no ops ${name}`);
  return ops.addr;
}


function unregister(k: Kernel, name: string): number {
  k.events = [];
  return unregister_ftrace_function(k, k.ops.get(name)!);
}

describe("ordinary ops: flag transitions and the literal", () => {
  it("one ops: count 1, CALL_OPS|CALL_OPS_EN, literal = the ops, BL ftrace_caller", () => {
    const k = bootUpstream();
    const { ops, ret } = regOrdinary(k, "A", ["f"]);
    expect(ret).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
    expect(siteWords(k, "f")).toEqual({ literal: ops.addr, mov: MOV_X9_X30_WORD, insn: blFrom(k, "f", FTRACE_CALLER) });
    // Untouched functions stay disabled.
    expect(flagsOf(k, "g")).toBe("- count=0");
    expect(siteWords(k, "g").insn).toBe(NOP_WORD);
    expect(ops.flags & FTRACE_OPS_FL.ENABLED).not.toBe(0);
    expect(ops.flags & FTRACE_OPS_FL.DYNAMIC).not.toBe(0);
    expect(k.opsList).toEqual([ops]);
  });

  it("a second ops on the same function: count 2, CALL_OPS cleared, literal = ftrace_list_ops via MODIFY_CALL with the same BL", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    k.events = [];
    const { ret } = regOrdinary(k, "B", ["f"]);
    expect(ret).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|TOUCHED count=2");
    const blCaller = BigInt(blFrom(k, "f", FTRACE_CALLER));
    expect(writes(k).map((e) => [e.fn, e.what, e.old, e.new])).toEqual([
      ["f", "literal", opsAddr(k, "A"), KS.ftrace_list_ops],
      ["f", "insn", blCaller, blCaller],
    ]);
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_list_ops);
  });

  it("removing one of two: count back to 1, CALL_OPS_EN again, literal = the survivor", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    regOrdinary(k, "B", ["f"]);
    expect(unregister(k, "B")).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
    expect(siteWords(k, "f").literal).toBe(opsAddr(k, "A"));
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(writes(k).map((e) => e.what)).toEqual(["literal", "insn"]);
    // B was a heap (DYNAMIC) ops: the core waits for both RCU-tasks flavours before returning.
    expect(k.events.filter((e) => e.kind === "sync").map((e) => (e.kind === "sync" ? e.what : ""))).toEqual([
      "synchronize_rcu_tasks_rude",
      "synchronize_rcu_tasks",
    ]);
  });

  it("removing the last: MAKE_NOP (literal first, then NOP), flags cleared except TOUCHED", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    expect(unregister(k, "A")).toBe(0);
    expect(flagsOf(k, "f")).toBe("TOUCHED count=0");
    expect(siteWords(k, "f")).toEqual({ literal: KS.ftrace_nop_ops, mov: MOV_X9_X30_WORD, insn: NOP_WORD });
    expect(writes(k).map((e) => [e.what, e.new])).toEqual([
      ["literal", KS.ftrace_nop_ops],
      ["insn", BigInt(NOP_WORD)],
    ]);
    expect(k.opsList).toEqual([]);
  });

  it("an ops with RECURSION alone does not get CALL_OPS: literal = ftrace_list_ops", () => {
    const k = bootUpstream();
    const { ret } = regOrdinary(k, "R", ["f"], { flags: ["RECURSION"] });
    expect(ret).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|TOUCHED count=1");
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_list_ops);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
  });

  it("an ops with RCU alone does not get CALL_OPS either", () => {
    const k = bootUpstream();
    regOrdinary(k, "R", ["f"], { flags: ["RCU"] });
    expect(flagsOf(k, "f")).toBe("ENABLED|TOUCHED count=1");
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_list_ops);
  });

  it("as written: unregistering B (no RECURSION) leaves R (RECURSION) with CALL_OPS, because the test is applied to B", () => {
    const k = bootUpstream();
    regOrdinary(k, "B", ["f"]);
    regOrdinary(k, "R", ["f"], { flags: ["RECURSION"] });
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_list_ops);
    expect(unregister(k, "B")).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
    // ftrace_caller will now call R->func directly, without ftrace_ops_assist_func.
    expect(siteWords(k, "f").literal).toBe(opsAddr(k, "R"));
    expect(writes(k).map((e) => [e.what, e.new])).toEqual([
      ["literal", opsAddr(k, "R")],
      ["insn", BigInt(blFrom(k, "f", FTRACE_CALLER))],
    ]);
  });

  it("as written, the reverse: unregistering R leaves B without CALL_OPS (R fails the test), literal stays ftrace_list_ops", () => {
    const k = bootUpstream();
    regOrdinary(k, "B", ["f"]);
    regOrdinary(k, "R", ["f"], { flags: ["RECURSION"] });
    expect(unregister(k, "R")).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|TOUCHED count=1");
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_list_ops);
    // Nothing to patch: ftrace_check_record says IGNORE.
    expect(writes(k)).toEqual([]);
  });

  it("SAVE_REGS without SAVE_REGS_IF_SUPPORTED is refused (-EINVAL): arm64 has no WITH_REGS", () => {
    const k = bootUpstream();
    const before = allSites(k);
    const { ops, ret } = regOrdinary(k, "S", ["f"], { flags: ["SAVE_REGS"] });
    expect(ret).toBe(EINVAL);
    expect(k.opsList).toEqual([]);
    expect(ops.flags & FTRACE_OPS_FL.ENABLED).toBe(0);
    expect(allSites(k)).toEqual(before);
    expect(flagsOf(k, "f")).toBe("- count=0");
  });

  it("SAVE_REGS_IF_SUPPORTED registers; only the REGS bookkeeping bits change, the site still BLs ftrace_caller", () => {
    const k = bootUpstream();
    const { ops, ret } = regOrdinary(k, "S", ["f"], { flags: ["SAVE_REGS", "SAVE_REGS_IF_SUPPORTED"] });
    expect(ret).toBe(0);
    expect(ops.flags & FTRACE_OPS_FL.SAVE_REGS).not.toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|REGS|REGS_EN|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
  });

  it("an ops covering several functions gets its own literal on each, and is shared only where another ops overlaps", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f", "g"]);
    regOrdinary(k, "B", ["g", "h"]);
    expect(siteWords(k, "f").literal).toBe(opsAddr(k, "A"));
    expect(siteWords(k, "g").literal).toBe(KS.ftrace_list_ops);
    expect(siteWords(k, "h").literal).toBe(opsAddr(k, "B"));
    expect(recCount(recOf(k, "g").flags)).toBe(2);
  });
});

describe("direct ops", () => {
  it("alone with an in-range trampoline: DIRECT|DIRECT_EN, TRAMP|TRAMP_EN, CALL_OPS_EN, literal = the ops, BL T", () => {
    const k = bootUpstream();
    const { ops, ret } = regDirect(k, "D", ["f"], T_NEAR);
    expect(ret).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|TRAMP|TRAMP_EN|DIRECT|DIRECT_EN|CALL_OPS|CALL_OPS_EN|TOUCHED|MODIFIED count=1");
    expect(siteWords(k, "f")).toEqual({ literal: ops.addr, mov: MOV_X9_X30_WORD, insn: blFrom(k, "f", T_NEAR) });
    expect(k.directFunctions.get(ipOf(k, "f"))).toBe(T_NEAR);
    expect(ops.direct_call).toBe(T_NEAR);
    expect(ops.trampoline).toBe(FTRACE_CALLER);
    expect(ops.func).toBe(k.helpers.call_direct_funcs);
    expect(k.mem.read64(ops.addr + BigInt(FTRACE_OPS_DIRECT_CALL))).toBe(T_NEAR);
  });

  it("alone with an out-of-range trampoline: same flags, BL ftrace_caller with literal = the ops", () => {
    const k = bootUpstream();
    const { ops } = regDirect(k, "D", ["f"], T_FAR);
    expect(flagsOf(k, "f")).toBe("ENABLED|TRAMP|TRAMP_EN|DIRECT|DIRECT_EN|CALL_OPS|CALL_OPS_EN|TOUCHED|MODIFIED count=1");
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(siteWords(k, "f").literal).toBe(ops.addr);
  });

  it("plus an ordinary ops: DIRECT wanted but DIRECT_EN clear, ftrace_list_ops, BL T -> BL ftrace_caller; and back", () => {
    const k = bootUpstream();
    regDirect(k, "D", ["f"], T_NEAR);
    k.events = [];
    regOrdinary(k, "A", ["f"]);
    expect(flagsOf(k, "f")).toBe("ENABLED|DIRECT|TOUCHED|MODIFIED count=2");
    expect(writes(k).map((e) => [e.what, e.old, e.new])).toEqual([
      ["literal", opsAddr(k, "D"), KS.ftrace_list_ops],
      ["insn", BigInt(blFrom(k, "f", T_NEAR)), BigInt(blFrom(k, "f", FTRACE_CALLER))],
    ]);
    // Removing the ordinary ops restores the direct BL (CALL_OPS judged on A, which qualifies).
    expect(unregister(k, "A")).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|TRAMP|TRAMP_EN|DIRECT|DIRECT_EN|CALL_OPS|CALL_OPS_EN|TOUCHED|MODIFIED count=1");
    expect(siteWords(k, "f")).toEqual({ literal: opsAddr(k, "D"), mov: MOV_X9_X30_WORD, insn: blFrom(k, "f", T_NEAR) });
  });

  it("unregister_ftrace_direct with the right address: site NOP, entries gone, func/trampoline cleared, direct_call kept", () => {
    const k = bootUpstream();
    const { ops } = regDirect(k, "D", ["f"], T_NEAR);
    k.events = [];
    expect(unregister_ftrace_direct(k, ops, T_NEAR, false)).toBe(0);
    expect(siteWords(k, "f")).toEqual({ literal: KS.ftrace_nop_ops, mov: MOV_X9_X30_WORD, insn: NOP_WORD });
    expect(writes(k).map((e) => [e.what, e.old])).toEqual([
      ["literal", ops.addr],
      ["insn", BigInt(blFrom(k, "f", T_NEAR))],
    ]);
    expect(flagsOf(k, "f")).toBe("TOUCHED|MODIFIED count=0");
    expect(k.directFunctions.size).toBe(0);
    expect(ops.func).toBe(0n);
    expect(ops.trampoline).toBe(0n);
    expect(ops.direct_call).toBe(T_NEAR);
    // And the function can take a direct caller again.
    expect(regDirect(k, "D2", ["f"], T_NEAR2).ret).toBe(0);
  });
});

describe("register_ftrace_direct errors", () => {
  it("an empty filter (\"every function\") is -EINVAL", () => {
    const k = bootUpstream();
    const before = allSites(k);
    const d = opsByName(k, "D", "direct");
    expect(ftrace_set_filter(k, d, [])).toBe(0);
    expect(register_ftrace_direct(k, d, T_NEAR)).toBe(EINVAL);
    expect(allSites(k)).toEqual(before);
    expect(k.directFunctions.size).toBe(0);
    expect(d.func).toBe(0n);
  });

  it("an ops never initialised (no filter set) is -EINVAL", () => {
    const k = bootUpstream();
    const d = opsByName(k, "D", "direct");
    expect(register_ftrace_direct(k, d, T_NEAR)).toBe(EINVAL);
  });

  it("a function that already has a direct caller is -EBUSY, with nothing changed", () => {
    const k = bootUpstream();
    regDirect(k, "D1", ["f"], T_NEAR);
    const before = allSites(k);
    const dfBefore = new Map(k.directFunctions);
    const flagsBefore = k.recs.map((r) => r.flags);
    const { ops: d2, ret } = regDirect(k, "D2", ["g", "f"], T_NEAR2);
    expect(ret).toBe(EBUSY);
    expect(allSites(k)).toEqual(before);
    expect(k.directFunctions).toEqual(dfBefore);
    expect(k.recs.map((r) => r.flags)).toEqual(flagsBefore);
    expect(k.opsList.map((o) => o.name)).toEqual(["D1"]);
    expect(d2.func).toBe(0n);
    expect(d2.trampoline).toBe(0n);
    expect(d2.flags & (FTRACE_OPS_FL.ENABLED | FTRACE_OPS_FL.DIRECT)).toBe(0);
  });

  it("registering an already-enabled direct ops again is -EINVAL", () => {
    const k = bootUpstream();
    const { ops } = regDirect(k, "D", ["f"], T_NEAR);
    const before = allSites(k);
    expect(register_ftrace_direct(k, ops, T_NEAR2)).toBe(EINVAL);
    expect(allSites(k)).toEqual(before);
    expect(ops.direct_call).toBe(T_NEAR);
    expect(k.directFunctions.get(ipOf(k, "f"))).toBe(T_NEAR);
  });
});

describe("modify_ftrace_direct", () => {
  it("detours every site through ftrace_list_ops, then lands on the new trampoline with the literal back on the ops", () => {
    const k = bootUpstream();
    const { ops } = regDirect(k, "D", ["f", "g"], T_NEAR);
    k.events = [];
    expect(modify_ftrace_direct(k, ops, T_NEAR2)).toBe(0);
    const bl = (fnName: string, t: bigint): bigint => BigInt(blFrom(k, fnName, t));
    expect(writes(k).map((e) => [e.fn, e.what, e.old, e.new])).toEqual([
      ["f", "literal", ops.addr, KS.ftrace_list_ops],
      ["f", "insn", bl("f", T_NEAR), bl("f", FTRACE_CALLER)],
      ["g", "literal", ops.addr, KS.ftrace_list_ops],
      ["g", "insn", bl("g", T_NEAR), bl("g", FTRACE_CALLER)],
      ["f", "literal", KS.ftrace_list_ops, ops.addr],
      ["f", "insn", bl("f", FTRACE_CALLER), bl("f", T_NEAR2)],
      ["g", "literal", KS.ftrace_list_ops, ops.addr],
      ["g", "insn", bl("g", FTRACE_CALLER), bl("g", T_NEAR2)],
    ]);
    // No moment where a site is a NOP.
    expect(writes(k).some((e) => e.what === "insn" && e.new === BigInt(NOP_WORD))).toBe(false);
    expect(k.directFunctions.get(ipOf(k, "f"))).toBe(T_NEAR2);
    expect(k.directFunctions.get(ipOf(k, "g"))).toBe(T_NEAR2);
    expect(ops.direct_call).toBe(T_NEAR2);
    expect(k.mem.read64(ops.addr + BigInt(FTRACE_OPS_DIRECT_CALL))).toBe(T_NEAR2);
    expect(flagsOf(k, "f")).toBe("ENABLED|TRAMP|TRAMP_EN|DIRECT|DIRECT_EN|CALL_OPS|CALL_OPS_EN|TOUCHED|MODIFIED count=1");
    expect(k.opsList.map((o) => o.name)).toEqual(["D"]);
    // tmp_ops is core data: no RCU-tasks wait for it.
    expect(k.events.some((e) => e.kind === "sync")).toBe(false);
  });

  it("to an out-of-range trampoline: the site stays BL ftrace_caller, literal back on the ops", () => {
    const k = bootUpstream();
    const { ops } = regDirect(k, "D", ["f"], T_NEAR);
    expect(modify_ftrace_direct(k, ops, T_FAR)).toBe(0);
    expect(siteWords(k, "f")).toEqual({ literal: ops.addr, mov: MOV_X9_X30_WORD, insn: blFrom(k, "f", FTRACE_CALLER) });
    expect(k.directFunctions.get(ipOf(k, "f"))).toBe(T_FAR);
    expect(ops.direct_call).toBe(T_FAR);
  });

  it("with another ops on the function the site stays on the list path throughout", () => {
    const k = bootUpstream();
    const { ops } = regDirect(k, "D", ["f"], T_NEAR);
    regOrdinary(k, "A", ["f"]);
    k.events = [];
    expect(modify_ftrace_direct(k, ops, T_NEAR2)).toBe(0);
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_list_ops);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(writes(k)).toEqual([]);
    expect(ops.direct_call).toBe(T_NEAR2);
  });

  it("on an ops that is not an enabled direct ops is -EINVAL", () => {
    const k = bootUpstream();
    const { ops: a } = regOrdinary(k, "A", ["f"]);
    expect(modify_ftrace_direct(k, a, T_NEAR)).toBe(EINVAL);
    const d = opsByName(k, "D", "direct");
    expect(modify_ftrace_direct(k, d, T_NEAR)).toBe(EINVAL);
  });
});

describe("unregister_ftrace_direct with a stale address (as written)", () => {
  it("unpatches the sites but leaves the direct_functions entries, so the function stays -EBUSY for direct callers", () => {
    const k = bootUpstream();
    const { ops } = regDirect(k, "D", ["f"], T_NEAR);
    expect(unregister_ftrace_direct(k, ops, T_NEAR2, false)).toBe(0);
    expect(siteWords(k, "f").insn).toBe(NOP_WORD);
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_nop_ops);
    expect(k.directFunctions.get(ipOf(k, "f"))).toBe(T_NEAR);
    expect(regDirect(k, "D2", ["f"], T_NEAR2).ret).toBe(EBUSY);
  });
});

describe("filters", () => {
  it("ftrace_set_filter on a live ops moves it from f to g", () => {
    const k = bootUpstream();
    const { ops } = regOrdinary(k, "A", ["f"]);
    k.events = [];
    expect(ftrace_set_filter(k, ops, [ipOf(k, "g")])).toBe(0);
    expect(flagsOf(k, "f")).toBe("TOUCHED count=0");
    expect(siteWords(k, "f")).toEqual({ literal: KS.ftrace_nop_ops, mov: MOV_X9_X30_WORD, insn: NOP_WORD });
    expect(flagsOf(k, "g")).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
    expect(siteWords(k, "g")).toEqual({ literal: ops.addr, mov: MOV_X9_X30_WORD, insn: blFrom(k, "g", FTRACE_CALLER) });
    expect(writes(k).map((e) => [e.fn, e.what])).toEqual([
      ["f", "literal"],
      ["f", "insn"],
      ["g", "literal"],
      ["g", "insn"],
    ]);
    expect(ops.flags & FTRACE_OPS_FL.MODIFYING).toBe(0);
    expect(ops.oldHash).toBeNull();
  });

  it("notrace excludes a function from an \"all functions\" (empty filter) ops", () => {
    const k = bootUpstream();
    const { ops, ret } = regOrdinary(k, "A", [], { notrace: ["g"] });
    expect(ret).toBe(0);
    for (const name of ["f", "h", "m"]) {
      expect(flagsOf(k, name)).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
      expect(siteWords(k, name).literal).toBe(ops.addr);
    }
    expect(flagsOf(k, "g")).toBe("- count=0");
    expect(siteWords(k, "g")).toEqual({ literal: KS.ftrace_nop_ops, mov: MOV_X9_X30_WORD, insn: NOP_WORD });
  });

  it("an \"all functions\" ops shares every site with a filtered one", () => {
    const k = bootUpstream();
    regOrdinary(k, "ALL", []);
    regOrdinary(k, "A", ["f"]);
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_list_ops);
    expect(siteWords(k, "g").literal).toBe(opsAddr(k, "ALL"));
    expect(recCount(recOf(k, "f").flags)).toBe(2);
  });
});

describe("ftrace_find_unique_ops", () => {
  it("returns the one matching ops, and null when two ops match", () => {
    const k = bootUpstream();
    const { ops: a } = regOrdinary(k, "A", ["f"]);
    expect(ftrace_find_unique_ops(k, recOf(k, "f"))).toBe(a);
    const { ops: b } = regOrdinary(k, "B", ["g"]);
    expect(ftrace_find_unique_ops(k, recOf(k, "f"))).toBe(a);
    expect(ftrace_find_unique_ops(k, recOf(k, "g"))).toBe(b);
    regOrdinary(k, "C", ["f"]);
    expect(ftrace_find_unique_ops(k, recOf(k, "f"))).toBeNull();
  });

  it("an \"all functions\" ops matches everything, so it makes any other match non-unique", () => {
    const k = bootUpstream();
    const { ops: all } = regOrdinary(k, "ALL", []);
    expect(ftrace_find_unique_ops(k, recOf(k, "h"))).toBe(all);
    regOrdinary(k, "A", ["h"]);
    expect(ftrace_find_unique_ops(k, recOf(k, "h"))).toBeNull();
  });

  it("honours notrace", () => {
    const k = bootUpstream();
    const { ops: all } = regOrdinary(k, "ALL", [], { notrace: ["f"] });
    const { ops: a } = regOrdinary(k, "A", ["f"]);
    expect(ftrace_find_unique_ops(k, recOf(k, "f"))).toBe(a);
    expect(ftrace_find_unique_ops(k, recOf(k, "g"))).toBe(all);
  });
});

describe("ftrace_check_record (update = false)", () => {
  const F = FTRACE_FL;
  const mk = (flags: number): DynFtrace => ({ fn: "x", ip: 0xffff800008010000n, flags: flags >>> 0 });
  const cases: ReadonlyArray<readonly [string, number, string]> = [
    ["not enabled, no users", 0, "IGNORE"],
    ["enabled and consistent", F.ENABLED | F.CALL_OPS | F.CALL_OPS_EN | 1, "IGNORE"],
    ["enabled, count 2, nothing installed for one ops", F.ENABLED | 2, "IGNORE"],
    ["a user but not enabled", 1, "MAKE_CALL"],
    ["two users, not enabled", 2, "MAKE_CALL"],
    ["enabled with no users", F.ENABLED, "MAKE_NOP"],
    ["enabled, count 1, CALL_OPS wanted but not installed", F.ENABLED | F.CALL_OPS | 1, "MODIFY_CALL"],
    ["enabled, count 2, CALL_OPS_EN still installed", F.ENABLED | F.CALL_OPS_EN | 2, "MODIFY_CALL"],
    ["enabled, count 1, DIRECT wanted but not installed", F.ENABLED | F.DIRECT | 1, "MODIFY_CALL"],
    ["enabled, count 2, DIRECT wanted (not installable)", F.ENABLED | F.DIRECT | 2, "IGNORE"],
    ["enabled, count 1, TRAMP_EN without TRAMP", F.ENABLED | F.TRAMP_EN | 1, "MODIFY_CALL"],
    ["disabled record that is not enabled", F.DISABLED | 1, "IGNORE"],
  ];
  for (const [what, flags, want] of cases) {
    it(`${what}: ${want}`, () => {
      const r = mk(flags);
      expect(ftrace_check_record(r, true, false)).toBe(want);
      expect(r.flags).toBe(flags >>> 0);
    });
  }

  it("with enable = false an enabled record is MAKE_NOP", () => {
    expect(ftrace_check_record(mk(F.ENABLED | F.CALL_OPS | F.CALL_OPS_EN | 1), false, false)).toBe("MAKE_NOP");
  });

  it("with update = true it installs the wanted bits (CALL_OPS -> CALL_OPS_EN only at count 1)", () => {
    const one = mk(F.CALL_OPS | 1);
    expect(ftrace_check_record(one, true, true)).toBe("MAKE_CALL");
    expect(formatRecFlags(one.flags)).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
    const two = mk(F.ENABLED | F.CALL_OPS_EN | F.DIRECT_EN | F.DIRECT | 2);
    expect(ftrace_check_record(two, true, true)).toBe("MODIFY_CALL");
    expect(formatRecFlags(two.flags)).toBe("ENABLED|DIRECT|TOUCHED|MODIFIED count=2");
    const gone = mk(F.ENABLED | F.CALL_OPS | F.CALL_OPS_EN | F.TOUCHED);
    expect(ftrace_check_record(gone, true, true)).toBe("MAKE_NOP");
    expect(formatRecFlags(gone.flags)).toBe("TOUCHED count=0");
  });
});

describe("registration bookkeeping", () => {
  it("unregistering an ops that was never registered is -EBUSY (WARN_ON in __unregister_ftrace_function)", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    const before = allSites(k);
    const x = opsByName(k, "X", "ordinary");
    k.events = [];
    expect(unregister_ftrace_function(k, x)).toBe(EBUSY);
    expect(k.events.some((e) => e.kind === "warn")).toBe(true);
    expect(k.opsList.map((o) => o.name)).toEqual(["A"]);
    expect(allSites(k)).toEqual(before);
  });

  it("unregistering twice: the second call is -EBUSY and changes nothing", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    expect(unregister(k, "A")).toBe(0);
    const before = allSites(k);
    expect(unregister(k, "A")).toBe(EBUSY);
    expect(allSites(k)).toEqual(before);
    expect(flagsOf(k, "f")).toBe("TOUCHED count=0");
  });

  it("after ftrace_bug (a site that fails validation) registration returns -ENODEV and ftrace stays dead", () => {
    const k = bootUpstream();
    const ip = ipOf(k, "g");
    k.mem.write32(ip, blFrom(k, "g", T_NEAR));
    const { ops: a, ret } = regOrdinary(k, "A", ["g"]);
    expect(ret).toBe(-ERRNO.ENODEV);
    expect(k.disabled).toBe(true);
    expect(k.opsList).not.toContain(a);
    // Everything later is refused.
    expect(regOrdinary(k, "B", ["f"]).ret).toBe(-ERRNO.ENODEV);
    expect(siteWords(k, "f").insn).toBe(NOP_WORD);
    expect(regDirect(k, "D", ["h"], T_NEAR2).ret).toBe(-ERRNO.ENODEV);
  });

  it("ftrace_ops_list is newest first", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    regOrdinary(k, "B", ["g"]);
    regOrdinary(k, "C", ["f"]);
    expect(k.opsList.map((o) => o.name)).toEqual(["C", "B", "A"]);
  });

  it("registering an enabled ops again is -EBUSY and changes nothing", () => {
    const k = bootUpstream();
    const { ops } = regOrdinary(k, "A", ["f"]);
    const before = allSites(k);
    expect(register_ftrace_function(k, ops)).toBe(EBUSY);
    expect(k.opsList).toEqual([ops]);
    expect(allSites(k)).toEqual(before);
    expect(flagsOf(k, "f")).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
  });
});

describe("IPMODIFY ops (__ftrace_hash_update_ipmodify, prepare_direct_functions_for_ipmodify)", () => {

  it("marks its functions, refuses every-function filters and a second IPMODIFY ops, rolling back what it marked", () => {
    const k = bootUpstream();
    expect(regIpmodify(k, "A", [])).toBe(EINVAL);
    expect(k.opsList).toEqual([]);
    expect(regIpmodify(k, "A", ["f"])).toBe(0);
    expect(ipmodifyOn(k, "f")).toBe(true);
    expect(regIpmodify(k, "B", ["g", "f"])).toBe(EBUSY);
    expect(ipmodifyOn(k, "g")).toBe(false);
    expect(k.opsList.map((o) => o.name)).toEqual(["A"]);
    expect(k.ops.get("B")!.flags & FTRACE_OPS_FL.ENABLED).toBe(0);
  });

  it("leaves its functions unmarked when it goes, also where another ops still traces them", () => {
    const k = bootUpstream();
    regOrdinary(k, "C", ["f"]);
    expect(regIpmodify(k, "A", ["f"])).toBe(0);
    expect(unregister(k, "A")).toBe(0);
    expect(ipmodifyOn(k, "f")).toBe(false);
    expect(regIpmodify(k, "B", ["f"])).toBe(0);
  });

  it("and a direct ops without ops_func exclude each other, whichever comes first", () => {
    const k = bootUpstream();
    expect(regIpmodify(k, "A", ["f"])).toBe(0);
    const d = regDirect(k, "D", ["f"], T_NEAR);
    expect(d.ret).toBe(EBUSY);
    expect(k.directFunctions.has(ipOf(k, "f"))).toBe(false);
    expect(d.ops.trampoline).toBe(0n);
    expect(d.ops.func).toBe(0n);
    expect(regDirect(k, "E", ["g"], T_NEAR).ret).toBe(0);
    expect(regIpmodify(k, "B", ["g"])).toBe(EBUSY);
    expect(regIpmodify(k, "B", ["h"])).toBe(0);
  });

  it("takes no notrace hash and, live, no every-function filter nor another IPMODIFY ops' function", () => {
    const k = bootUpstream();
    const { ops: a } = regOrdinary(k, "A", ["f"], { flags: ["IPMODIFY"] });
    expect(ftrace_set_notrace(k, a, [ipOf(k, "g")])).toBe(EINVAL);
    expect(ftrace_set_filter(k, a, [])).toBe(EINVAL);
    expect(regIpmodify(k, "B", ["g"])).toBe(0);
    expect(ftrace_set_filter(k, a, [ipOf(k, "g")])).toBe(EBUSY);
    expect([...a.funcHash.filter]).toEqual([ipOf(k, "f")]);
    expect(ftrace_set_filter(k, a, [ipOf(k, "h")])).toBe(0);
    expect(ipmodifyOn(k, "f")).toBe(false);
    expect(ipmodifyOn(k, "h")).toBe(true);
  });

  it("makes modify_ftrace_direct refuse once it has taken a direct function by a live filter change", () => {
    const k = bootUpstream();
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    const { ops: a } = regOrdinary(k, "A", ["g"], { flags: ["IPMODIFY"] });
    expect(ftrace_set_filter(k, a, [ipOf(k, "f")])).toBe(0);
    const before = allSites(k);
    expect(modify_ftrace_direct(k, d, T_NEAR2)).toBe(EBUSY);
    expect(d.direct_call).toBe(T_NEAR);
    expect(k.directFunctions.get(ipOf(k, "f"))).toBe(T_NEAR);
    expect(allSites(k)).toEqual(before);
  });

  it("warns about an ops that is both IPMODIFY and DIRECT and lets it through", () => {
    const k = bootUpstream();
    const d = opsByName(k, "D", "direct");
    ftrace_set_filter(k, d, [ipOf(k, "f")]);
    d.flags |= FTRACE_OPS_FL.IPMODIFY;
    k.events = [];
    expect(register_ftrace_direct(k, d, T_NEAR)).toBe(0);
    expect(warnings(k)).toEqual(["__ftrace_hash_update_ipmodify: D is both IPMODIFY and DIRECT"]);
  });
});

describe("refusals and a dead ftrace", () => {
  it("refuses an ops marked DELETED", () => {
    const k = bootUpstream();
    const a = opsByName(k, "A", "ordinary");
    ftrace_set_filter(k, a, [ipOf(k, "f")]);
    a.flags |= FTRACE_OPS_FL.DELETED;
    expect(register_ftrace_function(k, a)).toBe(EINVAL);
    expect(k.opsList).toEqual([]);
  });

  it("refuses register_ftrace_direct on an ops that has a func or a trampoline, and the direct API on an ordinary ops", () => {
    const k = bootUpstream();
    const { ops: a } = regOrdinary(k, "A", ["f"]);
    expect(register_ftrace_direct(k, a, T_NEAR)).toBe(EINVAL);
    expect(modify_ftrace_direct(k, a, T_NEAR)).toBe(EINVAL);
    expect(unregister_ftrace_direct(k, a, T_NEAR, true)).toBe(EINVAL);
    const fresh = opsByName(k, "D", "direct");
    expect(modify_ftrace_direct(k, fresh, T_NEAR)).toBe(EINVAL);
  });

  it("answers -ENODEV to everything once ftrace_kill ran, and keeps the hashes of an ops it could not unregister", () => {
    const k = bootUpstream();
    const { ops: a } = regOrdinary(k, "A", ["f"]);
    const { ops: d } = regDirect(k, "D", ["g"], T_NEAR);
    const before = allSites(k);
    ftrace_kill(k);
    const ENODEV = -ERRNO.ENODEV;
    expect(ftrace_set_filter(k, a, [ipOf(k, "g")])).toBe(ENODEV);
    expect(ftrace_set_notrace(k, a, [ipOf(k, "g")])).toBe(ENODEV);
    expect(unregister_ftrace_function(k, a)).toBe(ENODEV);
    expect(regOrdinary(k, "B", ["h"]).ret).toBe(ENODEV);
    k.events = [];
    expect(unregister_ftrace_direct(k, d, T_NEAR, true)).toBe(ENODEV);
    expect(warnings(k)).toEqual(["ftrace_free_filter: D is still enabled"]);
    expect([...d.funcHash.filter]).toEqual([ipOf(k, "g")]);
    expect(allSites(k)).toEqual(before);
  });
});

describe("a live filter change of a direct ops onto a function without a direct_functions entry", () => {
  it("WARNs as the kernel does, and sends the site to the ops' trampoline (ftrace_caller) through the TRAMP bits, and back", () => {
    const k = bootUpstream();
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    k.events = [];
    expect(ftrace_set_filter(k, d, [ipOf(k, "f"), ipOf(k, "g")])).toBe(0);
    expect(warnings(k)).toEqual(["ftrace_get_addr_new: g wants a direct call but has no direct_functions entry"]);
    expect(flagsOf(k, "g")).toBe("ENABLED|TRAMP|TRAMP_EN|DIRECT|DIRECT_EN|CALL_OPS|CALL_OPS_EN|TOUCHED|MODIFIED count=1");
    expect(siteWords(k, "g")).toEqual({ literal: d.addr, mov: MOV_X9_X30_WORD, insn: blFrom(k, "g", FTRACE_CALLER) });
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", T_NEAR));
    k.events = [];
    expect(ftrace_set_filter(k, d, [ipOf(k, "f")])).toBe(0);
    expect(warnings(k)).toEqual(["ftrace_get_addr_curr: g has DIRECT_EN but no direct_functions entry"]);
    expect(k.events.some((e) => e.kind === "bug")).toBe(false);
    expect(k.disabled).toBe(false);
    expect(siteWords(k, "g").insn).toBe(NOP_WORD);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", T_NEAR));
  });

  it("finds the trampoline of a removed, a modified and an unchanged ops by the right hash, with no other WARN", () => {
    const k = bootUpstream();
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    ftrace_set_filter(k, d, [ipOf(k, "f"), ipOf(k, "g")]);
    // Another ops joins g (list), then leaves: the site moves from ftrace_caller to ftrace_caller by TRAMP_EN.
    k.events = [];
    regOrdinary(k, "A", ["g"]);
    expect(unregister(k, "A")).toBe(0);
    expect(k.disabled).toBe(false);
    expect(warnings(k).filter((w) => !/direct_functions entry/.test(w))).toEqual([]);
    expect(siteWords(k, "g")).toEqual({ literal: d.addr, mov: MOV_X9_X30_WORD, insn: blFrom(k, "g", FTRACE_CALLER) });
    // modify_ftrace_direct keeps g on ftrace_caller, moves f to the new trampoline.
    k.events = [];
    expect(modify_ftrace_direct(k, d, T_NEAR2)).toBe(0);
    expect(k.disabled).toBe(false);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", T_NEAR2));
    expect(siteWords(k, "g").insn).toBe(blFrom(k, "g", FTRACE_CALLER));
    // Unregistering takes both sites back to NOP through the removed ops' old hash.
    k.events = [];
    expect(unregister_ftrace_direct(k, d, T_NEAR2, true)).toBe(0);
    expect(k.disabled).toBe(false);
    expect(k.events.some((e) => e.kind === "bug")).toBe(false);
    expect(siteWords(k, "f").insn).toBe(NOP_WORD);
    expect(siteWords(k, "g").insn).toBe(NOP_WORD);
  });
});

describe("the core's defensive WARN_ONs (FTRACE_WARN_ON: warn and kill ftrace)", () => {
  it("a reference count at FTRACE_REF_MAX", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    r.flags = (r.flags | (FTRACE_REF_MAX - 1)) >>> 0;
    k.events = [];
    regOrdinary(k, "A", ["f"]);
    expect(warnings(k)).toEqual(["ftrace: ref count of f hit FTRACE_REF_MAX"]);
    expect(k.disabled).toBe(true);
  });

  it("a reference count already 0 when an ops leaves", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    const r = recOf(k, "f");
    r.flags = (r.flags & ~FTRACE_REF_MAX) >>> 0;
    k.events = [];
    unregister(k, "A");
    expect(warnings(k)).toEqual(["ftrace: ref count of f already 0 on removal of A"]);
    expect(k.disabled).toBe(true);
  });

  it("a record left with flags when the last ops is gone", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    const g = recOf(k, "g");
    g.flags = (g.flags | FTRACE_FL.CALL_OPS) >>> 0;
    expect(unregister(k, "A")).toBe(0);
    expect(warnings(k)).toEqual(["ftrace_shutdown: g still has flags CALL_OPS count=0 with no ops registered"]);
    expect(k.disabled).toBe(true);
  });

  it("a DISABLED record is left alone by every update", () => {
    const k = bootUpstream();
    const g = recOf(k, "g");
    g.flags = (g.flags | FTRACE_FL.DISABLED) >>> 0;
    const before = siteWords(k, "g");
    regOrdinary(k, "A", []);
    expect(siteWords(k, "g")).toEqual(before);
    expect(recCount(recOf(k, "g").flags)).toBe(0);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(unregister(k, "A")).toBe(0);
    expect(siteWords(k, "g")).toEqual(before);
  });
});
