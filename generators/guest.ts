// fast-check arbitraries for runs a real kernel can do (kernel/guest.ts's vocabulary with dsmod's ops): ordinary ops
// A and B (plain, RECURSION, RCU or IPMODIFY, with filters and notrace, live filter changes), fgraph subops G (a
// function_graph tracer instance, its filter also changed while it traces), direct ops D and E on dsmod's trampoline
// pool, and calls of three system calls' entry points and of a module function. Intents are drawn freely and
// normalised against what is registered, so every shrink is still a run the guest accepts: never an empty filter on a
// live ops, never a register of a live ops or an unregister of a dead one, at most the pool's trampolines.

import fc from "fast-check";
import type { StepFlag } from "../model/flags.ts";
import { parseScenario, type Scenario, type Step } from "../model/scenario.ts";
import { DSMOD_TRAMPS } from "../kernel/guest.ts";

/**
 * Function names: kernel/guest.ts maps f, g and h onto sethostname, setdomainname and acct, and m, a module function,
 * onto binfmt_misc's bm_status_write (a module out of BL range of the kernel when the 2 GiB module region puts it
 * there: its site then reaches ftrace_caller through the module's ftrace PLT).
 */
export const GUEST_FUNCTIONS = ["f", "g", "h", "m"] as const;
export const GUEST_MODULE_FUNCTIONS: ReadonlyArray<string> = ["m"];
export const GUEST_ORDINARY = ["A", "B"] as const;
export const GUEST_SUBOPS = "G";
export const GUEST_DIRECT = ["D", "E"] as const;
/** The guest's options for a generated run: every ordinary and direct ops is dsmod's (return codes read back). */
export const GENERATED_GUEST = { direct: "dsmod", ordinary: "dsmod" } as const;

export type GuestIntent =
  | { readonly kind: "register"; readonly ops: number; readonly filter: number[]; readonly notrace: number[]; readonly flags: number }
  | { readonly kind: "unregister"; readonly ops: number }
  | { readonly kind: "set_filter"; readonly ops: number; readonly filter: number[] }
  | { readonly kind: "set_notrace"; readonly ops: number; readonly notrace: number[] }
  | { readonly kind: "subops"; readonly filter: number[]; readonly notrace: number[]; readonly on: boolean }
  | { readonly kind: "subops_filter"; readonly filter: number[] }
  | { readonly kind: "register_direct"; readonly ops: number; readonly filter: number[] }
  | { readonly kind: "modify_direct"; readonly ops: number }
  | { readonly kind: "unregister_direct"; readonly ops: number }
  | { readonly kind: "call"; readonly fn: number };

const fns = fc.uniqueArray(fc.nat({ max: GUEST_FUNCTIONS.length - 1 }), { minLength: 1, maxLength: 3 });
const notrace = fc.oneof({ weight: 3, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: fc.uniqueArray(fc.nat({ max: GUEST_FUNCTIONS.length - 1 }), { minLength: 1, maxLength: 2 }) });
const ordinary = fc.nat({ max: GUEST_ORDINARY.length - 1 });
const direct = fc.nat({ max: GUEST_DIRECT.length - 1 });
/** 0: no flag; 1: RECURSION; 2: RCU; 3: IPMODIFY (a livepatch's claim on the ip, which direct ops must share). */
const FLAGS: ReadonlyArray<StepFlag[]> = [[], ["RECURSION"], ["RCU"], ["IPMODIFY"]];
const flags = fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: fc.constant(3) });

const intentArb: fc.Arbitrary<GuestIntent> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("register" as const), ops: ordinary, filter: fns, notrace, flags }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("unregister" as const), ops: ordinary }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("set_filter" as const), ops: ordinary, filter: fns }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("set_notrace" as const), ops: ordinary, notrace }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("subops" as const), filter: fns, notrace, on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("subops_filter" as const), filter: fns }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("register_direct" as const), ops: direct, filter: fns }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("modify_direct" as const), ops: direct }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("unregister_direct" as const), ops: direct }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("call" as const), fn: fc.nat({ max: GUEST_FUNCTIONS.length - 1 }) }) },
);

export const guestIntentsArb: fc.Arbitrary<GuestIntent[]> = fc.array(intentArb, { minLength: 1, maxLength: 10 });

/**
 * The steps of a run the guest accepts, from intents (see the module comment for what is dropped). After every API
 * step the functions whose patch-site it may have changed (the ops' functions before and after) are called, in
 * f, g, h order: the kernel shows a dispatch defect only in a call (the model's properties call every function after
 * every step; a guest's call costs a system call and a report, so only where something changed).
 */
export function normaliseGuest(intents: ReadonlyArray<GuestIntent>): Step[] {
  const steps: Step[] = [];
  const live = new Set<string>();
  // The functions each ops was last given (its filter; notrace only narrows it).
  const filterOf = new Map<string, string[]>();
  const touched = (ops: string, now: ReadonlyArray<string> = []): void => {
    const fs = new Set([...(filterOf.get(ops) ?? []), ...now]);
    for (const fn of GUEST_FUNCTIONS) if (fs.has(fn)) steps.push({ do: "call", fn });
  };
  // A registration (its functions called after it) and an unregistration (the functions it had, called after it).
  const registered = (st: Step, ops: string, filter: string[]): void => {
    steps.push(st);
    touched(ops, filter);
    filterOf.set(ops, filter);
    live.add(ops);
  };
  const unregistered = (st: Step, ops: string): void => {
    steps.push(st);
    live.delete(ops);
    touched(ops);
  };
  const names = (ix: ReadonlyArray<number>): string[] => [...new Set(ix.map((i) => GUEST_FUNCTIONS[i % GUEST_FUNCTIONS.length]!))];
  let attachments = 0;
  for (const it of intents) {
    switch (it.kind) {
      case "register": {
        const ops = GUEST_ORDINARY[it.ops]!;
        if (live.has(ops)) break;
        const filter = names(it.filter);
        const fl = FLAGS[it.flags] ?? [];
        // An IPMODIFY ops never gets a notrace list (ftrace_hash_move refuses it one).
        registered({ do: "register_ftrace_function", ops, filter, notrace: fl.includes("IPMODIFY") ? [] : names(it.notrace), flags: fl }, ops, filter);
        break;
      }
      case "unregister": {
        const ops = GUEST_ORDINARY[it.ops]!;
        if (!live.has(ops)) break;
        unregistered({ do: "unregister_ftrace_function", ops }, ops);
        break;
      }
      case "set_filter": {
        const ops = GUEST_ORDINARY[it.ops]!;
        const filter = names(it.filter);
        steps.push({ do: "ftrace_set_filter", ops, filter });
        if (live.has(ops)) touched(ops, filter);
        filterOf.set(ops, filter);
        break;
      }
      case "set_notrace": {
        const ops = GUEST_ORDINARY[it.ops]!;
        steps.push({ do: "ftrace_set_notrace", ops, notrace: names(it.notrace) });
        if (live.has(ops)) touched(ops);
        break;
      }
      case "subops":
        if (it.on && !live.has(GUEST_SUBOPS)) {
          const filter = names(it.filter);
          registered({ do: "register_ftrace_function", ops: GUEST_SUBOPS, filter, notrace: names(it.notrace), flags: ["SUBOP"] }, GUEST_SUBOPS, filter);
        } else if (!it.on && live.has(GUEST_SUBOPS)) {
          unregistered({ do: "unregister_ftrace_function", ops: GUEST_SUBOPS }, GUEST_SUBOPS);
        }
        break;
      case "subops_filter": {
        // A live function_graph instance's set_ftrace_filter: the manager's filter is rebuilt from its subops'.
        if (!live.has(GUEST_SUBOPS)) break;
        const filter = names(it.filter);
        steps.push({ do: "ftrace_set_filter", ops: GUEST_SUBOPS, filter });
        touched(GUEST_SUBOPS, filter);
        filterOf.set(GUEST_SUBOPS, filter);
        break;
      }
      case "register_direct": {
        const ops = GUEST_DIRECT[it.ops]!;
        if (live.has(ops) || attachments >= DSMOD_TRAMPS) break;
        const filter = names(it.filter);
        registered({ do: "register_ftrace_direct", ops, filter, addr: `T${attachments % 4}` }, ops, filter);
        attachments++;
        break;
      }
      case "modify_direct": {
        const ops = GUEST_DIRECT[it.ops]!;
        if (!live.has(ops) || attachments >= DSMOD_TRAMPS) break;
        steps.push({ do: "modify_ftrace_direct", ops, addr: `T${attachments % 4}` });
        attachments++;
        touched(ops);
        break;
      }
      case "unregister_direct": {
        const ops = GUEST_DIRECT[it.ops]!;
        if (!live.has(ops)) break;
        unregistered({ do: "unregister_ftrace_direct", ops, free_filters: true }, ops);
        break;
      }
      case "call":
        steps.push({ do: "call", fn: GUEST_FUNCTIONS[it.fn]! });
        break;
    }
  }
  return steps;
}

/**
 * A run as a scenario file: the model's default layout (the guest puts the kernel's own addresses in before the
 * model runs it), the trampolines the steps name, and the guest's options, so `dispatch-spec kernel FILE` replays it.
 */
export function guestScenario(steps: ReadonlyArray<Step>): Scenario {
  return parseScenario({
    description: "A run generated in the guest's vocabulary (generators/guest.ts).",
    guest: GENERATED_GUEST,
    modules: [{ name: "m1", text: "0xffff800080000000" }],
    functions: GUEST_FUNCTIONS.map((name, i) =>
      GUEST_MODULE_FUNCTIONS.includes(name) ? { name, addr: `0x${(0xffff800080001000n + BigInt(i) * 0x1000n).toString(16)}`, module: "m1" } : { name, addr: `0x${(0xffff800009000000n + BigInt(i) * 0x1000n).toString(16)}` },
    ),
    trampolines: [0, 1, 2, 3].map((i) => ({ name: `T${i}`, addr: `0x${(0xffff800009100000n + BigInt(i) * 0x100n).toString(16)}` })),
    steps,
  });
}

export const guestRunArb: fc.Arbitrary<Scenario> = guestIntentsArb.map((xs) => guestScenario(normaliseGuest(xs))).filter((s) => s.steps.length > 0);
