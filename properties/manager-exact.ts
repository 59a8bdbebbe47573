// manager-exact: fgraph's manager ops (graph_ops) traces the functions its subops select, and, while every subops
// names its functions, no others: the rule 0ae6b8ce200d ("ftrace: Fix accounting of subop hashes") states.

import { hashEmpty } from "../model/core.ts";
import { FTRACE_OPS_FL, hasFlag } from "../model/flags.ts";
import type { FtraceOps, Kernel } from "../model/kernel.ts";
import type { Property } from "./property.ts";

/** ftrace_ops_test's hash part: in the filter (or the filter is empty) and not in the notrace hash. */
function selects(o: FtraceOps, ip: bigint): boolean {
  return (hashEmpty(o.funcHash.filter) || o.funcHash.filter.has(ip)) && !o.funcHash.notrace.has(ip);
}

/** One subops' hashes by function name, for a message. */
function describe(k: Kernel, o: FtraceOps): string {
  const names = (s: ReadonlySet<bigint>): string => k.recs.filter((r) => s.has(r.ip)).map((r) => r.fn).join(",");
  const filter = hashEmpty(o.funcHash.filter) ? "every function" : `filter ${names(o.funcHash.filter)}`;
  return `${o.name}: ${filter}${hashEmpty(o.funcHash.notrace) ? "" : ` notrace ${names(o.funcHash.notrace)}`}`;
}

/** The first function graph_ops gets wrong, or null. */
export function managerProblem(k: Kernel): string | null {
  const subops = k.fgraphArray.filter((o): o is FtraceOps => o !== null && hasFlag(o.flags, FTRACE_OPS_FL.ENABLED));
  const m = k.graphOps;
  const live = hasFlag(m.flags, FTRACE_OPS_FL.ENABLED);
  // With a subops on every function the kernel lets the manager over-approximate (add_next_hash keeps only the
  // notrace names both sides share); the exact rule holds while every subops has a filter.
  const exact = subops.every((o) => !hashEmpty(o.funcHash.filter));
  const who = subops.map((o) => describe(k, o)).join("; ");
  for (const rec of k.recs) {
    const wanted = subops.some((o) => selects(o, rec.ip));
    const traced = live && selects(m, rec.ip);
    if (wanted && !traced) return `graph_ops does not trace ${rec.fn}, which a subops selects (${who})`;
    if (traced && !wanted && exact) return `graph_ops traces ${rec.fn}, which no subops selects (${who})`;
  }
  return null;
}

export const managerExact: Property = {
  name: "manager-exact",
  kills: [{ mutant: "subops-rebuild-every-function", maxSteps: 2, base: "fgraph-notrace-fix" }],
  says: "fgraph's graph_ops traces every function a registered subops selects and, while every subops has a filter, no other function.",
  guards: "ftrace_startup_subops, ftrace_shutdown_subops and ftrace_hash_move_and_update_subops (add_first_hash, add_next_hash, rebuild_hashes)",
  needsSubops: true,
  needsCalls: false,
  check: ({ k, result }) => (result.do === "call" ? null : managerProblem(k)),
};
