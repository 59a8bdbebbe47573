// The reference: a small, independent statement of what the ftrace API and the arm64 design promise, written
// from SPEC.md and the kernel's documented behaviour rather than from the model. It knows only the registered
// ops (filters, notrace, flags, trampolines) and the layout, never rec->flags or memory; properties compare the
// model against it. Its rules for return codes follow kernel/trace/ftrace.c's documented errors.

import { bringsOwnArch } from "../model/arm64.ts";
import type { Path } from "../model/exec.ts";
import { designSwitches, type ArchHooks } from "../model/kernel.ts";
import type { StepFlag } from "../model/flags.ts";
import { ScenarioError, type Scenario, type Step } from "../model/scenario.ts";

export type RefKind = "ordinary" | "direct";

export interface RefOps {
  readonly name: string;
  readonly kind: RefKind;
  filter: ReadonlySet<string>;
  notrace: ReadonlySet<string>;
  flags: ReadonlySet<StepFlag>;
  /** The direct trampoline (direct ops). */
  tramp: bigint | null;
  registered: boolean;
  /** Registered as a subops of fgraph's manager (SUBOP), not on the ops list itself. */
  subop: boolean;
}

/** fgraph's manager ops: on the ops list while it has subops, tracing what they need. */
export const MANAGER = "graph_ops";

export interface RefFunction {
  readonly name: string;
  readonly addr: bigint;
  readonly ip: bigint;
  readonly module: string | null;
}

/** A module's text regions, each with the ftrace PLT a site in it uses. */
interface RefRegion {
  readonly text: bigint;
  readonly size: bigint;
  readonly plt: bigint | null;
}
interface RefModule extends RefRegion {
  readonly init: RefRegion | null;
}

function refRegion(r: { readonly text: string; readonly size?: string | undefined; readonly plt: boolean | string }): RefRegion {
  const text = BigInt(r.text);
  const size = r.size === undefined ? DEFAULT_MODULE_SIZE : BigInt(r.size);
  return { text, size, plt: r.plt === false ? null : r.plt === true ? text + size : BigInt(r.plt) };
}

export interface RefState {
  /** Whether the design has DYNAMIC_FTRACE_WITH_DIRECT_CALLS (else the direct API returns -ENODEV). */
  readonly directCalls: boolean;
  /** Whether patch-sites carry the CALL_OPS literal (else every traced call goes through the global trace function). */
  readonly callOps: boolean;
  /** DYNAMIC_FTRACE_WITH_REGS: ftrace_regs_caller (and a module's second PLT entry) for a function a SAVE_REGS ops traces. */
  readonly ftraceRegsCaller: bigint | null;
  /**
   * The functions whose record has FTRACE_FL_REGS, as the kernel writes the rule: set when an ops with SAVE_REGS
   * enters, re-judged only when such an ops unregisters (is any SAVE_REGS ops still tracing it?), cleared when no
   * ops traces the function; a SAVE_REGS ops that leaves a function by a live filter change leaves the bit set (the
   * re-test runs while the ops still has its old hash).
   */
  readonly regs: Set<string>;
  /**
   * The rules a lone ops' CALL_OPS may follow after its record's count changed, the design's declared one first:
   * "as-written" (judged by the ops that entered or left, the kernel as written), "survivor" (a decrement judged by
   * the ops that remains: survivor-fix). A design that brings arch code of its own may implement either; the
   * reference cannot read its code, so it accepts both and the properties judge behaviour, not switches.
   */
  readonly rules: ReadonlyArray<CallOpsRule>;
  readonly functions: ReadonlyArray<RefFunction>;
  readonly modules: ReadonlyMap<string, RefModule>;
  readonly trampolines: ReadonlyMap<bigint, string>;
  readonly ftraceCaller: bigint;
  readonly ops: Map<string, RefOps>;
  /** Registered ops, newest first. */
  order: string[];
  /** fgraph_array: the subops by slot (null where one left; a new one takes the first free slot). */
  subopSlots: Array<string | null>;
  /** The manager's subop_list, newest first: the order its hashes are rebuilt in. */
  subopList: string[];
  /** HAVE_SINGLE_FTRACE_DIRECT_OPS: every direct call in one shared ops, its trampoline found by ip. */
  readonly singleDirectOps: boolean;
  /** How the manager merges its subops' hashes (Design.subopsHashRule; unset for today's rule). */
  readonly subopsHashRule: "append-intersect" | "skip-nothing" | undefined;
  /** Which functions have a direct caller, and where (the kernel's direct_functions). */
  readonly entries: Map<string, bigint>;
  /**
   * Per rule and function, whether a lone ops may be called straight from the literal. As written, the kernel
   * decides it on the last ops to enter or leave the function, not on the one left; the survivor rule on the one
   * left. Only the rules in `rules` are kept.
   */
  readonly callable: ReadonlyMap<CallOpsRule, Map<string, boolean>>;
}

/** How CALL_OPS is judged for a lone ops after a change of its record's count (see RefState.rules). */
export type CallOpsRule = "as-written" | "survivor";

const SZ_128M = 1n << 27n;
const TWO64 = 1n << 64n;

/** A BL at `from` can reach `to`: signed distance in [-128 MiB, +128 MiB). */
export function blReaches(from: bigint, to: bigint): boolean {
  let d = to - from;
  if (d >= TWO64 / 2n) d -= TWO64;
  if (d < -TWO64 / 2n) d += TWO64;
  return d >= -SZ_128M && d < SZ_128M;
}

const DEFAULT_FTRACE_CALLER = 0xffff800008002000n;
const DEFAULT_STUB_TRAMP = 0xffff800008002400n;
const DEFAULT_MODULE_SIZE = 0x200000n;
/** Where a WITH_REGS design has ftrace_regs_caller (after ftrace_caller, as the model lays it out). */
const FTRACE_REGS_CALLER_OFFSET = 0x100n;
/** A module's ftrace PLT entries are 12 bytes apart (FTRACE_REGS_PLT_IDX is the second). */
const PLT_ENTRY_SIZE = 12n;

export function initRef(
  s: Scenario,
  opts: {
    directCalls: boolean;
    callOpsOnSurvivor?: boolean;
    callOps?: boolean;
    withRegs?: boolean;
    subopsHashRule?: "append-intersect" | "skip-nothing";
    singleDirectOps?: true;
    arch?: ArchHooks;
  } = { directCalls: true },
): RefState {
  const sw = designSwitches(opts);
  const rules: CallOpsRule[] =
    sw.callOpsOnSurvivor ? ["survivor"] : opts.arch !== undefined && bringsOwnArch(opts.arch) ? ["as-written", "survivor"] : ["as-written"];
  const bti = s.config.bti;
  const ftraceCaller = s.kernel.ftrace_caller === undefined ? DEFAULT_FTRACE_CALLER : BigInt(s.kernel.ftrace_caller);
  const modules = new Map(s.modules.map((m) => [m.name, { ...refRegion(m), init: m.init === undefined ? null : refRegion(m.init) }] as const));
  const trampolines = new Map<bigint, string>(s.trampolines.map((t) => [BigInt(t.addr), t.name]));
  trampolines.set(s.kernel.ftrace_stub_direct_tramp === undefined ? DEFAULT_STUB_TRAMP : BigInt(s.kernel.ftrace_stub_direct_tramp), "ftrace_stub_direct_tramp");
  return {
    directCalls: opts.directCalls,
    callOps: sw.callOps,
    ftraceRegsCaller: sw.withRegs ? ftraceCaller + FTRACE_REGS_CALLER_OFFSET : null,
    regs: new Set(),
    rules,
    // The BL sits after the MOV, which follows the optional BTI C at the symbol.
    functions: s.functions.map((f) => ({ name: f.name, addr: BigInt(f.addr), ip: BigInt(f.addr) + ((f.bti ?? bti) ? 8n : 4n), module: f.module ?? null })),
    modules,
    trampolines,
    ftraceCaller,
    ops: new Map(),
    order: [],
    subopSlots: [],
    subopList: [],
    subopsHashRule: opts.subopsHashRule,
    singleDirectOps: sw.singleDirectOps,
    entries: new Map(),
    callable: new Map(rules.map((r) => [r, new Map<string, boolean>()])),
  };
}

/** The functions an ops traces (filter empty = every function; notrace removes). */
export function tracedBy(ref: RefState, o: { filter: ReadonlySet<string>; notrace: ReadonlySet<string> }): string[] {
  return ref.functions.map((f) => f.name).filter((fn) => (o.filter.size === 0 || o.filter.has(fn)) && !o.notrace.has(fn));
}

/** An ops entered or left these functions: remember whether it could be called directly. */
function moved(ref: RefState, fns: ReadonlyArray<string>, callable: boolean): void {
  for (const m of ref.callable.values()) for (const fn of fns) m.set(fn, callable);
}

/** An ops left these functions (already unlinked): judged by the removed ops, or by the one left (survivor rule). */
function left(ref: RefState, fns: ReadonlyArray<string>, removed: RefOps): void {
  for (const [rule, m] of ref.callable)
    for (const fn of fns) {
      const rest = tracers(ref, fn);
      m.set(fn, rule === "survivor" ? rest.length === 1 && !needsAssist(rest[0]!) : !needsAssist(removed));
    }
}

/** A live filter change: leaving functions are judged while the ops still has its old hash (so the survivor rule
 * finds two ops and refuses), entering ones by the ops itself. */
function refiltered(ref: RefState, before: ReadonlyArray<string>, after: ReadonlyArray<string>, o: RefOps): void {
  for (const [rule, m] of ref.callable) {
    if (rule === "survivor") for (const fn of before) if (!after.includes(fn)) m.set(fn, false);
    for (const fn of rule === "survivor" ? after : [...before, ...after]) m.set(fn, !needsAssist(o));
  }
}

function tramplineAddr(ref: RefState, a: string): bigint {
  if (a.startsWith("0x")) return BigInt(a);
  if (a === "ftrace_caller") return ref.ftraceCaller;
  for (const [addr, n] of ref.trampolines) if (n === a) return addr;
  throw new ScenarioError(`the reference cannot judge this scenario: unknown trampoline ${a}`);
}

function opsOf(ref: RefState, name: string, kind: RefKind): RefOps {
  const o = ref.ops.get(name);
  if (o !== undefined) return o;
  const fresh: RefOps = { name, kind, filter: new Set(), notrace: new Set(), flags: new Set(), tramp: null, registered: false, subop: false };
  ref.ops.set(name, fresh);
  return fresh;
}

/** The registered IPMODIFY ops whose filter names fn: the kernel's FTRACE_FL_IPMODIFY on fn's record. */
function ipmodifyHolder(ref: RefState, fn: string): RefOps | undefined {
  return ref.order.map((n) => ref.ops.get(n)).find((o) => o !== undefined && o.flags.has("IPMODIFY") && o.filter.has(fn));
}

/**
 * ftrace_set_filter / ftrace_set_notrace on o (ftrace_hash_move), live when o is registered. An IPMODIFY ops may
 * have no notrace hash; a live IPMODIFY or direct ops may not trace every function, nor take a function another
 * IPMODIFY ops holds (no ops_func on either side to share it).
 */
function setHash(ref: RefState, o: RefOps, which: "filter" | "notrace", fns: ReadonlySet<string>): 0 | string {
  if (which === "notrace" && o.flags.has("IPMODIFY")) return "-EINVAL";
  if (which === "filter" && o.registered && (o.flags.has("IPMODIFY") || o.kind === "direct")) {
    if (fns.size === 0 || o.filter.size === 0) return "-EINVAL";
    if ([...fns].some((fn) => !o.filter.has(fn) && ipmodifyHolder(ref, fn) !== undefined)) return "-EBUSY";
  }
  const before = o.registered ? tracedBy(ref, o) : [];
  if (which === "filter") o.filter = fns;
  else o.notrace = fns;
  if (o.registered && o.subop) managerChanged(ref, { kind: "live", which });
  else if (o.registered) {
    refiltered(ref, before, tracedBy(ref, o), o);
    if (o.flags.has("SAVE_REGS")) for (const fn of tracedBy(ref, o)) ref.regs.add(fn);
  }
  return 0;
}

/** The registered subops in fgraph_array order. */
export function subops(ref: RefState): RefOps[] {
  return ref.subopSlots.flatMap((n) => (n === null ? [] : [ref.ops.get(n)!]));
}

/** A pair of hashes by function name (filter empty = every function). */
interface RefHashes {
  readonly filter: ReadonlySet<string>;
  readonly notrace: ReadonlySet<string>;
}

/** A subops whose notrace covers its whole non-empty filter selects no function. */
function selectsNothing(h: RefHashes): boolean {
  return h.filter.size > 0 && [...h.filter].every((fn) => h.notrace.has(fn));
}

/** Names in both sets; an empty side excludes nothing, so the result is empty then. */
function both(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return a.size === 0 || b.size === 0 ? new Set() : new Set([...a].filter((fn) => b.has(fn)));
}

/**
 * The manager's hashes for its first subops. Today: the subops' filter without its notrace names (or, for a subops
 * on every function, its notrace); before 0ae6b8ce200d the subops' two hashes as they are; the proposed fix keeps
 * them as they are only for a subops that selects nothing.
 */
function firstHashes(ref: RefState, sub: RefHashes): RefHashes {
  if (ref.subopsHashRule === "append-intersect" || (ref.subopsHashRule === "skip-nothing" && selectsNothing(sub))) return { filter: new Set(sub.filter), notrace: new Set(sub.notrace) };
  if (sub.filter.size > 0) return { filter: new Set([...sub.filter].filter((fn) => !sub.notrace.has(fn))), notrace: new Set() };
  return { filter: new Set(), notrace: new Set(sub.notrace) };
}

/**
 * The manager's hashes with one more subops. Today: every function (but what both exclude) once either side has no
 * filter, else the union of the filters, the new one without its notrace names. Before 0ae6b8ce200d: the raw
 * filters united and the notrace hashes intersected. The proposed fix: a side that selects nothing adds nothing.
 */
function nextHashes(ref: RefState, m: RefHashes, sub: RefHashes): RefHashes {
  if (ref.subopsHashRule === "append-intersect") return { filter: m.filter.size === 0 || sub.filter.size === 0 ? new Set() : new Set([...m.filter, ...sub.filter]), notrace: both(m.notrace, sub.notrace) };
  if (ref.subopsHashRule === "skip-nothing" && selectsNothing(sub)) return m;
  if (ref.subopsHashRule === "skip-nothing" && selectsNothing(m)) return firstHashes(ref, sub);
  if (m.filter.size === 0 || sub.filter.size === 0) return { filter: new Set(), notrace: both(m.notrace, sub.notrace) };
  return { filter: new Set([...m.filter, ...[...sub.filter].filter((fn) => !sub.notrace.has(fn))]), notrace: new Set() };
}

/** The subops on the manager's list, newest first. */
function listed(ref: RefState): RefOps[] {
  return ref.subopList.map((n) => ref.ops.get(n)!);
}

/** Today's rebuild (and the fix's): the merge folded over the subops, newest first. */
function foldHashes(ref: RefState): RefHashes {
  let acc: RefHashes | null = null;
  for (const o of listed(ref)) acc = acc === null ? firstHashes(ref, o) : nextHashes(ref, acc, o);
  return acc ?? { filter: new Set(), notrace: new Set() };
}

/** Before 0ae6b8ce200d: the union of the subops' filters, every function once one of them has none. */
function unitedFilters(ref: RefState): ReadonlySet<string> {
  const out = new Set<string>();
  for (const o of listed(ref)) {
    if (o.filter.size === 0) return new Set();
    for (const fn of o.filter) out.add(fn);
  }
  return out;
}

/** Before 0ae6b8ce200d: the manager's own notrace in place of the newest subops', intersected with the others'. */
function intersectedNotrace(ref: RefState, m: RefHashes): ReadonlySet<string> {
  let acc: ReadonlySet<string> = m.notrace;
  for (const o of listed(ref).slice(1)) acc = both(acc, o.notrace);
  return acc;
}

/** How the subops changed: one added (the first, or one more), one removed, or a live one's hash set. */
type ManagerChange = { readonly kind: "add"; readonly sub: RefHashes; readonly first: boolean } | { readonly kind: "remove" } | { readonly kind: "live"; readonly which: "filter" | "notrace" };

/** The manager's new hashes after a change of its subops, as the design's rule computes them. */
function managerHashes(ref: RefState, m: RefHashes, change: ManagerChange): RefHashes {
  if (change.kind === "add") return change.first ? firstHashes(ref, change.sub) : nextHashes(ref, m, change.sub);
  if (ref.subopsHashRule !== "append-intersect") return foldHashes(ref);
  if (change.kind === "remove") return { filter: unitedFilters(ref), notrace: intersectedNotrace(ref, m) };
  return change.which === "filter" ? { filter: unitedFilters(ref), notrace: m.notrace } : { filter: m.filter, notrace: intersectedNotrace(ref, m) };
}

/** The subops changed: the manager joins the list with the first, takes new hashes, and leaves with the last. */
function managerChanged(ref: RefState, change: ManagerChange): void {
  const m = opsOf(ref, MANAGER, "ordinary");
  const before = m.registered ? tracedBy(ref, m) : [];
  const h = managerHashes(ref, m, change);
  m.filter = h.filter;
  m.notrace = h.notrace;
  const live = subops(ref).length > 0;
  if (live && !m.registered) {
    m.registered = true;
    ref.order = [m.name, ...ref.order];
    moved(ref, tracedBy(ref, m), true);
  } else if (!live && m.registered) {
    m.registered = false;
    ref.order = ref.order.filter((n) => n !== m.name);
    m.filter = new Set();
    m.notrace = new Set();
    left(ref, before, m);
  } else if (live) {
    refiltered(ref, before, tracedBy(ref, m), m);
  }
}


/** Apply one step; the return code the kernel documents for it (0 or an error name), or null for a call. */
export function applyRef(ref: RefState, st: Step): 0 | string | null {
  const ret = applyStep(ref, st);
  // A record no ops traces any more has its flags cleared (FTRACE_FL_REGS with them).
  for (const fn of [...ref.regs]) if (tracers(ref, fn).length === 0) ref.regs.delete(fn);
  return ret;
}

function applyStep(ref: RefState, st: Step): 0 | string | null {
  if (!ref.directCalls && (st.do === "register_ftrace_direct" || st.do === "unregister_ftrace_direct" || st.do === "modify_ftrace_direct")) return "-ENODEV";
  switch (st.do) {
    case "call":
      return null;
    case "register_ftrace_function": {
      const o = opsOf(ref, st.ops, "ordinary");
      if (st.flags.includes("SUBOP")) {
        // register_ftrace_graph: the hashes, then the manager takes the subops (a live ops is refused).
        const filtered = setHash(ref, o, "filter", new Set(st.filter));
        if (filtered !== 0) return filtered;
        if (st.notrace.length > 0 || o.notrace.size > 0) {
          const notraced = setHash(ref, o, "notrace", new Set(st.notrace));
          if (notraced !== 0) return notraced;
        }
        if (o.registered) return "-EBUSY";
        o.flags = new Set(st.flags);
        o.registered = true;
        o.subop = true;
        const free = ref.subopSlots.indexOf(null);
        const first = subops(ref).length === 0;
        ref.subopSlots[free === -1 ? ref.subopSlots.length : free] = o.name;
        ref.subopList = [o.name, ...ref.subopList];
        managerChanged(ref, { kind: "add", sub: o, first });
        return 0;
      }
      // The flags are the ops' definition; a live ops keeps its own.
      if (!o.registered) o.flags = new Set(st.flags);

      const filtered = setHash(ref, o, "filter", new Set(st.filter));
      if (filtered !== 0) return filtered;
      // ftrace_set_notrace only when there is something to exclude or to clear.
      if (st.notrace.length > 0 || o.notrace.size > 0) {
        const notraced = setHash(ref, o, "notrace", new Set(st.notrace));
        if (notraced !== 0) return notraced;
      }
      const ipmodify = o.flags.has("IPMODIFY");
      // An IPMODIFY ops may not join a function a direct ops traces (the direct ops has no ops_func to share it).
      if (ipmodify && [...o.filter].some((fn) => tracers(ref, fn).some((t) => t.kind === "direct"))) return "-EBUSY";
      // The step's hash changes hit the live ops before the register call itself failed.
      if (o.registered) return "-EBUSY";
      // Without DYNAMIC_FTRACE_WITH_REGS (arm64 since v6.2) SAVE_REGS needs SAVE_REGS_IF_SUPPORTED.
      if (ref.ftraceRegsCaller === null && o.flags.has("SAVE_REGS") && !o.flags.has("SAVE_REGS_IF_SUPPORTED")) return "-EINVAL";
      // An IPMODIFY ops must name its functions, none of them held by another IPMODIFY ops.
      if (ipmodify && o.filter.size === 0) return "-EINVAL";
      if (ipmodify && [...o.filter].some((fn) => ipmodifyHolder(ref, fn) !== undefined)) return "-EBUSY";
      o.registered = true;
      ref.order = [o.name, ...ref.order];
      moved(ref, tracedBy(ref, o), !needsAssist(o));
      if (o.flags.has("SAVE_REGS")) for (const fn of tracedBy(ref, o)) ref.regs.add(fn);
      return 0;
    }
    case "unregister_ftrace_function": {
      const o = opsOf(ref, st.ops, "ordinary");
      if (!o.registered) return "-EBUSY";
      if (o.subop) {
        // unregister_ftrace_graph: the manager drops it (and leaves the list with its last subops).
        o.registered = false;
        o.subop = false;
        ref.subopSlots = ref.subopSlots.map((n) => (n === o.name ? null : n));
        ref.subopList = ref.subopList.filter((n) => n !== o.name);
        managerChanged(ref, { kind: "remove" });
        return 0;
      }

      o.registered = false;
      ref.order = ref.order.filter((n) => n !== o.name);
      left(ref, tracedBy(ref, o), o);
      if (o.flags.has("SAVE_REGS")) for (const fn of tracedBy(ref, o)) if (!tracers(ref, fn).some((t) => t.flags.has("SAVE_REGS"))) ref.regs.delete(fn);
      return 0;
    }
    case "ftrace_set_filter":
      return setHash(ref, ref.ops.get(st.ops) ?? opsOf(ref, st.ops, "ordinary"), "filter", new Set(st.filter));
    case "ftrace_set_notrace":
      return setHash(ref, ref.ops.get(st.ops) ?? opsOf(ref, st.ops, "ordinary"), "notrace", new Set(st.notrace));
    case "register_ftrace_direct": {
      if (ref.singleDirectOps) return singleDirectAdd(ref, st.ops, new Set(st.filter), tramplineAddr(ref, st.addr));
      const d = opsOf(ref, st.ops, "direct");
      const filtered = setHash(ref, d, "filter", new Set(st.filter));
      if (filtered !== 0) return filtered;
      if (d.registered) return "-EINVAL";
      if (d.filter.size === 0) return "-EINVAL";
      if ([...d.filter].some((fn) => ref.entries.has(fn))) return "-EBUSY";
      // A direct ops without ops_func may not join a function an IPMODIFY ops holds.
      if ([...d.filter].some((fn) => ipmodifyHolder(ref, fn) !== undefined)) return "-EBUSY";
      const addr = tramplineAddr(ref, st.addr);
      for (const fn of d.filter) ref.entries.set(fn, addr);
      d.tramp = addr;
      d.registered = true;
      ref.order = [d.name, ...ref.order];
      moved(ref, tracedBy(ref, d), true);
      return 0;
    }
    case "unregister_ftrace_direct": {
      if (ref.singleDirectOps) return singleDirectDel(ref, st.ops);
      const d = opsOf(ref, st.ops, "direct");
      if (!d.registered) return "-EINVAL";
      const addr = st.addr === undefined ? d.tramp : tramplineAddr(ref, st.addr);
      d.registered = false;
      ref.order = ref.order.filter((n) => n !== d.name);
      left(ref, tracedBy(ref, d), d);
      for (const fn of d.filter) if (ref.entries.get(fn) === addr) ref.entries.delete(fn);
      if (st.free_filters) {
        d.filter = new Set();
        d.notrace = new Set();
      }
      return 0;
    }
    case "modify_ftrace_direct": {
      if (ref.singleDirectOps) return singleDirectMod(ref, st.ops, tramplineAddr(ref, st.addr));
      const d = opsOf(ref, st.ops, "direct");
      if (!d.registered) return "-EINVAL";
      const addr = tramplineAddr(ref, st.addr);
      // The temporary stub ops (directly callable) enters and leaves every function of the direct ops.
      moved(ref, tracedBy(ref, d), true);
      // A function an IPMODIFY ops has taken since (a live filter change) refuses the new address.
      if ([...d.filter].some((fn) => ipmodifyHolder(ref, fn) !== undefined)) return "-EBUSY";
      for (const fn of d.filter) if (ref.entries.has(fn)) ref.entries.set(fn, addr);
      d.tramp = addr;
      return 0;
    }
  }
}

/** The shared ops of a single-direct-ops design, as the model names it. */
const SHARED_DIRECT = "direct_ops";

/**
 * A direct ops D of a single-direct-ops design: its functions join the shared ops (registered with the first),
 * each with D's trampoline. D itself is never registered; it only remembers its functions.
 */
function singleDirectAdd(ref: RefState, name: string, fns: ReadonlySet<string>, addr: bigint): 0 | string {
  const d = opsOf(ref, name, "direct");
  if (fns.size === 0 || d.filter.size > 0 || [...fns].some((fn) => ref.entries.has(fn))) return "-EINVAL";
  // The shared ops has no ops_func either: it may not join a function an IPMODIFY ops holds.
  if ([...fns].some((fn) => ipmodifyHolder(ref, fn) !== undefined)) return "-EBUSY";
  const s = opsOf(ref, SHARED_DIRECT, "direct");
  const before = s.registered ? tracedBy(ref, s) : [];
  for (const fn of fns) ref.entries.set(fn, addr);
  d.filter = fns;
  d.tramp = addr;
  s.filter = new Set([...s.filter, ...fns]);
  if (!s.registered) {
    s.registered = true;
    ref.order = [s.name, ...ref.order];
    moved(ref, tracedBy(ref, s), true);
  } else refiltered(ref, before, tracedBy(ref, s), s);
  return 0;
}

/** D's functions leave the shared ops (which unregisters with the last), then their direct_functions entries. */
function singleDirectDel(ref: RefState, name: string): 0 | string {
  const d = opsOf(ref, name, "direct");
  const s = opsOf(ref, SHARED_DIRECT, "direct");
  if (d.filter.size === 0 || !s.registered) return "-EINVAL";
  const before = tracedBy(ref, s);
  s.filter = new Set([...s.filter].filter((fn) => !d.filter.has(fn)));
  if (s.filter.size === 0) {
    s.registered = false;
    ref.order = ref.order.filter((n) => n !== s.name);
    left(ref, before, s);
  } else refiltered(ref, before, tracedBy(ref, s), s);
  for (const fn of d.filter) ref.entries.delete(fn);
  d.filter = new Set();
  d.tramp = null;
  return 0;
}

/** D's functions move to a new trampoline: a stub ops (directly callable) enters and leaves just those functions. */
function singleDirectMod(ref: RefState, name: string, addr: bigint): 0 | string {
  const d = opsOf(ref, name, "direct");
  const s = opsOf(ref, SHARED_DIRECT, "direct");
  if (d.filter.size === 0 || !s.registered) return "-EINVAL";
  moved(ref, [...d.filter], true);
  if ([...s.filter].some((fn) => ipmodifyHolder(ref, fn) !== undefined)) return "-EBUSY";
  for (const fn of d.filter) ref.entries.set(fn, addr);
  d.tramp = addr;
  return 0;
}

/** The trampoline a direct ops sends fn to: its own, or (the shared ops) the one fn's entry names. */
function trampFor(ref: RefState, o: RefOps, fn: string): bigint | null {
  return ref.singleDirectOps && o.name === SHARED_DIRECT ? (ref.entries.get(fn) ?? null) : o.tramp;
}

/** The registered ops that trace fn, newest first. */
export function tracers(ref: RefState, fn: string): RefOps[] {
  return ref.order
    .map((n) => ref.ops.get(n))
    .filter((o): o is RefOps => o !== undefined && (o.filter.size === 0 || o.filter.has(fn)) && !o.notrace.has(fn));
}

/**
 * Whose callbacks a call of fn runs, in order: each ordinary tracer, with fgraph's manager standing for the subops
 * (fgraph_array order) whose own hashes trace fn, which may be none.
 */
export function handlerNames(ref: RefState, fn: string, ts: ReadonlyArray<RefOps> = tracers(ref, fn)): string[] {
  return ts.flatMap((o) => (o.name !== MANAGER ? [o.name] : subops(ref).filter((s) => tracedBy(ref, s).includes(fn)).map((s) => s.name)));
}

/** An ops whose callback needs ftrace's recursion or RCU protection (ftrace_ops_assist_func). */

export function needsAssist(o: RefOps): boolean {
  return o.flags.has("RECURSION") || o.flags.has("RCU");
}

export type BlTarget = { readonly kind: "nop" } | { readonly kind: "bl"; readonly to: bigint; readonly what: string };

export interface Expected {
  readonly path: Path;
  /** Which ops' callbacks run, in order. */
  readonly handlers: ReadonlyArray<string>;
  /** Name of the direct trampoline entered, or null. */
  readonly tramp: string | null;
  /** The ops the literal holds, by name. */
  readonly literal: string;
  readonly target: BlTarget;
}

function fnOf(ref: RefState, fn: string): RefFunction {
  const f = ref.functions.find((x) => x.name === fn);
  if (f === undefined) throw new ScenarioError(`the reference cannot judge this scenario: unknown function ${fn}`);
  return f;
}

/**
 * Where a site that goes through ftrace_caller branches: ftrace_caller itself, or the ftrace PLT of the module text
 * (core or init) that holds it.
 */
function callerTarget(ref: RefState, f: RefFunction): BlTarget {
  // WITH_REGS: a function whose record has REGS goes to ftrace_regs_caller, from far through the PLT's second entry.
  if (ref.ftraceRegsCaller !== null && ref.regs.has(f.name)) {
    if (blReaches(f.ip, ref.ftraceRegsCaller)) return { kind: "bl", to: ref.ftraceRegsCaller, what: "ftrace_regs_caller" };
    const m = f.module === null ? undefined : ref.modules.get(f.module);
    if (m === undefined || m.plt === null) throw new ScenarioError(`the reference cannot judge this scenario: ${f.name} cannot reach ftrace_regs_caller and has no module PLT`);
    return { kind: "bl", to: m.plt + PLT_ENTRY_SIZE, what: `${f.module}.ftrace_regs_plt` };
  }
  if (blReaches(f.ip, ref.ftraceCaller)) return { kind: "bl", to: ref.ftraceCaller, what: "ftrace_caller" };
  const m = f.module === null ? undefined : ref.modules.get(f.module);
  const inInit = m?.init != null && f.ip >= m.init.text && f.ip < m.init.text + m.init.size;
  const plt = m === undefined ? null : inInit ? (m.init?.plt ?? null) : m.plt;
  if (plt === null) throw new ScenarioError(`the reference cannot judge this scenario: ${f.name} cannot reach ftrace_caller and has no module PLT`);
  return { kind: "bl", to: plt, what: `${f.module}.${inInit ? "init_ftrace_plt" : "ftrace_plt"}` };
}

function trampName(ref: RefState, addr: bigint): string {
  return ref.trampolines.get(addr) ?? `0x${addr.toString(16)}`;
}

/**
 * SPEC.md §7 for fn given the registered ops: what its patch-site holds and what a call of it does. A lone ops is
 * called straight from the literal (CALL_OPS) when the last ops to enter or leave fn was directly callable, as
 * the kernel writes the rule; otherwise the literal is ftrace_list_ops.
 */
export function expected(ref: RefState, fn: string, rule: CallOpsRule = ref.rules[0]!): Expected {
  const f = fnOf(ref, fn);
  const ts = tracers(ref, fn);
  const direct = ts.find((o) => o.kind === "direct");
  const directTramp = direct === undefined ? null : trampFor(ref, direct, fn);
  const tramp = directTramp === null ? null : trampName(ref, directTramp);
  const only = ts.length === 1 ? ts[0] : undefined;
  if (!ref.callOps) return expectedWithoutCallOps(ref, f, ts);
  if (only === undefined) {
    if (ts.length === 0) return { path: "untraced", handlers: [], tramp: null, literal: "ftrace_nop_ops", target: { kind: "nop" } };
    return { path: "caller-list", handlers: handlerNames(ref, fn, ts), tramp, literal: "ftrace_list_ops", target: callerTarget(ref, f) };
  }
  const callOps = ref.callable.get(rule)?.get(fn) ?? true;
  const literal = callOps ? only.name : "ftrace_list_ops";
  if (only.kind === "direct" && directTramp !== null) {
    // DIRECT_EN depends only on the count: a reachable trampoline (its direct_functions entry) is called by the site
    // itself. Without an entry (a live filter change of a direct ops) the site goes through ftrace_caller.
    const entry = ref.entries.get(fn);
    if (entry !== undefined && blReaches(f.ip, entry)) return { path: "direct-bl", handlers: [], tramp: trampName(ref, entry), literal, target: { kind: "bl", to: entry, what: trampName(ref, entry) } };
    // The shared ops' direct_call stays 0: ftrace_caller calls call_direct_funcs, which finds the trampoline by ip.
    if (callOps) return ref.singleDirectOps ? { path: "caller-ops", handlers: [only.name], tramp, literal, target: callerTarget(ref, f) } : { path: "caller-direct", handlers: [], tramp, literal, target: callerTarget(ref, f) };
    return { path: "caller-list", handlers: [only.name], tramp, literal, target: callerTarget(ref, f) };
  }
  return { path: callOps ? "caller-ops" : "caller-list", handlers: handlerNames(ref, fn, ts), tramp: null, literal, target: callerTarget(ref, f) };
}

/**
 * What each rule the design may follow prescribes for fn, the declared rule first, without repeats: one entry
 * unless the design brings its own arch code and the two rules part for fn.
 */
export function permitted(ref: RefState, fn: string): Expected[] {
  const all = ref.rules.map((r) => expected(ref, fn, r));
  return all.filter((e, i) => all.findIndex((o) => o.path === e.path && o.literal === e.literal) === i);
}

/** What a patch-site without a literal shows in its literal column. */
export const NO_LITERAL = "none";

/**
 * Without CALL_OPS: a lone direct ops' reachable trampoline is the site's own BL; every other traced site branches to
 * ftrace_caller (or ftrace_regs_caller), which calls the global trace function: the list function, or a static ops'
 * own func when that ops is the only one registered at all (a heap ops is DYNAMIC and always goes through the list).
 */
function expectedWithoutCallOps(ref: RefState, f: RefFunction, ts: ReadonlyArray<RefOps>): Expected {
  if (ts.length === 0) return { path: "untraced", handlers: [], tramp: null, literal: NO_LITERAL, target: { kind: "nop" } };
  const direct = ts.find((o) => o.kind === "direct");
  const tramp = direct === undefined || direct.tramp === null ? null : trampName(ref, direct.tramp);
  const entry = ref.entries.get(f.name);
  if (ts.length === 1 && direct !== undefined && entry !== undefined && blReaches(f.ip, entry))
    return { path: "direct-bl", handlers: [], tramp: trampName(ref, entry), literal: NO_LITERAL, target: { kind: "bl", to: entry, what: trampName(ref, entry) } };
  const aloneStatic = ref.order.length === 1 && ref.order[0] === MANAGER;
  return { path: aloneStatic ? "caller-ops" : "caller-list", handlers: handlerNames(ref, f.name, ts), tramp, literal: NO_LITERAL, target: callerTarget(ref, f) };
}
