// Scenario files (../shared/SCENARIO.md): the schema, the layout they describe, and running their steps on the
// model. Pure: takes parsed JSON, returns per-step results; reading files and printing belong to cli/.
// Each API step stands for what a kernel user writes: ftrace_set_filter (and _notrace) on the ops, then the
// register call, exactly as the samples in samples/ftrace do.

import { z } from "zod";
import { boot, opsByName } from "./boot.ts";
import {
  ftrace_set_filter,
  hashEmpty,
  ftrace_set_notrace,
  modify_ftrace_direct,
  register_ftrace_direct,
  register_ftrace_function,
  unregister_ftrace_direct,
  unregister_ftrace_function,
  ftrace_startup_subops,
  ftrace_shutdown_subops,
  SINGLE_DIRECT_OPS,
  update_ftrace_direct_add,
  update_ftrace_direct_del,
  update_ftrace_direct_mod,
} from "./core.ts";
import { ERRNO, errName, type Ret } from "./errno.ts";
import { callFunction, violationMessages, type CallObservation, type Path } from "./exec.ts";
import { FTRACE_OPS_FL, STEP_FLAGS, USER_OPS_FLAGS, formatRecFlags, hasFlag } from "./flags.ts";
import { InsnError, decode, disasm, toHex } from "./insn.ts";
import type { DynFtrace, FtraceOps, Kernel, KernelEvent, OpsKind } from "./kernel.ts";
import { hasCallOps, symbolize } from "./kernel.ts";
import { DEFAULT_KERNEL, DEFAULT_MODULE_TEXT_SIZE, LayoutError, literalAddr, type KernelSymbols, type Layout } from "./layout.ts";
import { variantByName, VARIANT_NAMES } from "./variants/index.ts";
import { ModelInputError } from "./errors.ts";

export class ScenarioError extends ModelInputError {}

const HEX = /^0x[0-9a-fA-F]{1,16}$/;
const SCHEDULE_ENTRY = /^(updater|cpu([1-9]))(?: x([1-9][0-9]{0,3}))?$/;

/** The schedule as actor ids per tick: 0 = updater, i = CPU i. */
export function scheduleTicks(entries: ReadonlyArray<string>): number[] {
  return entries.flatMap((e) => {
    const m = SCHEDULE_ENTRY.exec(e);
    if (m === null) throw new ScenarioError(`schedule: bad entry "${e}"`);
    const actor = m[1] === "updater" ? 0 : Number(m[2]);
    return Array.from({ length: m[3] === undefined ? 1 : Number(m[3]) }, () => actor);
  });
}

/** Segments (actor, count) as schedule entries. */
export function scheduleEntries(segments: ReadonlyArray<readonly [number, number]>): string[] {
  return segments.map(([a, n]) => `${a === 0 ? "updater" : `cpu${a}`}${n > 1 ? ` x${n}` : ""}`);
}
const hexAddr = z.string().regex(HEX, "expected a hex address like 0xffff800008010008");
const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "expected a name (letters, digits, _ . -)");
/** A trampoline by name, or by a 64-bit hex address (a "0x" string that is not one is refused as such). */
const nameOrAddr = z
  .string()
  .min(1)
  .refine((v) => !/^0x/i.test(v) || HEX.test(v), { message: "not a 64-bit address: expected 0x and 1 to 16 hex digits" });
const fnList = z.array(name);
const flag = z.enum(STEP_FLAGS);

const expectCall = z
  .object({
    path: z.enum(["untraced", "direct-bl", "caller-direct", "caller-ops", "caller-list", "caller-nop"]).optional(),
    handlers: z.array(z.string()).optional(),
    tramp: z.string().nullable().optional(),
    body: z.number().int().optional(),
    returned: z.boolean().optional(),
    violations: z.array(z.string()).optional(),
  })
  .strict();

const siteExpect = z.object({ literal: z.string().optional(), insn: z.string().optional() }).strict();
type SiteExpect = z.infer<typeof siteExpect>;

/**
 * expect.sites: function name -> what its site must show. Not a z.record: that rebuilds the object by assignment,
 * and a key "__proto__" (a valid function name) would set the prototype and vanish, so its expectation would pass
 * unjudged. The object is copied with its own keys kept (Object.fromEntries defines them), each value checked.
 */
const sitesExpect = z.preprocess(
  (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v)) : v),
  z
    .custom<Record<string, SiteExpect>>((v) => v !== null && typeof v === "object" && !Array.isArray(v), "expected an object from function names to {literal, insn}")
    .superRefine((v, ctx) => {
      for (const [fn, want] of Object.entries(v)) {
        const r = siteExpect.safeParse(want);
        if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: "custom", message: i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.map((x) => `"${x}"`).join(", ")}` : i.message, path: [fn, ...i.path] });
      }
    }),
);

const expectApi = z
  .object({
    ret: z.union([z.literal(0), z.string().regex(/^-E[A-Z]+$/)]).optional(),
    sites: sitesExpect.optional(),
  })
  .strict();

const opsStep = { ops: name };
const stepSchema = z.discriminatedUnion("do", [
  z
    .object({
      do: z.literal("register_ftrace_function"),
      ...opsStep,
      filter: fnList.default([]),
      notrace: fnList.default([]),
      flags: z
        .array(flag)
        .default([])
        .refine((fs) => !fs.includes("SUBOP") || fs.length === 1, "SUBOP registers an fgraph subops and takes no other flag"),
      expect: expectApi.optional(),
    })
    .strict(),
  z.object({ do: z.literal("unregister_ftrace_function"), ...opsStep, expect: expectApi.optional() }).strict(),
  z.object({ do: z.literal("ftrace_set_filter"), ...opsStep, filter: fnList, expect: expectApi.optional() }).strict(),
  z.object({ do: z.literal("ftrace_set_notrace"), ...opsStep, notrace: fnList, expect: expectApi.optional() }).strict(),
  z.object({ do: z.literal("register_ftrace_direct"), ...opsStep, filter: fnList, addr: nameOrAddr, expect: expectApi.optional() }).strict(),
  z
    .object({
      do: z.literal("unregister_ftrace_direct"),
      ...opsStep,
      addr: nameOrAddr.optional(),
      free_filters: z.boolean().default(true),
      expect: expectApi.optional(),
    })
    .strict(),
  z.object({ do: z.literal("modify_ftrace_direct"), ...opsStep, addr: nameOrAddr, expect: expectApi.optional() }).strict(),
  z.object({ do: z.literal("call"), fn: name, expect: expectCall.optional() }).strict(),
]);

const kernelSchema = z
  .object({
    text: hexAddr,
    text_size: hexAddr,
    ftrace_caller: hexAddr,
    ftrace_stub_direct_tramp: hexAddr,
    ftrace_list_ops: hexAddr,
    ftrace_nop_ops: hexAddr,
  })
  .partial()
  .strict();



/**
 * Where a report or a counterexample came from: the suite (package version, git commit, whether the tree had
 * uncommitted changes, a hash of model/'s source), the tools (Node, fast-check), and the run (design, seed, runs per
 * cell, wall time, runs/s and states/s, where a state is one API step judged).
 */
export const provenanceSchema = z
  .object({
    version: z.string(),
    commit: z.string(),
    dirty: z.boolean(),
    modelHash: z.string(),
    node: z.string(),
    fastCheck: z.string(),
    design: z.string(),
    seed: z.number().int(),
    runs: z.number().int().nonnegative(),
    wallMs: z.number().nonnegative(),
    runsPerSec: z.number().nonnegative(),
    statesPerSec: z.number().nonnegative(),
    createdAt: z.string(),
    /** The --design files the run's designs came from (the file as given, a SHA-256 of its text). */
    designFiles: z.array(z.object({ name: z.string(), file: z.string(), sha256: z.string() }).strict()).optional(),
  })
  .strict();
export type Provenance = z.infer<typeof provenanceSchema>;
export const scenarioSchema = z
  .object({
    $schema: z.string().optional(),
    description: z.string().optional(),
    variant: z.string().default("upstream"),
    config: z.object({ bti: z.boolean().default(false) }).strict().default({ bti: false }),
    kernel: kernelSchema.default({}),
    modules: z
      .array(
        z
          .object({
            name,
            text: hexAddr,
            size: hexAddr.optional(),
            plt: z.union([z.boolean(), hexAddr]).default(true),
            init: z.object({ text: hexAddr, size: hexAddr.optional(), plt: z.union([z.boolean(), hexAddr]).default(true) }).strict().optional(),
          })
          .strict(),
      )
      .default([]),
    functions: z.array(z.object({ name, addr: hexAddr, module: name.optional(), bti: z.boolean().optional() }).strict()).min(1),
    trampolines: z.array(z.object({ name, addr: hexAddr }).strict()).default([]),
    steps: z.array(stepSchema),
    /**
     * For `dispatch-spec kernel` only (kernel/guest.ts): how the guest makes the scenario's ops real (direct ops as
     * BPF programs or dsmod's; ordinary ops as tracer instances or dsmod's) and which dsmod ops run the recursion
     * probe. The model ignores it.
     */
    guest: z
      .object({
        direct: z.enum(["bpf", "dsmod"]).optional(),
        ordinary: z.enum(["instance", "dsmod"]).optional(),
        probe: z.array(name).optional(),
      })
      .strict()
      .optional(),
    /** Concurrent scenarios: the functions each CPU calls, in order (steps then hold only API calls). */
    cpus: z.array(z.array(name).min(1)).min(1).max(4).optional(),
    /** Who moves at each tick: "updater x3", "cpu2 x5" (" xN" repeats; default 1). */
    schedule: z.array(z.string().regex(SCHEDULE_ENTRY, 'expected "updater", "cpuN", optionally followed by " xN"')).optional(),
    counterexample: z
      .object({
        /** What made it: the suite's version and commit, the model's source hash, the run (reports/provenance.ts). */
        provenance: provenanceSchema.optional(),
        property: z.string(),
        variant: z.string().optional(),
        seed: z.number().int(),
        path: z.string(),
        message: z.string(),
        /** The recorded outcome a corpus file must keep: the property still fails (default) or now holds. */
        outcome: z.enum(["fails", "holds"]).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;
export type Step = Scenario["steps"][number];

function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") || "(top level)";
}

/** Validate parsed JSON as a scenario; throws ScenarioError with one line naming the key. */
/**
 * The limits a scenario is held to before any work starts (README, "Limits"): far beyond any scenario people write
 * or the generators make, low enough that a hostile file cannot make a run take minutes or exhaust memory.
 */
export const SCENARIO_LIMITS = { steps: 10_000, functions: 64, modules: 16, trampolines: 64, scheduleEntries: 10_000, scheduleTicks: 20_000 } as const;

/** The limits, checked on the raw JSON (before the schema walks it): one ScenarioError naming the limit and value. */
function checkLimits(json: unknown): void {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return;
  const o = json as Record<string, unknown>;
  const count = (key: "steps" | "functions" | "modules" | "trampolines", limit: number): void => {
    const v = o[key];
    if (Array.isArray(v) && v.length > limit) throw new ScenarioError(`${key}: at most ${limit} ${key}, got ${v.length}`);
  };
  count("steps", SCENARIO_LIMITS.steps);
  count("functions", SCENARIO_LIMITS.functions);
  count("modules", SCENARIO_LIMITS.modules);
  count("trampolines", SCENARIO_LIMITS.trampolines);
  const sched = o["schedule"];
  if (!Array.isArray(sched)) return;
  if (sched.length > SCENARIO_LIMITS.scheduleEntries) throw new ScenarioError(`schedule: at most ${SCENARIO_LIMITS.scheduleEntries} entries, got ${sched.length}`);
  let ticks = 0;
  for (const e of sched) {
    const m = typeof e === "string" ? SCHEDULE_ENTRY.exec(e) : null;
    ticks += m === null ? 1 : m[3] === undefined ? 1 : Number(m[3]);
  }
  if (ticks > SCENARIO_LIMITS.scheduleTicks) throw new ScenarioError(`schedule: at most ${SCENARIO_LIMITS.scheduleTicks} ticks in all, got ${ticks}`);
}

/**
 * Parse and check a scenario file's JSON. With `on` (run/replay --variant) the scenario and its counterexample are
 * taken to that design first, so the file's own design need not be known here (one made with --design FILE).
 */
export function parseScenario(json: unknown, on?: string): Scenario {
  checkLimits(json);
  const r = scenarioSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    if (first === undefined) throw new ScenarioError("invalid scenario");
    const where = issuePath(first.path);
    const what = first.code === "unrecognized_keys" ? `unknown key(s) ${first.keys.map((x) => `"${x}"`).join(", ")}` : first.message;
    throw new ScenarioError(`${where}: ${what}`);
  }
  const s = on === undefined ? r.data : { ...r.data, variant: on, ...(r.data.counterexample !== undefined ? { counterexample: { ...r.data.counterexample, variant: on } } : {}) };
  if (variantByName(s.variant) === undefined) {
    // A design read from a binary, or loaded from a file of the user's, exists only in the run that read it.
    const hint = s.variant.startsWith("entry:") ? "; it was read from a binary: give that file again with --entry FILE" : ` (known: ${VARIANT_NAMES.join(", ")}; a design of your own: give its file with --design FILE)`;
    throw new ScenarioError(`variant: unknown variant "${s.variant}"${hint}`);
  }
  checkNames(s);
  checkExpectations(s);
  checkConcurrent(s);
  return s;
}

/**
 * Everything an expectation names is in the scenario: a function (expect.sites), an ops some step uses
 * (expect.handlers), a trampoline (expect.tramp). A name that names nothing could never be judged, so it is an error.
 */
function checkExpectations(s: Scenario): void {
  const fns = new Set(s.functions.map((f) => f.name));
  const ops = new Set(s.steps.flatMap((st) => ("ops" in st ? [st.ops] : [])));
  const tramps = new Set([...s.trampolines.map((t) => t.name), "ftrace_stub_direct_tramp"]);
  s.steps.forEach((st, i) => {
    if (st.do === "call") {
      for (const h of st.expect?.handlers ?? []) if (!ops.has(h)) throw new ScenarioError(`steps[${i}].expect.handlers: ${JSON.stringify(h)} names no ops of the scenario's steps`);
      const t = st.expect?.tramp;
      if (t !== undefined && t !== null && !tramps.has(t)) throw new ScenarioError(`steps[${i}].expect.tramp: ${JSON.stringify(t)} names no trampoline of the scenario`);
      return;
    }
    for (const fn of Object.keys(st.expect?.sites ?? {})) if (!fns.has(fn)) throw new ScenarioError(`steps[${i}].expect.sites: ${JSON.stringify(fn)} names no function of the scenario`);
  });
}

/** A concurrent scenario's CPUs call known functions, its steps are API calls only, its schedule names its CPUs. */
function checkConcurrent(s: Scenario): void {
  if (s.cpus === undefined) {
    if (s.schedule !== undefined) throw new ScenarioError(`schedule: a schedule needs "cpus"`);
    return;
  }
  const fns = new Set(s.functions.map((f) => f.name));
  s.cpus.forEach((calls, i) => calls.forEach((fn, j) => {
    if (!fns.has(fn)) throw new ScenarioError(`cpus[${i}][${j}]: unknown function "${fn}"`);
  }));
  const call = s.steps.findIndex((st) => st.do === "call");
  if (call >= 0) throw new ScenarioError(`steps[${call}]: a concurrent scenario's calls belong under "cpus"`);
  for (const a of scheduleTicks(s.schedule ?? [])) if (a > s.cpus.length) throw new ScenarioError(`schedule: cpu${a} does not exist (${s.cpus.length} cpus)`);
  // Owners free what they unregister: a freed ops or trampoline may not be used again.
  const registered = new Set<string>();
  const usedTramps = new Set<string>();
  s.steps.forEach((st, i) => {
    if (st.do === "register_ftrace_function" || st.do === "register_ftrace_direct") {
      if (registered.has(st.ops)) throw new ScenarioError(`steps[${i}]: ${st.ops} was registered before; in a concurrent scenario its owner frees it on unregister, so use a new ops`);
      registered.add(st.ops);
    }
    if ((st.do === "register_ftrace_direct" || st.do === "modify_ftrace_direct") && st.addr !== "ftrace_stub_direct_tramp") {
      if (usedTramps.has(st.addr)) throw new ScenarioError(`steps[${i}]: trampoline ${st.addr} was used before; in a concurrent scenario its owner frees it once unused, so use a new one`);
      usedTramps.add(st.addr);
    }
  });
}

const RESERVED = new Set(["ftrace_list_ops", "ftrace_nop_ops", "ftrace_list_end", "tmp_ops", "ftrace_caller", "ftrace_stub_direct_tramp"]);

/** Ops names must not clash with other names, and one name is one kind of ops throughout. */
function checkNames(s: Scenario): void {
  const fns = new Set(s.functions.map((f) => f.name));
  const tramps = new Set(s.trampolines.map((t) => t.name));
  const kinds = new Map<string, { kind: OpsKind; step: number }>();
  s.steps.forEach((st, i) => {
    const at = `steps[${i}]`;
    if (st.do === "call") {
      if (!fns.has(st.fn)) throw new ScenarioError(`${at}.fn: unknown function "${st.fn}"`);
      return;
    }
    if (RESERVED.has(st.ops) || fns.has(st.ops) || tramps.has(st.ops)) throw new ScenarioError(`${at}.ops: "${st.ops}" is already the name of a function, trampoline or kernel object`);
    const filters = "filter" in st ? st.filter : "notrace" in st ? st.notrace : [];
    for (const fn of [...filters, ...(st.do === "register_ftrace_function" ? st.notrace : [])]) {
      if (!fns.has(fn)) throw new ScenarioError(`${at}: unknown function "${fn}"`);
    }
    const kind: OpsKind | null = st.do === "register_ftrace_function" ? "ordinary" : st.do.includes("direct") ? "direct" : null;
    if (kind === null) return;
    const prev = kinds.get(st.ops);
    if (prev !== undefined && prev.kind !== kind)
      throw new ScenarioError(`${at}.ops: "${st.ops}" names ${article(prev.kind)} ops (steps[${prev.step}]); use another name for ${article(kind)} ops`);
    kinds.set(st.ops, { kind, step: i });
  });
}

function article(kind: OpsKind): string {
  return kind === "ordinary" ? "an ordinary" : `a ${kind}`;
}

function hex(s: string): bigint {
  return BigInt(s);
}

/** Trampolines named in steps by address but not declared get a test trampoline of their own. */
function impliedTrampolines(s: Scenario, kernel: KernelSymbols): Array<{ name: string; addr: bigint }> {
  const declared = new Set(s.trampolines.map((t) => t.name));
  const out = new Map<bigint, string>();
  s.steps.forEach((st, i) => {
    if (!("addr" in st) || st.addr === undefined) return;
    const a = st.addr;
    if (HEX.test(a)) {
      const v = hex(a);
      if (v % 4n !== 0n) throw new ScenarioError(`steps[${i}].addr: ${a} is not 4-byte aligned`);
      const known = s.trampolines.some((t) => hex(t.addr) === v) || v === kernel.ftrace_stub_direct_tramp || v === kernel.ftrace_caller;
      if (!known) out.set(v, `tramp_${a.toLowerCase().replace(/^0x/, "")}`);
    } else if (!declared.has(a) && a !== "ftrace_stub_direct_tramp" && a !== "ftrace_caller") {
      throw new ScenarioError(`steps[${i}].addr: unknown trampoline "${a}"`);
    }
  });
  return [...out].map(([addr, n]) => ({ name: n, addr }));
}

export function scenarioLayout(s: Scenario): Layout {
  const kk = s.kernel;
  const kernel: KernelSymbols = {
    ...DEFAULT_KERNEL,
    ...(kk.text !== undefined ? { text: hex(kk.text) } : {}),
    ...(kk.text_size !== undefined ? { textSize: hex(kk.text_size) } : {}),
    ...(kk.ftrace_caller !== undefined ? { ftrace_caller: hex(kk.ftrace_caller) } : {}),
    ...(kk.ftrace_stub_direct_tramp !== undefined ? { ftrace_stub_direct_tramp: hex(kk.ftrace_stub_direct_tramp) } : {}),
    ...(kk.ftrace_list_ops !== undefined ? { ftrace_list_ops: hex(kk.ftrace_list_ops) } : {}),
    ...(kk.ftrace_nop_ops !== undefined ? { ftrace_nop_ops: hex(kk.ftrace_nop_ops) } : {}),
  };
  for (const [key, v] of Object.entries(kernel)) if (v % 4n !== 0n) throw new ScenarioError(`kernel.${key}: ${toHex(v)} is not 4-byte aligned`);
  return {
    bti: s.config.bti,
    kernel,
    modules: s.modules.map((m) => {
      const core = textRegion(m);
      return { name: m.name, ...core, ...(m.init !== undefined ? { init: textRegion(m.init) } : {}) };
    }),
    functions: s.functions.map((f) => ({ name: f.name, addr: hex(f.addr), module: f.module ?? null, bti: f.bti ?? s.config.bti })),
    trampolines: [...s.trampolines.map((t) => ({ name: t.name, addr: hex(t.addr) })), ...impliedTrampolines(s, kernel)],
  };
}

/** A module's text region and its ftrace PLT (`plt: true` puts the PLT right after the text). */
function textRegion(r: { readonly text: string; readonly size?: string | undefined; readonly plt: boolean | string }): { text: bigint; textSize: bigint; plt: bigint | null } {
  const text = hex(r.text);
  const textSize = r.size !== undefined ? hex(r.size) : DEFAULT_MODULE_TEXT_SIZE;
  return { text, textSize, plt: r.plt === false ? null : r.plt === true ? text + textSize : hex(r.plt) };
}

/** What one patch-site holds, in the terms scenario files use. */
export interface SiteView {
  readonly fn: string;
  readonly literal: string;
  readonly insn: string;
  readonly mov: string;
  readonly flags: string;
}

/** A site's words and flags as read, before they are disassembled (cheap to take before every step). */
interface RawSite {
  readonly fn: string;
  readonly ip: bigint;
  readonly lit: bigint;
  readonly insn: number;
  readonly mov: number;
  readonly flags: number;
}

function rawSite(k: Kernel, rec: DynFtrace): RawSite {
  return { fn: rec.fn, ip: rec.ip, lit: k.mem.read64(literalAddr(rec.ip)), insn: k.mem.read32(rec.ip), mov: k.mem.read32(rec.ip - 4n), flags: rec.flags };
}

/** A site as reports show it; the disassembly is made when first read (most views are never printed). */
function viewOf(k: Kernel, r: RawSite): SiteView {
  const sym = (a: bigint): string | undefined => symbolize(k, a);
  let insn: string | undefined;
  let mov: string | undefined;
  return {
    fn: r.fn,
    literal: !hasCallOps(k.design) ? "none" : r.lit === 0xd503201fd503201fn ? "(nops)" : (k.symbols.get(r.lit) ?? toHex(r.lit)),
    get insn(): string {
      return (insn ??= disasm(decode(r.insn), r.ip, sym));
    },
    get mov(): string {
      return (mov ??= disasm(decode(r.mov), r.ip - 4n, sym));
    },
    flags: formatRecFlags(r.flags),
  };
}

export function siteView(k: Kernel, fn: string): SiteView {
  const rec = k.recs.find((r) => r.fn === fn);
  if (rec === undefined) throw new ScenarioError(`unknown function "${fn}"`);
  return viewOf(k, rawSite(k, rec));
}

export type ApiDo = Exclude<Step["do"], "call">;

export type StepResult =
  | {
      readonly step: number;
      readonly do: ApiDo;
      readonly ops: string;
      readonly ret: string | 0;
      readonly sites: ReadonlyArray<SiteView>;
      readonly before: ReadonlyArray<SiteView>;
      readonly events: ReadonlyArray<KernelEvent>;
      readonly failures: ReadonlyArray<string>;
    }
  | {
      readonly step: number;
      readonly do: "call";
      readonly fn: string;
      readonly path: Path;
      readonly handlers: ReadonlyArray<string>;
      readonly tramp: string | null;
      readonly body: number;
      readonly returned: boolean;
      readonly violations: ReadonlyArray<string>;
      readonly obs: CallObservation;
      readonly failures: ReadonlyArray<string>;
    };

function resolveAddr(k: Kernel, a: string): bigint {
  if (HEX.test(a)) return hex(a);
  if (a === "ftrace_stub_direct_tramp") return k.layout.kernel.ftrace_stub_direct_tramp;
  if (a === "ftrace_caller") return k.layout.kernel.ftrace_caller;
  const t = k.layout.trampolines.find((x) => x.name === a);
  if (t === undefined) throw new ScenarioError(`unknown trampoline "${a}"`);
  return t.addr;
}

function ipsOf(k: Kernel, fns: ReadonlyArray<string>): bigint[] {
  return fns.map((fn) => {
    const rec = k.recs.find((r) => r.fn === fn);
    if (rec === undefined) throw new ScenarioError(`unknown function "${fn}"`);
    return rec.ip;
  });
}

/**
 * ftrace_set_filter then ftrace_set_notrace, stopping at the first error (as a caller checking returns would). A
 * caller with nothing to exclude, and no earlier exclusions to clear, does not call ftrace_set_notrace at all (an
 * IPMODIFY ops may not: ftrace_hash_move refuses it any notrace hash).
 */
function setHashes(k: Kernel, ops: FtraceOps, filter: ReadonlyArray<string>, notrace: ReadonlyArray<string> | null): Ret {
  const r = ftrace_set_filter(k, ops, ipsOf(k, filter));
  if (r !== 0 || notrace === null) return r;
  if (notrace.length === 0 && hashEmpty(ops.funcHash.notrace)) return 0;
  return ftrace_set_notrace(k, ops, ipsOf(k, notrace));
}

/** Run one API step on the kernel: the ftrace calls a kernel user would make for it. */
export function applyApi(k: Kernel, st: Exclude<Step, { do: "call" }>): Ret {
  // Without DYNAMIC_FTRACE_WITH_DIRECT_CALLS the direct API is inline stubs returning -ENODEV.
  const directOnly = (): Ret | null => (k.design.directCalls ? null : -ERRNO.ENODEV);
  switch (st.do) {
    case "register_ftrace_function": {
      const ops = opsByName(k, st.ops, "ordinary");
      if (st.flags.includes("SUBOP")) {
        // register_ftrace_graph: the gops' hashes are set, then ftrace_startup_subops on fgraph's graph_ops.
        const r = setHashes(k, ops, st.filter, st.notrace);
        if (r !== 0) return r;
        return ftrace_startup_subops(k, k.graphOps, ops);
      }
      // The caller's own flag bits are what the step says, set in the ops' definition before any ftrace call sees
      // it; a live ops keeps its flags (registering it fails).
      if (!hasFlag(ops.flags, FTRACE_OPS_FL.ENABLED)) {
        for (const f of USER_OPS_FLAGS) ops.flags &= ~FTRACE_OPS_FL[f];
        for (const f of st.flags) if (f !== "SUBOP") ops.flags |= FTRACE_OPS_FL[f];
      }
      const r = setHashes(k, ops, st.filter, st.notrace);
      if (r !== 0) return r;
      return register_ftrace_function(k, ops);
    }
    case "unregister_ftrace_function": {
      const ops = opsByName(k, st.ops, "ordinary");
      // unregister_ftrace_graph for an ops registered as a subops.
      if (hasFlag(ops.flags, FTRACE_OPS_FL.SUBOP)) return ftrace_shutdown_subops(k, k.graphOps, ops);
      return unregister_ftrace_function(k, ops);
    }
    case "ftrace_set_filter":
      return ftrace_set_filter(k, opsFor(k, st.ops), ipsOf(k, st.filter));
    case "ftrace_set_notrace":
      return ftrace_set_notrace(k, opsFor(k, st.ops), ipsOf(k, st.notrace));
    case "register_ftrace_direct": {
      const refused = directOnly();
      if (refused !== null) return refused;
      if (k.switches.singleDirectOps) {
        // D's ip->trampoline pairs go into the one shared ops; D keeps only its functions, for del and mod.
        const d = opsByName(k, st.ops, "direct");
        if (!hashEmpty(d.funcHash.filter)) return -ERRNO.EINVAL;
        const ips: ReadonlySet<bigint> = new Set(ipsOf(k, st.filter));
        const r = update_ftrace_direct_add(k, opsByName(k, SINGLE_DIRECT_OPS, "direct"), ips, resolveAddr(k, st.addr));
        if (r === 0) d.funcHash.filter = ips;
        return r;
      }
      const ops = opsByName(k, st.ops, "direct");
      const r = setHashes(k, ops, st.filter, null);
      if (r !== 0) return r;
      return register_ftrace_direct(k, ops, resolveAddr(k, st.addr));
    }
    case "unregister_ftrace_direct": {
      const refused = directOnly();
      if (refused !== null) return refused;
      const ops = opsByName(k, st.ops, "direct");
      if (k.switches.singleDirectOps) {
        const r = update_ftrace_direct_del(k, opsByName(k, SINGLE_DIRECT_OPS, "direct"), ops.funcHash.filter);
        if (r === 0) ops.funcHash.filter = new Set();
        return r;
      }
      return unregister_ftrace_direct(k, ops, st.addr === undefined ? ops.direct_call : resolveAddr(k, st.addr), st.free_filters);
    }
    case "modify_ftrace_direct": {
      const refused = directOnly();
      if (refused !== null) return refused;
      if (k.switches.singleDirectOps) return update_ftrace_direct_mod(k, opsByName(k, SINGLE_DIRECT_OPS, "direct"), opsByName(k, st.ops, "direct").funcHash.filter, resolveAddr(k, st.addr));
      return modify_ftrace_direct(k, opsByName(k, st.ops, "direct"), resolveAddr(k, st.addr));
    }
  }
}

/** An ops named by a filter step: whichever kind it was created as, or a new ordinary one. */
function opsFor(k: Kernel, nm: string): FtraceOps {
  return k.ops.get(nm) ?? opsByName(k, nm, "ordinary");
}

function sameList(a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkCall(st: Extract<Step, { do: "call" }>, r: { path: string; handlers: ReadonlyArray<string>; tramp: string | null; body: number; returned: boolean; violations: ReadonlyArray<string> }): string[] {
  const e = st.expect;
  if (e === undefined) return [];
  const out: string[] = [];
  if (e.path !== undefined && e.path !== r.path) out.push(`path is ${r.path}, expected ${e.path}`);
  if (e.handlers !== undefined && !sameList(e.handlers, r.handlers)) out.push(`handlers are ${JSON.stringify(r.handlers)}, expected ${JSON.stringify(e.handlers)}`);
  if (e.tramp !== undefined && e.tramp !== r.tramp) out.push(`tramp is ${r.tramp}, expected ${e.tramp}`);
  if (e.body !== undefined && e.body !== r.body) out.push(`body ran ${r.body} times, expected ${e.body}`);
  if (e.returned !== undefined && e.returned !== r.returned) out.push(`returned is ${r.returned}, expected ${e.returned}`);
  if (e.violations !== undefined && !sameList(e.violations, r.violations)) out.push(`violations are ${JSON.stringify(r.violations)}, expected ${JSON.stringify(e.violations)}`);
  return out;
}

function checkApi(k: Kernel, st: Exclude<Step, { do: "call" }>, ret: string | 0): string[] {
  const e = st.expect;
  if (e === undefined) return [];
  const out: string[] = [];
  if (e.ret !== undefined && e.ret !== ret) out.push(`ret is ${ret}, expected ${e.ret}`);
  for (const [fn, want] of Object.entries(e.sites ?? {})) {
    if (!k.recs.some((r) => r.fn === fn)) {
      out.push(`expect.sites names unknown function "${fn}"`);
      continue;
    }
    const got = siteView(k, fn);
    if (want.literal !== undefined && want.literal !== got.literal) out.push(`${fn}: literal is ${got.literal}, expected ${want.literal}`);
    if (want.insn !== undefined && want.insn !== got.insn) out.push(`${fn}: insn is "${got.insn}", expected "${want.insn}"`);
  }
  return out;
}

export interface ScenarioRun {
  readonly kernel: Kernel;
  readonly results: ReadonlyArray<StepResult>;
  /** Steps whose `expect` did not hold, as "step N: message". */
  readonly failures: ReadonlyArray<string>;
}

/** Boot the scenario's kernel and run one step; exported so generators can drive the same code. */
export function runStep(k: Kernel, st: Step, index: number): StepResult {
  const stepNo = index + 1;
  if (st.do === "call") {
    const obs = callFunction(k, st.fn);
    const handlers = obs.handlers.map((h) => h.ops);
    const r = {
      path: obs.path,
      handlers,
      tramp: obs.tramps[0]?.tramp ?? null,
      body: obs.bodies.filter((b) => b.fn === st.fn).length,
      returned: obs.returned,
      violations: violationMessages(obs.violations),
    };
    return { step: stepNo, do: "call", fn: st.fn, ...r, obs, failures: checkCall(st, r) };
  }
  const before = k.recs.map((r) => rawSite(k, r));
  k.events = [];
  const ret = errName(applyApi(k, st));
  const events = k.events;
  k.events = [];
  const touched = [...new Set(events.flatMap((e) => (e.kind === "write" ? [e.fn] : [])))];
  const sites = touched.map((fn) => siteView(k, fn));
  return {
    step: stepNo,
    do: st.do,
    ops: st.ops,
    ret,
    sites,
    before: before.filter((b) => touched.includes(b.fn)).map((b) => viewOf(k, b)),
    events,
    failures: checkApi(k, st, ret),
  };
}

export function bootScenario(s: Scenario): Kernel {
  const design = variantByName(s.variant);
  if (design === undefined) throw new ScenarioError(`variant: unknown variant "${s.variant}"`);
  try {
    return boot(scenarioLayout(s), design);
  } catch (e) {
    if (e instanceof LayoutError || e instanceof InsnError) throw new ScenarioError(e.message);
    throw e;
  }
}

export function runScenario(s: Scenario): ScenarioRun {
  const k = bootScenario(s);
  const results = s.steps.map((st, i) => runStep(k, st, i));
  const failures = results.flatMap((r) => r.failures.map((f) => `step ${r.step} (${r.do}): ${f}`));
  return { kernel: k, results, failures };
}
