// A whole generated run: a layout and a normalised step sequence, as a scenario (../shared/SCENARIO.md), so a
// shrunk failure is already the counterexample file.

import fc from "fast-check";
import { parseScenario, type Scenario } from "../model/scenario.ts";
import type { ScopeExtension } from "../model/kernel.ts";
import { layoutArbFor, type LayoutSpec } from "./layout.ts";
import { intentsArbFor, normalise, type Intent } from "./steps.ts";

export function toScenario(variant: string, layout: LayoutSpec, intents: ReadonlyArray<Intent>): Scenario {
  const steps = normalise(
    intents,
    layout.functions.map((f) => f.name),
    layout.trampolines.map((t) => t.name),
  );
  return parseScenario({ variant, config: layout.config, modules: layout.modules, functions: layout.functions, trampolines: layout.trampolines, steps });
}

/** Runs for the named variant. The variant is fixed per arbitrary; only the layout and the steps vary. */
export function runArb(variant: string, scope: ReadonlyArray<ScopeExtension> = []): fc.Arbitrary<Scenario> {
  return fc.tuple(layoutArbFor(scope), intentsArbFor(scope)).map(([layout, intents]) => toScenario(variant, layout, intents));
}
