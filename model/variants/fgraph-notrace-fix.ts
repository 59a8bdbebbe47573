// upstream with the fix reports/findings/fgraph-notrace-covers-filter.md proposes for fgraph's manager ops: a subops
// whose notrace hash covers its whole filter selects no function, so add_first_hash and add_next_hash leave it out
// of the merge instead of turning its emptied filter into "every function". The rest of the design is upstream's;
// its runs register ordinary ops as fgraph subops now and then (scope `subops`), where the rule matters.

import type { Design } from "../kernel.ts";
import { withScope } from "../mutants.ts";
import { upstream } from "./upstream.ts";

export const fgraphNotraceFix: Design = {
  ...upstream,
  name: "fgraph-notrace-fix",
  description: "upstream, with an fgraph subops that selects no function left out of the manager's hashes",
  subopsHashRule: "skip-nothing",
  ...withScope(upstream, ["subops"]),
};
