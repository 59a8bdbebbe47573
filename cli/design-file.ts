// `--design FILE`: a design change written as a TypeScript module of the user's own, loaded at run time (no entry
// in model/variants/index.ts, no rebuild). The module's default export is a Design, usually upstream with the
// fields the change touches (`{ ...upstream, name: "my-change", arch: { ...UPSTREAM_ARCH, ftrace_make_call } }`).
// It is checked for a Design's shape, made known by its own name here and in every worker thread, and named in the
// replay commands printed for its counterexamples.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { boot } from "../model/boot.ts";
import { InsnError } from "../model/insn.ts";
import { DesignFault, type ArchHooks, type Design } from "../model/kernel.ts";
import { parseScenario, scenarioLayout } from "../model/scenario.ts";
import { UPSTREAM_ARCH } from "../model/arm64.ts";
import { isMutant } from "../model/mutants.ts";
import { designNameTaken, registerDesign, variantByName } from "../model/variants/index.ts";
import { upstream } from "../model/variants/upstream.ts";
import { InputError } from "./load.ts";
import { nearestNames } from "./names.ts";

/** Each field a Design may have and what its value must look like (the record keeps the list complete). */
const FIELDS: { readonly [K in keyof Design]-?: (v: unknown) => string | null } = {
  name: (v) => (typeof v !== "string" ? "a string" : /^[a-z][a-z0-9._-]{0,63}$/.test(v) ? null : "lower-case letters, digits, '.', '_' or '-', starting with a letter, at most 64 (no '+': that starts a mutant)"),
  description: (v) => (typeof v === "string" ? null : "a string"),
  fregs: (v) => (isObject(v) ? null : "a struct ftrace_regs layout (e.g. UPSTREAM_FREGS)"),
  ops: (v) => (isObject(v) ? null : "a struct ftrace_ops layout (e.g. UPSTREAM_OPS)"),
  entry: (v) =>
    !isObject(v)
      ? "an EntryCode object"
      : v["kind"] === "listing"
        ? typeof v["ftraceCaller"] === "function"
          ? null
          : 'a listing whose ftraceCaller is a function of the trampoline constants'
        : v["kind"] === "binary"
          ? null
          : 'an EntryCode of kind "listing" or "binary"',
  frame: (v) => (typeof v === "number" && Number.isInteger(v) && v > 0 && v % 16 === 0 ? null : "a positive multiple of 16 (bytes)"),
  arch: (v) => archProblem(v),
  directCalls: (v) => (typeof v === "boolean" ? null : "true or false"),
  callOpsOnSurvivor: (v) => (typeof v === "boolean" ? null : "true or false"),
  callOps: (v) => (typeof v === "boolean" ? null : "true or false"),
  withRegs: (v) => (typeof v === "boolean" ? null : "true or false"),
  rollbackWaits: (v) => (v === true ? null : "true (or leave it out)"),
  subopsHashRule: (v) => (v === "append-intersect" || v === "skip-nothing" ? null : '"append-intersect" or "skip-nothing" (or leave it out)'),
  singleDirectOps: (v) => (v === true ? null : "true (or leave it out)"),
  standsFor: (v) => (typeof v === "string" && variantByName(v) !== undefined ? null : "the name of a known design"),
  // A mutant is asked for by name (--variant my-change+MUTANT), never built into the file: a design is real.
  mutations: (v) =>
    !(v instanceof Set)
      ? "new Set() (a design of your own is real)"
      : v.size === 0
        ? null
        : `empty: a design file is a real design; ask for a mutant of it by name (--variant NAME+${[...v].find((m) => typeof m === "string" && isMutant(m)) ?? "MUTANT"})`,
  scope: (v) => (Array.isArray(v) && v.every((x) => x === "module-init-text" || x === "subops") ? null : 'a list of "module-init-text" and "subops"'),
};

/** Fields a Design must have (the rest may be left out). */
const REQUIRED: ReadonlyArray<keyof Design> = ["name", "description", "fregs", "ops", "entry", "arch", "directCalls", "mutations"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function archProblem(v: unknown): string | null {
  if (!isObject(v)) return "an ArchHooks object (e.g. { ...UPSTREAM_ARCH, ftrace_make_call })";
  const hooks = Object.keys(UPSTREAM_ARCH);
  const unknown = Object.keys(v).find((k) => !hooks.includes(k));
  if (unknown !== undefined) {
    const near = nearestNames(unknown, hooks);
    return `ArchHooks; ${unknown} is not a hook (${near.length > 0 ? `did you mean ${near.join(" or ")}? ` : ""}the hooks are: ${hooks.join(", ")})`;
  }
  const missing = hooks.find((h) => typeof v[h] !== "function");
  return missing === undefined ? null : `a function for every hook; ${missing} is ${v[missing] === undefined ? "missing" : "not a function"} (spread UPSTREAM_ARCH first)`;
}

/** What is wrong with a value offered as a Design, in one phrase, or null when it has a Design's shape. */
export function designProblem(value: unknown): string | null {
  if (!isObject(value)) return "its default export is not a design (an object such as { ...upstream, name: \"my-change\", description: \"...\" })";
  const fields = Object.keys(FIELDS);
  const unknown = Object.keys(value).find((k) => !fields.includes(k));
  if (unknown !== undefined) {
    const near = nearestNames(unknown, fields);
    return `unknown field ${unknown} (${near.length > 0 ? `did you mean ${near.join(" or ")}? ` : ""}a Design has: ${fields.join(", ")})`;
  }
  const missing = REQUIRED.find((k) => value[k] === undefined);
  if (missing !== undefined) return `field ${missing} is missing (spread upstream first: { ...upstream, name, description })`;
  for (const [k, check] of Object.entries(FIELDS) as Array<[keyof Design, (v: unknown) => string | null]>) {
    if (value[k] === undefined) continue;
    const why = check(value[k]);
    if (why !== null) return `field ${k} must be ${why}`;
  }
  return null;
}

/** The path each design loaded with --design came from, as the user gave it (for the replay commands printed). */
const GIVEN = new Map<string, string>();
/** The absolute path of each design file loaded in this run, by design name (for worker threads). */
const ABSOLUTE = new Map<string, string>();

/** The file a design was loaded from, as given on the command line; undefined for any other design. */
export function designFileOf(name: string): string | undefined {
  return GIVEN.get(name.split("+")[0] ?? name);
}

/**
 * Provenance of the designs among `designs` (names, mutants allowed) that came from --design files: the file as
 * given and a SHA-256 of its text, so a report says which version of the file it judged.
 */
export function designFileProvenance(designs: ReadonlyArray<string>): Array<{ name: string; file: string; sha256: string }> {
  const names = [...new Set(designs.map((d) => d.split("+")[0] ?? d))];
  return names.flatMap((name) => {
    const abs = ABSOLUTE.get(name);
    const file = GIVEN.get(name);
    if (abs === undefined || file === undefined) return [];
    return [{ name, file, sha256: createHash("sha256").update(readFileSync(abs)).digest("hex") }];
  });
}

/** The absolute paths of the design files loaded so far, for worker threads to load too. */
export function loadedDesignFiles(): string[] {
  return [...new Set(ABSOLUTE.values())];
}

/** Whether the nearest package.json above dir says "type": "module" (so Node loads a .ts file there as ESM). */
function inModulePackage(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    const pkg = join(d, "package.json");
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, "utf8")) as { type?: unknown }).type === "module";
      } catch {
        return false;
      }
    }
    if (dirname(d) === d) return false;
  }
}

/** A module's export that is the design: the default export. */
function exported(mod: Record<string, unknown>): unknown {
  return mod["default"];
}

/** Where in the design file an exception was thrown: `FILE:LINE:COL` from its stack, the file as given; or null. */
export function placeIn(e: unknown, given: string, abs: string): string | null {
  const stack = e instanceof Error ? (e.stack ?? "") : "";
  const url = pathToFileURL(abs).href;
  for (const line of stack.split("\n")) {
    const at = line.indexOf(url) >= 0 ? line.indexOf(url) + url.length : line.indexOf(abs) >= 0 ? line.indexOf(abs) + abs.length : -1;
    const m = at < 0 ? null : /^:(\d+):(\d+)/.exec(line.slice(at));
    if (m !== null) return `${given}:${m[1]}:${m[2]}`;
  }
  return null;
}

/**
 * The design with each hook the file brings (not upstream's own) made to report a throw as a DesignFault: one line
 * naming the hook and where in the file, instead of a stack trace per property.
 */
function withFaultReports(d: Design, given: string, abs: string): Design {
  const guard = <A extends unknown[], R>(what: string, f: (...a: A) => R): ((...a: A) => R) => {
    return (...a: A): R => {
      try {
        return f(...a);
      } catch (e) {
        if (e instanceof DesignFault) throw e;
        const where = placeIn(e, given, abs);
        const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
        throw new DesignFault(`--design ${given}: ${what} threw${where === null ? "" : ` at ${where}`}: ${msg}`);
      }
    };
  };
  const hooks = Object.keys(UPSTREAM_ARCH) as Array<keyof ArchHooks>;
  const arch = Object.fromEntries(hooks.map((h) => [h, d.arch[h] === UPSTREAM_ARCH[h] ? d.arch[h] : guard(h, d.arch[h] as (...a: unknown[]) => unknown)])) as unknown as ArchHooks;
  const own = d.entry.kind === "listing" && (upstream.entry.kind !== "listing" || d.entry.ftraceCaller !== upstream.entry.ftraceCaller);
  const entry = own && d.entry.kind === "listing" ? { ...d.entry, ftraceCaller: guard("entry.ftraceCaller", d.entry.ftraceCaller) } : d.entry;
  return { ...d, arch, entry };
}

/**
 * Whether the design boots (its ftrace_caller listing assembles, its layout constants fit), on a small kernel with
 * and without BTI: a listing that names an unknown symbol is the file's mistake, said once at load, not a stack
 * trace from every run. Null when it boots; a hook that throws at boot is its own one-line error.
 */
function bootProblem(d: Design): string | null {
  for (const bti of [false, true]) {
    const s = parseScenario({ variant: "upstream", config: { bti }, functions: [{ name: "f", addr: "0xffff800009000000" }], trampolines: [{ name: "T1", addr: "0xffff800001000000" }], steps: [] });
    try {
      boot(scenarioLayout(s), d);
    } catch (e) {
      // A hook that threw at boot: its line already names the file, the hook and the place.
      if (e instanceof DesignFault) throw new InputError(e.message);
      const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
      return `it does not boot${bti ? " with BTI" : ""}: ${e instanceof InsnError ? `its ftrace_caller listing does not assemble: ${msg}` : msg}`;
    }
  }
  return null;
}

/**
 * Load FILE's design and make it known by its name; the same file twice is one design. Every problem (no such file,
 * not a module, an exception while loading, a shape that is not a Design's, a name already taken) is one line.
 */
export async function loadDesignFile(file: string): Promise<Design> {
  const at = `--design ${file}`;
  const abs = resolve(file);
  for (const [name, p] of ABSOLUTE) if (p === abs) return variantByName(name)!;
  if (!existsSync(abs)) throw new InputError(`${at}: not found`);
  if (!statSync(abs).isFile()) throw new InputError(`${at}: not a regular file`);
  if (![".ts", ".mts", ".js", ".mjs"].includes(extname(abs)))
    throw new InputError(`${at}: ${extname(abs) === "" ? "a file without an extension" : `a ${extname(abs)} file`} is not a module: a design is a TypeScript module (.ts or .mts) whose default export is the Design`);
  if (extname(abs) === ".ts" && !inModulePackage(dirname(abs)))
    throw new InputError(`${at}: Node loads a .ts file as CommonJS outside a package whose package.json says "type": "module"; name it .mts, or keep it in this checkout (next to model/variants/)`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // esbuild's transform errors put the line that says where below a summary line: that one is the news.
    const lines = msg.split("\n").filter((l) => l.trim() !== "");
    throw new InputError(`${at}: cannot load it: ${(lines.find((l) => l.includes("ERROR:")) ?? lines[0] ?? "error").trim()}`);
  }
  const value = exported(mod);
  if (value === undefined) throw new InputError(`${at}: no default export (end it with: export default myChange;)`);
  const why = designProblem(value);
  if (why !== null) throw new InputError(`${at}: ${why}`);
  const design = withFaultReports(value as Design, file, abs);
  const unbootable = bootProblem(design);
  if (unbootable !== null) throw new InputError(`${at}: ${unbootable}`);
  const other = GIVEN.get(design.name);
  if (other !== undefined) throw new InputError(`${at}: its name ${design.name} is the name of the design loaded from ${other}; give each change a name of its own`);
  if (designNameTaken(design.name)) {
    const spread = variantByName(design.name)?.description === design.description;
    throw new InputError(
      spread
        ? `${at}: its name is ${design.name}'s (the spread ...${design.name} gave it): give the change a name of its own, { ...${design.name}, name: "my-change", description: "..." }`
        : `${at}: the name ${design.name} is taken by a known design; give the change a name of its own`,
    );
  }
  registerDesign(design);
  GIVEN.set(design.name, file);
  ABSOLUTE.set(design.name, abs);
  return design;
}
