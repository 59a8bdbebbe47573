// The generators produce what the properties need: every trampoline edge class around the BL range occurs,
// layouts are always valid, and steps are well-formed (no register of an ops that is already registered).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_KERNEL, DEFAULT_MODULE_TEXT_SIZE, validateLayout } from "../model/layout.ts";
import { reachableByBl } from "../model/insn.ts";
import { classify, layoutArb, layoutArbFor, TRAMPOLINE_CLASSES, type TrampolineClass } from "./layout.ts";
import { runArb } from "./run.ts";

const SEED = 20261125;

describe("layoutArb", () => {
  const samples = fc.sample(layoutArb, { seed: SEED, numRuns: 2000 });

  it("hits every trampoline class, including each BL-range edge", () => {
    const counts = new Map<TrampolineClass, number>(TRAMPOLINE_CLASSES.map((c) => [c, 0]));
    for (const s of samples) for (const t of s.trampolines) for (const c of classify(s, BigInt(t.addr))) counts.set(c, (counts.get(c) ?? 0) + 1);
    for (const c of TRAMPOLINE_CLASSES) expect(counts.get(c), `class ${c}`).toBeGreaterThan(20);
  });

  it("classifies edges by the real distance: -128 MiB and +128 MiB - 4 reachable, one instruction beyond not", () => {
    let checked = 0;
    for (const s of samples) {
      for (const t of s.trampolines) {
        for (const f of s.functions) {
          const ip = BigInt(f.addr) + (f.bti ? 8n : 4n);
          const d = BigInt(t.addr) - ip;
          if (d === -0x8000000n || d === 0x7fffffcn) (expect(reachableByBl(ip, BigInt(t.addr))).toBe(true), checked++);
          if (d === -0x8000004n || d === 0x8000000n) (expect(reachableByBl(ip, BigInt(t.addr))).toBe(false), checked++);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("mixes kernel and module functions, near and far modules, with and without BTI C", () => {
    const fns = samples.flatMap((s) => s.functions);
    expect(fns.some((f) => f.module === undefined)).toBe(true);
    expect(fns.some((f) => f.module !== undefined)).toBe(true);
    expect(fns.some((f) => f.bti) && fns.some((f) => !f.bti)).toBe(true);
    const far = samples.flatMap((s) => s.modules).filter((m) => !reachableByBl(BigInt(m.text), DEFAULT_KERNEL.ftrace_caller));
    expect(far.length).toBeGreaterThan(0);
    expect(samples.flatMap((s) => s.modules).length).toBeGreaterThan(far.length);
    expect(Math.max(...samples.map((s) => s.functions.length))).toBe(6);
  });

  it("always yields a valid layout", () => {
    for (const s of samples.slice(0, 300)) {
      expect(() =>
        validateLayout({
          bti: s.config.bti,
          kernel: DEFAULT_KERNEL,
          modules: s.modules.map((m) => ({ name: m.name, text: BigInt(m.text), textSize: DEFAULT_MODULE_TEXT_SIZE, plt: BigInt(m.text) + DEFAULT_MODULE_TEXT_SIZE })),
          functions: s.functions.map((f) => ({ name: f.name, addr: BigInt(f.addr), module: f.module ?? null, bti: f.bti })),
          trampolines: s.trampolines.map((t) => ({ name: t.name, addr: BigInt(t.addr) })),
        }),
      ).not.toThrow();
    }
  });
});

describe("runArb", () => {
  it("registers a live ops again only now and then (the -EBUSY misuse), and uses every step kind", () => {
    const kinds = new Set<string>();
    let registers = 0;
    let again = 0;
    let ipmodify = 0;
    for (const s of fc.sample(runArb("upstream"), { seed: SEED, numRuns: 500 })) {
      const live = new Set<string>();
      for (const st of s.steps) {
        kinds.add(st.do);
        if (st.do === "register_ftrace_function" || st.do === "register_ftrace_direct") {
          registers++;
          if (live.has(st.ops)) again++;
          if (st.do === "register_ftrace_function" && st.flags.includes("IPMODIFY")) {
            ipmodify++;
            expect(st.notrace).toEqual([]);
          }
          const refused =
            st.do === "register_ftrace_direct"
              ? st.filter.length === 0
              : (st.flags.includes("SAVE_REGS") && !st.flags.includes("SAVE_REGS_IF_SUPPORTED")) || (st.flags.includes("IPMODIFY") && st.filter.length === 0);
          if (!refused) live.add(st.ops);
        }
        if (st.do === "unregister_ftrace_function" || st.do === "unregister_ftrace_direct") live.delete(st.ops);
      }
    }
    expect(again).toBeGreaterThan(0);
    expect(again).toBeLessThan(registers / 10);
    expect(ipmodify).toBeGreaterThan(registers / 20);
    expect([...kinds].sort()).toEqual(
      ["call", "ftrace_set_filter", "ftrace_set_notrace", "modify_ftrace_direct", "register_ftrace_direct", "register_ftrace_function", "unregister_ftrace_direct", "unregister_ftrace_function"].sort(),
    );
  });
});

describe("layoutArbFor(['module-init-text'])", () => {
  const samples = fc.sample(layoutArbFor(["module-init-text"]), { seed: SEED, numRuns: 1000 });

  it("gives modules init text, near their text and out of its BL range, with functions in both texts", () => {
    let nearInit = 0;
    let farInit = 0;
    let inInit = 0;
    let inCore = 0;
    for (const s of samples) {
      for (const m of s.modules) {
        if (m.init === undefined) continue;
        const plt = BigInt(m.text) + DEFAULT_MODULE_TEXT_SIZE;
        if (reachableByBl(BigInt(m.init.text) + 0x1000n, plt)) nearInit++;
        else farInit++;
      }
      for (const f of s.functions) {
        const m = s.modules.find((x) => x.name === f.module);
        if (m === undefined) continue;
        if (m.init !== undefined && BigInt(f.addr) >= BigInt(m.init.text)) inInit++;
        else inCore++;
      }
    }
    expect(nearInit).toBeGreaterThan(50);
    expect(farInit).toBeGreaterThan(50);
    expect(inInit).toBeGreaterThan(50);
    expect(inCore).toBeGreaterThan(50);
  });

  it("leaves the default world's layouts as they were (the scope draws only for the designs that ask)", () => {
    for (const s of fc.sample(layoutArb, { seed: SEED, numRuns: 300 })) expect(s.modules.every((m) => m.init === undefined)).toBe(true);
  });
});
