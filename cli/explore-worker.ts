// A worker thread of `dispatch-spec explore`: expands the part of a level's frontier it is sent and replies with
// each state's transitions (fingerprints and violations), in order.

import { parentPort } from "node:worker_threads";
import { variantByName } from "../model/variants/index.ts";
import { propertyByName } from "../properties/index.ts";
import { expandPaths, scopeContext, type ExpandJob, type ScopeContext } from "../properties/explore.ts";
import type { Property } from "../properties/property.ts";

/** One context per variant and scope: booted once, reused for every job. */
const contexts = new Map<string, ScopeContext>();

function contextFor(job: ExpandJob): ScopeContext {
  const id = `${job.variant}|${job.scope.functions}|${job.scope.ops}`;
  let ctx = contexts.get(id);
  if (ctx === undefined) {
    const design = variantByName(job.variant);
    if (design === undefined) throw new Error(`explore worker: unknown variant "${job.variant}"`);
    ctx = scopeContext(job.scope, design);
    contexts.set(id, ctx);
  }
  return ctx;
}

function propertiesOf(job: ExpandJob): Property[] {
  return job.properties.map((name) => {
    const p = propertyByName(name);
    if (p === undefined) throw new Error(`explore worker: unknown property "${name}"`);
    return p;
  });
}

const port = parentPort;
if (port !== null) {
  port.on("message", (job: ExpandJob) => {
    port.postMessage(expandPaths(contextFor(job), propertiesOf(job), new Set(job.expected), job.paths, job.deadline));
  });
}
