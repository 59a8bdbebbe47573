// modify-validates: every patch finds the word it expects, the kernel warns only about the caller's own misuse,
// and every API call returns what the kernel documents.

import type { Property } from "./property.ts";

/**
 * The WARNs a caller earns by its own misuse, each with the -EBUSY it comes with: __register_ftrace_function (or,
 * for a subops, ftrace_startup_subops) on an enabled ops and __unregister_ftrace_function on a disabled one. Any other WARN means the core's bookkeeping broke.
 */
function misuseWarning(step: string, expectedRet: 0 | string | null, fn: string): boolean {
  if (expectedRet !== "-EBUSY") return false;
  // register_ftrace_graph of a gops that is already enabled: ftrace_startup_subops' own WARN, with the same -EBUSY.
  if (step === "register_ftrace_function") return fn === "__register_ftrace_function" || fn === "ftrace_startup_subops";
  if (step === "unregister_ftrace_function") return fn === "__unregister_ftrace_function";
  return false;
}

export const modifyValidates: Property = {
  name: "modify-validates",
  kills: [
    { mutant: "curr-after-update", maxSteps: 2 },
    { mutant: "ipmodify-shared", maxSteps: 2, runs: 2000 },
    // Only visible while another ops keeps the record counted: 4 steps in a particular order, so more runs.
    { mutant: "ipmodify-kept-on-shutdown", maxSteps: 4, runs: 5000 },
    // A failed direct registration (an IPMODIFY ops on the function) must leave nothing behind for the next one.
    { mutant: "direct-entries-kept-on-failure", maxSteps: 3, runs: 2000 },
    // A far module function traced with SAVE_REGS on the WITH_REGS design (91970bef48d6's bug): no PLT, ftrace_bug.
    { mutant: "regs-plt-unfound", base: "fix-91970bef48d6", maxSteps: 1 },
  ],
  says: "Every ftrace_modify_code finds exactly the old word it expects (no -EINVAL, no ftrace_bug), no WARN fires other than the one for (un)registering an ops that is (not) enabled, and each API call's return code is the kernel's (0, -EINVAL, -EBUSY, ...).",
  guards: "ftrace_get_addr_curr vs the installed BL (computed before ftrace_update_record), ftrace_modify_code's validation, the record bookkeeping behind the core's WARN_ONs, the ftrace and direct API's error paths",
  needsCalls: false,
  check: ({ k, result, expectedRet }) => {
    if (result.do === "call") return null;
    for (const e of result.events) {
      if (e.kind === "bug") return `${result.do} ${result.ops}: ${e.message}`;
      if (e.kind === "warn" && !misuseWarning(result.do, expectedRet, e.fn)) return `${result.do} ${result.ops}: ${e.message}`;
    }
    if (k.disabled) return `${result.do} ${result.ops}: ftrace was killed`;
    if (expectedRet !== null && result.ret !== expectedRet) return `${result.do} ${result.ops} returned ${result.ret}, the kernel returns ${expectedRet}`;
    return null;
  },
};
