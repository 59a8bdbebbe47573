// fast-check arbitraries for the world a run happens in: 1-6 functions in kernel text and in up to two modules
// (near the kernel, or far enough to need the module's ftrace PLT; with scope `module-init-text`, each module also
// has init text, near its text or out of BL range of it, holding some of its functions), with and without BTI C, and 1-4 direct
// trampolines biased to the BL-range edges around each function (-128 MiB, -128 MiB +/- 4, +128 MiB - 4,
// +128 MiB), far away, inside module text, or ordinary. Values come out in scenario-file form.

import fc from "fast-check";
import { toHex } from "../model/insn.ts";
import type { ScopeExtension } from "../model/kernel.ts";
import { DEFAULT_KERNEL, DEFAULT_MODULE_TEXT_SIZE, validateLayout, type Layout } from "../model/layout.ts";

export const KERNEL_TEXT = DEFAULT_KERNEL.text;
const MiB = 0x100000n;
const SZ_128M = 128n * MiB;

/** Where a module's text may sit: two near the kernel (ftrace_caller in BL range), two far (PLT needed). */
export const MODULE_BASES = {
  near: [KERNEL_TEXT - 64n * MiB, KERNEL_TEXT - 96n * MiB],
  far: [0xffff800080000000n, 0xffff800090000000n],
} as const;

/**
 * Where a module's init text sits from its text (scope `module-init-text`): just after it, or 132 MiB on, out of
 * BL range of the core text's ftrace PLT (the 2 GiB module area of 3e35d303ab7d allows both).
 */
export const INIT_TEXT_OFFSETS = { near: 4n * MiB, far: 132n * MiB } as const;

/** Function slots in a module's text (0x200 apart, below the module-text trampolines at +1 MiB). */
const MODULE_SLOTS = 400;

export const FUNCTION_NAMES = ["f", "g", "h", "p", "q", "r"] as const;

export interface ModuleSpec {
  readonly name: string;
  readonly text: string;
  readonly plt: true;
  readonly init?: { readonly text: string; readonly plt: true };
}
export interface FunctionSpec {
  readonly name: string;
  readonly addr: string;
  readonly module?: string;
  readonly bti: boolean;
}
export interface TrampolineSpec {
  readonly name: string;
  readonly addr: string;
}
export interface LayoutSpec {
  readonly config: { readonly bti: boolean };
  readonly modules: ReadonlyArray<ModuleSpec>;
  readonly functions: ReadonlyArray<FunctionSpec>;
  readonly trampolines: ReadonlyArray<TrampolineSpec>;
}

/** Offsets from a function's rec->ip at which a trampoline tests the BL range. */
export const EDGE_OFFSETS = {
  "-128M-4": -SZ_128M - 4n,
  "-128M": -SZ_128M,
  "-128M+4": -SZ_128M + 4n,
  "+128M-4": SZ_128M - 4n,
  "+128M": SZ_128M,
} as const;
export type EdgeName = keyof typeof EDGE_OFFSETS;
export type TrampolineClass = EdgeName | "far" | "module-text" | "ordinary";
export const TRAMPOLINE_CLASSES: ReadonlyArray<TrampolineClass> = [...(Object.keys(EDGE_OFFSETS) as EdgeName[]), "far", "module-text", "ordinary"];

type TrampolineChoice = { readonly cls: TrampolineClass; readonly fn: number; readonly n: number };

type ModuleChoice = { readonly far: boolean; readonly init?: "near" | "far" };
type FunctionChoice = { readonly region: number; readonly slot: number; readonly bti: boolean; readonly init?: boolean };

const moduleArb: fc.Arbitrary<ModuleChoice> = fc.record({ far: fc.boolean() });
const functionArb: fc.Arbitrary<FunctionChoice> = fc.record({ region: fc.nat({ max: 2 }), slot: fc.nat({ max: 4000 }), bti: fc.boolean() });
/** The same draws, then the init-text choices (scope `module-init-text`). */
const moduleInitArb: fc.Arbitrary<ModuleChoice> = fc.record({ far: fc.boolean(), init: fc.constantFrom<"near" | "far">("near", "far") });
const functionInitArb: fc.Arbitrary<FunctionChoice> = fc.record({ region: fc.nat({ max: 2 }), slot: fc.nat({ max: 4000 }), bti: fc.boolean(), init: fc.boolean() });
const trampolineArb: fc.Arbitrary<TrampolineChoice> = fc.record({
  cls: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom<TrampolineClass>(...(Object.keys(EDGE_OFFSETS) as EdgeName[])) },
    { weight: 2, arbitrary: fc.constant<TrampolineClass>("far") },
    { weight: 1, arbitrary: fc.constant<TrampolineClass>("module-text") },
    { weight: 2, arbitrary: fc.constant<TrampolineClass>("ordinary") },
  ),
  fn: fc.nat({ max: 5 }),
  n: fc.nat({ max: 7 }),
});

/** rec->ip of a function (BL after MOV, after an optional BTI C). */
function ipOf(f: FunctionSpec): bigint {
  return BigInt(f.addr) + (f.bti ? 8n : 4n);
}

function toLayout(s: LayoutSpec): Layout {
  return {
    bti: s.config.bti,
    kernel: DEFAULT_KERNEL,
    modules: s.modules.map((m) => ({
      name: m.name,
      text: BigInt(m.text),
      textSize: DEFAULT_MODULE_TEXT_SIZE,
      plt: BigInt(m.text) + DEFAULT_MODULE_TEXT_SIZE,
      ...(m.init !== undefined ? { init: { text: BigInt(m.init.text), textSize: DEFAULT_MODULE_TEXT_SIZE, plt: BigInt(m.init.text) + DEFAULT_MODULE_TEXT_SIZE } } : {}),
    })),
    functions: s.functions.map((f) => ({ name: f.name, addr: BigInt(f.addr), module: f.module ?? null, bti: f.bti })),
    trampolines: s.trampolines.map((t) => ({ name: t.name, addr: BigInt(t.addr) })),
  };
}

function fits(s: LayoutSpec): boolean {
  try {
    validateLayout(toLayout(s));
    return true;
  } catch {
    return false;
  }
}

function build(bti: boolean, mods: ReadonlyArray<ModuleChoice>, fns: ReadonlyArray<FunctionChoice>, tramps: ReadonlyArray<TrampolineChoice>): LayoutSpec {
  const modules: ModuleSpec[] = mods.map((m, i) => {
    const text = (m.far ? MODULE_BASES.far : MODULE_BASES.near)[i]!;
    return { name: `m${i + 1}`, text: toHex(text), plt: true, ...(m.init !== undefined ? { init: { text: toHex(text + INIT_TEXT_OFFSETS[m.init]), plt: true } } : {}) };
  });
  const used = new Set<string>();
  const functions: FunctionSpec[] = [];
  for (const f of fns) {
    const region = f.region === 0 || modules.length === 0 ? 0 : ((f.region - 1) % modules.length) + 1;
    const slot = region === 0 ? f.slot : f.slot % MODULE_SLOTS;
    const m = region === 0 ? undefined : modules[region - 1]!;
    const inInit = m?.init !== undefined && f.init === true;
    const key = `${region}:${inInit}:${slot}`;
    if (used.has(key)) continue;
    used.add(key);
    const name = FUNCTION_NAMES[functions.length]!;
    if (region === 0) {
      // The upper half of kernel text; the lower half holds ftrace_caller and the model's C helpers.
      functions.push({ name, addr: toHex(KERNEL_TEXT + 0x1000000n + BigInt(f.slot) * 0x1000n), bti: f.bti });
    } else if (m !== undefined) {
      const base = inInit && m.init !== undefined ? m.init.text : m.text;
      functions.push({ name, addr: toHex(BigInt(base) + 0x1000n + BigInt(slot) * 0x200n), module: m.name, bti: f.bti });
    }
  }
  let spec: LayoutSpec = { config: { bti }, modules, functions, trampolines: [] };
  for (const t of tramps) {
    const addr = trampolineAddr(spec, t);
    const name = `T${spec.trampolines.length + 1}`;
    const next: LayoutSpec = { ...spec, trampolines: [...spec.trampolines, { name, addr: toHex(addr) }] };
    if (fits(next)) spec = next;
  }
  validateLayout(toLayout(spec));
  return spec;
}

function trampolineAddr(s: LayoutSpec, t: TrampolineChoice): bigint {
  const f = s.functions[t.fn % s.functions.length]!;
  const n = BigInt(t.n);
  switch (t.cls) {
    case "far":
      return 0xffff8000c0000000n + n * 0x1000n;
    case "module-text": {
      const m = s.modules[t.n % Math.max(1, s.modules.length)];
      if (m !== undefined) return BigInt(m.text) + 0x100000n + n * 0x400n;
      return KERNEL_TEXT + 0x2100000n + n * 0x400n;
    }
    case "ordinary":
      return KERNEL_TEXT + 0x2100000n + n * 0x400n;
    default:
      return ipOf(f) + EDGE_OFFSETS[t.cls];
  }
}

/** A layout in scenario form, reaching the given scope extensions; always valid (trampolines that would overlap something are left out). */
export function layoutArbFor(scope: ReadonlyArray<ScopeExtension> = []): fc.Arbitrary<LayoutSpec> {
  const initText = scope.includes("module-init-text");
  return fc
    .tuple(
      fc.boolean(),
      fc.array(initText ? moduleInitArb : moduleArb, { maxLength: 2 }),
      fc.array(initText ? functionInitArb : functionArb, { minLength: 1, maxLength: 6 }),
      fc.array(trampolineArb, { minLength: 1, maxLength: 4 }),
    )
    .map(([bti, mods, fns, tramps]) => build(bti, mods, fns, tramps));
}

/** The default world's layouts. */
export const layoutArb: fc.Arbitrary<LayoutSpec> = layoutArbFor();

/** Which classes a trampoline address falls in, judged from the final layout (not from how it was drawn). */
export function classifyAddress(layout: Layout, addr: bigint): TrampolineClass[] {
  const out = new Set<TrampolineClass>();
  const ips = layout.functions.map((f) => f.addr + (f.bti ? 8n : 4n));
  for (const ip of ips) {
    const d = addr - ip;
    for (const [name, off] of Object.entries(EDGE_OFFSETS) as Array<[EdgeName, bigint]>) if (d === off) out.add(name);
  }
  if (layout.modules.some((m) => addr >= m.text && addr < m.text + m.textSize)) out.add("module-text");
  if (!ips.some((ip) => addr - ip >= -SZ_128M && addr - ip < SZ_128M)) out.add("far");
  if (out.size === 0) out.add("ordinary");
  return [...out];
}

/** The same, for a layout in scenario form. */
export function classify(s: LayoutSpec, addr: bigint): TrampolineClass[] {
  return classifyAddress(toLayout(s), addr);
}
