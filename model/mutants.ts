// Deliberately broken designs: each mutant is a named switch over a variant, flipping one behaviour of the model
// (an arch hook, a line of ftrace_caller, a core decision). Every property must kill at least one of them; the
// gate and the benchmark use them by name. The switches are read where the behaviour lives (arm64.ts, entry.ts,
// core.ts, exec.ts), so the mutated code sits next to the code it breaks.

import type { Design, ScopeExtension } from "./kernel.ts";

export const MUTANTS = {
  "skip-literal-update": "ftrace_make_call patches NOP -> BL without first writing the literal (ftrace_rec_update_ops skipped)",
  "drop-notrace": "the list func's ftrace_ops_test ignores the notrace hash",
  "always-via-caller": "ftrace_find_callable_addr sends every custom trampoline through ftrace_caller, even within BL range",
  "bl-range-off-by-4": "reachable_by_bl accepts an offset of exactly +128 MiB (offset <= SZ_128M)",
  "curr-after-update": "__ftrace_replace_code computes the current address after ftrace_update_record changed the flags",
  "late-exit-keeps-x9": "ftrace_caller's late direct exit does not reload x9 from fregs->lr",
  "fregs-size-120": "struct ftrace_regs grows to 120 bytes (a slot appended after pc), so ftrace_caller reserves 152",
  "ret-instead-of-br": "ftrace_caller leaves for the direct trampoline with RET X17 instead of BR X17",
  "literal-no-align": "ftrace_caller loads the literal from x30 - 16 without aligning x30 down to 8 first",
  "direct-addr-despite-count": "ftrace_get_addr_new picks the direct trampoline whenever DIRECT is set, even when other ops share the record",
  "free-without-grace": "ftrace_shutdown returns without the RCU-tasks grace periods, so the owner frees a dynamic ops while CPUs may still use it",
  "make-nop-keeps-literal": "ftrace_make_nop turns the BL into a NOP but leaves the old ops in the literal",
  "modify-direct-in-place": "modify_ftrace_direct retargets each site in place without the temporary ops, and the owner frees the old trampoline at once",
  "reset-direct-early": "unregister_ftrace_direct clears ops->func and ops->direct_call before the sites stop calling the ops",
  "shutdown-skips-sync-without-command":
    'before 0e792b89e680 "ftrace: Fix use-after-free for dynamic ftrace_ops": ftrace_shutdown skips the RCU-tasks waits when no site needs patching and the trace function is unchanged, though a list walker may still be on the ops',
  "call-ops-ignores-assist": "__ftrace_hash_rec_update gives CALL_OPS to a lone ops even when it needs ftrace_ops_assist_func (RECURSION or RCU)",
  "bl-range-backwards": 'before 3eefdf9d1e40 "arm64: ftrace: fix branch range checks": the BL range check computes pc - addr, allowing +128 MiB and refusing -128 MiB',
  "ipmodify-shared": "__ftrace_hash_update_ipmodify lets a second IPMODIFY ops onto a function another IPMODIFY ops already modifies (two livepatches on one function)",
  "ipmodify-kept-on-shutdown": "ftrace_shutdown skips ftrace_hash_ipmodify_disable, so a record keeps FTRACE_FL_IPMODIFY after its ops is gone",
  "modify-call-no-plt":
    'before a6253579977e "arm64: ftrace: consistently handle PLTs.": ftrace_modify_call branches straight to the old and new addresses, with no ftrace_find_callable_addr (no module PLT, no fallback to ftrace_caller)',
  "direct-entries-kept-on-failure":
    'd05cb470663a..56b3c85e153b: register_ftrace_direct publishes the ops\' ip -> trampoline entries in direct_functions before registering the ops, and leaves them there when the registration fails',
  "direct-call-torn-store":
    'v1 of "ftrace: Store direct called addresses in their ops" (review of 2023-02): ops->direct_call written with a plain store, which may tear into two 32-bit halves (low first) under a CPU reading it; merged as WRITE_ONCE (dbaccb618fab)',
  "ftrace-plt-core-only":
    'before a7ed7b9d0ebb "arm64: ftrace: fix unreachable PLT for ftrace_caller in init_module with CONFIG_DYNAMIC_FTRACE": get_ftrace_plt hands a site in module init text the PLT in the module\'s core text, which since 3e35d303ab7d may be out of BL range',
  "subops-rebuild-every-function":
    'before 38b14061947f "ftrace: Fix accounting of adding subops to a manager ops": rebuilding the manager\'s filter (a subops leaves, or a live subops changes its filter) starts from a fresh hash with no entries, which append_hash takes for "every function", so the manager ends up tracing every function',
  "ftrace-caller-no-bti": 'before 35b6b28e6998 "arm64: ftrace: add missing BTIs": ftrace_caller starts without BTI C, though a module PLT reaches it with BR X16',
  "regs-plt-unfound":
    'before 91970bef48d6 "arm64: ftrace: Change CONFIG_FTRACE_WITH_REGS to CONFIG_DYNAMIC_FTRACE_WITH_REGS": get_ftrace_plt tests a Kconfig symbol that does not exist, so it never returns the module\'s PLT to ftrace_regs_caller and a far module function cannot be traced with SAVE_REGS',
  "startup-keeps-dead-ops":
    'before c3b0f72e805f "ftrace: Fix NULL pointer dereference in is_ftrace_trampoline when ftrace is dead": when ftrace_startup\'s own patching kills ftrace it still returns 0, the ops left on ftrace_ops_list, where no unregister can reach it any more',
  "single-direct-no-lookup":
    "with one shared direct ops (HAVE_SINGLE_FTRACE_DIRECT_OPS's update_ftrace_direct_*), call_direct_funcs still reads ops->direct_call, which the shared ops never sets, instead of finding the trampoline by ip: arm64 taking the single ops without the lookup",
} as const;

export type MutantName = keyof typeof MUTANTS;

/** Mutants that change the ftrace_caller listing: a design whose words come from a binary has no listing to change. */
export const LISTING_MUTANTS: ReadonlySet<MutantName> = new Set<MutantName>(["late-exit-keeps-x9", "fregs-size-120", "ret-instead-of-br", "literal-no-align", "ftrace-caller-no-bti"]);
export const MUTANT_NAMES = Object.keys(MUTANTS) as MutantName[];

/** Mutants whose fault lies in a part of the world generated runs reach only on request (Design.scope). */
export const MUTANT_SCOPE: Partial<Record<MutantName, ReadonlyArray<ScopeExtension>>> = {
  "ftrace-plt-core-only": ["module-init-text"],
  "subops-rebuild-every-function": ["subops"],
};

export function isMutant(name: string): name is MutantName {
  return Object.hasOwn(MUTANTS, name);
}

/** Whether the design under test carries a mutation switch. */
export function mutated(d: Design, m: MutantName): boolean {
  return d.mutations.has(m);
}

/** The design with one mutation switched on; named `variant+mutant`. */
export function withMutant(d: Design, m: MutantName): Design {
  return {
    ...d,
    name: `${d.name}+${m}`,
    description: `${d.description}, mutated: ${MUTANTS[m]}`,
    mutations: new Set([...d.mutations, m]),
    ...withScope(d, MUTANT_SCOPE[m] ?? []),
    fregs: m === "fregs-size-120" ? { ...d.fregs, size: d.fregs.size + 8 } : d.fregs,
  };
}

/** The design's scope with more extensions: an object to spread into a design (empty when nothing is added). */
export function withScope(d: Design, more: ReadonlyArray<ScopeExtension>): { readonly scope?: ReadonlyArray<ScopeExtension> } {
  const all = [...new Set([...(d.scope ?? []), ...more])].sort();
  return all.length === 0 ? {} : { scope: all };
}
