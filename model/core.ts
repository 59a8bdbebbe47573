// The generic ftrace core (kernel/trace/ftrace.c) as far as dispatch depends on it: hashes and
// ftrace_ops_test, the record flags and reference counts (__ftrace_hash_rec_update), the per-record
// decision (ftrace_check_record), address selection (ftrace_get_addr_new/curr), the update loop
// (__ftrace_replace_code), registration (ftrace_startup/ftrace_shutdown), live filter changes, and the
// direct-call API. Modelled as written, including its known quirks; the arch hooks come from the design.

import { ERRNO, type Ret } from "./errno.ts";
import { FTRACE_FL, FTRACE_NOCLEAR_FLAGS, FTRACE_OPS_FL, FTRACE_REF_MAX, formatRecFlags, hasFlag, recCount, setFlag } from "./flags.ts";
import { toHex } from "./insn.ts";
import type { DynFtrace, FtraceOps, FuncHash, IpSet, Kernel } from "./kernel.ts";
import { hasCallOps, opsNamed, warn } from "./kernel.ts";
import { mutated } from "./mutants.ts";
import { FTRACE_OPS_NEXT } from "./structs.ts";

const EMPTY: IpSet = new Set<bigint>();

/** ftrace_hash_empty */
export function hashEmpty(h: IpSet): boolean {
  return h.size === 0;
}

/** hash_contains_ip: in the filter (or the filter is empty) and not in the notrace hash. */
export function hash_contains_ip(ip: bigint, h: FuncHash): boolean {
  return (hashEmpty(h.filter) || h.filter.has(ip)) && (hashEmpty(h.notrace) || !h.notrace.has(ip));
}

/** ftrace_ops_test (without WITH_REGS, which arm64 lacks): does this ops trace ip? */
export function ftrace_ops_test(ops: FtraceOps, ip: bigint): boolean {
  return hash_contains_ip(ip, ops.funcHash);
}

/** FTRACE_ADDR: ftrace_caller. */
export function FTRACE_ADDR(k: Kernel): bigint {
  return k.layout.kernel.ftrace_caller;
}

/** FTRACE_REGS_ADDR: ftrace_regs_caller with DYNAMIC_FTRACE_WITH_REGS (arm64 v5.5..v6.1), else ftrace_caller. */
export function FTRACE_REGS_ADDR(k: Kernel): bigint {
  return k.ftraceRegsCaller ?? FTRACE_ADDR(k);
}

/** ftrace_ops_get_func(ops) == ops->func: no RECURSION or RCU assist wrapper needed. */
export function ftrace_ops_get_func_is_func(ops: FtraceOps): boolean {
  return (ops.flags & (FTRACE_OPS_FL.RECURSION | FTRACE_OPS_FL.RCU)) === 0;
}

/** Writes ops->func and mirrors it into the ops object in memory (FTRACE_OPS_FUNC). */
export function setOpsFunc(k: Kernel, ops: FtraceOps, func: bigint): void {
  ops.func = func;
  // Stryker disable next-line ArithmeticOperator: ops->func is at 0 in every design, so adding or subtracting it stores to the same word
  k.mem.write64(ops.addr + BigInt(k.design.ops.func), func);
}

/** WRITE_ONCE(ops->direct_call, addr): one 8-byte store a concurrent ftrace_caller may observe. */
export function setDirectCall(k: Kernel, ops: FtraceOps, addr: bigint): void {
  ops.direct_call = addr;
  k.mem.write64(ops.addr + BigInt(k.design.ops.direct_call), addr);
}

/** do_for_each_ftrace_op: the list, or the ftrace_list_end sentinel alone when the list is empty. */
function opsWalk(k: Kernel): ReadonlyArray<FtraceOps> {
  return k.opsList.length === 0 ? [k.listEnd] : k.opsList;
}

/** ftrace_find_unique_ops: the one ops whose hashes contain rec->ip, or null if several do. */
export function ftrace_find_unique_ops(k: Kernel, rec: DynFtrace): FtraceOps | null {
  let found: FtraceOps | null = null;
  for (const op of opsWalk(k)) {
    if (!hash_contains_ip(rec.ip, op.funcHash)) continue;
    if (found !== null) return null;
    found = op;
  }
  return found;
}

/** skip_record: disabled records that are not currently enabled are left alone. */
function skip_record(rec: DynFtrace): boolean {
  return hasFlag(rec.flags, FTRACE_FL.DISABLED) && !hasFlag(rec.flags, FTRACE_FL.ENABLED);
}

/** test_rec_ops_needs_regs: does some listed ops with SAVE_REGS still trace rec? */
// Stryker disable next-line all: REGS only chooses FTRACE_REGS_ADDR over FTRACE_ADDR, the same address on arm64
function test_rec_ops_needs_regs(k: Kernel, rec: DynFtrace): boolean {
  return k.opsList.some((op) => hasFlag(op.flags, FTRACE_OPS_FL.SAVE_REGS) && hash_contains_ip(rec.ip, op.funcHash));
}

/** ftrace_find_tramp_ops_any_other */
function ftrace_find_tramp_ops_any_other(k: Kernel, rec: DynFtrace, exclude: FtraceOps): FtraceOps | null {
  return k.opsList.find((op) => op !== exclude && op.trampoline !== 0n && hash_contains_ip(rec.ip, op.funcHash)) ?? null;
}

/** ftrace_find_tramp_ops_new: the first listed ops that traces rec (its trampoline is checked by the caller). */
function ftrace_find_tramp_ops_new(k: Kernel, rec: DynFtrace): FtraceOps | null {
  return opsWalk(k).find((op) => hash_contains_ip(rec.ip, op.funcHash)) ?? null;
}

/** ftrace_find_tramp_ops_curr: removed ops first (by old hash), skip ADDING, MODIFYING by old hash. */
function ftrace_find_tramp_ops_curr(k: Kernel, rec: DynFtrace): FtraceOps | null {
  const r = k.removedOps;
  if (r !== null && r.oldHash !== null && hash_contains_ip(rec.ip, r.oldHash)) return r;
  for (const op of k.opsList) {
    if (op.trampoline === 0n || hasFlag(op.flags, FTRACE_OPS_FL.ADDING)) continue;
    const modifying = hasFlag(op.flags, FTRACE_OPS_FL.MODIFYING);
    if (modifying && op.oldHash !== null && hash_contains_ip(rec.ip, op.oldHash)) return op;
    if (!modifying && hash_contains_ip(rec.ip, op.funcHash)) return op;
  }
  return null;
}

/** Tell a recorder that an ops' hashes were published (rcu_assign_pointer of the new filter/notrace). */
function noteHash(k: Kernel, ops: FtraceOps): void {
  k.note?.({ kind: "hash", ops: ops.name, filter: ops.funcHash.filter, notrace: ops.funcHash.notrace });
}

/**
 * ftrace_kill: ftrace_disabled and !ftrace_enabled for good after a bug, and ftrace_trace_function back to
 * ftrace_stub (a modify_all_code still under way then points ftrace_call at it); the sites stay as they are.
 */
export function ftrace_kill(k: Kernel): void {
  k.disabled = true;
  k.ftraceTraceFunction = "ftrace_stub";
}

/** FTRACE_WARN_ON: warn and kill ftrace. */
function ftraceWarnOn(k: Kernel, fn: string, message: string): void {
  warn(k, fn, message);
  ftrace_kill(k);
}

/** __ftrace_hash_rec_update: account one ops entering (inc) or leaving its records; true if any needs patching. */
export function __ftrace_hash_rec_update(k: Kernel, ops: FtraceOps, inc: boolean): boolean {
  // Stryker disable next-line BooleanLiteral: only a live filter change calls this for a disabled ops, and it ignores the answer
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return false;
  const { filter } = ops.funcHash;
  const all = hashEmpty(filter);
  let update = false;
  let count = 0;
  for (const rec of k.recs) {
    if (skip_record(rec)) continue;
    if (!hash_contains_ip(rec.ip, ops.funcHash)) continue;
    let f = rec.flags;
    if (inc) {
      f = (f + 1) >>> 0;
      rec.flags = f;
      if (recCount(f) === FTRACE_REF_MAX) {
        ftraceWarnOn(k, "__ftrace_hash_rec_update", `ftrace: ref count of ${rec.fn} hit FTRACE_REF_MAX`);
        // Stryker disable next-line BooleanLiteral: ftrace is dead now, and every caller tests ftrace_disabled before it patches
        return false;
      }
      if (hasFlag(ops.flags, FTRACE_OPS_FL.DIRECT)) f = setFlag(f, FTRACE_FL.DIRECT, true);
      f = setFlag(f, FTRACE_FL.TRAMP, recCount(f) === 1 && ops.trampoline !== 0n);
      if (hasFlag(ops.flags, FTRACE_OPS_FL.SAVE_REGS)) f = setFlag(f, FTRACE_FL.REGS, true);
    } else {
      if (recCount(f) === 0) {
        ftraceWarnOn(k, "__ftrace_hash_rec_update", `ftrace: ref count of ${rec.fn} already 0 on removal of ${ops.name}`);
        // Stryker disable next-line BooleanLiteral: ftrace is dead now, and every caller tests ftrace_disabled before it patches
        return false;
      }
      f = (f - 1) >>> 0;
      if (hasFlag(ops.flags, FTRACE_OPS_FL.DIRECT)) f = setFlag(f, FTRACE_FL.DIRECT, false);
      rec.flags = f;
      // Stryker disable all: REGS only chooses FTRACE_REGS_ADDR over FTRACE_ADDR, the same address on arm64
      if (recCount(f) > 0 && hasFlag(f, FTRACE_FL.REGS) && hasFlag(ops.flags, FTRACE_OPS_FL.SAVE_REGS)) {
        if (!test_rec_ops_needs_regs(k, rec)) f = setFlag(f, FTRACE_FL.REGS, false);
      }
      // Stryker restore all
      f = setFlag(f, FTRACE_FL.TRAMP, recCount(f) === 1 && ftrace_find_tramp_ops_any_other(k, rec, ops) !== null);
    }
    // CALL_OPS is judged on the ops being added or removed, in both directions (as written); the survivor-fix
    // variant judges a decrement by the ops that remains.
    rec.flags = f;
    const judged = !inc && k.switches.callOpsOnSurvivor && recCount(f) === 1 ? ftrace_find_unique_ops(k, rec) : ops;
    const callable = judged !== null && (mutated(k.design, "call-ops-ignores-assist") || ftrace_ops_get_func_is_func(judged));
    f = setFlag(f, FTRACE_FL.CALL_OPS, hasCallOps(k.design) && recCount(f) === 1 && callable);
    rec.flags = f;
    count++;
    update = update || ftrace_check_record(rec, true, false) !== "IGNORE";
    if (!all && count === filter.size) return update;
  }
  return update;
}

export type UpdateKind = "IGNORE" | "MAKE_CALL" | "MAKE_NOP" | "MODIFY_CALL";

/** ftrace_check_record: compare wanted and installed state; with update, make rec->flags say what will be installed. */
export function ftrace_check_record(rec: DynFtrace, enable: boolean, update: boolean): UpdateKind {
  if (skip_record(rec)) return "IGNORE";
  const F = FTRACE_FL;
  const cnt = recCount(rec.flags);
  const on = (bit: number): boolean => hasFlag(rec.flags, bit);
  let flag = enable && cnt > 0 ? F.ENABLED : 0;
  if (flag !== 0) {
    if (on(F.REGS) !== on(F.REGS_EN)) flag |= F.REGS;
    if (on(F.TRAMP) !== on(F.TRAMP_EN)) flag |= F.TRAMP;
    if (cnt === 1 ? on(F.DIRECT) !== on(F.DIRECT_EN) : on(F.DIRECT_EN)) flag |= F.DIRECT;
    if (cnt === 1 ? on(F.CALL_OPS) !== on(F.CALL_OPS_EN) : on(F.CALL_OPS_EN)) flag |= F.CALL_OPS;
    flag >>>= 0;
  }
  if (((rec.flags & F.ENABLED) >>> 0) === flag) return "IGNORE";
  if (flag !== 0) {
    flag = (flag ^ (rec.flags & F.ENABLED)) >>> 0;
    if (update) {
      let f = (rec.flags | F.ENABLED | F.TOUCHED) >>> 0;
      // Stryker disable next-line all: REGS_EN only records that FTRACE_REGS_ADDR (== FTRACE_ADDR on arm64) is installed
      if (hasFlag(flag, F.REGS)) f = setFlag(f, F.REGS_EN, hasFlag(f, F.REGS));
      if (hasFlag(flag, F.TRAMP)) f = setFlag(f, F.TRAMP_EN, hasFlag(f, F.TRAMP));
      if (hasFlag(f, F.DIRECT | F.IPMODIFY)) f = setFlag(f, F.MODIFIED, true);
      if (hasFlag(flag, F.DIRECT)) f = setFlag(f, F.DIRECT_EN, cnt === 1 && hasFlag(f, F.DIRECT));
      if (hasFlag(flag, F.CALL_OPS)) f = setFlag(f, F.CALL_OPS_EN, cnt === 1 && hasFlag(f, F.CALL_OPS));
      rec.flags = f;
    }
    return hasFlag(flag, F.ENABLED) ? "MAKE_CALL" : "MODIFY_CALL";
  }
  if (update) {
    rec.flags =
      cnt === 0
        ? (rec.flags & FTRACE_NOCLEAR_FLAGS) >>> 0
        : (rec.flags & ~(F.ENABLED | F.TRAMP_EN | F.REGS_EN | F.DIRECT_EN | F.CALL_OPS_EN)) >>> 0;
  }
  return "MAKE_NOP";
}

/** ftrace_find_rec_direct: the direct_functions entry for ip, or 0. */
export function ftrace_find_rec_direct(k: Kernel, ip: bigint): bigint {
  return k.directFunctions.get(ip) ?? 0n;
}

/** ftrace_get_addr_new: where the site should branch, from the wanted bits. */
export function ftrace_get_addr_new(k: Kernel, rec: DynFtrace): bigint {
  const anyCount = mutated(k.design, "direct-addr-despite-count");
  if (hasFlag(rec.flags, FTRACE_FL.DIRECT) && (recCount(rec.flags) === 1 || anyCount)) {
    const addr = ftrace_find_rec_direct(k, rec.ip);
    if (addr !== 0n) return addr;
    warn(k, "ftrace_get_addr_new", `ftrace_get_addr_new: ${rec.fn} wants a direct call but has no direct_functions entry`);
  }
  if (hasFlag(rec.flags, FTRACE_FL.TRAMP)) {
    const ops = ftrace_find_tramp_ops_new(k, rec);
    if (ops === null || ops.trampoline === 0n) {
      ftraceWarnOn(k, "ftrace_get_addr_new", `ftrace_get_addr_new: no trampoline ops for ${rec.fn}`);
      return FTRACE_ADDR(k);
    }
    return ops.trampoline;
  }
  if (hasFlag(rec.flags, FTRACE_FL.REGS)) return FTRACE_REGS_ADDR(k);
  return FTRACE_ADDR(k);
}

/** ftrace_get_addr_curr: where the site branches now, from the _EN bits. */
export function ftrace_get_addr_curr(k: Kernel, rec: DynFtrace): bigint {
  if (hasFlag(rec.flags, FTRACE_FL.DIRECT_EN)) {
    const addr = ftrace_find_rec_direct(k, rec.ip);
    if (addr !== 0n) return addr;
    warn(k, "ftrace_get_addr_curr", `ftrace_get_addr_curr: ${rec.fn} has DIRECT_EN but no direct_functions entry`);
  }
  if (hasFlag(rec.flags, FTRACE_FL.TRAMP_EN)) {
    const ops = ftrace_find_tramp_ops_curr(k, rec);
    if (ops === null) {
      ftraceWarnOn(k, "ftrace_get_addr_curr", `ftrace_get_addr_curr: no current trampoline ops for ${rec.fn}`);
      return FTRACE_ADDR(k);
    }
    return ops.trampoline;
  }
  if (hasFlag(rec.flags, FTRACE_FL.REGS_EN)) return FTRACE_REGS_ADDR(k);
  return FTRACE_ADDR(k);
}

/** __ftrace_replace_code: decide and call the arch hook for one record. */
export function __ftrace_replace_code(k: Kernel, rec: DynFtrace, enable: boolean): Ret {
  const newAddr = ftrace_get_addr_new(k, rec);
  const lateCurr = mutated(k.design, "curr-after-update");
  let oldAddr = lateCurr ? 0n : ftrace_get_addr_curr(k, rec);
  const what = ftrace_update_record(rec, enable);
  if (lateCurr) oldAddr = ftrace_get_addr_curr(k, rec);
  const arch = k.design.arch;
  switch (what) {
    case "IGNORE":
      return 0;
    case "MAKE_CALL":
      return arch.ftrace_make_call(k, rec, newAddr);
    case "MAKE_NOP":
      return arch.ftrace_make_nop(k, rec, oldAddr);
    case "MODIFY_CALL":
      return arch.ftrace_modify_call(k, rec, oldAddr, newAddr);
  }
}

/** ftrace_update_record */
function ftrace_update_record(rec: DynFtrace, enable: boolean): UpdateKind {
  return ftrace_check_record(rec, enable, true);
}

/** ftrace_replace_code: every record, stopping at the first failure (ftrace_bug kills ftrace). */
export function ftrace_replace_code(k: Kernel, enable: boolean): void {
  if (k.disabled) return;
  for (const rec of k.recs) {
    if (skip_record(rec)) continue;
    const failed = __ftrace_replace_code(k, rec, enable);
    if (failed !== 0) {
      ftrace_bug(k, failed, rec);
      return;
    }
  }
}

/** ftrace_bug: report the failed record and kill ftrace. */
export function ftrace_bug(k: Kernel, failed: Ret, rec: DynFtrace): void {
  k.events.push({ kind: "bug", message: `ftrace_bug: ${rec.fn} (ip ${toHex(rec.ip)}) failed with ${failed}` });
  ftrace_kill(k);
}

/** ftrace_run_update_code with FTRACE_UPDATE_CALLS (arm64 runs it without stop_machine). */
function ftrace_run_update_code(k: Kernel): void {
  ftrace_modify_all_code(k, { calls: true, traceFunc: false });
}

/** The global trace function update_ftrace_function chose, as an address ftrace_call can BL to. */
function traceFunctionAddr(k: Kernel, func: string): bigint {
  if (func === "ftrace_stub") return k.helpers.ftrace_stub;
  if (func === "ftrace_ops_list_func") return k.helpers.list_func;
  const only = func.endsWith(".func") ? opsNamed(k, func.slice(0, -".func".length)) : undefined;
  // Only a static ops can be alone on the fast path (a heap ops is DYNAMIC), and the model's static ops need no assist.
  if (only === undefined) throw new Error(`the model has no ${func} to put at ftrace_call`);
  return only.func;
}

/** update_ftrace_func: patch ftrace_call unless it already calls func (its static save_func). */
function update_ftrace_func(k: Kernel, func: string): void {
  if (k.savedUpdateFunc === func) return;
  k.savedUpdateFunc = func;
  const ret = k.design.arch.ftrace_update_ftrace_func(k, traceFunctionAddr(k, func));
  if (ret !== 0) ftraceWarnOn(k, "update_ftrace_func", `update_ftrace_func: ftrace_update_ftrace_func(${func}) failed with ${ret}`);
}

/**
 * ftrace_modify_all_code: a trace-function change first points ftrace_call at the list function, then the call
 * sites are patched, then function_trace_op is set and ftrace_call pointed at the new function (unless that is the
 * list function). On a CALL_OPS design ftrace_update_ftrace_func patches nothing and function_trace_op is never
 * read, so the model does neither there.
 */
function ftrace_modify_all_code(k: Kernel, command: { readonly calls: boolean; readonly traceFunc: boolean }): void {
  const traceFunc = command.traceFunc && !hasCallOps(k.design);
  if (traceFunc) update_ftrace_func(k, "ftrace_ops_list_func");
  if (command.calls) ftrace_replace_code(k, true);
  if (traceFunc && k.ftraceTraceFunction !== "ftrace_ops_list_func") {
    // function_trace_op = set_function_trace_op; smp_wmb(); then the BL that passes it on.
    k.mem.write64(k.functionTraceOp, k.setFunctionTraceOp.addr);
    update_ftrace_func(k, k.ftraceTraceFunction);
  }
}

function ipSetOf(ips: Iterable<bigint>): IpSet {
  return new Set(ips);
}

/** __ftrace_hash_update_ipmodify: keep FTRACE_FL_IPMODIFY and refuse address-sensitive conflicts. */
function __ftrace_hash_update_ipmodify(k: Kernel, ops: FtraceOps, oldHash: IpSet | null, newHash: IpSet | null, updateTarget: boolean): Ret {
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return 0;
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.IPMODIFY | FTRACE_OPS_FL.DIRECT)) return 0;
  const isIpmodify = hasFlag(ops.flags, FTRACE_OPS_FL.IPMODIFY);
  const isDirect = hasFlag(ops.flags, FTRACE_OPS_FL.DIRECT);
  if (isIpmodify && isDirect) {
    warn(k, "__ftrace_hash_update_ipmodify", `__ftrace_hash_update_ipmodify: ${ops.name} is both IPMODIFY and DIRECT`);
    return 0;
  }
  if (oldHash === null || newHash === null) return -ERRNO.EINVAL;
  const changed: DynFtrace[] = [];
  for (const rec of k.recs) {
    if (hasFlag(rec.flags, FTRACE_FL.DISABLED)) continue;
    const inOld = oldHash.has(rec.ip);
    const inNew = newHash.has(rec.ip);
    if (inOld === inNew && !updateTarget) continue;
    if (inNew) {
      if (hasFlag(rec.flags, FTRACE_FL.IPMODIFY) && !(isIpmodify && mutated(k.design, "ipmodify-shared"))) {
        if (isIpmodify) {
          for (const r of changed) r.flags = setFlag(r.flags, FTRACE_FL.IPMODIFY, !hasFlag(r.flags, FTRACE_FL.IPMODIFY));
          return -ERRNO.EBUSY;
        }
        if (!updateTarget && hasFlag(rec.flags, FTRACE_FL.DIRECT)) ftraceWarnOn(k, "__ftrace_hash_update_ipmodify", `__ftrace_hash_update_ipmodify: ${rec.fn} already has a direct call`);
        // A direct ops meeting an IPMODIFY ops needs ops->ops_func to agree; the model's ops have none.
        return -ERRNO.EBUSY;
      } else if (isIpmodify) {
        rec.flags = setFlag(rec.flags, FTRACE_FL.IPMODIFY, true);
        changed.push(rec);
      }
    } else if (isIpmodify) {
      rec.flags = setFlag(rec.flags, FTRACE_FL.IPMODIFY, false);
      changed.push(rec);
    }
  }
  return 0;
}

/** ftrace_hash_ipmodify_enable */
function ftrace_hash_ipmodify_enable(k: Kernel, ops: FtraceOps): Ret {
  const h = ops.funcHash.filter;
  return __ftrace_hash_update_ipmodify(k, ops, EMPTY, hashEmpty(h) ? null : h, false);
}

/** ftrace_hash_ipmodify_disable */
function ftrace_hash_ipmodify_disable(k: Kernel, ops: FtraceOps): void {
  const h = ops.funcHash.filter;
  __ftrace_hash_update_ipmodify(k, ops, hashEmpty(h) ? null : h, EMPTY, false);
}

/** __register_ftrace_function: checks, then push the ops at the head of ftrace_ops_list. */
function __register_ftrace_function(k: Kernel, ops: FtraceOps): Ret {
  if (hasFlag(ops.flags, FTRACE_OPS_FL.DELETED)) return -ERRNO.EINVAL;
  if (hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) {
    warn(k, "__register_ftrace_function", `__register_ftrace_function: ${ops.name} is already enabled`);
    return -ERRNO.EBUSY;
  }
  // Without DYNAMIC_FTRACE_WITH_REGS (arm64 since v6.2) SAVE_REGS is refused unless only asked for if supported.
  if (!k.switches.withRegs) {
    if (hasFlag(ops.flags, FTRACE_OPS_FL.SAVE_REGS) && !hasFlag(ops.flags, FTRACE_OPS_FL.SAVE_REGS_IF_SUPPORTED)) return -ERRNO.EINVAL;
    if (hasFlag(ops.flags, FTRACE_OPS_FL.SAVE_REGS_IF_SUPPORTED)) ops.flags |= FTRACE_OPS_FL.SAVE_REGS;
  }
  if (!ops.coreData) ops.flags |= FTRACE_OPS_FL.DYNAMIC;
  add_ftrace_ops(k, ops);
  update_ftrace_function(k);
  return 0;
}

/** __unregister_ftrace_function: -EBUSY (with a warning) unless enabled; -1 (-EPERM) if not on the list. */
function __unregister_ftrace_function(k: Kernel, ops: FtraceOps): Ret {
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) {
    warn(k, "__unregister_ftrace_function", `__unregister_ftrace_function: ${ops.name} is not enabled`);
    return -ERRNO.EBUSY;
  }
  if (!remove_ftrace_ops(k, ops)) return -ERRNO.EPERM;
  update_ftrace_function(k);
  return 0;
}

/** add_ftrace_ops: ops->next = head, then publish ops as the new head (two stores, in this order). */
function add_ftrace_ops(k: Kernel, ops: FtraceOps): void {
  k.mem.write64(ops.addr + BigInt(FTRACE_OPS_NEXT), k.mem.read64(k.listHead));
  k.mem.write64(k.listHead, ops.addr);
  k.opsList = [ops, ...k.opsList];
}

/** remove_ftrace_ops: unlink with one store to the pointer that points at ops; ops->next stays for walkers. */
function remove_ftrace_ops(k: Kernel, ops: FtraceOps): boolean {
  let slot = k.listHead;
  for (let p = k.mem.read64(slot); p !== k.listEnd.addr && p !== 0n; p = k.mem.read64(slot)) {
    if (p === ops.addr) {
      k.mem.write64(slot, k.mem.read64(ops.addr + BigInt(FTRACE_OPS_NEXT)));
      k.opsList = k.opsList.filter((o) => o !== ops);
      return true;
    }
    slot = p + BigInt(FTRACE_OPS_NEXT);
  }
  return false;
}

/**
 * update_ftrace_function: the global trace function, which CALL_OPS never calls but whose change adds
 * FTRACE_UPDATE_TRACE_FUNC to a command (and so decides whether ftrace_shutdown runs its checks).
 */
function update_ftrace_function(k: Kernel): void {
  const only = k.opsList.length === 1 ? k.opsList[0] : undefined;
  // set_function_trace_op: the lone ops, else ftrace_list_end (the list function ignores its op).
  k.setFunctionTraceOp = only ?? k.listEnd;
  k.ftraceTraceFunction =
    k.opsList.length === 0
      ? "ftrace_stub"
      : only === undefined || hasFlag(only.flags, FTRACE_OPS_FL.DYNAMIC | FTRACE_OPS_FL.RCU)
        ? "ftrace_ops_list_func"
        : ftrace_ops_get_func_is_func(only)
          ? `${only.name}.func`
          : "ftrace_ops_assist_func";
}

/** The saved_ftrace_func comparison: true (and remember the new one) if the trace function changed. */
function traceFuncChanged(k: Kernel): boolean {
  const changed = k.savedFtraceFunc !== k.ftraceTraceFunction;
  k.savedFtraceFunc = k.ftraceTraceFunction;
  return changed;
}

/** ftrace_startup */
export function ftrace_startup(k: Kernel, ops: FtraceOps): Ret {
  if (k.disabled) return -ERRNO.ENODEV;
  const ret = __register_ftrace_function(k, ops);
  if (ret !== 0) return ret;
  ops.flags |= FTRACE_OPS_FL.ENABLED | FTRACE_OPS_FL.ADDING;
  const ipm = ftrace_hash_ipmodify_enable(k, ops);
  if (ipm < 0) {
    // Roll back: unlink and clear ENABLED (ADDING stays set, as written).
    __unregister_ftrace_function(k, ops);
    ops.flags &= ~FTRACE_OPS_FL.ENABLED;
    if (k.switches.rollbackWaits) waitForListWalkers(k, ops);
    return ipm;
  }
  const updateCalls = __ftrace_hash_rec_update(k, ops, true);
  // ftrace_startup_enable
  const traceFunc = traceFuncChanged(k);
  if ((updateCalls || traceFunc) && !k.disabled) ftrace_modify_all_code(k, { calls: updateCalls, traceFunc });
  if (k.disabled && !mutated(k.design, "startup-keeps-dead-ops")) {
    // ftrace broke while patching (c3b0f72e805f): only unlink the ops, leaving its flags and the counts as they are.
    __unregister_ftrace_function(k, ops);
    if (k.switches.rollbackWaits) waitForListWalkers(k, ops);
    return -ERRNO.ENODEV;
  }
  ops.flags &= ~FTRACE_OPS_FL.ADDING;
  return 0;
}

/** ftrace_shutdown */
export function ftrace_shutdown(k: Kernel, ops: FtraceOps): Ret {
  if (k.disabled) return -ERRNO.ENODEV;
  const ret = __unregister_ftrace_function(k, ops);
  if (ret !== 0) return ret;
  if (!mutated(k.design, "ipmodify-kept-on-shutdown")) ftrace_hash_ipmodify_disable(k, ops);
  const updateCalls = __ftrace_hash_rec_update(k, ops, false);
  ops.flags &= ~FTRACE_OPS_FL.ENABLED;
  const traceFunc = traceFuncChanged(k);
  if ((updateCalls || traceFunc) && !k.disabled) {
    ops.flags |= FTRACE_OPS_FL.REMOVING;
    k.removedOps = ops;
    ops.oldHash = { ...ops.funcHash };
    ftrace_modify_all_code(k, { calls: updateCalls, traceFunc });
    if (k.opsList.length === 0) {
      // With no ops left, every record must be back to its sticky bits (FTRACE_WARN_ON_ONCE kills ftrace).
      for (const rec of k.recs) {
        if ((rec.flags & ~FTRACE_NOCLEAR_FLAGS) >>> 0 !== 0)
          ftraceWarnOn(k, "ftrace_shutdown", `ftrace_shutdown: ${rec.fn} still has flags ${formatRecFlags(rec.flags)} with no ops registered`);
      }
    }
    ops.oldHash = null;
    k.removedOps = null;
    ops.flags &= ~FTRACE_OPS_FL.REMOVING;
  }
  const skipSync = mutated(k.design, "shutdown-skips-sync-without-command") && !updateCalls && !traceFunc;
  if (!skipSync && !mutated(k.design, "free-without-grace")) waitForListWalkers(k, ops);
  return 0;
}

/**
 * ftrace_shutdown's waits for a dynamic ops (synchronize_rcu_tasks_rude, then synchronize_rcu_tasks): after them no
 * CPU is still on the ops, so its owner may free it.
 */
function waitForListWalkers(k: Kernel, ops: FtraceOps): void {
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.DYNAMIC)) return;
  for (const what of ["synchronize_rcu_tasks_rude", "synchronize_rcu_tasks"] as const) {
    k.events.push({ kind: "sync", what });
    k.note?.({ kind: "sync", what });
  }
}

/** ftrace_ops_init */
function ftrace_ops_init(ops: FtraceOps): void {
  ops.flags |= FTRACE_OPS_FL.INITIALIZED;
}

/** register_ftrace_function_nolock */
function register_ftrace_function_nolock(k: Kernel, ops: FtraceOps): Ret {
  ftrace_ops_init(ops);
  return ftrace_startup(k, ops);
}

/** ops_references_ip: an enabled ops that traces ip (both hashes empty means every function). */
function ops_references_ip(ops: FtraceOps, ip: bigint): boolean {
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return false;
  return hash_contains_ip(ip, ops.funcHash);
}

/** prepare_direct_functions_for_ipmodify: an IPMODIFY ops may not join an enabled direct ops without ops_func. */
function prepare_direct_functions_for_ipmodify(k: Kernel, ops: FtraceOps): Ret {
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.IPMODIFY)) return 0;
  for (const ip of ops.funcHash.filter) {
    const clash = k.opsList.some((op) => hasFlag(op.flags, FTRACE_OPS_FL.DIRECT) && ops_references_ip(op, ip));
    if (clash) return -ERRNO.EBUSY;
  }
  return 0;
}

/** register_ftrace_function */
export function register_ftrace_function(k: Kernel, ops: FtraceOps): Ret {
  const ret = prepare_direct_functions_for_ipmodify(k, ops);
  if (ret !== 0) return ret;
  return register_ftrace_function_nolock(k, ops);
}

/** unregister_ftrace_function */
export function unregister_ftrace_function(k: Kernel, ops: FtraceOps): Ret {
  return ftrace_shutdown(k, ops);
}

/** ftrace_hash_move + ftrace_ops_update_code: replace one hash of an ops, live if it is enabled. */
function ftrace_hash_move_and_update_ops(k: Kernel, ops: FtraceOps, which: "filter" | "notrace", ips: IpSet): Ret {
  if (hasFlag(ops.flags, FTRACE_OPS_FL.IPMODIFY) && which === "notrace") return -ERRNO.EINVAL;
  if (hasFlag(ops.flags, FTRACE_OPS_FL.SUBOP)) return ftrace_hash_move_and_update_subops(k, ops, k.graphOps, which, ips);
  const oldHash: FuncHash = { ...ops.funcHash };
  if (which === "filter") {
    const ret = __ftrace_hash_update_ipmodify(
      k,
      ops,
      hashEmpty(ops.funcHash.filter) ? null : ops.funcHash.filter,
      hashEmpty(ips) ? null : ips,
      false,
    );
    if (ret < 0) return ret;
  }
  return moveHashesLive(k, ops, oldHash, { ...ops.funcHash, [which]: ips });
}

/**
 * ftrace_hash_rec_disable_modify, publish the new hashes, ftrace_hash_rec_enable_modify, then ftrace_ops_update_code
 * (nothing to patch once ftrace_kill has cleared ftrace_enabled) as ftrace_run_modify_code.
 */
function moveHashesLive(k: Kernel, ops: FtraceOps, oldHash: FuncHash, h: FuncHash): Ret {
  __ftrace_hash_rec_update(k, ops, false);
  ops.funcHash.filter = h.filter;
  ops.funcHash.notrace = h.notrace;
  noteHash(k, ops);
  __ftrace_hash_rec_update(k, ops, true);
  if (hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED) && !k.disabled) {
    ops.flags |= FTRACE_OPS_FL.MODIFYING;
    ops.oldHash = oldHash;
    ftrace_run_update_code(k);
    ops.oldHash = null;
    ops.flags &= ~FTRACE_OPS_FL.MODIFYING;
  }
  return 0;
}

/** ftrace_set_filter(ops, ..., reset=1) with the given functions; empty means every function. */
export function ftrace_set_filter(k: Kernel, ops: FtraceOps, ips: Iterable<bigint>): Ret {
  ftrace_ops_init(ops);
  if (k.disabled) return -ERRNO.ENODEV;
  return ftrace_hash_move_and_update_ops(k, ops, "filter", ipSetOf(ips));
}

/** ftrace_set_notrace(ops, ..., reset=1) */
export function ftrace_set_notrace(k: Kernel, ops: FtraceOps, ips: Iterable<bigint>): Ret {
  ftrace_ops_init(ops);
  if (k.disabled) return -ERRNO.ENODEV;
  return ftrace_hash_move_and_update_ops(k, ops, "notrace", ipSetOf(ips));
}

/** check_direct_multi: the ops must be initialised and carry MULTI_FLAGS (just DIRECT on arm64). */
function check_direct_multi(ops: FtraceOps): Ret {
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.INITIALIZED)) return -ERRNO.EINVAL;
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.DIRECT)) return -ERRNO.EINVAL;
  return 0;
}

/**
 * rcu_assign_pointer(direct_functions, ...): the new map. Only a single-direct-ops design's call_direct_funcs reads it
 * on a CPU (by ip), so only there is it a micro-step other CPUs observe (other designs' schedules stay as they were).
 */
function publishDirectFunctions(k: Kernel, next: Map<bigint, bigint>): void {
  k.directFunctions = next;
  if (k.switches.singleDirectOps) k.note?.({ kind: "direct", entries: next });
}

/** reset_direct / remove_direct_functions_hash: drop the ops' entries whose address is addr. */
function remove_direct_functions_hash(k: Kernel, filter: IpSet, addr: bigint): void {
  const next = new Map(k.directFunctions);
  for (const ip of filter) if (next.get(ip) === addr) next.delete(ip);
  publishDirectFunctions(k, next);
}

/** __modify_ftrace_direct's direct_functions update: point the ops' existing entries at addr (copied, so snapshots keep theirs). */
function retarget_direct_functions(k: Kernel, filter: IpSet, addr: bigint): void {
  const next = new Map(k.directFunctions);
  for (const ip of filter) if (next.has(ip)) next.set(ip, addr);
  publishDirectFunctions(k, next);
}

/** register_ftrace_direct(ops, addr) */
export function register_ftrace_direct(k: Kernel, ops: FtraceOps, addr: bigint): Ret {
  if (ops.func !== 0n || ops.trampoline !== 0n) return -ERRNO.EINVAL;
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.INITIALIZED)) return -ERRNO.EINVAL;
  if (hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return -ERRNO.EINVAL;
  const filter = ops.funcHash.filter;
  if (hashEmpty(filter)) return -ERRNO.EINVAL;
  for (const ip of filter) if (ftrace_find_rec_direct(k, ip) !== 0n) return -ERRNO.EBUSY;
  const next = new Map(k.directFunctions);
  for (const ip of filter) next.set(ip, addr);
  publishDirectFunctions(k, next);
  setOpsFunc(k, ops, k.helpers.call_direct_funcs);
  ops.flags |= FTRACE_OPS_FL.DIRECT;
  ops.trampoline = FTRACE_ADDR(k);
  setDirectCall(k, ops, addr);
  const err = register_ftrace_function_nolock(k, ops);
  if (err !== 0) {
    // Stryker disable next-line ConditionalExpression: the suite's own deliberate mutant, judged by its kill tests
    if (!mutated(k.design, "direct-entries-kept-on-failure")) remove_direct_functions_hash(k, filter, addr);
    setOpsFunc(k, ops, 0n);
    ops.trampoline = 0n;
  }
  return err;
}

/** unregister_ftrace_direct(ops, addr, free_filters) */
export function unregister_ftrace_direct(k: Kernel, ops: FtraceOps, addr: bigint, freeFilters: boolean): Ret {
  if (check_direct_multi(ops) !== 0) return -ERRNO.EINVAL;
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return -ERRNO.EINVAL;
  const filter = ops.funcHash.filter;
  // Stryker disable all: the suite's own deliberate mutant (model/mutants.ts), judged by its kill tests
  if (mutated(k.design, "reset-direct-early")) {
    setOpsFunc(k, ops, 0n);
    setDirectCall(k, ops, 0n);
  }
  // Stryker restore all
  const err = unregister_ftrace_function(k, ops);
  remove_direct_functions_hash(k, filter, addr);
  setOpsFunc(k, ops, 0n);
  ops.trampoline = 0n;
  if (freeFilters) ftrace_free_filter(k, ops);
  return err;
}

// ---- HAVE_SINGLE_FTRACE_DIRECT_OPS: one ops for every direct call (update_ftrace_direct_add/del/mod) ----

/** The one shared direct ops of a single-direct-ops design (BPF's direct_ops). */
export const SINGLE_DIRECT_OPS = "direct_ops";

/** update_ftrace_direct_add: add ip->addr pairs to the shared ops, registering it with the first ones. */
export function update_ftrace_direct_add(k: Kernel, ops: FtraceOps, ips: IpSet, addr: bigint): Ret {
  if (hashEmpty(ips)) return -ERRNO.EINVAL;
  for (const ip of ips) if (k.directFunctions.has(ip)) return -ERRNO.EINVAL;
  const old = ops.funcHash.filter;
  const reg = hashEmpty(old);
  if (reg && (ops.func !== 0n || ops.trampoline !== 0n || hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED))) return -ERRNO.EINVAL;
  const merged = new Set([...old, ...ips]);
  const before = k.directFunctions;
  const next = new Map(before);
  for (const ip of ips) next.set(ip, addr);
  publishDirectFunctions(k, next);
  let err: Ret;
  if (reg) {
    setOpsFunc(k, ops, k.helpers.call_direct_funcs);
    ops.flags |= FTRACE_OPS_FL.DIRECT;
    ops.trampoline = FTRACE_ADDR(k);
    ops.funcHash.filter = merged;
    noteHash(k, ops);
    err = register_ftrace_function_nolock(k, ops);
    if (err !== 0) {
      ops.funcHash.filter = old;
      noteHash(k, ops);
      setOpsFunc(k, ops, 0n);
      ops.trampoline = 0n;
    }
  } else {
    err = ftrace_update_ops(k, ops, { filter: merged, notrace: EMPTY });
  }
  if (err !== 0) publishDirectFunctions(k, before);
  return err;
}

/** update_ftrace_direct_del: drop ips from the shared ops (unregistering it with the last), then their entries. */
export function update_ftrace_direct_del(k: Kernel, ops: FtraceOps, ips: IpSet): Ret {
  if (hashEmpty(ips) || check_direct_multi(ops) !== 0 || !hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return -ERRNO.EINVAL;
  const old = ops.funcHash.filter;
  if (k.directFunctions.size === 0 || hashEmpty(old)) return -ERRNO.EINVAL;
  for (const ip of ips) if (!k.directFunctions.has(ip) || !old.has(ip)) return -ERRNO.EINVAL;
  const rest = hashMinus(old, ips);
  let err: Ret;
  if (hashEmpty(rest)) {
    err = unregister_ftrace_function(k, ops);
    if (err === 0) {
      setOpsFunc(k, ops, 0n);
      ops.trampoline = 0n;
      ftrace_free_filter(k, ops);
    }
  } else {
    err = ftrace_update_ops(k, ops, { filter: rest, notrace: EMPTY });
  }
  if (err === 0) {
    const next = new Map(k.directFunctions);
    for (const ip of ips) next.delete(ip);
    publishDirectFunctions(k, next);
  }
  return err;
}

/**
 * update_ftrace_direct_mod: a stub tmp_ops on just the changed ips sends those sites through the list function,
 * the entries take the new address, and removing tmp_ops patches the sites to it.
 */
export function update_ftrace_direct_mod(k: Kernel, ops: FtraceOps, ips: IpSet, addr: bigint): Ret {
  if (hashEmpty(ips) || check_direct_multi(ops) !== 0 || !hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return -ERRNO.EINVAL;
  if (k.directFunctions.size === 0 || hashEmpty(ops.funcHash.filter)) return -ERRNO.EINVAL;
  const tmp = k.tmpOps;
  ftrace_ops_init(tmp);
  tmp.funcHash = { filter: ips, notrace: EMPTY };
  noteHash(k, tmp);
  let err = register_ftrace_function_nolock(k, tmp);
  if (err !== 0) return err;
  err = __ftrace_hash_update_ipmodify(k, ops, ops.funcHash.filter, ops.funcHash.filter, true);
  if (err === 0) retarget_direct_functions(k, ips, addr);
  unregister_ftrace_function(k, tmp);
  return err;
}

/** Mutant modify: retarget every site straight from the old trampoline to the new one, no temporary ops. */
// Stryker disable all: the suite's own deliberate mutant (model/mutants.ts), judged by its kill tests
function modifyDirectInPlace(k: Kernel, ops: FtraceOps, addr: bigint): Ret {
  const old = ops.direct_call;
  retarget_direct_functions(k, ops.funcHash.filter, addr);
  setDirectCall(k, ops, addr);
  for (const rec of k.recs) {
    if (!hasFlag(rec.flags, FTRACE_FL.DIRECT_EN)) continue;
    if (!ops.funcHash.filter.has(rec.ip)) continue;
    const r = k.design.arch.ftrace_modify_call(k, rec, old, addr);
    if (r !== 0) {
      ftrace_bug(k, r, rec);
      return r;
    }
  }
  return 0;
}
// Stryker restore all

/** ftrace_free_filter: empty both hashes in place, unless the ops is still enabled (then only warn). */
function ftrace_free_filter(k: Kernel, ops: FtraceOps): void {
  if (hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) {
    warn(k, "ftrace_free_filter", `ftrace_free_filter: ${ops.name} is still enabled`);
    return;
  }
  ops.funcHash.filter = EMPTY;
  ops.funcHash.notrace = EMPTY;
  noteHash(k, ops);
}

/** modify_ftrace_direct(ops, addr) and __modify_ftrace_direct's temporary-ops sequence. */
export function modify_ftrace_direct(k: Kernel, ops: FtraceOps, addr: bigint): Ret {
  if (check_direct_multi(ops) !== 0) return -ERRNO.EINVAL;
  if (!hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) return -ERRNO.EINVAL;
  if (mutated(k.design, "modify-direct-in-place")) return modifyDirectInPlace(k, ops, addr);
  const tmp = k.tmpOps;
  ftrace_ops_init(tmp);
  tmp.funcHash = ops.funcHash;
  k.note?.({ kind: "hash-share", ops: tmp.name, from: ops.name });
  setDirectCall(k, tmp, addr);
  let err = register_ftrace_function_nolock(k, tmp);
  if (err !== 0) return err;
  err = __ftrace_hash_update_ipmodify(k, ops, ops.funcHash.filter, ops.funcHash.filter, true);
  if (err === 0) {
    retarget_direct_functions(k, ops.funcHash.filter, addr);
    setDirectCall(k, ops, addr);
  }
  unregister_ftrace_function(k, tmp);
  return err;
}

// ---- Subops: a manager ops (fgraph's graph_ops) that traces the functions of the ops it manages ----

/** The entries of a not in b (remove_hash on a copy). */
function hashMinus(a: IpSet, b: IpSet): IpSet {
  return new Set([...a].filter((ip) => !b.has(ip)));
}

/** intersect_hash: an empty side means "exclude nothing", so the result is empty; else the common entries. */
function intersect_hash(a: IpSet, b: IpSet): IpSet {
  if (hashEmpty(a) || hashEmpty(b)) return EMPTY;
  return new Set([...a].filter((ip) => b.has(ip)));
}

/** A subops whose notrace hash covers its whole (non-empty) filter: it selects no function at all. */
function selectsNothing(h: FuncHash): boolean {
  return !hashEmpty(h.filter) && [...h.filter].every((ip) => h.notrace.has(ip));
}

/** add_first_hash: the manager's hashes for its first subops (its filter without its notrace entries). */
function add_first_hash(k: Kernel, sub: FuncHash): FuncHash {
  // Before 0ae6b8ce200d: the first subops' hashes as they are.
  if (k.design.subopsHashRule === "append-intersect") return { filter: sub.filter, notrace: sub.notrace };
  // The proposed fix: a subops that selects nothing hands the manager its own two hashes, which select nothing too.
  if (k.design.subopsHashRule === "skip-nothing" && selectsNothing(sub)) return { filter: sub.filter, notrace: sub.notrace };
  if (!hashEmpty(sub.filter)) return { filter: hashMinus(sub.filter, sub.notrace), notrace: EMPTY };
  return { filter: EMPTY, notrace: sub.notrace };
}

/**
 * add_next_hash: the manager's hashes with one more subops. Either side tracing every function makes the manager
 * trace every function but what both exclude; otherwise the union of the filters (each without its notrace).
 */
function add_next_hash(k: Kernel, m: FuncHash, sub: FuncHash): FuncHash {
  // Before 0ae6b8ce200d: filters united as they are (notrace entries kept in), notrace hashes intersected on their own.
  if (k.design.subopsHashRule === "append-intersect")
    return { filter: hashEmpty(m.filter) || hashEmpty(sub.filter) ? EMPTY : new Set([...m.filter, ...sub.filter]), notrace: intersect_hash(m.notrace, sub.notrace) };
  // The proposed fix: a subops that selects nothing adds nothing, and a manager that selects nothing takes the next.
  if (k.design.subopsHashRule === "skip-nothing") {
    if (selectsNothing(sub)) return m;
    if (selectsNothing(m)) return add_first_hash(k, sub);
  }
  if (hashEmpty(m.filter) || hashEmpty(sub.filter)) return { filter: EMPTY, notrace: intersect_hash(m.notrace, sub.notrace) };
  return { filter: new Set([...m.filter, ...hashMinus(sub.filter, sub.notrace)]), notrace: EMPTY };
}

/** The subops a manager holds, in the order its list has them (fgraph_array slots, lowest first). */
export function subopsOf(k: Kernel): FtraceOps[] {
  return k.fgraphArray.filter((o): o is FtraceOps => o !== null);
}

/**
 * rebuild_hashes: fold add_first_hash/add_next_hash over the remaining subops. Before 38b14061947f the filter was
 * append_hashes(), which began from a fresh hash with no entries, took it for "every function", and stopped there.
 */
function rebuild_hashes(k: Kernel): FuncHash {
  if (k.design.subopsHashRule === "append-intersect") return { filter: append_hashes(k), notrace: intersect_hashes(k) };
  let acc: FuncHash | null = null;
  for (const sub of subopList(k)) acc = acc === null ? add_first_hash(k, sub.funcHash) : add_next_hash(k, acc, sub.funcHash);
  const rebuilt = acc ?? { filter: EMPTY, notrace: EMPTY };
  // Stryker disable next-line all: the suite's own deliberate mutant (model/mutants.ts), judged by its kill tests
  return mutated(k.design, "subops-rebuild-every-function") ? { filter: EMPTY, notrace: rebuilt.notrace } : rebuilt;
}

/** The manager's subop_list: its subops, newest first (list_add puts a new one at the head). */
function subopList(k: Kernel): FtraceOps[] {
  const live = subopsOf(k);
  return k.subopList.flatMap((n) => live.filter((o) => o.name === n));
}

/** append_hashes (before 0ae6b8ce200d): the union of the subops' filters; any empty one makes it every function. */
function append_hashes(k: Kernel): IpSet {
  const out = new Set<bigint>();
  for (const sub of subopList(k)) {
    if (hashEmpty(sub.funcHash.filter)) return EMPTY;
    for (const ip of sub.funcHash.filter) out.add(ip);
  }
  return out;
}

/**
 * intersect_hashes (before 0ae6b8ce200d): starts from a copy of the manager's own notrace hash in place of the first
 * subops on the list (the newest), then intersects each other subops' notrace hash, stopping once it is empty.
 */
function intersect_hashes(k: Kernel): IpSet {
  let acc: IpSet | null = null;
  for (const sub of subopList(k)) {
    if (acc === null) {
      acc = k.graphOps.funcHash.notrace;
      continue;
    }
    acc = intersect_hash(acc, sub.funcHash.notrace);
    if (hashEmpty(acc)) break;
  }
  return acc ?? EMPTY;
}

/**
 * ftrace_update_ops: give a live ops (fgraph's manager, a single-direct-ops design's shared ops) new filter and
 * notrace hashes, and patch what changed. A new filter goes through ftrace_hash_move's IPMODIFY/DIRECT check first
 * (nothing to check for the manager, which has neither flag).
 */
function ftrace_update_ops(k: Kernel, ops: FtraceOps, h: FuncHash): Ret {
  if (h.filter !== ops.funcHash.filter) {
    const ret = __ftrace_hash_update_ipmodify(k, ops, hashEmpty(ops.funcHash.filter) ? null : ops.funcHash.filter, hashEmpty(h.filter) ? null : h.filter, false);
    if (ret < 0) return ret;
  }
  return moveHashesLive(k, ops, { ...ops.funcHash }, h);
}

/** Set one fgraph_array slot, and tell a recorder (the CPUs' fgraph walk reads the array). */
function setFgraphSlot(k: Kernel, slot: number, ops: FtraceOps | null): void {
  k.fgraphArray[slot] = ops;
  k.note?.({ kind: "fgraph", slots: k.fgraphArray.map((o) => (o === null ? null : o.name)) });
}

/** The first free fgraph_array slot (fgraph's idx for a new gops). */
function fgraphSlot(k: Kernel): number {
  const free = k.fgraphArray.indexOf(null);
  return free === -1 ? k.fgraphArray.length : free;
}

/** ftrace_startup_subops (via register_ftrace_graph): add subops to the manager, starting the manager for the first. */
export function ftrace_startup_subops(k: Kernel, manager: FtraceOps, subops: FtraceOps): Ret {
  if (k.disabled) return -ERRNO.ENODEV;
  if (hasFlag(subops.flags, FTRACE_OPS_FL.ENABLED)) {
    warn(k, "ftrace_startup_subops", `ftrace_startup_subops: ${subops.name} is already enabled`);
    return -ERRNO.EBUSY;
  }
  ftrace_ops_init(subops);
  const first = subopsOf(k).length === 0;
  const slot = fgraphSlot(k);
  if (first) {
    const h = add_first_hash(k, subops.funcHash);
    manager.funcHash.filter = h.filter;
    manager.funcHash.notrace = h.notrace;
    noteHash(k, manager);
    setFgraphSlot(k, slot, subops);
    k.subopList.unshift(subops.name);
    ftrace_ops_init(manager);
    const ret = ftrace_startup(k, manager);
    if (ret !== 0) {
      setFgraphSlot(k, slot, null);
      k.subopList.shift();
      manager.funcHash.filter = EMPTY;
      manager.funcHash.notrace = EMPTY;
      noteHash(k, manager);
      return ret;
    }
  } else {
    const h = add_next_hash(k, manager.funcHash, subops.funcHash);
    setFgraphSlot(k, slot, subops);
    k.subopList.unshift(subops.name);
    const ret = ftrace_update_ops(k, manager, h);
    if (ret !== 0) {
      setFgraphSlot(k, slot, null);
      k.subopList.shift();
      return ret;
    }
  }
  subops.flags |= FTRACE_OPS_FL.ENABLED | FTRACE_OPS_FL.SUBOP;
  return 0;
}

/** ftrace_shutdown_subops (via unregister_ftrace_graph): remove subops; the last one shuts the manager down. */
export function ftrace_shutdown_subops(k: Kernel, manager: FtraceOps, subops: FtraceOps): Ret {
  if (k.disabled) return -ERRNO.ENODEV;
  if (!hasFlag(subops.flags, FTRACE_OPS_FL.ENABLED)) return -ERRNO.EINVAL;
  const slot = k.fgraphArray.indexOf(subops);
  setFgraphSlot(k, slot, null);
  k.subopList = k.subopList.filter((n) => n !== subops.name);
  let ret: Ret;
  if (subopsOf(k).length === 0) {
    ret = ftrace_shutdown(k, manager);
    manager.funcHash.filter = EMPTY;
    manager.funcHash.notrace = EMPTY;
    noteHash(k, manager);
  } else {
    ret = ftrace_update_ops(k, manager, rebuild_hashes(k));
  }
  subops.flags &= ~(FTRACE_OPS_FL.ENABLED | FTRACE_OPS_FL.SUBOP);
  return ret;
}

/**
 * The manager's hashes after a live subops changed one hash. Today every subops' hashes are merged again
 * (rebuild_hashes); before 0ae6b8ce200d only the manager's hash of the same kind was recomputed: its filter as
 * append_hashes, or its notrace as intersect_hashes, the other left as it was.
 */
function rebuiltAfterChange(k: Kernel, manager: FtraceOps, which: "filter" | "notrace"): FuncHash {
  if (k.design.subopsHashRule !== "append-intersect") return rebuild_hashes(k);
  return which === "filter" ? { filter: append_hashes(k), notrace: manager.funcHash.notrace } : { filter: manager.funcHash.filter, notrace: intersect_hashes(k) };
}

/** ftrace_hash_move_and_update_subops: a live subops' new hash, then the manager's hashes rebuilt from all of them. */
function ftrace_hash_move_and_update_subops(k: Kernel, subops: FtraceOps, manager: FtraceOps, which: "filter" | "notrace", ips: IpSet): Ret {
  const saved = subops.funcHash[which];
  subops.funcHash[which] = ips;
  noteHash(k, subops);
  const ret = ftrace_update_ops(k, manager, rebuiltAfterChange(k, manager, which));
  if (ret !== 0) {
    subops.funcHash[which] = saved;
    noteHash(k, subops);
  }
  return ret;
}
