// The CPU: one A64 instruction at a time over the model's memory (the interpreter's semantics, the SP alignment
// check, BTI landing pads and the return-stack predictor), recording branches and breaches into a Recorder.
// Stands for a core executing kernel text; calls of traced functions are run by model/exec.ts.

import { decode, disasm, toHex, type Insn } from "./insn.ts";
import type { Kernel } from "./kernel.ts";
import { symbolize } from "./kernel.ts";
import { U64_MASK } from "./memory.ts";
import type { Recorder, RegSnapshot, TraceLine } from "./observation.ts";
/** A core's registers: x0-x30, sp, pc, and the return-stack predictor. */
export interface Cpu {
  readonly x: bigint[];
  sp: bigint;
  pc: bigint;
  /** Return-stack predictor: pushed by BL/BLR, popped by RET. */
  readonly rs: bigint[];
}

/** How a bti-landing violation's message starts (as scenario files record it). */
export const BTI_BREACH = "BTI:";

export const wrap = (v: bigint): bigint => v & U64_MASK;

/** A trace line whose text is made only when someone reads it (getters on the prototype, no closures). */
class LazyTraceLine implements TraceLine {
  constructor(
    private readonly k: Kernel,
    readonly pc: bigint,
    readonly insn: Insn,
  ) {}
  get where(): string {
    return name(this.k, this.pc);
  }
  get text(): string {
    return disasm(this.insn, this.pc, (a) => symbolize(this.k, a));
  }
}

export function traceLine(k: Kernel, pc: bigint, insn: Insn): TraceLine {
  return new LazyTraceLine(k, pc, insn);
}

export function snap(cpu: Cpu): RegSnapshot {
  return { x: cpu.x.slice(0, 10), x30: cpu.x[30]!, sp: cpu.sp };
}

export function name(k: Kernel, addr: bigint): string {
  return symbolize(k, addr) ?? toHex(addr);
}

/** Register read: 31 is XZR or SP depending on the field. */
export function rd(cpu: Cpu, r: number, sp31: boolean): bigint {
  return r === 31 ? (sp31 ? cpu.sp : 0n) : cpu.x[r]!;
}

export function wr(cpu: Cpu, r: number, v: bigint, sp31: boolean): void {
  if (r === 31) {
    if (sp31) cpu.sp = wrap(v);
    return;
  }
  cpu.x[r] = wrap(v);
}

function spCheck(k: Kernel, cpu: Cpu, rn: number, rec: Recorder): void {
  if (rn === 31 && cpu.sp % 16n !== 0n)
    rec.violations.push({ kind: "sp-alignment-fault", where: name(k, cpu.pc), message: `SP alignment fault: sp=${toHex(cpu.sp)} used as a base register at ${name(k, cpu.pc)}` });
}

/** Which landing pads accept an indirect branch (BTYPE rules of the Arm ARM, SCTLR_EL1.BT=0 for PAC*SP). */
export function landingOk(kind: "br" | "blr", reg: number, target: Insn | "host"): boolean {
  const viaX16X17 = reg === 16 || reg === 17;
  if (target === "host") return kind === "blr" || viaX16X17;
  if (target.kind === "bti") return target.target === "jc" || (target.target === "c" ? kind === "blr" || viaX16X17 : target.target === "j" && kind === "br");
  if (target.kind === "hint") return (target.imm === 25 || target.imm === 27) && (kind === "blr" || viaX16X17);
  return false;
}

/** Effective address of a load or store: base register (31 is SP) plus offset. */
export function ea(cpu: Cpu, rn: number, off: number): bigint {
  return wrap(rd(cpu, rn, true) + BigInt(off));
}

/** What an indirect branch lands on, for people: a C function's name, the instruction there, or "unmapped". */
function landingText(k: Kernel, to: bigint): string {
  if (k.hosts.has(to)) return symbolize(k, to) ?? "C function";
  return k.mem.has(to) ? disasm(decode(k.mem.read32(to)), to, (a) => symbolize(k, a)) : "unmapped";
}

export function indirect(k: Kernel, cpu: Cpu, rec: Recorder, kind: "br" | "blr" | "ret", reg: number, to: bigint): void {
  const host = k.hosts.get(to);
  let predicted = true;
  if (kind === "ret") {
    const expect = cpu.rs.pop();
    predicted = expect === to;
    if (!predicted) rec.violations.push({ kind: "ret-forward", where: name(k, cpu.pc), message: `RET used as a forward branch to ${name(k, to)} at ${name(k, cpu.pc)}` });
  } else if (k.layout.bti) {
    const target = host !== undefined ? "host" : k.mem.has(to) ? decode(k.mem.read32(to)) : null;
    if (target !== null && !landingOk(kind, reg, target))
      rec.violations.push({ kind: "bti-landing", where: name(k, cpu.pc), message: `${BTI_BREACH} ${kind} x${reg} at ${name(k, cpu.pc)} lands on "${landingText(k, to)}" at ${name(k, to)}` });
  }
  const from = cpu.pc;
  rec.branches.push({
    kind,
    reg,
    from,
    to,
    predicted,
    // Disassembly is only needed when a person reads it.
    get landing(): string {
      return landingText(k, to);
    },
  });
}

/** Execute one A64 instruction; returns a fault message or null. */
// The interpreter's hot loop uses a switch with a `never` check rather than ts-pattern: same exhaustiveness,
// several times faster (measured: ts-pattern was a third of a call's time).
export function step(k: Kernel, cpu: Cpu, insn: Insn, rec: Recorder): string | null {
  const pc = cpu.pc;
  const next = pc + 4n;
  const mem = k.mem;
  switch (insn.kind) {
    case "nop":
    case "bti":
    case "hint":
      cpu.pc = next;
      return null;
    case "orr_reg":
      wr(cpu, insn.rd, rd(cpu, insn.rn, false) | rd(cpu, insn.rm, false), false);
      cpu.pc = next;
      return null;
    case "add_imm":
    case "sub_imm": {
      const imm = BigInt(insn.imm12) << (insn.lsl12 ? 12n : 0n);
      const a = rd(cpu, insn.rn, true);
      wr(cpu, insn.rd, insn.kind === "add_imm" ? a + imm : a - imm, true);
      cpu.pc = next;
      return null;
    }
    case "and_imm":
      wr(cpu, insn.rd, rd(cpu, insn.rn, false) & insn.imm, true);
      cpu.pc = next;
      return null;
    case "ldr_imm":
    case "ldur": {
      spCheck(k, cpu, insn.rn, rec);
      const a = ea(cpu, insn.rn, insn.kind === "ldr_imm" ? insn.imm : insn.simm9);
      if (a % 4n !== 0n) return `misaligned load at ${toHex(a)}`;
      wr(cpu, insn.rt, mem.read64(a), false);
      cpu.pc = next;
      return null;
    }
    case "str_imm":
    case "stur": {
      spCheck(k, cpu, insn.rn, rec);
      const a = ea(cpu, insn.rn, insn.kind === "str_imm" ? insn.imm : insn.simm9);
      if (a % 4n !== 0n) return `misaligned store at ${toHex(a)}`;
      mem.write64(a, rd(cpu, insn.rt, false));
      cpu.pc = next;
      return null;
    }
    case "ldp":
    case "stp": {
      spCheck(k, cpu, insn.rn, rec);
      const base = rd(cpu, insn.rn, true);
      const a = wrap(insn.mode === "post" ? base : base + BigInt(insn.imm));
      if (a % 4n !== 0n) return `misaligned pair access at ${toHex(a)}`;
      if (insn.kind === "stp") {
        mem.write64(a, rd(cpu, insn.rt, false));
        mem.write64(a + 8n, rd(cpu, insn.rt2, false));
      } else {
        const v1 = mem.read64(a);
        const v2 = mem.read64(a + 8n);
        wr(cpu, insn.rt, v1, false);
        wr(cpu, insn.rt2, v2, false);
      }
      if (insn.mode !== "offset") wr(cpu, insn.rn, base + BigInt(insn.imm), true);
      cpu.pc = next;
      return null;
    }
    case "cbz":
    case "cbnz": {
      const zero = rd(cpu, insn.rt, false) === 0n;
      cpu.pc = zero === (insn.kind === "cbz") ? wrap(pc + BigInt(insn.offset)) : next;
      return null;
    }
    case "b":
      cpu.pc = wrap(pc + BigInt(insn.offset));
      return null;
    case "bl":
      cpu.x[30] = next;
      cpu.rs.push(next);
      cpu.pc = wrap(pc + BigInt(insn.offset));
      return null;
    case "br": {
      const to = rd(cpu, insn.rn, false);
      indirect(k, cpu, rec, "br", insn.rn, to);
      cpu.pc = to;
      return null;
    }
    case "blr": {
      const to = rd(cpu, insn.rn, false);
      indirect(k, cpu, rec, "blr", insn.rn, to);
      cpu.x[30] = next;
      cpu.rs.push(next);
      cpu.pc = to;
      return null;
    }
    case "ret": {
      const to = rd(cpu, insn.rn, false);
      indirect(k, cpu, rec, "ret", insn.rn, to);
      cpu.pc = to;
      return null;
    }
    case "adrp":
      wr(cpu, insn.rd, (pc & ~0xfffn) + BigInt(insn.offset), false);
      cpu.pc = next;
      return null;
    case "movz":
      wr(cpu, insn.rd, BigInt(insn.imm16) << BigInt(16 * insn.hw), false);
      cpu.pc = next;
      return null;
    case "movk": {
      const sh = BigInt(16 * insn.hw);
      wr(cpu, insn.rd, (rd(cpu, insn.rd, false) & ~(0xffffn << sh)) | (BigInt(insn.imm16) << sh), false);
      cpu.pc = next;
      return null;
    }
    case "brk":
      return `BRK #0x${insn.imm16.toString(16)} at ${name(k, pc)}`;
    case "unknown":
      return `undefined instruction 0x${insn.word.toString(16).padStart(8, "0")} at ${name(k, pc)}`;
    default:
      return unreachable(insn);
  }
}

export function unreachable(x: never): never {
  throw new Error(`unhandled case ${JSON.stringify(x)}`);
}

