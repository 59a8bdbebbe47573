// A broken change, for `--design FILE` (registered nowhere): ftrace_caller's direct exit branches back to
// ftrace_caller's start instead of to the direct trampoline (`b` to the wrong label where `br x17` belongs). A call
// of a function a lone direct ops traces through ftrace_caller (its trampoline out of BL range) then goes round the
// literal load and the direct_call test for ever and never returns to the traced function.
//
//   npx dispatch-spec gate --design model/variants/examples/direct-exit-loops.ts
//
// The interpreter sees the call come back to a state it was in (same pc, registers and memory, no C function run in
// between) and ends it there ("a loop: ftrace_caller_direct reached again after 6 steps ..."), rather than after
// 4 000 instructions; on several CPUs, once no actor can change memory any more. exact-handlers (T1 never entered),
// transitional-handlers and quiescent-exact newly fail, each printed as it is found, before the table.

import { upstreamFtraceCaller } from "../../entry.ts";
import type { Design } from "../../kernel.ts";
import { upstream } from "../upstream.ts";

const directExitLoops: Design = {
  ...upstream,
  name: "direct-exit-loops",
  description: "ftrace_caller's direct exit branches back to ftrace_caller instead of to the direct trampoline",
  entry: {
    kind: "listing",
    ftraceCaller: (c) => ["direct_exit_loops_top:", ...upstreamFtraceCaller(c).map((l) => (l === "br x17" ? "b direct_exit_loops_top" : l))],
    stubDirectTramp: upstream.entry.kind === "listing" ? upstream.entry.stubDirectTramp : [],
  },
};

export default directExitLoops;
