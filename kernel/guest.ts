// Scenarios as real actions on an arm64 Linux guest, one boot for all of them. Each scenario step becomes tracefs
// writes or guest-agent calls, and after every step the agent reads every function's patch-site:
//   register_ftrace_function X  -> tracer instance X: set_ftrace_filter, set_ftrace_notrace, current_tracer=function
//                                   (with flags ["SUBOP"]: current_tracer=function_graph, whose fgraph_ops is a
//                                   subops of fgraph's graph_ops; with RECURSION and/or RCU: an ops of our own
//                                   module, dsmod (kernel/module/dsmod.c), registered with those flags, whose
//                                   callback records what it returned into and, on sethostname, calls the function
//                                   again up to DSMOD_DEPTH levels deep)
//   unregister_ftrace_function X -> current_tracer=nop in instance X (dsmod: unregister_ftrace_function)
//   ftrace_set_filter / _notrace -> the instance's filter files (live when it traces)
//   register_ftrace_direct D     -> a BPF fentry program per function. The kernel keeps one BPF trampoline per
//                                   function, with its own direct ops, whatever programs it runs: the model is
//                                   given that ops, bpf.<fn>, registered by the function's first program and moved
//                                   by modify_ftrace_direct to a rebuilt image at every later one (a second
//                                   scenario ops on the function shares the trampoline, it is not refused -EBUSY)
//   modify_ftrace_direct D       -> one more fentry program per function: the trampoline is rebuilt
//   unregister_ftrace_direct D   -> D's links detached (kagent detach: at once, not from a workqueue): the
//                                   trampoline is rebuilt without them, or unregistered with the last program
//   call f                       -> the system call f serves (binfmt_misc's status file for its bm_status_write);
//                                   each tracer instance's trace buffer and each fentry program's run count say
//                                   which handlers ran
// Scenario function names map onto real functions: syscall entry points for kernel functions, binfmt_misc's for
// module functions.

import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Scenario, Step } from "../model/scenario.ts";
import { stepText } from "../reports/trace.ts";
import type { KernelFiles } from "./fetch.ts";

/** Real functions for the scenarios' names, in the order names are met: traceable, with BTF, not called by init. */
export const KERNEL_FUNCTIONS = ["__arm64_sys_sethostname", "__arm64_sys_setdomainname", "__arm64_sys_acct", "__arm64_sys_swapoff", "__arm64_sys_pivot_root", "__arm64_sys_syncfs"] as const;
export const MODULE_NAME = "binfmt_misc";
export const MODULE_FUNCTIONS = ["bm_status_write", "bm_register_write", "bm_entry_write"] as const;

export class KernelScenarioError extends Error {}

/** dsmod's control, report, return-code and layout files (debugfs), and how deep its recursion probe may go. */
const DSMOD_CTL = "/sys/kernel/debug/dispatch_spec/ctl";
const DSMOD_REPORT = "/sys/kernel/debug/dispatch_spec/report";
const DSMOD_RET = "/sys/kernel/debug/dispatch_spec/ret";
export const DSMOD_LAYOUT = "/sys/kernel/debug/dispatch_spec/layout";
/** Trampolines in dsmod's pool (DSMOD_TRAMPS in dsmod.c): one per direct attachment of a scenario. */
export const DSMOD_TRAMPS = 16;

/**
 * How a scenario's ops become real ones in the guest. Direct ops: BPF fentry programs (one direct ops and BPF
 * trampoline per function; needs the kernel's BTF), or dsmod's own direct ops on its trampoline pool (one ops per
 * scenario ops, as the model has it; any kernel dsmod loads into). Ordinary ops: tracer instances (the kernel's own
 * user), or dsmod ops (return codes read back, notrace and live filters as the API has them). An ops with RECURSION
 * or RCU is always dsmod's, one with SUBOP always a function_graph instance. `probe`: the dsmod ops whose recursion
 * probe is on (off otherwise: a probe's nested call is a second call of every other ops on the function).
 */
export interface GuestOptions {
  readonly direct: "bpf" | "dsmod";
  readonly ordinary: "instance" | "dsmod";
  readonly probe: ReadonlyArray<string>;
}

/** The options a scenario asks for (its "guest" object), with what a caller imposes (a kernel without BTF: dsmod). */
export function guestOptions(s: Scenario, impose: Partial<GuestOptions> = {}): GuestOptions {
  return { direct: s.guest?.direct ?? "bpf", ordinary: s.guest?.ordinary ?? "instance", probe: s.guest?.probe ?? [], ...impose };
}

/** A dsmod command, its write's error kept off the console, then the return code it gave. */
function dsmodCommand(cmd: string): string {
  return `echo "${cmd}" > ${DSMOD_CTL} 2>/dev/null; cat ${DSMOD_RET}`;
}

/** A shell test that a direct call is still attached to fn: enabled_functions prints `direct-->` on the line after fn's. */
export function directAttachedTest(fn: string): string {
  return `grep -A1 "^${fn} " ${T}/enabled_functions | grep -q "direct-->"`;
}
export const DSMOD_DEPTH = 8;
/** The ops flags dsmod takes (the others the guest cannot give an ops). */
const DSMOD_FLAGS: ReadonlyArray<string> = ["RECURSION", "RCU", "IPMODIFY"];

/** A scenario step as the guest performs it, and as the model is given it. */
export interface GuestStep {
  /** The scenario's own step (1-based index and text), for the table. */
  readonly index: number;
  readonly text: string;
  readonly shell: string[];
  /** The steps the model runs for it (direct ops split per function). */
  readonly model: Step[];
  /**
   * Direct attachments made by this step: function -> (model ops, trampoline instance number, dsmod's pool slot),
   * and for a BPF image which kagent line reports it (an fentry program attached, or programs detached while
   * others stay: the trampoline rebuilt).
   */
  readonly attached: ReadonlyArray<Attachment>;
  /** Whether the guest reports each model step's return code (dsmod's commands), in order. */
  readonly rets: boolean;
  /** Functions whose direct ops this step removed. */
  readonly detached: ReadonlyArray<string>;
  /**
   * For a call: the function, the live direct ops' first programs (each runs once per trampoline entry), and the
   * dsmod ops registered so far in the scenario (their callbacks report what each call did).
   */
  readonly call?: {
    readonly fn: string;
    readonly pins: ReadonlyArray<FentryPin>;
    /** dsmod's live direct ops and the pool slot each calls. */
    readonly slots: ReadonlyArray<{ readonly ops: string; readonly slot: number }>;
    readonly dsmod: ReadonlyArray<string>;
  };
}

/** One direct attachment: the model ops and its n-th trampoline; a dsmod pool slot, or the kagent line naming the BPF image. */
export interface Attachment {
  readonly fn: string;
  readonly ops: string;
  readonly n: number;
  readonly slot?: number;
  readonly via?: "fentry" | "detach";
}

/** A live fentry program: the scenario ops it stands for, the label the tables give it, and where its link is pinned. */
export interface FentryPin {
  readonly label: string;
  /** The model's ops: the function's BPF trampoline (bpfOps). */
  readonly ops: string;
  readonly pin: string;
}

/** The model's name for a function's BPF trampoline's direct ops (bpf_trampoline's fops in the kernel). */
export function bpfOps(fn: string): string {
  return `bpf.${fn}`;
}

export interface GuestScenario {
  readonly name: string;
  readonly scenario: Scenario;
  /** Scenario function name -> real symbol. */
  readonly real: ReadonlyMap<string, string>;
  readonly steps: ReadonlyArray<GuestStep>;
  /** The names of the scenario's dsmod ops (empty when it needs no module of ours). */
  readonly dsmod: ReadonlyArray<string>;
  /** The names of its dsmod direct ops. */
  readonly dsmodDirect: ReadonlyArray<string>;
  readonly options: GuestOptions;
}

const T = "/sys/kernel/tracing";
/** Polls of 50 ms while a released BPF link's direct call leaves ftrace (the release runs from a workqueue). */
const RELEASE_POLLS = 600;
const BPF = "/sys/fs/bpf";

/** Plan one scenario: refuse what the guest cannot do, map names, write the shell and the model's steps. */
export function planScenario(name: string, s: Scenario, impose: Partial<GuestOptions> = {}): GuestScenario {
  const options = guestOptions(s, impose);
  const real = new Map<string, string>();
  let k = 0;
  let m = 0;
  for (const f of s.functions) {
    if (f.module !== undefined) {
      const r = MODULE_FUNCTIONS[m++];
      if (r === undefined) throw new KernelScenarioError(`${name}: at most ${MODULE_FUNCTIONS.length} module functions`);
      real.set(f.name, r);
    } else {
      const r = KERNEL_FUNCTIONS[k++];
      if (r === undefined) throw new KernelScenarioError(`${name}: at most ${KERNEL_FUNCTIONS.length} kernel functions`);
      real.set(f.name, r);
    }
  }
  const fnsOf = (xs: ReadonlyArray<string>): string => xs.map((x) => real.get(x) ?? x).join(" ");
  const isModule = (fn: string): boolean => s.functions.find((f) => f.name === fn)?.module !== undefined;
  const live = new Set<string>();
  // What each ordinary ops name is in the guest, once it has been one: a dsmod ops or a tracer instance.
  const kind = new Map<string, "dsmod" | "instance">();
  const dsmod = new Set<string>();
  const direct = new Map<string, { fns: string[]; n: number; slot: number }>();
  const dsmodDirect = new Set<string>();
  let slots = 0;
  // Each function's BPF trampoline (bpf_trampoline_lookup): how many images it has had, and its live programs in the
  // order they were attached, each with the scenario ops it belongs to.
  const trampolines = new Map<string, { images: number; progs: Array<{ ops: string; pin: string }> }>();
  let pinCount = 0;
  const steps: GuestStep[] = [];
  s.steps.forEach((st, i) => {
    const where = `${name}: step ${i + 1} (${st.do})`;
    const shell: string[] = [];
    const model: Step[] = [];
    const attached: Attachment[] = [];
    const detached: string[] = [];
    let rets = false;
    let call: GuestStep["call"];
    const claim = (ops: string, as: "dsmod" | "instance"): void => {
      const was = kind.get(ops);
      if (was !== undefined && was !== as) throw new KernelScenarioError(`${where}: ${ops} was a ${was === "dsmod" ? "dsmod ops" : "tracer instance"} and cannot become a ${as === "dsmod" ? "dsmod ops" : "tracer instance"}`);
      if (direct.has(ops) || dsmodDirect.has(ops)) throw new KernelScenarioError(`${where}: ${ops} is a direct ops`);
      kind.set(ops, as);
    };
    const nextSlot = (): number => {
      if (slots >= DSMOD_TRAMPS) throw new KernelScenarioError(`${where}: at most ${DSMOD_TRAMPS} direct attachments in one scenario (dsmod's trampoline pool)`);
      return slots++;
    };
    switch (st.do) {
      case "call": {
        const fn = real.get(st.fn);
        if (fn === undefined) throw new KernelScenarioError(`${where}: unknown function ${st.fn}`);
        if (isModule(st.fn) && fn !== MODULE_FUNCTIONS[0]) throw new KernelScenarioError(`${where}: only ${MODULE_FUNCTIONS[0]} of the module functions can be called from the guest`);
        // Each scenario ops' oldest program on each function: every program of a trampoline runs once per entry.
        const pins: FentryPin[] = [...direct]
          .filter(([n]) => !dsmodDirect.has(n))
          .flatMap(([name, d]) => d.fns.flatMap((f) => {
            const prog = trampolines.get(f)?.progs.find((x) => x.ops === name);
            return prog === undefined ? [] : [{ label: `${name}.${f}`, ops: bpfOps(f), pin: prog.pin }];
          }));
        const own = [...direct].filter(([n]) => dsmodDirect.has(n)).map(([ops, d]) => ({ ops, slot: d.slot }));
        const runs = pins.length === 0 ? [] : [`kagent runs ${pins.map((p) => p.pin).join(" ")}`];
        const report = dsmod.size > 0 || own.length > 0;
        shell.push(
          `for d in ${T}/instances/*; do [ -d "$d" ] && echo > "$d/trace"; done`,
          ...(report ? [`echo reset > ${DSMOD_CTL}`] : []),
          ...runs,
          `kagent call ${fn}`,
          // A function tracer's line is "fn <-parent", a function_graph tracer's "fn() {" or "fn();", and for a module
          // function "fn [module]() {" (it prints %ps, which names the module).
          `for d in ${T}/instances/*; do [ -d "$d" ] && echo "{\\"hits\\":\\"$(basename $d)\\",\\"n\\":$(grep -cE " ${fn}( <-|( [[][^]]*[]])?[(][)])" "$d/trace")}"; done`,
          ...runs,
          ...(report ? [`cat ${DSMOD_REPORT}`] : []),
        );
        model.push(st);
        call = { fn: st.fn, pins, slots: own, dsmod: [...dsmod] };
        break;
      }
      case "register_ftrace_function": {
        if (live.has(st.ops)) throw new KernelScenarioError(`${where}: ${st.ops} is already registered (a tracer instance cannot be registered twice)`);
        if (st.filter.length === 0) throw new KernelScenarioError(`${where}: an empty filter traces every function, too slow under emulation`);
        const graph = st.flags.length === 1 && st.flags[0] === "SUBOP";
        const flagged = st.flags.length > 0 && st.flags.every((f) => DSMOD_FLAGS.includes(f));
        if (st.flags.length > 0 && !graph && !flagged)
          throw new KernelScenarioError(`${where}: flags ${st.flags.join(",")} cannot be given to a guest ops (RECURSION, RCU and IPMODIFY make a dsmod ops, SUBOP alone a function_graph instance)`);
        const own = flagged || (!graph && options.ordinary === "dsmod");
        if (own) {
          claim(st.ops, "dsmod");
          const notrace = st.notrace.length > 0 ? ` -- ${fnsOf(st.notrace)}` : "";
          shell.push(dsmodCommand(`reg ${st.ops} ${st.flags.length > 0 ? st.flags.join(",") : "-"} ${fnsOf(st.filter)}${notrace}`));
          if (options.probe.includes(st.ops)) shell.push(`echo "recurse ${st.ops} ${DSMOD_DEPTH}" > ${DSMOD_CTL}`);
          shell.push(`cat ${DSMOD_REPORT}`);
          rets = true;
          model.push(st);
          live.add(st.ops);
          dsmod.add(st.ops);
          break;
        }
        claim(st.ops, "instance");
        const dir = `${T}/instances/${st.ops}`;
        const tracer = graph ? "function_graph" : "function";
        shell.push(`mkdir -p ${dir} && echo ${fnsOf(st.filter)} > ${dir}/set_ftrace_filter && echo ${fnsOf(st.notrace)} > ${dir}/set_ftrace_notrace && echo ${tracer} > ${dir}/current_tracer`);
        model.push(st);
        live.add(st.ops);
        break;
      }
      case "unregister_ftrace_function":
        // The kernel WARNs on an ops that is not registered; neither a tracer instance nor dsmod goes that far.
        if (!live.has(st.ops)) throw new KernelScenarioError(`${where}: ${st.ops} is not registered`);
        if (dsmod.has(st.ops)) {
          shell.push(dsmodCommand(`unreg ${st.ops}`));
          rets = true;
        } else {
          shell.push(`echo nop > ${T}/instances/${st.ops}/current_tracer`);
        }
        model.push(st);
        live.delete(st.ops);
        break;
      case "ftrace_set_filter":
      case "ftrace_set_notrace": {
        const fns = st.do === "ftrace_set_filter" ? st.filter : st.notrace;
        const file = st.do === "ftrace_set_filter" ? "set_ftrace_filter" : "set_ftrace_notrace";
        if (st.do === "ftrace_set_filter" && fns.length === 0 && live.has(st.ops)) throw new KernelScenarioError(`${where}: an empty filter on a live ops traces every function`);
        if (direct.has(st.ops)) throw new KernelScenarioError(`${where}: ${st.ops} is a direct ops (its filter is set when it registers)`);
        if (kind.get(st.ops) === "dsmod" || (kind.get(st.ops) === undefined && options.ordinary === "dsmod")) {
          claim(st.ops, "dsmod");
          shell.push(dsmodCommand(`${st.do === "ftrace_set_filter" ? "filter" : "notrace"} ${st.ops}${fns.length > 0 ? ` ${fnsOf(fns)}` : ""}`));
          dsmod.add(st.ops);
          rets = true;
        } else {
          if (kind.get(st.ops) === undefined) throw new KernelScenarioError(`${where}: ${st.ops} is no tracer instance yet (the guest makes one when it registers)`);
          shell.push(`echo ${fnsOf(fns)} > ${T}/instances/${st.ops}/${file}`);
        }
        model.push(st);
        break;
      }
      case "register_ftrace_direct": {
        if (direct.has(st.ops)) throw new KernelScenarioError(`${where}: ${st.ops} is already registered`);
        if (kind.has(st.ops)) throw new KernelScenarioError(`${where}: ${st.ops} is an ordinary ops`);
        if (options.direct === "dsmod") {
          // Each attachment its own trampoline of the pool, named by its slot: a registration after an
          // unregistration is another trampoline, as a second BPF image is.
          const slot = nextSlot();
          shell.push(dsmodCommand(`dreg ${st.ops} ${slot} ${fnsOf(st.filter)}`), `cat ${DSMOD_REPORT}`);
          model.push({ do: "register_ftrace_direct", ops: st.ops, filter: st.filter, addr: trampName(st.ops, slot) });
          for (const fn of st.filter) attached.push({ fn, ops: st.ops, n: slot, slot });
          direct.set(st.ops, { fns: [...st.filter], n: slot, slot });
          dsmodDirect.add(st.ops);
          rets = true;
          break;
        }
        for (const fn of st.filter) if (isModule(fn)) throw new KernelScenarioError(`${where}: fentry on a module function needs module BTF, not done yet`);
        for (const fn of st.filter) attach(st.ops, fn, shell, model, attached);
        direct.set(st.ops, { fns: [...st.filter], n: 0, slot: -1 });
        break;
      }
      case "modify_ftrace_direct": {
        const d = direct.get(st.ops);
        if (d === undefined) throw new KernelScenarioError(`${where}: ${st.ops} is not registered`);
        d.n++;
        if (dsmodDirect.has(st.ops)) {
          d.slot = nextSlot();
          d.n = d.slot;
          shell.push(dsmodCommand(`dmod ${st.ops} ${d.slot}`), `cat ${DSMOD_REPORT}`);
          model.push({ do: "modify_ftrace_direct", ops: st.ops, addr: trampName(st.ops, d.n) });
          for (const fn of d.fns) attached.push({ fn, ops: st.ops, n: d.n, slot: d.slot });
          rets = true;
          break;
        }
        for (const fn of d.fns) attach(st.ops, fn, shell, model, attached);
        break;
      }
      case "unregister_ftrace_direct": {
        const d = direct.get(st.ops);
        if (d === undefined) throw new KernelScenarioError(`${where}: ${st.ops} is not registered`);
        if (dsmodDirect.has(st.ops)) {
          shell.push(dsmodCommand(`dunreg ${st.ops}`));
          model.push({ do: "unregister_ftrace_direct", ops: st.ops, free_filters: true });
          detached.push(...d.fns);
          direct.delete(st.ops);
          rets = true;
          break;
        }
        for (const fn of d.fns) {
          const tr = trampolines.get(fn)!;
          const r = real.get(fn)!;
          const mine = tr.progs.filter((x) => x.ops === st.ops);
          tr.progs = tr.progs.filter((x) => x.ops !== st.ops);
          const left = tr.progs.length > 0;
          shell.push(`kagent detach ${r} ${left ? 1 : 0} ${mine.map((x) => x.pin).join(" ")}`);
          if (left) {
            // Another scenario ops' programs stay: the kernel rebuilds the trampoline and moves the site to it.
            model.push({ do: "modify_ftrace_direct", ops: bpfOps(fn), addr: trampName(bpfOps(fn), tr.images) });
            attached.push({ fn, ops: bpfOps(fn), n: tr.images++, via: "detach" });
          } else {
            shell.push(`${directAttachedTest(r)} && echo "direct call on ${r} still attached after its last program was detached"`);
            model.push({ do: "unregister_ftrace_direct", ops: bpfOps(fn), free_filters: true });
            detached.push(fn);
          }
        }
        direct.delete(st.ops);
        break;
      }
    }
    steps.push({ index: i + 1, text: stepText(st), shell, model, attached, detached, rets, ...(call !== undefined ? { call } : {}) });
  });
  /** One more fentry program of scenario ops `ops` on fn: the trampoline's first registers it, a later one rebuilds it. */
  function attach(ops: string, fn: string, shell: string[], model: Step[], attached: Attachment[]): void {
    const tr = trampolines.get(fn) ?? { images: 0, progs: [] };
    trampolines.set(fn, tr);
    const pin = pinPath(`${ops}.${fn}`, pinCount++);
    shell.push(`kagent fentry ${real.get(fn)} ${pin}`);
    const addr = trampName(bpfOps(fn), tr.images);
    model.push(tr.progs.length === 0 ? { do: "register_ftrace_direct", ops: bpfOps(fn), filter: [fn], addr } : { do: "modify_ftrace_direct", ops: bpfOps(fn), addr });
    attached.push({ fn, ops: bpfOps(fn), n: tr.images++, via: "fentry" });
    tr.progs.push({ ops, pin });
  }
  for (const p of options.probe) if (!dsmod.has(p)) throw new KernelScenarioError(`${name}: guest.probe names ${p}, which is no dsmod ops of the scenario`);
  return { name, scenario: s, real, steps, dsmod: [...dsmod], dsmodDirect: [...dsmodDirect], options };
}

/** Where a fentry link is pinned (bpffs refuses names with a dot). */
function pinPath(ops: string, n: number): string {
  return `${BPF}/${ops.replace(/\./g, "_")}_${n}`;
}

/** The model's name for the BPF trampoline image a direct ops has after its n-th attachment. */
export function trampName(ops: string, n: number): string {
  return `T.${ops}.${n}`;
}

/** Symbols the host needs to name what the sites hold. */
export const NAMED_SYMBOLS = ["_text", "_etext", "ftrace_caller", "ftrace_nop_ops", "ftrace_list_ops", "call_direct_funcs", "function_trace_call", "graph_ops"] as const;

/** What the guest sets up before any scenario: mounts, modules, the symbols and struct offsets read once. */
export interface GuestSetup {
  /** Load dsmod (a scenario needs it, or the kernel has no BTF and dsmod gives the offsets). */
  readonly dsmod: boolean;
  /** The real functions whose addresses the scenarios need. */
  readonly functions: ReadonlyArray<string>;
}

/** The setup a set of plans needs. */
export function setupFor(plans: ReadonlyArray<GuestScenario>, forceDsmod = false): GuestSetup {
  return { dsmod: forceDsmod || plans.some((p) => p.dsmod.length > 0 || p.dsmodDirect.length > 0), functions: [...new Set(plans.flatMap((p) => [...p.real.values()]))] };
}

/** The guest's set-up, run once per boot, before any scenario. */
export function setupLines(setup: GuestSetup): string[] {
  return [
    "/bin/busybox --install -s /bin",
    "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev",
    `mount -t tracefs tracefs ${T}; mount -t bpf bpf ${BPF} 2>/dev/null`,
    "echo 0 > /proc/sys/kernel/kptr_restrict",
    `insmod /${MODULE_NAME}.ko`,
    // dsmod, when a scenario needs it: loaded with finit_module(2), its control files on debugfs.
    ...(setup.dsmod ? ["mount -t debugfs debugfs /sys/kernel/debug", 'echo "@@@ dsmod"', "kagent load /dsmod.ko", `cat ${DSMOD_LAYOUT}`] : []),
    "mount -t binfmt_misc none /proc/sys/fs/binfmt_misc",
    "[ -e /proc/sys/kernel/bpf_stats_enabled ] && echo 1 > /proc/sys/kernel/bpf_stats_enabled",
    'echo "@@@ modules"',
    "cat /proc/modules",
    'echo "@@@ syms"',
    `kagent sym ${[...NAMED_SYMBOLS, ...setup.functions].join(" ")} | tee /tmp/syms`,
    `L=$(kagent layout | sed 's/.*"layout":"\\([^"]*\\)".*/\\1/')`,
    'echo "layout $L"',
    'echo "@@@ entry"',
    "kagent dump",
    "addr() { grep \"\\\"sym\\\":\\\"$1\\\"\" /tmp/syms | sed 's/.*\"addr\":\"0x\\([0-9a-f]*\\)\".*/\\1/'; }",
  ];
}

/**
 * One scenario as the guest runs it: a unit of shell lines per step (step 0 reads the sites before any), each unit
 * ending with every site read by address (no symbol table to parse each time), then the clean-up back to nothing
 * traced.
 */
/**
 * After each step: how many ftrace_bug reports the kernel's log holds (its pr_info lines, which the quiet console
 * does not show). One that appears during a step means ftrace found a word it did not expect, or faulted, and died.
 */
export const FTRACE_BUG_LOG = /ftrace (failed to modify|faulted on)/;
const FTRACE_BUGS = `echo "@@@ ftrace-bugs $(dmesg | grep -cE '${FTRACE_BUG_LOG.source}')"`;

export function scenarioUnits(p: GuestScenario, si: number): { readonly steps: string[][]; readonly cleanup: string[] } {
  const addrs = [...p.real.values()].map((r) => `$(addr ${r})`).join(" ");
  const steps: string[][] = [[`A="${addrs}"`, `echo "@@@ scenario ${si} step 0"`, "kagent at $L $A", FTRACE_BUGS]];
  for (const st of p.steps) steps.push([`echo "@@@ scenario ${si} step ${st.index}"`, ...st.shell.map((sh) => `( ${sh} ) 2>&1 | sed 's/^/### /'`), "kagent at $L $A", FTRACE_BUGS]);
  const cleanup = [
    // dsmod unregisters what of its own is still live, and forgets every ops.
    ...(p.dsmod.length > 0 || p.dsmodDirect.length > 0 ? [`echo clear > ${DSMOD_CTL} || echo "### dsmod could not unregister every ops of its own"`] : []),
    `for d in ${T}/instances/*; do [ -d "$d" ] && echo nop > "$d/current_tracer" && rmdir "$d"; done`,
    `rm -f ${BPF}/* 2>/dev/null; for i in $(seq ${RELEASE_POLLS}); do grep -q "direct-->" ${T}/enabled_functions || break; sleep 0.05; done`,
  ];
  return { steps, cleanup };
}

/**
 * The guest's init for one boot that runs every scenario and powers off (the experiments): the set-up, each
 * scenario followed by its clean-up, the end.
 */
export function initScript(plans: ReadonlyArray<GuestScenario>, setup: GuestSetup = setupFor(plans)): string {
  const lines = ["#!/bin/busybox sh", ...setupLines(setup)];
  plans.forEach((p, si) => {
    const u = scenarioUnits(p, si);
    lines.push(...u.steps.flat(), ...u.cleanup);
  });
  lines.push('echo "@@@ end"', "poweroff -f");
  return lines.join("\n") + "\n";
}

/**
 * The init of a guest that stays up (kernel/session.ts): the set-up, then one command line at a time from the
 * console, each answered by "@@@ ack N" when it has run; the host sends the next only then.
 */
export function sessionInit(setup: GuestSetup): string {
  return [
    "#!/bin/busybox sh",
    ...setupLines(setup),
    "stty -echo 2>/dev/null",
    'echo "@@@ ready"',
    'n=0; while IFS= read -r line; do n=$((n+1)); eval "$line"; echo "@@@ ack $n"; done',
    'echo "@@@ end"',
    "poweroff -f",
  ].join("\n") + "\n";
}

/** Build the initramfs (busybox, the agent, the module, /init) as a gzipped newc cpio. */
export function initramfs(files: KernelFiles, init: string, dir: string): string {
  const root = join(dir, "root");
  for (const d of ["bin", "proc", "sys", "dev", "tmp"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(files.busybox, join(root, "bin", "busybox"));
  copyFileSync(files.agent, join(root, "bin", "kagent"));
  copyFileSync(files.module, join(root, `${MODULE_NAME}.ko`));
  if (files.dsmod !== undefined) copyFileSync(files.dsmod, join(root, "dsmod.ko"));
  writeFileSync(join(root, "init"), init);
  chmodSync(join(root, "init"), 0o755);
  chmodSync(join(root, "bin", "busybox"), 0o755);
  chmodSync(join(root, "bin", "kagent"), 0o755);
  const list = spawnSync("sh", ["-c", "find . | cpio -o -H newc 2>/dev/null"], { cwd: root, maxBuffer: 1 << 28 });
  if (list.status !== 0) throw new Error("cpio failed");
  const out = join(dir, "initrd.gz");
  writeFileSync(out, gzipSync(list.stdout, { level: 1 }));
  return out;
}

export interface BootResult {
  readonly console: string;
  readonly seconds: number;
}

/** Boot the kernel under qemu-system-aarch64 (TCG) with the plans' init, and return the console. */
export function boot(files: KernelFiles, plans: ReadonlyArray<GuestScenario>, opts: { kaslr: boolean; image?: string }): BootResult {
  const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-kernel-"));
  try {
    const initrd = initramfs(files, initScript(plans), dir);
    const started = performance.now();
    const r = spawnSync(
      "qemu-system-aarch64",
      ["-M", "virt", "-cpu", "max", "-m", "1024", "-smp", "2", "-nographic", "-nic", "none", "-no-reboot", "-kernel", opts.image ?? files.image, "-initrd", initrd, "-append", `console=ttyAMA0 rdinit=/init quiet ${opts.kaslr ? "" : "nokaslr"}`.trim()],
      { encoding: "utf8", maxBuffer: 1 << 28, timeout: 20 * 60 * 1000 },
    );
    if (r.error !== undefined) throw new Error(`qemu-system-aarch64: ${r.error.message}`);
    return { console: r.stdout.replace(/\r/g, ""), seconds: (performance.now() - started) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
