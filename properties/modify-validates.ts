// modify-validates: every patch finds the word it expects, and every API call returns what the kernel documents.

import type { Property } from "./property.ts";

export const modifyValidates: Property = {
  name: "modify-validates",
  kills: [{ mutant: "curr-after-update", maxSteps: 2 }],
  says: "Every ftrace_modify_code finds exactly the old word it expects (no -EINVAL, no ftrace_bug), and each API call's return code is the kernel's (0, -EINVAL, -EBUSY, ...).",
  guards: "ftrace_get_addr_curr vs the installed BL (computed before ftrace_update_record), ftrace_modify_code's validation, the direct API's error paths",
  needsCalls: false,
  check: ({ k, result, expectedRet }) => {
    if (result.do === "call") return null;
    for (const e of result.events) {
      if (e.kind === "bug") return `${result.do} ${result.ops}: ${e.message}`;
      if (e.kind === "warn" && e.message.startsWith("ftrace_modify_code")) return `${result.do} ${result.ops}: ${e.message}`;
    }
    if (k.disabled) return `${result.do} ${result.ops}: ftrace was killed`;
    if (expectedRet !== null && result.ret !== expectedRet) return `${result.do} ${result.ops} returned ${result.ret}, the kernel returns ${expectedRet}`;
    return null;
  },
};
