// Tests for the merged design's record: what it is called and described as (the name selects it in scenarios and
// the CLI, the description is what a mutated variant's description extends), and the parts it is built from.

import { describe, expect, it } from "vitest";
import { UPSTREAM_ARCH } from "../arm64.ts";
import { STUB_DIRECT_TRAMP, upstreamFtraceCaller } from "../entry.ts";
import { MUTANTS, withMutant } from "../mutants.ts";
import { UPSTREAM_FREGS } from "../structs.ts";
import { upstream } from "./upstream.ts";

describe("upstream", () => {
  it("is named and described as the merged CALL_OPS + DIRECT_CALLS design", () => {
    expect(upstream.name).toBe("upstream");
    expect(upstream.description).toBe("merged CALL_OPS + DIRECT_CALLS design");
    expect(withMutant(upstream, "ret-instead-of-br").description).toBe(`merged CALL_OPS + DIRECT_CALLS design, mutated: ${MUTANTS["ret-instead-of-br"]}`);
  });

  it("uses the 112-byte ftrace_regs, the merged ftrace_caller and stub, the arm64 hooks, direct calls, no mutation", () => {
    expect(upstream.fregs).toBe(UPSTREAM_FREGS);
    expect(upstream.entry).toEqual({ kind: "listing", ftraceCaller: upstreamFtraceCaller, stubDirectTramp: STUB_DIRECT_TRAMP });
    expect(upstream.arch).toBe(UPSTREAM_ARCH);
    expect(upstream.directCalls).toBe(true);
    expect([...upstream.mutations]).toEqual([]);
  });
});
