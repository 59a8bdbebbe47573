// The BTI matrix: for every indirect or direct branch kind, every register, every landing instruction the model
// knows, on guarded pages and on plain ones, the model's verdict (the landing rule its interpreter applies to
// every BR and BLR) against QEMU's: does the branch fault or not.

import { landingOk } from "../model/exec.ts";
import { decode, encode, type Insn } from "../model/insn.ts";
import { runBatch, splitReplies } from "./qemu.ts";

const SRC = 0x2100000000n;
const TGT = 0x2100100000n;
const STACK = 0x2100200000n;

export type BranchKind = "br" | "blr" | "ret" | "b" | "bl";

export interface Landing {
  readonly name: string;
  readonly insn: Insn;
}

/** Landing instructions: none (a NOP), the four BTIs, and the PAC prologues that act as BTI C. */
export const LANDINGS: ReadonlyArray<Landing> = [
  { name: "nop", insn: { kind: "nop" } },
  { name: "bti", insn: { kind: "bti", target: "none" } },
  { name: "bti c", insn: { kind: "bti", target: "c" } },
  { name: "bti j", insn: { kind: "bti", target: "j" } },
  { name: "bti jc", insn: { kind: "bti", target: "jc" } },
  { name: "paciasp", insn: { kind: "hint", imm: 25 } },
  { name: "pacibsp", insn: { kind: "hint", imm: 27 } },
];

export interface BtiCase {
  readonly kind: BranchKind;
  /** The register holding the target (BR, BLR, RET); null for B and BL. */
  readonly reg: number | null;
  readonly landing: Landing;
  readonly guarded: boolean;
}

export function btiCases(): BtiCase[] {
  const out: BtiCase[] = [];
  for (const guarded of [true, false])
    for (const landing of LANDINGS) {
      for (const kind of ["br", "blr", "ret"] as const) for (let reg = 0; reg <= 30; reg++) out.push({ kind, reg, landing, guarded });
      for (const kind of ["b", "bl"] as const) out.push({ kind, reg: null, landing, guarded });
    }
  return out;
}

/** A landing rule: whether a BR/BLR through reg may land on the target word (the model's is landingOk). */
export type LandingRule = (kind: "br" | "blr", reg: number, target: Insn) => boolean;

/** The model's verdict: true if the branch faults. Only BR and BLR into a guarded page are checked. */
export function modelFaults(c: BtiCase, rule: LandingRule = landingOk): boolean {
  if (!c.guarded || c.reg === null || c.kind === "ret" || c.kind === "b" || c.kind === "bl") return false;
  return !rule(c.kind, c.reg, decode(encode(c.landing.insn)));
}

function branchWord(c: BtiCase): number {
  const off = Number(TGT - SRC);
  switch (c.kind) {
    case "b":
    case "bl":
      return encode({ kind: c.kind, offset: off });
    case "br":
    case "blr":
    case "ret":
      return encode({ kind: c.kind, rn: c.reg ?? 0 });
  }
}

export interface BtiResult {
  readonly cases: number;
  readonly differences: ReadonlyArray<{ readonly c: BtiCase; readonly model: string; readonly cpu: string }>;
  readonly ms: number;
}

export function describeCase(c: BtiCase): string {
  return `${c.kind}${c.reg === null ? "" : ` x${c.reg}`} -> ${c.landing.name} on a ${c.guarded ? "guarded" : "plain"} page`;
}

/** Run the whole matrix in one QEMU process and compare each case with the model's verdict. */
export function btiMatrix(rule: LandingRule = landingOk): BtiResult {
  const started = performance.now();
  const cases = btiCases();
  const cmds: string[] = [];
  const hex = (v: bigint | number): string => v.toString(16);
  for (const c of cases) {
    const prot = c.guarded ? "g" : "x";
    cmds.push("reset", `map ${hex(SRC)} 1000 ${prot}`, `map ${hex(TGT)} 1000 ${prot}`, `map ${hex(STACK - 0x1000n)} 1000 w`);
    cmds.push(`w ${hex(SRC)} ${hex(branchWord(c))}`, `w ${hex(TGT)} ${hex(encode(c.landing.insn))}`, `host ${hex(TGT + 4n)} r 0`);
    // Every register holds the target, so whichever one the branch reads, it goes there (x30 too, for RET).
    cmds.push(["call", hex(SRC), hex(STACK), ...Array.from({ length: 31 }, () => hex(TGT))].join(" "));
  }
  const replies = splitReplies(runBatch(cmds).lines, cmds);
  const differences: Array<{ c: BtiCase; model: string; cpu: string }> = [];
  cases.forEach((c, i) => {
    const end = replies[i]?.find((l) => l.startsWith("e ")) ?? "";
    const t = end.split(" ");
    const cpu = t[1] === "ok" ? "no fault" : t[1] === "fault" && t[2] === "4" && BigInt(`0x${t[4]}`) === TGT ? "BTI fault at the target" : `other: ${end.slice(0, 60)}`;
    const model = modelFaults(c, rule) ? "BTI fault at the target" : "no fault";
    if (cpu !== model) differences.push({ c, model, cpu });
  });
  return { cases: cases.length, differences, ms: performance.now() - started };
}

/** A broken landing rule for the self-check: BR X16/X17 onto BTI C refused, as if only BLR could land there. */
export const brokenRule: LandingRule = (kind, reg, target) => (kind === "br" && (reg === 16 || reg === 17) && target.kind === "bti" && target.target === "c" ? false : landingOk(kind, reg, target));
