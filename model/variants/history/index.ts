// The kernel's own record as designs: each merged dispatch bug (the tree between the commit that brought it and
// the commit that fixed it), each fix, and each pending change in the model's scope, named after its commit
// (`bug-<id>`, `fix-<id>`), so that the gate judges the kernel's history the way it judges our variants.
// reports/history/record.md is the record with its sources; reports/history/verdicts.md is generated from this
// list and a run (`dispatch-spec history`).

import type { Design } from "../../kernel.ts";
import type { ScopeExtension } from "../../kernel.ts";
import { withMutant, withScope, type MutantName } from "../../mutants.ts";
import { directWithoutCallOps, withRegs } from "../no-call-ops.ts";
import { singleDirectOps } from "../single-direct-ops.ts";
import { upstream } from "../upstream.ts";

export type HistoryKind = "bug" | "fix" | "design" | "build" | "pending";

/** One entry of the record that the model can run. */
export interface HistoryDesign {
  /** The design's name: `bug-<id>` (the tree with the defect), `fix-<id>` (with its fix), or a pending series'. */
  readonly name: string;
  /** The commit it is named after (12 hex digits), or the series' subject for a pending change. */
  readonly commit: string;
  readonly kind: HistoryKind;
  readonly subject: string;
  /** For a bug, the name of its fix; for a fix, the bug's. */
  readonly pairedWith?: string;
  /** One line: what the change does to dispatch on arm64. */
  readonly mechanism: string;
  /** The design itself. */
  readonly design: Design;
  /** For a bug: the properties that must flag it (at least one), each with the longest counterexample allowed. */
  readonly flaggedBy?: ReadonlyArray<{
    readonly property: string;
    /** Steps of a sequential counterexample, or segments of a concurrent one's schedule. */
    readonly maxSteps: number;
    /** A pinned seed and run count where the window is narrow (as the suite's own mutant of it has). */
    readonly seed?: number;
    readonly runs?: number;
  }>;
  /**
   * For a fix (or design change) that the merged design contains: the variant whose gate row judges it, instead of
   * a row of its own (the same design would be run twice).
   */
  readonly sameAs?: string;
  /**
   * Properties a fix's row fails for a recorded finding that has nothing to do with the fix (the kernel as written
   * violates them on this design's world too), each with the finding's write-up under reports/findings/.
   */
  readonly findings?: ReadonlyArray<{ readonly property: string; readonly finding: string }>;
  /**
   * For a fix judged in another bug's world (the only world where the fix has anything to do): that bug's design
   * name and the properties its row fails because of that bug, not this fix.
   */
  readonly inherits?: { readonly from: string; readonly properties: ReadonlyArray<string> };
}

/** The merged design under another name: a fix that upstream contains. */
function asUpstream(name: string, description: string): Design {
  return { ...upstream, name, description, standsFor: upstream.name };
}

/**
 * The merged design judged in a world the default runs do not reach (a fix whose bug lives only there): a row of its
 * own, since upstream's row would not exercise the fix.
 */
function upstreamIn(name: string, scope: ReadonlyArray<ScopeExtension>, description: string): Design {
  return { ...upstream, name, description, ...withScope(upstream, scope) };
}

/** Upstream with the one point a bug changed: the suite's mutant of it, under the bug's own name. */
function bugOf(name: string, mutant: MutantName, description: string): Design {
  return { ...withMutant(upstream, mutant), name, description };
}

/** The WITH_REGS design with get_ftrace_plt as 3b23e4991fb6..91970bef48d6 had it: a world where ftrace can die. */
const bug91970bef48d6World: Design = {
  ...withMutant(withRegs, "regs-plt-unfound"),
  name: "bug-91970bef48d6",
  description: "the WITH_REGS design of v5.19..v6.1 with get_ftrace_plt as 3b23e4991fb6..91970bef48d6 had it (the regs PLT never found)",
};

export const HISTORY: ReadonlyArray<HistoryDesign> = [
  {
    name: "bug-3b23e4991fb6",
    commit: "3b23e4991fb6",
    kind: "bug",
    subject: "arm64: implement ftrace with regs (v5.5): ftrace_modify_call without a callable-address lookup",
    pairedWith: "fix-a6253579977e",
    mechanism:
      "ftrace_modify_call encodes BL old and BL new straight to the addresses it is given: a target out of BL range (a far module's ftrace_caller, or on the merged design an out-of-range direct trampoline) becomes the BRK that aarch64_insn_gen_branch_imm returns",
    design: bugOf("bug-3b23e4991fb6", "modify-call-no-plt", "upstream with ftrace_modify_call as 3b23e4991fb6..a6253579977e had it (no ftrace_find_callable_addr)"),
    flaggedBy: [{ property: "bl-range", maxSteps: 2 }],
  },
  {
    name: "fix-a6253579977e",
    commit: "a6253579977e",
    kind: "fix",
    subject: "arm64: ftrace: consistently handle PLTs.",
    pairedWith: "bug-3b23e4991fb6",
    mechanism: "ftrace_make_call, ftrace_make_nop and ftrace_modify_call all go through ftrace_find_callable_addr (module PLT, or ftrace_caller for an unreachable trampoline)",
    design: asUpstream("fix-a6253579977e", "upstream (it contains a6253579977e)"),
    sameAs: "upstream",
  },
  {
    name: "bug-c8027285e366",
    commit: "c8027285e366",
    kind: "bug",
    subject: "arm64: Set GP bit in kernel page tables to enable BTI for the kernel (v5.8): ftrace_caller had no landing pad",
    pairedWith: "fix-35b6b28e6998",
    mechanism:
      "kernel text becomes guarded, but ftrace_caller (SYM_CODE_START, no implicit BTI) starts with no BTI C: a far module's ftrace PLT reaches it with BR X16 and the CPU raises a branch target exception",
    design: bugOf("bug-c8027285e366", "ftrace-caller-no-bti", "upstream with ftrace_caller's first instruction, BTI C, missing (c8027285e366..35b6b28e6998)"),
    flaggedBy: [{ property: "branch-hygiene", maxSteps: 3 }],
  },
  {
    name: "fix-35b6b28e6998",
    commit: "35b6b28e6998",
    kind: "fix",
    subject: "arm64: ftrace: add missing BTIs",
    pairedWith: "bug-c8027285e366",
    mechanism: "ftrace_caller (and, then, ftrace_regs_caller) start with BTI C, a landing pad for the module PLT's BR X16",
    design: asUpstream("fix-35b6b28e6998", "upstream (it contains 35b6b28e6998)"),
    sameAs: "upstream",
  },
  {
    name: "bug-d05cb470663a",
    commit: "d05cb470663a",
    kind: "bug",
    subject: "ftrace: Fix modification of direct_function hash while in use (v6.7): dropped the clean-up on failure",
    pairedWith: "fix-56b3c85e153b",
    mechanism:
      "register_ftrace_direct publishes the ops' entries in direct_functions before registering the ops and, when that fails (an IPMODIFY ops on the function), leaves them: the next direct registration on those functions gets -EBUSY",
    design: bugOf("bug-d05cb470663a", "direct-entries-kept-on-failure", "upstream with register_ftrace_direct's failure path as d05cb470663a..56b3c85e153b had it"),
    flaggedBy: [{ property: "modify-validates", maxSteps: 3, runs: 2000 }],
  },
  {
    name: "fix-56b3c85e153b",
    commit: "56b3c85e153b",
    kind: "fix",
    subject: "ftrace: Fix BPF fexit with livepatch",
    pairedWith: "bug-d05cb470663a",
    mechanism: "a failed registration removes the entries it published (remove_direct_functions_hash) and resets the ops",
    design: asUpstream("fix-56b3c85e153b", "upstream (it contains 56b3c85e153b)"),
    sameAs: "upstream",
  },
  {
    name: "bug-e71a4e1bebaf",
    commit: "e71a4e1bebaf",
    kind: "bug",
    subject: "arm64: ftrace: add support for far branches to dynamic ftrace (v4.11; with f8af0b364e24, live until v5.19)",
    pairedWith: "fix-3eefdf9d1e40",
    mechanism: "the BL range check computes pc - addr instead of addr - pc: a target exactly +128 MiB away is taken as reachable and one exactly -128 MiB away is not",
    design: bugOf("bug-e71a4e1bebaf", "bl-range-backwards", "upstream with the branch range check of e71a4e1bebaf..3eefdf9d1e40 (pc - addr)"),
    flaggedBy: [{ property: "bl-range", maxSteps: 1 }],
  },
  {
    name: "fix-3eefdf9d1e40",
    commit: "3eefdf9d1e40",
    kind: "fix",
    subject: "arm64: ftrace: fix branch range checks",
    pairedWith: "bug-e71a4e1bebaf",
    mechanism: "the range check takes addr - pc and accepts [-128 MiB, +128 MiB) as the BL encoding does",
    design: asUpstream("fix-3eefdf9d1e40", "upstream (it contains 3eefdf9d1e40)"),
    sameAs: "upstream",
  },
  {
    name: "bug-edb096e00724",
    commit: "edb096e00724",
    kind: "bug",
    subject: "ftrace: Fix memleak when unregistering dynamic ops when tracing disabled (v4.14; live until v6.1)",
    pairedWith: "fix-0e792b89e680",
    mechanism:
      "ftrace_shutdown skips synchronize_rcu_tasks_rude/synchronize_rcu_tasks when no record needs patching and the trace function is unchanged, though a CPU in ftrace_ops_list_func may still be on the ops its owner then frees",
    design: bugOf("bug-edb096e00724", "shutdown-skips-sync-without-command", "upstream with ftrace_shutdown's early return before 0e792b89e680"),
    // The window is narrow (a CPU must hold the ops across an unregister that patches nothing), as for the mutant.
    flaggedBy: [{ property: "no-use-after-free", maxSteps: 6, seed: 1, runs: 4000 }],
  },
  {
    name: "fix-0e792b89e680",
    commit: "0e792b89e680",
    kind: "fix",
    subject: "ftrace: Fix use-after-free for dynamic ftrace_ops",
    pairedWith: "bug-edb096e00724",
    mechanism: "ftrace_shutdown always waits for the RCU-tasks grace periods before a dynamic ops is freed, command or not",
    design: asUpstream("fix-0e792b89e680", "upstream (it contains 0e792b89e680)"),
    sameAs: "upstream",
  },
  {
    name: "bug-3e35d303ab7d",
    commit: "3e35d303ab7d",
    kind: "bug",
    subject: "arm64: module: rework module VA range selection (v6.5): module init text may sit out of BL range of the .text ftrace PLT",
    pairedWith: "fix-a7ed7b9d0ebb",
    mechanism:
      "modules are placed anywhere in a 2 GiB area, each memory type on its own, but get_ftrace_plt still hands every site the PLT in the module's core text: a site in init text more than 128 MiB from it gets the BRK that aarch64_insn_gen_branch_imm returns instead of a BL",
    design: bugOf("bug-3e35d303ab7d", "ftrace-plt-core-only", "upstream with module init text placed as 3e35d303ab7d allows and get_ftrace_plt as it was until a7ed7b9d0ebb (core text's PLT only)"),
    flaggedBy: [{ property: "bl-range", maxSteps: 2 }],
  },
  {
    name: "fix-a7ed7b9d0ebb",
    commit: "a7ed7b9d0ebb",
    kind: "fix",
    subject: "arm64: ftrace: fix unreachable PLT for ftrace_caller in init_module with CONFIG_DYNAMIC_FTRACE",
    pairedWith: "bug-3e35d303ab7d",
    mechanism: "a module gets a second ftrace PLT in .init.text.ftrace_trampoline, and get_ftrace_plt picks the one in the text (core or init) that holds the site",
    design: upstreamIn("fix-a7ed7b9d0ebb", ["module-init-text"], "upstream (it contains a7ed7b9d0ebb), with modules that have init text, near their text or out of its BL range"),
  },
  {
    name: "bug-5fccc7552ccb",
    commit: "5fccc7552ccb",
    kind: "bug",
    subject: "ftrace: Add subops logic to allow one ops to manage many (v6.11): rebuilding the manager's filter gave it every function",
    pairedWith: "fix-38b14061947f",
    mechanism:
      "when a subops leaves (or a live subops changes its filter) the manager's filter is rebuilt by append_hashes, which starts from a fresh hash with no entries, takes it for \"every function\" and stops: fgraph's graph_ops then traces every function, so every site gets a BL and a site that had one ops loses its CALL_OPS literal to ftrace_list_ops (handlers stay right: fgraph tests each subops' own hashes)",
    design: bugOf("bug-5fccc7552ccb", "subops-rebuild-every-function", "upstream with fgraph subops and the manager's filter rebuilt as 5fccc7552ccb..38b14061947f did"),
    flaggedBy: [{ property: "reference-agreement", maxSteps: 4 }],
  },
  {
    name: "fix-38b14061947f",
    commit: "38b14061947f",
    kind: "fix",
    subject: "ftrace: Fix accounting of adding subops to a manager ops",
    pairedWith: "bug-5fccc7552ccb",
    mechanism: "the rebuild starts from no hash at all and allocates on the first append, so the manager traces exactly the union of its subops' functions (the later 0ae6b8ce200d rework, add_first_hash/add_next_hash, is what the model runs)",
    design: upstreamIn("fix-38b14061947f", ["subops"], "upstream (it contains 38b14061947f and 0ae6b8ce200d), with ordinary ops registered now and then as fgraph subops"),
    // Today's merge turns a subops whose notrace covers its filter into "every function" (seen on Debian's 7.3.4).
    findings: [{ property: "manager-exact", finding: "fgraph-notrace-covers-filter.md" }],
  },
  // 5fccc7552ccb brought this defect too; bug-5fccc7552ccb already names its other one, so this design takes the fix's id.
  {
    name: "bug-0ae6b8ce200d",
    commit: "0ae6b8ce200d",
    kind: "bug",
    subject: "ftrace: Add subops logic to allow one ops to manage many (v6.11): the manager kept its subops' notrace names in its filter",
    pairedWith: "fix-0ae6b8ce200d",
    mechanism:
      "a second subops makes the manager's filter the union of the raw filters (each subops' notrace names still in them) and its notrace the intersection of the notrace hashes, so a function one subops excludes and another does not name is traced by graph_ops: its site gets a BL and every call of it goes through ftrace_graph_func for no subops (Debian's 6.12.117 still does this: kernel/scenarios/k14)",
    design: { ...upstreamIn("bug-0ae6b8ce200d", ["subops"], "upstream with the manager's hashes merged as 38b14061947f..0ae6b8ce200d did (append_hashes, intersect_hashes), as Debian's 6.12.117 runs them"), subopsHashRule: "append-intersect" },
    flaggedBy: [{ property: "manager-exact", maxSteps: 2 }],
  },
  {
    name: "fix-0ae6b8ce200d",
    commit: "0ae6b8ce200d",
    kind: "fix",
    subject: "ftrace: Fix accounting of subop hashes",
    pairedWith: "bug-0ae6b8ce200d",
    mechanism: "add_first_hash and add_next_hash take each subops' filter without its notrace names, and use notrace hashes only while a subops traces every function; the rebuild folds them over the subop list",
    design: asUpstream("fix-0ae6b8ce200d", "upstream: it contains 0ae6b8ce200d"),
    sameAs: "fix-38b14061947f",
    findings: [{ property: "manager-exact", finding: "fgraph-notrace-covers-filter.md" }],
  },
  // 3b23e4991fb6 brought this defect too; bug-3b23e4991fb6 already names its other one, so this design takes the fix's id.
  {
    name: "bug-91970bef48d6",
    commit: "91970bef48d6",
    kind: "bug",
    subject: "arm64: implement ftrace with regs (v5.5): get_ftrace_plt tested CONFIG_FTRACE_WITH_REGS, which does not exist",
    pairedWith: "fix-91970bef48d6",
    mechanism:
      "get_ftrace_plt returns the module's ftrace_regs_caller PLT entry only if IS_ENABLED(CONFIG_FTRACE_WITH_REGS), which is never true: a far module function that an ops with SAVE_REGS traces gets no PLT, ftrace_make_call fails with -EINVAL and ftrace_bug kills ftrace",
    design: bug91970bef48d6World,
    flaggedBy: [{ property: "modify-validates", maxSteps: 1 }],
  },
  {
    name: "fix-91970bef48d6",
    commit: "91970bef48d6",
    kind: "fix",
    subject: "arm64: ftrace: Change CONFIG_FTRACE_WITH_REGS to CONFIG_DYNAMIC_FTRACE_WITH_REGS",
    pairedWith: "bug-91970bef48d6",
    mechanism: "get_ftrace_plt tests the real Kconfig symbol, so a far module's site reaches ftrace_regs_caller through FTRACE_REGS_PLT_IDX",
    design: { ...withRegs, name: "fix-91970bef48d6", description: `${withRegs.description}; it contains 91970bef48d6` },
    // Every traced site goes through the list function here, so a refused registration's moment on the list shows.
    findings: [{ property: "transitional-handlers", finding: "failed-registration-visible.md" }],
  },
  // ftrace_startup never rolled back a registration whose patching killed ftrace. On arm64 a registration could kill it
  // in v5.5..v5.8 (91970bef48d6's bug), so both designs live in that world.
  {
    name: "bug-c3b0f72e805f",
    commit: "c3b0f72e805f",
    kind: "bug",
    subject: "ftrace_startup before c3b0f72e805f (v6.0-rc): returned 0 when its own patching killed ftrace",
    pairedWith: "fix-c3b0f72e805f",
    mechanism:
      "a registration whose ftrace_startup_enable hits ftrace_bug (here: a far module function traced with SAVE_REGS, 91970bef48d6's bug) returns 0 with the ops on ftrace_ops_list; ftrace is dead, so every unregister returns -ENODEV before unlinking it, and an owner that frees the ops leaves ftrace_ops_list_func and is_ftrace_trampoline on freed memory",
    design: { ...withMutant(bug91970bef48d6World, "startup-keeps-dead-ops"), name: "bug-c3b0f72e805f", description: "the WITH_REGS design with 91970bef48d6's bug (v5.5..v5.8) and ftrace_startup before c3b0f72e805f" },
    flaggedBy: [{ property: "ops-ownership", maxSteps: 1 }],
  },
  {
    name: "fix-c3b0f72e805f",
    commit: "c3b0f72e805f",
    kind: "fix",
    subject: "ftrace: Fix NULL pointer dereference in is_ftrace_trampoline when ftrace is dead",
    pairedWith: "bug-c3b0f72e805f",
    mechanism:
      "when ftrace_startup's patching killed ftrace it unlinks the ops (__unregister_ftrace_function, flags and counts left as they are) and returns -ENODEV, so the owner knows it may free it; it rolls back nothing else on purpose",
    design: { ...bug91970bef48d6World, name: "fix-c3b0f72e805f", description: `${bug91970bef48d6World.description}, with c3b0f72e805f's rollback (as the model has it)` },
    // Everything a live ftrace owes fails here by construction: ftrace dies in this world.
    inherits: { from: "bug-91970bef48d6", properties: ["exact-handlers", "path-selection", "modify-validates", "reference-agreement", "transitional-handlers", "quiescent-exact"] },
  },
  {
    name: "pending-direct-without-call-ops",
    commit: "arm64: ftrace: allow DIRECT_CALLS without CALL_OPS",
    kind: "pending",
    subject: "arm64: ftrace: allow DIRECT_CALLS without CALL_OPS (posted 2026-06)",
    mechanism:
      "direct calls on kernels without CALL_OPS (kCFI, GCC -Os): no literal; an in-range trampoline is the site's BL, an out-of-range one is reached through ftrace_caller, the list function (a BPF ops is DYNAMIC), call_direct_funcs and the late exit",
    design: directWithoutCallOps,
  },
  {
    name: "pending-single-direct-ops",
    commit: "ftrace,bpf: Use single direct ops for bpf trampolines",
    kind: "pending",
    subject: "ftrace,bpf: Use single direct ops for bpf trampolines (merged for x86, 2026-01; arm64 port closed)",
    mechanism:
      "one shared direct ops for every BPF trampoline: update_ftrace_direct_add/del/mod change its hash and direct_functions; its direct_call stays 0, so on arm64 a site out of BL range takes ftrace_caller's slow path to call_direct_funcs, which finds the trampoline by ip",
    design: singleDirectOps,
  },
];

/** An entry of the record the model does not run (yet, or at all), and why: it stays in the verdicts table. */
export interface OutOfScope {
  readonly commit: string;
  readonly kind: HistoryKind;
  readonly subject: string;
  readonly why: string;
}

export const OUT_OF_SCOPE: ReadonlyArray<OutOfScope> = [
  { commit: "d05cb470663a", kind: "fix", subject: "ftrace: Fix modification of direct_function hash while in use", why: "invisible in arm64 dispatch: the race needs a lock-free reader of direct_functions, and arm64 has none on its dispatch path (call_direct_funcs reads ops->direct_call since v6.4; fgraph's direct-call test is built only without WITH_ARGS); the reader comes back with HAVE_SINGLE_FTRACE_DIRECT_OPS (x86; see pending-single-direct-ops.md). The bug this fix brought, bug-d05cb470663a, is run and flagged" },
  { commit: "3e9a18e1c3e9", kind: "fix", subject: "ftrace: bpf: Fix IPMODIFY + DIRECT in modify_ftrace_direct()", why: "invisible in arm64 dispatch: the missing ops_func question only left BPF_TRAMP_F_ORIG_STACK unset, which on x86 makes an fexit trampoline call the unpatched address; arm64's JIT reads neither flag and calls the x30 it was entered with, the pc the livepatch set. Shown on Debian's 6.12.117 (kernel --experiment livepatch-fexit): every patched call ran the replacement, and the fexit trampolines built with and without ORIG_STACK are the same code but for addresses" },
  { commit: "1a7d0890dd4a", kind: "fix", subject: "kprobe/ftrace: bail out if ftrace was killed", why: "arm64 has no KPROBES_ON_FTRACE (the fix touches csky, loongarch, parisc, powerpc, riscv, s390 and x86): after ftrace_kill the patched sites keep calling the ops they call, and kprobes freed its ops after an unregister that ftrace_shutdown refused with -ENODEV; the fix makes kprobe_ftrace_handler return at once once ftrace is dead. For the model it is evidence for ops-ownership's contract: owners do free an ops whose unregister failed, and a dead ftrace keeps dispatching" },
  { commit: "3ebc98c1ae7e", kind: "fix", subject: "ftrace: Add missing ftrace_lock to update_ftrace_direct_add/del", why: "locking of the single-direct-ops API (HAVE_SINGLE_FTRACE_DIRECT_OPS, x86 only; arm64 does not select it): update_ftrace_direct_add/del called ftrace_update_ops without ftrace_lock while other ftrace updates ran. The model runs one API call at a time (no locks), so the race has no counterpart; pending-single-direct-ops runs the API itself" },
  { commit: "dbaccb618fab", kind: "design", subject: "ftrace: Store direct called addresses in their ops (v1 review: torn ops->direct_call)", why: "modelled, not flagged by generated runs: the mutant direct-call-torn-store splits the store into 32-bit halves, and a directed corpus scenario (a trampoline 4 GiB away) fails transitional-handlers; between two trampolines within 4 GiB the halves' top bits agree and a tear changes nothing, and arm64 puts module and BPF trampolines within 2 GiB of the kernel" },
  { commit: "8eb4b09e0bbd", kind: "fix", subject: "ftrace: Do not add duplicate entries in subops manager ops", why: "the model's hashes are sets: an ip added twice is one entry, so duplicates cannot arise" },
  { commit: "a8b9cf62ade1", kind: "fix", subject: "ftrace: Fix DIRECT_CALLS to use SAVE_REGS by default", why: "x86 only: arm64 has no WITH_REGS, its direct ops keep SAVE_ARGS" },
  { commit: "ca2ef4ffabbe", kind: "fix", subject: "arm64: insn: consistently handle exit text", why: "text patching of .exit.text at init under KASAN, not dispatch" },
  { commit: "de56379f21c7", kind: "fix", subject: "arm64: ftrace: use function_nocfi for _mcount as well", why: "jump-table CFI with mcount builds; CALL_OPS is not built with CFI" },
  { commit: "8cfb08575c6d", kind: "fix", subject: "arm64: ftrace: fix module PLTs with mcount", why: "mcount-based ftrace only; the model is patchable-function-entry" },
  { commit: "4c75b0ff4e4b", kind: "fix", subject: "ftrace: Fix updating FTRACE_FL_TRAMP", why: "arm64 has no per-ops trampolines, so FTRACE_FL_TRAMP is never set there" },
  { commit: "8a141dd7f706", kind: "fix", subject: "ftrace: Fix modify_ftrace_direct.", why: "the legacy single-ip direct API, removed in v6.4 before arm64 had direct calls (likewise 2a2d8c51defb, 7d5b7cad79da, fea3ffa48c6d)" },
  { commit: "2e6e9058d13a", kind: "fix", subject: "ftrace/direct: Fix lockup in modify_ftrace_direct_multi", why: "a self-deadlock on ftrace_lock (likewise 9d2ce78ddcee on direct_mutex); the model has no locks" },
  { commit: "cf04f2d5df00", kind: "fix", subject: "ftrace: Still disable enabled records marked as disabled", why: "records disabled after being enabled (weak functions, module load); the model takes modules as loaded and enabled" },
  { commit: "e60b613df8b6", kind: "fix", subject: "ftrace: Fix possible use-after-free issue in ftrace_location()", why: "module unload freeing record pages; the model has no module unload" },
  { commit: "a743f26d03a9", kind: "fix", subject: "arm64: ftrace: Don't forbid CALL_OPS+CC_OPTIMIZE_FOR_SIZE with Clang", why: "configuration (b3f11af9b2ce forbade CALL_OPS at GCC -Os, which misaligned patch-sites); the model's layouts refuse misaligned sites" },
  { commit: "b3d6121eaeb2", kind: "build", subject: "arm64: fix selection of HAVE_DYNAMIC_FTRACE_WITH_ARGS", why: "Kconfig only (likewise 68a63a412d18, 45bd8951806e, 38792972de42)" },
  { commit: "307abfac04a2", kind: "fix", subject: "kprobes: add notrace to __kprobes", why: "the kprobe blacklist around CALL_OPS padding, not dispatch" },
];

export const HISTORY_DESIGNS: ReadonlyMap<string, Design> = new Map(HISTORY.map((h) => [h.name, h.design]));

export function historyByName(name: string): HistoryDesign | undefined {
  return HISTORY.find((h) => h.name === name);
}
