// The kernel's own record as designs: each merged dispatch bug (the tree between the commit that brought it and
// the commit that fixed it), each fix, and each pending change in the model's scope, named after its commit
// (`bug-<id>`, `fix-<id>`), so that the gate judges the kernel's history the way it judges our variants.
// reports/history/record.md is the record with its sources; reports/history/verdicts.md is generated from this
// list and a run (`dispatch-spec history`).

import type { Design } from "../../kernel.ts";
import { withMutant, type MutantName } from "../../mutants.ts";
import { upstream } from "../upstream.ts";

export type HistoryKind = "bug" | "fix" | "design" | "pending";

/** One entry of the record that the model can run. */
export interface HistoryDesign {
  /** The design's name: `bug-<id>` (the tree with the defect), `fix-<id>` (with its fix), or a pending series'. */
  readonly name: string;
  /** The commit it is named after (12 hex digits), or the series' subject for a pending change. */
  readonly commit: string;
  readonly kind: HistoryKind;
  readonly subject: string;
  /** For a bug, the name of its fix; for a fix, the bug's. */
  readonly pairedWith?: string;
  /** One line: what the change does to dispatch on arm64. */
  readonly mechanism: string;
  /** The design itself. */
  readonly design: Design;
  /** For a bug: the properties that must flag it (at least one), each with the longest counterexample allowed. */
  readonly flaggedBy?: ReadonlyArray<{
    readonly property: string;
    /** Steps of a sequential counterexample, or segments of a concurrent one's schedule. */
    readonly maxSteps: number;
    /** A pinned seed and run count where the window is narrow (as the suite's own mutant of it has). */
    readonly seed?: number;
    readonly runs?: number;
  }>;
  /**
   * For a fix (or design change) that the merged design contains: the variant whose gate row judges it, instead of
   * a row of its own (the same design would be run twice).
   */
  readonly sameAs?: string;
}

/** The merged design under another name: a fix that upstream contains. */
function asUpstream(name: string, description: string): Design {
  return { ...upstream, name, description };
}

/** Upstream with the one point a bug changed: the suite's mutant of it, under the bug's own name. */
function bugOf(name: string, mutant: MutantName, description: string): Design {
  return { ...withMutant(upstream, mutant), name, description };
}

export const HISTORY: ReadonlyArray<HistoryDesign> = [
  {
    name: "bug-e71a4e1bebaf",
    commit: "e71a4e1bebaf",
    kind: "bug",
    subject: "arm64: ftrace: add support for far branches to dynamic ftrace (v4.11; with f8af0b364e24, live until v5.19)",
    pairedWith: "fix-3eefdf9d1e40",
    mechanism: "the BL range check computes pc - addr instead of addr - pc: a target exactly +128 MiB away is taken as reachable and one exactly -128 MiB away is not",
    design: bugOf("bug-e71a4e1bebaf", "bl-range-backwards", "upstream with the branch range check of e71a4e1bebaf..3eefdf9d1e40 (pc - addr)"),
    flaggedBy: [{ property: "bl-range", maxSteps: 1 }],
  },
  {
    name: "fix-3eefdf9d1e40",
    commit: "3eefdf9d1e40",
    kind: "fix",
    subject: "arm64: ftrace: fix branch range checks",
    pairedWith: "bug-e71a4e1bebaf",
    mechanism: "the range check takes addr - pc and accepts [-128 MiB, +128 MiB) as the BL encoding does",
    design: asUpstream("fix-3eefdf9d1e40", "upstream (it contains 3eefdf9d1e40)"),
    sameAs: "upstream",
  },
  {
    name: "bug-edb096e00724",
    commit: "edb096e00724",
    kind: "bug",
    subject: "ftrace: Fix memleak when unregistering dynamic ops when tracing disabled (v4.14; live until v6.1)",
    pairedWith: "fix-0e792b89e680",
    mechanism:
      "ftrace_shutdown skips synchronize_rcu_tasks_rude/synchronize_rcu_tasks when no record needs patching and the trace function is unchanged, though a CPU in ftrace_ops_list_func may still be on the ops its owner then frees",
    design: bugOf("bug-edb096e00724", "shutdown-skips-sync-without-command", "upstream with ftrace_shutdown's early return before 0e792b89e680"),
    // The window is narrow (a CPU must hold the ops across an unregister that patches nothing), as for the mutant.
    flaggedBy: [{ property: "no-use-after-free", maxSteps: 6, seed: 1, runs: 4000 }],
  },
  {
    name: "fix-0e792b89e680",
    commit: "0e792b89e680",
    kind: "fix",
    subject: "ftrace: Fix use-after-free for dynamic ftrace_ops",
    pairedWith: "bug-edb096e00724",
    mechanism: "ftrace_shutdown always waits for the RCU-tasks grace periods before a dynamic ops is freed, command or not",
    design: asUpstream("fix-0e792b89e680", "upstream (it contains 0e792b89e680)"),
    sameAs: "upstream",
  },
];

/** An entry of the record the model does not run, and why (it stays in the verdicts table). */
export interface OutOfScope {
  readonly commit: string;
  readonly kind: HistoryKind;
  readonly subject: string;
  readonly why: string;
}

export const OUT_OF_SCOPE: ReadonlyArray<OutOfScope> = [
  {
    commit: "60c8971899f3",
    kind: "fix",
    subject: "ftrace: Make DIRECT_CALLS work WITH_ARGS and !WITH_REGS (SAVE_ARGS)",
    why: "the defect (call_direct_funcs writing through a NULL fregs) needs WITH_REGS && !WITH_ARGS, as on 32-bit x86; arm64 has WITH_ARGS only",
  },
];

export const HISTORY_DESIGNS: ReadonlyMap<string, Design> = new Map(HISTORY.map((h) => [h.name, h.design]));

export function historyByName(name: string): HistoryDesign | undefined {
  return HISTORY.find((h) => h.name === name);
}
