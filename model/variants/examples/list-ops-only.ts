// The README's worked example of a design change given with `--design FILE` (it is registered nowhere): a naive
// cure for the CALL_OPS survivor finding (recursion-protected). If arm64_rec_get_ops answered ftrace_list_ops for
// every record, no site would call an ops' func directly, so none could skip ftrace_ops_assist_func. In C that is a
// one-line change to arm64_rec_get_ops; here it is the two arch hooks that write a traced site's literal, each as
// upstream's with ftrace_list_ops for the literal.
//
//   npx dispatch-spec gate --design model/variants/examples/list-ops-only.ts
//
// judges it against upstream's recorded verdicts: recursion-protected newly holding, every other safety property
// unchanged, and path-selection and reference-agreement newly failing, both [agreement]: every call now takes the
// list function, which upstream takes only for a function two ops trace. The design is safe and slower.

import { aarch64_insn_gen_branch_imm, ftrace_modify_code, ftrace_rec_set_ops, UPSTREAM_ARCH } from "../../arm64.ts";
import { ERRNO, type Ret } from "../../errno.ts";
import { NOP_WORD } from "../../insn.ts";
import type { Design, DynFtrace, Kernel } from "../../kernel.ts";
import { upstream } from "../upstream.ts";

/** ftrace_make_call with ftrace_list_ops for the literal: the literal first, then NOP -> BL. */
function ftrace_make_call(k: Kernel, rec: DynFtrace, addr: bigint): Ret {
  ftrace_rec_set_ops(k, rec, k.listOps);
  const target = k.design.arch.ftrace_find_callable_addr(k, rec, addr);
  if (target === null) return -ERRNO.EINVAL;
  return ftrace_modify_code(k, rec, rec.ip, NOP_WORD, aarch64_insn_gen_branch_imm(k, rec.ip, target, true), target);
}

/** ftrace_modify_call with ftrace_list_ops for the literal: the literal first, then BL old -> BL new. */
function ftrace_modify_call(k: Kernel, rec: DynFtrace, oldAddr: bigint, addr: bigint): Ret {
  ftrace_rec_set_ops(k, rec, k.listOps);
  const from = k.design.arch.ftrace_find_callable_addr(k, rec, oldAddr);
  const to = k.design.arch.ftrace_find_callable_addr(k, rec, addr);
  if (from === null || to === null) return -ERRNO.EINVAL;
  return ftrace_modify_code(k, rec, rec.ip, aarch64_insn_gen_branch_imm(k, rec.ip, from, true), aarch64_insn_gen_branch_imm(k, rec.ip, to, true), to);
}

const listOpsOnly: Design = {
  ...upstream,
  name: "list-ops-only",
  description: "every traced site's literal is ftrace_list_ops (arm64_rec_get_ops never answers the unique ops)",
  arch: { ...UPSTREAM_ARCH, ftrace_make_call, ftrace_modify_call },
};

export default listOpsOnly;
