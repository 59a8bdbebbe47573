// The kernel build's parts that need no source package: the cache key, the config check, GNU patch's output read
// into one line, and the work tree switched between patch sets on a small tree of our own (with the real `patch`).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { itWithTool } from "../cli/needs-tool.ts";
import { BuildError, buildFailureLine, buildKey, CONFIG_FRAGMENT, configShortfalls, fragmentOptions, patchFailureLine, prepareTree, readPatch, touchedFiles } from "./build.ts";

describe("the build's cache key", () => {
  it("changes with the source version, the config, each patch and their order", () => {
    const k = buildKey("6.12.117-1", "CONFIG_A=y\n", ["p1", "p2"]);
    expect(k).toMatch(/^[0-9a-f]{16}$/);
    expect(buildKey("6.12.117-1", "CONFIG_A=y\n", ["p1", "p2"])).toBe(k);
    expect(buildKey("6.12.118-1", "CONFIG_A=y\n", ["p1", "p2"])).not.toBe(k);
    expect(buildKey("6.12.117-1", "CONFIG_A=m\n", ["p1", "p2"])).not.toBe(k);
    expect(buildKey("6.12.117-1", "CONFIG_A=y\n", ["p2", "p1"])).not.toBe(k);
    expect(buildKey("6.12.117-1", "CONFIG_A=y\n", ["p1p2"])).not.toBe(k);
    expect(buildKey("6.12.117-1", "CONFIG_A=y\n", [])).not.toBe(k);
  });
});

describe("the config check", () => {
  it("reads the committed fragment and asks for CALL_OPS and DIRECT_CALLS", () => {
    const names = fragmentOptions(readFileSync(CONFIG_FRAGMENT, "utf8")).map((o) => `${o.name}=${o.value}`);
    for (const o of ["CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS=y", "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y", "CONFIG_MODULES=y", "CONFIG_KALLSYMS_ALL=y", "CONFIG_PROC_KCORE=y", "CONFIG_SAMPLE_FTRACE_DIRECT=m"])
      expect(names).toContain(o);
  });

  it("names every option the .config lacks, and takes =n as not set", () => {
    const fragment = "# a comment\nCONFIG_A=y\nCONFIG_B=m\nCONFIG_C=n\nCONFIG_D=\"x\"\nCONFIG_E=y\n";
    const dot = "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n# CONFIG_E is not set\n";
    expect(configShortfalls(fragment, dot)).toEqual(["CONFIG_B=m (got y)", "CONFIG_E=y (got n)"]);
    expect(configShortfalls("CONFIG_GONE=y\n", "")).toEqual(["CONFIG_GONE=y (got no such option in this tree, or its dependencies are off)"]);
    expect(configShortfalls(fragment, "CONFIG_A=y\nCONFIG_B=m\nCONFIG_D=\"x\"\nCONFIG_E=y\n")).toEqual([]);
  });

  it("refuses a line that is not an option", () => {
    expect(() => fragmentOptions("CONFIG_A=y\nFUNCTION_TRACER=y\n")).toThrow(BuildError);
  });
});

describe("GNU patch and make, read into one line", () => {
  it("names the files a dry run checks, once each", () => {
    expect(touchedFiles("Hmm...\nchecking file kernel/trace/ftrace.c\nUsing Plan A...\nchecking file arch/arm64/kernel/ftrace.c\nchecking file kernel/trace/ftrace.c\n")).toEqual([
      "kernel/trace/ftrace.c",
      "arch/arm64/kernel/ftrace.c",
    ]);
  });

  it("says which file and hunk failed", () => {
    expect(patchFailureLine("checking file a.c\nHunk #1 succeeded at 1.\nchecking file b.c\nHunk #2 FAILED at 40.\n1 out of 2 hunks FAILED\n")).toBe("b.c: Hunk #2 FAILED at 40");
    expect(patchFailureLine("checking file a.c\nReversed (or previously applied) patch detected!  Skipping patch.\n")).toBe("a.c: already applied (a reversed patch)");
    expect(patchFailureLine("patch: **** Only garbage was found in the patch input.\n")).toBe("Only garbage was found in the patch input.");
  });

  it("takes a compiler's error over make's summary", () => {
    const log = "  CC      kernel/trace/ftrace.o\n../kernel/trace/ftrace.c:12:1: error: expected ';' before '}' token\nmake[4]: *** [scripts/Makefile.build:229: kernel/trace/ftrace.o] Error 1\nmake: *** [Makefile:224: __sub-make] Error 2\n";
    expect(buildFailureLine(log)).toBe("../kernel/trace/ftrace.c:12:1: error: expected ';' before '}' token");
    expect(buildFailureLine("  LD      vmlinux\nmake[2]: *** [scripts/Makefile.vmlinux:34: vmlinux] Error 1\n")).toBe("make[2]: *** [scripts/Makefile.vmlinux:34: vmlinux] Error 1");
  });

  it("refuses a patch file that is missing or a directory, in one line", () => {
    expect(() => readPatch("/nonexistent/fix.patch")).toThrow("--patch: no such file: /nonexistent/fix.patch");
    expect(() => readPatch(tmpdir())).toThrow(/not a regular file/);
  });
});

const hasPatch = spawnSync("patch", ["--version"]).status === 0;

describe("the work tree, switched between patch sets", () => {
  let dir = "";
  afterEach(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });
  const diff = (file: string, from: string, to: string): string => `--- a/${file}\n+++ b/${file}\n@@ -1,3 +1,3 @@\n one\n-${from}\n+${to}\n three\n`;
  const quiet = (): void => {};

  itWithTool(hasPatch, "patch")("applies a set, puts it back for the next, and never writes the pristine tree", () => {
    dir = mkdtempSync(join(tmpdir(), "dispatch-spec-build-"));
    const pristine = join(dir, "pristine");
    mkdirSync(join(pristine, "kernel"), { recursive: true });
    writeFileSync(join(pristine, "kernel", "a.c"), "one\ntwo\nthree\n");
    writeFileSync(join(pristine, "b.c"), "one\ntwo\nthree\n");
    const work = join(dir, "work");
    const { src } = prepareTree(pristine, work, "k1", [{ path: "a.patch", text: diff("kernel/a.c", "two", "TWO") }], quiet);
    expect(readFileSync(join(src, "kernel", "a.c"), "utf8")).toBe("one\nTWO\nthree\n");
    expect(readFileSync(join(pristine, "kernel", "a.c"), "utf8")).toBe("one\ntwo\nthree\n");
    // Untouched files stay hard links to the pristine tree.
    expect(statSync(join(src, "b.c")).ino).toBe(statSync(join(pristine, "b.c")).ino);
    prepareTree(pristine, work, "k2", [{ path: "b.patch", text: diff("b.c", "two", "2") }], quiet);
    expect(readFileSync(join(src, "kernel", "a.c"), "utf8")).toBe("one\ntwo\nthree\n");
    expect(readFileSync(join(src, "b.c"), "utf8")).toBe("one\n2\nthree\n");
    expect(readFileSync(join(pristine, "b.c"), "utf8")).toBe("one\ntwo\nthree\n");
    prepareTree(pristine, work, "k0", [], quiet);
    expect(readFileSync(join(src, "b.c"), "utf8")).toBe("one\ntwo\nthree\n");
  });

  itWithTool(hasPatch, "patch")("refuses a patch that does not apply in one line, and leaves the tree unpatched", () => {
    dir = mkdtempSync(join(tmpdir(), "dispatch-spec-build-"));
    const pristine = join(dir, "pristine");
    mkdirSync(pristine, { recursive: true });
    writeFileSync(join(pristine, "a.c"), "one\ntwo\nthree\n");
    writeFileSync(join(pristine, "b.c"), "one\ntwo\nthree\n");
    const work = join(dir, "work");
    const good = { path: "good.patch", text: diff("a.c", "two", "TWO") };
    const bad = { path: "bad.patch", text: diff("b.c", "zzz", "2") };
    expect(() => prepareTree(pristine, work, "k1", [good, bad], quiet)).toThrow(/^bad\.patch does not apply to linux-source \S+ \(after the patches before it\): b\.c: Hunk #1 FAILED at 1$/);
    expect(readFileSync(join(work, "src", "a.c"), "utf8")).toBe("one\ntwo\nthree\n");
    expect(existsSync(join(work, "src", "b.c.rej"))).toBe(false);
    expect(() => prepareTree(pristine, work, "k1", [{ path: "empty.patch", text: "just words\n" }], quiet)).toThrow(/empty\.patch/);
    // The same key after a failure is prepared again, not taken as done.
    const { src } = prepareTree(pristine, work, "k1", [good], quiet);
    expect(readFileSync(join(src, "a.c"), "utf8")).toBe("one\nTWO\nthree\n");
  });
});
