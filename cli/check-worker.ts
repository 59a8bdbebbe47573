// A worker thread of `dispatch-spec check` and `gate`: runs the batch of cells it is sent (properties of one
// design, seed and run count, whose generated runs it executes once for them all) and reports progress and outcomes.

import { parentPort } from "node:worker_threads";
import { variantByName } from "../model/variants/index.ts";
import { concurrentPropertyByName, propertyByName } from "../properties/index.ts";
import { runConcurrentProperties, type ConcurrentProperty } from "../properties/concurrency.ts";
import { type Outcome, type Property } from "../properties/property.ts";
import { runProperties } from "../properties/runner.ts";

export interface Job {
  readonly property: string;
  readonly variant: string;
  readonly seed: number;
  readonly runs: number;
  /** A property of concurrent runs (check --concurrency). */
  readonly concurrent?: boolean;
}

/** Jobs that can share their generated runs: same design, seed, run count and kind. */
export function batchKey(j: Job): string {
  return `${j.variant}\u0000${j.seed}\u0000${j.runs}\u0000${j.concurrent === true ? "c" : "s"}`;
}

function unknown(job: Job): Outcome {
  return { property: job.property, variant: job.variant, runs: 0, ok: false, seed: job.seed, ms: 0, error: "unknown property or variant" };
}

/** Run one batch (every job shares batchKey); outcomes in the batch's order. */
export function runBatch(batch: ReadonlyArray<Job>, tick: (runs: number) => void, onFound: (o: Outcome) => void = () => {}): Outcome[] {
  const first = batch[0];
  if (first === undefined) return [];
  const design = variantByName(first.variant);
  const concurrent = first.concurrent === true;
  const found = batch.map((j) => (concurrent ? concurrentPropertyByName(j.property) : propertyByName(j.property)));
  if (design === undefined) return batch.map(unknown);
  const known = batch.filter((_, i) => found[i] !== undefined);
  let pending = 0;
  const count = (n: number): void => {
    pending += n;
    if (pending >= 100) {
      tick(pending);
      pending = 0;
    }
  };
  const opts = { seed: first.seed, numRuns: first.runs, onRun: () => count(1), onFusedRun: () => count(known.length), onFailure: onFound };
  const outs = concurrent
    ? runConcurrentProperties(found.filter((p): p is ConcurrentProperty => p !== undefined), design, opts)
    : runProperties(found.filter((p): p is Property => p !== undefined), design, opts);
  tick(pending);
  let k = 0;
  return batch.map((j, i) => (found[i] === undefined ? unknown(j) : outs[k++]!));
}

const port = parentPort;
if (port !== null) {
  port.on("message", (batch: ReadonlyArray<Job>) => {
    const outcomes = runBatch(
      batch,
      (runs) => port.postMessage({ type: "progress", runs }),
      (outcome) => port.postMessage({ type: "found", outcome }),
    );
    port.postMessage({ type: "done", outcomes });
  });
}
