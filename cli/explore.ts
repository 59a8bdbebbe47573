// `dispatch-spec explore`: the small-scope explorer from the command line. Prints states found, distinct states,
// the depth reached, time and states/s, and the first violation as a shortest scenario file.

import { notApplicableLines, PROPERTIES, propertyApplies } from "../properties/index.ts";
import { Worker } from "node:worker_threads";
import type { Design } from "../model/kernel.ts";
import { explore, expectedFindings, HANG_GUARD_MS, hangGuardMessage, scopeContext, search, type ExpandJob, type ExpandReply, type ExploreOptions, type ExploreResult, type ExploreScope, type Transition } from "../properties/explore.ts";
import type { Property } from "../properties/property.ts";
import { dispatch, spawnWorker, workersFlag } from "./check.ts";
import { entrySummary, loadEntry, replayCommandFor } from "./entry.ts";
import { writeCounterexample } from "../properties/runner.ts";
import { provenance } from "../reports/provenance.ts";
import type { Scenario } from "../model/scenario.ts";
import { pc } from "../reports/colours.ts";
import { intFlag, type Io } from "./common.ts";
import { requireDesign, unknownName } from "./names.ts";
import { InputError, shownPath } from "./load.ts";

export interface ExploreFlags {
  readonly functions?: string;
  readonly ops?: string;
  readonly depth?: string;
  readonly variant?: string;
  readonly property?: string;
  readonly time?: string;
  readonly states?: string;
  readonly workers?: string;
  readonly entry?: string;
}

/** Send a job's frontier to the workers in chunks, taken in turn, and put the replies back in frontier order. */
async function spread(pool: ReadonlyArray<Worker>, job: ExpandJob): Promise<ExpandReply> {
  const n = Math.min(job.paths.length, pool.length * 16);
  const size = Math.ceil(job.paths.length / Math.max(1, n));
  const chunks = Array.from({ length: Math.ceil(job.paths.length / size) }, (_, i) => ({ ...job, paths: job.paths.slice(i * size, (i + 1) * size) }));
  const replies = await dispatch(pool, chunks, (r: ExpandReply) => r);
  // The expansions must be a prefix of the frontier: stop at the first chunk that ran out of time.
  const expansions: Array<ReadonlyArray<Transition>> = [];
  for (const r of replies) {
    if (r === undefined) return { expansions, timedOut: true };
    expansions.push(...r.expansions);
    if (r.timedOut) return { expansions, timedOut: true };
  }
  return { expansions, timedOut: false };
}

/** The explorer over worker threads (one per core, at most two here); the same result as explore(). */
export async function exploreParallel(
  scope: ExploreScope,
  design: Design,
  props: ReadonlyArray<Property>,
  opts: ExploreOptions,
  workers: number,
): Promise<ExploreResult> {
  if (workers <= 1) return explore(scope, design, props, opts);
  const pool = Array.from({ length: workers }, () => spawnWorker("./explore-worker.ts"));
  try {
    const gen = search(scopeContext(scope, design), props, opts);
    for (let r = gen.next(); ; ) {
      if (r.done === true) return r.value;
      r = gen.next(await spread(pool, r.value));
    }
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

export async function exploreCommand(io: Io, flags: ExploreFlags): Promise<number> {
  const functions = intFlag("functions", flags.functions, 2, 1);
  const ops = intFlag("ops", flags.ops, 3, 1);
  const depth = intFlag("depth", flags.depth, 8, 0);
  const guard = intFlag("time", flags.time, HANG_GUARD_MS / 1000, 1) * 1000;
  const maxStates = flags.states === undefined ? undefined : intFlag("states", flags.states, 0, 1);
  const workers = workersFlag(flags.workers);
  if (functions > 3) throw new InputError("--functions: the scope has at most 3 functions");
  if (ops > 4) throw new InputError("--ops: the scope has at most 4 ops");
  const fromEntry = flags.entry !== undefined ? loadEntry(flags.entry) : null;
  const variant = flags.variant ?? fromEntry?.name ?? "upstream";
  if (fromEntry !== null) io.out(entrySummary(fromEntry));
  const design = requireDesign(variant, "--variant");
  const named = PROPERTIES.filter((p) => flags.property === undefined || p.name === flags.property);
  if (named.length === 0) throw new InputError(`--property: ${unknownName("property", flags.property ?? "", PROPERTIES.map((p) => p.name), "properties").message}`);
  // A property with nothing to judge on the design (no CALL_OPS literal, no subops) is said once, not explored.
  const na = named.filter((p) => !propertyApplies(p, design));
  for (const line of notApplicableLines(na, design)) io.out(`${line}\n`);
  const props = named.filter((p) => propertyApplies(p, design));
  if (props.length === 0) return 0;
  // On upstream a property the kernel as written violates (a recorded finding) is expected to fail, as in check:
  // its shortest scenario is shown and the search goes on with the other properties.
  const expected = expectedFindings(design, props);
  io.out(`${pc.bold("dispatch-spec explore")}: ${variant}, ${functions} function(s), ${ops} ops, depth ${depth}, ${props.length} propert${props.length === 1 ? "y" : "ies"}, ${workers} worker${workers === 1 ? "" : "s"}\n`);
  const r = await exploreParallel({ functions, ops, depth }, design, props, { expected, hangGuardMs: guard, ...(maxStates !== undefined ? { maxStates } : {}) }, workers);
  const rate = Math.round(r.statesFound / Math.max(0.001, r.ms / 1000));
  io.out(`states found ${r.statesFound}, distinct ${r.distinct}, depth reached ${r.depthReached}, ${(r.ms / 1000).toFixed(1)} s, ${rate} states/s\n`);
  const made = provenance({ design: variant, seed: 0, runs: 0, totalRuns: 0, states: r.statesFound, wallMs: r.ms });
  // Named apart from check's and gate's file for the same design and property, which it would otherwise replace.
  const saved = (s: Scenario): string => shownPath(writeCounterexample(s, made, "explored"));
  for (const f of r.expected) {
    const file = saved(f.scenario);
    io.out(pc.yellow(`${f.property} fails as expected on ${variant} (a known finding, see README) at depth ${f.depth}: ${f.message}\n`) + `  shortest scenario: ${file}\n`);
  }
  if (r.violation !== null) {
    const file = saved(r.violation.scenario);
    io.out(pc.red(`${r.violation.property} violated at depth ${r.violation.depth}: ${r.violation.message}\n`) + `shortest scenario: ${file} (replay: ${replayCommandFor(file, variant)})\n`);
    return 1;
  }
  // A finding that no state of the whole scope shows means the model no longer behaves as recorded.
  const missing = [...expected.keys()].filter((name) => !r.expected.some((f) => f.property === name));
  for (const name of missing) {
    io.out(
      r.exhausted
        ? pc.red(`${name} is a known finding on ${variant}, but no state of the whole scope violates it\n`)
        : pc.yellow(`${name} (a known finding on ${variant}) did not show up to depth ${r.depthReached}\n`),
    );
  }
  const checked = props.length - r.expected.length;
  const what = r.expected.length > 0 ? ` of the other ${checked} propert${checked === 1 ? "y" : "ies"}` : "";
  // The hang guard is no budget: what a search it stopped found depends on the machine, so it is no verdict.
  if (r.timedOut) {
    io.out(pc.red(`${hangGuardMessage(r, guard)}; give --time more seconds, or bound the search by --depth or --states\n`));
    return 1;
  }
  const why = r.exhausted ? " (no new state beyond it: the whole scope is explored)" : r.budgetReached ? ` (the state budget of ${maxStates ?? 0} was passed at that depth)` : "";
  io.out(pc.green(`no violation${what} up to depth ${r.depthReached}${why}\n`));
  return r.exhausted && missing.length > 0 ? 1 : 0;
}
