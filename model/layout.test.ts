// Tests for the CALL_OPS patch-site layout (-fpatchable-function-entry=4,2): ftrace_call_adjust turning the
// compiler's recorded address (the first pre-function NOP, func-8) into rec->ip, the literal address as
// ftrace_rec_set_ops computes it (ALIGN_DOWN(rec->ip - 12, 8)) and as ftrace_caller recovers it from LR, and
// the layout checks validateLayout makes before a kernel can be booted.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AARCH64_INSN_SIZE,
  CTEXT_SPAN,
  DEFAULT_KERNEL,
  HEAP_SPAN,
  LayoutError,
  OPS_SPAN,
  STACK_SPAN,
  TRAMPOLINE_SPAN,
  ftrace_call_adjust,
  literalAddr,
  literalFromLr,
  moduleOf,
  moduleTextAt,
  withinKernelText,
  patchSite,
  validateLayout,
  type Layout,
} from "./layout.ts";
import { F_ADDR, G_ADDR, M_ADDR, MOD_SIZE, MOD_TEXT, T_NEAR, fn, layout, module, tramp, thrown } from "./testkit.ts";

const layoutError = (f: () => unknown): LayoutError => thrown(LayoutError, f);

describe("ftrace_call_adjust", () => {
  it("moves the recorded first pre-function NOP (func-8) onto the BL slot at func+4 without BTI", () => {
    expect(ftrace_call_adjust(F_ADDR - 8n, false)).toBe(F_ADDR + 4n);
  });

  it("skips the BTI C at the symbol: rec->ip = func+8", () => {
    expect(ftrace_call_adjust(F_ADDR - 8n, true)).toBe(F_ADDR + 8n);
  });

  it("adds 12 or 16 bytes, i.e. 2 pre-function insns, the optional BTI, and the MOV slot", () => {
    expect(ftrace_call_adjust(0x1000n, false) - 0x1000n).toBe(3n * AARCH64_INSN_SIZE);
    expect(ftrace_call_adjust(0x1000n, true) - 0x1000n).toBe(4n * AARCH64_INSN_SIZE);
  });

  it("refuses a recorded address that is 4- but not 8-byte aligned (the literal slot would be misaligned)", () => {
    const e = layoutError(() => ftrace_call_adjust(F_ADDR - 4n, false));
    expect(e.message).toMatch(/misaligned patch-site/);
    expect(() => ftrace_call_adjust(F_ADDR - 4n, true)).toThrow(LayoutError);
    expect(() => ftrace_call_adjust(F_ADDR - 6n, false)).toThrow(LayoutError);
  });
});

describe("literal address", () => {
  for (const bti of [false, true]) {
    const tag = bti ? "with BTI" : "without BTI";

    it(`literalAddr(rec->ip) is func-8 ${tag}`, () => {
      const ip = ftrace_call_adjust(F_ADDR - 8n, bti);
      expect(literalAddr(ip)).toBe(F_ADDR - 8n);
    });

    it(`ftrace_caller's (LR & ~7) - 16 with LR = rec->ip+4 finds the same literal ${tag}`, () => {
      const ip = ftrace_call_adjust(F_ADDR - 8n, bti);
      expect(literalFromLr(ip + 4n)).toBe(literalAddr(ip));
      expect(literalFromLr(ip + 4n)).toBe(F_ADDR - 8n);
    });

    it(`patchSite places literal, MOV slot, BL slot and body consistently ${tag}`, () => {
      const s = patchSite(fn("f", F_ADDR, { bti }));
      expect(s.literal).toBe(F_ADDR - 8n);
      expect(s.ip).toBe(F_ADDR + (bti ? 8n : 4n));
      expect(s.movInsn).toBe(s.ip - 4n);
      expect(s.body).toBe(s.ip + 4n);
      expect(s.ip - s.literal).toBe(bti ? 16n : 12n);
    });
  }

  it("property: for every 8-byte aligned function, both ways of finding the literal agree and give func-8", () => {
    const prop = fc.property(fc.bigInt({ min: 2n, max: (1n << 61n) - 1n }), fc.boolean(), (q, bti) => {
      const func = q * 8n;
      const ip = ftrace_call_adjust(func - 8n, bti);
      const lit = literalAddr(ip);
      return lit === func - 8n && literalFromLr(ip + 4n) === lit && lit % 8n === 0n;
    });
    fc.assert(prop, { seed: 7, numRuns: 500 });
  });
});

describe("validateLayout", () => {
  const base = (over: Partial<Layout>): Layout => ({ ...layout(), ...over });

  it("accepts the default test layout", () => {
    expect(() => validateLayout(layout())).not.toThrow();
  });

  it("rejects a function symbol that is not 8-byte aligned", () => {
    const e = layoutError(() => validateLayout(base({ functions: [fn("f", F_ADDR + 4n)] })));
    expect(e.message).toMatch(/function f: symbol 0x[0-9a-f]+ is not 8-byte aligned/);
  });

  it("rejects a kernel function outside kernel text", () => {
    const outside = DEFAULT_KERNEL.text + DEFAULT_KERNEL.textSize + 0x1000n;
    const e = layoutError(() => validateLayout(base({ functions: [fn("f", outside)] })));
    expect(e.message).toMatch(/function f: .* is outside kernel text/);
    const below = layoutError(() => validateLayout(base({ functions: [fn("f", DEFAULT_KERNEL.text - 0x1000n)] })));
    expect(below.message).toMatch(/outside kernel text/);
  });

  it("rejects a module function outside its module's text", () => {
    const e = layoutError(() => validateLayout(base({ functions: [fn("m", MOD_TEXT + 0x400000n, { module: "m1" })] })));
    expect(e.message).toMatch(/function m: .* is outside module m1's text/);
    // A module function placed in kernel text is also outside the module.
    expect(() => validateLayout(base({ functions: [fn("m", F_ADDR, { module: "m1" })] }))).toThrow(LayoutError);
  });

  it("refuses a function at the very start of its text: its pre-entry NOPs (the literal) come first in the section", () => {
    const atStart = layoutError(() => validateLayout(base({ functions: [fn("m", MOD_TEXT, { module: "m1" })] })));
    expect(atStart.message).toMatch(/function m: 0x[0-9a-f]+ is at the start of module m1's text, but its 8 bytes of pre-entry NOPs \(the CALL_OPS literal\) come first in that section: place it at 0x[0-9a-f]+ or later/);
    expect(() => validateLayout(base({ functions: [fn("m", MOD_TEXT + 8n, { module: "m1" })] }))).not.toThrow();
    const kernel = layoutError(() => validateLayout(base({ functions: [fn("f", DEFAULT_KERNEL.text)] })));
    expect(kernel.message).toMatch(/is at the start of kernel text/);
    const m1 = layout().modules[0]!;
    const INIT = MOD_TEXT + 0x400000n;
    const withInit = base({ modules: [{ ...m1, init: { text: INIT, textSize: 0x10000n, plt: null } }], functions: [fn("m", INIT, { module: "m1" })] });
    expect(layoutError(() => validateLayout(withInit)).message).toMatch(/is at the start of module m1's init text/);
  });

  it("rejects a function naming an unknown module", () => {
    const e = layoutError(() => validateLayout(base({ functions: [fn("m", M_ADDR, { module: "nope" })] })));
    expect(e.message).toMatch(/function m: unknown module "nope"/);
  });

  it("rejects overlapping functions (each spans its literal, entry and BL slot)", () => {
    const e = layoutError(() => validateLayout(base({ functions: [fn("f", F_ADDR), fn("g", F_ADDR + 16n)] })));
    expect(e.message).toMatch(/g at 0x[0-9a-f]+ overlaps f/);
    // 24 bytes apart is the closest two sites can be.
    expect(() => validateLayout(base({ functions: [fn("f", F_ADDR), fn("g", F_ADDR + 24n)] }))).not.toThrow();
  });

  it("rejects a function overlapping a trampoline or ftrace_caller", () => {
    expect(() => validateLayout(base({ trampolines: [tramp("T1", F_ADDR)] }))).toThrow(/overlaps/);
    expect(() => validateLayout(base({ functions: [fn("f", DEFAULT_KERNEL.ftrace_caller + 0x10n)] }))).toThrow(/overlaps/);
  });

  it("rejects duplicate names, also across functions, trampolines and modules", () => {
    const twoF = layoutError(() => validateLayout(base({ functions: [fn("f", F_ADDR), fn("f", G_ADDR)] })));
    expect(twoF.message).toMatch(/duplicate name "f" \(function\)/);
    const fnTramp = layoutError(() => validateLayout(base({ functions: [fn("f", F_ADDR)], trampolines: [tramp("f", T_NEAR)] })));
    expect(fnTramp.message).toMatch(/duplicate name "f" \(trampoline\)/);
    const modFn = layoutError(() => validateLayout(base({ modules: [module("f", MOD_TEXT, null)], functions: [fn("f", F_ADDR)] })));
    expect(modFn.message).toMatch(/duplicate name "f" \(function\)/);
    const twoModules = layoutError(() => validateLayout(base({ modules: [module("m1", MOD_TEXT, null), module("m1", MOD_TEXT + 0x1000000n, null)] })));
    expect(twoModules.message).toBe('duplicate name "m1" (module)');
  });

  it("takes text bounds as half-open: the first byte is inside, the byte after the end is not", () => {
    const end = DEFAULT_KERNEL.text + DEFAULT_KERNEL.textSize;
    expect(withinKernelText(DEFAULT_KERNEL, DEFAULT_KERNEL.text)).toBe(true);
    expect(withinKernelText(DEFAULT_KERNEL, end - 4n)).toBe(true);
    expect(withinKernelText(DEFAULT_KERNEL, end)).toBe(false);
    expect(withinKernelText(DEFAULT_KERNEL, DEFAULT_KERNEL.text - 4n)).toBe(false);
    const l = layout();
    expect(moduleTextAt(l, MOD_TEXT)?.name).toBe("m1");
    expect(moduleTextAt(l, MOD_TEXT + MOD_SIZE - 4n)?.name).toBe("m1");
    expect(moduleTextAt(l, MOD_TEXT + MOD_SIZE)).toBeUndefined();
    expect(moduleTextAt(l, MOD_TEXT - 4n)).toBeUndefined();
    // A module function 8 bytes into its text (after its pre-entry NOPs) is inside it; one at the end is not.
    expect(() => validateLayout(base({ functions: [fn("m", MOD_TEXT + 8n, { module: "m1" })] }))).not.toThrow();
    // One at the very first byte of the text is refused: its literal would lie just below the text (issue 19).
    expect(() => validateLayout(base({ functions: [fn("m", MOD_TEXT, { module: "m1" })] }))).toThrow(/at the start of module m1's text/);
    expect(() => validateLayout(base({ functions: [fn("m", MOD_TEXT + MOD_SIZE, { module: "m1" })] }))).toThrow(/outside module m1's text/);
    expect(moduleOf(l, { name: "m", addr: M_ADDR, bti: false, module: "m1" })?.name).toBe("m1");
    expect(moduleOf(l, { name: "f", addr: F_ADDR, bti: false, module: null })).toBeUndefined();
  });

  it("accepts a module without an ftrace PLT", () => {
    expect(() => validateLayout(base({ modules: [module("m1", MOD_TEXT, null)] }))).not.toThrow();
  });

  it("rejects a trampoline that is not 4-byte aligned", () => {
    const e = layoutError(() => validateLayout(base({ trampolines: [tramp("T1", T_NEAR + 2n)] })));
    expect(e.message).toBe(`trampoline T1: 0x${(T_NEAR + 2n).toString(16)} is not 4-byte aligned`);
    expect(() => validateLayout(base({ trampolines: [tramp("T1", T_NEAR + 4n)] }))).not.toThrow();
  });

  it("checks module init text: page aligned, its PLT 4-byte aligned, apart from the core text, and a function in it belongs", () => {
    const withInit = (text: bigint, plt: bigint | null): ReturnType<typeof module> => ({ ...module("m1", MOD_TEXT, null), init: { text, textSize: 0x200000n, plt } });
    const far = MOD_TEXT + 0x8400000n;
    expect(() => validateLayout(base({ modules: [withInit(far + 8n, null)], functions: [] }))).toThrow(/init text .* is not page aligned/);
    expect(() => validateLayout(base({ modules: [withInit(far, far + 0x200002n)], functions: [] }))).toThrow(/init PLT .* is not 4-byte aligned/);
    expect(() => validateLayout(base({ modules: [withInit(MOD_TEXT + 0x100000n, null)], functions: [] }))).toThrow(/init text .* overlaps its text/);
    expect(() => validateLayout(base({ modules: [withInit(far, far + 0x200000n)], functions: [fn("i", far + 0x1000n, { module: "m1" })] }))).not.toThrow();
    expect(() => validateLayout(base({ modules: [withInit(far, far + 0x200000n)], functions: [fn("i", far + 0x300000n, { module: "m1" })] }))).toThrow(/outside module m1's text/);
  });

  it("rejects a module whose text is not page aligned and a misaligned PLT", () => {
    expect(() => validateLayout(base({ modules: [module("m1", MOD_TEXT + 8n, null)], functions: [] }))).toThrow(/not page aligned/);
    expect(() => validateLayout(base({ modules: [module("m1", MOD_TEXT, MOD_TEXT + 0x1002n)], functions: [] }))).toThrow(/PLT .* is not 4-byte aligned/);
    // As the kernel places it: on any instruction boundary.
    expect(() => validateLayout(base({ modules: [module("m1", MOD_TEXT, MOD_TEXT + 0x300004n)], functions: [] }))).not.toThrow();
  });

  describe("keeps every trampoline off the kernel's own objects, to the byte", () => {
    // The kernel's objects spread 1 MiB apart, so a trampoline can sit right before or after each one alone.
    const kernel = {
      ...DEFAULT_KERNEL,
      ftrace_caller: 0xffff800008100000n,
      ftrace_stub_direct_tramp: 0xffff800008200000n,
      ctext: 0xffff800008300000n,
      callerReturn: 0xffff800008400004n,
      ftrace_list_ops: 0xffff80000b000000n,
      ftrace_nop_ops: 0xffff80000b100000n,
      data: 0xffff80000b200000n,
    };
    const plt = MOD_TEXT + 0x300000n;
    const objects: ReadonlyArray<readonly [string, bigint, bigint]> = [
      ["ftrace_caller", kernel.ftrace_caller, kernel.ftrace_caller + 0x200n],
      ["ftrace_stub_direct_tramp", kernel.ftrace_stub_direct_tramp, kernel.ftrace_stub_direct_tramp + 0x10n],
      ["ftrace_list_ops", kernel.ftrace_list_ops, kernel.ftrace_list_ops + OPS_SPAN],
      ["ftrace_nop_ops", kernel.ftrace_nop_ops, kernel.ftrace_nop_ops + OPS_SPAN],
      ["the C helpers", kernel.ctext, kernel.ctext + CTEXT_SPAN],
      ["static ops data", kernel.data, kernel.data + 4n * OPS_SPAN],
      ["the heap", kernel.heap, kernel.heap + HEAP_SPAN],
      ["the stack", kernel.stackTop - STACK_SPAN, kernel.stackTop],
      ["the caller", kernel.callerReturn - 4n, kernel.callerReturn + 4n],
      ["m1.ftrace_plt", plt, plt + 16n],
    ];
    const at = (addr: bigint): Layout => ({ bti: false, kernel, modules: [module("m1", MOD_TEXT, plt)], functions: [], trampolines: [tramp("T9", addr)] });

    it.each(objects.map(([name, lo, hi]) => [name, lo, hi] as const))("%s", (name, lo, hi) => {
      expect(() => validateLayout(at(lo - TRAMPOLINE_SPAN))).not.toThrow();
      expect(() => validateLayout(at(hi))).not.toThrow();
      expect(layoutError(() => validateLayout(at(lo - TRAMPOLINE_SPAN + 4n))).message).toContain(name);
      expect(layoutError(() => validateLayout(at(hi - 4n))).message).toContain(name);
    });

    it("reports the later of two overlapping objects as overlapping the earlier one", () => {
      expect(layoutError(() => validateLayout(at(kernel.ftrace_caller - 4n))).message).toBe(`ftrace_caller at ${"0x" + kernel.ftrace_caller.toString(16)} overlaps T9`);
      expect(layoutError(() => validateLayout(at(kernel.ftrace_caller + 4n))).message).toBe(`T9 at ${"0x" + (kernel.ftrace_caller + 4n).toString(16)} overlaps ftrace_caller`);
      // Starting at the same address, the one listed later (the kernel's own objects come after the trampolines) is the later one.
      expect(layoutError(() => validateLayout(at(kernel.ftrace_caller))).message).toBe(`ftrace_caller at ${"0x" + kernel.ftrace_caller.toString(16)} overlaps T9`);
    });
  });
});
