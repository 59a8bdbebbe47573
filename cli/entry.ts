// `--entry FILE`: a built kernel's ftrace_caller as the design under test. FILE is an ELF vmlinux with symbols
// (read with binutils' readelf: the header, the symbol table and the section table; the words themselves are read
// from the file at the offset readelf gives) or the JSON dump the guest agent writes from a running kernel's
// /proc/kcore and /proc/kallsyms. Every problem is one line and exit 2.

import { spawnSync } from "node:child_process";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { basename } from "node:path";
import { EntryError, entryFacts, factLines, imageFromDump, MAX_FTRACE_CALLER_BYTES, type EntryImage, type ImageCode, type ImageSymbol } from "../model/binary.ts";
import { branchTarget, decode } from "../model/insn.ts";
import type { Design } from "../model/kernel.ts";
import { imageOf, registerEntryImage } from "../model/variants/index.ts";
import { toHex } from "../model/insn.ts";
import { DEFAULT_KERNEL } from "../model/layout.ts";
import { designFileOf } from "./design-file.ts";
import { InputError, readJson } from "./load.ts";

/** Symbols besides the code's own that the model binds or reports by name. */
const NAMED = ["ftrace_list_ops", "ftrace_nop_ops", "ftrace_ops_list_func", "ftrace_ops_nop_func", "call_direct_funcs", "ftrace_stub", "_text", "_etext"];
const CODE = ["ftrace_caller", "ftrace_stub_direct_tramp"] as const;

/**
 * The design name for a file given with --entry: `entry:` and its base name, with anything but letters, digits,
 * dots and dashes made `_` (a `+` would read as a mutant, a `/` as a directory in counterexample file names).
 */
export function entryDesignName(file: string): string {
  return `entry:${basename(file).replace(/[^A-Za-z0-9._-]/g, "_")}`;
}

function readelf(args: ReadonlyArray<string>, file: string): string {
  for (const tool of ["aarch64-linux-gnu-readelf", "readelf"]) {
    const r = spawnSync(tool, [...args, file], { encoding: "utf8", maxBuffer: 1 << 30 });
    if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === "ENOENT") continue;
    if (r.status !== 0) throw new InputError(`--entry ${file}: readelf ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim().split("\n")[0] ?? ""}`);
    return r.stdout;
  }
  throw new InputError(`--entry ${file}: reading an ELF needs readelf from binutils (apt-get install binutils)`);
}

interface ElfSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: number;
  readonly global: boolean;
  readonly func: boolean;
}

/** The rows of a readelf table that match `row`, each made into a value (null: skip it). */
function readelfRows<T>(file: string, args: ReadonlyArray<string>, row: RegExp, make: (m: RegExpExecArray) => T | null): T[] {
  return readelf(args, file)
    .split("\n")
    .flatMap((line) => {
      const m = row.exec(line);
      const v = m === null ? null : make(m);
      return v === null ? [] : [v];
    });
}

/** `readelf -sW`: "Num: Value Size Type Bind Vis Ndx Name", defined symbols only. */
function elfSymbols(file: string): ElfSymbol[] {
  return readelfRows(file, ["-sW"], /^\s*\d+:\s+([0-9a-f]{16})\s+(\d+|0x[0-9a-f]+)\s+(\w+)\s+(\w+)\s+\w+(?:\s+\[[^\]]*\])?\s+(\w+)\s+(\S+)/, (m) =>
    m[5] === "UND" ? null : { name: m[6]!.replace(/@.*$/, ""), value: BigInt(`0x${m[1]!}`), size: Number(m[2]!), global: m[4] !== "LOCAL", func: m[3] === "FUNC" || m[3] === "NOTYPE" },
  );
}

interface Section {
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly bits: boolean;
}

/** `readelf -SW`: "[Nr] Name Type Address Off Size ES Flg Lk Inf Al". */
function elfSections(file: string): Section[] {
  return readelfRows(file, ["-SW"], /^\s*\[\s*\d+\]\s+\S*\s+(\w+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s/, (m) => ({
    addr: BigInt(`0x${m[2]!}`),
    offset: parseInt(m[3]!, 16),
    size: parseInt(m[4]!, 16),
    bits: m[1] !== "NOBITS",
  }));
}

/** Up to `bytes` bytes of the file from `position` (fewer where the file ends). */
function readAt(file: string, position: number, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(file, "r");
  try {
    return buf.subarray(0, readSync(fd, buf, 0, bytes, position));
  } finally {
    closeSync(fd);
  }
}

function readWords(file: string, sections: ReadonlyArray<Section>, addr: bigint, bytes: number): number[] {
  const s = sections.find((x) => x.bits && addr >= x.addr && addr + BigInt(bytes) <= x.addr + BigInt(x.size));
  if (s === undefined) throw new InputError(`--entry ${file}: no section of the file holds 0x${addr.toString(16)}..+${bytes}`);
  const buf = readAt(file, s.offset + Number(addr - s.addr), bytes);
  if (buf.length !== bytes) throw new InputError(`--entry ${file}: the file ends before 0x${addr.toString(16)}..+${bytes} (truncated?)`);
  return Array.from({ length: bytes / 4 }, (_, i) => buf.readUInt32LE(i * 4));
}

/** Run f, turning the model's refusal of the file into the command line's one-line error. */
function refusalsAsInput<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof EntryError) throw new InputError(`--entry ${file}: ${e.message}`);
    throw e;
  }
}

/** An ELF vmlinux (or any AArch64 ELF with the symbols) as an image. */
function elfImage(file: string): EntryImage {
  const header = readelf(["-hW"], file);
  const machine = /Machine:\s+(.*)/.exec(header)?.[1]?.trim() ?? "unknown";
  if (machine !== "AArch64") throw new InputError(`--entry ${file}: an ELF for ${machine}, not AArch64`);
  if (!/Class:\s+ELF64/.test(header) || !/little endian/.test(header)) throw new InputError(`--entry ${file}: not a 64-bit little-endian ELF`);
  const syms = elfSymbols(file);
  const sections = elfSections(file);
  const code: ImageCode[] = [];
  const symbols: ImageSymbol[] = [];
  for (const name of CODE) {
    const s = syms.find((x) => x.name === name && x.global);
    if (s === undefined) {
      if (name === "ftrace_caller") throw new InputError(`--entry ${file}: no ftrace_caller symbol (a kernel built with DYNAMIC_FTRACE_WITH_CALL_OPS has one)`);
      continue;
    }
    // SYM_CODE_END gives the symbol its size; without one, the code runs to the next global symbol.
    const next = syms.filter((x) => x.global && x.value > s.value).reduce<bigint | null>((m, x) => (m === null || x.value < m ? x.value : m), null);
    const bytes = s.size > 0 ? s.size : next !== null ? Number(next - s.value) : 0;
    if (bytes <= 0 || bytes % 4 !== 0 || bytes > MAX_FTRACE_CALLER_BYTES) throw new InputError(`--entry ${file}: ${name} is ${bytes} bytes, not a whole number of instructions up to ${MAX_FTRACE_CALLER_BYTES}`);
    const c: ImageCode = { name, addr: s.value, words: readWords(file, sections, s.value, bytes) };
    code.push(c);
    const end = s.value + BigInt(bytes);
    for (const x of syms) if (x.value >= s.value && x.value < end && !x.name.startsWith("$")) symbols.push({ name: x.name, addr: x.value, global: x.global });
    // Name where each branch leaving the code lands, so the model can bind it.
    c.words.forEach((w, i) => {
      const t = branchTarget(decode(w), s.value + BigInt(i * 4));
      if (t === undefined || (t >= s.value && t < end)) return;
      const hit = syms.find((x) => x.value === t && x.func && !x.name.startsWith("$"));
      if (hit !== undefined) symbols.push({ name: hit.name, addr: t, global: hit.global });
    });
  }
  for (const n of NAMED) {
    const s = syms.find((x) => x.name === n);
    if (s !== undefined) symbols.push({ name: n, addr: s.value, global: true });
  }
  return { name: entryDesignName(file), source: `${basename(file)} (ELF)`, release: null, code, symbols, btf: null };
}

/** Read FILE as an image (ELF by its magic, else a JSON dump). */
export function readEntryImage(file: string): EntryImage {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new InputError(`--entry ${file}: not found`);
  }
  if (!st.isFile()) throw new InputError(`--entry ${file}: not a regular file`);
  const magic = readAt(file, 0, 4);
  return refusalsAsInput(file, () =>
    magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) ? elfImage(file) : imageFromDump(readJson(file), entryDesignName(file), `${basename(file)} (dump)`),
  );
}

/**
 * A scenario's or counterexample's design name moved onto the design read with --entry: the base is replaced and
 * any `+mutant` switches are kept (`upstream+drop-notrace` becomes `entry:vmlinux+drop-notrace`).
 */
export function onEntryDesign(variant: string, design: Design): string {
  const [, ...mutations] = variant.split("+");
  return [design.name, ...mutations].join("+");
}

/** The file each design read with --entry in this run came from (for the replay commands printed). */
const FILES = new Map<string, string>();

/**
 * The command that replays a counterexample file, with --entry when its design was read from a binary and --design
 * when it was loaded from a file of the user's.
 */
export function replayCommandFor(file: string, design: string): string {
  const entry = FILES.get(design.split("+")[0] ?? design);
  const given = designFileOf(design);
  return `npx dispatch-spec replay ${file}${entry !== undefined ? ` --entry ${entry}` : ""}${given !== undefined ? ` --design ${given}` : ""}`;
}

/** Read FILE and make its design known by name; returns the design. */
export function loadEntry(file: string): Design {
  const image = readEntryImage(file);
  FILES.set(image.name, file);
  return refusalsAsInput(file, () => registerEntryImage(image));
}

/** What was read from the binary and what the model derived from its code, for the top of a run's output. */
export function entrySummary(d: Design): string {
  if (d.entry.kind !== "binary") return "";
  const c = d.entry.ftraceCaller;
  const image = imageOf(d.name);
  const facts = entryFacts({ name: c.name, addr: c.linkedAt, words: c.words });
  const stub = d.entry.stubDirectTramp;
  return [
    `design ${d.name}: ftrace_caller from ${d.entry.source}, ${c.words.length} words linked at ${toHex(c.linkedAt)} (run at ${toHex(DEFAULT_KERNEL.ftrace_caller)} unless a scenario moves it)${stub !== null ? `; ftrace_stub_direct_tramp, ${stub.words.length} words` : "; no ftrace_stub_direct_tramp (no DIRECT_CALLS)"}`,
    ...factLines(facts, image?.btf ?? null).map((l) => `  ${l}`),
    `  the C side uses ops->func at ${d.ops.func}, ops->direct_call at ${d.ops.direct_call} (${image?.btf?.ops != null ? "from BTF" : "from the code"}), fregs->direct_tramp at ${d.fregs.direct_tramp ?? "-"} (${image?.btf?.regs != null ? "from BTF" : "from the code"})`,
  ].join("\n") + "\n";
}
