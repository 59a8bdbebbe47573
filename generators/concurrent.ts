// fast-check arbitraries for concurrent runs: a small layout, a few API steps for the updater, 2-3 CPUs each
// calling 1-5 functions, and a schedule drawn as segments (actor, length) so that shrinking removes switches
// between actors (after it, all actors take turns). Objects are used the way owners use them: an ops is registered once and freed when it is
// unregistered, and a trampoline serves one registration or modify target (it is freed when it stops being used).

import fc from "fast-check";
import type { Step } from "../model/scenario.ts";
import type { ScopeExtension } from "../model/kernel.ts";
import { layoutArbFor, type LayoutSpec } from "./layout.ts";
import { intentsArbFor, normalise } from "./steps.ts";

export type ApiStepSpec = Exclude<Step, { do: "call" }>;

export interface ConcurrentSpec {
  readonly layout: LayoutSpec;
  readonly steps: ReadonlyArray<ApiStepSpec>;
  readonly cpus: ReadonlyArray<ReadonlyArray<string>>;
  /** Segments: who moves, for how many ticks. */
  readonly schedule: ReadonlyArray<readonly [number, number]>;
}

/** Keep only steps that use ops and trampolines as their owners would (no use of a freed object by the owner). */
export function ownedSteps(steps: ReadonlyArray<Step>): ApiStepSpec[] {
  const registeredOnce = new Set<string>();
  const usedTramps = new Set<string>();
  const out: ApiStepSpec[] = [];
  for (const st of steps) {
    if (st.do === "call") continue;
    if (st.do === "register_ftrace_function" || st.do === "register_ftrace_direct") {
      if (registeredOnce.has(st.ops)) continue;
      registeredOnce.add(st.ops);
    }
    if (st.do === "register_ftrace_direct" || st.do === "modify_ftrace_direct") {
      if (st.addr !== "ftrace_stub_direct_tramp") {
        if (usedTramps.has(st.addr)) continue;
        usedTramps.add(st.addr);
      }
    }
    out.push(st);
  }
  return out;
}

/** A schedule segment: short bursts (a few instructions) and long ones (a whole call or API step). */
const segment = (cpus: number): fc.Arbitrary<readonly [number, number]> =>
  fc.tuple(fc.nat({ max: cpus }), fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 40 })));

/** At most two functions, so that CPUs call what the updater is patching. */
const smallLayoutArb = (scope: ReadonlyArray<ScopeExtension>): fc.Arbitrary<LayoutSpec> => layoutArbFor(scope).map((l) => ({ ...l, functions: l.functions.slice(0, 2) }));

/** Concurrent runs in the world of the given scope extensions. */
export const concurrentArbFor = (scope: ReadonlyArray<ScopeExtension> = []): fc.Arbitrary<ConcurrentSpec> => fc
  .tuple(smallLayoutArb(scope), intentsArbFor(scope), fc.integer({ min: 2, max: 3 }))
  .chain(([layout, intents, ncpu]) => {
    const fns = layout.functions.map((f) => f.name);
    const steps = ownedSteps(normalise(intents, fns, layout.trampolines.map((t) => t.name))).slice(0, 6);
    const calls = fc.array(fc.constantFrom(...fns), { minLength: 1, maxLength: 5 });
    return fc.record({
      layout: fc.constant(layout),
      steps: fc.constant(steps),
      cpus: fc.array(calls, { minLength: ncpu, maxLength: ncpu }),
      schedule: fc.array(segment(ncpu), { maxLength: 16 }),
    });
  });

