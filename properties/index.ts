// All properties, in the order the README and the check table list them.

import { blRange } from "./bl-range.ts";
import { branchHygiene } from "./branch-hygiene.ts";
import { exactHandlers } from "./exact-handlers.ts";
import { literalDiscovery } from "./literal-discovery.ts";
import { literalValid } from "./literal-valid.ts";
import { managerExact } from "./manager-exact.ts";
import { modifyValidates } from "./modify-validates.ts";
import { opsOwnership } from "./ops-ownership.ts";
import { pathSelection } from "./path-selection.ts";
import type { Property } from "./property.ts";
import type { Design } from "../model/kernel.ts";
import { hasCallOps } from "../model/kernel.ts";
import { recursionProtected } from "./recursion-protected.ts";
import { referenceAgreement } from "./reference-agreement.ts";
import { stackAligned } from "./stack-aligned.ts";
import { trampolineContract } from "./trampoline-contract.ts";

export const PROPERTIES: ReadonlyArray<Property> = [
  literalValid,
  exactHandlers,
  pathSelection,
  blRange,
  modifyValidates,
  trampolineContract,
  stackAligned,
  branchHygiene,
  literalDiscovery,
  referenceAgreement,
  recursionProtected,
  managerExact,
  opsOwnership,
];

/** What a property may need of a design to have anything to judge on it. */
export interface Needs {
  readonly needsCallOps?: true;
  readonly needsSubops?: true;
}

/** Why a property has nothing to judge on a design (the literal properties need CALL_OPS), or null if it has. */
export function notApplicable(p: Needs, d: Design): string | null {
  if (p.needsCallOps === true && !hasCallOps(d)) return "no CALL_OPS literal";
  if (p.needsSubops === true && d.scope?.includes("subops") !== true) return "no fgraph subops in its runs";
  return null;
}

/** The properties among `props` with nothing to judge on the design, each with why. */
export function notApplicableTo(props: ReadonlyArray<Needs & { readonly name: string }>, d: Design): Array<{ property: string; why: string }> {
  return props.flatMap((p) => {
    const why = notApplicable(p, d);
    return why === null ? [] : [{ property: p.name, why }];
  });
}

/** One line per reason, naming the properties: "n/a on D (why): a, b" (the terminal's and the reports' line). */
export function notApplicableText(design: string, na: ReadonlyArray<{ readonly property: string; readonly why: string }>): string[] {
  return [...new Set(na.map((x) => x.why))].map((why) => `n/a on ${design} (${why}): ${na.filter((x) => x.why === why).map((x) => x.property).join(", ")}`);
}

/** notApplicableText of the properties among `props` with nothing to judge on the design. */
export function notApplicableLines(props: ReadonlyArray<Needs & { readonly name: string }>, d: Design): string[] {
  return notApplicableText(d.name, notApplicableTo(props, d));
}

/** Whether a property has anything to judge on a design. */
export function propertyApplies(p: Needs, d: Design): boolean {
  return notApplicable(p, d) === null;
}

export function propertyByName(name: string): Property | undefined {
  return PROPERTIES.find((p) => p.name === name);
}

import type { ConcurrentProperty } from "./concurrency.ts";
import { literalValidAlways } from "./literal-valid-always.ts";
import { noUseAfterFree } from "./no-use-after-free.ts";
import { quiescentExact } from "./quiescent-exact.ts";
import { transitionalHandlers } from "./transitional-handlers.ts";

/** Properties of concurrent runs (dispatch-spec check --concurrency). */
export const CONCURRENT_PROPERTIES: ReadonlyArray<ConcurrentProperty> = [literalValidAlways, noUseAfterFree, transitionalHandlers, quiescentExact];

export function concurrentPropertyByName(name: string): ConcurrentProperty | undefined {
  return CONCURRENT_PROPERTIES.find((p) => p.name === name);
}

/** What a property judges, as reports label it: "safety" (of dispatch) or "agreement" (with upstream's choices). */
export function judgesOf(name: string): "safety" | "agreement" {
  return propertyByName(name)?.judges === "agreement" ? "agreement" : "safety";
}
