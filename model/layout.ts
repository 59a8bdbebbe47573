// Where everything lives: kernel text, module text with an ftrace PLT each, traced functions and their
// patch-sites, direct trampolines, kernel data (the stub ops), the heap for dynamic ops, and the stack.
// Stands for the CALL_OPS patch-site layout of -fpatchable-function-entry=4,2 and for
// ftrace_call_adjust (arch/arm64/kernel/ftrace.c), which turns a recorded site into rec->ip.

import { toHex } from "./insn.ts";
import { FTRACE_OPS_SIZE } from "./structs.ts";
import { ModelInputError } from "./errors.ts";

export const SZ_128M = 0x8000000n;
export const AARCH64_INSN_SIZE = 4n;

export interface KernelSymbols {
  /** Start of kernel text (the default region holds ftrace_caller and the C helpers). */
  readonly text: bigint;
  readonly textSize: bigint;
  readonly ftrace_caller: bigint;
  readonly ftrace_stub_direct_tramp: bigint;
  readonly ftrace_list_ops: bigint;
  readonly ftrace_nop_ops: bigint;
  /** Where C functions (handlers, list func, call_direct_funcs) are placed, one slot each. */
  readonly ctext: bigint;
  /** Kernel data for static (core data) ops such as tmp_ops. */
  readonly data: bigint;
  /** Heap for dynamic ops (not core kernel data, so FTRACE_OPS_FL_DYNAMIC). */
  readonly heap: bigint;
  /** Initial stack pointer of a call (16-byte aligned, grows down). */
  readonly stackTop: bigint;
  /** The address the caller's BL returns to. */
  readonly callerReturn: bigint;
}

export const DEFAULT_KERNEL: KernelSymbols = {
  text: 0xffff800008000000n,
  textSize: 0x2000000n,
  ftrace_caller: 0xffff800008002000n,
  ftrace_stub_direct_tramp: 0xffff800008002400n,
  ftrace_list_ops: 0xffff80000b000000n,
  ftrace_nop_ops: 0xffff80000b000100n,
  ctext: 0xffff800008100000n,
  data: 0xffff80000b010000n,
  heap: 0xffff000004000000n,
  stackTop: 0xffff80000f000000n,
  callerReturn: 0xffff800008200004n,
};

export interface ModuleLayout {
  readonly name: string;
  readonly text: bigint;
  readonly textSize: bigint;
  /** The module's ftrace PLT (mod->arch.ftrace_trampolines[FTRACE_PLT_IDX]), or null if it has none. */
  readonly plt: bigint | null;
  /**
   * MOD_INIT_TEXT, when the scenario gives the module one: its own region (since 3e35d303ab7d it may sit anywhere in
   * the 2 GiB module area, out of BL range of .text) and, since a7ed7b9d0ebb, its own ftrace PLT
   * (mod->arch.init_ftrace_trampolines). The model keeps init text for the whole run (it never frees it).
   */
  readonly init?: ModuleInitLayout | null;
}

export interface ModuleInitLayout {
  readonly text: bigint;
  readonly textSize: bigint;
  /** .init.text.ftrace_trampoline, or null if the module has none. */
  readonly plt: bigint | null;
}

export const DEFAULT_MODULE_TEXT_SIZE = 0x200000n;

export interface FunctionLayout {
  readonly name: string;
  /** The function symbol: 8-byte aligned. */
  readonly addr: bigint;
  readonly module: string | null;
  readonly bti: boolean;
}

export interface TrampolineLayout {
  readonly name: string;
  readonly addr: bigint;
}

export interface Layout {
  /** CONFIG_ARM64_BTI_KERNEL: functions start with BTI C and all text is guarded. */
  readonly bti: boolean;
  readonly kernel: KernelSymbols;
  readonly modules: ReadonlyArray<ModuleLayout>;
  readonly functions: ReadonlyArray<FunctionLayout>;
  readonly trampolines: ReadonlyArray<TrampolineLayout>;
}

export class LayoutError extends ModelInputError {}

/** The patch-site of one function, as the addresses that matter. */
export interface PatchSite {
  /** The 8-byte literal (two pre-function NOPs when compiled). */
  readonly literal: bigint;
  /** The instruction that becomes MOV X9, X30. */
  readonly movInsn: bigint;
  /** rec->ip: the instruction that becomes BL. */
  readonly ip: bigint;
  /** First instruction of the body proper. */
  readonly body: bigint;
}

/** ftrace_call_adjust: the compiler records the first pre-function NOP; rec->ip is the NOP that becomes BL. */
export function ftrace_call_adjust(recorded: bigint, btiAtEntry: boolean): bigint {
  if (recorded % 8n !== 0n) throw new LayoutError(`misaligned patch-site ${toHex(recorded)}: the literal slot must be 8-byte aligned`);
  return recorded + 2n * AARCH64_INSN_SIZE + (btiAtEntry ? AARCH64_INSN_SIZE : 0n) + AARCH64_INSN_SIZE;
}

/** ftrace_rec_set_ops: the literal is ALIGN_DOWN(rec->ip - 12, 8), with or without BTI. */
export function literalAddr(ip: bigint): bigint {
  const a = ip - 12n;
  return a - (a % 8n + 8n) % 8n;
}

/** ftrace_caller's `bic x11, x30, #7; ldr x11, [x11, #-16]`: the literal from LR = rec->ip + 4. */
export function literalFromLr(lr: bigint): bigint {
  return (lr & ~7n) - 16n;
}

export function patchSite(fn: FunctionLayout): PatchSite {
  const ip = ftrace_call_adjust(fn.addr - 8n, fn.bti);
  return { literal: literalAddr(ip), movInsn: ip - 4n, ip, body: ip + 4n };
}

export function moduleOf(layout: Layout, fn: FunctionLayout): ModuleLayout | undefined {
  // Stryker disable next-line ConditionalExpression: a module name is a string, so searching for module null finds none either way
  if (fn.module === null) return undefined;
  return layout.modules.find((m) => m.name === fn.module);
}

/** within_module_mem_type(addr, mod, MOD_INIT_TEXT) */
export function withinModuleInitText(m: ModuleLayout, addr: bigint): boolean {
  const init = m.init ?? null;
  return init !== null && addr >= init.text && addr < init.text + init.textSize;
}

/** within_module_mem_type(addr, mod, MOD_TEXT) */
export function withinModuleCoreText(m: ModuleLayout, addr: bigint): boolean {
  return addr >= m.text && addr < m.text + m.textSize;
}

/** __module_text_address: the module whose text (core or init) holds addr. */
export function moduleTextAt(layout: Layout, addr: bigint): ModuleLayout | undefined {
  return layout.modules.find((m) => withinModuleCoreText(m, addr) || withinModuleInitText(m, addr));
}

export function withinKernelText(k: KernelSymbols, addr: bigint): boolean {
  return addr >= k.text && addr < k.text + k.textSize;
}

/** Bytes ftrace_caller and ftrace_stub_direct_tramp occupy: the model's listings fit these; a binary says its own. */
export interface CodeSpans {
  readonly ftraceCaller: bigint;
  readonly stubDirectTramp: bigint;
  /** A module's ftrace PLT area: one 12-byte entry (16 reserved), or two with WITH_REGS (FTRACE_REGS_PLT_IDX). */
  readonly pltSpan?: bigint;
  /** sizeof(struct ftrace_ops) in the build (the kernel's own ftrace_nop_ops and ftrace_list_ops), if not the model's. */
  readonly opsSpan?: bigint;
}

export const LISTING_SPANS: CodeSpans = { ftraceCaller: 0x200n, stubDirectTramp: 0x10n };

/** struct plt_entry: ADRP, ADD, BR (12 bytes); entry i of a module's ftrace PLTs is at plt + 12 * i. */
export const PLT_ENTRY_SIZE = 12n;

/** Checks what the kernel would refuse or what cannot be laid out; throws LayoutError with one line. */
export function validateLayout(layout: Layout, code: CodeSpans = LISTING_SPANS): void {
  const names = new Set<string>();
  const claim = (name: string, what: string): void => {
    if (names.has(name)) throw new LayoutError(`duplicate name "${name}" (${what})`);
    names.add(name);
  };
  for (const m of layout.modules) {
    claim(m.name, "module");
    if (m.text % 4096n !== 0n) throw new LayoutError(`module ${m.name}: text ${toHex(m.text)} is not page aligned`);
    // The kernel puts the ftrace PLT at any instruction boundary (seen at ...d54 in Debian's 6.12): 4-byte aligned.
    if (m.plt !== null && m.plt % 4n !== 0n) throw new LayoutError(`module ${m.name}: PLT ${toHex(m.plt)} is not 4-byte aligned`);
    const init = m.init ?? null;
    if (init !== null) {
      if (init.text % 4096n !== 0n) throw new LayoutError(`module ${m.name}: init text ${toHex(init.text)} is not page aligned`);
      if (init.plt !== null && init.plt % 4n !== 0n) throw new LayoutError(`module ${m.name}: init PLT ${toHex(init.plt)} is not 4-byte aligned`);
      if (init.text < m.text + m.textSize && m.text < init.text + init.textSize) throw new LayoutError(`module ${m.name}: init text ${toHex(init.text)} overlaps its text`);
    }
  }
  // Stryker disable next-line ArrayDeclaration: a non-span first element has no lo, so it compares equal to every span and V8's sort leaves it first; `lo < undefined` is false, so it neither reports nor hides an overlap
  const spans: Array<{ name: string; lo: bigint; hi: bigint }> = [];
  for (const f of layout.functions) {
    claim(f.name, "function");
    if (f.addr % 8n !== 0n) throw new LayoutError(`function ${f.name}: symbol ${toHex(f.addr)} is not 8-byte aligned`);
    // -fpatchable-function-entry=4,2 puts the two pre-entry NOPs (the CALL_OPS literal) before the symbol in the
    // same section, so a function begins at least 8 bytes into its text: one at the very start would have its
    // literal below the text, which no compiler lays out.
    const preEntry = (start: bigint, what: string): void => {
      if (f.addr - 8n < start) throw new LayoutError(`function ${f.name}: ${toHex(f.addr)} is at the start of ${what}, but its 8 bytes of pre-entry NOPs (the CALL_OPS literal) come first in that section: place it at ${toHex(start + 8n)} or later`);
    };
    if (f.module === null) {
      if (!withinKernelText(layout.kernel, f.addr)) throw new LayoutError(`function ${f.name}: ${toHex(f.addr)} is outside kernel text`);
      preEntry(layout.kernel.text, "kernel text");
    } else {
      const m = moduleOf(layout, f);
      if (m === undefined) throw new LayoutError(`function ${f.name}: unknown module "${f.module}"`);
      if (withinModuleCoreText(m, f.addr)) preEntry(m.text, `module ${m.name}'s text`);
      else if (withinModuleInitText(m, f.addr)) preEntry(m.init!.text, `module ${m.name}'s init text`);
      else throw new LayoutError(`function ${f.name}: ${toHex(f.addr)} is outside module ${m.name}'s text`);
    }
    spans.push({ name: f.name, lo: f.addr - 8n, hi: f.addr + 16n });
  }
  for (const t of layout.trampolines) {
    claim(t.name, "trampoline");
    if (t.addr % 4n !== 0n) throw new LayoutError(`trampoline ${t.name}: ${toHex(t.addr)} is not 4-byte aligned`);
    spans.push({ name: t.name, lo: t.addr, hi: t.addr + TRAMPOLINE_SPAN });
  }
  const k = layout.kernel;
  spans.push({ name: "ftrace_caller", lo: k.ftrace_caller, hi: k.ftrace_caller + code.ftraceCaller });
  spans.push({ name: "ftrace_stub_direct_tramp", lo: k.ftrace_stub_direct_tramp, hi: k.ftrace_stub_direct_tramp + code.stubDirectTramp });
  spans.push({ name: "ftrace_list_ops", lo: k.ftrace_list_ops, hi: k.ftrace_list_ops + (code.opsSpan ?? OPS_SPAN) });
  spans.push({ name: "ftrace_nop_ops", lo: k.ftrace_nop_ops, hi: k.ftrace_nop_ops + (code.opsSpan ?? OPS_SPAN) });
  spans.push({ name: "the C helpers", lo: k.ctext, hi: k.ctext + CTEXT_SPAN });
  // ftrace_list_end, tmp_ops, the ftrace_ops_list head, and fgraph's graph_ops.
  spans.push({ name: "static ops data", lo: k.data, hi: k.data + 4n * OPS_SPAN });
  spans.push({ name: "the heap", lo: k.heap, hi: k.heap + HEAP_SPAN });
  spans.push({ name: "the stack", lo: k.stackTop - STACK_SPAN, hi: k.stackTop });
  spans.push({ name: "the caller", lo: k.callerReturn - 4n, hi: k.callerReturn + 4n });
  for (const m of layout.modules) {
    if (m.plt !== null) spans.push({ name: `${m.name}.ftrace_plt`, lo: m.plt, hi: m.plt + (code.pltSpan ?? 16n) });
    const initPlt = m.init?.plt ?? null;
    if (initPlt !== null) spans.push({ name: `${m.name}.init_ftrace_plt`, lo: initPlt, hi: initPlt + 16n });
  }
  spans.sort((a, b) => {
    if (a.lo < b.lo) return -1;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: V8's sort (TimSort) only tests compare(a, b) < 0, so returning 1 or 0 here gives the same order
    return a.lo > b.lo ? 1 : 0;
  });
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    if (cur.lo < prev.hi) throw new LayoutError(`${cur.name} at ${toHex(cur.lo)} overlaps ${prev.name}`);
  }
}

/** Address space the model reserves for its own objects; scenario objects may not overlap them. */
export const OPS_SPAN = FTRACE_OPS_SIZE;
export const CTEXT_SPAN = 0x10000n;
export const HEAP_SPAN = 0x100000n;
export const STACK_SPAN = 0x10000n;

/**
 * Bytes a test trampoline occupies: its 17 words, then its C helper (16 bytes at 0x48). Small enough for the
 * kernel's own placement: Debian 6.12 puts one-program BPF trampoline images 0xc0 apart (dispatch-spec kernel).
 */
export const TRAMPOLINE_SPAN = 0x60n;
