// The gate: every property on every variant, and each mutant on the property that must kill it, compared with
// the committed expected verdicts (reports/expected.json). Pure: it plans the cells and judges outcomes; running
// them and printing belong to cli/gate.ts and cli/gate-variant.ts. (It lives in cli/ so that reports/ renders
// results and imports nothing of the command line.)

import { z } from "zod";
import { VARIANT_NAMES, variantByName } from "../model/variants/index.ts";
import { HISTORY } from "../model/variants/history/index.ts";
import { CONCURRENT_PROPERTIES, PROPERTIES, propertyApplies, type Needs } from "../properties/index.ts";
import type { Outcome } from "../properties/property.ts";

export type Verdict = "holds" | "fails";

/** One cell of the gate: a design (variant, variant+mutant, or a design of the kernel's history) and a property. */
export interface Cell {
  readonly design: string;
  readonly property: string;
  readonly kind: "variant" | "mutant" | "history";
  /** A property of concurrent runs (schedules rather than step sequences). */
  readonly concurrent?: boolean;
  /** A pinned seed and run count for a mutant whose window is narrow. */
  readonly seed?: number;
  readonly runs?: number;
}

export const expectedSchema = z
  .object({
    $comment: z.string().optional(),
    variants: z.record(z.string(), z.record(z.string(), z.enum(["holds", "fails"]))),
    mutants: z.record(z.string(), z.record(z.string(), z.enum(["holds", "fails"]))),
    history: z.record(z.string(), z.record(z.string(), z.enum(["holds", "fails"]))).optional(),
    notes: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type Expected = z.infer<typeof expectedSchema>;

/** Every property (sequential, then concurrent) on every variant, then each property's mutants on it. */
export function gateCells(): Cell[] {
  return [...sequentialCells(), ...concurrentCells(), ...historyCells()];
}

/**
 * The kernel's history (model/variants/history/): each bug on the properties that must flag it, and each fix or
 * design change that the merged design does not already stand for on every property (a fix upstream contains is
 * judged by upstream's row).
 */
export function historyCells(): Cell[] {
  const isConcurrent = (p: string): boolean => CONCURRENT_PROPERTIES.some((c) => c.name === p);
  return HISTORY.flatMap((h): Cell[] => {
    if (h.kind === "bug")
      return (h.flaggedBy ?? []).map((f) => ({
        design: h.name,
        property: f.property,
        kind: "history" as const,
        ...(isConcurrent(f.property) ? { concurrent: true } : {}),
        ...(f.seed !== undefined ? { seed: f.seed } : {}),
        ...(f.runs !== undefined ? { runs: f.runs } : {}),
      }));
    if (h.sameAs !== undefined) return [];
    return designCells(h.name).map((c) => ({ ...c, kind: "history" as const }));
  });
}

/** One design's row: every sequential and concurrent property that has something to judge on it (gate --entry). */
export function designCells(design: string): Cell[] {
  const d = variantByName(design);
  const applies = (p: Needs): boolean => d === undefined || propertyApplies(p, d);
  return [
    ...PROPERTIES.filter(applies).map((p) => ({ design, property: p.name, kind: "variant" as const })),
    ...CONCURRENT_PROPERTIES.filter(applies).map((p) => ({ design, property: p.name, kind: "variant" as const, concurrent: true })),
  ];
}

/**
 * The verdicts a design read from a binary is held to: its own row if expected.json has one, else upstream's (a
 * built kernel keeps the contract upstream keeps, the recorded finding included), with the row of the subops merge
 * its release runs for the properties about fgraph's manager.
 */
export function expectedForBinary(e: Expected, design: string): Expected {
  const own = e.variants[design];
  if (own !== undefined) return e;
  // A release with fgraph subops is held, on the properties about them, to the row of the merge it runs.
  const d = variantByName(design);
  const merge = d?.scope?.includes("subops") === true ? (e.history?.[d.subopsHashRule === "append-intersect" ? "bug-0ae6b8ce200d" : "fix-38b14061947f"] ?? {}) : {};
  const subops = Object.fromEntries(PROPERTIES.filter((p) => p.needsSubops === true && merge[p.name] !== undefined).map((p) => [p.name, merge[p.name]!] as const));
  return { ...e, variants: { ...e.variants, [design]: { ...(e.variants["upstream"] ?? {}), ...subops } } };
}

/** Whether a property has something to judge on the named variant (no cell where it has not). */
function appliesTo(p: Needs, variant: string): boolean {
  const d = variantByName(variant);
  return d === undefined || propertyApplies(p, d);
}

function concurrentCells(): Cell[] {
  const variants = VARIANT_NAMES.flatMap((v) => CONCURRENT_PROPERTIES.filter((p) => appliesTo(p, v)).map((p) => ({ design: v, property: p.name, kind: "variant" as const, concurrent: true })));
  const mutants = CONCURRENT_PROPERTIES.flatMap((p) =>
    p.kills.map((k) => ({ design: `upstream+${k.mutant}`, property: p.name, kind: "mutant" as const, concurrent: true, ...(k.seed !== undefined ? { seed: k.seed } : {}), ...(k.runs !== undefined ? { runs: k.runs } : {}) })),
  );
  return [...variants, ...mutants];
}

function sequentialCells(): Cell[] {
  const variants = VARIANT_NAMES.flatMap((v) => PROPERTIES.filter((p) => appliesTo(p, v)).map((p) => ({ design: v, property: p.name, kind: "variant" as const })));
  const mutants = PROPERTIES.flatMap((p) =>
    p.kills.map((k) => ({ design: `${k.base ?? "upstream"}+${k.mutant}`, property: p.name, kind: "mutant" as const, ...(k.runs !== undefined ? { runs: k.runs } : {}) })),
  );
  return [...variants, ...mutants];
}

/** A design's recorded row: a variant's, or a design of the kernel's history. */
export function recordedRow(e: Expected, design: string): Readonly<Record<string, Verdict>> | undefined {
  return e.variants[design] ?? e.history?.[design];
}

export function verdictOf(o: Outcome): Verdict {
  return o.ok ? "holds" : "fails";
}

export function expectedVerdict(e: Expected, c: Cell): Verdict | undefined {
  const table = c.kind === "variant" ? e.variants : c.kind === "mutant" ? e.mutants : (e.history ?? {});
  return table[c.design]?.[c.property];
}

export interface Judged {
  readonly cell: Cell;
  readonly outcome: Outcome;
  readonly got: Verdict;
  readonly want: Verdict | undefined;
  /** The verdict differs from the expected one (or there is none), or the run broke. */
  readonly changed: boolean;
}

export function judge(e: Expected, cells: ReadonlyArray<Cell>, outcomes: ReadonlyArray<Outcome>): Judged[] {
  return cells.map((cell, i) => {
    const outcome = outcomes[i]!;
    const got = verdictOf(outcome);
    const want = expectedVerdict(e, cell);
    return { cell, outcome, got, want, changed: want !== got || outcome.error !== undefined };
  });
}

/** The expected file that the observed verdicts would make (for --update), keeping notes. */
export function updatedExpected(e: Expected, judged: ReadonlyArray<Judged>): Expected {
  const variants: Record<string, Record<string, Verdict>> = {};
  const mutants: Record<string, Record<string, Verdict>> = {};
  const history: Record<string, Record<string, Verdict>> = {};
  for (const j of judged) {
    const into = j.cell.kind === "variant" ? variants : j.cell.kind === "mutant" ? mutants : history;
    (into[j.cell.design] ??= {})[j.cell.property] = j.got;
  }
  return {
    ...(e.$comment !== undefined ? { $comment: e.$comment } : {}),
    variants,
    mutants,
    ...(Object.keys(history).length > 0 ? { history } : {}),
    ...(e.notes !== undefined ? { notes: e.notes } : {}),
  };
}

/** Lines describing what an update would change. */
export function changes(judged: ReadonlyArray<Judged>): string[] {
  return judged.filter((j) => j.want !== j.got).map((j) => `${j.cell.design} x ${j.cell.property}: ${j.want ?? "(none)"} -> ${j.got}`);
}
