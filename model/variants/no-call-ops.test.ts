// The designs without CALL_OPS: sites with no literal, the global trace function patched into ftrace_caller's
// `ftrace_call` with function_trace_op beside it, direct calls through the late exit (the pending series), and
// ftrace_regs_caller with its own module PLT entry (WITH_REGS, and 91970bef48d6's bug).

import { describe, expect, it } from "vitest";
import { boot } from "../boot.ts";
import { ftrace_set_filter, register_ftrace_function, unregister_ftrace_function } from "../core.ts";
import { callFunction } from "../exec.ts";
import { NOP_WORD, decode, disasm } from "../insn.ts";
import { withMutant } from "../mutants.ts";
import { FTRACE_CALLER, MOD_PLT, T_FAR, T_NEAR, bl, blFrom, flagsOf, ipOf, layout, regDirect, regOrdinary, symbolAddr, warnings } from "../testkit.ts";
import { literalAddr } from "../layout.ts";
import { directWithoutCallOps, withRegs } from "./no-call-ops.ts";
import type { Kernel } from "../kernel.ts";

/** What ftrace_caller's `ftrace_call` BL reaches now, by symbol. */
function ftraceCallTarget(k: Kernel): string {
  const pc = symbolAddr(k, "ftrace_call");
  return disasm(decode(k.mem.read32(pc)), pc, (a) => k.symbols.get(a));
}

describe("a design without CALL_OPS", () => {
  it("boots with no literal written and ftrace_call calling ftrace_stub, function_trace_op at ftrace_list_end", () => {
    const k = boot(layout(), directWithoutCallOps);
    expect(k.mem.has(literalAddr(ipOf(k, "f")))).toBe(false);
    expect(ftraceCallTarget(k)).toBe("bl ftrace_stub");
    expect(k.mem.read64(k.functionTraceOp)).toBe(k.listEnd.addr);
  });

  it("patches NOP -> BL ftrace_caller with no literal store, and the global trace function becomes the list function", () => {
    const k = boot(layout(), directWithoutCallOps);
    const { ret } = regOrdinary(k, "A", ["f"]);
    expect(ret).toBe(0);
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(k.events.some((e) => e.kind === "write" && e.what === "literal")).toBe(false);
    // A heap ops is DYNAMIC: even alone it goes through the list function, which ignores function_trace_op.
    expect(ftraceCallTarget(k)).toBe("bl ftrace_ops_list_func");
    expect(k.mem.read64(k.functionTraceOp)).toBe(k.listEnd.addr);
    expect(flagsOf(k, "f")).toBe("ENABLED|TOUCHED count=1");
    const obs = callFunction(k, "f");
    expect(obs.path).toBe("caller-list");
    expect(obs.handlers.map((h) => h.ops)).toEqual(["A"]);
    expect(obs.returned).toBe(true);
    expect(obs.violations).toEqual([]);
  });

  it("puts a lone static ops on the fast path: function_trace_op first, then ftrace_call to its func", () => {
    const k = boot(layout(), directWithoutCallOps);
    expect(register_ftrace_function(k, k.graphOps)).toBe(0);
    expect(k.mem.read64(k.functionTraceOp)).toBe(k.graphOps.addr);
    expect(ftraceCallTarget(k)).toBe("bl ftrace_graph_func");
    expect(unregister_ftrace_function(k, k.graphOps)).toBe(0);
    // Back to no ops: the stub, with function_trace_op left as it was (the kernel sets it only for a non-list function).
    expect(ftraceCallTarget(k)).toBe("bl ftrace_stub");
  });

  it("calls an out-of-range direct trampoline through the list function, call_direct_funcs and the late exit", () => {
    const k = boot(layout(), directWithoutCallOps);
    expect(regDirect(k, "D", ["f"], T_FAR).ret).toBe(0);
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", FTRACE_CALLER));
    const obs = callFunction(k, "f");
    expect(obs.path).toBe("caller-list");
    expect(obs.handlers.map((h) => h.ops)).toEqual(["D"]);
    expect(obs.tramps.map((t) => t.tramp)).toEqual(["TFAR"]);
    expect(obs.returned).toBe(true);
    expect(obs.violations).toEqual([]);
  });

  it("calls an in-range direct trampoline from the site itself", () => {
    const k = boot(layout(), directWithoutCallOps);
    expect(regDirect(k, "D", ["f"], T_NEAR).ret).toBe(0);
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", T_NEAR));
    const obs = callFunction(k, "f");
    expect(obs.path).toBe("direct-bl");
    expect(obs.handlers).toEqual([]);
  });
});

describe("WITH_REGS (v5.19..v6.1)", () => {
  it("refuses nothing for SAVE_REGS and sends a SAVE_REGS ops' functions to ftrace_regs_caller", () => {
    const k = boot(layout(), withRegs);
    const regsCaller = symbolAddr(k, "ftrace_regs_caller");
    expect(regOrdinary(k, "A", ["f"], { flags: ["SAVE_REGS"] }).ret).toBe(0);
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", regsCaller));
    expect(flagsOf(k, "f")).toBe("ENABLED|REGS|REGS_EN|TOUCHED count=1");
    const obs = callFunction(k, "f");
    expect(obs.handlers.map((h) => h.ops)).toEqual(["A"]);
    expect(obs.returned).toBe(true);
    expect(obs.violations).toEqual([]);
  });

  it("moves a site between ftrace_caller and ftrace_regs_caller with ftrace_modify_call as SAVE_REGS ops come and go", () => {
    const k = boot(layout(), withRegs);
    const regsCaller = symbolAddr(k, "ftrace_regs_caller");
    regOrdinary(k, "A", ["f"]);
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", FTRACE_CALLER));
    const b = regOrdinary(k, "B", ["f"], { flags: ["SAVE_REGS"] });
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", regsCaller));
    expect(unregister_ftrace_function(k, b.ops)).toBe(0);
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(warnings(k)).toEqual([]);
  });

  it("keeps REGS on a function a SAVE_REGS ops leaves by a live filter change (the kernel as written)", () => {
    const k = boot(layout(), withRegs);
    const regsCaller = symbolAddr(k, "ftrace_regs_caller");
    regOrdinary(k, "A", ["f"]);
    const r = regOrdinary(k, "R", ["f", "g"], { flags: ["SAVE_REGS"] });
    expect(ftrace_set_filter(k, r.ops, [ipOf(k, "g")])).toBe(0);
    // test_rec_ops_needs_regs runs while R still has its old hash, so it finds R itself and keeps the bit.
    expect(flagsOf(k, "f")).toBe("ENABLED|REGS|REGS_EN|TOUCHED count=1");
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", regsCaller));
    // R's unregistration re-tests g only; f keeps the bit until no ops traces it.
    expect(unregister_ftrace_function(k, r.ops)).toBe(0);
    expect(k.mem.read32(ipOf(k, "f"))).toBe(blFrom(k, "f", regsCaller));
  });

  it("reaches ftrace_regs_caller from a far module through the PLT's second entry", () => {
    const k = boot(layout(), withRegs);
    expect(symbolAddr(k, "m1.ftrace_regs_plt")).toBe(MOD_PLT + 12n);
    expect(regOrdinary(k, "A", ["m"], { flags: ["SAVE_REGS"] }).ret).toBe(0);
    expect(k.mem.read32(ipOf(k, "m"))).toBe(bl(ipOf(k, "m"), MOD_PLT + 12n));
    const obs = callFunction(k, "m");
    expect(obs.handlers.map((h) => h.ops)).toEqual(["A"]);
    expect(obs.violations).toEqual([]);
  });

  it("with 91970bef48d6's bug finds no PLT for ftrace_regs_caller, fails the patch and kills ftrace", () => {
    const k = boot(layout(), withMutant(withRegs, "regs-plt-unfound"));
    expect(regOrdinary(k, "A", ["m"], { flags: ["SAVE_REGS"] }).ret).not.toBe(0);
    expect(warnings(k)).toContain("ftrace: no module PLT for ftrace_regs_caller");
    expect(k.events.some((e) => e.kind === "bug")).toBe(true);
    expect(k.disabled).toBe(true);
    expect(k.mem.read32(ipOf(k, "m"))).toBe(NOP_WORD);
    // The same ops without SAVE_REGS reaches ftrace_caller's entry: only the regs entry was lost.
    const k2 = boot(layout(), withMutant(withRegs, "regs-plt-unfound"));
    expect(regOrdinary(k2, "A", ["m"]).ret).toBe(0);
    expect(k2.mem.read32(ipOf(k2, "m"))).toBe(bl(ipOf(k2, "m"), MOD_PLT));
  });
});
