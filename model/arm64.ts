// The arm64 arch side of dynamic ftrace with CALL_OPS and direct calls (arch/arm64/kernel/ftrace.c):
// patch-site literal updates, branch generation and validated text patching, reachability and module
// PLTs, and where a direct trampoline address is handed to ftrace_caller.

import { FTRACE_ADDR, ftrace_find_unique_ops } from "./core.ts";
import { ERRNO, type Ret } from "./errno.ts";
import { FTRACE_FL, hasFlag } from "./flags.ts";
import { InsnError, MOV_X9_X30_WORD, NOP_WORD, decode, disasm, encode, genBranch, reachableByBl, toHex } from "./insn.ts";
import type { ArchHooks, DynFtrace, FtraceOps, Kernel } from "./kernel.ts";
import { hasCallOps, symbolize, warn } from "./kernel.ts";
import { PLT_ENTRY_SIZE, literalAddr, moduleTextAt, withinModuleInitText, type ModuleLayout } from "./layout.ts";
import { mutated } from "./mutants.ts";

/** AARCH64_BREAK_FAULT: what aarch64_insn_gen_branch_imm returns for an unencodable branch. */
export const AARCH64_BREAK_FAULT = 0xd4202000;

/** Encoded branches by link, pc and target: the word is a pure function of the three (failures are not kept). */
const branchWords = [new Map<bigint, Map<bigint, number>>(), new Map<bigint, Map<bigint, number>>()] as const;

/** aarch64_insn_gen_branch_imm: a B/BL word, or AARCH64_BREAK_FAULT (with an error logged) if out of range. */
export function aarch64_insn_gen_branch_imm(k: Kernel, pc: bigint, addr: bigint, link: boolean): number {
  const byPc = branchWords[link ? 1 : 0];
  const known = byPc.get(pc)?.get(addr);
  if (known !== undefined) return known;
  try {
    const word = encode(genBranch(pc, addr, link));
    if (byPc.size > 4096) byPc.clear();
    let byAddr = byPc.get(pc);
    if (byAddr === undefined) byPc.set(pc, (byAddr = new Map()));
    byAddr.set(addr, word);
    return word;
  } catch (e) {
    // Stryker disable next-line all: every caller passes a target ftrace_find_callable_addr found within range
    if (e instanceof InsnError) {
      warn(k, "aarch64_insn_gen_branch_imm", `aarch64_insn_gen_branch_imm: ${e.message}`);
      return AARCH64_BREAK_FAULT;
    }
    throw e;
  }
}

/** reachable_by_bl: offset in [-SZ_128M, SZ_128M). */
export function reachable_by_bl(k: Kernel, addr: bigint, pc: bigint): boolean {
  if (mutated(k.design, "bl-range-off-by-4")) return reachableByBl(pc, addr) || reachableByBl(pc + 4n, addr);
  if (mutated(k.design, "bl-range-backwards")) return reachableByBl(addr, pc);
  return reachableByBl(pc, addr);
}

/**
 * ftrace_modify_code with validate set, the only way the arm64 hooks call it (the kernel's one unvalidated caller,
 * ftrace_update_ftrace_func, does nothing under CALL_OPS): read the word, refuse if it is not the expected old one,
 * then patch it (aarch64_insn_patch_text_nosync).
 */
export function ftrace_modify_code(k: Kernel, rec: DynFtrace, pc: bigint, old: number, nw: number, meant?: bigint): Ret {
  if (!k.mem.has(pc)) return -ERRNO.EFAULT;
  const replaced = k.mem.read32(pc);
  if (replaced !== old >>> 0) {
    const text = (w: number): string => `"${disasm(decode(w), pc, (x) => symbolize(k, x))}" (0x${(w >>> 0).toString(16).padStart(8, "0")})`;
    warn(k, "ftrace_modify_code", `ftrace_modify_code: ${rec.fn} at ${toHex(pc)} holds ${text(replaced)}, expected ${text(old)}`);
    return -ERRNO.EINVAL;
  }
  const before = k.mem.read32(pc);
  k.mem.write32(pc, nw);
  k.events.push({ kind: "write", what: "insn", fn: rec.fn, addr: pc, old: BigInt(before), new: BigInt(nw >>> 0), ...(meant !== undefined ? { meant } : {}) });
  return 0;
}

/** ftrace_rec_set_ops: one 8-byte store of the ops pointer into the literal (aarch64_insn_write_literal_u64). */
export function ftrace_rec_set_ops(k: Kernel, rec: DynFtrace, ops: FtraceOps): Ret {
  // Without CALL_OPS the site has no literal, and the kernel's ftrace_rec_set_ops is an empty stub.
  if (!hasCallOps(k.design)) return 0;
  const lit = literalAddr(rec.ip);
  const before = k.mem.read64(lit);
  k.mem.write64(lit, ops.addr);
  k.events.push({ kind: "write", what: "literal", fn: rec.fn, addr: lit, old: before, new: ops.addr });
  return 0;
}

/** arm64_rec_get_ops: the unique ops when CALL_OPS_EN, else ftrace_list_ops. */
export function arm64_rec_get_ops(k: Kernel, rec: DynFtrace): FtraceOps {
  if (hasFlag(rec.flags, FTRACE_FL.CALL_OPS_EN)) {
    const ops = ftrace_find_unique_ops(k, rec);
    if (ops !== null) return ops;
    warn(k, "arm64_rec_get_ops", `arm64_rec_get_ops: ${rec.fn} has CALL_OPS_EN but no unique ops`);
  }
  return k.listOps;
}

/** ftrace_rec_update_ops */
export function ftrace_rec_update_ops(k: Kernel, rec: DynFtrace): Ret {
  return ftrace_rec_set_ops(k, rec, arm64_rec_get_ops(k, rec));
}

/**
 * get_ftrace_plt: the module's ftrace PLT for a site at pc: the init text's own PLT for a site in init text
 * (a7ed7b9d0ebb), else the core text's.
 */
export function get_ftrace_plt(k: Kernel, mod: ModuleLayout, pc: bigint, addr: bigint = FTRACE_ADDR(k)): bigint | null {
  // WITH_REGS (v5.5..v6.1): the entry by target, FTRACE_PLT_IDX for ftrace_caller, FTRACE_REGS_PLT_IDX for ftrace_regs_caller.
  if (k.ftraceRegsCaller !== null && addr === k.ftraceRegsCaller) return mod.plt === null || mutated(k.design, "regs-plt-unfound") ? null : mod.plt + PLT_ENTRY_SIZE;
  if (withinModuleInitText(mod, pc) && !mutated(k.design, "ftrace-plt-core-only")) return mod.init?.plt ?? null;
  return mod.plt;
}

/** ftrace_find_callable_addr: the address the BL at rec->ip must target to reach addr, or null. */
export function ftrace_find_callable_addr(k: Kernel, rec: DynFtrace, addr: bigint): bigint | null {
  const pc = rec.ip;
  let target = addr;
  // An unreachable custom trampoline is reached through ftrace_caller and ops->direct_call.
  // Stryker disable next-line ConditionalExpression: for target == FTRACE_ADDR the assignment below stores the address target already holds
  if (target !== FTRACE_ADDR(k)) {
    if (!reachable_by_bl(k, target, pc) || mutated(k.design, "always-via-caller")) target = FTRACE_ADDR(k);
  }
  if (reachable_by_bl(k, target, pc)) return target;
  const mod = moduleTextAt(k.layout, pc);
  if (mod === undefined) {
    warn(k, "ftrace_find_callable_addr", `ftrace_find_callable_addr: ${rec.fn} at ${toHex(pc)} cannot reach ${toHex(target)} and is not in a module`);
    return null;
  }
  const plt = get_ftrace_plt(k, mod, pc);
  if (plt === null) {
    warn(k, "ftrace_find_callable_addr", `ftrace: no module PLT for ${rec.fn} in ${mod.name}`);
    return null;
  }
  return plt;
}

/** ftrace_make_call: literal first, then NOP -> BL. */
export function ftrace_make_call(k: Kernel, rec: DynFtrace, addr: bigint): Ret {
  const ret = mutated(k.design, "skip-literal-update") ? 0 : ftrace_rec_update_ops(k, rec);
  // Stryker disable next-line all: the model's literal store cannot fail (the kernel's aarch64_insn_write_literal_u64 can)
  if (ret !== 0) return ret;
  const target = k.design.arch.ftrace_find_callable_addr(k, rec, addr);
  if (target === null) return -ERRNO.EINVAL;
  return ftrace_modify_code(k, rec, rec.ip, NOP_WORD, aarch64_insn_gen_branch_imm(k, rec.ip, target, true), target);
}

/** ftrace_modify_call: literal first, then BL old -> BL new (also when only the ops changed). */
export function ftrace_modify_call(k: Kernel, rec: DynFtrace, oldAddr: bigint, addr: bigint): Ret {
  const ret = ftrace_rec_update_ops(k, rec);
  // Stryker disable next-line all: the model's literal store cannot fail (the kernel's aarch64_insn_write_literal_u64 can)
  if (ret !== 0) return ret;
  const noPlt = mutated(k.design, "modify-call-no-plt");
  const from = noPlt ? oldAddr : k.design.arch.ftrace_find_callable_addr(k, rec, oldAddr);
  if (from === null) return -ERRNO.EINVAL;
  const to = noPlt ? addr : k.design.arch.ftrace_find_callable_addr(k, rec, addr);
  if (to === null) return -ERRNO.EINVAL;
  const old = aarch64_insn_gen_branch_imm(k, rec.ip, from, true);
  const nw = aarch64_insn_gen_branch_imm(k, rec.ip, to, true);
  return ftrace_modify_code(k, rec, rec.ip, old, nw, to);
}

/** ftrace_make_nop: literal := ftrace_nop_ops first, then BL -> NOP. */
export function ftrace_make_nop(k: Kernel, rec: DynFtrace, addr: bigint): Ret {
  const ret = mutated(k.design, "make-nop-keeps-literal") ? 0 : ftrace_rec_set_ops(k, rec, k.nopOps);
  // Stryker disable next-line all: the model's literal store cannot fail (the kernel's aarch64_insn_write_literal_u64 can)
  if (ret !== 0) return ret;
  const target = k.design.arch.ftrace_find_callable_addr(k, rec, addr);
  if (target === null) return -ERRNO.EINVAL;
  return ftrace_modify_code(k, rec, rec.ip, aarch64_insn_gen_branch_imm(k, rec.ip, target, true), NOP_WORD);
}

/** ftrace_init_nop: literal := ftrace_nop_ops, then the NOP before rec->ip becomes MOV X9, X30. */
export function ftrace_init_nop(k: Kernel, rec: DynFtrace): Ret {
  const ret = ftrace_rec_set_ops(k, rec, k.nopOps);
  // Stryker disable next-line all: the model's literal store cannot fail (the kernel's aarch64_insn_write_literal_u64 can)
  if (ret !== 0) return ret;
  return ftrace_modify_code(k, rec, rec.ip - 4n, NOP_WORD, MOV_X9_X30_WORD);
}

/** arch_ftrace_set_direct_caller: fregs->direct_tramp = addr. */
export function arch_ftrace_set_direct_caller(k: Kernel, fregs: bigint, addr: bigint): void {
  const off = k.design.fregs.direct_tramp;
  if (off === null) {
    warn(k, "arch_ftrace_set_direct_caller", "arch_ftrace_set_direct_caller: this design's ftrace_regs has no direct_tramp slot");
    return;
  }
  k.mem.write64(fregs + BigInt(off), addr);
}

/**
 * ftrace_update_ftrace_func: under CALL_OPS nothing (ftrace_caller never calls the global trace function);
 * without it, the word at `ftrace_call` becomes BL func, patched without validating the old word.
 */
export function ftrace_update_ftrace_func(k: Kernel, func: bigint): Ret {
  if (hasCallOps(k.design)) return 0;
  const pc = k.ftraceCallSite;
  if (pc === null) {
    warn(k, "ftrace_update_ftrace_func", "ftrace_update_ftrace_func: this design's ftrace_caller has no ftrace_call");
    return -ERRNO.EINVAL;
  }
  const nw = aarch64_insn_gen_branch_imm(k, pc, func, true);
  if (nw === AARCH64_BREAK_FAULT) return -ERRNO.EINVAL;
  k.mem.write32(pc, nw);
  return 0;
}

export const UPSTREAM_ARCH: ArchHooks = {
  ftrace_init_nop,
  ftrace_make_call,
  ftrace_make_nop,
  ftrace_modify_call,
  ftrace_find_callable_addr,
  arch_ftrace_set_direct_caller,
  ftrace_update_ftrace_func,
};

/** Whether a design replaces any of upstream's arch hooks with code of its own (a change written as hooks). */
export function bringsOwnArch(arch: ArchHooks): boolean {
  return (Object.keys(UPSTREAM_ARCH) as Array<keyof ArchHooks>).some((h) => arch[h] !== UPSTREAM_ARCH[h]);
}
