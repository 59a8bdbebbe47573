// A worker thread of `dispatch-spec check`: runs the properties it is sent and reports progress and outcomes.

import { parentPort } from "node:worker_threads";
import { variantByName } from "../model/variants/index.ts";
import { concurrentPropertyByName, propertyByName } from "../properties/index.ts";
import { runConcurrentProperty } from "../properties/concurrency.ts";
import { runProperty } from "../properties/property.ts";

export interface Job {
  readonly property: string;
  readonly variant: string;
  readonly seed: number;
  readonly runs: number;
  /** A property of concurrent runs (check --concurrency). */
  readonly concurrent?: boolean;
}

const port = parentPort;
if (port !== null) {
  port.on("message", (job: Job) => {
    const p = job.concurrent === true ? concurrentPropertyByName(job.property) : propertyByName(job.property);
    const design = variantByName(job.variant);
    if (p === undefined || design === undefined) {
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
    const outcome = "kills" in p ? runConcurrentProperty(p, design, opts) : runProperty(p, design, opts);
    port.postMessage({ type: "progress", property: job.property, runs: n % 100 });
    port.postMessage({ type: "done", outcome });
  });
}
