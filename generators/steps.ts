// fast-check arbitraries for what kernel users do: register and unregister ordinary ops (filter subsets with the
// empty "every function" filter, notrace subsets, SAVE_REGS, RECURSION/RCU callbacks that need the assist
// wrapper), change a live filter, register/unregister/modify direct ops, and call functions. Intents are drawn
// freely and then normalised against a record of what is registered, so that any shrink of the intent list is
// still a well-formed sequence and the counterexample is a short, readable scenario.

import fc from "fast-check";
import type { StepFlag } from "../model/flags.ts";
import type { ScopeExtension } from "../model/kernel.ts";
import type { Step } from "../model/scenario.ts";

export const ORDINARY_OPS = ["A", "B", "C"] as const;
export const DIRECT_OPS = ["D", "E"] as const;

/** A function set drawn as indices; empty means every function (often drawn on purpose). */
const fnSet = fc.oneof({ weight: 1, arbitrary: fc.constant<number[]>([]) }, { weight: 3, arbitrary: fc.uniqueArray(fc.nat({ max: 5 }), { minLength: 1, maxLength: 3 }) });
const notraceSet = fc.oneof({ weight: 3, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: fc.uniqueArray(fc.nat({ max: 5 }), { minLength: 1, maxLength: 2 }) });
const FLAG_CHOICES = [
  { weight: 6, arbitrary: fc.constant<StepFlag[]>([]) },
  { weight: 1, arbitrary: fc.constant<StepFlag[]>(["SAVE_REGS_IF_SUPPORTED"]) },
  { weight: 1, arbitrary: fc.constant<StepFlag[]>(["SAVE_REGS"]) },
  { weight: 1, arbitrary: fc.constant<StepFlag[]>(["RECURSION"]) },
  { weight: 1, arbitrary: fc.constant<StepFlag[]>(["RCU"]) },
  { weight: 2, arbitrary: fc.constant<StepFlag[]>(["IPMODIFY"]) },
];
const flagSet: fc.Arbitrary<StepFlag[]> = fc.oneof(...FLAG_CHOICES);
/** With scope `subops`: as often as a plain ops, the ops is registered as an fgraph subops instead. */
const flagSetSubops: fc.Arbitrary<StepFlag[]> = fc.oneof(...FLAG_CHOICES, { weight: 6, arbitrary: fc.constant<StepFlag[]>(["SUBOP"]) });
/** Now and then the caller registers an ops that is already live (misuse the kernel answers with -EBUSY). */
const again = fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

export type Intent =
  | { readonly kind: "register"; readonly ops: number; readonly filter: number[]; readonly notrace: number[]; readonly flags: StepFlag[]; readonly again: boolean }
  | { readonly kind: "unregister"; readonly ops: number }
  | { readonly kind: "set_filter"; readonly ops: number; readonly filter: number[] }
  | { readonly kind: "set_notrace"; readonly ops: number; readonly notrace: number[] }
  | { readonly kind: "register_direct"; readonly ops: number; readonly filter: number[]; readonly tramp: number }
  | { readonly kind: "unregister_direct"; readonly ops: number }
  | { readonly kind: "modify_direct"; readonly ops: number; readonly tramp: number }
  | { readonly kind: "call"; readonly fn: number };

const opsIdx = fc.nat({ max: ORDINARY_OPS.length - 1 });
const directIdx = fc.nat({ max: DIRECT_OPS.length - 1 });
const trampIdx = fc.nat({ max: 4 });

/** What kernel users do, in the world of the given scope extensions. */
const intentArbFor = (scope: ReadonlyArray<ScopeExtension> = []): fc.Arbitrary<Intent> => fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("register" as const), ops: opsIdx, filter: fnSet, notrace: notraceSet, flags: scope.includes("subops") ? flagSetSubops : flagSet, again }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("unregister" as const), ops: opsIdx }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("set_filter" as const), ops: opsIdx, filter: fnSet }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("set_notrace" as const), ops: opsIdx, notrace: notraceSet }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("register_direct" as const), ops: directIdx, filter: fnSet, tramp: trampIdx }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unregister_direct" as const), ops: directIdx }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("modify_direct" as const), ops: directIdx, tramp: trampIdx }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("call" as const), fn: fc.nat({ max: 5 }) }) },
);

export const intentsArbFor = (scope: ReadonlyArray<ScopeExtension> = []): fc.Arbitrary<Intent[]> => fc.array(intentArbFor(scope), { minLength: 1, maxLength: 12 });

/**
 * Turn intents into scenario steps for a layout with these functions and trampolines. Registering an ops that is
 * already registered is mostly dropped: the step would first change the live ops' filter (as a caller doing
 * ftrace_set_filter then register would), which is API misuse rather than a design question; an intent marked
 * `again` keeps it, so that the kernel's -EBUSY for it is checked too. Everything else, including unregistering
 * what is not registered, stays and must give the kernel's error code.
 */
export function normalise(intents: ReadonlyArray<Intent>, functions: ReadonlyArray<string>, trampolines: ReadonlyArray<string>): Step[] {
  const live = new Set<string>();
  const fnNames = (ix: ReadonlyArray<number>): string[] => [...new Set(ix.map((i) => functions[i % functions.length]!))];
  const trampName = (i: number): string => (trampolines.length === 0 ? "ftrace_stub_direct_tramp" : (trampolines[i % (trampolines.length + 1)] ?? "ftrace_stub_direct_tramp"));
  const steps: Step[] = [];
  for (const it of intents) {
    switch (it.kind) {
      case "register": {
        const ops = ORDINARY_OPS[it.ops]!;
        if (live.has(ops) && !it.again) continue;
        const flags = it.flags;
        const filter = fnNames(it.filter);
        // An IPMODIFY ops never gets a notrace list (the kernel refuses one; the step would fail before registering).
        const notrace = flags.includes("IPMODIFY") ? [] : fnNames(it.notrace);
        steps.push({ do: "register_ftrace_function", ops, filter, notrace, flags });
        // Certain refusals leave the ops unregistered: SAVE_REGS alone on arm64, IPMODIFY on every function.
        // (Other IPMODIFY refusals, -EBUSY on a shared function, depend on what else is live; as for direct ops
        // below, the ops is then taken as live, which only drops a later register of it.)
        const refused = (flags.includes("SAVE_REGS") && !flags.includes("SAVE_REGS_IF_SUPPORTED")) || (flags.includes("IPMODIFY") && filter.length === 0);
        if (!refused) live.add(ops);
        break;
      }
      case "unregister": {
        const ops = ORDINARY_OPS[it.ops]!;
        steps.push({ do: "unregister_ftrace_function", ops });
        live.delete(ops);
        break;
      }
      case "set_filter":
        steps.push({ do: "ftrace_set_filter", ops: ORDINARY_OPS[it.ops]!, filter: fnNames(it.filter) });
        break;
      case "set_notrace":
        steps.push({ do: "ftrace_set_notrace", ops: ORDINARY_OPS[it.ops]!, notrace: fnNames(it.notrace) });
        break;
      case "register_direct": {
        const ops = DIRECT_OPS[it.ops]!;
        if (live.has(ops)) continue;
        const filter = fnNames(it.filter);
        steps.push({ do: "register_ftrace_direct", ops, filter, addr: trampName(it.tramp) });
        // Whether it registers depends on -EINVAL/-EBUSY, which this tracking does not know: it is taken as live
        // unless the filter is empty (certain -EINVAL). So after an -EBUSY a later register of it is dropped too,
        // a small loss of coverage that never lets a register reach a live ops.
        if (filter.length > 0) live.add(ops);
        break;
      }
      case "unregister_direct": {
        const ops = DIRECT_OPS[it.ops]!;
        steps.push({ do: "unregister_ftrace_direct", ops, free_filters: true });
        live.delete(ops);
        break;
      }
      case "modify_direct":
        steps.push({ do: "modify_ftrace_direct", ops: DIRECT_OPS[it.ops]!, addr: trampName(it.tramp) });
        break;
      case "call":
        steps.push({ do: "call", fn: functions[it.fn % functions.length]! });
        break;
    }
  }
  return steps;
}
