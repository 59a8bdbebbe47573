// The machine-readable result of a `check` or `gate` run (results.json), from which every report is rendered:
// summary.md, junit.xml and index.html. The schema is versioned; fields are only ever added.

import type { Provenance } from "../model/scenario.ts";

export type Verdict = "holds" | "fails";

/**
 * A design's verdict against its baseline's recorded one (gate --variant/--design, check of a design with no row):
 * a failure the baseline records for a finding of the kernel as written is inherited; a cell whose run broke, broke.
 */
export type BaselineChange = "newly failing" | "newly holding" | "unchanged" | "inherited" | "broke";

/** Counts of what a run exercised, per design. Keys are readable labels. */
export interface Coverage {
  /** Patch-site states seen after steps, e.g. "literal=ordinary ops, insn=bl ftrace_caller". */
  readonly siteStates: Readonly<Record<string, number>>;
  /** Site rewrites, e.g. "insn nop -> bl", "literal ftrace_nop_ops -> ordinary ops". */
  readonly transitions: Readonly<Record<string, number>>;
  /** Dispatch paths of calls, e.g. "caller-list". */
  readonly paths: Readonly<Record<string, number>>;
  /** Trampoline-address classes in generated layouts, e.g. "-128M-4", "far". */
  readonly trampolineClasses: Readonly<Record<string, number>>;
  /** API return codes by call, e.g. "register_ftrace_direct -EBUSY". */
  readonly apiReturns: Readonly<Record<string, number>>;
  /**
   * Racy windows and dangerous states reached: the concurrent ones (model/concurrent.ts CONCURRENT_WINDOWS) and
   * the survivor state (a literal naming a lone ops that needs the assist function). Absent from older results.
   */
  readonly windows?: Readonly<Record<string, number>>;
}

/** The labels a design is expected to reach in each coverage section; any with a zero count is flagged. */
export interface CoverageExpectations {
  readonly siteStates: ReadonlyArray<string>;
  readonly transitions: ReadonlyArray<string>;
  readonly paths: ReadonlyArray<string>;
  readonly trampolineClasses: ReadonlyArray<string>;
  readonly apiReturns: ReadonlyArray<string>;
  readonly windows?: ReadonlyArray<string>;
}

export interface CellResult {
  /** Variant name, or variant+mutant. */
  readonly design: string;
  readonly property: string;
  /** A variant's row, a mutant on its property, or a design of the kernel's history (model/variants/history/). */
  readonly kind: "variant" | "mutant" | "history";
  readonly verdict: Verdict;
  /** The committed expectation (gate), or null (check). */
  readonly expected: Verdict | null;
  /** Differs from the expectation, or the run broke. */
  readonly changed: boolean;
  /** Set when the design was judged against a baseline's recorded row (see BaselineChange). Absent from older results. */
  readonly against?: { readonly baseline: string; readonly verdict: Verdict | null; readonly change: BaselineChange };
  /** What the property judges: the safety of dispatch, or agreement with upstream's choices. Absent from older results. */
  readonly judges?: "safety" | "agreement";
  readonly runs: number;
  readonly ms: number;
  readonly seed: number;
  /** fast-check's replay path of the failure. */
  readonly path: string | null;
  /** The violation, in kernel terms. */
  readonly message: string | null;
  /** An exception that is not a verdict (a bug in the suite). */
  readonly error: string | null;
  readonly counterexample: {
    /** Where the scenario file was written, relative to the working directory. */
    readonly file: string | null;
    readonly steps: number;
    /** The readable trace of the replay, as plain text lines. */
    readonly trace: ReadonlyArray<string>;
    /** The command that replays the file (with --entry or --design when its design needs one). Absent from older results. */
    readonly replay?: string;
    /**
     * The trace line a reader must see first: the failing tick's row of a concurrent run's timeline, or the line
     * that marks a sequential run's failing step. Absent when none is known, and from older results.
     */
    readonly focus?: number;
  } | null;
}

export interface Results {
  readonly schema: "dispatch-spec/results@1";
  readonly command: "check" | "gate";
  readonly seed: number;
  readonly runs: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly cells: ReadonlyArray<CellResult>;
  /** Per design (variant or variant+mutant). */
  readonly coverage: Readonly<Record<string, Coverage>>;
  /**
   * Per variant, the properties of the kinds the run judged that have nothing to judge on it (no cell), and why
   * (e.g. manager-exact: "no fgraph subops in its runs"). Absent from older results.
   */
  readonly notApplicable?: Readonly<Record<string, ReadonlyArray<{ readonly property: string; readonly why: string }>>>;
  readonly coverageExpected: Readonly<Record<string, CoverageExpectations>>;
  readonly corpus: { readonly files: number; readonly failed: number; readonly failures: ReadonlyArray<string> };
  /** Everything as expected (gate) or everything holds (check), and the corpus holds. */
  readonly ok: boolean;
  /** What produced the run (reports/provenance.ts); absent from results written before it existed. */
  readonly provenance?: Provenance;
}

/** Labels expected but never reached, per section. */
export function unreached(c: Coverage, e: CoverageExpectations): Record<keyof CoverageExpectations, string[]> {
  const miss = (got: Readonly<Record<string, number>>, want: ReadonlyArray<string>): string[] => want.filter((w) => (got[w] ?? 0) === 0);
  return {
    siteStates: miss(c.siteStates, e.siteStates),
    transitions: miss(c.transitions, e.transitions),
    paths: miss(c.paths, e.paths),
    trampolineClasses: miss(c.trampolineClasses, e.trampolineClasses),
    apiReturns: miss(c.apiReturns, e.apiReturns),
    windows: miss(c.windows ?? {}, e.windows ?? []),
  };
}
