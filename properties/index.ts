// All properties, in the order the README and the check table list them.

import { blRange } from "./bl-range.ts";
import { branchHygiene } from "./branch-hygiene.ts";
import { exactHandlers } from "./exact-handlers.ts";
import { literalDiscovery } from "./literal-discovery.ts";
import { literalValid } from "./literal-valid.ts";
import { modifyValidates } from "./modify-validates.ts";
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
];

/** Whether a property has anything to judge on a design (the literal properties need CALL_OPS). */
export function propertyApplies(p: { readonly needsCallOps?: true }, d: Design): boolean {
  return p.needsCallOps !== true || hasCallOps(d);
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
