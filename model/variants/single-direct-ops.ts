// The pending (for arm64) move to one ftrace_ops for every direct call: "ftrace,bpf: Use single direct ops for bpf
// trampolines" (merged for x86 in 2026, HAVE_SINGLE_FTRACE_DIRECT_OPS), as it would be if arm64 selected it.
// Each of a scenario's direct ops D becomes D's ip->trampoline pairs in the one shared ops `direct_ops`
// (update_ftrace_direct_add/del/mod), whose direct_call stays 0, and call_direct_funcs finds the trampoline by ip.
// ftrace_caller and the patch-sites are upstream's. reports/findings/pending-single-direct-ops.md has the rest.

import type { Design } from "../kernel.ts";
import { upstream } from "./upstream.ts";

export const singleDirectOps: Design = {
  ...upstream,
  name: "pending-single-direct-ops",
  description: "upstream with HAVE_SINGLE_FTRACE_DIRECT_OPS: one shared ops for every direct call, trampolines found by ip",
  singleDirectOps: true,
};
