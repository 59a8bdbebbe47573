// Building a kernel from a layout and a design: the compiled patch-sites, ftrace_caller and the other
// trampolines as assembled words, the stub ops, the C helpers at their addresses, and then what boot and
// module load do for every record (ftrace_process_locs -> ftrace_init_nop). Also allocates scenario ops.

import { assemble, type Listing } from "./asm.ts";
import { setDirectCall, setOpsFunc } from "./core.ts";
import { FTRACE_OPS_FL } from "./flags.ts";
import { match } from "ts-pattern";
import { BTI_C_WORD, NOP_WORD, decode, encode, genBranch, toHex } from "./insn.ts";
import type { BinaryCode, Design, DynFtrace, FtraceOps, HostFn, Kernel, OpsKind } from "./kernel.ts";
import { designSwitches, hasCallOps } from "./kernel.ts";
import { CTEXT_SPAN, LISTING_SPANS, PLT_ENTRY_SIZE, patchSite, validateLayout, type CodeSpans, type Layout } from "./layout.ts";
import { Memory } from "./memory.ts";
import { FTRACE_OPS_SIZE } from "./structs.ts";
import { TRAMP_HELPER_OFFSET, modulePlt, testDirectTrampoline } from "./entry.ts";
import { ModelInputError } from "./errors.ts";

export class BootError extends ModelInputError {}

const CTEXT_SLOT = 0x10n;

/** Assembled listings, by text, address and the symbols they may refer to: boots repeat the same few. */
const ASSEMBLED = new Map<string, ReturnType<typeof assemble>>();
const ASSEMBLED_MAX = 4096;

/** The address the kernel has a symbol at, if any. */
function symbolAddress(k: Kernel, sym: string): bigint | undefined {
  for (const [addr, s] of k.symbols) if (s === sym) return addr;
  return undefined;
}

/** Write a piece of code's words at base and make its name, its labels and its extent known. */
function placeWords(k: Kernel, name: string, base: bigint, words: ReadonlyArray<number>, labels: Iterable<readonly [string, bigint]>): void {
  words.forEach((w, i) => k.mem.write32(base + BigInt(i) * 4n, w));
  k.symbols.set(base, name);
  for (const [label, addr] of labels) if (addr !== base) k.symbols.set(addr, label);
  k.codeRegions.push([base, base + BigInt(words.length) * 4n, name, base]);
}

function place(k: Kernel, name: string, base: bigint, listing: Listing): void {
  const externals = (sym: string): bigint | undefined => symbolAddress(k, sym);
  const key = `${base}|${k.layout.kernel.ftrace_caller}|${listing.join(";")}`;
  let out = ASSEMBLED.get(key);
  if (out === undefined) {
    out = assemble(listing, base, externals);
    if (ASSEMBLED.size >= ASSEMBLED_MAX) ASSEMBLED.clear();
    ASSEMBLED.set(key, out);
  }
  placeWords(k, name, base, out.words, out.labels);
}

/**
 * A test direct trampoline's words: the same at every address (its one branch, the BL to its C helper at
 * TRAMP_HELPER_OFFSET, is PC-relative), so they are assembled once.
 */
let TEST_TRAMPOLINE_WORDS: ReadonlyArray<number> | null = null;
function testTrampolineWords(): ReadonlyArray<number> {
  TEST_TRAMPOLINE_WORDS ??= assemble(testDirectTrampoline("helper"), 0n, (sym) => (sym === "helper" ? TRAMP_HELPER_OFFSET : undefined)).words;
  return TEST_TRAMPOLINE_WORDS;
}

/** Where the model put a symbol that binary code branches to: its code, or one of its C functions. */
function boundAddress(k: Kernel, symbol: string): bigint {
  const ks = k.layout.kernel;
  if (symbol === "ftrace_caller") return ks.ftrace_caller;
  if (symbol === "ftrace_stub_direct_tramp") return ks.ftrace_stub_direct_tramp;
  const addr = symbolAddress(k, symbol);
  if (addr !== undefined) return addr;
  throw new BootError(`binary code branches to ${symbol}, which the model does not have`);
}

/**
 * Put a built kernel's words at `base` (the layout's address for them): internal branches keep their offsets, and
 * each branch that leaves the code is bound by symbol name to where the model has that symbol, as a linker would.
 */
function placeBinary(k: Kernel, base: bigint, code: BinaryCode): void {
  placeWords(k, code.name, base, code.words, code.labels.map((l) => [l.name, base + BigInt(l.offset)] as const));
  for (const b of code.binds) {
    const at = base + BigInt(b.offset);
    const insn = decode(k.mem.read32(at));
    if (insn.kind !== "b" && insn.kind !== "bl") throw new BootError(`${code.name}+0x${b.offset.toString(16)}: only B and BL can be bound to ${b.symbol}`);
    k.mem.write32(at, encode(genBranch(at, boundAddress(k, b.symbol), insn.kind === "bl")));
  }
}

function addHost(k: Kernel, name: string, fn: HostFn, at?: bigint): bigint {
  const addr = at ?? k.nextCtext;
  if (at === undefined) k.nextCtext += CTEXT_SLOT;
  k.hosts.set(addr, fn);
  k.symbols.set(addr, name);
  return addr;
}

function newOps(name: string, addr: bigint, kind: OpsKind, coreData: boolean, handler: bigint): FtraceOps {
  return {
    name,
    addr,
    kind,
    coreData,
    handler,
    flags: kind === "stub" ? FTRACE_OPS_FL.STUB : 0,
    funcHash: { filter: new Set(), notrace: new Set() },
    oldHash: null,
    func: kind === "direct" ? 0n : handler,
    trampoline: 0n,
    direct_call: 0n,
  };
}

/** Put an ops object into memory (the members ftrace_caller loads) and the symbol table. */
function publishOps(k: Kernel, ops: FtraceOps): void {
  setOpsFunc(k, ops, ops.func);
  setDirectCall(k, ops, ops.direct_call);
  k.symbols.set(ops.addr, ops.name);
}

/** The C helpers of kernel/trace/ftrace.c, one slot each at the start of the C text area. */
const HELPERS = [
  ["ftrace_ops_list_func", { kind: "ftrace_ops_list_func" }],
  ["ftrace_ops_nop_func", { kind: "ftrace_ops_nop_func" }],
  ["call_direct_funcs", { kind: "call_direct_funcs" }],
  ["ftrace_stub", { kind: "ftrace_stub" }],
] as const satisfies ReadonlyArray<readonly [string, HostFn]>;

/**
 * The records in the order ftrace_process_locs leaves them: core kernel call sites sorted by address, then each
 * module's (in load order, which is the scenario's module order) sorted by address. Modules are taken as loaded
 * and enabled (ftrace_module_enable) before the first step, with no ops registered.
 */
function recordsInOrder(layout: Layout): DynFtrace[] {
  const byIp = (a: DynFtrace, b: DynFtrace): number => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  const recsOf = (module: string | null): DynFtrace[] =>
    layout.functions.filter((f) => f.module === module).map((f) => ({ fn: f.name, ip: patchSite(f).ip, flags: 0 })).sort(byIp);
  return [recsOf(null), ...layout.modules.map((m) => recsOf(m.name))].flat();
}

/** What the design's trampoline code occupies: the listings' reservation, or a binary's own sizes. */
function codeSpans(design: Design): CodeSpans {
  return match(design.entry)
    .with({ kind: "listing" }, () => (designSwitches(design).withRegs ? { ...LISTING_SPANS, pltSpan: 2n * PLT_ENTRY_SIZE } : LISTING_SPANS))
    .with({ kind: "binary" }, (e) => ({
      ...(design.ops.size !== undefined ? { opsSpan: BigInt(design.ops.size) } : {}),
      ftraceCaller: BigInt(e.ftraceCaller.words.length * 4),
      stubDirectTramp: e.stubDirectTramp === null ? LISTING_SPANS.stubDirectTramp : BigInt(e.stubDirectTramp.words.length * 4),
    }))
    .exhaustive();
}

/** Boot a kernel: lay out text and data, then ftrace_init_nop every record. */
export function boot(layout: Layout, design: Design): Kernel {
  validateLayout(layout, codeSpans(design));
  const ks = layout.kernel;
  const helperAt = (i: number): bigint => ks.ctext + BigInt(i) * CTEXT_SLOT;
  const helpers = { list_func: helperAt(0), nop_func: helperAt(1), call_direct_funcs: helperAt(2), ftrace_stub: helperAt(3) };
  const recs = recordsInOrder(layout);
  const listEnd = newOps("ftrace_list_end", ks.data, "stub", true, helpers.ftrace_stub);
  const k: Kernel = {
    layout,
    design,
    switches: designSwitches(design),
    mem: new Memory(),
    recs,
    opsList: [],
    ops: new Map(),
    listOps: newOps("ftrace_list_ops", ks.ftrace_list_ops, "stub", true, helpers.list_func),
    nopOps: newOps("ftrace_nop_ops", ks.ftrace_nop_ops, "stub", true, helpers.nop_func),
    listEnd,
    tmpOps: newOps("tmp_ops", ks.data + FTRACE_OPS_SIZE, "stub", true, helpers.ftrace_stub),
    listHead: ks.data + 2n * FTRACE_OPS_SIZE,
    freed: [],
    // fgraph's graph_ops: static (core kernel data, never DYNAMIC), its func ftrace_graph_func in the last C slot.
    graphOps: newOps("graph_ops", ks.data + 3n * FTRACE_OPS_SIZE, "ordinary", true, ks.ctext + CTEXT_SPAN - CTEXT_SLOT),
    fgraphArray: [],
    subopList: [],
    directFunctions: new Map(),
    removedOps: null,
    disabled: false,
    ftraceTraceFunction: "ftrace_stub",
    savedFtraceFunc: "ftrace_stub",
    setFunctionTraceOp: listEnd,
    savedUpdateFunc: "ftrace_stub",
    // function_trace_op: a word of kernel data after the ftrace_ops_list head.
    functionTraceOp: ks.data + 2n * FTRACE_OPS_SIZE + 8n,
    ftraceCallSite: null,
    ftraceRegsCaller: null,
    hosts: new Map(),
    symbols: new Map(),
    codeRegions: [],
    events: [],
    note: null,
    nextHeap: ks.heap,
    nextCtext: helperAt(HELPERS.length),
    helpers,
  };
  HELPERS.forEach(([name, fn], i) => addHost(k, name, fn, helperAt(i)));
  addHost(k, "ftrace_graph_func", { kind: "ftrace_graph_func" }, k.graphOps.handler);
  for (const ops of [k.listOps, k.nopOps, k.listEnd, k.tmpOps, k.graphOps]) publishOps(k, ops);
  // An empty ftrace_ops_list points at the ftrace_list_end sentinel.
  k.mem.write64(k.listHead, k.listEnd.addr);
  k.symbols.set(k.listHead, "ftrace_ops_list");
  // function_trace_op starts at the list end (a CALL_OPS design never reads it, and the model never stores it there).
  if (!hasCallOps(design)) {
    k.mem.write64(k.functionTraceOp, k.listEnd.addr);
    k.symbols.set(k.functionTraceOp, "function_trace_op");
  }

  addHost(k, "caller+0x4", { kind: "caller_return" }, ks.callerReturn);
  match(design.entry)
    .with({ kind: "listing" }, (e) => {
      place(k, "ftrace_caller", ks.ftrace_caller, e.ftraceCaller({ fregs: design.fregs, mutations: design.mutations, functionTraceOp: k.functionTraceOp }));
      if (design.directCalls) place(k, "ftrace_stub_direct_tramp", ks.ftrace_stub_direct_tramp, e.stubDirectTramp);
    })
    .with({ kind: "binary" }, (e) => {
      placeBinary(k, ks.ftrace_caller, e.ftraceCaller);
      if (design.directCalls && e.stubDirectTramp !== null) placeBinary(k, ks.ftrace_stub_direct_tramp, e.stubDirectTramp);
    })
    .exhaustive();
  if (!hasCallOps(design)) k.ftraceCallSite = symbolAddress(k, "ftrace_call") ?? null;
  const regsCaller = designSwitches(design).withRegs ? symbolAddress(k, "ftrace_regs_caller") : undefined;
  if (designSwitches(design).withRegs && regsCaller === undefined) throw new BootError(`${design.name}: WITH_REGS but ftrace_caller's code has no ftrace_regs_caller`);
  k.ftraceRegsCaller = regsCaller ?? null;
  for (const m of layout.modules) {
    if (m.plt !== null) place(k, `${m.name}.ftrace_plt`, m.plt, modulePlt(ks.ftrace_caller));
    // FTRACE_REGS_PLT_IDX: the second entry, to ftrace_regs_caller (module_init_ftrace_plt).
    if (m.plt !== null && regsCaller !== undefined) place(k, `${m.name}.ftrace_regs_plt`, m.plt + PLT_ENTRY_SIZE, modulePlt(regsCaller, "ftrace_regs_caller"));
    const initPlt = m.init?.plt ?? null;
    if (initPlt !== null) place(k, `${m.name}.init_ftrace_plt`, initPlt, modulePlt(ks.ftrace_caller));
  }
  for (const t of layout.trampolines) {
    addHost(k, `${t.name}.func`, { kind: "direct_func", tramp: t.name }, t.addr + TRAMP_HELPER_OFFSET);
    placeWords(k, t.name, t.addr, testTrampolineWords(), []);
  }

  for (const f of layout.functions) {
    const site = patchSite(f);
    // As compiled: two pre-function NOPs (the literal slot; none without CALL_OPS), an optional BTI C, two entry NOPs.
    if (hasCallOps(design)) {
      k.mem.write32(site.literal, NOP_WORD);
      k.mem.write32(site.literal + 4n, NOP_WORD);
    }
    if (f.bti) k.mem.write32(f.addr, BTI_C_WORD);
    k.mem.write32(site.movInsn, NOP_WORD);
    k.mem.write32(site.ip, NOP_WORD);
    addHost(k, `${f.name}.body`, { kind: "body", fn: f.name }, site.body);
    k.symbols.set(f.addr, f.name);
    k.codeRegions.push([site.literal, site.body, f.name, f.addr]);
  }
  for (const rec of recs) {
    const ret = design.arch.ftrace_init_nop(k, rec);
    if (ret !== 0) throw new BootError(`ftrace_init_nop failed for ${rec.fn} at ${toHex(rec.ip)} (${ret})`);
  }
  k.events = [];
  return k;
}

/** The ops object a scenario names, created on first use (heap, so DYNAMIC once registered). */
export function opsByName(k: Kernel, name: string, kind: OpsKind): FtraceOps {
  const existing = k.ops.get(name);
  if (existing !== undefined) return existing;
  const addr = k.nextHeap;
  k.nextHeap += FTRACE_OPS_SIZE;
  const handler = kind === "ordinary" ? addHost(k, `${name}.func`, { kind: "ops_func", ops: name }) : k.helpers.call_direct_funcs;
  const ops = newOps(name, addr, kind, false, handler);
  publishOps(k, ops);
  k.ops.set(name, ops);
  return ops;
}

/** A deep copy of a kernel at rest (between API steps): what an explorer branches from. */
export function cloneKernel(k: Kernel): Kernel {
  const hashes = new Map<FtraceOps["funcHash"], FtraceOps["funcHash"]>();
  const hashOf = (h: FtraceOps["funcHash"]): FtraceOps["funcHash"] => {
    let c = hashes.get(h);
    if (c === undefined) {
      c = { filter: h.filter, notrace: h.notrace };
      hashes.set(h, c);
    }
    return c;
  };
  const opsCopies = new Map<FtraceOps, FtraceOps>();
  const opsOf = (o: FtraceOps): FtraceOps => {
    let c = opsCopies.get(o);
    if (c === undefined) {
      c = { ...o, funcHash: hashOf(o.funcHash), oldHash: o.oldHash === null ? null : { ...o.oldHash } };
      opsCopies.set(o, c);
    }
    return c;
  };
  return {
    ...k,
    mem: k.mem.clone(),
    recs: k.recs.map((r) => ({ ...r })),
    opsList: k.opsList.map(opsOf),
    ops: new Map([...k.ops].map(([n, o]) => [n, opsOf(o)])),
    listOps: opsOf(k.listOps),
    nopOps: opsOf(k.nopOps),
    listEnd: opsOf(k.listEnd),
    tmpOps: opsOf(k.tmpOps),
    graphOps: opsOf(k.graphOps),
    fgraphArray: k.fgraphArray.map((o) => (o === null ? null : opsOf(o))),
    subopList: [...k.subopList],
    freed: [...k.freed],
    directFunctions: new Map(k.directFunctions),
    removedOps: k.removedOps === null ? null : opsOf(k.removedOps),
    setFunctionTraceOp: opsOf(k.setFunctionTraceOp),
    hosts: new Map(k.hosts),
    symbols: new Map(k.symbols),
    codeRegions: [...k.codeRegions],
    events: [],
    note: null,
  };
}
