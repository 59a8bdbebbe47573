// Tests for the A64 interpreter running calls of traced functions on the real words the model placed:
// which path a call takes (untraced, caller-ops, caller-list, caller-direct, direct-bl), the handlers' ip /
// parent_ip / op arguments, the register contract at direct trampoline entry, that the body runs once and the
// caller gets its callee-saved registers back; and that the observation catches a corrupted ftrace_caller,
// a BR landing on BTI C from a register other than x16/x17, and a RET used as a forward branch.

import { describe, expect, it } from "vitest";
import { assemble, type Listing } from "./asm.ts";
import { FTRACE_ADDR } from "./core.ts";
import { boot } from "./boot.ts";
import { STUB_DIRECT_TRAMP } from "./entry.ts";
import { CallRun, callFunction, defaultSetup, MAX_STEPS, type CallObservation, type Path } from "./exec.ts";
import { NOP_WORD, encode } from "./insn.ts";
import type { Design, Kernel } from "./kernel.ts";
import { literalAddr } from "./layout.ts";
import {
  FTRACE_CALLER,
  KS,
  MOD_PLT,
  T_FAR,
  T_NEAR,
  blFrom,
  bootUpstream,
  ipOf,
  layout,
  recOf,
  regDirect,
  regOrdinary,
  siteWords,
} from "./testkit.ts";
import { upstream } from "./variants/upstream.ts";

const RET_X9 = encode({ kind: "ret", rn: 9 });
const RET_X30 = encode({ kind: "ret", rn: 30 });

/** The checks every well-behaved call must pass. */
function expectClean(k: Kernel, obs: CallObservation, fn: string): void {
  const setup = defaultSetup(k);
  expect(obs.violations).toEqual([]);
  expect(obs.fault).toBeNull();
  expect(obs.returned).toBe(true);
  expect(obs.returnTarget).toBe(setup.lr);
  expect(obs.bodies.map((b) => b.fn)).toEqual([fn]);
  expect(obs.finalCalleeSaved).toEqual(setup.calleeSaved);
  expect(obs.final?.sp).toBe(setup.sp);
  // The body itself was entered with the arguments, the caller's LR and sp.
  const body = obs.bodies[0]!;
  expect(body.regs.x.slice(0, 9)).toEqual(setup.args);
  expect(body.regs.x30).toBe(setup.lr);
  expect(body.regs.sp).toBe(setup.sp);
  expect(body.calleeSaved).toEqual(setup.calleeSaved);
  // Every RET was predicted by the return stack.
  expect(obs.branches.filter((b) => !b.predicted)).toEqual([]);
}

/** The direct-trampoline calling convention at its entry. */
function expectTrampContract(k: Kernel, obs: CallObservation, fn: string): void {
  const setup = defaultSetup(k);
  expect(obs.tramps.length).toBe(1);
  const regs = obs.tramps[0]!.regs;
  expect(regs.x.slice(0, 9)).toEqual(setup.args);
  expect(regs.x[9]).toBe(setup.lr);
  expect(regs.x30).toBe(ipOf(k, fn) + 4n);
  expect(regs.sp).toBe(setup.sp);
}

function pathOf(obs: CallObservation): { path: Path; handlers: string[]; tramp: string | null } {
  return { path: obs.path, handlers: obs.handlers.map((h) => h.ops), tramp: obs.tramps[0]?.tramp ?? null };
}

for (const bti of [false, true]) {
  describe(`dispatch paths ${bti ? "with BTI" : "without BTI"}`, () => {
    it("untraced: the MOV X9, X30 and NOP fall through to the body", () => {
      const k = bootUpstream(layout({ bti }));
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "untraced", handlers: [], tramp: null });
      expectClean(k, obs, "f");
      expect(obs.trace.some((l) => l.pc === FTRACE_CALLER)).toBe(false);
    });

    it("caller-ops: ftrace_caller calls the literal ops' func with ip = rec->ip, parent_ip = caller's return, op = the ops", () => {
      const k = bootUpstream(layout({ bti }));
      regOrdinary(k, "A", ["f"]);
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "caller-ops", handlers: ["A"], tramp: null });
      expect(obs.handlers).toMatchObject([{ ops: "A", ip: ipOf(k, "f"), parentIp: defaultSetup(k).lr, op: "A" }]);
      expectClean(k, obs, "f");
    });

    it("caller-list: ftrace_ops_list_func calls each ops, newest first, each with its own op", () => {
      const k = bootUpstream(layout({ bti }));
      regOrdinary(k, "A", ["f"]);
      regOrdinary(k, "B", ["f", "g"]);
      regOrdinary(k, "C", ["g"]);
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "caller-list", handlers: ["B", "A"], tramp: null });
      const ip = ipOf(k, "f");
      const lr = defaultSetup(k).lr;
      expect(obs.handlers).toMatchObject([
        { ops: "B", ip, parentIp: lr, op: "B" },
        { ops: "A", ip, parentIp: lr, op: "A" },
      ]);
      expectClean(k, obs, "f");
    });

    it("caller-list for a lone RECURSION ops (no CALL_OPS): the list func passes the ops itself", () => {
      const k = bootUpstream(layout({ bti }));
      regOrdinary(k, "R", ["f"], { flags: ["RECURSION"] });
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "caller-list", handlers: ["R"], tramp: null });
      expect(obs.handlers[0]!.op).toBe("R");
      expectClean(k, obs, "f");
    });

    it("caller-direct: an out-of-range trampoline is reached from ftrace_caller's early BR x17, registers untouched", () => {
      const k = bootUpstream(layout({ bti }));
      regDirect(k, "D", ["f"], T_FAR);
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "caller-direct", handlers: [], tramp: "TFAR" });
      expect(obs.tramps[0]!.via).toMatch(/^br\s+x17/);
      expectTrampContract(k, obs, "f");
      expectClean(k, obs, "f");
    });

    it("direct-bl: an in-range trampoline is the site's BL target, ftrace_caller is bypassed", () => {
      const k = bootUpstream(layout({ bti }));
      regDirect(k, "D", ["f"], T_NEAR);
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "direct-bl", handlers: [], tramp: "T1" });
      expect(obs.tramps[0]!.via).toMatch(/^bl\s+T1/);
      expect(obs.trace.some((l) => l.pc === FTRACE_CALLER)).toBe(false);
      expectTrampContract(k, obs, "f");
      expectClean(k, obs, "f");
    });

    it("direct-bl to ftrace_stub_direct_tramp resumes the function with LR restored", () => {
      const k = bootUpstream(layout({ bti }));
      regDirect(k, "D", ["f"], KS.ftrace_stub_direct_tramp);
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "direct-bl", handlers: [], tramp: "ftrace_stub_direct_tramp" });
      expectTrampContract(k, obs, "f");
      expectClean(k, obs, "f");
    });

    it("late direct: direct ops plus an ordinary ops run the handler first, then the trampoline via fregs->direct_tramp", () => {
      const k = bootUpstream(layout({ bti }));
      regDirect(k, "D", ["f"], T_NEAR);
      regOrdinary(k, "A", ["f"]);
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "caller-list", handlers: ["A", "D"], tramp: "T1" });
      expect(obs.handlers.map((h) => h.op)).toEqual(["A", "D"]);
      expect(obs.tramps[0]!.via).toMatch(/^br\s+x17/);
      expectTrampContract(k, obs, "f");
      expectClean(k, obs, "f");
    });

    it("late direct with the ordinary ops registered first: list order differs, contract holds", () => {
      const k = bootUpstream(layout({ bti }));
      regOrdinary(k, "A", ["f"]);
      regDirect(k, "D", ["f"], T_FAR);
      const obs = callFunction(k, "f");
      expect(pathOf(obs)).toEqual({ path: "caller-list", handlers: ["D", "A"], tramp: "TFAR" });
      expectTrampContract(k, obs, "f");
      expectClean(k, obs, "f");
    });
  });
}

describe("transient site states (between the literal and the instruction write)", () => {
  it("BL ftrace_caller with literal = ftrace_nop_ops calls nothing and resumes the body", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    // ftrace_make_nop's first step only.
    k.mem.write64(literalAddr(ipOf(k, "f")), KS.ftrace_nop_ops);
    expect(siteWords(k, "f").literal).toBe(KS.ftrace_nop_ops);
    const obs = callFunction(k, "f");
    expect(obs.path).toBe("caller-nop");
    expect(obs.handlers).toEqual([]);
    expectClean(k, obs, "f");
  });

  it("BL T1 with literal = ftrace_list_ops (modify_ftrace_direct's first literal write) still reaches T1", () => {
    const k = bootUpstream();
    regDirect(k, "D", ["f"], T_NEAR);
    k.mem.write64(literalAddr(ipOf(k, "f")), KS.ftrace_list_ops);
    const obs = callFunction(k, "f");
    expect(pathOf(obs)).toEqual({ path: "direct-bl", handlers: [], tramp: "T1" });
    expectClean(k, obs, "f");
  });
});

describe("the observation catches broken code", () => {
  /** Address of the first `ret x9` in the assembled ftrace_caller listing. */
  function retX9InFtraceCaller(k: Kernel): bigint {
    const e = k.design.entry;
    if (e.kind !== "listing") throw new Error("a listing design is needed here");
    const out = assemble(e.ftraceCaller({ fregs: k.design.fregs, mutations: k.design.mutations }), FTRACE_CALLER, (s) =>
      [...k.symbols].find(([, n]) => n === s)?.[0],
    );
    const idx = out.insns.findIndex((i) => i.kind === "ret" && i.rn === 9);
    expect(idx).toBeGreaterThan(0);
    return FTRACE_CALLER + BigInt(idx) * 4n;
  }

  it("ftrace_caller returning with `ret x30` instead of `ret x9` skips the body and mispredicts", () => {
    const k = bootUpstream();
    regOrdinary(k, "A", ["f"]);
    const at = retX9InFtraceCaller(k);
    expect(k.mem.read32(at)).toBe(RET_X9);
    k.mem.write32(at, RET_X30);
    const obs = callFunction(k, "f");
    expect(obs.handlers.map((h) => h.ops)).toEqual(["A"]);
    expect(obs.bodies).toEqual([]);
    expect(obs.violations).toContainEqual({ kind: "body-count", where: "f", message: "body of f ran 0 times" });
    expect(obs.violations.some((v) => v.kind === "ret-forward" && /^RET used as a forward branch/.test(v.message))).toBe(true);
  });

  it("a NOP in place of ftrace_caller's BTI C is a BTI violation for the module PLT's BR x16", () => {
    const k = bootUpstream(layout({ bti: true }));
    regOrdinary(k, "A", ["m"]);
    k.mem.write32(FTRACE_CALLER, NOP_WORD);
    const obs = callFunction(k, "m");
    expect(obs.violations.length).toBeGreaterThan(0);
    expect(obs.violations[0]?.kind).toBe("bti-landing");
    expect(obs.violations[0]?.where).toBe("m1.ftrace_plt+0x8");
    expect(obs.violations[0]?.message).toMatch(/^BTI: br x16 at m1\.ftrace_plt\+0x8 lands on "nop" at ftrace_caller$/);
  });

  it("the same NOP is not a violation without BTI", () => {
    const k = bootUpstream(layout({ bti: false }));
    regOrdinary(k, "A", ["m"]);
    k.mem.write32(FTRACE_CALLER, NOP_WORD);
    const obs = callFunction(k, "m");
    expect(obs.violations).toEqual([]);
    expect(siteWords(k, "m").insn).toBe(blFrom(k, "m", MOD_PLT));
  });

  /** Overwrite T1 (reached by `bl T1` from f) with a listing; the C helper at T1+0x80 is left alone. */
  function craftT1(listing: Listing, bti: boolean): Kernel {
    const k = bootUpstream(layout({ bti }));
    expect(regDirect(k, "D", ["f"], T_NEAR).ret).toBe(0);
    const out = assemble(listing, T_NEAR);
    expect(BigInt(out.words.length) * 4n).toBeLessThan(0x80n);
    out.words.forEach((w, i) => k.mem.write32(T_NEAR + BigInt(i) * 4n, w));
    return k;
  }

  // T1 keeps the caller's return in x10, sends itself to `landing` with BR xN, and landing (BTI C) resumes f
  // with LR = the caller's return, exactly like ftrace_stub_direct_tramp.
  const brTo = (reg: number): Listing => [
    "bti c",
    "mov x10, x9",
    `adrp x${reg}, landing`,
    `add x${reg}, x${reg}, #${Number((T_NEAR + 0x14n) & 0xfffn)}`,
    `br x${reg}`,
    "landing:",
    "bti c",
    "mov x11, x30",
    "mov x30, x10",
    "ret x11",
  ];

  it("with BTI, a BR x9 landing on BTI C is reported as a BTI violation (and only that)", () => {
    const k = craftT1(brTo(9), true);
    const obs = callFunction(k, "f");
    expect(obs.violations).toEqual([{ kind: "bti-landing", where: "T1+0x10", message: `BTI: br x9 at T1+0x10 lands on "bti c" at T1+0x14` }]);
    expect(obs.bodies.map((b) => b.fn)).toEqual(["f"]);
    expect(obs.returned).toBe(true);
  });

  it("with BTI, the same hop through x16 is allowed", () => {
    const k = craftT1(brTo(16), true);
    const obs = callFunction(k, "f");
    expectClean(k, obs, "f");
  });

  it("without BTI, BR x9 onto BTI C is not checked", () => {
    const k = craftT1(brTo(9), false);
    expect(callFunction(k, "f").violations).toEqual([]);
  });

  it("a RET that does not match the last BL is reported as a forward branch (v1's `ret x12` pattern)", () => {
    const landing = T_NEAR + 0x10n;
    const k = craftT1(
      [
        "bti c",
        "adrp x12, landing",
        `add x12, x12, #${Number(landing & 0xfffn)}`,
        "ret x12",
        "landing:",
        "mov x10, x30",
        "mov x30, x9",
        "ret x10",
      ],
      false,
    );
    const obs = callFunction(k, "f");
    expect(obs.violations[0]).toEqual({ kind: "ret-forward", where: "T1+0xc", message: "RET used as a forward branch to T1+0x10 at T1+0xc" });
    expect(obs.branches).toContainEqual(expect.objectContaining({ kind: "ret", reg: 12, from: T_NEAR + 0xcn, to: landing, predicted: false }));
    // The function still ran once and returned: only the predictor was fooled.
    expect(obs.bodies.map((b) => b.fn)).toEqual(["f"]);
    expect(obs.returned).toBe(true);
  });

  it("the well-formed equivalent (BR instead of RET for the forward hop) is clean", () => {
    const landing = T_NEAR + 0x10n;
    const k = craftT1(
      ["bti c", "adrp x12, landing", `add x12, x12, #${Number(landing & 0xfffn)}`, "br x12", "landing:", "mov x10, x30", "mov x30, x9", "ret x10"],
      false,
    );
    expectClean(k, callFunction(k, "f"), "f");
  });

  it("make_call's literal write without its BL write yet: the call is still untraced", () => {
    const k = bootUpstream();
    // make_call's literal step only: literal = list ops, NOP still in place.
    expect(k.design.arch.ftrace_make_call(k, recOf(k, "f"), FTRACE_ADDR(k))).toBe(0);
    k.mem.write32(recOf(k, "f").ip, NOP_WORD);
    const obs = callFunction(k, "f");
    expect(obs.path).toBe("untraced");
    expectClean(k, obs, "f");
  });
});

describe("a call that loops", () => {
  /** Upstream with ftrace_caller replaced by a listing of the test's own. */
  const looping = (listing: Listing): Design => ({ ...upstream, name: "looping", entry: { kind: "listing", ftraceCaller: () => listing, stubDirectTramp: STUB_DIRECT_TRAMP } });
  const traced = (d: Design): Kernel => {
    const k = boot(layout(), d);
    expect(regOrdinary(k, "A", ["f"]).ret).toBe(0);
    return k;
  };

  it("stops at the first revisit of its state, as a loop, long before MAX_STEPS", () => {
    const obs = callFunction(traced(looping(["spin:", "b spin"])), "f");
    expect(obs.fault).toBe("a loop: ftrace_caller reached again after 1 step with the same registers and memory, so the call never returns");
    expect(obs.returned).toBe(false);
    expect(obs.violations).toContainEqual({ kind: "fault", where: "f", message: `fault: ${obs.fault}` });
    expect(obs.trace.length).toBeLessThan(8);
  });

  it("a loop that stores what memory already holds is the same loop; one round of several steps is found within two rounds of its start", () => {
    const obs = callFunction(traced(looping(["sub sp, sp, #16", "spin:", "str x0, [sp]", "add x1, sp, #0", "b spin"])), "f");
    expect(obs.fault).toMatch(/^a loop: ftrace_caller\+0x(4|8|c) reached again after 3 steps with the same registers and memory/);
    expect(obs.trace.length).toBeLessThan(20);
  });

  it("a loop that changes memory each time round is no revisit: it runs to MAX_STEPS", () => {
    const obs = callFunction(traced(looping(["sub sp, sp, #16", "str xzr, [sp]", "spin:", "ldr x1, [sp]", "add x1, x1, #1", "str x1, [sp]", "b spin"])), "f");
    expect(obs.fault).toBe(`no return to the caller after ${MAX_STEPS} steps`);
  });

  it("among other CPUs (whose stores a spinning CPU may wait for) a loop is only noted, and runs to MAX_STEPS alone", () => {
    const k = traced(looping(["spin:", "b spin"]));
    const run = new CallRun(k, "f", defaultSetup(k), "note");
    const obs = run.finish();
    expect(obs.fault).toBe(`no return to the caller after ${MAX_STEPS} steps`);
    // The loop is noted, for the concurrent run to end once no other actor can change memory.
    expect(run.loopAt).toBe(k.mem.generation);
  });
});
