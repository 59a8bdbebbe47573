// The merged design (v6.4 onwards): CALL_OPS literals, direct calls through ops->direct_call, fregs->direct_tramp
// in the former unused slot of a 112-byte struct ftrace_regs, and BR X17 for both direct exits.

import { UPSTREAM_ARCH } from "../arm64.ts";
import { STUB_DIRECT_TRAMP, upstreamFtraceCaller } from "../entry.ts";
import type { Design } from "../kernel.ts";
import { UPSTREAM_FREGS, UPSTREAM_OPS } from "../structs.ts";

export const upstream: Design = {
  name: "upstream",
  description: "merged CALL_OPS + DIRECT_CALLS design",
  fregs: UPSTREAM_FREGS,
  ops: UPSTREAM_OPS,
  entry: { kind: "listing", ftraceCaller: upstreamFtraceCaller, stubDirectTramp: STUB_DIRECT_TRAMP },
  arch: UPSTREAM_ARCH,
  directCalls: true,
  mutations: new Set(),
};
