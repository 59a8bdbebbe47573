// upstream with the fix reports/findings/failed-registration-visible.md proposes: ftrace_startup's rollbacks (a
// registration that ftrace_hash_ipmodify_enable refuses, and c3b0f72e805f's for one whose patching killed ftrace)
// wait for list walkers as ftrace_shutdown does before returning the error, so an owner that frees the refused ops
// (livepatch's klp_patch_func does, at once) frees it under no CPU. The refused ops is still on the list for a
// moment, so its callback may still run: the wait fixes the free, not the visibility.

import type { Design } from "../kernel.ts";
import { upstream } from "./upstream.ts";

export const rollbackWaits: Design = {
  ...upstream,
  name: "rollback-waits",
  description: "upstream, with ftrace_startup's rollbacks waiting for list walkers (synchronize_rcu_tasks_rude, synchronize_rcu_tasks) before returning the error",
  rollbackWaits: true,
};
