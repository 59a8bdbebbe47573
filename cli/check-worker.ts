// A worker thread of `dispatch-spec check`: runs the properties it is sent and reports progress and outcomes.

import { parentPort } from "node:worker_threads";
import { variantByName } from "../model/variants/index.ts";
import { concurrentPropertyByName, propertyByName } from "../properties/index.ts";
import { runConcurrentProperty } from "../properties/concurrency.ts";
import { runProperty, type Outcome, type RunOptions } from "../properties/property.ts";
import type { Design } from "../model/kernel.ts";

export interface Job {
  readonly property: string;
  readonly variant: string;
  readonly seed: number;
  readonly runs: number;
  /** A property of concurrent runs (check --concurrency). */
  readonly concurrent?: boolean;
}

/** The job's property bound to its design and runner, or undefined if the name is unknown. */
function runnerFor(job: Job, design: Design): ((opts: RunOptions) => Outcome) | undefined {
  if (job.concurrent === true) {
    const cp = concurrentPropertyByName(job.property);
    return cp === undefined ? undefined : (opts) => runConcurrentProperty(cp, design, opts);
  }
  const p = propertyByName(job.property);
  return p === undefined ? undefined : (opts) => runProperty(p, design, opts);
}

const port = parentPort;
if (port !== null) {
  port.on("message", (job: Job) => {
    const design = variantByName(job.variant);
    const run = design === undefined ? undefined : runnerFor(job, design);
    if (run === undefined) {
      port.postMessage({ type: "done", outcome: { property: job.property, variant: job.variant, runs: 0, ok: false, seed: job.seed, ms: 0, error: "unknown property or variant" } });
      return;
    }
    let n = 0;
    const opts = {
      seed: job.seed,
      numRuns: job.runs,
      onRun: () => {
        if (++n % 100 === 0) port.postMessage({ type: "progress", property: job.property, runs: 100 });
      },
    };
    const outcome = run(opts);
    port.postMessage({ type: "progress", property: job.property, runs: n % 100 });
    port.postMessage({ type: "done", outcome });
  });
}
