// `--entry FILE` end to end, as a kernel engineer runs it: Debian's dump and an ELF built from its words give the
// same design; a corrupted dump makes `gate --entry` fail on the property the corruption breaks; bad files are one
// line and exit 2.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingTools } from "../conformance/tools.ts";
import dump from "../model/variants/debian-6.12.entry.json" with { type: "json" };
import { debian612 } from "../model/variants/debian-6.12.ts";
import { readEntryImage } from "./entry.ts";
import { itWithTool } from "./needs-tool.ts";
import { cli } from "./testkit.ts";

type Dump = typeof dump;
const DUMP_FILE = join(import.meta.dirname, "..", "model", "variants", "debian-6.12.entry.json");

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "dispatch-spec-entry-"));
}

/** The Debian dump with ftrace_caller's words at the given byte offsets replaced, written to a file. */
function corruptDump(name: string, words: ReadonlyArray<readonly [number, number]>): string {
  const d = structuredClone(dump) as Dump;
  const caller = d.code[0]!;
  for (const [offset, word] of words) caller.words[offset / 4] = word.toString(16).padStart(8, "0");
  const file = join(tmp(), name);
  writeFileSync(file, JSON.stringify(d));
  return file;
}

const ELF_TOOLS = ["aarch64-linux-gnu-as", "aarch64-linux-gnu-ld"] as const;
const elfTools = missingTools(ELF_TOOLS).length === 0;

/**
 * An AArch64 ELF holding the dump's words at the dump's addresses, with the symbols a vmlinux has for them
 * (ftrace_caller with its size from SYM_CODE_END, its local labels, ftrace_stub_direct_tramp, ftrace_stub); with
 * `withoutCaller`, the same code under another name.
 */
function elfFromDump(withoutCaller = false, variantPcs = false): string {
  const dir = tmp();
  const [caller, stub] = dump.code as Dump["code"];
  const words = (ws: ReadonlyArray<string>): string => ws.map((w) => `  .inst 0x${w}`).join("\n");
  const name = withoutCaller ? "not_ftrace_caller" : "ftrace_caller";
  const local = caller!.symbols.filter((s) => s.type === "t");
  const offsetOf = (a: string): number => Number(BigInt(a) - BigInt(caller!.addr));
  const body = caller!.words.map((w, i) => {
    const labels = local.filter((l) => offsetOf(l.addr) === i * 4).map((l) => `${l.name}:`);
    return [...labels, `  .inst 0x${w}`].join("\n");
  });
  const src = [
    "  .text",
    `  .globl ${name}`,
    `  .type ${name}, %function`,
    // readelf then prints "DEFAULT [VARIANT_PCS]" in the symbol's row, as for a vmlinux built with such symbols.
    ...(variantPcs ? [`  .variant_pcs ${name}`] : []),
    `${name}:`,
    ...body.slice(0, -1),
    `  .size ${name}, . - ${name}`,
    body.at(-1)!,
    "  .globl ftrace_stub_direct_tramp",
    "  .type ftrace_stub_direct_tramp, %function",
    "ftrace_stub_direct_tramp:",
    words(stub!.words),
    "  .size ftrace_stub_direct_tramp, . - ftrace_stub_direct_tramp",
    "  .globl ftrace_stub",
    "ftrace_stub:",
    "  ret",
  ].join("\n");
  writeFileSync(join(dir, "e.S"), src + "\n");
  const as = spawnSync("aarch64-linux-gnu-as", ["-o", join(dir, "e.o"), join(dir, "e.S")], { encoding: "utf8" });
  if (as.status !== 0) throw new Error(as.stderr);
  const ld = spawnSync("aarch64-linux-gnu-ld", ["-e", name, `-Ttext=${caller!.addr}`, "-o", join(dir, "vmlinux"), join(dir, "e.o")], { encoding: "utf8" });
  if (ld.status !== 0) throw new Error(ld.stderr);
  return join(dir, "vmlinux");
}

describe("--entry FILE", () => {
  it("reads Debian's dump into the committed debian-6.12 design's words", () => {
    const image = readEntryImage(DUMP_FILE);
    expect(image.name).toBe("entry:debian-6.12.entry.json");
    expect(image.release).toBe("6.12.117+deb13-arm64");
    const e = debian612.entry;
    expect(e.kind).toBe("binary");
    if (e.kind === "binary") expect(image.code[0]!.words).toEqual(e.ftraceCaller.words);
  });

  itWithTool(elfTools, "GNU binutils for AArch64 (readelf)")("reads the same words, labels and size from an ELF vmlinux through readelf", () => {
    const image = readEntryImage(elfFromDump());
    expect(image.source).toBe("vmlinux (ELF)");
    const caller = image.code.find((c) => c.name === "ftrace_caller")!;
    // The symbol's size ends it at `br x17`: the alignment padding after it is not part of ftrace_caller.
    expect(caller.words).toEqual(dump.code[0]!.words.slice(0, -1).map((w) => parseInt(w, 16)));
    expect(caller.addr).toBe(BigInt(dump.code[0]!.addr));
    expect(image.symbols.filter((s) => s.name.startsWith("ftrace_caller_direct")).map((s) => s.addr)).toEqual(
      dump.code[0]!.symbols.filter((s) => s.type === "t").map((s) => BigInt(s.addr)),
    );
    expect(image.code.find((c) => c.name === "ftrace_stub_direct_tramp")?.words).toEqual(dump.code[1]!.words.map((w) => parseInt(w, 16)));
  });

  itWithTool(elfTools, "GNU binutils for AArch64 (readelf)")("reads a symbol whose readelf row carries an st_other note such as [VARIANT_PCS]", () => {
    const image = readEntryImage(elfFromDump(false, true));
    expect(image.code.find((c) => c.name === "ftrace_caller")?.words.length).toBe(dump.code[0]!.words.length - 1);
  });

  itWithTool(elfTools, "GNU binutils for AArch64 (readelf)")("runs check on an ELF with the same verdicts as on Debian's design", { timeout: 60_000 }, async () => {
    const r = await cli(["check", "--entry", elfFromDump(), "--runs", "150", "--seed", "1", "--workers", "2"]);
    expect(r.out).toContain("design entry:vmlinux: ftrace_caller from vmlinux (ELF), 43 words");
    expect(r.out).toContain("ops->func at 0, ops->direct_call at 208");
    expect(r.out).toContain("the C side uses ops->func at 0, ops->direct_call at 208 (from the code), fregs->direct_tramp at 72 (from the code)");
    expect(r.out).toMatch(/recursion-protected\s+\d+\s+fails.*expected: a known finding/);
    expect(r.out).toContain("every verdict as expected: 11 of 12 properties hold, 1 fails as recorded");
    expect(r.code).toBe(0);
  });

  it("makes the gate fail the property a corrupted word breaks, with a short counterexample", { timeout: 120_000 }, async () => {
    // `ret x17` for the `br x17` both direct exits share.
    const file = corruptDump("ret-x17.json", [[0xa8, 0xd65f0220]]);
    const r = await cli(["gate", "--entry", file, "--runs", "100", "--workers", "2"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/entry:ret-x17\.json\s+holds\s+holds\s+holds\s+holds\s+holds\s+holds\s+holds\s+fails!/);
    expect(r.out).toMatch(/UNEXPECTED entry:ret-x17\.json x branch-hygiene: call \w+: ret x17 at ftrace_caller_direct goes to \S+, which no call pushed/);
    expect(r.out).toContain("entry:ret-x17.json x branch-hygiene: holds -> fails");
    const steps = /entry:ret-x17\.json x branch-hygiene: .*\n\s+(\d+) steps/.exec(r.out);
    expect(Number(steps?.[1])).toBeLessThanOrEqual(3);
  });

  it("refuses a missing file, a non-AArch64 ELF, a dump with a bad word, and code it cannot run, in one line with exit 2", async () => {
    const cases: Array<readonly [string, RegExp]> = [
      [join(tmp(), "missing.json"), /--entry \S+missing\.json: not found$/],
      [process.execPath, /--entry \S+: an ELF for Advanced Micro Devices X86-64, not AArch64$/],
      [corruptDump("bad-word.json", []), /./],
      [corruptDump("mrs.json", [[0x14, 0xd53bd04b]]), /--entry \S+mrs\.json: ftrace_caller\+0x14 \(0xffff80008002cd8c\): word 0xd53bd04b is mrs \(system register read\), which the interpreter does not implement$/],
      [tmp(), /--entry \S+: not a regular file$/],
    ];
    // A word that is not 8 hex digits.
    const d = structuredClone(dump) as Dump;
    d.code[0]!.words[5] = "d10243f";
    writeFileSync(cases[2]![0], JSON.stringify(d));
    cases[2] = [cases[2]![0], /--entry \S+bad-word\.json: code\.0\.words\.5: expected an instruction word as 8 hex digits$/];
    for (const [file, message] of cases) {
      for (const cmd of [["check"], ["gate"], ["explore", "--depth", "1"], ["run", join(import.meta.dirname, "..", "properties", "scenarios", "seed-example.json")]]) {
        const r = await cli([...cmd, "--entry", file]);
        expect(r.code, `${cmd[0]} --entry ${file}`).toBe(2);
        expect(r.err.trim().split("\n"), r.err).toHaveLength(1);
        expect(r.err.trim()).toMatch(new RegExp(`^dispatch-spec: ${message.source}`));
      }
    }
  });

  itWithTool(elfTools, "GNU binutils for AArch64 (readelf)")("refuses an ELF without ftrace_caller in one line", async () => {
    const r = await cli(["check", "--entry", elfFromDump(true)]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^dispatch-spec: --entry \S+vmlinux: no ftrace_caller symbol \(a kernel built with DYNAMIC_FTRACE_WITH_CALL_OPS has one\)$/);
  });

  it("runs and replays a counterexample of a mutated --entry design on that design, mutation kept", { timeout: 60_000 }, async () => {
    const c = await cli(["check", "--entry", DUMP_FILE, "--variant", "entry:debian-6.12.entry.json+drop-notrace", "--property", "exact-handlers", "--runs", "500", "--seed", "3", "--workers", "1"]);
    expect(c.code).toBe(1);
    const file = /counterexample: (\S+)/.exec(c.out)?.[1];
    expect(c.out).toContain(`replay: npx dispatch-spec replay ${file ?? ""} --entry ${DUMP_FILE}`);
    const rep = await cli(["replay", file ?? "", "--entry", DUMP_FILE]);
    expect(rep.out).toContain("exact-handlers still fails on entry:debian-6.12.entry.json+drop-notrace");
    expect(rep.code).toBe(1);
    const run = await cli(["run", file ?? "", "--entry", DUMP_FILE]);
    expect(run.out).toMatch(/property exact-handlers fails on entry:debian-6\.12\.entry\.json\+drop-notrace at step \d+ \(/);
    expect(run.err).toBe("");
    // The property still fails: the run fails.
    expect(run.code).toBe(1);
  });

  it("runs a scenario on the binary's design", async () => {
    const r = await cli(["run", join(import.meta.dirname, "..", "properties", "scenarios", "seed-example-if-supported.json"), "--entry", DUMP_FILE]);
    expect(r.out).toContain("variant entry:debian-6.12.entry.json");
    expect(r.code).toBe(0);
  });
});
