// The names a user types (variants, properties, mutants, subcommands' arguments) and what to say when one is not
// known: the nearest known names by edit distance, and where the whole list is (`dispatch-spec list`).

import type { Design } from "../model/kernel.ts";
import { isMutant, MUTANT_NAMES } from "../model/mutants.ts";
import { HISTORY } from "../model/variants/history/index.ts";
import { VARIANT_NAMES, variantByName } from "../model/variants/index.ts";
import { InputError } from "./load.ts";

/** Levenshtein distance between two short names. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The known names nearest to `name`: those within a third of its length (at least 2 edits), or that contain it or
 * that it contains, nearest first, at most three.
 */
export function nearestNames(name: string, known: ReadonlyArray<string>): string[] {
  const bound = Math.max(2, Math.floor(name.length / 3));
  return known
    .map((k) => ({ k, d: editDistance(name, k) }))
    .filter(({ k, d }) => d <= bound || (name.length >= 3 && (k.includes(name) || name.includes(k))))
    .sort((x, y) => x.d - y.d || x.k.localeCompare(y.k))
    .slice(0, 3)
    .map(({ k }) => k);
}

/** The one-line error for an unknown name: the nearest known ones, and the command that lists them all. */
export function unknownName(what: string, name: string, known: ReadonlyArray<string>, list: string): InputError {
  const near = nearestNames(name, known);
  const hint = near.length > 0 ? `did you mean ${near.join(" or ")}? ` : "";
  return new InputError(`unknown ${what} "${name}" (${hint}all of them: dispatch-spec list ${list})`);
}

/** Every design name a user can give without a mutant: the variants, then the designs of the kernel's history. */
export function designNames(): string[] {
  return [...VARIANT_NAMES, ...HISTORY.map((h) => h.name)];
}

/**
 * The design a flag names (a variant, a history design, a design read with --entry, each with optional
 * `+mutant` switches), or a one-line error naming the part that is unknown and its nearest known names.
 */
export function requireDesign(name: string, flag: string): Design {
  const d = variantByName(name);
  if (d !== undefined) return d;
  const [base = "", ...mutations] = name.split("+");
  const at = `${flag}: `;
  if (variantByName(base) === undefined) throw new InputError(`${at}${unknownName("variant", base, designNames(), "variants").message}; a design in a file of your own: --design FILE`);
  const bad = mutations.find((m) => !isMutant(m));
  if (bad !== undefined) throw withPrefix(at, unknownName("mutant", bad, MUTANT_NAMES, "mutants"));
  const twice = mutations.find((m, i) => mutations.indexOf(m) !== i);
  if (twice !== undefined) throw new InputError(`${at}${name}: mutant ${twice} is named twice`);
  throw new InputError(`${at}${name}: a mutant there changes ftrace_caller's listing, which a design read from a binary does not have, or is already part of ${base}`);
}

function withPrefix(prefix: string, e: InputError): InputError {
  return new InputError(`${prefix}${e.message}`);
}
