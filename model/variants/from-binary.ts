// A design read from a built kernel: upstream's ftrace core and arch code around the words of the image's
// ftrace_caller and ftrace_stub_direct_tramp (model/binary.ts reads them and what they say about the structures).
// It lives with the variants so that model/binary.ts, which reads images, needs no design of its own.

import { binaryCode, codeNamed, EntryError, entryFacts, MAX_FTRACE_CALLER_BYTES, MAX_STUB_BYTES, opsLayout, type EntryImage } from "../binary.ts";
import type { Design } from "../kernel.ts";
import { withScope } from "../mutants.ts";
import { callOpsOnly } from "./call-ops-only.ts";
import { upstream } from "./upstream.ts";

/**
 * What a kernel release has of fgraph's subops (v6.11 on): its runs register subops (scope `subops`), and a 6.11 to
 * 6.14 release keeps the merge from before 0ae6b8ce200d (v6.15), as Debian's 6.12.117 does (kernel/scenarios/k13-k15
 * show it on the booted kernel). An unknown release gets upstream's.
 */
export function subopsOfRelease(release: string | null): Pick<Design, "subopsHashRule" | "scope"> {
  const m = release === null ? null : /^(\d+)\.(\d+)/.exec(release);
  if (m === null) return {};
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < 6 || (major === 6 && minor < 11)) return {};
  return { ...withScope(upstream, ["subops"]), ...(major === 6 && minor < 15 ? { subopsHashRule: "append-intersect" as const } : {}) };
}

/** Upstream's ftrace core and arch code with the image's ftrace_caller and ftrace_stub_direct_tramp. */
export function binaryDesign(image: EntryImage): Design {
  const caller = codeNamed(image, "ftrace_caller");
  if (caller === null) throw new EntryError("no ftrace_caller (a kernel built with DYNAMIC_FTRACE_WITH_CALL_OPS has one)");
  if (caller.words.length * 4 > MAX_FTRACE_CALLER_BYTES) throw new EntryError(`ftrace_caller is ${caller.words.length * 4} bytes; the model has room for ${MAX_FTRACE_CALLER_BYTES}`);
  const stub = codeNamed(image, "ftrace_stub_direct_tramp");
  if (stub !== null && stub.words.length * 4 > MAX_STUB_BYTES) throw new EntryError(`ftrace_stub_direct_tramp is ${stub.words.length * 4} bytes; the model has room for ${MAX_STUB_BYTES}`);
  const facts = entryFacts(caller);
  const direct = stub !== null;
  if (!direct && facts.opsDirectCall !== null) throw new EntryError("ftrace_caller tests ops->direct_call, but the image has no ftrace_stub_direct_tramp");
  const base = direct ? upstream : callOpsOnly;
  const fregs = image.btf?.regs ?? facts.fregs;
  if (fregs === null) throw new EntryError("ftrace_caller: cannot tell struct ftrace_regs from its stores (x0-x8, fp, lr, sp and pc below the frame), and the image has no BTF");
  if (facts.frame === null) throw new EntryError("ftrace_caller: no `sub sp, sp, #N` reserving its frame");
  if (direct && fregs.direct_tramp === null) throw new EntryError("ftrace_regs has no direct_tramp slot, but the image has ftrace_stub_direct_tramp (DIRECT_CALLS)");
  return {
    ...base,
    name: image.name,
    description: `upstream's ftrace core with ftrace_caller${direct ? " and ftrace_stub_direct_tramp" : ""} from ${image.source}`,
    ...subopsOfRelease(image.release),
    fregs,
    ops: opsLayout(image, facts, direct),
    frame: facts.frame,
    entry: { kind: "binary", source: image.source, ftraceCaller: binaryCode(image, caller), stubDirectTramp: stub === null ? null : binaryCode(image, stub) },
    mutations: new Set(),
  };
}
