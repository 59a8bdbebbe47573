// Tests for the listings of entry-ftrace.S the model assembles: the `[sp, #off]` operand helper, the frame
// ftrace_caller builds (ftrace_regs plus two frame records, x29 pointing at the newest), the merged design's
// ftrace_caller line by line and its refusal of a design without fregs->direct_tramp, and
// ftrace_stub_direct_tramp as written and as booted into memory.

import { describe, expect, it } from "vitest";
import { assemble } from "./asm.ts";
import { STUB_DIRECT_TRAMP, at, frameEnter, upstreamFtraceCaller } from "./entry.ts";
import { BTI_C_WORD } from "./insn.ts";
import { UPSTREAM_FREGS } from "./structs.ts";
import { KS, bootUpstream, thrown } from "./testkit.ts";

describe("at", () => {
  it("writes offset 0 as [sp] and any other offset as [sp, #off]", () => {
    expect(at(0)).toBe("[sp]");
    expect(at(8)).toBe("[sp, #8]");
    expect(at(104)).toBe("[sp, #104]");
  });
});

describe("frameEnter", () => {
  it("saves x0-x8, clears direct_tramp, saves fp, lr, sp and pc, then links two frame records", () => {
    expect(frameEnter(UPSTREAM_FREGS)).toEqual([
      "mov x10, sp",
      "sub sp, sp, #144",
      "stp x0, x1, [sp]",
      "stp x2, x3, [sp, #16]",
      "stp x4, x5, [sp, #32]",
      "stp x6, x7, [sp, #48]",
      "str x8, [sp, #64]",
      "str xzr, [sp, #72]",
      "str x29, [sp, #80]",
      "str x9, [sp, #88]",
      "str x10, [sp, #96]",
      "str x30, [sp, #104]",
      "stp x29, x9, [sp, #128]",
      "add x29, sp, #128",
      "stp x29, x30, [sp, #112]",
      "add x29, sp, #112",
    ]);
  });

  it("points x29 at each frame record right after storing it", () => {
    const lines = frameEnter(UPSTREAM_FREGS);
    const records = lines.flatMap((l, i) => (l.startsWith("stp x29, ") ? [i] : []));
    expect(records.length).toBe(2);
    for (const i of records) {
      const off = /\[sp, #(\d+)\]$/.exec(lines[i]!)?.[1];
      expect(off).toBeDefined();
      expect(lines[i + 1]).toBe(`add x29, sp, #${off}`);
    }
  });
});

describe("upstreamFtraceCaller", () => {
  it("is the merged design's ftrace_caller, line by line", () => {
    expect(upstreamFtraceCaller({ fregs: UPSTREAM_FREGS, mutations: new Set() })).toEqual([
      "bti c",
      "bic x11, x30, #7",
      "ldr x11, [x11, #-16]",
      "ldr x17, [x11, #208]",
      "cbnz x17, ftrace_caller_direct",
      ...frameEnter(UPSTREAM_FREGS),
      "sub x0, x30, #4",
      "mov x1, x9",
      "mov x3, sp",
      "mov x2, x11",
      "ldr x4, [x2, #0]",
      "blr x4",
      "ldp x0, x1, [sp]",
      "ldp x2, x3, [sp, #16]",
      "ldp x4, x5, [sp, #32]",
      "ldp x6, x7, [sp, #48]",
      "ldr x8, [sp, #64]",
      "ldr x29, [sp, #80]",
      "ldr x17, [sp, #72]",
      "cbnz x17, ftrace_caller_direct_late",
      "ldr x30, [sp, #88]",
      "ldr x9, [sp, #104]",
      "add sp, sp, #144",
      "ret x9",
      "ftrace_caller_direct_late:",
      "ldr x9, [sp, #88]",
      "ldr x30, [sp, #104]",
      "add sp, sp, #144",
      "ftrace_caller_direct:",
      "br x17",
    ]);
  });

  it("refuses an ftrace_regs without a direct_tramp slot", () => {
    const e = thrown(Error, () => upstreamFtraceCaller({ fregs: { ...UPSTREAM_FREGS, direct_tramp: null }, mutations: new Set() }));
    expect(e.message).toBe("upstream ftrace_caller needs a direct_tramp slot");
  });
});

describe("ftrace_stub_direct_tramp", () => {
  it("starts with BTI C, then returns to the traced function with LR restored from x9", () => {
    expect(STUB_DIRECT_TRAMP).toEqual(["bti c", "mov x10, x30", "mov x30, x9", "ret x10"]);
  });

  it("is booted as those four words, BTI C first (ftrace_caller reaches it with BR X17)", () => {
    const k = bootUpstream();
    const base = KS.ftrace_stub_direct_tramp;
    const words = [0n, 4n, 8n, 12n].map((o) => k.mem.read32(base + o));
    expect(words[0]).toBe(BTI_C_WORD);
    expect(words).toEqual(assemble(STUB_DIRECT_TRAMP, base).words);
  });
});
