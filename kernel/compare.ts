// The kernel's patch-sites against the model's. The guest's console is read into observations (per scenario and
// step, every function's literal, its two entry words and the BL target, and the ops the literal points at); the
// model then runs the same steps on a layout with the kernel's real addresses (functions, ftrace_caller, the list
// and nop ops, the module's text and ftrace PLT, the BPF trampolines the kernel allocated) and must predict, after
// every step, each site's literal (nop ops, list ops, or which ops) and what its BL reaches (NOP, ftrace_caller,
// the module PLT, or which trampoline).

import { boot as bootModel } from "../model/boot.ts";
import { decode, reachableByBl, toHex } from "../model/insn.ts";
import { errName } from "../model/errno.ts";
import { symbolize, type Kernel } from "../model/kernel.ts";
import { literalAddr } from "../model/layout.ts";
import { parseScenario, runStep, scenarioLayout, type Scenario, type Step } from "../model/scenario.ts";
import { upstream } from "../model/variants/upstream.ts";
import { EntryError, imageFromDump, type EntryImage } from "../model/binary.ts";
import { binaryDesign } from "../model/variants/from-binary.ts";
import type { Design } from "../model/kernel.ts";
import { DSMOD_DEPTH, MODULE_NAME, trampName, type GuestScenario } from "./guest.ts";

/** One site as `kagent at` reports it: raw addresses, named here. */
export interface SiteJson {
  readonly at: string;
  readonly lit: string;
  readonly w0: string;
  readonly w1: string;
  readonly bl_addr: string;
  readonly ops_func: string;
  readonly ops_direct_addr: string;
  readonly instance: string;
  readonly error?: string;
}

/** What kagent said of a function's BPF trampoline after attaching a program (fentry) or detaching some (detach). */
interface FentryJson {
  readonly via: "fentry" | "detach";
  /** The real function. */
  readonly fentry: string;
  readonly pin: string;
  readonly tramps: ReadonlyArray<string>;
  /** Whether kallsyms came to list only the images the function should have (the replaced one freed); null: not said. */
  readonly settled: boolean | null;
  readonly error?: string;
}

/** One line of dsmod's report: an ops of our module, and what its callback saw since the last reset. */
export interface DsmodJson {
  readonly dsmod: string;
  readonly ops: string;
  readonly live: number;
  readonly ret: number;
  readonly calls: number;
  readonly nested: number;
  readonly max_depth: number;
  /** The functions the callback returned into, with how many calls each. */
  readonly callers: Readonly<Record<string, number>>;
  readonly other: number;
}

export interface StepObservation {
  readonly sites: SiteJson[];
  readonly fentries: FentryJson[];
  /** A call step: each tracer instance's hits on the function, and the fentry run counts before and after. */
  readonly hits: Map<string, number>;
  readonly runs: Array<Record<string, number>>;
  /** dsmod's report, when the step read it. */
  readonly dsmod: DsmodJson[];
  /** dsmod's trampoline pool entry counts, when the step read the report. */
  trampHits: number[] | null;
  /** The return code of each dsmod command of the step, in order. */
  readonly rets: number[];
  /** dsmod's direct ops by address, when the step read its report. */
  readonly dsmodDirect: Array<{ readonly name: string; readonly ops: string }>;
  /** Anything else the step's commands printed (errors from tracefs writes). */
  readonly output: string[];
  /** How many times the kernel's log says ftrace_bug fired, read after the step (null: the guest did not say). */
  ftraceBugs: number | null;
}

export interface GuestRun {
  readonly syms: ReadonlyMap<string, bigint>;
  readonly module: { readonly base: bigint; readonly size: bigint } | null;
  /** [scenario][step] (step 0: before any step). */
  readonly steps: StepObservation[][];
  readonly ended: boolean;
  /** `kagent dump`: the booted kernel's ftrace_caller and what --entry needs with it (raw JSON), if it ran. */
  readonly entry: unknown;
  /** `kagent load /dsmod.ko`: null if the guest did not try, else "ok" or the error it gave. */
  readonly dsmodLoad: string | null;
  /** The addresses of dsmod's trampoline pool (its layout file), when the guest read it. */
  readonly dsmodTramps: ReadonlyArray<bigint>;
}

function json<T>(line: string): T | null {
  try {
    return JSON.parse(line) as T;
  } catch {
    return null;
  }
}

/** Read the guest's console. */
export function parseConsole(text: string): GuestRun {
  const syms = new Map<string, bigint>();
  let module: { base: bigint; size: bigint } | null = null;
  const steps: StepObservation[][] = [];
  let section: "modules" | "syms" | "entry" | "dsmod" | "step" | null = null;
  let dsmodLoad: string | null = null;
  let dsmodTramps: bigint[] = [];
  let entry: unknown = null;
  let cur: StepObservation | null = null;
  let ended = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const marker = /^@@@ (modules|syms|entry|dsmod|end|scenario (\d+) step (\d+))$/.exec(line);
    if (marker !== null) {
      if (marker[1] === "end") ended = true;
      else if (marker[2] !== undefined) {
        section = "step";
        cur = { sites: [], fentries: [], hits: new Map(), runs: [], dsmod: [], trampHits: null, rets: [], dsmodDirect: [], output: [], ftraceBugs: null };
        (steps[Number(marker[2])] ??= [])[Number(marker[3])] = cur;
      } else section = marker[1] as "modules" | "syms" | "entry" | "dsmod";
      continue;
    }
    if (section === "modules") {
      const m = new RegExp(`^${MODULE_NAME} (\\d+) .* (0x[0-9a-f]+)$`).exec(line);
      if (m !== null) module = { base: BigInt(m[2]!), size: BigInt(m[1]!) };
    } else if (section === "entry") {
      const j = json<{ dump?: unknown }>(line);
      if (j !== null && j.dump !== undefined) entry = j.dump;
    } else if (section === "dsmod") {
      const j = json<{ load?: string; ok?: number; error?: string; layout?: string; tramps?: string[] }>(line);
      if (j !== null && j.load !== undefined) dsmodLoad = j.ok === 1 ? "ok" : (j.error ?? "refused");
      if (j !== null && j.layout !== undefined && j.tramps !== undefined) dsmodTramps = j.tramps.map((t) => BigInt(t));
    } else if (section === "syms") {
      const j = json<{ sym: string; addr: string }>(line);
      if (j !== null) syms.set(j.sym, BigInt(j.addr));
    } else if (section === "step" && cur !== null && /^@@@ ftrace-bugs \d+$/.test(line)) {
      cur.ftraceBugs = Number(line.slice("@@@ ftrace-bugs ".length));
    } else if (section === "step" && cur !== null) {
      const out = line.startsWith("### ") ? line.slice(4) : null;
      if (out !== null) {
        const j = json<Partial<Omit<FentryJson, "settled" | "via">> & Partial<DsmodJson> & { settled?: number; detach?: string; hits?: string; n?: number; runs?: Record<string, number>; call?: string; ret?: number; tramp_hits?: number[]; dsmod_direct?: string }>(out);
        const settled = j?.settled === undefined ? null : j.settled === 1;
        if (j !== null && j.dsmod !== undefined) cur.dsmod.push(j as DsmodJson);
        else if (j !== null && j.dsmod_direct !== undefined && j.ops !== undefined) cur.dsmodDirect.push({ name: j.dsmod_direct, ops: j.ops });
        else if (j !== null && j.tramp_hits !== undefined) cur.trampHits = j.tramp_hits;
        else if (j !== null && typeof j.ret === "number" && Object.keys(j).length === 1) cur.rets.push(j.ret);
        else if (j !== null && j.fentry !== undefined) cur.fentries.push({ via: "fentry", fentry: j.fentry, pin: j.pin ?? "", tramps: j.tramps ?? [], settled, ...(j.error !== undefined ? { error: j.error } : {}) });
        else if (j !== null && j.detach !== undefined) cur.fentries.push({ via: "detach", fentry: j.detach, pin: "", tramps: j.tramps ?? [], settled });
        else if (j !== null && j.hits !== undefined && j.n !== undefined) cur.hits.set(j.hits, j.n);
        else if (j !== null && j.runs !== undefined) cur.runs.push(j.runs);
        else if (j === null || j.call === undefined) cur.output.push(out);
      } else if (line.startsWith("{")) {
        const j = json<SiteJson>(line);
        if (j !== null && "at" in j) cur.sites.push(j);
      }
    }
  }
  return { syms, module, steps, ended, entry, dsmodLoad, dsmodTramps };
}

export interface SiteRow {
  readonly scenario: string;
  readonly step: number;
  readonly stepText: string;
  readonly fn: string;
  readonly model: string;
  readonly kernel: string;
  readonly differs: boolean;
}

const NOP = "d503201f";
const MOV_X9_X30 = "aa1e03e9";

/** The model's view of fn's site: literal, then what the entry words do. */
function modelSite(k: Kernel, fn: string): string {
  const rec = k.recs.find((r) => r.fn === fn);
  if (rec === undefined) return "?";
  const lit = k.mem.read64(literalAddr(rec.ip));
  const mov = k.mem.read32(rec.ip - 4n);
  const insn = decode(k.mem.read32(rec.ip));
  const bl = insn.kind === "nop" ? "nop" : insn.kind === "bl" ? `bl ${symbolize(k, rec.ip + BigInt(insn.offset)) ?? toHex(rec.ip + BigInt(insn.offset))}` : `0x${k.mem.read32(rec.ip).toString(16)}`;
  return `${symbolize(k, lit) ?? toHex(lit)} | ${mov === 0xaa1e03e9 ? "mov x9, x30" : `0x${mov.toString(16)}`} | ${bl}`;
}

/** What the kernel showed for one function after a step: its literal by name, and what its BL reaches ("nop" or "bl X"). */
export interface KernelSite {
  readonly literal: string;
  readonly bl: string;
}

/** One call in the guest: how often each ops' handler (or a direct ops' trampoline) ran, and dsmod's ops reached straight from ftrace_caller. */
export interface KernelCall {
  readonly fn: string;
  readonly counts: ReadonlyMap<string, number>;
  /** dsmod ops: calls, and how many of them returned into ftrace_caller (called from the literal). */
  readonly dsmod: ReadonlyMap<string, { readonly calls: number; readonly fromCaller: number }>;
}

/** The kernel's side of a step, named in the model's terms (for judging the kernel by the properties, kernel/judge.ts). */
export interface KernelStep {
  readonly step: number;
  readonly text: string;
  /** The model steps the guest step stands for, with the kernel's return code where the guest reported one. */
  readonly api: ReadonlyArray<{ readonly step: Step; readonly ret: number | null }>;
  readonly sites: ReadonlyMap<string, KernelSite>;
  readonly call: KernelCall | null;
  /** Whether the kernel's log gained an ftrace_bug report during the step (ftrace killed: a patch found a word it did not expect, or faulted). */
  readonly ftraceBug: boolean;
}

export interface Comparison {
  readonly rows: SiteRow[];
  /** Step 0 (boot) and every step, as the kernel showed them. */
  readonly kernel: ReadonlyArray<KernelStep>;
  /** The scenario the model ran: the kernel's addresses, the guest's ops names (what the reference is built from). */
  readonly modelScenario: Scenario | null;
  readonly problems: string[];
  /** What the guest showed that the model does not predict but people want to see (dsmod's recursion depth). */
  readonly notes: string[];
}

/**
 * How a dsmod ops' callbacks were reached: straight from ftrace_caller (the literal), or through a C function (the
 * list function or ftrace_ops_assist_func): "@caller", "@list", "@mixed", or nothing when it was not called.
 */
export function viaOf(calls: number, fromCaller: number): string {
  if (calls === 0) return "";
  return fromCaller === calls ? "@caller" : fromCaller === 0 ? "@list" : "@mixed";
}

/** The booted kernel's dump as an image (null if the guest wrote none); throws EntryError if it is malformed. */
export function bootedImage(run: GuestRun): EntryImage | null {
  return run.entry === null ? null : imageFromDump(run.entry, "booted", "the booted kernel's dump");
}

/**
 * The design the comparison runs: the booted kernel's own words when the guest dumped them and the model can take
 * them, else upstream's listing, with the reason as a problem of the run (a malformed dump, an instruction the
 * interpreter lacks in another kernel's ftrace_caller).
 */
export function bootedDesign(run: GuestRun): { readonly design: Design; readonly problem: string | null } {
  try {
    const image = bootedImage(run);
    return { design: image === null ? upstream : binaryDesign(image), problem: null };
  } catch (e) {
    if (e instanceof EntryError) return { design: upstream, problem: `the booted kernel's dump cannot be run (${e.message}); compared with upstream's listing instead` };
    throw e;
  }
}

/** Compare one planned scenario's observations with the model run on the kernel's addresses. */
export function compareScenario(plan: GuestScenario, si: number, run: GuestRun, design: Design = bootedDesign(run).design): Comparison {
  const problems: string[] = [];
  const notes: string[] = [];
  const obs = run.steps[si] ?? [];
  const sym = (n: string): bigint => {
    const v = run.syms.get(n);
    if (v === undefined || v === 0n) throw new Error(`the guest did not report ${n}`);
    return v;
  };
  const first = obs[0];
  if (first === undefined) return { rows: [], kernel: [], modelScenario: null, problems: [`${plan.name}: no observations (the guest stopped early?)`], notes };
  const addrOf = new Map([...plan.real.values()].map((r) => [r, run.syms.get(r) ?? 0n]));
  // Trampoline images: for each attachment, the image the kernel listed (the only one, once the replaced image is
  // freed; else the one the ops did not have before), and from which step on it is that trampoline.
  const tramps = new Map<string, bigint>();
  const since: Array<{ readonly name: string; readonly addr: bigint; readonly step: number }> = [];
  const lastImage = new Map<string, bigint>();
  plan.steps.forEach((st) => {
    const o = obs[st.index];
    const used = new Set<number>();
    st.attached.forEach((a) => {
      const name = trampName(a.ops, a.n);
      if (a.slot !== undefined) {
        const at = run.dsmodTramps[a.slot];
        if (at === undefined) problems.push(`${plan.name} step ${st.index}: the guest gave no address for dsmod's trampoline ${a.slot}`);
        else {
          tramps.set(name, at);
          since.push({ name, addr: at, step: st.index });
        }
        return;
      }
      const real = plan.real.get(a.fn);
      const k = (o?.fentries ?? []).findIndex((x, j) => !used.has(j) && x.via === (a.via ?? "fentry") && x.fentry === real);
      const f = k < 0 ? undefined : o!.fentries[k]!;
      used.add(k);
      if (f === undefined || f.tramps.length === 0) {
        problems.push(`${plan.name} step ${st.index}: no trampoline reported for ${a.ops}${f?.error !== undefined ? ` (${f.error})` : ""}`);
        return;
      }
      const images = f.tramps.map((t) => BigInt(t));
      const prev = lastImage.get(a.ops);
      const img = images.length === 1 ? images[0]! : (images.find((t) => t !== prev) ?? images[0]!);
      tramps.set(name, img);
      since.push({ name, addr: img, step: st.index });
      lastImage.set(a.ops, img);
    });
  });
  if (problems.length > 0) return { rows: [], kernel: [], modelScenario: null, problems: [...problems, `${plan.name}: not compared (the kernel did not attach every direct ops)`], notes };
  // The module's ftrace PLT, as the kernel's BLs into the module's own text show it.
  const mod = run.module;
  let plt: bigint | null = null;
  for (const o of obs) for (const s of o?.sites ?? []) {
    const t = BigInt(s.bl_addr);
    if (mod !== null && t >= mod.base && t < mod.base + mod.size) plt = t;
  }
  const text = sym("_text");
  // The trampoline at an address at a step: the latest image the kernel put there up to that step (a freed image's
  // address may be reused by a later one, for the same function or another).
  const trampAt = (addr: bigint, step: number): string | undefined => since.filter((x) => x.addr === addr && x.step <= step).at(-1)?.name ?? since.find((x) => x.addr === addr)?.name;
  const modelSteps: Step[] = plan.steps.flatMap((s) => s.model);
  // The model runs the booted kernel's own ftrace_caller when the guest dumped it (upstream's listing otherwise).
  const e = design.entry;
  const stub = e.kind === "binary" ? e.stubDirectTramp : null;
  const scenario = parseScenario({
    variant: "upstream",
    config: { bti: false },
    kernel: {
      text: toHex(text),
      text_size: toHex(sym("_etext") - text),
      ftrace_caller: toHex(sym("ftrace_caller")),
      ...(stub !== null ? { ftrace_stub_direct_tramp: toHex(stub.linkedAt) } : {}),
      ftrace_list_ops: toHex(sym("ftrace_list_ops")),
      ftrace_nop_ops: toHex(sym("ftrace_nop_ops")),
    },
    modules: mod === null ? [] : [{ name: MODULE_NAME, text: toHex(mod.base), size: toHex(mod.size), plt: plt === null ? true : toHex(plt) }],
    functions: plan.scenario.functions.map((f) => {
      const real = plan.real.get(f.name)!;
      const a = addrOf.get(real);
      if (a === undefined) throw new Error(`the guest did not read ${real}`);
      return { name: f.name, addr: toHex(a), ...(f.module !== undefined && mod !== null ? { module: MODULE_NAME } : {}), bti: false };
    }),
    trampolines: modelTrampolines(tramps, {
      functions: [...addrOf.values()],
      avoid: [{ lo: text, hi: sym("_etext") }, ...(mod === null ? [] : [{ lo: mod.base, hi: mod.base + mod.size }])],
    }).map(([name, addr]) => ({ name, addr: toHex(addr) })),
    steps: modelSteps,
  });
  const k = bootModel(scenarioLayout(scenario), design);
  const rows: SiteRow[] = [];
  const fns = plan.scenario.functions.map((f) => f.name);
  const kernelSite = (s: SiteJson, fn: string, attachedOps: ReadonlyMap<string, string>, step: number): string => {
    const named = kernelSiteNamed(s, fn, attachedOps, step);
    return named === null ? `error: ${s.error ?? "?"}` : `${named.literal} | ${s.w0 === MOV_X9_X30 ? "mov x9, x30" : `0x${s.w0}`} | ${named.bl}`;
  };
  const kernelSiteNamed = (s: SiteJson, fn: string, attachedOps: ReadonlyMap<string, string>, step: number): KernelSite | null => {
    if (s.error !== undefined) return null;
    const lit = BigInt(s.lit);
    let litName: string;
    if (lit === sym("ftrace_nop_ops")) litName = "ftrace_nop_ops";
    else if (lit === sym("ftrace_list_ops")) litName = "ftrace_list_ops";
    else if (lit === run.syms.get("graph_ops")) litName = "graph_ops";
    else if (s.instance !== "") litName = s.instance;
    else if (dsmodOps.has(lit)) litName = dsmodOps.get(lit)!;
    else if (BigInt(s.ops_func) === sym("call_direct_funcs")) {
      const ops = attachedOps.get(fn);
      const t = trampAt(BigInt(s.ops_direct_addr), step);
      litName = ops !== undefined && t !== undefined && t.startsWith(`T.${ops}.`) ? ops : `direct ops calling ${s.ops_direct_addr}`;
    } else litName = `ops ${s.lit} (func ${s.ops_func})`;
    const t = BigInt(s.bl_addr);
    const bl =
      s.w1 === NOP
        ? "nop"
        : t === sym("ftrace_caller")
          ? "bl ftrace_caller"
          : plt !== null && t === plt
            ? `bl ${MODULE_NAME}.ftrace_plt`
            : trampAt(t, step) !== undefined
              ? `bl ${trampAt(t, step)}`
              : `bl ${s.bl_addr} (0x${s.w1})`;
    return { literal: litName, bl };
  };
  const attachedOps = new Map<string, string>();
  // dsmod's ops by address, as its report gave them.
  const dsmodOps = new Map<bigint, string>(obs.flatMap((o) => [...(o?.dsmod ?? []).map((d) => [BigInt(d.ops), d.dsmod] as const), ...(o?.dsmodDirect ?? []).map((d) => [BigInt(d.ops), d.name] as const)]));
  const kernelSteps: KernelStep[] = [];
  const record = (step: number, stepText: string, o: StepObservation | undefined, api: KernelStep["api"], kcall: KernelCall | null): void => {
    const sites = new Map<string, KernelSite>();
    for (const fn of fns) {
      const real = plan.real.get(fn)!;
      const at = addrOf.get(real);
      const s = o?.sites.find((x) => BigInt(x.at) === at);
      const model = modelSite(k, fn);
      const kernel = s === undefined ? "not read" : kernelSite(s, fn, attachedOps, step);
      const named = s === undefined ? null : kernelSiteNamed(s, fn, attachedOps, step);
      if (named !== null) sites.set(fn, named);
      rows.push({ scenario: plan.name, step, stepText, fn: `${fn} (${real})`, model, kernel, differs: model !== kernel });
    }
    // Counted from the scenario's step 0 (what earlier scenarios in the same guest left is theirs).
    const before = step === 0 ? (o?.ftraceBugs ?? 0) : (obs[kernelSteps[kernelSteps.length - 1]?.step ?? 0]?.ftraceBugs ?? 0);
    kernelSteps.push({ step, text: stepText, api, sites, call: kcall, ftraceBug: (o?.ftraceBugs ?? 0) > before });
  };
  record(0, "(boot)", obs[0], [], null);
  let index = 0;
  for (const st of plan.steps) {
    const kernelRets = obs[st.index]?.rets ?? [];
    const api: Array<{ step: Step; ret: number | null }> = [];
    let kcall: KernelCall | null = null;
    st.model.forEach((ms, j) => {
      const r = runStep(k, ms, index++);
      const kret = st.rets ? kernelRets[j] : undefined;
      if (ms.do !== "call") api.push({ step: ms, ret: kret ?? null });
      if ("ret" in r && kret !== undefined) {
        const model = r.ret === 0 ? "0" : r.ret;
        const kernel = kret === 0 ? "0" : errName(kret);
        rows.push({ scenario: plan.name, step: st.index, stepText: st.text, fn: `ret ${ms.do} ${"ops" in ms ? ms.ops : ""}`.trim(), model: `returned ${model}`, kernel: `returned ${kernel}`, differs: model !== kernel });
      } else if ("ret" in r && r.ret !== 0) problems.push(`${plan.name} step ${st.index}: the model's ${ms.do} ${"ops" in ms ? ms.ops : ""} returned ${r.ret}`);
      if (r.do === "call" && st.call !== undefined) {
        const o = obs[st.index];
        const instances = [...(o?.hits.keys() ?? [])].sort();
        const real = plan.real.get(st.call.fn)!;
        const modelDsmod = st.call.dsmod.map((n) => {
          const hs = r.obs.handlers.filter((h) => h.ops === n);
          return `${n}x${hs.length}${viaOf(hs.length, hs.filter((h) => h.via === "caller").length)}`;
        });
        const model = [
          ...instances.map((n) => `${n}x${r.obs.handlers.filter((h) => h.ops === n).length}`),
          ...[...st.call.pins, ...st.call.slots.map((x) => ({ ...x, label: x.ops }))].map((p) => `${p.label}x${r.obs.tramps.filter((t) => t.tramp.startsWith(`T.${p.ops}.`)).length}`),
          ...modelDsmod,
        ].join(" ");
        const [before, after] = o?.runs ?? [];
        const kernelDsmod = st.call.dsmod.map((n) => {
          const d = o?.dsmod.find((x) => x.dsmod === n);
          if (d === undefined) return `${n}: no report`;
          if (d.max_depth > 0) notes.push(`${plan.name} step ${st.index}: ${n}'s callback called ${real} again ${d.nested} time(s), ${d.max_depth} level(s) deep (bound ${DSMOD_DEPTH})`);
          return `${n}x${d.calls}${viaOf(d.calls, d.callers["ftrace_caller"] ?? 0)}`;
        });
        const counts = new Map<string, number>([
          ...instances.map((n) => [n, o?.hits.get(n) ?? 0] as const),
          // A trampoline's programs all run at each entry: its count is its oldest program's.
          ...st.call.pins.filter((p, j, all) => all.findIndex((q) => q.ops === p.ops) === j).map((p) => [p.ops, (after?.[p.pin] ?? 0) - (before?.[p.pin] ?? 0)] as const),
          ...st.call.slots.map((p) => [p.ops, o?.trampHits?.[p.slot] ?? -1] as const),
          ...st.call.dsmod.map((n) => [n, o?.dsmod.find((x) => x.dsmod === n)?.calls ?? -1] as const),
        ]);
        const reached = new Map(st.call.dsmod.flatMap((n) => {
          const d = o?.dsmod.find((x) => x.dsmod === n);
          return d === undefined ? [] : [[n, { calls: d.calls, fromCaller: d.callers["ftrace_caller"] ?? 0 }] as const];
        }));
        kcall = { fn: st.call.fn, counts, dsmod: reached };
        const kernel = [
          ...instances.map((n) => `${n}x${o?.hits.get(n) ?? 0}`),
          ...st.call.pins.map((p) => `${p.label}x${(after?.[p.pin] ?? 0) - (before?.[p.pin] ?? 0)}`),
          ...st.call.slots.map((p) => `${p.ops}x${o?.trampHits?.[p.slot] ?? "?"}`),
          ...kernelDsmod,
        ].join(" ");
        rows.push({ scenario: plan.name, step: st.index, stepText: st.text, fn: `call ${st.call.fn} (${real})`, model: `ran: ${model || "nothing"}`, kernel: `ran: ${kernel || "nothing"}`, differs: model !== kernel });
      }
    });
    for (const a of st.attached) attachedOps.set(a.fn, a.ops);
    for (const fn of st.detached) attachedOps.delete(fn);
    for (const line of obs[st.index]?.output ?? []) problems.push(`${plan.name} step ${st.index}: the guest said: ${line}`);
    record(st.index, st.text, obs[st.index], api, kcall);
  }
  return { rows, kernel: kernelSteps, modelScenario: scenario, problems, notes };
}

/** Bytes kept clear around a trampoline the model is given (more than it occupies, TRAMPOLINE_SPAN). */
const TRAMPOLINE_CLEARANCE = 0x100n;

/**
 * The trampolines the model is given: the kernel's addresses, except that an image at an address an earlier image
 * had (freed, then reused by the allocator) gets a stand-in the model can hold beside the earlier one: the nearest
 * page-aligned offset of the kernel's address that every function's BL reaches exactly when it reaches the kernel's,
 * clear of every other trampoline, function and text span. The comparison names the kernel's addresses by step, so
 * the stand-in is never seen; what it keeps is the one thing an address decides for the model, BL range.
 */
export function modelTrampolines(
  tramps: ReadonlyMap<string, bigint>,
  where: { readonly functions: ReadonlyArray<bigint>; readonly avoid: ReadonlyArray<{ readonly lo: bigint; readonly hi: bigint }> },
): Array<[string, bigint]> {
  const out: Array<[string, bigint]> = [];
  const clear = (a: bigint): boolean =>
    out.every(([, b]) => (a > b ? a - b : b - a) >= TRAMPOLINE_CLEARANCE) &&
    where.functions.every((f) => (a > f ? a - f : f - a) >= TRAMPOLINE_CLEARANCE) &&
    where.avoid.every((r) => a + TRAMPOLINE_CLEARANCE <= r.lo || a >= r.hi);
  const sameReach = (a: bigint, b: bigint): boolean => where.functions.every((f) => [0n, 4n, 8n].every((d) => reachableByBl(f + d, a) === reachableByBl(f + d, b)));
  for (const [name, addr] of tramps) {
    if (!out.some(([, b]) => b === addr)) {
      out.push([name, addr]);
      continue;
    }
    const stand = STAND_IN_OFFSETS.map((d) => addr + d).find((a) => clear(a) && sameReach(a, addr));
    if (stand === undefined) throw new Error(`no stand-in address near ${toHex(addr)} for ${name}, whose image reuses an earlier one's`);
    out.push([name, stand]);
  }
  return out;
}

/** Offsets tried for a stand-in, nearest first: ±1 to ±256 pages. */
const STAND_IN_OFFSETS: ReadonlyArray<bigint> = Array.from({ length: 256 }, (_, i) => BigInt(i + 1) * 0x1000n).flatMap((d) => [d, -d]);
