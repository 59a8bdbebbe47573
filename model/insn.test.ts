// Tests for the A64 encoder/decoder/disassembler: the GNU objdump 2.40 listings from the research
// notes (shared/research/aarch64.md §1) as word <-> text vectors, range edges, bitmask immediates,
// rejected operands, and round-trip properties over random instructions and random words.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { thrown } from "./testkit.ts";
import { assembleLine } from "./asm.ts";
import {
  BTI_C_WORD,
  InsnError,
  MOV_X9_X30_WORD,
  NOP_WORD,
  branchTarget,
  decode,
  decodeBitmask,
  disasm,
  encode,
  encodeBitmask,
  genBranch,
  reachableByBl,
  toHex,
  type Insn,
  type PairMode,
} from "./insn.ts";

// objdump -d of the research probe (enc.S), verbatim: "addr:\tword \ttext".
const LISTING = `
       0:	d503201f 	nop
       4:	d503241f 	bti
       8:	d503245f 	bti	c
       c:	d503249f 	bti	j
      10:	d50324df 	bti	jc
      14:	d503245f 	bti	c
      18:	d503233f 	paciasp
      1c:	d50323bf 	autiasp
      20:	d503237f 	pacibsp
      24:	aa1e03e9 	mov	x9, x30
      28:	aa1e03e9 	mov	x9, x30
      2c:	aa1e03e9 	mov	x9, x30
      30:	aa0903fe 	mov	x30, x9
      34:	94000001 	bl	38 <_start+0x38>
      38:	94000401 	bl	103c <_start+0x103c>
    103c:	14000000 	b	0 <_start>
    1040:	14000000 	b	1040 <_start+0x1040>
    1044:	94000000 	bl	1044 <_start+0x1044>
    1048:	15ffffff 	b	8001044 <_start+0x8001044>
    104c:	16000000 	b	fffffffff800104c <_start+0xfffffffff800104c>
    1050:	95ffffff 	bl	800104c <_start+0x800104c>
    1054:	96000000 	bl	fffffffff8001054 <_start+0xfffffffff8001054>
    1058:	d61f0000 	br	x0
    105c:	d61f0200 	br	x16
    1060:	d61f0220 	br	x17
    1064:	d61f0120 	br	x9
    1068:	d63f0000 	blr	x0
    106c:	d63f0200 	blr	x16
    1070:	d63f0080 	blr	x4
    1074:	d65f03c0 	ret
    1078:	d65f0120 	ret	x9
    107c:	d65f0140 	ret	x10
    1080:	d65f03c0 	ret
    1084:	f940016b 	ldr	x11, [x11]
    1088:	f940056b 	ldr	x11, [x11, #8]
    108c:	f85f016b 	ldur	x11, [x11, #-16]
    1090:	f85f016b 	ldur	x11, [x11, #-16]
    1094:	f9400971 	ldr	x17, [x11, #16]
    1098:	f9400c44 	ldr	x4, [x2, #24]
    109c:	f97fffe9 	ldr	x9, [sp, #32760]
    10a0:	f8500020 	ldur	x0, [x1, #-256]
    10a4:	f84ff020 	ldur	x0, [x1, #255]
    10a8:	927df3cb 	and	x11, x30, #0xfffffffffffffff8
    10ac:	927df3cb 	and	x11, x30, #0xfffffffffffffff8
    10b0:	927df3cb 	and	x11, x30, #0xfffffffffffffff8
    10b4:	b4000011 	cbz	x17, 10b4 <_start+0x10b4>
    10b8:	b5000051 	cbnz	x17, 10c0 <_start+0x10c0>
    10bc:	b5ffffd1 	cbnz	x17, 10b4 <_start+0x10b4>
    10c0:	34000000 	cbz	w0, 10c0 <_start+0x10c0>
    10c4:	b57ffff1 	cbnz	x17, 1010c0 <_start+0x1010c0>
    10c8:	b5800011 	cbnz	x17, fffffffffff010c8 <_start+0xfffffffffff010c8>
    10cc:	a9bf7bfd 	stp	x29, x30, [sp, #-16]!
    10d0:	a8c17bfd 	ldp	x29, x30, [sp], #16
    10d4:	a90007e0 	stp	x0, x1, [sp]
    10d8:	a9010fe2 	stp	x2, x3, [sp, #16]
    10dc:	a94007e0 	ldp	x0, x1, [sp]
    10e0:	a9410fe2 	ldp	x2, x3, [sp, #16]
    10e4:	a92027fd 	stp	x29, x9, [sp, #-512]
    10e8:	a91fa7fd 	stp	x29, x9, [sp, #504]
    10ec:	910003ea 	mov	x10, sp
    10f0:	d10543ff 	sub	sp, sp, #0x150
    10f4:	910543ff 	add	sp, sp, #0x150
    10f8:	d10013c0 	sub	x0, x30, #0x4
    10fc:	aa0903e1 	mov	x1, x9
    1100:	910003e3 	mov	x3, sp
    1104:	aa0b03e2 	mov	x2, x11
    1108:	d5033fdf 	isb
    110c:	d5033b9f 	dsb	ish
    1110:	d50b7b20 	dc	cvau, x0
    1114:	d50b7520 	ic	ivau, x0
    1118:	d4200000 	brk	#0x0
    111c:	d4202000 	brk	#0x100
    1120:	d4000001 	svc	#0x0
    1124:	00000000 	udf	#0
    1128:	55667788 	.word	0x55667788
    112c:	11223344 	.word	0x11223344
`;

// objdump 2.40 of `hint #0`..`#40`, verbatim: "#imm word text".
const HINTS = `
#0 d503201f nop 
#1 d503203f yield 
#2 d503205f wfe 
#3 d503207f wfi 
#4 d503209f sev 
#5 d50320bf sevl 
#6 d50320df hint #0x6
#7 d50320ff xpaclri 
#8 d503211f pacia1716 
#9 d503213f hint #0x9
#10 d503215f pacib1716 
#11 d503217f hint #0xb
#12 d503219f autia1716 
#13 d50321bf hint #0xd
#14 d50321df autib1716 
#15 d50321ff hint #0xf
#16 d503221f esb 
#17 d503223f psb csync
#18 d503225f tsb csync
#19 d503227f hint #0x13
#20 d503229f csdb 
#21 d50322bf hint #0x15
#22 d50322df clearbhb 
#23 d50322ff hint #0x17
#24 d503231f paciaz 
#25 d503233f paciasp 
#26 d503235f pacibz 
#27 d503237f pacibsp 
#28 d503239f autiaz 
#29 d50323bf autiasp 
#30 d50323df autibz 
#31 d50323ff autibsp 
#32 d503241f bti 
#33 d503243f hint #0x21
#34 d503245f bti c
#35 d503247f hint #0x23
#36 d503249f bti j
#37 d50324bf hint #0x25
#38 d50324df bti jc
#39 d50324ff hint #0x27
#40 d503251f hint #0x28
`;

interface Row {
  readonly pc: bigint;
  readonly word: number;
  readonly objdump: string;
  /** The objdump text in our format: single spaces, targets as 0x + 16 hex digits. */
  readonly text: string;
}

const ROWS: ReadonlyArray<Row> = LISTING.split("\n")
  .filter((l) => l.trim() !== "")
  .map((line) => {
    const m = /^\s*([0-9a-f]+):\t([0-9a-f]{8}) \t(.*)$/.exec(line);
    if (m === null) throw new Error(`bad listing line ${line}`);
    const objdump = (m[3] ?? "").trim();
    const text = objdump
      .replace(/\t/g, " ")
      .replace(/ ([0-9a-f]+) <[^>]*>$/, (_all, addr: string) => ` 0x${addr.padStart(16, "0")}`);
    return { pc: BigInt(`0x${m[1] ?? ""}`), word: Number.parseInt(m[2] ?? "", 16), objdump, text };
  });

/**
 * `b _start` at 0x103c: gas left a R_AARCH64_JUMP26 relocation against the global `_start`, so the
 * word is really `b .` and objdump's "0 <_start>" comes from the relocation, not from the word.
 */
const RELOCATED = new Set(["b 0x0000000000000000"]);

/** Listing rows outside the modelled subset (system instructions, 32-bit CBZ, SVC, UDF). */
const OUTSIDE = new Set(["isb", "dsb ish", "dc cvau, x0", "ic ivau, x0", "svc #0x0", "udf #0", "cbz w0, 0x00000000000010c0"]);

const noSymbols = (): bigint | undefined => undefined;

const insnError = (f: () => unknown): InsnError => thrown(InsnError, f);

describe("objdump 2.40 listing", () => {
  const inSubset = ROWS.filter((r) => !OUTSIDE.has(r.text) && !RELOCATED.has(r.text));

  it("parses all 76 rows, 68 of them in the subset with a relocation-free text", () => {
    expect(ROWS).toHaveLength(76);
    expect(inSubset).toHaveLength(68);
  });

  it("decodes the relocated b _start row as b . (offset 0)", () => {
    const r = ROWS.find((row) => RELOCATED.has(row.text));
    expect(r?.pc).toBe(0x103cn);
    expect(decode(r?.word ?? 0)).toEqual({ kind: "b", offset: 0 });
    expect(disasm({ kind: "b", offset: 0 }, 0x103cn)).toBe("b 0x000000000000103c");
  });

  it.each(inSubset.map((r) => [r.objdump, r] as const))("decode + disasm: %s", (_name, r) => {
    const insn = decode(r.word);
    if (!r.text.startsWith(".word")) expect(insn.kind).not.toBe("unknown");
    expect(disasm(insn, r.pc)).toBe(r.text);
    expect(encode(insn)).toBe(r.word);
  });

  it.each(inSubset.map((r) => [r.objdump, r] as const))("assemble + encode: %s", (_name, r) => {
    expect(encode(assembleLine(r.text, r.pc, noSymbols))).toBe(r.word);
  });

  it("decodes the rows outside the subset as unknown and prints them as .word", () => {
    const outside = ROWS.filter((r) => OUTSIDE.has(r.text));
    expect(outside).toHaveLength(7);
    for (const r of outside) {
      expect(decode(r.word)).toEqual({ kind: "unknown", word: r.word });
      expect(disasm(decode(r.word), r.pc)).toBe(`.word 0x${r.word.toString(16).padStart(8, "0")}`);
    }
  });

  it("encodes hand-built instructions to the listed words", () => {
    const cases: ReadonlyArray<readonly [Insn, number]> = [
      [{ kind: "nop" }, 0xd503201f],
      [{ kind: "bti", target: "none" }, 0xd503241f],
      [{ kind: "bti", target: "c" }, 0xd503245f],
      [{ kind: "bti", target: "j" }, 0xd503249f],
      [{ kind: "bti", target: "jc" }, 0xd50324df],
      [{ kind: "orr_reg", rd: 9, rn: 31, rm: 30 }, 0xaa1e03e9],
      [{ kind: "orr_reg", rd: 30, rn: 31, rm: 9 }, 0xaa0903fe],
      [{ kind: "bl", offset: 4 }, 0x94000001],
      [{ kind: "b", offset: 0 }, 0x14000000],
      [{ kind: "br", rn: 17 }, 0xd61f0220],
      [{ kind: "blr", rn: 4 }, 0xd63f0080],
      [{ kind: "ret", rn: 30 }, 0xd65f03c0],
      [{ kind: "ret", rn: 9 }, 0xd65f0120],
      [{ kind: "ldr_imm", rt: 17, rn: 11, imm: 8 }, 0xf9400571],
      [{ kind: "ldr_imm", rt: 4, rn: 2, imm: 0 }, 0xf9400044],
      [{ kind: "str_imm", rt: 31, rn: 31, imm: 72 }, 0xf90027ff],
      [{ kind: "ldur", rt: 11, rn: 11, simm9: -16 }, 0xf85f016b],
      [{ kind: "ldur", rt: 0, rn: 1, simm9: 12 }, 0xf840c020],
      [{ kind: "and_imm", rd: 11, rn: 30, imm: 0xfffffffffffffff8n }, 0x927df3cb],
      [{ kind: "cbnz", rt: 17, offset: 8 }, 0xb5000051],
      [{ kind: "stp", rt: 29, rt2: 30, rn: 31, imm: -16, mode: "pre" }, 0xa9bf7bfd],
      [{ kind: "ldp", rt: 29, rt2: 30, rn: 31, imm: 16, mode: "post" }, 0xa8c17bfd],
      [{ kind: "add_imm", rd: 10, rn: 31, imm12: 0, lsl12: false }, 0x910003ea],
      [{ kind: "sub_imm", rd: 31, rn: 31, imm12: 0x90, lsl12: false }, 0xd10243ff],
      [{ kind: "sub_imm", rd: 0, rn: 30, imm12: 4, lsl12: false }, 0xd10013c0],
      [{ kind: "brk", imm16: 0x100 }, 0xd4202000],
    ];
    for (const [insn, word] of cases) {
      expect(encode(insn), disasm(insn, 0n)).toBe(word);
      expect(decode(word)).toEqual(insn);
    }
  });

  it("exports the patch-site constants", () => {
    expect(NOP_WORD).toBe(encode({ kind: "nop" }));
    expect(BTI_C_WORD).toBe(encode({ kind: "bti", target: "c" }));
    expect(MOV_X9_X30_WORD).toBe(encode({ kind: "orr_reg", rd: 9, rn: 31, rm: 30 }));
  });
});

describe("hint space #0..#40", () => {
  const hints = HINTS.split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const m = /^#(\d+) ([0-9a-f]{8}) (.*)$/.exec(line);
      if (m === null) throw new Error(`bad hint line ${line}`);
      return { imm: Number(m[1]), word: Number.parseInt(m[2] ?? "", 16), text: (m[3] ?? "").trim() };
    });

  it("has 41 rows", () => expect(hints).toHaveLength(41));

  it.each(hints.map((h) => [h.imm, h] as const))("hint #%i", (_imm, h) => {
    expect(encode({ kind: "hint", imm: h.imm })).toBe(h.word);
    expect(disasm(decode(h.word), 0n)).toBe(h.text);
    expect(disasm({ kind: "hint", imm: h.imm }, 0n)).toBe(h.text);
    expect(encode(assembleLine(h.text, 0n, noSymbols))).toBe(h.word);
  });

  it("normalises hint #0 to nop and the BTI hints to bti", () => {
    expect(decode(encode({ kind: "hint", imm: 0 }))).toEqual({ kind: "nop" });
    expect(decode(encode({ kind: "hint", imm: 32 }))).toEqual({ kind: "bti", target: "none" });
    expect(decode(encode({ kind: "hint", imm: 34 }))).toEqual({ kind: "bti", target: "c" });
    expect(decode(encode({ kind: "hint", imm: 36 }))).toEqual({ kind: "bti", target: "j" });
    expect(decode(encode({ kind: "hint", imm: 38 }))).toEqual({ kind: "bti", target: "jc" });
    expect(decode(0xd503233f)).toEqual({ kind: "hint", imm: 25 });
    expect(() => encode({ kind: "hint", imm: 128 })).toThrow(InsnError);
  });
});

describe("B/BL range", () => {
  const pc = 0xffff800008010010n;

  it("encodes the extreme offsets", () => {
    expect(encode({ kind: "bl", offset: -0x8000000 })).toBe(0x96000000);
    expect(encode({ kind: "bl", offset: 0x7fffffc })).toBe(0x95ffffff);
    expect(encode({ kind: "b", offset: -0x8000000 })).toBe(0x16000000);
    expect(encode({ kind: "b", offset: 0x7fffffc })).toBe(0x15ffffff);
    expect(decode(0x96000000)).toEqual({ kind: "bl", offset: -0x8000000 });
    expect(decode(0x95ffffff)).toEqual({ kind: "bl", offset: 0x7fffffc });
  });

  it("rejects offsets just outside the range and misaligned offsets", () => {
    for (const offset of [-0x8000004, 0x8000000, 2, -6, 0.5, Number.NaN]) {
      expect(() => encode({ kind: "bl", offset })).toThrow(InsnError);
      expect(() => encode({ kind: "b", offset })).toThrow(InsnError);
    }
    expect(insnError(() => encode({ kind: "bl", offset: 0x8000000 })).message).toBe(
      "bl offset +0x8000000 is out of range [-128 MiB, +128 MiB - 4]",
    );
  });

  it("genBranch and reachableByBl agree at the edges", () => {
    const cases: ReadonlyArray<readonly [bigint, boolean]> = [
      [-0x8000000n, true],
      [0x7fffffcn, true],
      [-0x8000004n, false],
      [0x8000000n, false],
      [0n, true],
    ];
    for (const [off, ok] of cases) {
      const target = BigInt.asUintN(64, pc + off);
      expect(reachableByBl(pc, target)).toBe(ok);
      if (ok) {
        const insn = genBranch(pc, target, true);
        expect(insn).toEqual({ kind: "bl", offset: Number(off) });
        expect(branchTarget(insn, pc)).toBe(target);
      } else {
        expect(() => genBranch(pc, target, true)).toThrow(InsnError);
        expect(() => genBranch(pc, target, false)).toThrow(InsnError);
      }
    }
  });

  it("names pc, target and offset in the message", () => {
    expect(insnError(() => genBranch(pc, pc + 0x8000000n, true)).message).toBe(
      "BL from 0xffff800008010010 to 0xffff800010010010: offset +0x8000000 is out of range [-128 MiB, +128 MiB - 4]",
    );
    const msg = insnError(() => genBranch(pc, pc + 2n, false)).message;
    expect(msg).toContain("branch target 0xffff800008010012 is not 4-byte aligned");
    expect(msg).toContain("offset +0x2");
    expect(msg).toContain("B from 0xffff800008010010");
    expect(() => genBranch(pc + 1n, pc + 8n, true)).toThrow(InsnError);
  });

  it("reachableByBl ignores alignment and wraps around 2^64", () => {
    expect(reachableByBl(pc, pc + 0x7fffffdn)).toBe(true);
    expect(reachableByBl(0x10n, 0xfffffffffffffff0n)).toBe(true);
    expect(reachableByBl(0xfffffffffffffff0n, 0x10n)).toBe(true);
    expect(reachableByBl(0n, 0x8000000000000000n)).toBe(false);
    expect(genBranch(0xfffffffffffffffcn, 0x4n, false)).toEqual({ kind: "b", offset: 8 });
  });
});

describe("CBZ/CBNZ range", () => {
  it("encodes the extreme offsets", () => {
    expect(encode({ kind: "cbnz", rt: 17, offset: 0xffffc })).toBe(0xb57ffff1);
    expect(encode({ kind: "cbnz", rt: 17, offset: -0x100000 })).toBe(0xb5800011);
    expect(encode({ kind: "cbz", rt: 0, offset: 0xffffc })).toBe(0xb47fffe0);
    expect(encode({ kind: "cbz", rt: 0, offset: -0x100000 })).toBe(0xb4800000);
  });

  it("rejects offsets outside [-1 MiB, +1 MiB - 4] and misaligned ones", () => {
    for (const offset of [0x100000, -0x100004, 2]) {
      expect(() => encode({ kind: "cbz", rt: 0, offset })).toThrow(InsnError);
      expect(() => encode({ kind: "cbnz", rt: 0, offset })).toThrow(InsnError);
    }
  });

  it("branchTarget follows the offset", () => {
    expect(branchTarget({ kind: "cbz", rt: 1, offset: -8 }, 0x1000n)).toBe(0xff8n);
    expect(branchTarget({ kind: "adrp", rd: 16, offset: 0x2000 }, 0xffff800008010abcn)).toBe(0xffff800008012000n);
    expect(branchTarget({ kind: "br", rn: 16 }, 0x1000n)).toBeUndefined();
  });
});

describe("bitmask immediates", () => {
  it("bic x11, x30, #7 is and #0xfffffffffffffff8 = 0x927df3cb", () => {
    expect(encodeBitmask(0xfffffffffffffff8n)).toBe((1 << 12) | (61 << 6) | 60);
    expect(encode(assembleLine("bic x11, x30, #7", 0n, noSymbols))).toBe(0x927df3cb);
  });

  it("rejects 0, all-ones and non-runs", () => {
    for (const v of [0n, (1n << 64n) - 1n, 5n, 0x5n << 60n, 0x1234n]) {
      expect(encodeBitmask(v)).toBeUndefined();
      expect(() => encode({ kind: "and_imm", rd: 0, rn: 1, imm: v })).toThrow(InsnError);
    }
    expect(insnError(() => encode({ kind: "and_imm", rd: 0, rn: 1, imm: 5n })).message).toBe(
      "0x5 is not a valid bitmask immediate",
    );
    expect(() => encode({ kind: "and_imm", rd: 0, rn: 1, imm: 1n << 64n })).toThrow(InsnError);
    expect(() => encode({ kind: "and_imm", rd: 0, rn: 1, imm: -8n })).toThrow(InsnError);
  });

  it("encodes replicated patterns at every element size", () => {
    expect(encodeBitmask(0x5555555555555555n)).toBe(0x3c); // size 2, one bit, no rotation
    expect(encodeBitmask(0xaaaaaaaaaaaaaaaan)).toBe((1 << 6) | 0x3c);
    expect(encodeBitmask(0x7777777777777777n)).toBe(0x3a); // size 4, three bits
    expect(encodeBitmask(0x00ff00ff00ff00ffn)).toBe(0x27); // size 16, eight bits
    expect(encodeBitmask(0x00000000ffffffffn)).toBe((1 << 12) | 0x1f); // size 64, 32 bits
    expect(encodeBitmask(0x0000ffff0000ffffn)).toBe(0x0f); // size 32, 16 bits
    expect(encodeBitmask(0x8000000000000000n)).toBe((1 << 12) | (1 << 6)); // size 64, one bit, ror 1
  });

  it("all 8192 N:immr:imms fields give 5334 distinct values, each with one accepted encoding", () => {
    const values = new Map<bigint, number>();
    for (let bits = 0; bits < 8192; bits++) {
      const v = decodeBitmask(bits >> 12, (bits >> 6) & 0x3f, bits & 0x3f);
      if (v === undefined) continue;
      expect(values.has(v)).toBe(false);
      values.set(v, bits);
      expect(encodeBitmask(v)).toBe(bits);
    }
    expect(values.size).toBe(5334);
  });

  it("decodes AND words with immr bits above the element size as unknown", () => {
    // N=0, imms=0b000000 (32-bit element), immr=0b100000: the Arm ARM ignores immr<5>.
    expect(decode(0x92200000)).toEqual({ kind: "unknown", word: 0x92200000 });
    expect(decode(0x92000000)).toEqual({ kind: "and_imm", rd: 0, rn: 0, imm: 0x0000000100000001n });
  });
});

describe("operand validation", () => {
  it("rejects out-of-range registers", () => {
    expect(() => encode({ kind: "orr_reg", rd: 32, rn: 0, rm: 0 })).toThrow(InsnError);
    expect(() => encode({ kind: "br", rn: -1 })).toThrow(InsnError);
    expect(() => encode({ kind: "ldr_imm", rt: 1.5, rn: 0, imm: 0 })).toThrow(InsnError);
  });

  it("rejects load/store offsets the encoding cannot hold", () => {
    expect(insnError(() => encode({ kind: "ldr_imm", rt: 0, rn: 1, imm: 12 })).message).toBe(
      "ldr offset 12 is not a multiple of 8",
    );
    expect(() => encode({ kind: "ldr_imm", rt: 0, rn: 1, imm: 32768 })).toThrow(InsnError);
    expect(() => encode({ kind: "str_imm", rt: 0, rn: 1, imm: -8 })).toThrow(InsnError);
    expect(() => encode({ kind: "ldur", rt: 0, rn: 1, simm9: 256 })).toThrow(InsnError);
    expect(() => encode({ kind: "stur", rt: 0, rn: 1, simm9: -257 })).toThrow(InsnError);
    expect(() => encode({ kind: "stp", rt: 0, rt2: 1, rn: 31, imm: 512, mode: "offset" })).toThrow(InsnError);
    expect(() => encode({ kind: "stp", rt: 0, rt2: 1, rn: 31, imm: 4, mode: "offset" })).toThrow(InsnError);
    expect(() => encode({ kind: "ldp", rt: 0, rt2: 1, rn: 31, imm: -520, mode: "pre" })).toThrow(InsnError);
  });

  it("rejects CONSTRAINED UNPREDICTABLE pair forms, and decodes them as unknown", () => {
    const bad: ReadonlyArray<Insn> = [
      { kind: "ldp", rt: 3, rt2: 3, rn: 31, imm: 0, mode: "offset" },
      { kind: "ldp", rt: 31, rt2: 31, rn: 1, imm: 0, mode: "offset" },
      { kind: "ldp", rt: 1, rt2: 2, rn: 1, imm: 16, mode: "post" },
      { kind: "ldp", rt: 1, rt2: 2, rn: 2, imm: -16, mode: "pre" },
      { kind: "stp", rt: 1, rt2: 2, rn: 1, imm: -16, mode: "pre" },
      { kind: "stp", rt: 1, rt2: 2, rn: 2, imm: 16, mode: "post" },
    ];
    for (const insn of bad) expect(() => encode(insn), disasm(insn, 0n)).toThrow(InsnError);
    expect(decode(0xa9400fe3)).toEqual({ kind: "unknown", word: 0xa9400fe3 }); // ldp x3, x3, [sp]
    expect(decode(0xa8c10821)).toEqual({ kind: "unknown", word: 0xa8c10821 }); // ldp x1, x2, [x1], #16
    // Allowed: stores of the same register twice, writeback to SP with XZR data, no-writeback overlap.
    const good: ReadonlyArray<Insn> = [
      { kind: "stp", rt: 3, rt2: 3, rn: 31, imm: 0, mode: "offset" },
      { kind: "stp", rt: 31, rt2: 31, rn: 31, imm: -16, mode: "pre" },
      { kind: "ldp", rt: 1, rt2: 2, rn: 1, imm: 16, mode: "offset" },
    ];
    for (const insn of good) expect(decode(encode(insn))).toEqual(insn);
  });

  it("rejects bad adrp, mov, brk and word operands", () => {
    expect(() => encode({ kind: "adrp", rd: 0, offset: 0x800 })).toThrow(InsnError);
    expect(() => encode({ kind: "adrp", rd: 0, offset: 0x100000000 })).toThrow(InsnError);
    expect(encode({ kind: "adrp", rd: 0, offset: 0x100000000 - 4096 })).toBe(0xf07fffe0);
    expect(encode({ kind: "adrp", rd: 16, offset: -0x100000000 })).toBe(0x90800010);
    expect(() => encode({ kind: "movz", rd: 0, imm16: 0x10000, hw: 0 })).toThrow(InsnError);
    expect(() => encode({ kind: "movk", rd: 0, imm16: 1, hw: 4 })).toThrow(InsnError);
    expect(() => encode({ kind: "brk", imm16: -1 })).toThrow(InsnError);
    expect(() => encode({ kind: "add_imm", rd: 0, rn: 0, imm12: 4096, lsl12: false })).toThrow(InsnError);
    expect(() => encode({ kind: "unknown", word: 2 ** 32 })).toThrow(InsnError);
  });
});

describe("disasm", () => {
  const at = (insn: Insn, pc = 0x1000n, sym?: (a: bigint) => string | undefined): string => disasm(insn, pc, sym);

  it("prints register 31 as sp or xzr by field", () => {
    expect(at({ kind: "add_imm", rd: 31, rn: 10, imm12: 0, lsl12: false })).toBe("mov sp, x10");
    expect(at({ kind: "add_imm", rd: 31, rn: 31, imm12: 0x90, lsl12: false })).toBe("add sp, sp, #0x90");
    expect(at({ kind: "add_imm", rd: 1, rn: 2, imm12: 0, lsl12: false })).toBe("add x1, x2, #0x0");
    expect(at({ kind: "add_imm", rd: 1, rn: 31, imm12: 1, lsl12: true })).toBe("add x1, sp, #0x1, lsl #12");
    expect(at({ kind: "sub_imm", rd: 1, rn: 31, imm12: 0, lsl12: true })).toBe("sub x1, sp, #0x0, lsl #12");
    expect(at({ kind: "and_imm", rd: 31, rn: 31, imm: 0xfffffffffffffff0n })).toBe("and sp, xzr, #0xfffffffffffffff0");
    expect(at({ kind: "orr_reg", rd: 1, rn: 2, rm: 3 })).toBe("orr x1, x2, x3");
    expect(at({ kind: "orr_reg", rd: 31, rn: 31, rm: 31 })).toBe("mov xzr, xzr");
    expect(at({ kind: "ldr_imm", rt: 17, rn: 11, imm: 208 })).toBe("ldr x17, [x11, #208]");
    expect(at({ kind: "str_imm", rt: 31, rn: 31, imm: 72 })).toBe("str xzr, [sp, #72]");
    expect(at({ kind: "stur", rt: 1, rn: 2, simm9: 0 })).toBe("stur x1, [x2]");
    expect(at({ kind: "stp", rt: 0, rt2: 1, rn: 31, imm: 0, mode: "pre" })).toBe("stp x0, x1, [sp, #0]!");
    expect(at({ kind: "ldp", rt: 0, rt2: 1, rn: 31, imm: 0, mode: "post" })).toBe("ldp x0, x1, [sp], #0");
    expect(at({ kind: "br", rn: 31 })).toBe("br xzr");
    expect(at({ kind: "movz", rd: 0, imm16: 0x1234, hw: 1 })).toBe("movz x0, #0x1234, lsl #16");
    expect(at({ kind: "movk", rd: 3, imm16: 0xffff, hw: 0 })).toBe("movk x3, #0xffff");
    expect(at({ kind: "brk", imm16: 0x100 })).toBe("brk #0x100");
    expect(at({ kind: "unknown", word: 0x12345678 })).toBe(".word 0x12345678");
    expect(at({ kind: "unknown", word: 0 })).toBe(".word 0x00000000");
  });

  it("prints targets as 64-bit addresses, wrapping mod 2^64, or symbolically", () => {
    const pc = 0xffff800008010008n;
    expect(at({ kind: "bl", offset: 0x100 }, pc)).toBe("bl 0xffff800008010108");
    expect(at({ kind: "b", offset: 8 }, 0xfffffffffffffffcn)).toBe("b 0x0000000000000004");
    const sym = (a: bigint): string | undefined => (a === 0xffff800008010108n ? "ftrace_caller" : undefined);
    expect(at({ kind: "bl", offset: 0x100 }, pc, sym)).toBe("bl ftrace_caller");
    expect(at({ kind: "bl", offset: 0x104 }, pc, sym)).toBe("bl 0xffff80000801010c");
    expect(at({ kind: "adrp", rd: 16, offset: 0x1000 }, 0xffff800008010abcn)).toBe("adrp x16, 0xffff800008011000");
  });

  it("toHex pads to 16 digits and wraps", () => {
    expect(toHex(0x10n)).toBe("0x0000000000000010");
    expect(toHex(-4n)).toBe("0xfffffffffffffffc");
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const reg = fc.integer({ min: 0, max: 31 });

/** A valid 64-bit bitmask immediate, built from (element size, run length, rotation). */
const bitmask = fc
  .tuple(fc.constantFrom(2, 4, 8, 16, 32, 64), fc.integer({ min: 1, max: 63 }), fc.integer({ min: 0, max: 63 }))
  .map(([size, runRaw, rotRaw]) => {
    const run = 1 + (runRaw % (size - 1));
    const rot = rotRaw % size;
    const mask = (1n << BigInt(size)) - 1n;
    const ones = (1n << BigInt(run)) - 1n;
    const elem = rot === 0 ? ones : ((ones >> BigInt(rot)) | (ones << BigInt(size - rot))) & mask;
    let v = 0n;
    for (let i = 0; i < 64; i += size) v |= elem << BigInt(i);
    return v;
  });

const pairMode = fc.constantFrom<PairMode>("offset", "pre", "post");
const pairOk = (p: { kind: "ldp" | "stp"; rt: number; rt2: number; rn: number; mode: PairMode }): boolean =>
  !(p.kind === "ldp" && p.rt === p.rt2) && (p.mode === "offset" || p.rn === 31 || (p.rn !== p.rt && p.rn !== p.rt2));

const validInsn: fc.Arbitrary<Insn> = fc.oneof(
  fc.constant<Insn>({ kind: "nop" }),
  fc.constantFrom("none", "c", "j", "jc").map((target): Insn => ({ kind: "bti", target })),
  fc.integer({ min: 1, max: 127 }).filter((i) => ![32, 34, 36, 38].includes(i)).map((imm): Insn => ({ kind: "hint", imm })),
  fc.record({ kind: fc.constant("orr_reg" as const), rd: reg, rn: reg, rm: reg }),
  fc.record({ kind: fc.constantFrom("add_imm" as const, "sub_imm" as const), rd: reg, rn: reg, imm12: fc.integer({ min: 0, max: 4095 }), lsl12: fc.boolean() }),
  fc.record({ kind: fc.constant("and_imm" as const), rd: reg, rn: reg, imm: bitmask }),
  fc.record({ kind: fc.constantFrom("ldr_imm" as const, "str_imm" as const), rt: reg, rn: reg, imm: fc.integer({ min: 0, max: 4095 }).map((i) => i * 8) }),
  fc.record({ kind: fc.constantFrom("ldur" as const, "stur" as const), rt: reg, rn: reg, simm9: fc.integer({ min: -256, max: 255 }) }),
  fc
    .record({ kind: fc.constantFrom("ldp" as const, "stp" as const), rt: reg, rt2: reg, rn: reg, imm: fc.integer({ min: -64, max: 63 }).map((i) => i * 8), mode: pairMode })
    .filter(pairOk),
  fc.record({ kind: fc.constantFrom("cbz" as const, "cbnz" as const), rt: reg, offset: fc.integer({ min: -(2 ** 18), max: 2 ** 18 - 1 }).map((i) => i * 4) }),
  fc.record({ kind: fc.constantFrom("b" as const, "bl" as const), offset: fc.integer({ min: -(2 ** 25), max: 2 ** 25 - 1 }).map((i) => i * 4) }),
  fc.record({ kind: fc.constantFrom("br" as const, "blr" as const, "ret" as const), rn: reg }),
  fc.record({ kind: fc.constant("adrp" as const), rd: reg, offset: fc.integer({ min: -(2 ** 20), max: 2 ** 20 - 1 }).map((i) => i * 4096) }),
  fc.record({ kind: fc.constantFrom("movz" as const, "movk" as const), rd: reg, imm16: fc.integer({ min: 0, max: 0xffff }), hw: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("brk" as const), imm16: fc.integer({ min: 0, max: 0xffff }) }),
);

/** Any 4-byte aligned 64-bit address. */
const pcArb = fc.bigInt({ min: 0n, max: (1n << 62n) - 1n }).map((x) => x * 4n);

/** Every third address gets a name; the inverse parses it back. */
const symbolize = (a: bigint): string | undefined => (a % 3n === 0n ? `sym_${a.toString(16)}` : undefined);
const resolveSym = (name: string): bigint | undefined => {
  const m = /^sym_([0-9a-f]+)$/.exec(name);
  return m === null ? undefined : BigInt(`0x${m[1] ?? ""}`);
};

/** (mask, value) of each decoded class, so random words often land in the subset. */
const CLASSES: ReadonlyArray<readonly [number, number]> = [
  [0xfffff01f, 0xd503201f], [0xffe0fc00, 0xaa000000], [0xff800000, 0x91000000], [0xff800000, 0xd1000000],
  [0xff800000, 0x92000000], [0xffc00000, 0xf9400000], [0xffc00000, 0xf9000000], [0xffe00c00, 0xf8400000],
  [0xffe00c00, 0xf8000000], [0xffc00000, 0xa9400000], [0xffc00000, 0xa9c00000], [0xffc00000, 0xa8c00000],
  [0xffc00000, 0xa9000000], [0xffc00000, 0xa9800000], [0xffc00000, 0xa8800000], [0xff000000, 0xb4000000],
  [0xff000000, 0xb5000000], [0xfc000000, 0x14000000], [0xfc000000, 0x94000000], [0xfffffc1f, 0xd61f0000],
  [0xfffffc1f, 0xd63f0000], [0xfffffc1f, 0xd65f0000], [0x9f000000, 0x90000000], [0xff800000, 0xd2800000],
  [0xff800000, 0xf2800000], [0xffe0001f, 0xd4200000],
  // near misses: 32-bit forms, other shifts, LDNP/STNP, ADDG, pre/post LDR
  [0xff800000, 0x11000000], [0xff200000, 0xaa400000], [0xffc00000, 0xa8400000], [0xff800000, 0x91800000],
  [0xffe00c00, 0xf8400c00], [0x7f000000, 0x34000000],
];

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const word = fc.oneof(
  u32,
  fc.tuple(fc.constantFrom(...CLASSES), u32).map(([[mask, value], r]) => ((r & ~mask) | value) >>> 0),
);

describe("properties", () => {
  it("decode(encode(i)) equals i and assembleLine(disasm(i)) equals i", () => {
    fc.assert(
      fc.property(validInsn, pcArb, fc.boolean(), (insn, pc, named) => {
        const w = encode(insn);
        expect(w >>> 0).toBe(w);
        expect(decode(w)).toEqual(insn);
        const text = named ? disasm(insn, pc, symbolize) : disasm(insn, pc);
        expect(assembleLine(text, pc, resolveSym)).toEqual(insn);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it("decode of any u32 never throws and known words re-encode to themselves", () => {
    fc.assert(
      fc.property(word, pcArb, (w, pc) => {
        const insn = decode(w);
        if (insn.kind !== "unknown") expect(encode(insn)).toBe(w);
        else expect(insn.word).toBe(w);
        expect(assembleLine(disasm(insn, pc), pc, resolveSym)).toEqual(insn);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
