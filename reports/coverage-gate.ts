// The coverage gate: the behaviours that matter, named as coverage labels with a minimum count per gate run
// (reports/coverage-minimums.json, beside expected.json). A generator change that stops reaching a dangerous window
// makes the gate fail with one line per label that fell short, instead of leaving the suite silently blind.
// Pure: coverage and minimums in, judgements out; reading and writing the file is cli/'s.

import { z } from "zod";
import { CONCURRENT_WINDOWS } from "../model/concurrent.ts";
import { SURVIVOR_WINDOW } from "./coverage.ts";
import type { Coverage } from "./results.ts";

type Section = keyof Coverage;

const SECTIONS: ReadonlyArray<Section> = ["siteStates", "transitions", "paths", "trampolineClasses", "apiReturns", "windows"];

export const minimumsSchema = z
  .object({
    $comment: z.string().optional(),
    /** Per design: "section: label" -> the least count a gate run must reach. */
    designs: z.record(z.string(), z.record(z.string(), z.number().int().nonnegative())),
  })
  .strict();
export type Minimums = z.infer<typeof minimumsSchema>;

/** The labels gated on upstream when the file is first written: every behaviour the properties exist to judge. */
export const GATED_LABELS: Readonly<Record<string, ReadonlyArray<string>>> = {
  upstream: [
    // Every dispatch path.
    ...["untraced", "caller-ops", "caller-list", "direct-bl", "caller-direct"].map((p) => `paths: ${p}`),
    // Each BL-range edge class on both sides, an out-of-range trampoline, one in module text and an ordinary one.
    ...["-128M", "-128M+4", "-128M-4", "+128M-4", "+128M", "far", "module-text", "ordinary"].map((c) => `trampolineClasses: ${c}`),
    // A site that reaches ftrace_caller through its module's PLT, with each kind of literal.
    ...["ftrace_list_ops", "ordinary ops", "direct ops"].map((l) => `siteStates: literal=${l}, insn=bl module PLT`),
    // An IPMODIFY ops refused because another already covers the function.
    "apiReturns: register_ftrace_function -EBUSY",
    // The racy windows and the survivor state.
    ...Object.values(CONCURRENT_WINDOWS).map((w) => `windows: ${w}`),
    `windows: ${SURVIVOR_WINDOW}`,
  ],
};

/** A gated label's count in a design's coverage ("section: label"). */
export function countOf(c: Coverage | undefined, key: string): number {
  const at = key.indexOf(": ");
  const section = key.slice(0, at) as Section;
  if (c === undefined || !SECTIONS.includes(section)) return 0;
  return c[section]?.[key.slice(at + 2)] ?? 0;
}

/** A label that fell below its minimum. */
export interface Shortfall {
  readonly design: string;
  readonly label: string;
  readonly got: number;
  readonly min: number;
}

/**
 * Every gated label whose count is below its minimum, scaled by `scale` (a gate run with fewer runs per cell than
 * the default is held to proportionally less). A design the run did not include is not judged.
 */
export function shortfalls(coverage: Readonly<Record<string, Coverage>>, m: Minimums, scale = 1): Shortfall[] {
  const out: Shortfall[] = [];
  for (const [design, labels] of Object.entries(m.designs)) {
    const c = coverage[design];
    if (c === undefined) continue;
    for (const [label, min] of Object.entries(labels)) {
      const want = Math.floor(min * scale);
      const got = countOf(c, label);
      if (got < want) out.push({ design, label, got, min: want });
    }
  }
  return out;
}

/** One line per shortfall, as the gate prints it. */
export function shortfallLine(s: Shortfall): string {
  return `coverage: ${s.design}: "${s.label}" reached ${s.got} time${s.got === 1 ? "" : "s"}, below its minimum of ${s.min}`;
}

/**
 * The minimums `gate --update` writes: for each gated label (the file's own, or GATED_LABELS the first time), half
 * the count this run reached, so that ordinary drift passes and losing a behaviour does not.
 */
export function updatedMinimums(coverage: Readonly<Record<string, Coverage>>, previous: Minimums | null, comment: string): Minimums {
  const gated: Record<string, ReadonlyArray<string>> = previous === null ? { ...GATED_LABELS } : Object.fromEntries(Object.entries(previous.designs).map(([d, ls]) => [d, Object.keys(ls)]));
  const designs: Record<string, Record<string, number>> = {};
  for (const [design, labels] of Object.entries(gated)) {
    const c = coverage[design];
    if (c === undefined) {
      if (previous?.designs[design] !== undefined) designs[design] = { ...previous.designs[design] };
      continue;
    }
    designs[design] = Object.fromEntries(labels.map((l) => [l, Math.floor(countOf(c, l) / 2)]));
  }
  return { $comment: comment, designs };
}
