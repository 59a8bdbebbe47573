// A design read from a built kernel: what the model derives from Debian 6.12's dumped ftrace_caller, that those
// words are our transcription's word for word, how the words are placed and bound, and the one-line refusals for
// code the interpreter cannot run or a dump that is malformed.

import { describe, expect, it } from "vitest";
import { assemble } from "./asm.ts";
import { describeWord, entryFacts, EntryError, imageFromDump, reachable, type EntryImage } from "./binary.ts";
import { binaryDesign } from "./variants/from-binary.ts";
import { boot } from "./boot.ts";
import { callFunction } from "./exec.ts";
import { decode, disasm, encode, genBranch } from "./insn.ts";
import { STUB_DIRECT_TRAMP, upstreamFtraceCaller } from "./entry.ts";
import { UPSTREAM_FREGS, UPSTREAM_OPS } from "./structs.ts";
import { debian612, debian612Image } from "./variants/debian-6.12.ts";
import dump from "./variants/debian-6.12.entry.json" with { type: "json" };
import { F_ADDR, fn, FTRACE_CALLER, KS, regOrdinary } from "./testkit.ts";
import { variantByName } from "./variants/index.ts";
import type { Layout } from "./layout.ts";

const callerOf = (image: EntryImage) => image.code.find((c) => c.name === "ftrace_caller")!;

/** The Debian image with ftrace_caller's word at `offset` replaced. */
export function patched(offset: number, word: number, name = "patched"): EntryImage {
  const code = debian612Image.code.map((c) => (c.name === "ftrace_caller" ? { ...c, words: c.words.map((w, i) => (i * 4 === offset ? word : w)) } : c));
  return { ...debian612Image, name, code };
}

const layout: Layout = { bti: false, kernel: KS, modules: [], functions: [fn("f", F_ADDR)], trampolines: [] };

describe("Debian 6.12's ftrace_caller as a design", () => {
  it("reads the frame, ftrace_regs, the ops members and the literal from the code itself", () => {
    const f = entryFacts(callerOf(debian612Image));
    expect(f.frame).toBe(144);
    expect(f.fregs).toEqual(UPSTREAM_FREGS);
    expect(f.opsFunc).toBe(0);
    expect(f.opsDirectCall).toBe(208);
    expect(f.literal).toEqual({ mask: (1n << 64n) - 8n, offset: -16 });
  });

  it("takes the C side's layouts from BTF, which agree with the code", () => {
    expect(debian612Image.btf?.ops).toEqual({ func: 0, direct_call: 208, size: 0xd8 });
    expect(debian612Image.btf?.regs).toEqual(UPSTREAM_FREGS);
    expect(debian612.fregs).toEqual(UPSTREAM_FREGS);
    expect(debian612.ops).toEqual({ ...UPSTREAM_OPS, size: 216 });
    expect(debian612.subopsHashRule).toBe("append-intersect");
    expect(debian612.scope).toEqual(["subops"]);
    expect(debian612.frame).toBe(144);
    expect(debian612.directCalls).toBe(true);
  });

  it("ships, word for word, what our transcription of entry-ftrace.S assembles to (the last word is alignment padding)", () => {
    const c = callerOf(debian612Image);
    const listing = upstreamFtraceCaller({ fregs: UPSTREAM_FREGS, mutations: new Set() });
    const ours = assemble(listing, c.addr, () => undefined).words;
    expect(c.words.slice(0, ours.length)).toEqual(ours);
    expect(c.words.length).toBe(ours.length + 1);
    expect(decode(c.words[ours.length]!).kind).toBe("nop");
    const stub = debian612Image.code.find((x) => x.name === "ftrace_stub_direct_tramp")!;
    expect(stub.words).toEqual(assemble(STUB_DIRECT_TRAMP, stub.addr, () => undefined).words);
  });

  it("never reaches the padding after `br x17`, and keeps the kernel's local labels", () => {
    const c = callerOf(debian612Image);
    expect(reachable(c).offsets).toEqual(Array.from({ length: c.words.length - 1 }, (_, i) => i * 4));
    const k = boot(layout, debian612);
    expect([...k.symbols].filter(([, n]) => n.startsWith("ftrace_caller")).map(([a, n]) => [n, a - FTRACE_CALLER])).toEqual([
      ["ftrace_caller", 0n],
      ["ftrace_caller_direct_late", 0x9cn],
      ["ftrace_caller_direct", 0xa8n],
    ]);
  });

  it("is found by name and dispatches a call like upstream", () => {
    expect(variantByName("debian-6.12")).toBe(debian612);
    expect(variantByName("debian-6.12+skip-literal-update")?.mutations.has("skip-literal-update")).toBe(true);
    // A mutant of the listing has nothing to change in a binary.
    expect(variantByName("debian-6.12+ret-instead-of-br")).toBeUndefined();
    const k = boot(layout, debian612);
    regOrdinary(k, "A", ["f"]);
    const obs = callFunction(k, "f");
    expect(obs.path).toBe("caller-ops");
    expect(obs.handlers.map((h) => h.ops)).toEqual(["A"]);
    expect(obs.violations).toEqual([]);
  });
});

describe("words the interpreter cannot run, and a malformed dump", () => {
  it("names the instruction and its address in one line", () => {
    const mrs = 0xd53bd04b; // mrs x11, tpidr_el1
    expect(() => binaryDesign(patched(0x14, mrs))).toThrow(new EntryError("ftrace_caller+0x14 (0xffff80008002cd8c): word 0xd53bd04b is mrs (system register read), which the interpreter does not implement"));
    expect(() => binaryDesign(patched(0x14, 0x885f7c0b))).toThrow(/word 0x885f7c0b is a load\/store exclusive/);
    expect(() => binaryDesign(patched(0x14, 0xd503233f))).toThrow(/paciasp \(pointer authentication/);
  });

  it("names the common encodings it refuses", () => {
    expect(describeWord(0)).toBe("udf #0 (zero word)");
    expect(describeWord(0xd5033bbf)).toBe("dmb (barrier)");
    expect(describeWord(0x54000040)).toBe("b.cond");
    expect(describeWord(0x8b020020)).toBe("add/sub (register)");
  });

  it("refuses code that runs off its end, or refers to data the model does not bind", () => {
    // The last `br x17` becomes a NOP: control falls into the padding and past it.
    expect(() => binaryDesign(patched(0xa8, 0xd503201f))).toThrow(/ftrace_caller runs off its end at ftrace_caller\+0xb0/);
    expect(() => binaryDesign(patched(0x14, 0x90000002))).toThrow(/adrp x2, .* refers to data at .* which the model does not bind/);
  });

  it("binds a branch that leaves the code to the model's C function of that name, and refuses one it does not have", () => {
    const c = callerOf(debian612Image);
    // `bl ftrace_stub` in place of `blr x4`: the call of op->func becomes a call of ftrace_stub.
    const stubAt = debian612Image.symbols.find((s) => s.name === "ftrace_stub")!.addr;
    const bl = encode(genBranch(c.addr + 0x68n, stubAt, true));
    const d = binaryDesign(patched(0x68, bl));
    expect(d.entry.kind === "binary" && d.entry.ftraceCaller.binds).toEqual([{ offset: 0x68, symbol: "ftrace_stub" }]);
    const k = boot(layout, d);
    const placed = decode(k.mem.read32(FTRACE_CALLER + 0x68n));
    expect(disasm(placed, FTRACE_CALLER + 0x68n, (a) => k.symbols.get(a))).toBe("bl ftrace_stub");
    regOrdinary(k, "A", ["f"]);
    const obs = callFunction(k, "f");
    expect(obs.handlers).toEqual([]);
    expect(obs.violations).toEqual([]);
    const toAssist = encode(genBranch(c.addr + 0x68n, debian612Image.symbols.find((s) => s.name === "ftrace_ops_assist_func")!.addr, true));
    expect(() => binaryDesign(patched(0x68, toAssist))).toThrow(/bl to ftrace_ops_assist_func, a function the model does not have/);
  });

  it("takes a kernel without DIRECT_CALLS, keeping ops->func apart from the unused direct_call slot", () => {
    // No stub, the early direct exit (ldr x17; cbnz) as NOPs, and BTF without direct_call: a CALL_OPS-only build.
    const nop = 0xd503201f;
    const base = patched(0xc, nop);
    const image: EntryImage = {
      ...base,
      name: "no-direct",
      code: base.code.filter((c) => c.name === "ftrace_caller").map((c) => ({ ...c, words: c.words.map((w, i) => (i === 4 ? nop : w)) })),
      btf: { ops: null, regs: base.btf?.regs ?? null },
    };
    const d = binaryDesign(image);
    expect(d.directCalls).toBe(false);
    expect(d.ops).toEqual({ func: 0, direct_call: 208 });
    const k = boot(layout, d);
    regOrdinary(k, "A", ["f"]);
    expect(callFunction(k, "f").handlers.map((h) => h.ops)).toEqual(["A"]);
  });

  it("refuses a dump whose stub could not be read, and code that tests direct_call without a stub", () => {
    const bad = structuredClone(dump) as { code: Array<Record<string, unknown>> };
    bad.code[1] = { name: "ftrace_stub_direct_tramp", error: "kcore read failed" };
    expect(() => imageFromDump(bad, "x", "bad.json")).toThrow(new EntryError("the guest could not read ftrace_stub_direct_tramp: kcore read failed"));
    const noStub = { ...debian612Image, code: debian612Image.code.filter((c) => c.name === "ftrace_caller") };
    expect(() => binaryDesign(noStub)).toThrow(/tests ops->direct_call, but the image has no ftrace_stub_direct_tramp/);
    expect(() => binaryDesign({ ...debian612Image, btf: { ops: { func: 8, direct_call: 208, size: 216 }, regs: null } })).toThrow(/ops->func at 8: the model keeps ops->next there/);
    const unaligned = structuredClone(dump) as { code: Array<{ addr?: string }> };
    unaligned.code[0]!.addr = "0xffff80008002cd7a";
    expect(() => imageFromDump(unaligned, "x", "bad.json")).toThrow(/code.0.addr: code must start at a 4-byte aligned address/);
  });

  it("says which field of a dump is wrong", () => {
    const bad = structuredClone(dump) as { code: Array<{ words?: string[] }> };
    bad.code[0]!.words![3] = "zz";
    expect(() => imageFromDump(bad, "x", "bad.json")).toThrow(new EntryError("code.0.words.3: expected an instruction word as 8 hex digits"));
    expect(() => imageFromDump({ ...dump, format: "other" }, "x", "bad.json")).toThrow(/^format: /);
    expect(() => binaryDesign({ ...debian612Image, code: [] })).toThrow(/no ftrace_caller/);
  });
});
