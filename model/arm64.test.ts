// Tests for the arm64 arch hooks (arch/arm64/kernel/ftrace.c) on booted kernels, checked as words in memory:
// ftrace_init_nop at boot, ftrace_make_call / ftrace_make_nop / ftrace_modify_call (literal written before
// the instruction), ftrace_find_callable_addr at the exact BL range edges and with module PLTs,
// ftrace_modify_code's validation of the old instruction, arm64_rec_get_ops, and the module PLT veneer
// executed as real A64.

import { describe, expect, it } from "vitest";
import { AARCH64_BREAK_FAULT, aarch64_insn_gen_branch_imm, arm64_rec_get_ops, ftrace_find_callable_addr, ftrace_modify_code, get_ftrace_plt } from "./arm64.ts";
import { FTRACE_ADDR, ftrace_find_unique_ops } from "./core.ts";
import { ERRNO } from "./errno.ts";
import { callFunction } from "./exec.ts";
import { boot } from "./boot.ts";
import { withMutant } from "./mutants.ts";
import { upstream } from "./variants/upstream.ts";
import { FTRACE_FL, setFlag } from "./flags.ts";
import { BTI_C_WORD, MOV_X9_X30_WORD, NOP_WORD, decode, toHex } from "./insn.ts";
import type { DynFtrace, Kernel } from "./kernel.ts";
import { SZ_128M, literalAddr, type KernelSymbols, type Layout } from "./layout.ts";
import {
  F_ADDR,
  FTRACE_CALLER,
  KS,
  MOD_PLT,
  MOD_TEXT,
  T_FAR,
  T_NEAR,
  T_NEAR2,
  allSites,
  bl,
  blFrom,
  bootUpstream,
  fn,
  ipOf,
  layout,
  module,
  recOf,
  regDirect,
  regOrdinary,
  siteWords,
  tramp,
  writes,
} from "./testkit.ts";

const EINVAL = -ERRNO.EINVAL;

/** Run a hook with a clean event log and return its result plus the writes it made. */
function hook<T>(k: Kernel, run: () => T): { ret: T; w: ReturnType<typeof writes> } {
  k.events = [];
  const ret = run();
  return { ret, w: writes(k) };
}

/**
 * A kernel function f that reaches T_NEAR but not ftrace_caller, which sits beyond 128 MiB of kernel text; f's
 * site holds BL T_NEAR.
 */
function callerOutOfReach(): { ks: KernelSymbols; k: Kernel; r: DynFtrace } {
  const ks = { ...KS, textSize: 0x10000000n, ftrace_caller: KS.text + 0x9000000n };
  const k = bootUpstream({ ...layout(), kernel: ks, modules: [], functions: [fn("f", F_ADDR)] });
  const r = recOf(k, "f");
  k.mem.write32(r.ip, blFrom(k, "f", T_NEAR));
  return { ks, k, r };
}

describe("ftrace_init_nop (as run at boot)", () => {
  for (const bti of [false, true]) {
    it(`leaves literal = &ftrace_nop_ops, MOV X9, X30 at ip-4 and NOP at ip ${bti ? "with" : "without"} BTI`, () => {
      const k = bootUpstream(layout({ bti }));
      for (const name of ["f", "g", "h", "m"]) {
        const r = recOf(k, name);
        const f = k.layout.functions.find((x) => x.name === name)!;
        expect(r.ip).toBe(f.addr + (bti ? 8n : 4n));
        const s = siteWords(k, name);
        expect(s.literal).toBe(KS.ftrace_nop_ops);
        expect(literalAddr(r.ip)).toBe(f.addr - 8n);
        expect(s.mov).toBe(MOV_X9_X30_WORD);
        expect(s.insn).toBe(NOP_WORD);
        if (bti) expect(k.mem.read32(f.addr)).toBe(BTI_C_WORD);
        else expect(k.mem.read32(f.addr)).toBe(MOV_X9_X30_WORD);
        expect(r.flags).toBe(0);
      }
      expect(k.events).toEqual([]);
    });
  }

  it("writes the literal first, then the MOV, and validates that the slot still holds a NOP", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    const { ret, w } = hook(k, () => k.design.arch.ftrace_init_nop(k, r));
    // The MOV slot already holds MOV X9, X30, not the NOP the hook expects.
    expect(ret).toBe(EINVAL);
    expect(w.map((e) => e.what)).toEqual(["literal"]);
    expect(siteWords(k, "f").mov).toBe(MOV_X9_X30_WORD);
  });
});

describe("ftrace_make_call", () => {
  it("to ftrace_caller: literal = ftrace_list_ops (no CALL_OPS_EN), then NOP -> BL ftrace_caller", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k)));
    expect(ret).toBe(0);
    const s = siteWords(k, "f");
    expect(s.literal).toBe(KS.ftrace_list_ops);
    expect(s.insn).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(s.mov).toBe(MOV_X9_X30_WORD);
    expect(w).toEqual([
      { kind: "write", what: "literal", fn: "f", addr: literalAddr(r.ip), old: KS.ftrace_nop_ops, new: KS.ftrace_list_ops },
      { kind: "write", what: "insn", fn: "f", addr: r.ip, old: BigInt(NOP_WORD), new: BigInt(blFrom(k, "f", FTRACE_CALLER)), meant: FTRACE_CALLER },
    ]);
  });

  it("to an in-range trampoline: BL T", () => {
    const k = bootUpstream();
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_call(k, recOf(k, "f"), T_NEAR));
    expect(ret).toBe(0);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", T_NEAR));
    expect(w.map((e) => e.what)).toEqual(["literal", "insn"]);
  });

  it("to an out-of-range trampoline: BL ftrace_caller instead", () => {
    const k = bootUpstream();
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_call(k, recOf(k, "f"), T_FAR));
    expect(ret).toBe(0);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
    expect(w.map((e) => e.what)).toEqual(["literal", "insn"]);
  });

  it("for a module function far from the kernel: BL to the module's ftrace PLT (ftrace_caller and far trampolines alike)", () => {
    const k = bootUpstream();
    const r = recOf(k, "m");
    expect(k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k))).toBe(0);
    expect(siteWords(k, "m").insn).toBe(blFrom(k, "m", MOD_PLT));
    expect(ftrace_find_callable_addr(k, r, T_FAR)).toBe(MOD_PLT);
    expect(ftrace_find_callable_addr(k, r, FTRACE_CALLER)).toBe(MOD_PLT);
  });

  it("for a far module function whose module has no PLT: -EINVAL after the literal write, the NOP stays", () => {
    const k = bootUpstream(layout({ modules: [module("m1", MOD_TEXT, null)] }));
    const r = recOf(k, "m");
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k)));
    expect(ret).toBe(EINVAL);
    expect(siteWords(k, "m").insn).toBe(NOP_WORD);
    expect(w.map((e) => e.what)).toEqual(["literal"]);
    expect(k.events.some((e) => e.kind === "warn" && /no module PLT/.test(e.message))).toBe(true);
  });

  it("for a kernel function out of BL range of ftrace_caller (not in a module): no callable address", () => {
    const big = { ...KS, textSize: 0x10000000n };
    const far = KS.text + 0x9000000n;
    const l: Layout = { ...layout({ functions: [fn("f", F_ADDR), fn("z", far)] }), kernel: big };
    const k = bootUpstream(l);
    k.events = [];
    expect(ftrace_find_callable_addr(k, recOf(k, "z"), FTRACE_ADDR(k))).toBeNull();
    expect(k.events).toEqual([
      { kind: "warn", fn: "ftrace_find_callable_addr", message: `ftrace_find_callable_addr: z at ${toHex(ipOf(k, "z"))} cannot reach ${toHex(FTRACE_CALLER)} and is not in a module` },
    ]);
    expect(k.design.arch.ftrace_make_call(k, recOf(k, "z"), FTRACE_ADDR(k))).toBe(EINVAL);
    expect(siteWords(k, "z").insn).toBe(NOP_WORD);
  });

  it("refuses (-EINVAL, no instruction write) when rec->ip does not hold a NOP", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    expect(k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k))).toBe(0);
    const before = siteWords(k, "f").insn;
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_call(k, r, T_NEAR));
    expect(ret).toBe(EINVAL);
    expect(w.filter((e) => e.what === "insn")).toEqual([]);
    expect(siteWords(k, "f").insn).toBe(before);
  });
});

describe("ftrace_make_nop", () => {
  it("writes literal = ftrace_nop_ops, then BL -> NOP", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    expect(k.design.arch.ftrace_make_call(k, r, T_NEAR)).toBe(0);
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_nop(k, r, T_NEAR));
    expect(ret).toBe(0);
    expect(siteWords(k, "f")).toEqual({ literal: KS.ftrace_nop_ops, mov: MOV_X9_X30_WORD, insn: NOP_WORD });
    expect(w).toStrictEqual([
      { kind: "write", what: "literal", fn: "f", addr: literalAddr(r.ip), old: KS.ftrace_list_ops, new: KS.ftrace_nop_ops },
      { kind: "write", what: "insn", fn: "f", addr: r.ip, old: BigInt(blFrom(k, "f", T_NEAR)), new: BigInt(NOP_WORD) },
    ]);
    // A NOP aims at nothing: the write carries no `meant` key at all (not one set to undefined).
    expect(w[1]).not.toHaveProperty("meant");
  });

  it("validates the BL the old address resolves to: a wrong address gives -EINVAL and keeps the BL", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    expect(k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k))).toBe(0);
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_nop(k, r, T_NEAR));
    expect(ret).toBe(EINVAL);
    expect(w.filter((e) => e.what === "insn")).toEqual([]);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", FTRACE_CALLER));
  });

  it("accepts a far trampoline as the old address when the site branches to ftrace_caller", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    expect(k.design.arch.ftrace_make_call(k, r, T_FAR)).toBe(0);
    expect(k.design.arch.ftrace_make_nop(k, r, T_FAR)).toBe(0);
    expect(siteWords(k, "f").insn).toBe(NOP_WORD);
  });
});

describe("ftrace_modify_call", () => {
  it("writes the literal, then BL old -> BL new", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    expect(k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k))).toBe(0);
    const { ret, w } = hook(k, () => k.design.arch.ftrace_modify_call(k, r, FTRACE_ADDR(k), T_NEAR));
    expect(ret).toBe(0);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", T_NEAR));
    expect(w).toEqual([
      { kind: "write", what: "literal", fn: "f", addr: literalAddr(r.ip), old: KS.ftrace_list_ops, new: KS.ftrace_list_ops },
      { kind: "write", what: "insn", fn: "f", addr: r.ip, old: BigInt(blFrom(k, "f", FTRACE_CALLER)), new: BigInt(blFrom(k, "f", T_NEAR)), meant: T_NEAR },
    ]);
  });

  it("rewrites the same BL when only the ops changes (old == new)", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    expect(k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k))).toBe(0);
    const { ret, w } = hook(k, () => k.design.arch.ftrace_modify_call(k, r, FTRACE_ADDR(k), FTRACE_ADDR(k)));
    expect(ret).toBe(0);
    expect(w.map((e) => e.what)).toEqual(["literal", "insn"]);
    expect(w[1]!.old).toBe(w[1]!.new);
  });

  it("validates the old BL: a wrong old address gives -EINVAL and no instruction write", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    expect(k.design.arch.ftrace_make_call(k, r, T_NEAR)).toBe(0);
    const { ret, w } = hook(k, () => k.design.arch.ftrace_modify_call(k, r, T_NEAR2, FTRACE_ADDR(k)));
    expect(ret).toBe(EINVAL);
    expect(w.filter((e) => e.what === "insn")).toEqual([]);
    expect(siteWords(k, "f").insn).toBe(blFrom(k, "f", T_NEAR));
  });

  it("on a NOP site (nothing to modify) returns -EINVAL", () => {
    const k = bootUpstream();
    const { ret } = hook(k, () => k.design.arch.ftrace_modify_call(k, recOf(k, "f"), FTRACE_ADDR(k), T_NEAR));
    expect(ret).toBe(EINVAL);
    expect(siteWords(k, "f").insn).toBe(NOP_WORD);
  });
});

describe("ftrace_find_callable_addr at the BL range edges", () => {
  // fe has no BTI (rec->ip = func+4, 4 mod 8); fb has BTI (rec->ip = func+8, 0 mod 8). Each edge trampoline is
  // put on the function whose ip makes the edge address 8-byte aligned.
  const FE = 0xffff800009800000n;
  const FB = 0xffff800009800100n;
  const ipE = FE + 4n;
  const ipB = FB + 8n;
  const edges = [
    { what: "ip - 128 MiB", fn: "fb", ip: ipB, target: ipB - SZ_128M, reachable: true },
    { what: "ip + 128 MiB - 4", fn: "fe", ip: ipE, target: ipE + SZ_128M - 4n, reachable: true },
    { what: "ip - 128 MiB - 4", fn: "fe", ip: ipE, target: ipE - SZ_128M - 4n, reachable: false },
    { what: "ip + 128 MiB", fn: "fb", ip: ipB, target: ipB + SZ_128M, reachable: false },
  ] as const;
  const edgeLayout = (target: bigint): Layout =>
    layout({ functions: [fn("fe", FE), fn("fb", FB, { bti: true })], modules: [], trampolines: [tramp("TE", target)] });

  for (const e of edges) {
    it(`a trampoline at ${e.what} is ${e.reachable ? "used as is" : "replaced by ftrace_caller"}`, () => {
      const k = bootUpstream(edgeLayout(e.target));
      const r = recOf(k, e.fn);
      expect(r.ip).toBe(e.ip);
      expect(e.target % 8n).toBe(0n);
      expect(ftrace_find_callable_addr(k, r, e.target)).toBe(e.reachable ? e.target : FTRACE_CALLER);
      // Through the core: a direct ops alone on the function makes the site BL there.
      const { ret } = regDirect(k, "D", [e.fn], e.target);
      expect(ret).toBe(0);
      expect(siteWords(k, e.fn).insn).toBe(bl(e.ip, e.reachable ? e.target : FTRACE_CALLER));
      expect(siteWords(k, e.fn).literal).toBe(k.ops.get("D")!.addr);
    });
  }

  it("applies the same edges to any 4-byte aligned target, BTI or not", () => {
    const k = bootUpstream(edgeLayout(0xffff80000a000000n));
    for (const name of ["fe", "fb"]) {
      const r = recOf(k, name);
      expect(ftrace_find_callable_addr(k, r, r.ip - SZ_128M)).toBe(r.ip - SZ_128M);
      expect(ftrace_find_callable_addr(k, r, r.ip + SZ_128M - 4n)).toBe(r.ip + SZ_128M - 4n);
      expect(ftrace_find_callable_addr(k, r, r.ip - SZ_128M - 4n)).toBe(FTRACE_CALLER);
      expect(ftrace_find_callable_addr(k, r, r.ip + SZ_128M)).toBe(FTRACE_CALLER);
    }
  });

  it("aarch64_insn_gen_branch_imm gives AARCH64_BREAK_FAULT (and logs) for an unreachable target, never a wrapped BL", () => {
    const k = bootUpstream(edgeLayout(0xffff80000a000000n));
    k.events = [];
    expect(aarch64_insn_gen_branch_imm(k, ipB, ipB + SZ_128M, true)).toBe(AARCH64_BREAK_FAULT);
    expect(AARCH64_BREAK_FAULT).toBe(0xd4202000);
    expect(k.events).toEqual([
      {
        kind: "warn",
        fn: "aarch64_insn_gen_branch_imm",
        message: `aarch64_insn_gen_branch_imm: BL from ${toHex(ipB)} to ${toHex(ipB + SZ_128M)}: offset +0x8000000 is out of range [-128 MiB, +128 MiB - 4]`,
      },
    ]);
    expect(aarch64_insn_gen_branch_imm(k, ipB, ipB + SZ_128M - 8n, true)).toBe(bl(ipB, ipB + SZ_128M - 8n));
  });
});

describe("arm64_rec_get_ops", () => {
  it("returns ftrace_list_ops unless CALL_OPS_EN, and the unique ops when CALL_OPS_EN", () => {
    const k = bootUpstream();
    const { ops: a, ret } = regOrdinary(k, "A", ["f"]);
    expect(ret).toBe(0);
    const r = recOf(k, "f");
    expect(r.flags & FTRACE_FL.CALL_OPS_EN).not.toBe(0);
    expect(arm64_rec_get_ops(k, r)).toBe(a);
    const withoutEn = { ...r, flags: setFlag(r.flags, FTRACE_FL.CALL_OPS_EN, false) };
    expect(arm64_rec_get_ops(k, withoutEn)).toBe(k.listOps);
    // CALL_OPS alone (wanted, not installed) is not enough.
    const wantedOnly = { ...r, flags: setFlag(withoutEn.flags, FTRACE_FL.CALL_OPS, true) };
    expect(arm64_rec_get_ops(k, wantedOnly)).toBe(k.listOps);
  });

  it("falls back to ftrace_list_ops (with a warning) when CALL_OPS_EN is set but two ops match", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    regOrdinary(k, "B", ["f"]);
    const r = recOf(k, "f");
    expect(ftrace_find_unique_ops(k, r)).toBeNull();
    k.events = [];
    expect(arm64_rec_get_ops(k, { ...r, flags: setFlag(r.flags, FTRACE_FL.CALL_OPS_EN, true) })).toBe(k.listOps);
    expect(k.events.some((e) => e.kind === "warn" && /no unique ops/.test(e.message))).toBe(true);
  });
});

describe("module ftrace PLT", () => {
  it("is ADRP x16 / ADD x16, x16 / BR x16 materialising ftrace_caller", () => {
    const k = bootUpstream();
    const w0 = k.mem.read32(MOD_PLT);
    const w1 = k.mem.read32(MOD_PLT + 4n);
    const w2 = k.mem.read32(MOD_PLT + 8n);
    expect((w0 & 0x9f00001f) >>> 0).toBe(0x90000010); // ADRP x16, page
    expect((w1 & 0xffc003ff) >>> 0).toBe(0x91000210); // ADD x16, x16, #imm12
    expect(w2).toBe(0xd61f0200); // BR x16
    const adrp = decode(w0);
    const add = decode(w1);
    if (adrp.kind !== "adrp" || add.kind !== "add_imm") throw new Error("unexpected PLT words");
    expect((MOD_PLT & ~0xfffn) + BigInt(adrp.offset) + BigInt(add.imm12)).toBe(FTRACE_CALLER);
  });

  for (const bti of [false, true]) {
    it(`a traced module function's call runs through the PLT into ftrace_caller ${bti ? "(BTI: BR x16 may land on BTI C)" : ""}`, () => {
      const k = bootUpstream(layout({ bti }));
      const { ret } = regOrdinary(k, "A", ["m"]);
      expect(ret).toBe(0);
      expect(siteWords(k, "m").insn).toBe(blFrom(k, "m", MOD_PLT));
      const obs = callFunction(k, "m");
      expect(obs.violations).toEqual([]);
      expect(obs.path).toBe("caller-ops");
      expect(obs.handlers.map((h) => h.ops)).toEqual(["A"]);
      const pcs = obs.trace.map((l) => l.pc);
      const atBr = pcs.indexOf(MOD_PLT + 8n);
      expect(pcs.slice(atBr - 2, atBr + 2)).toEqual([MOD_PLT, MOD_PLT + 4n, MOD_PLT + 8n, FTRACE_CALLER]);
      expect(obs.trace[atBr]!.text).toMatch(/^br\s+x16/);
      expect(obs.branches).toContainEqual(expect.objectContaining({ kind: "br", reg: 16, from: MOD_PLT + 8n, to: FTRACE_CALLER }));
      expect(obs.bodies.map((b) => b.fn)).toEqual(["m"]);
    });
  }

  it("a direct ops on a far module function with a far trampoline: BL PLT, literal = the direct ops", () => {
    const k = bootUpstream();
    const { ops, ret } = regDirect(k, "D", ["m"], T_FAR);
    expect(ret).toBe(0);
    expect(siteWords(k, "m")).toEqual({ literal: ops.addr, mov: MOV_X9_X30_WORD, insn: blFrom(k, "m", MOD_PLT) });
    const obs = callFunction(k, "m");
    expect(obs.violations).toEqual([]);
    expect(obs.path).toBe("caller-direct");
    expect(obs.tramps.map((t) => t.tramp)).toEqual(["TFAR"]);
  });
});

describe("module init text and its own ftrace PLT (a7ed7b9d0ebb)", () => {
  // m1's init text 132 MiB past its text: out of BL range of both ftrace_caller and the core text's PLT.
  const INIT_TEXT = MOD_TEXT + 0x8400000n;
  const INIT_PLT = INIT_TEXT + 0x200000n;
  const withInit = (): Layout =>
    layout({
      modules: [{ ...module("m1", MOD_TEXT, MOD_PLT), init: { text: INIT_TEXT, textSize: 0x200000n, plt: INIT_PLT } }],
      functions: [fn("f", F_ADDR), fn("m", MOD_TEXT + 0x1000n, { module: "m1" }), fn("i", INIT_TEXT + 0x1000n, { module: "m1" })],
    });

  it("get_ftrace_plt gives a site in init text the init PLT, and one in core text the core PLT", () => {
    const k = bootUpstream(withInit());
    const m1 = k.layout.modules[0]!;
    expect(get_ftrace_plt(k, m1, recOf(k, "i").ip)).toBe(INIT_PLT);
    expect(get_ftrace_plt(k, m1, recOf(k, "m").ip)).toBe(MOD_PLT);
  });

  it("a traced init-text function runs BL init PLT -> BR x16 -> ftrace_caller", () => {
    const k = bootUpstream(withInit());
    const { ret } = regOrdinary(k, "A", ["i"]);
    expect(ret).toBe(0);
    expect(siteWords(k, "i").insn).toBe(blFrom(k, "i", INIT_PLT));
    const obs = callFunction(k, "i");
    expect(obs.violations).toEqual([]);
    expect(obs.handlers.map((h) => h.ops)).toEqual(["A"]);
    expect(obs.branches).toContainEqual(expect.objectContaining({ kind: "br", reg: 16, from: INIT_PLT + 8n, to: FTRACE_CALLER }));
  });

  it("before the fix (ftrace-plt-core-only) the init-text site is handed the core PLT, and a BRK is written", () => {
    const k = boot(withInit(), withMutant(upstream, "ftrace-plt-core-only"));
    const { ret } = regOrdinary(k, "A", ["i"]);
    expect(ret).toBe(0);
    expect(siteWords(k, "i").insn).toBe(AARCH64_BREAK_FAULT);
    expect(k.events.some((e) => e.kind === "warn" && e.message.startsWith("aarch64_insn_gen_branch_imm"))).toBe(true);
  });

  it("a module with init text but no init PLT cannot trace an out-of-range init function", () => {
    const l = withInit();
    const k = bootUpstream({ ...l, modules: [{ ...l.modules[0]!, init: { text: INIT_TEXT, textSize: 0x200000n, plt: null } }] });
    expect(ftrace_find_callable_addr(k, recOf(k, "i"), FTRACE_CALLER)).toBeNull();
    expect(k.events).toContainEqual({ kind: "warn", fn: "ftrace_find_callable_addr", message: "ftrace: no module PLT for i in m1" });
  });
});

describe("ftrace_modify_code", () => {
  it("refuses an address where nothing is mapped with -EFAULT, without a warning or a write", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    const pc = KS.text;
    expect(k.mem.has(pc)).toBe(false);
    const { ret } = hook(k, () => ftrace_modify_code(k, r, pc, NOP_WORD, MOV_X9_X30_WORD));
    expect(ret).toBe(-ERRNO.EFAULT);
    expect(k.events).toEqual([]);
    expect(k.mem.has(pc)).toBe(false);
  });

  it("warns with both words disassembled and as 8 hex digits when the site does not hold the expected one", () => {
    const k = bootUpstream();
    const r = recOf(k, "f");
    k.mem.write32(r.ip, 0x1234);
    const { ret, w } = hook(k, () => k.design.arch.ftrace_make_call(k, r, FTRACE_ADDR(k)));
    expect(ret).toBe(EINVAL);
    expect(w.map((e) => e.what)).toEqual(["literal"]);
    expect(k.events.filter((e) => e.kind === "warn")).toEqual([
      { kind: "warn", fn: "ftrace_modify_code", message: `ftrace_modify_code: f at ${toHex(r.ip)} holds ".word 0x00001234" (0x00001234), expected "nop" (0xd503201f)` },
    ]);
    expect(k.mem.read32(r.ip)).toBe(0x1234);
  });
});

describe("ftrace_modify_code validation through the core", () => {
  it("a tampered site (BL where the core expects a NOP) makes registration hit ftrace_bug without writing the BL", () => {
    const k = bootUpstream();
    const ip = ipOf(k, "f");
    const planted = bl(ip, T_NEAR);
    k.mem.write32(ip, planted);
    const before = allSites(k);
    k.events = [];
    // ftrace_startup notices ftrace died while patching: -ENODEV, and the ops is unlinked again.
    expect(regOrdinary(k, "A", ["f"]).ret).toBe(-ERRNO.ENODEV);
    expect(k.opsList).toEqual([]);
    expect(k.events.some((e) => e.kind === "bug")).toBe(true);
    expect(k.disabled).toBe(true);
    expect(writes(k).filter((e) => e.what === "insn")).toEqual([]);
    expect(siteWords(k, "f").insn).toBe(planted);
    expect(siteWords(k, "g")).toEqual(before["g"]);
  });
});

describe("hooks that find no callable address (a far module function without a PLT)", () => {
  it("ftrace_make_nop and ftrace_modify_call give -EINVAL after the literal write and leave the BL alone", () => {
    const k = bootUpstream(layout({ modules: [module("m1", MOD_TEXT, null)] }));
    const r = recOf(k, "m");
    const word = 0x94000000;
    k.mem.write32(r.ip, word);
    const nop = hook(k, () => k.design.arch.ftrace_make_nop(k, r, FTRACE_ADDR(k)));
    expect(nop.ret).toBe(EINVAL);
    expect(nop.w.map((e) => e.what)).toEqual(["literal"]);
    expect(k.mem.read32(r.ip)).toBe(word);
    const fromFar = hook(k, () => k.design.arch.ftrace_modify_call(k, r, FTRACE_ADDR(k), T_NEAR));
    expect(fromFar.ret).toBe(EINVAL);
    expect(fromFar.w.map((e) => e.what)).toEqual(["literal"]);
    expect(k.mem.read32(r.ip)).toBe(word);
  });

  it("ftrace_modify_call refuses when only the old target is out of reach, before looking at the new one", () => {
    const { ks, k, r } = callerOutOfReach();
    const { ret, w } = hook(k, () => k.design.arch.ftrace_modify_call(k, r, FTRACE_ADDR(k), T_NEAR));
    expect(ret).toBe(EINVAL);
    expect(w.map((e) => e.what)).toEqual(["literal"]);
    // One failed lookup (the old address), none for the new one.
    expect(k.events.filter((e) => e.kind === "warn")).toEqual([
      { kind: "warn", fn: "ftrace_find_callable_addr", message: `ftrace_find_callable_addr: f at ${toHex(r.ip)} cannot reach ${toHex(ks.ftrace_caller)} and is not in a module` },
    ]);
    expect(k.mem.read32(r.ip)).toBe(blFrom(k, "f", T_NEAR));
  });

  it("ftrace_modify_call also refuses when only the new target is out of reach", () => {
    const { k, r } = callerOutOfReach();
    const { ret } = hook(k, () => k.design.arch.ftrace_modify_call(k, r, T_NEAR, FTRACE_ADDR(k)));
    expect(ret).toBe(EINVAL);
    expect(k.mem.read32(r.ip)).toBe(blFrom(k, "f", T_NEAR));
  });
});

describe("arch_ftrace_set_direct_caller", () => {
  it("stores the address in fregs->direct_tramp, and only warns on a design without that slot", () => {
    const k = bootUpstream();
    const fregs = KS.stackTop - 0x200n;
    k.design.arch.arch_ftrace_set_direct_caller(k, fregs, T_NEAR);
    expect(k.mem.read64(fregs + BigInt(k.design.fregs.direct_tramp ?? 0))).toBe(T_NEAR);
    const none: Kernel = { ...k, design: { ...k.design, fregs: { ...k.design.fregs, direct_tramp: null } }, events: [] };
    const before = [...none.mem.entries()].length;
    none.design.arch.arch_ftrace_set_direct_caller(none, fregs + 0x100n, T_NEAR2);
    expect(none.events.some((e) => e.kind === "warn" && /no direct_tramp slot/.test(e.message))).toBe(true);
    expect([...none.mem.entries()].length).toBe(before);
  });
});
