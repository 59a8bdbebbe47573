// upstream with the CALL_OPS rule judged on the surviving ops: when an ops leaves a function and one ops remains,
// __ftrace_hash_rec_update asks ftrace_find_unique_ops for the survivor and gives the record CALL_OPS only if the
// survivor can be called without ftrace_ops_assist_func. The rest of the design is upstream's.

import type { Design } from "../kernel.ts";
import { upstream } from "./upstream.ts";

export const survivorFix: Design = {
  ...upstream,
  name: "survivor-fix",
  description: "upstream, with CALL_OPS on decrement judged on the surviving ops",
  callOpsOnSurvivor: true,
};
