// bl-range: no BL is ever written out of range, every BL reaches the address the arch code meant, and
// reachable_by_bl agrees with the encoder at the range edges of every site.

import { reachable_by_bl } from "../model/arm64.ts";
import { decode, encode, genBranch, InsnError, toHex } from "../model/insn.ts";
import type { Kernel } from "../model/kernel.ts";
import type { Property } from "./property.ts";

const SZ_128M = 0x8000000n;
const EDGES = [-SZ_128M - 4n, -SZ_128M, -SZ_128M + 4n, SZ_128M - 4n, SZ_128M];

/** The encoder's answer for each offset from an aligned pc (it depends on nothing else there). */
const ENCODES_AT_OFFSET = new Map<bigint, boolean>();

function encodes(pc: bigint, to: bigint): boolean {
  const aligned = pc % 4n === 0n;
  const known = aligned ? ENCODES_AT_OFFSET.get(to - pc) : undefined;
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    encode(genBranch(pc, to, true));
    ok = true;
  } catch (e) {
    if (!(e instanceof InsnError)) throw e;
    ok = false;
  }
  if (aligned && ENCODES_AT_OFFSET.size < 1 << 16) ENCODES_AT_OFFSET.set(to - pc, ok);
  return ok;
}

function edgesAgree(k: Kernel): string | null {
  for (const rec of k.recs) {
    const targets = [...EDGES.map((d) => rec.ip + d), ...k.layout.trampolines.map((t) => t.addr), k.layout.kernel.ftrace_caller];
    for (const to of targets) {
      if (reachable_by_bl(k, to, rec.ip) !== encodes(rec.ip, to))
        return `${rec.fn}: reachable_by_bl(${toHex(to)}, ${toHex(rec.ip)}) says ${reachable_by_bl(k, to, rec.ip)}, the BL encoder says ${encodes(rec.ip, to)}`;
    }
  }
  return null;
}

export const blRange: Property = {
  name: "bl-range",
  kills: [
    { mutant: "bl-range-off-by-4", maxSteps: 0 },
    { mutant: "bl-range-backwards", maxSteps: 0 },
    { mutant: "modify-call-no-plt", maxSteps: 2 },
    { mutant: "ftrace-plt-core-only", maxSteps: 1 },
  ],
  says: "Every instruction written at a patch-site is a NOP or a BL that decodes to exactly the target the arch code meant (never an out-of-range branch or a BRK), and reachable_by_bl agrees with the encoder at +/-128 MiB.",
  guards: "reachable_by_bl, ftrace_find_callable_addr, get_ftrace_plt, aarch64_insn_gen_branch_imm",
  needsCalls: false,
  atBoot: edgesAgree,
  check: ({ result }) => {
    if (result.do === "call") return null;
    for (const e of result.events) {
      if (e.kind !== "write" || e.what !== "insn" || e.meant === undefined) continue;
      const insn = decode(Number(e.new));
      if (insn.kind !== "bl") return `${e.fn}: wrote "${insn.kind}" (0x${e.new.toString(16)}) at ${toHex(e.addr)} where a BL to ${toHex(e.meant)} was meant`;
      const to = (e.addr + BigInt(insn.offset)) & ((1n << 64n) - 1n);
      if (to !== e.meant) return `${e.fn}: BL at ${toHex(e.addr)} goes to ${toHex(to)}, meant ${toHex(e.meant)}`;
    }
    return null;
  },
};
