// The registry of spec variants, selected by name in scenarios, the CLI and tests. A name may carry mutation
// switches after a '+', e.g. "upstream+skip-literal-update", so a mutant's counterexample replays by name.
// Designs read from a built kernel (`--entry FILE`) join it at run time, by the name the loader gives them, and so
// do designs written as TypeScript files of the user's own (`--design FILE`), by the name they give themselves.

import type { EntryImage } from "../binary.ts";
import { binaryDesign } from "./from-binary.ts";
import type { Design } from "../kernel.ts";
import { isMutant, LISTING_MUTANTS, withMutant } from "../mutants.ts";
import { callOpsOnly } from "./call-ops-only.ts";
import { debian612, debian612Image } from "./debian-6.12.ts";
import { fgraphNotraceFix } from "./fgraph-notrace-fix.ts";
import { HISTORY_DESIGNS } from "./history/index.ts";
import { rollbackWaits } from "./rollback-waits.ts";
import { survivorFix } from "./survivor-fix.ts";
import { upstream } from "./upstream.ts";
import { v1Fixups } from "./v1-fixups.ts";
import { v1Posted } from "./v1-posted.ts";

export const VARIANTS: ReadonlyMap<string, Design> = new Map([upstream, v1Posted, v1Fixups, callOpsOnly, survivorFix, fgraphNotraceFix, rollbackWaits, debian612].map((d) => [d.name, d]));

export const VARIANT_NAMES: ReadonlyArray<string> = [...VARIANTS.keys()];

/** Designs read from binaries during this run (--entry), with the images they came from (for worker threads). */
const FROM_BINARIES = new Map<string, { readonly design: Design; readonly image: EntryImage }>();

/** Make a design of a built kernel's image known by its name (throws EntryError on code the model cannot take). */
export function registerEntryImage(image: EntryImage): Design {
  if (VARIANTS.has(image.name)) return VARIANTS.get(image.name)!;
  if (HISTORY_DESIGNS.has(image.name)) throw new Error(`${image.name} names a design of the kernel's history`);
  const design = binaryDesign(image);
  FROM_BINARIES.set(design.name, { design, image });
  return design;
}

/** The image a design was read from (a registered one, or the committed Debian dump). */
export function imageOf(name: string): EntryImage | undefined {
  return name === debian612Image.name ? debian612Image : FROM_BINARIES.get(name)?.image;
}

/** The images registered so far, for worker threads to register too. */
export function registeredImages(): EntryImage[] {
  return [...FROM_BINARIES.values()].map((x) => x.image);
}

/** Designs loaded from the user's TypeScript files during this run (--design), by name. */
const FROM_FILES = new Map<string, Design>();

/** Whether a name is taken: a variant, a design of the kernel's history, or one read or loaded in this run. */
export function designNameTaken(name: string): boolean {
  return VARIANTS.has(name) || HISTORY_DESIGNS.has(name) || FROM_BINARIES.has(name) || FROM_FILES.has(name);
}

/** Make a design given as a file known by its name (the caller checks that the name is free). */
export function registerDesign(design: Design): void {
  FROM_FILES.set(design.name, design);
}

export function variantByName(name: string): Design | undefined {
  const [base = "", ...mutations] = name.split("+");
  let d = VARIANTS.get(base) ?? HISTORY_DESIGNS.get(base) ?? FROM_BINARIES.get(base)?.design ?? FROM_FILES.get(base);
  for (const m of mutations) {
    if (d === undefined || !isMutant(m) || d.mutations.has(m)) return undefined;
    if (d.entry.kind === "binary" && LISTING_MUTANTS.has(m)) return undefined;
    d = withMutant(d, m);
  }
  return d;
}

/** Stable ids for the objects (hooks, listings, layouts) designs share by reference. */
const OBJECT_IDS = new WeakMap<object, number>();

/**
 * A key equal for two designs exactly when they behave alike: every field but the name, description and the name it
 * stands for, with shared objects and functions compared by identity and sets and lists by content. A bug of the
 * kernel's history that is upstream with one of the suite's mutants (bug-edb096e00724 and
 * upstream+shutdown-skips-sync-without-command) has the key of that mutant, so the gate runs the two cells once.
 */
export function behaviourKey(d: Design): string {
  const id = (o: object): number => {
    let n = OBJECT_IDS.get(o);
    if (n === undefined) {
      n = nextId++;
      OBJECT_IDS.set(o, n);
    }
    return n;
  };
  const part = (v: unknown): string => {
    if (v === undefined) return "u";
    if (v instanceof Set) return `set(${[...v].map(String).sort().join(",")})`;
    if (Array.isArray(v)) return `[${v.map(part).join(",")}]`;
    if (typeof v === "object" && v !== null) return `#${id(v)}`;
    if (typeof v === "function") return `#${id(v)}`;
    return JSON.stringify(typeof v === "bigint" ? v.toString() : v);
  };
  const skip = new Set(["name", "description", "standsFor"]);
  return Object.keys(d)
    .filter((key) => !skip.has(key) && (d as unknown as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${key}=${part((d as unknown as Record<string, unknown>)[key])}`)
    .join(";");
}
let nextId = 1;
