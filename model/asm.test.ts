// Tests for the listing assembler: labels and forward references, externals, GNU as conveniences
// (bic, ldr -> ldur, lr/fp, lsl #12), the out-of-range operands GNU as rejects (research notes §1),
// and one-line InsnError messages naming the offending line.

import { describe, expect, it } from "vitest";
import { thrown } from "./testkit.ts";
import { assemble, assembleLine } from "./asm.ts";
import { InsnError, disasm, encode, type Insn } from "./insn.ts";

const none = (): bigint | undefined => undefined;
const line = (text: string, pc = 0x1000n): Insn => assembleLine(text, pc, none);
const word = (text: string, pc = 0x1000n): number => encode(line(text, pc));

const insnError = (f: () => unknown): InsnError => thrown(InsnError, f);

describe("assemble", () => {
  const base = 0xffff800008010000n;
  const externals = (name: string): bigint | undefined =>
    name === "ftrace_stub" ? 0xffff800008020000n : name === "ops_page" ? 0xffff800009123456n : undefined;

  it("resolves labels (forward and backward), externals, comments and blank lines", () => {
    const out = assemble(
      [
        "// patch-site-like prologue",
        "entry:",
        "  bti c",
        "  mov x9, lr          // save the return address",
        "",
        "  bl tramp",
        "  b entry",
        "tramp:",
        "  stp fp, lr, [sp, #-16]!",
        "  adrp x16, ops_page",
        "  cbnz x17, done",
        "  bl ftrace_stub",
        "done:",
        "  ldp x29, x30, [sp], #16",
        "  ret x9",
      ],
      base,
      externals,
    );
    expect([...out.labels]).toEqual([
      ["entry", base],
      ["tramp", base + 16n],
      ["done", base + 32n],
    ]);
    expect(out.words.map((w) => w.toString(16))).toEqual([
      "d503245f",
      "aa1e03e9",
      "94000002",
      "17fffffd",
      "a9bf7bfd",
      "f0008890", // adrp: page delta +0x1113000
      "b5000051",
      "94003ff9",
      "a8c17bfd",
      "d65f0120",
    ]);
    expect(out.insns).toHaveLength(10);
    expect(out.insns[5]).toEqual({ kind: "adrp", rd: 16, offset: 0x1113000 });
    expect(disasm(out.insns[7] ?? { kind: "nop" }, base + 28n)).toBe("bl 0xffff800008020000");
  });

  it("prefers labels over externals and places labels at the wrap of 2^64", () => {
    const out = assemble(["nop", "ftrace_stub:", "b ftrace_stub"], 0xfffffffffffffffcn, externals);
    expect(out.labels.get("ftrace_stub")).toBe(0n);
    expect(out.insns[1]).toEqual({ kind: "b", offset: 0 });
  });

  it("reports the line number and text of a failing line", () => {
    const e = insnError(() => assemble(["nop", "  bl far_away"], base, externals));
    expect(e.message).toBe(`line 2 at 0xffff800008010004: "bl far_away": undefined symbol "far_away"`);
    expect(() => assemble(["a:", "nop", "a:"], base)).toThrow(/label "a" is defined twice/);
    expect(() => assemble(["a: nop"], base)).toThrow(InsnError);
  });

  it("reports out-of-range branches with pc and target", () => {
    const e = insnError(() => assemble(["bl far"], base, (n) => (n === "far" ? base + 0x8000000n : undefined)));
    expect(e.message).toContain("BL from 0xffff800008010000 to 0xffff800010010000: offset +0x8000000 is out of range");
    expect(e.message).not.toContain("\n");
  });
});

describe("assembleLine syntax", () => {
  it("accepts GNU as conveniences", () => {
    expect(word("bic x11, x30, #7")).toBe(0x927df3cb);
    expect(word("and x11, lr, #-8")).toBe(0x927df3cb);
    expect(word("ldr x11, [x11, #-16]")).toBe(0xf85f016b);
    expect(word("ldr x0, [x1, #12]")).toBe(0xf840c020);
    expect(word("ldr x9, [sp, #32760]")).toBe(0xf97fffe9);
    expect(line("str x1, [x2, #4]")).toEqual({ kind: "stur", rt: 1, rn: 2, simm9: 4 });
    expect(line("str x1, [x2, #-8]")).toEqual({ kind: "stur", rt: 1, rn: 2, simm9: -8 });
    expect(line("ldur x1, [x2, #8]")).toEqual({ kind: "ldur", rt: 1, rn: 2, simm9: 8 });
    expect(word("str xzr, [sp, #72]")).toBe(0xf90027ff);
    expect(word("mov x9, x30")).toBe(0xaa1e03e9);
    expect(word("mov x10, sp")).toBe(0x910003ea);
    expect(line("mov sp, x10")).toEqual({ kind: "add_imm", rd: 31, rn: 10, imm12: 0, lsl12: false });
    expect(line("mov x1, xzr")).toEqual({ kind: "orr_reg", rd: 1, rn: 31, rm: 31 });
    expect(word("sub sp, sp, #336")).toBe(0xd10543ff);
    expect(line("add x0, x1, #0x1000")).toEqual({ kind: "add_imm", rd: 0, rn: 1, imm12: 1, lsl12: true });
    expect(line("add x0, x1, #1, lsl #12")).toEqual({ kind: "add_imm", rd: 0, rn: 1, imm12: 1, lsl12: true });
    expect(line("sub x0, x1, #1, lsl #0")).toEqual({ kind: "sub_imm", rd: 0, rn: 1, imm12: 1, lsl12: false });
    expect(line("stp fp, lr, [sp, #-16]!")).toEqual({ kind: "stp", rt: 29, rt2: 30, rn: 31, imm: -16, mode: "pre" });
    expect(line("MOVZ X0, #0x1234, LSL #16")).toEqual({ kind: "movz", rd: 0, imm16: 0x1234, hw: 1 });
    expect(line("movk x0, 4660")).toEqual({ kind: "movk", rd: 0, imm16: 0x1234, hw: 0 });
    expect(line("brk #256")).toEqual({ kind: "brk", imm16: 0x100 });
    expect(line("hint #34")).toEqual({ kind: "bti", target: "c" });
    expect(line("hint #0")).toEqual({ kind: "nop" });
    expect(line("paciasp")).toEqual({ kind: "hint", imm: 25 });
    expect(line("  psb   csync  ")).toEqual({ kind: "hint", imm: 17 });
    expect(line("ret")).toEqual({ kind: "ret", rn: 30 });
    expect(line("ret lr")).toEqual({ kind: "ret", rn: 30 });
    expect(line(".word 0x55667788")).toEqual({ kind: "unknown", word: 0x55667788 });
    expect(line(".word 0xd503201f")).toEqual({ kind: "nop" });
    expect(line("nop // trailing comment")).toEqual({ kind: "nop" });
  });

  it("accepts absolute hex targets and gas-style . offsets", () => {
    expect(line("bl 0x0000000000001100")).toEqual({ kind: "bl", offset: 0x100 });
    expect(line("b 0x1000")).toEqual({ kind: "b", offset: 0 });
    expect(word("bl .+0x7fffffc")).toBe(0x95ffffff);
    expect(word("bl .-0x8000000")).toBe(0x96000000);
    expect(word("cbnz x17, .+8")).toBe(0xb5000051);
    expect(line("adrp x16, 0x2fff")).toEqual({ kind: "adrp", rd: 16, offset: 0x1000 });
    expect(line("b 0x0000000000000004", 0xfffffffffffffffcn)).toEqual({ kind: "b", offset: 8 });
    const sym = (n: string): bigint | undefined => (n === "ftrace_caller" ? 0x2000n : undefined);
    expect(assembleLine("bl ftrace_caller+0x10", 0x1000n, sym)).toEqual({ kind: "bl", offset: 0x1010 });
    expect(assembleLine("b ftrace_caller - 8", 0x1000n, sym)).toEqual({ kind: "b", offset: 0xff8 });
  });
});

describe("rejected operands", () => {
  // Out-of-range operands GNU as 2.40 rejects (research notes §1).
  const gasRejects = [
    "b .+0x8000000",
    "b .-0x8000004",
    "bl .+0x8000000",
    "b .+2",
    "cbz x0, .+0x100000",
    "ldr x0,[x1,#32768]",
    "ldur x0,[x1,#256]",
    "ldr x0,[x1,#-257]",
    "stp x0,x1,[sp,#512]",
    "stp x0,x1,[sp,#4]",
    "bic x0,x1,#0",
    "bic x0,x1,#5",
  ];

  it.each(gasRejects)("%s", (text) => {
    const e = insnError(() => line(text));
    expect(e.message.startsWith(JSON.stringify(text))).toBe(true);
    expect(e.message).not.toContain("\n");
  });

  it("gives precise reasons", () => {
    expect(insnError(() => line("bic x0,x1,#5")).message).toBe(`"bic x0,x1,#5": 0xfffffffffffffffa is not a valid bitmask immediate`);
    expect(insnError(() => line("ldr x0,[x1,#32768]")).message).toContain("neither a multiple of 8 in [0, 32760] nor in [-256, 255]");
    expect(insnError(() => line("stp x0,x1,[sp,#4]")).message).toContain("stp offset 4 is not a multiple of 8");
    expect(insnError(() => line("b .+2")).message).toContain("is not 4-byte aligned");
    expect(insnError(() => line("cbz x0, .+0x100000")).message).toBe(
      `"cbz x0, .+0x100000": CBZ from 0x0000000000001000 to 0x0000000000101000: offset +0x100000 is out of range [-1 MiB, +1 MiB - 4]`,
    );
  });

  const malformed = [
    "",
    "// only a comment",
    "frobnicate x0",
    "mov x0",
    "mov x0, #1",
    "mov sp, xzr",
    "add x0, xzr, #1",
    "orr x0, sp, x1",
    "ldr x0, [xzr]",
    "ldr w0, [x1]",
    "cbz w0, .",
    "ldr x0, [x1, #8]!",
    "ldr x0, label",
    "add x0, x1, x2",
    "add x0, x1, #-4",
    "add x0, x1, #1, lsl #3",
    "movz x0, #1, lsl #8",
    "movz x0, #0x10000",
    "ldp x0, x0, [sp]",
    "ldp x1, x2, [x1], #16",
    "stp x1, x2, [x2, #-16]!",
    "ldp x0, x1, [sp, #16], #16",
    "stp x0, x1, [sp",
    "stp x0, x1, sp]",
    "br x31",
    "blr x0, x1",
    "bti k",
    "hint #128",
    ".word 0x100000000",
    "brk #0x10000",
    "adrp x0, 0x10000000000001000",
    "b nowhere",
    "x0:",
    "nop\nnop",
  ];

  it.each(malformed)("malformed: %j", (text) => {
    const e = insnError(() => line(text));
    expect(e.message.startsWith(JSON.stringify(text.trim()))).toBe(true);
    expect(e.message).not.toContain("\n");
  });
});
