// ftrace's C functions as the model runs them at their addresses: an ops' callback, call_direct_funcs,
// ftrace_graph_func and arch_ftrace_ops_list_func (a list walk that yields between ops, so other CPUs may act in
// the middle of it), and the traced functions' bodies. Each loads what the kernel loads and records what it does.

import { ftrace_kill, ftrace_ops_get_func_is_func, ftrace_ops_test, hashEmpty, subopsOf } from "./core.ts";
import { name, snap, unreachable, type Cpu } from "./cpu.ts";
import { FTRACE_OPS_FL, hasFlag } from "./flags.ts";
import { toHex } from "./insn.ts";
import type { FtraceOps, HostFn, Kernel } from "./kernel.ts";
import { allOps } from "./kernel.ts";
import { mutated } from "./mutants.ts";
import type { Recorder } from "./observation.ts";
import { FTRACE_OPS_NEXT } from "./structs.ts";
export function opsAt(k: Kernel, addr: bigint): FtraceOps | undefined {
  return allOps(k).find((ops) => ops.addr === addr);
}

/**
 * Run a C callback `func(ip, parent_ip, op, fregs)` as the kernel would call it from C or from
 * ftrace_caller. Returns a problem message if func is not a callable C function.
 */
function callCallback(k: Kernel, func: bigint, ip: bigint, pip: bigint, op: bigint, fregs: bigint, rec: Recorder): string | null {
  const host = k.hosts.get(func);
  if (host === undefined) return `call of ${name(k, func)}, which is not a C function`;
  runHost(k, host, [ip, pip, op, fregs], rec, null);
  return null;
}

/** Load a pointer-sized word on behalf of C code, reporting a use-after-free if it lies in a freed object. */
export function load64(k: Kernel, addr: bigint, rec: Recorder, what: string): bigint {
  useAfterFree(k, addr, rec, `load of ${what}`);
  return k.mem.read64(addr);
}

/** Record a use-after-free if addr lies in an object that has been freed. */
export function useAfterFree(k: Kernel, addr: bigint, rec: Recorder, access: string): void {
  if (k.freed.length === 0) return;
  const f = k.freed.find((x) => addr >= x.lo && addr < x.hi);
  if (f !== undefined) rec.violations.push({ kind: "use-after-free", where: access, message: `use after free: ${access} at ${toHex(addr)} in freed ${f.what} ${f.name}` });
}

/**
 * The TypeScript body of a C function; args are x0..x3. A generator: it yields where another CPU may act in the
 * middle of it (between the ops of a list walk), so concurrent runs can interleave there.
 */
export function* hostSteps(k: Kernel, host: HostFn, args: ReadonlyArray<bigint>, rec: Recorder, cpu: Cpu | null): Generator<void, void, void> {
  const [ip = 0n, pip = 0n, op = 0n, fregs = 0n] = args;
  switch (host.kind) {
    case "ops_func": {
      const via = cpu === null ? "list" : "caller";
      rec.handlers.push({ ops: host.ops, ip, parentIp: pip, op: name(k, op), seq: rec.seq++, via });
      const o = k.ops.get(host.ops);
      if (via === "caller" && o !== undefined && !ftrace_ops_get_func_is_func(o)) {
        const why = hasFlag(o.flags, FTRACE_OPS_FL.RECURSION) ? "RECURSION" : "RCU";
        rec.violations.push({ kind: "recursion", where: o.name, message: `recursion: ${o.name} needs ftrace_ops_assist_func (${why}) but ftrace_caller called ${o.name}.func directly from the literal (caller-ops path)` });
      }
      return;
    }
    case "call_direct_funcs": {
      // call_direct_funcs: READ_ONCE(ops->direct_call) (with HAVE_SINGLE_FTRACE_DIRECT_OPS, ftrace_find_rec_direct(ip)),
      // then arch_ftrace_set_direct_caller.
      const ops = opsAt(k, op);
      rec.handlers.push({ ops: ops?.name ?? name(k, op), ip, parentIp: pip, op: name(k, op), seq: rec.seq++, via: cpu === null ? "list" : "caller" });
      const byIp = k.switches.singleDirectOps && !mutated(k.design, "single-direct-no-lookup");
      const addr = byIp ? (k.directFunctions.get(ip) ?? 0n) : load64(k, op + BigInt(k.design.ops.direct_call), rec, "ops->direct_call");
      if (addr !== 0n) k.design.arch.arch_ftrace_set_direct_caller(k, fregs, addr);
      return;
    }
    case "ftrace_graph_func": {
      // ftrace_graph_func -> function_graph_enter_regs: run each subops (fgraph_array order) whose own hashes trace
      // ip; the manager may trace more functions than its subops do, and then runs none.
      for (const sub of subopsOf(k)) {
        if (ftrace_ops_test(sub, ip)) rec.handlers.push({ ops: sub.name, ip, parentIp: pip, op: name(k, op), seq: rec.seq++, via: "list" });
      }
      return;
    }
    case "ftrace_ops_list_func": {
      // arch_ftrace_ops_list_func: walk ftrace_ops_list through op->next, calling every non-stub ops that traces
      // ip; a removed ops keeps its next pointer, so a walker already on it carries on.
      let a = load64(k, k.listHead, rec, "ftrace_ops_list");
      // The head is read before the first ops is touched, and nothing (no grace period of the updater's rollbacks)
      // keeps the updater from unlinking and freeing that ops in between.
      yield;
      while (a !== k.listEnd.addr && a !== 0n) {
        const o = opsAt(k, a);
        if (o === undefined) {
          rec.violations.push({ kind: "list-walk", where: "ftrace_ops_list_func", message: `ftrace_ops_list_func: ${toHex(a)} on the list is not an ops` });
          return;
        }
        if (!hasFlag(o.flags, FTRACE_OPS_FL.STUB)) {
          const traces = mutated(k.design, "drop-notrace") ? hashEmpty(o.funcHash.filter) || o.funcHash.filter.has(ip) : ftrace_ops_test(o, ip);
          if (traces) {
            const func = load64(k, o.addr + BigInt(k.design.ops.func), rec, `${o.name}->func`);
            if (func === 0n) {
              // FTRACE_WARN_ON(!op->func): warn, kill ftrace, stop the walk.
              rec.violations.push({ kind: "list-walk", where: "ftrace_ops_list_func", message: `ftrace_ops_list_func: ${o.name} has a NULL func` });
              ftrace_kill(k);
              return;
            }
            const problem = callCallback(k, func, ip, pip, o.addr, fregs, rec);
            if (problem !== null) rec.violations.push({ kind: "list-walk", where: "ftrace_ops_list_func", message: `ftrace_ops_list_func: ${problem}` });
          }
        }
        a = load64(k, o.addr + BigInt(FTRACE_OPS_NEXT), rec, `${o.name}->next`);
        yield;
      }
      return;
    }
    case "ftrace_ops_nop_func":
    case "ftrace_stub":
    case "direct_func":
    case "caller_return":
      return;
    case "body":
      if (cpu !== null) rec.bodies.push({ fn: host.fn, regs: snap(cpu), calleeSaved: cpu.x.slice(19, 29), seq: rec.seq++ });
      return;
    default:
      unreachable(host);
  }
}

/** Run a C function to completion (for C-to-C calls such as the list walk calling a callback). */
function runHost(k: Kernel, host: HostFn, args: ReadonlyArray<bigint>, rec: Recorder, cpu: Cpu | null): void {
  for (const _ of hostSteps(k, host, args, rec, cpu)) void _;
}

