// no-use-after-free: no CPU loads from a freed ops or branches into a freed trampoline.

import type { ConcurrentProperty } from "./concurrency.ts";

export const noUseAfterFree: ConcurrentProperty = {
  name: "no-use-after-free",
  says: "No CPU loads from a freed ops (its func, direct_call or next) and no CPU branches into a freed trampoline.",
  guards: "synchronize_rcu_tasks_rude/synchronize_rcu_tasks in ftrace_shutdown; modify_ftrace_direct's temporary ops; owners waiting before freeing trampolines",
  kills: [
    { mutant: "free-without-grace", maxSegments: 12 },
    { mutant: "modify-direct-in-place", maxSegments: 12 },
    // The window is narrow (a CPU must hold the ops across an unregister that patches nothing): about 1 run in 2 000.
    { mutant: "shutdown-skips-sync-without-command", maxSegments: 12, seed: 1, runs: 4000 },
  ],
  check: ({ result }) => {
    for (const c of result.calls) {
      const v = c.obs.violations.find((x) => x.kind === "use-after-free");
      if (v !== undefined) return `cpu${c.cpu} call ${c.fn}: ${v.message}`;
    }
    return null;
  },
};
