// The verdict table's column heads, shared by the terminal table (cli/gate.ts) and index.html: a short head per
// property so the table fits a terminal, the property it stands for, and what it judges (safety of dispatch, or
// agreement with upstream's choices).

import { CONCURRENT_PROPERTIES, judgesOf, PROPERTIES } from "../properties/index.ts";

/** Short column heads so the table fits a terminal (a concurrent property's starts with c:). */
const SHORT: Readonly<Record<string, string>> = {
  "literal-valid": "literal",
  "exact-handlers": "handlers",
  "path-selection": "path",
  "bl-range": "bl-range",
  "modify-validates": "modify",
  "trampoline-contract": "tramp-abi",
  "stack-aligned": "stack",
  "branch-hygiene": "branch",
  "literal-discovery": "discover",
  "reference-agreement": "reference",
  "recursion-protected": "recursion",
  "manager-exact": "manager",
  "ops-ownership": "owner",
  "literal-valid-always": "c:literal",
  "no-use-after-free": "c:uaf",
  "transitional-handlers": "c:transit",
  "quiescent-exact": "c:quiesce",
};

/** The short head of a property's column. */
export function shortName(property: string): string {
  return SHORT[property] ?? property;
}

/** One column head: its short text, the property, and what that property judges. */
export interface ColumnHead {
  readonly short: string;
  readonly property: string;
  readonly judges: "safety" | "agreement";
  readonly concurrent: boolean;
}

/** Every property's head, sequential ones first, in the suite's order. */
export function columnHeads(): ColumnHead[] {
  return [...PROPERTIES.map((p) => ({ p: p.name, c: false })), ...CONCURRENT_PROPERTIES.map((p) => ({ p: p.name, c: true }))].map(({ p, c }) => ({ short: shortName(p), property: p, judges: judgesOf(p), concurrent: c }));
}

/** What a failure line adds when the property judges agreement (empty for a safety property). */
export function agreementNote(property: string): string {
  return judgesOf(property) === "agreement" ? " [agreement with upstream's choices, not safety: a design may differ here and be safe]" : "";
}
