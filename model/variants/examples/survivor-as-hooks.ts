// A second worked example for `--design FILE` (registered nowhere): the survivor fix written as arch code instead of
// the core's switch (survivor-fix sets Design.callOpsOnSurvivor). arm64_rec_get_ops still answers the unique ops
// when CALL_OPS_EN is set, but the literal names it only if its func is the ops' own callback (no
// ftrace_ops_assist_func needed); otherwise ftrace_list_ops, which calls the assist wrapper. After a decrement that
// leaves one recursion- or RCU-protected ops the site then goes through the list, as survivor-fix's does; the
// other way round (a protected ops leaves, a plain one stays) it keeps upstream's list literal.
//
//   npx dispatch-spec gate --design model/variants/examples/survivor-as-hooks.ts
//
// A change must get the same verdict however it is written: recursion-protected newly holding and everything else
// unchanged, as `gate --variant survivor-fix` says of the switch.

import { aarch64_insn_gen_branch_imm, arm64_rec_get_ops, ftrace_modify_code, ftrace_rec_set_ops, UPSTREAM_ARCH } from "../../arm64.ts";
import { ftrace_ops_get_func_is_func } from "../../core.ts";
import { ERRNO, type Ret } from "../../errno.ts";
import { NOP_WORD } from "../../insn.ts";
import type { Design, DynFtrace, FtraceOps, Kernel } from "../../kernel.ts";
import { upstream } from "../upstream.ts";

/** arm64_rec_get_ops, refusing a unique ops that needs the assist wrapper. */
function literalOps(k: Kernel, rec: DynFtrace): FtraceOps {
  const ops = arm64_rec_get_ops(k, rec);
  return ops === k.listOps || ftrace_ops_get_func_is_func(ops) ? ops : k.listOps;
}

/** ftrace_make_call: the literal first, then NOP -> BL. */
function ftrace_make_call(k: Kernel, rec: DynFtrace, addr: bigint): Ret {
  ftrace_rec_set_ops(k, rec, literalOps(k, rec));
  const target = k.design.arch.ftrace_find_callable_addr(k, rec, addr);
  if (target === null) return -ERRNO.EINVAL;
  return ftrace_modify_code(k, rec, rec.ip, NOP_WORD, aarch64_insn_gen_branch_imm(k, rec.ip, target, true), target);
}

/** ftrace_modify_call: the literal first, then BL old -> BL new. */
function ftrace_modify_call(k: Kernel, rec: DynFtrace, oldAddr: bigint, addr: bigint): Ret {
  ftrace_rec_set_ops(k, rec, literalOps(k, rec));
  const from = k.design.arch.ftrace_find_callable_addr(k, rec, oldAddr);
  const to = k.design.arch.ftrace_find_callable_addr(k, rec, addr);
  if (from === null || to === null) return -ERRNO.EINVAL;
  return ftrace_modify_code(k, rec, rec.ip, aarch64_insn_gen_branch_imm(k, rec.ip, from, true), aarch64_insn_gen_branch_imm(k, rec.ip, to, true), to);
}

const survivorAsHooks: Design = {
  ...upstream,
  name: "survivor-as-hooks",
  description: "the survivor fix in arm64_rec_get_ops: a unique ops that needs ftrace_ops_assist_func is reached through ftrace_list_ops",
  arch: { ...UPSTREAM_ARCH, ftrace_make_call, ftrace_modify_call },
};

export default survivorAsHooks;
