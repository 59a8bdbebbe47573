// `dispatch-spec list variants|properties|mutants`: every name the other commands take, one a line, with what it
// stands for, so that a user adding a design change can find the names without reading the source.

import { MUTANTS, MUTANT_NAMES } from "../model/mutants.ts";
import { HISTORY } from "../model/variants/history/index.ts";
import { VARIANTS } from "../model/variants/index.ts";
import { CONCURRENT_PROPERTIES, judgesOf, PROPERTIES } from "../properties/index.ts";
import type { Io } from "./common.ts";
import { unknownName } from "./names.ts";

export const LISTS = ["variants", "properties", "mutants"] as const;

/** The lines `list WHAT` prints. */
export function listLines(what: string): string[] {
  const col = (names: ReadonlyArray<string>): number => Math.max(...names.map((n) => n.length)) + 2;
  switch (what) {
    case "variants": {
      const names = [...VARIANTS.keys(), ...HISTORY.map((h) => h.name)];
      const w = col(names);
      return [
        ...[...VARIANTS.values()].map((d) => `${d.name.padEnd(w)}${d.description}`),
        "",
        "the kernel's history (a bug of the record, or its fix), by commit:",
        ...HISTORY.map((h) => `${h.name.padEnd(w)}${h.design.description}`),
        "",
        "any of them with mutants after a '+', e.g. upstream+skip-literal-update (dispatch-spec list mutants)",
        "a design of your own: a TypeScript file exporting it, given with --design FILE (e.g. model/variants/examples/list-ops-only.ts)",
      ];
    }
    case "properties": {
      const all = [...PROPERTIES.map((p) => ({ name: p.name, says: p.says, kind: "" })), ...CONCURRENT_PROPERTIES.map((p) => ({ name: p.name, says: p.says, kind: ", concurrent" }))];
      const w = col(all.map((p) => p.name));
      return [
        ...all.map((p) => `${p.name.padEnd(w)}[${judgesOf(p.name)}${p.kind}] ${p.says}`),
        "",
        "safety: a design that fails it dispatches wrongly (wrong handlers, a bad literal, freed memory);",
        "agreement: it judges agreement with upstream's choices, and a design may fail it and be safe.",
      ];
    }
    case "mutants": {
      const killers = (m: string): string[] => [...PROPERTIES.filter((p) => p.kills.some((k) => k.mutant === m)), ...CONCURRENT_PROPERTIES.filter((p) => p.kills.some((k) => k.mutant === m))].map((p) => p.name);
      const w = col(MUTANT_NAMES);
      return MUTANT_NAMES.map((m) => `${m.padEnd(w)}${MUTANTS[m]}${killers(m).length > 0 ? ` (killed by ${killers(m).join(", ")})` : ""}`);
    }
    default:
      throw unknownName("list", what, LISTS, LISTS.join("|"));
  }
}

export function listCommand(io: Io, what: string): number {
  io.out(listLines(what).join("\n") + "\n");
  return 0;
}
