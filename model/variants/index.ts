// The registry of spec variants, selected by name in scenarios, the CLI and tests. A name may carry mutation
// switches after a '+', e.g. "upstream+skip-literal-update", so a mutant's counterexample replays by name.

import type { Design } from "../kernel.ts";
import { isMutant, withMutant } from "../mutants.ts";
import { callOpsOnly } from "./call-ops-only.ts";
import { survivorFix } from "./survivor-fix.ts";
import { upstream } from "./upstream.ts";
import { v1Fixups } from "./v1-fixups.ts";
import { v1Posted } from "./v1-posted.ts";

export const VARIANTS: ReadonlyMap<string, Design> = new Map([upstream, v1Posted, v1Fixups, callOpsOnly, survivorFix].map((d) => [d.name, d]));

export const VARIANT_NAMES: ReadonlyArray<string> = [...VARIANTS.keys()];

export function variantByName(name: string): Design | undefined {
  const [base = "", ...mutations] = name.split("+");
  let d = VARIANTS.get(base);
  for (const m of mutations) {
    if (d === undefined || !isMutant(m)) return undefined;
    d = withMutant(d, m);
  }
  return d;
}
