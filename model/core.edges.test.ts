// The ftrace core's rarely taken paths, driven directly: the generic trampoline lookups
// (ftrace_get_addr_new/_curr with ftrace_find_tramp_ops_*), given per-ops trampolines as an arch with
// arch_ftrace_update_trampoline would have them; REGS bookkeeping; ftrace_check_record on stale bits; the global
// trace function (update_ftrace_function) and what its change decides in ftrace_shutdown; IPMODIFY marks that
// belong to one ops; the direct API's refusals and a dead ftrace. Each test states the kernel's behaviour; the
// mutation run (npm run mutation) relies on them where the property suite never goes.

import { describe, expect, it } from "vitest";
import { opsByName } from "./boot.ts";
import {
  __ftrace_hash_rec_update,
  ftrace_check_record,
  ftrace_find_unique_ops,
  ftrace_get_addr_curr,
  ftrace_get_addr_new,
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
import { FTRACE_FL, FTRACE_OPS_FL, formatOpsFlags, formatRecFlags } from "./flags.ts";
import type { DynFtrace, FtraceOps, Kernel, UpdaterNote } from "./kernel.ts";
import { FTRACE_CALLER, T_FAR, T_NEAR, T_NEAR2, allSites, blFrom, bootUpstream, flagsOf, ipOf, ipmodifyOn, recOf, regDirect, regIpmodify, regOrdinary, siteWords, warnings } from "./testkit.ts";

const EINVAL = -ERRNO.EINVAL;
const EBUSY = -ERRNO.EBUSY;
const ENODEV = -ERRNO.ENODEV;



/** An ordinary ops with the given hashes (by function name) and trampoline, not registered. */
function opsWith(k: Kernel, name: string, filter: ReadonlyArray<string>, trampoline: bigint, extra: Partial<Pick<FtraceOps, "flags" | "oldHash">> = {}): FtraceOps {
  const ops = opsByName(k, name, "ordinary");
  ops.funcHash = { filter: new Set(filter.map((f) => ipOf(k, f))), notrace: new Set() };
  ops.trampoline = trampoline;
  if (extra.flags !== undefined) ops.flags = extra.flags;
  if (extra.oldHash !== undefined) ops.oldHash = extra.oldHash;
  return ops;
}

function everyFunction(k: Kernel): string[] {
  return k.recs.map((r) => r.fn);
}

function hashOf(k: Kernel, fns: ReadonlyArray<string>): FtraceOps["funcHash"] {
  return { filter: new Set(fns.map((f) => ipOf(k, f))), notrace: new Set() };
}

/** A record of f wanting (TRAMP) or having (TRAMP_EN) a trampoline, with no direct bits. */
function trampRec(k: Kernel, bit: number): DynFtrace {
  const r = recOf(k, "f");
  r.flags = (FTRACE_FL.ENABLED | bit | 1) >>> 0;
  return r;
}

describe("ftrace_get_addr_new with TRAMP: the first listed ops that traces the function gives the trampoline", () => {
  it("returns that ops' trampoline", () => {
    const k = bootUpstream();
    k.opsList = [opsWith(k, "B", ["g"], T_NEAR2), opsWith(k, "A", ["f"], T_NEAR)];
    expect(ftrace_get_addr_new(k, trampRec(k, FTRACE_FL.TRAMP))).toBe(T_NEAR);
    expect(warnings(k)).toEqual([]);
  });

  it("an ops without a trampoline there: FTRACE_WARN_ON, ftrace killed, ftrace_caller", () => {
    const k = bootUpstream();
    k.opsList = [opsWith(k, "A", ["f"], 0n)];
    expect(ftrace_get_addr_new(k, trampRec(k, FTRACE_FL.TRAMP))).toBe(FTRACE_CALLER);
    expect(warnings(k)).toEqual(["ftrace_get_addr_new: no trampoline ops for f"]);
    expect(k.disabled).toBe(true);
  });

  it("no ops tracing the function: the same warning", () => {
    const k = bootUpstream();
    k.opsList = [opsWith(k, "A", ["g"], T_NEAR)];
    expect(ftrace_get_addr_new(k, trampRec(k, FTRACE_FL.TRAMP))).toBe(FTRACE_CALLER);
    expect(warnings(k)).toEqual(["ftrace_get_addr_new: no trampoline ops for f"]);
    expect(k.disabled).toBe(true);
  });
});

describe("ftrace_get_addr_curr with TRAMP_EN (ftrace_find_tramp_ops_curr)", () => {
  const curr = (k: Kernel): bigint => ftrace_get_addr_curr(k, trampRec(k, FTRACE_FL.TRAMP_EN));

  it("the ops being removed comes first, judged by its old hash", () => {
    const k = bootUpstream();
    const r = opsWith(k, "R", [], T_FAR, { oldHash: hashOf(k, ["f"]) });
    k.removedOps = r;
    k.opsList = [opsWith(k, "A", ["f"], T_NEAR)];
    expect(curr(k)).toBe(T_FAR);
  });

  it("an ops being removed whose old hash lacks the function is passed over", () => {
    const k = bootUpstream();
    k.removedOps = opsWith(k, "R", ["f"], T_FAR, { oldHash: hashOf(k, ["g"]) });
    k.opsList = [opsWith(k, "A", ["f"], T_NEAR)];
    expect(curr(k)).toBe(T_NEAR);
  });

  it("skips listed ops without a trampoline and ops still being added", () => {
    const k = bootUpstream();
    k.opsList = [opsWith(k, "Z", ["f"], 0n), opsWith(k, "N", ["f"], T_FAR, { flags: FTRACE_OPS_FL.ADDING }), opsWith(k, "A", ["f"], T_NEAR)];
    expect(curr(k)).toBe(T_NEAR);
    expect(warnings(k)).toEqual([]);
  });

  it("judges an ops being modified by its old hash only, any other by its filter", () => {
    const k = bootUpstream();
    const moving = opsWith(k, "M", ["f"], T_FAR, { flags: FTRACE_OPS_FL.MODIFYING, oldHash: hashOf(k, ["g"]) });
    const stale = opsWith(k, "S", ["g"], T_NEAR2, { oldHash: hashOf(k, ["f"]) });
    const elsewhere = opsWith(k, "E", ["h"], T_FAR);
    k.opsList = [moving, stale, elsewhere, opsWith(k, "A", ["f"], T_NEAR)];
    expect(curr(k)).toBe(T_NEAR);
    const leaving = opsWith(k, "L", ["g"], T_NEAR2, { flags: FTRACE_OPS_FL.MODIFYING, oldHash: hashOf(k, ["f"]) });
    k.opsList = [leaving, ...k.opsList];
    expect(curr(k)).toBe(T_NEAR2);
  });

  it("none found: FTRACE_WARN_ON, ftrace killed, ftrace_caller", () => {
    const k = bootUpstream();
    k.opsList = [opsWith(k, "A", ["g"], T_NEAR)];
    expect(curr(k)).toBe(FTRACE_CALLER);
    expect(warnings(k)).toEqual(["ftrace_get_addr_curr: no current trampoline ops for f"]);
    expect(k.disabled).toBe(true);
  });
});

describe("TRAMP when a direct ops leaves a function another ops still traces (ftrace_find_tramp_ops_any_other)", () => {
  it("the leaving ops' own trampoline does not count: the site goes to ftrace_caller on the survivor, with no WARN", () => {
    const k = bootUpstream();
    const { ops: a } = regOrdinary(k, "A", ["f"]);
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    k.events = [];
    expect(ftrace_set_filter(k, d, [ipOf(k, "g")])).toBe(0);
    expect(warnings(k)).toEqual(["ftrace_get_addr_new: g wants a direct call but has no direct_functions entry"]);
    expect(k.disabled).toBe(false);
    expect(flagsOf(k, "f")).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED|MODIFIED count=1");
    expect(siteWords(k, "f")).toMatchObject({ literal: a.addr, insn: blFrom(k, "f", FTRACE_CALLER) });
  });
});

describe("ftrace_find_unique_ops on an empty ftrace_ops_list", () => {
  it("walks ftrace_list_end alone, whose empty hashes match every function", () => {
    const k = bootUpstream();
    expect(ftrace_find_unique_ops(k, recOf(k, "f"))).toBe(k.listEnd);
  });
});

describe("REGS bookkeeping (test_rec_ops_needs_regs)", () => {
  it("a function keeps REGS while some listed SAVE_REGS ops traces it, and loses it with the last one", () => {
    const k = bootUpstream();
    const regs = { flags: ["SAVE_REGS_IF_SUPPORTED"] as const };
    regOrdinary(k, "C", ["f", "g"]);
    regOrdinary(k, "A", ["f"], regs);
    regOrdinary(k, "B", ["f"], regs);
    regOrdinary(k, "G", ["g"], regs);
    expect(k.ops.get("A")!.flags & FTRACE_OPS_FL.SAVE_REGS).not.toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|REGS|REGS_EN|TOUCHED count=3");
    expect(unregister_ftrace_function(k, k.ops.get("A")!)).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|REGS|REGS_EN|TOUCHED count=2");
    expect(unregister_ftrace_function(k, k.ops.get("B")!)).toBe(0);
    expect(flagsOf(k, "f")).toBe("ENABLED|CALL_OPS|CALL_OPS_EN|TOUCHED count=1");
  });
});

describe("ftrace_check_record on bits another path left behind", () => {
  const F = FTRACE_FL;
  const mk = (flags: number): DynFtrace => ({ fn: "x", ip: 0xffff800008010000n, flags: flags >>> 0 });

  it("count 2 with CALL_OPS and CALL_OPS_EN both set: CALL_OPS_EN goes (it is installable only at count 1)", () => {
    const r = mk(F.ENABLED | F.CALL_OPS | F.CALL_OPS_EN | 2);
    expect(ftrace_check_record(r, true, false)).toBe("MODIFY_CALL");
    expect(ftrace_check_record(r, true, true)).toBe("MODIFY_CALL");
    expect(formatRecFlags(r.flags)).toBe("ENABLED|CALL_OPS|TOUCHED count=2");
  });

  it("disabling a record that still has users clears only the installed bits, keeping the count and the wanted bits", () => {
    const r = mk(F.ENABLED | F.TRAMP | F.TRAMP_EN | F.DIRECT | F.DIRECT_EN | F.CALL_OPS | F.CALL_OPS_EN | F.TOUCHED | 1);
    expect(ftrace_check_record(r, false, true)).toBe("MAKE_NOP");
    expect(formatRecFlags(r.flags)).toBe("TRAMP|DIRECT|CALL_OPS|TOUCHED count=1");
  });
});

describe("update_ftrace_function: the global trace function", () => {
  it("ftrace_stub with no ops, the list function with several or a dynamic one, a lone static ops' own func or the assist function", () => {
    const k = bootUpstream();
    expect(k.ftraceTraceFunction).toBe("ftrace_stub");
    const { ops: a } = regOrdinary(k, "A", ["f"]);
    expect(formatOpsFlags(a.flags)).toContain("DYNAMIC");
    expect(k.ftraceTraceFunction).toBe("ftrace_ops_list_func");
    regOrdinary(k, "B", ["g"]);
    expect(k.ftraceTraceFunction).toBe("ftrace_ops_list_func");
    unregister_ftrace_function(k, a);
    unregister_ftrace_function(k, k.ops.get("B")!);
    expect(k.ftraceTraceFunction).toBe("ftrace_stub");
    // tmp_ops is static (core kernel data): alone, its own func is the trace function, or the assist function
    // when it asks for recursion protection.
    const t = k.tmpOps;
    ftrace_set_filter(k, t, [ipOf(k, "h")]);
    expect(register_ftrace_function(k, t)).toBe(0);
    expect(k.ftraceTraceFunction).toBe("tmp_ops.func");
    regOrdinary(k, "B", ["g"]);
    expect(k.ftraceTraceFunction).toBe("ftrace_ops_list_func");
    unregister_ftrace_function(k, k.ops.get("B")!);
    expect(k.ftraceTraceFunction).toBe("tmp_ops.func");
    unregister_ftrace_function(k, t);
    t.flags |= FTRACE_OPS_FL.RECURSION;
    expect(register_ftrace_function(k, t)).toBe(0);
    expect(k.ftraceTraceFunction).toBe("ftrace_ops_assist_func");
    // With the static ops at the head of a list of two, the list function still.
    unregister_ftrace_function(k, t);
    t.flags &= ~FTRACE_OPS_FL.RECURSION;
    regOrdinary(k, "B", ["g"]);
    expect(register_ftrace_function(k, t)).toBe(0);
    expect(k.opsList.map((o) => o.name)).toEqual(["tmp_ops", "B"]);
    expect(k.ftraceTraceFunction).toBe("ftrace_ops_list_func");
  });

  it("the last ops leaving changes the trace function, so ftrace_shutdown checks the records even when no site changes", () => {
    const k = bootUpstream();
    // An ops that traces nothing here: every function, less every function there is.
    const { ops: a } = regOrdinary(k, "A", [], { notrace: everyFunction(k) });
    expect(allSites(k)).toEqual(allSites(bootUpstream()));
    const g = recOf(k, "g");
    g.flags = (g.flags | FTRACE_FL.CALL_OPS) >>> 0;
    k.events = [];
    expect(unregister_ftrace_function(k, a)).toBe(0);
    expect(warnings(k)).toEqual(["ftrace_shutdown: g still has flags CALL_OPS count=0 with no ops registered"]);
    expect(k.disabled).toBe(true);
  });

  it("a dynamic ops waits for both RCU-tasks flavours on shutdown even when neither a site nor the trace function changes", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    const { ops: b } = regOrdinary(k, "B", [], { notrace: everyFunction(k) });
    k.events = [];
    expect(unregister_ftrace_function(k, b)).toBe(0);
    expect(k.events.filter((e) => e.kind === "write")).toEqual([]);
    expect(k.events.flatMap((e) => (e.kind === "sync" ? [e.what] : []))).toEqual(["synchronize_rcu_tasks_rude", "synchronize_rcu_tasks"]);
  });
});

describe("IPMODIFY marks belong to their ops", () => {

  it("registering, re-filtering and unregistering another IPMODIFY ops leaves the first one's functions marked", () => {
    const k = bootUpstream();
    expect(regIpmodify(k, "A", ["f"])).toBe(0);
    expect(regIpmodify(k, "B", ["g"])).toBe(0);
    expect(ipmodifyOn(k, "f")).toBe(true);
    const b = k.ops.get("B")!;
    expect(ftrace_set_filter(k, b, [ipOf(k, "g"), ipOf(k, "h")])).toBe(0);
    expect([ipmodifyOn(k, "f"), ipmodifyOn(k, "g"), ipmodifyOn(k, "h")]).toEqual([true, true, true]);
    expect(unregister_ftrace_function(k, b)).toBe(0);
    expect([ipmodifyOn(k, "f"), ipmodifyOn(k, "g"), ipmodifyOn(k, "h")]).toEqual([true, false, false]);
    expect(regIpmodify(k, "C", ["f"])).toBe(EBUSY);
  });

  it("a refused IPMODIFY ops unmarks what it had marked before the clash", () => {
    const k = bootUpstream();
    expect(regIpmodify(k, "A", ["g"])).toBe(0);
    expect(regIpmodify(k, "B", ["f", "g"])).toBe(EBUSY);
    expect(ipmodifyOn(k, "f")).toBe(false);
    expect(ipmodifyOn(k, "g")).toBe(true);
  });

  it("a DISABLED record is never marked", () => {
    const k = bootUpstream();
    const g = recOf(k, "g");
    g.flags = (g.flags | FTRACE_FL.DISABLED) >>> 0;
    expect(regIpmodify(k, "A", ["f", "g"])).toBe(0);
    expect(ipmodifyOn(k, "f")).toBe(true);
    expect(ipmodifyOn(k, "g")).toBe(false);
  });

  it("a direct ops leaving or moving leaves another ops' marks alone", () => {
    const k = bootUpstream();
    expect(regIpmodify(k, "A", ["g"])).toBe(0);
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    expect(modify_ftrace_direct(k, d, T_NEAR2)).toBe(0);
    expect(ipmodifyOn(k, "g")).toBe(true);
    // The IPMODIFY ops takes the direct function too (a live filter change is allowed to), then the direct ops
    // moves off it: g keeps A's mark.
    const e = regDirect(k, "E", ["h"], T_NEAR).ops;
    expect(ftrace_set_filter(k, e, [ipOf(k, "h"), ipOf(k, "g")])).toBe(EBUSY);
    expect(ftrace_set_notrace(k, d, [ipOf(k, "g")])).toBe(0);
    expect(ipmodifyOn(k, "g")).toBe(true);
    expect(regIpmodify(k, "B", ["g"])).toBe(EBUSY);
  });

  it("a direct ops moving onto a function with an IPMODIFY ops and another direct ops: FTRACE_WARN_ON and -EBUSY", () => {
    const k = bootUpstream();
    regDirect(k, "D", ["f"], T_NEAR);
    const { ops: a } = regOrdinary(k, "A", ["g"], { flags: ["IPMODIFY"] });
    expect(ftrace_set_filter(k, a, [ipOf(k, "f")])).toBe(0);
    const { ops: e } = regDirect(k, "E", ["h"], T_NEAR2);
    k.events = [];
    expect(ftrace_set_filter(k, e, [ipOf(k, "h"), ipOf(k, "f")])).toBe(EBUSY);
    expect(warnings(k)).toEqual(["__ftrace_hash_update_ipmodify: f already has a direct call"]);
    expect(k.disabled).toBe(true);
  });
});

describe("the direct API's refusals", () => {
  it("register_ftrace_direct with an empty filter changes nothing of the ops", () => {
    const k = bootUpstream();
    const d = opsByName(k, "D", "direct");
    ftrace_set_filter(k, d, []);
    const flags = d.flags;
    expect(register_ftrace_direct(k, d, T_NEAR)).toBe(EINVAL);
    expect(d.flags).toBe(flags);
    expect(d.direct_call).toBe(0n);
    expect(k.directFunctions.size).toBe(0);
  });

  it("register_ftrace_direct refuses an ops with a func, or with a trampoline, each alone", () => {
    const k = bootUpstream();
    const d = opsByName(k, "D", "direct");
    ftrace_set_filter(k, d, [ipOf(k, "f")]);
    d.func = k.helpers.ftrace_stub;
    expect(register_ftrace_direct(k, d, T_NEAR)).toBe(EINVAL);
    d.func = 0n;
    d.trampoline = FTRACE_CALLER;
    expect(register_ftrace_direct(k, d, T_NEAR)).toBe(EINVAL);
    d.trampoline = 0n;
    expect(k.directFunctions.size).toBe(0);
    expect(register_ftrace_direct(k, d, T_NEAR)).toBe(0);
  });

  it("unregister_ftrace_direct without free_filters keeps the filter, so the ops registers again as it was", () => {
    const k = bootUpstream();
    const { ops: d } = regDirect(k, "D", ["f", "g"], T_NEAR);
    expect(unregister_ftrace_direct(k, d, T_NEAR, false)).toBe(0);
    expect([...d.funcHash.filter]).toEqual([ipOf(k, "f"), ipOf(k, "g")]);
    expect(register_ftrace_direct(k, d, T_NEAR2)).toBe(0);
    expect(siteWords(k, "g").insn).toBe(blFrom(k, "g", T_NEAR2));
  });

  it("modify_ftrace_direct tells a recorder that tmp_ops shares the ops' hash", () => {
    const k = bootUpstream();
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    const notes: UpdaterNote[] = [];
    k.note = (n) => notes.push(n);
    expect(modify_ftrace_direct(k, d, T_NEAR2)).toBe(0);
    expect(notes.filter((n) => n.kind === "hash-share")).toEqual([{ kind: "hash-share", ops: "tmp_ops", from: "D" }]);
  });

  it("the direct API on a dead ftrace: modify_ftrace_direct is -ENODEV and retargets nothing", () => {
    const k = bootUpstream();
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    const before = allSites(k);
    ftrace_kill(k);
    expect(modify_ftrace_direct(k, d, T_NEAR2)).toBe(ENODEV);
    expect(d.direct_call).toBe(T_NEAR);
    expect(k.directFunctions.get(ipOf(k, "f"))).toBe(T_NEAR);
    expect(allSites(k)).toEqual(before);
  });

  it("a notrace change of a direct ops is not an IPMODIFY question", () => {
    const k = bootUpstream();
    const { ops: d } = regDirect(k, "D", ["f"], T_NEAR);
    regOrdinary(k, "A", ["g"], { flags: ["IPMODIFY"] });
    expect(ftrace_set_notrace(k, d, [ipOf(k, "g")])).toBe(0);
  });
});

describe("registration on a dead ftrace and unlisted ops", () => {
  it("ftrace_startup on a dead ftrace is -ENODEV and touches neither the ops nor a record", () => {
    const k = bootUpstream();
    const a = opsByName(k, "A", "ordinary");
    ftrace_set_filter(k, a, [ipOf(k, "f")]);
    const flags = a.flags;
    ftrace_kill(k);
    expect(register_ftrace_function(k, a)).toBe(ENODEV);
    expect(a.flags).toBe(flags);
    expect(flagsOf(k, "f")).toBe("- count=0");
    expect(k.opsList).toEqual([]);
  });

  it("an enabled ops missing from ftrace_ops_list: unregistering it is -EPERM (remove_ftrace_ops finds nothing)", () => {
    const k = bootUpstream();
    regOrdinary(k, "B", ["g"]);
    const a = opsByName(k, "A", "ordinary");
    a.flags |= FTRACE_OPS_FL.ENABLED;
    expect(unregister_ftrace_function(k, a)).toBe(-ERRNO.EPERM);
    expect(k.opsList.map((o) => o.name)).toEqual(["B"]);
  });

  it("a record left DISABLED with stale TRAMP is passed over by the update loop, with no lookup and no WARN", () => {
    const k = bootUpstream();
    const g = recOf(k, "g");
    g.flags = (g.flags | FTRACE_FL.DISABLED | FTRACE_FL.TRAMP) >>> 0;
    k.events = [];
    expect(regOrdinary(k, "A", []).ret).toBe(0);
    expect(warnings(k)).toEqual([]);
    expect(k.disabled).toBe(false);
  });

  it("ftrace_bug names the record, its ip and the error", () => {
    const k = bootUpstream();
    k.mem.write32(ipOf(k, "g"), blFrom(k, "g", T_NEAR));
    regOrdinary(k, "A", ["g"]);
    expect(k.events.flatMap((e) => (e.kind === "bug" ? [e.message] : []))).toEqual([`ftrace_bug: g (ip 0x${ipOf(k, "g").toString(16)}) failed with ${EINVAL}`]);
  });

  it("__ftrace_hash_rec_update on an ops that is not enabled does nothing", () => {
    const k = bootUpstream();
    const a = opsWith(k, "A", ["f"], 0n);
    expect(__ftrace_hash_rec_update(k, a, true)).toBe(false);
    expect(flagsOf(k, "f")).toBe("- count=0");
  });
});
