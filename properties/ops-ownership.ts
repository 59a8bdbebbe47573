// ops-ownership: what an (un)registration's return value tells the ops' owner is true, also when the call killed
// ftrace. The owner frees a dynamic ops once it is told the ops is not registered; list walkers that run without
// ftrace_lock (ftrace_ops_list_func, is_ftrace_trampoline, fgraph's entry) must then never reach it. This is the
// contract c3b0f72e805f ("ftrace: Fix NULL pointer dereference in is_ftrace_trampoline when ftrace is dead") gave
// a registration whose own patching kills ftrace.

import type { ApiDo } from "../model/scenario.ts";
import { listedOps, type Property } from "./property.ts";

/** The steps that try to put an ops on a list (register_ftrace_function, register_ftrace_graph, register_ftrace_direct). */
const REGISTERS: ReadonlySet<ApiDo> = new Set<ApiDo>(["register_ftrace_function", "register_ftrace_direct"]);
/** The steps that take one off again. */
const UNREGISTERS: ReadonlySet<ApiDo> = new Set<ApiDo>(["unregister_ftrace_function", "unregister_ftrace_direct"]);

export const opsOwnership: Property = {
  name: "ops-ownership",
  kills: [
    // The v6.0 world, where a far module function traced with SAVE_REGS kills ftrace (91970bef48d6's bug).
    { mutant: "startup-keeps-dead-ops", base: "bug-91970bef48d6", maxSteps: 1 },
  ],
  says:
    "A registration that returns 0 leaves its ops registered in a live ftrace (so a later unregister can take it off); one that returns an error, and an unregistration that returns 0, leave the ops on no list a lock-free walker reads (ftrace_ops_list, fgraph_array), so its owner may free it; a failed unregistration leaves a listed ops listed.",
  guards:
    "ftrace_startup's rollback when its own patching kills ftrace (c3b0f72e805f), the rollback of a registration ftrace_hash_ipmodify_enable refuses, ftrace_shutdown's early -ENODEV, register_ftrace_direct's error paths",
  needsCalls: false,
  check: ({ k, result, listedBefore }) => {
    if (result.do === "call") return null;
    const name = result.ops;
    const listed = listedOps(k).get(name) ?? null;
    if (REGISTERS.has(result.do)) {
      if (result.ret === 0 && k.disabled)
        return `${result.do} ${name} returned 0, but its own patching killed ftrace: ${name} stays on ftrace_ops_list, every unregister of it returns -ENODEV, and its owner, told nothing, frees it under the list walkers`;
      if (result.ret !== 0 && !listedBefore.has(name) && listed)
        return `${result.do} ${name} returned ${result.ret}, so its owner may free it, but ${name} is still on ${listed}`;
    }
    if (UNREGISTERS.has(result.do)) {
      if (result.ret === 0 && listed !== null) return `${result.do} ${name} returned 0, so its owner may free it, but ${name} is still on ${listed}`;
      if (result.ret !== 0 && listedBefore.has(name) && listed === null)
        return `${result.do} ${name} returned ${result.ret}, so its owner keeps it registered, but ${name} has left every list`;
    }
    return null;
  },
};

