// The differential comparison's own logic, without QEMU (npm test stays free of it): the move to user space keeps
// every distance, the harness's reply lines are read into the model's terms, the comparison honours the BTI
// prefix rule, and the BTI matrix's expectations are the Arm ARM's.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scenarioLayout } from "../model/scenario.ts";
import { runArb } from "../generators/run.ts";
import { btiCases, brokenRule, LANDINGS, modelFaults } from "./bti.ts";
import { differ, harnessAccount, rebase, USER_BASE, type Account, type CallCase } from "./differential.ts";

describe("rebase", () => {
  it("moves every generated layout into user space by one constant, so every BL distance is kept", () => {
    for (const s of fc.sample(runArb("upstream"), { seed: 11, numRuns: 200 })) {
      const l = scenarioLayout(s);
      const r = rebase(l);
      const delta = r.kernel.ftrace_caller - l.kernel.ftrace_caller;
      for (const [a, b] of [
        ...l.functions.map((f, i) => [f.addr, r.functions[i]!.addr] as const),
        ...l.trampolines.map((t, i) => [t.addr, r.trampolines[i]!.addr] as const),
        ...l.modules.map((m, i) => [m.text, r.modules[i]!.text] as const),
      ])
        expect(b - a).toBe(delta);
      for (const f of r.functions) {
        expect(f.addr).toBeGreaterThanOrEqual(USER_BASE);
        expect(f.addr).toBeLessThan(1n << 39n);
      }
      expect(r.kernel.heap).toBeLessThan(1n << 39n);
    }
  });
});

const regs = (pc: string): string => [...Array.from({ length: 30 }, (_, i) => (0xa0n + BigInt(i)).toString(16)), "3008200004", pc].join(" ");

function callCase(over: Partial<CallCase> = {}): CallCase {
  return {
    variant: "upstream",
    scenario: fc.sample(runArb("upstream"), { seed: 1, numRuns: 1 })[0]!,
    step: 0,
    fn: "f",
    model: { path: "caller-ops", events: [], end: "" },
    btiFault: false,
    names: (a) => `0x${a.toString(16)}`,
    hosts: [{ kind: "ops_func", ops: "A" }, { kind: "ftrace_ops_list_func" }, { kind: "body", fn: "f" }, { kind: "caller_return" }, { kind: "direct_func", tramp: "T1" }],
    opsAt: (a) => (a === 0x100n ? "A" : undefined),
    listOps: 0x200n,
    nopOps: 0x300n,
    siteTarget: 0x1000n,
    trampAddrs: new Set([0x5000n]),
    ...over,
  };
}

describe("harnessAccount", () => {
  it("reads a list walk, a trampoline seen at its helper, a body and the return in the model's terms", () => {
    const x = (x0: number, x1: number, x2: number): string => [x0, x1, x2, ...Array.from({ length: 28 }, (_, i) => 0xa3 + i)].map((v) => v.toString(16)).join(" ");
    const lines = [
      `h 1 ${x(0x10, 0x20, 0x200)} 7000`,
      "c 0 10 20 100",
      `h 4 ${x(1, 2, 3)} 6fa0 99 3008200004`,
      `h 2 ${regs("7000")}`,
      `h 3 ${regs("7000")}`,
      `e ok ${regs("7000")}`,
    ];
    const a = harnessAccount(callCase(), lines);
    expect(a.path).toBe("caller-list");
    expect(a.events[0]).toBe("handler A ip=10 pip=20 op=0x100 via=list");
    // x9 and x30 from the words at sp, sp + 96: the registers the trampoline was entered with.
    expect(a.events[1]).toMatch(/^tramp T1 x0=1 x1=2 x2=3 .* x9=99 x30=3008200004 sp=7000$/);
    expect(a.events[2]).toMatch(/^body f x0=a0 /);
    expect(a.end).toMatch(/^returned x0=a0 .* x30=3008200004 sp=7000 x19=b3/);
  });

  it("names faults: a BTI fault where the model breached BTI, a fetch, a data access", () => {
    const fault = (sig: number, pc: string, addr: string): string => `e fault ${sig} 2 ${pc} ${addr} ${regs("7000")}`;
    expect(harnessAccount(callCase({ btiFault: true }), [fault(4, "5000", "5000")]).end).toBe("fault BTI at 0x5000");
    expect(harnessAccount(callCase(), [fault(11, "5000", "5000")]).end).toBe("fault fetch at 0x5000");
    expect(harnessAccount(callCase(), [fault(11, "5000", "0")]).end).toMatch(/^fault data access at 0x5000/);
    expect(harnessAccount(callCase(), ["e timeout"]).end).toBe("timeout");
    expect(harnessAccount(callCase({ siteTarget: null }), ["e timeout"]).path).toBe("untraced");
    expect(harnessAccount(callCase({ siteTarget: 0x5000n }), ["e timeout"]).path).toBe("direct-bl");
    expect(harnessAccount(callCase(), ["e timeout"]).path).toBe("caller-direct");
  });
});

describe("differ", () => {
  const a = (events: string[], end: string): Account => ({ path: "caller-ops", events, end });
  it("finds the first differing event, then the end", () => {
    expect(differ(a(["x", "y"], "e"), a(["x", "y"], "e"), false)).toBeNull();
    expect(differ(a(["x", "y"], "e"), a(["x", "z"], "e"), false)).toMatch(/^event 2:/);
    expect(differ(a(["x"], "e"), a(["x"], "f"), false)).toMatch(/^end:/);
    expect(differ(a(["x"], "e"), { ...a(["x"], "e"), path: "caller-list" }, false)).toMatch(/^path:/);
  });
  it("after a BTI breach, takes a prefix of the model's events (the model goes on, the CPU stops)", () => {
    expect(differ(a(["x", "y"], "fault BTI at T"), a(["x"], "fault BTI at T"), true)).toBeNull();
    expect(differ(a(["x"], "fault BTI at T"), a(["x", "y"], "fault BTI at T"), true)).toMatch(/did more/);
  });
});

describe("the BTI matrix", () => {
  it("has every branch kind and register onto every landing, guarded and plain", () => {
    expect(btiCases()).toHaveLength(2 * LANDINGS.length * (3 * 31 + 2));
  });
  it("expects what the Arm ARM says on a guarded page", () => {
    const at = (kind: "br" | "blr" | "ret" | "b", reg: number | null, landing: string, guarded = true): boolean =>
      modelFaults({ kind, reg, landing: LANDINGS.find((l) => l.name === landing)!, guarded });
    expect(at("br", 16, "bti c")).toBe(false);
    expect(at("br", 17, "bti c")).toBe(false);
    expect(at("br", 0, "bti c")).toBe(true);
    expect(at("br", 0, "bti j")).toBe(false);
    expect(at("blr", 0, "bti j")).toBe(true);
    expect(at("blr", 5, "paciasp")).toBe(false);
    expect(at("br", 9, "paciasp")).toBe(true);
    expect(at("blr", 1, "nop")).toBe(true);
    expect(at("ret", 0, "nop")).toBe(false);
    expect(at("b", null, "nop")).toBe(false);
    expect(at("br", 0, "nop", false)).toBe(false);
  });
  it("has a broken rule for the self-check that differs from the model's in exactly two cases", () => {
    expect(btiCases().filter((c) => modelFaults(c) !== modelFaults(c, brokenRule))).toHaveLength(2);
  });
});
