// Conformance of the model's A64 encoder against GNU as: every instruction kind the model uses, at its operand
// edges (BL/B at -128 MiB and +128 MiB - 4, CBZ/CBNZ at +/-1 MiB, every register for BR/BLR/RET, load/store offset
// limits, bitmask immediates), plus the assembled trampoline listings of every variant, are written as assembly
// text, assembled by aarch64-linux-gnu-as, and the words compared with model/insn's encode.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot } from "../model/boot.ts";
import { decode, disasm, encode, type Insn } from "../model/insn.ts";
import { DEFAULT_KERNEL } from "../model/layout.ts";
import { VARIANTS } from "../model/variants/index.ts";
import { missingTools } from "./tools.ts";

const TOOLS = ["aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "aarch64-linux-gnu-objcopy"] as const;

/** The instruction as GNU as text, with pc-relative targets written as `.+N` so no symbols are needed. */
export function gasText(insn: Insn): string {
  const rel = (off: number): string => (off >= 0 ? `.+${off}` : `.-${-off}`);
  switch (insn.kind) {
    case "b":
    case "bl":
      return `${insn.kind} ${rel(insn.offset)}`;
    case "cbz":
    case "cbnz":
      return `${insn.kind} x${insn.rt}, ${rel(insn.offset)}`;
    case "adrp":
      return `adrp ${insn.rd === 31 ? "xzr" : `x${insn.rd}`}, ${rel(insn.offset)}`;
    default:
      return disasm(insn, 0n);
  }
}

const MiB = 1 << 20;

/** The generated set: edges and every register where it matters. */
export function cases(): Insn[] {
  const out: Insn[] = [{ kind: "nop" }];
  for (const target of ["none", "c", "j", "jc"] as const) out.push({ kind: "bti", target });
  for (const imm of [25, 27, 29, 31]) out.push({ kind: "hint", imm });
  for (const kind of ["b", "bl"] as const) for (const offset of [-128 * MiB, -128 * MiB + 4, -4, 0, 4, 0x1234560, 128 * MiB - 4]) out.push({ kind, offset });
  for (const kind of ["cbz", "cbnz"] as const) for (const offset of [-MiB, -8, 8, MiB - 4]) out.push({ kind, rt: 17, offset });
  for (const kind of ["br", "blr", "ret"] as const) for (let rn = 0; rn <= 30; rn++) out.push({ kind, rn });
  for (const [rd, rm] of [[9, 30], [30, 9], [10, 30], [1, 9], [2, 11]] as const) out.push({ kind: "orr_reg", rd, rn: 31, rm });
  for (const kind of ["add_imm", "sub_imm"] as const)
    for (const [rd, rn, imm12, lsl12] of [[31, 31, 144, false], [29, 31, 128, false], [0, 30, 4, false], [10, 31, 0, false], [3, 31, 0, false], [16, 16, 0x78, false], [5, 6, 4095, true]] as const)
      out.push({ kind, rd, rn, imm12, lsl12 });
  for (const imm of [0xfffffffffffffff8n, 0xffn, 0x00ff00ff00ff00ffn, 0xfffffffffffff000n]) out.push({ kind: "and_imm", rd: 11, rn: 30, imm });
  for (const kind of ["ldr_imm", "str_imm"] as const) for (const imm of [0, 8, 72, 208, 32760]) out.push({ kind, rt: kind === "str_imm" ? 31 : 17, rn: 11, imm });
  for (const kind of ["ldur", "stur"] as const) for (const simm9 of [-256, -16, -12, 12, 255]) out.push({ kind, rt: 11, rn: 11, simm9 });
  for (const kind of ["ldp", "stp"] as const)
    for (const [mode, imm] of [["offset", -512], ["offset", 0], ["offset", 504], ["pre", -16], ["post", 16]] as const) out.push({ kind, rt: 29, rt2: 30, rn: 31, imm, mode });
  for (const offset of [-4096, 0, 4096, 0x12345000]) out.push({ kind: "adrp", rd: 16, offset });
  for (const hw of [0, 1, 2, 3]) out.push({ kind: "movz", rd: 0, imm16: 0x1234, hw }, { kind: "movk", rd: 0, imm16: 0xbeef, hw });
  out.push({ kind: "brk", imm16: 0x100 });
  return out;
}

/** Every word of every variant's ftrace_caller and stub trampoline, as the model assembles them. */
export function variantWords(): Array<{ where: string; insn: Insn }> {
  const out: Array<{ where: string; insn: Insn }> = [];
  for (const [name, d] of VARIANTS) {
    const k = boot({ bti: false, kernel: DEFAULT_KERNEL, modules: [], functions: [], trampolines: [] }, d);
    for (const [lo, hi, region] of k.codeRegions) for (let a = lo; a < hi; a += 4n) out.push({ where: `${name} ${region}+${a - lo}`, insn: decode(k.mem.read32(a)) });
  }
  return out;
}

export function toolsPresent(): boolean {
  return missingTools(TOOLS).length === 0;
}

/** Assemble the texts with GNU as and return the words, in order. */
export function gasWords(texts: ReadonlyArray<string>): number[] {
  const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-as-"));
  const src = join(dir, "x.s");
  writeFileSync(src, `\t.text\n${texts.map((t) => `\t${t}\n`).join("")}`);
  execFileSync("aarch64-linux-gnu-as", ["-march=armv8.5-a", "-o", join(dir, "x.o"), src]);
  // Link at a page-aligned address so that ADRP's page relocations are resolved as for real code.
  execFileSync("aarch64-linux-gnu-ld", ["-Ttext=0x400000", "-e", "0x400000", "-o", join(dir, "x.elf"), join(dir, "x.o")]);
  execFileSync("aarch64-linux-gnu-objcopy", ["-O", "binary", "-j", ".text", join(dir, "x.elf"), join(dir, "x.bin")]);
  const bin = readFileSync(join(dir, "x.bin"));
  return Array.from({ length: bin.length / 4 }, (_, i) => bin.readUInt32LE(i * 4));
}

export interface Mismatch {
  readonly where: string;
  readonly text: string;
  readonly model: number;
  readonly gas: number;
}

/** Compare: the model's words against GNU as for the generated set and every variant's listings. */
export function compareEncodings(): { checked: number; mismatches: Mismatch[] } {
  const all = [...cases().map((insn, i) => ({ where: `case ${i}`, insn })), ...variantWords()];
  const texts = all.map((c) => gasText(c.insn));
  const words = gasWords(texts);
  const mismatches: Mismatch[] = [];
  all.forEach((c, i) => {
    const model = encode(c.insn);
    const gas = words[i] ?? -1;
    if (model !== gas) mismatches.push({ where: c.where, text: texts[i]!, model, gas });
  });
  return { checked: all.length, mismatches };
}
