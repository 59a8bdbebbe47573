// `dispatch-spec explore`: the small-scope explorer from the command line. Prints states found, distinct states,
// the depth reached, time and states/s, and the first violation as a shortest scenario file.

import { relative } from "node:path";
import { variantByName } from "../model/variants/index.ts";
import { PROPERTIES } from "../properties/index.ts";
import { explore } from "../properties/explore.ts";
import { writeCounterexample } from "../properties/property.ts";
import { pc } from "../reports/colours.ts";
import { intFlag, type Io } from "./common.ts";
import { InputError } from "./load.ts";

export interface ExploreFlags {
  readonly functions?: string;
  readonly ops?: string;
  readonly depth?: string;
  readonly variant?: string;
  readonly property?: string;
  readonly time?: string;
}

export function exploreCommand(io: Io, flags: ExploreFlags): number {
  const functions = intFlag("functions", flags.functions, 2, 1);
  const ops = intFlag("ops", flags.ops, 3, 1);
  const depth = intFlag("depth", flags.depth, 8, 0);
  const seconds = intFlag("time", flags.time, 60, 1);
  if (functions > 3) throw new InputError("--functions: the scope has at most 3 functions");
  if (ops > 4) throw new InputError("--ops: the scope has at most 4 ops");
  const variant = flags.variant ?? "upstream";
  const design = variantByName(variant);
  if (design === undefined) throw new InputError(`--variant: unknown variant "${variant}"`);
  const props = PROPERTIES.filter((p) => flags.property === undefined || p.name === flags.property);
  if (props.length === 0) throw new InputError(`--property: unknown property "${flags.property ?? ""}"`);
  io.out(`${pc.bold("dispatch-spec explore")}: ${variant}, ${functions} function(s), ${ops} ops, depth ${depth}, ${props.length} propert${props.length === 1 ? "y" : "ies"}\n`);
  const r = explore({ functions, ops, depth }, design, props, seconds * 1000);
  const rate = Math.round(r.statesFound / Math.max(0.001, r.ms / 1000));
  io.out(`states found ${r.statesFound}, distinct ${r.distinct}, depth reached ${r.depthReached}, ${(r.ms / 1000).toFixed(1)} s, ${rate} states/s\n`);
  if (r.violation !== null) {
    const file = relative(process.cwd(), writeCounterexample(r.violation.scenario));
    io.out(pc.red(`${r.violation.property} violated at depth ${r.violation.depth}: ${r.violation.message}\n`) + `shortest scenario: ${file} (replay: npx dispatch-spec replay ${file})\n`);
    return 1;
  }
  const why = r.exhausted ? " (no new state beyond it: the whole scope is explored)" : r.timedOut ? " (time limit reached)" : "";
  io.out((r.timedOut ? pc.yellow : pc.green)(`no violation up to depth ${r.depthReached}${why}\n`));
  return 0;
}
