// The registry of spec variants, selected by name in scenarios, the CLI and tests.

import type { Design } from "../kernel.ts";
import { upstream } from "./upstream.ts";

export const VARIANTS: ReadonlyMap<string, Design> = new Map([[upstream.name, upstream]]);

export const VARIANT_NAMES: ReadonlyArray<string> = [...VARIANTS.keys()];

export function variantByName(name: string): Design | undefined {
  return VARIANTS.get(name);
}
