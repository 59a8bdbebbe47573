// dsmod.ko, dispatch-spec's test module (kernel/module/dsmod.c), built on the host for exactly the Debian kernel
// `npm run kernel` boots. What kbuild needs comes from Debian's archive as the kernel does (apt-get download, then
// dpkg-deb -x into kernel/cache/, never installed): the headers for that release (arm64 and common), the amd64
// linux-kbuild of that release (modpost and friends, built for the host), and trixie's libc6 for amd64, because
// that modpost needs a newer glibc than bookworm's and is run through trixie's loader. The cross compiler is the one
// CI already has (bookworm's gcc 12 for aarch64); the kernel was built by gcc 14, whose -fmin-function-alignment
// gcc 12 lacks, so a wrapper asks for the same alignment with -falign-functions (dsmod has no patch-sites of its
// own, so nothing relies on the stricter form). Module BTF is not generated (no pahole on the host). The result
// must carry the kernel's vermagic; every failure is one line (ModuleError) and leaves nothing half-built behind.

import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { CACHE, KERNEL_RELEASE, KERNEL_VERSION } from "./fetch.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const MODULE_SOURCE = join(HERE, "module", "dsmod.c");

/** Which Debian kernel to build for: its release, and the package version when it must be exactly one. */
export interface ModuleTarget {
  readonly release: string;
  readonly version?: string;
}

/** The kernel `npm run kernel` boots by default. */
export const DEBIAN_TARGET: ModuleTarget = { release: KERNEL_RELEASE, version: KERNEL_VERSION };

/** Where a target's module and kbuild tree live in the cache. */
export function modulePath(t: ModuleTarget): string {
  return join(CACHE, t.release === KERNEL_RELEASE ? "dsmod.ko" : `dsmod-${t.release}.ko`);
}

function kbuildDir(t: ModuleTarget): string {
  return join(CACHE, t.release === KERNEL_RELEASE ? "kbuild" : `kbuild-${t.release}`);
}

/** What kbuild needs, by package (with the version the booted kernel has, when known). */
export function modulePackages(t: ModuleTarget): string[] {
  // The release without its flavour: 6.12.117+deb13 for 6.12.117+deb13-arm64.
  const base = t.release.replace(/-arm64$/, "");
  const v = t.version !== undefined ? `=${t.version}` : "";
  return [`linux-headers-${t.release}:arm64${v}`, `linux-headers-${base}-common${v}`, `linux-kbuild-${base}:amd64${v}`, "libc6:amd64/trixie"];
}

/** The release a Debian arm64 kernel image was built as (its "Linux version" banner), or null. */
export function imageRelease(image: Buffer): string | null {
  const raw = image[0] === 0x1f && image[1] === 0x8b ? gunzipSync(image) : image;
  const m = /Linux version (\S+) \(/.exec(raw.toString("latin1"));
  return m === null ? null : m[1]!;
}

export class ModuleError extends Error {}

function run(what: string, cmd: string, args: ReadonlyArray<string>, cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.error !== undefined) throw new ModuleError(`dsmod: ${what}: ${r.error.message}`);
  if (r.status !== 0) {
    const last = (r.stderr || r.stdout).trim().split("\n").filter((l) => !/^make(\[\d+\])?: /.test(l)).slice(-1)[0] ?? "";
    throw new ModuleError(`dsmod: ${what} failed: ${last}`);
  }
  return r.stdout;
}

/** The vermagic string in a module's .modinfo (null if it has none). */
export function vermagicOf(ko: Buffer): string | null {
  const at = ko.indexOf("vermagic=");
  if (at < 0) return null;
  const end = ko.indexOf(0, at);
  return ko.subarray(at + "vermagic=".length, end < 0 ? undefined : end).toString("latin1");
}

/** Whether a vermagic is the booted kernel's: its release first, then the build's features. */
export function vermagicMatches(vermagic: string | null, release: string = KERNEL_RELEASE): boolean {
  return vermagic !== null && vermagic.split(" ")[0] === release;
}

/** The headers, kbuild and loader, unpacked into kernel/cache/kbuild (into a scratch directory first). */
function kbuildTree(t: ModuleTarget, say: (s: string) => void): string {
  const KBUILD = kbuildDir(t);
  const KERNEL_RELEASE = t.release;
  const BASE = t.release.replace(/-arm64$/, "");
  const MODULE_PACKAGES = modulePackages(t);
  const headers = join(KBUILD, "usr", "src", `linux-headers-${KERNEL_RELEASE}`);
  if (existsSync(join(KBUILD, ".complete"))) return headers;
  const tmp = `${KBUILD}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  rmSync(KBUILD, { recursive: true, force: true });
  mkdirSync(join(tmp, "deb"), { recursive: true });
  try {
    say(`fetching into ${KBUILD}: ${MODULE_PACKAGES.join(", ")} (about 20 MB), unpacked, not installed`);
    run("apt-get download", "apt-get", ["download", "-q", ...MODULE_PACKAGES], join(tmp, "deb"));
    for (const f of readdirSync(join(tmp, "deb"))) run(`dpkg-deb -x ${f}`, "dpkg-deb", ["-x", join(tmp, "deb", f), f.startsWith("libc6") ? join(tmp, "libc") : tmp]);
    rmSync(join(tmp, "deb"), { recursive: true, force: true });
    // The arm64 headers include the common ones by absolute path: make it relative to where they were unpacked.
    const mk = join(tmp, "usr", "src", `linux-headers-${KERNEL_RELEASE}`, "Makefile");
    if (!existsSync(mk)) throw new ModuleError(`dsmod: linux-headers-${KERNEL_RELEASE} has no Makefile`);
    // (7.x also names its own directory as KBUILD_OUTPUT: taken from where the Makefile is, when make reads it.)
    writeFileSync(
      mk,
      readFileSync(mk, "utf8")
        .replace(/^KBUILD_OUTPUT\s*=\s*\/usr\/src\/\S+$/m, "KBUILD_OUTPUT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))")
        .replace(/^include \/usr\/src\/(\S+)$/m, "include $(dir $(lastword $(MAKEFILE_LIST)))../$1"),
    );
    // trixie's modpost, run by trixie's loader with trixie's libc (the wrapper Debian ships picks the binary by
    // the path of its own executable, which would be the loader's here, so the little-endian 64-bit one is named).
    const lib = join(tmp, "libc", "usr", "lib", "x86_64-linux-gnu");
    const mod = join(tmp, "usr", "lib", `linux-kbuild-${BASE}`, "scripts", "mod");
    if (!existsSync(join(lib, "ld-linux-x86-64.so.2")) || !existsSync(join(mod, "modpost.real-lsb-64"))) throw new ModuleError("dsmod: the unpacked packages lack trixie's loader or modpost.real-lsb-64");
    renameSync(join(mod, "modpost.real-lsb-64"), join(mod, "modpost.real-lsb-64.bin"));
    const ldso = (rel: string): string => `#!/bin/sh\nexec "$(dirname "$0")/${rel}/ld-linux-x86-64.so.2" --library-path "$(dirname "$0")/${rel}" "$(dirname "$0")/modpost.real-lsb-64.bin" "$@"\n`;
    const relLib = "../../../../../libc/usr/lib/x86_64-linux-gnu";
    writeFileSync(join(mod, "modpost"), ldso(relLib));
    chmodSync(join(mod, "modpost"), 0o755);
    writeFileSync(
      join(tmp, "cc"),
      '#!/bin/sh\n# gcc 12 lacks -fmin-function-alignment (gcc 14 built the kernel): the same alignment, asked the older way.\nfor a in "$@"; do\n  shift\n  case "$a" in -fmin-function-alignment=*) set -- "$@" "-falign-functions=${a#-fmin-function-alignment=}" ;; *) set -- "$@" "$a" ;; esac\ndone\nexec aarch64-linux-gnu-gcc "$@"\n',
    );
    chmodSync(join(tmp, "cc"), 0o755);
    writeFileSync(join(tmp, ".complete"), `${MODULE_PACKAGES.join("\n")}\n`);
    renameSync(tmp, KBUILD);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return headers;
}

/** dsmod.ko for a Debian arm64 kernel (by default the one booted): from the cache, or built now (saying each step). */
export function buildModule(say: (s: string) => void, t: ModuleTarget = DEBIAN_TARGET): string {
  const DSMOD = modulePath(t);
  const KERNEL_RELEASE = t.release;
  if (existsSync(DSMOD) && statSync(DSMOD).mtimeMs >= statSync(MODULE_SOURCE).mtimeMs && vermagicMatches(vermagicOf(readFileSync(DSMOD)), KERNEL_RELEASE)) return DSMOD;
  rmSync(DSMOD, { force: true });
  const headers = kbuildTree(t, say);
  return kbuildDsmod(say, join(CACHE, `dsmod-build-${KERNEL_RELEASE}`), DSMOD, KERNEL_RELEASE, "", ["-C", headers, `CC=${join(kbuildDir(t), "cc")}`, "CONFIG_DEBUG_INFO_BTF_MODULES="]);
}

/**
 * Build dsmod.c with kbuild in a scratch directory (make's arguments say against which kernel, extraKbuild adds to
 * its Kbuild file), check its vermagic names the release, and put it at dest; nothing half-built is left.
 */
function kbuildDsmod(say: (s: string) => void, work: string, dest: string, release: string, extraKbuild: string, makeArgs: ReadonlyArray<string>): string {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    copyFileSync(MODULE_SOURCE, join(work, "dsmod.c"));
    // The module is not traceable itself: its callback must not be patched into the dispatch it observes.
    writeFileSync(join(work, "Kbuild"), `obj-m := dsmod.o\nCFLAGS_REMOVE_dsmod.o = $(CC_FLAGS_FTRACE)\n${extraKbuild}`);
    say(`building dsmod.ko for ${release}`);
    run("make (kbuild)", "make", ["-s", ...makeArgs, `M=${work}`, "modules"]);
    const ko = join(work, "dsmod.ko");
    if (!existsSync(ko)) throw new ModuleError("dsmod: kbuild finished without dsmod.ko");
    const vm = vermagicOf(readFileSync(ko));
    if (!vermagicMatches(vm, release)) throw new ModuleError(`dsmod: vermagic mismatch: the module says "${vm ?? "none"}", the kernel is ${release}`);
    copyFileSync(ko, `${dest}.tmp`);
    renameSync(`${dest}.tmp`, dest);
    return dest;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(`${dest}.tmp`, { force: true });
  }
}

/**
 * dsmod.ko for a kernel dispatch-spec built (kernel/build.ts): against kbuild's output directory of that build, with
 * the host programs the build made, written to dest. The full tree is there, so dsmod also learns the tracer's
 * private trace_array layout (what the guest agent takes from BTF on Debian's kernel).
 */
export function buildModuleInTree(say: (s: string) => void, tree: string, release: string, dest: string): string {
  return kbuildDsmod(say, `${dest}.build`, dest, release, "ccflags-y += -I$(srctree)/kernel/trace -DDSMOD_TRACE_H\n", ["-C", tree, "ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"]);
}

/** Whether a built dsmod.ko is newer than its source (else it must be built again). */
export function moduleFresh(ko: string): boolean {
  return existsSync(ko) && statSync(ko).mtimeMs >= statSync(MODULE_SOURCE).mtimeMs;
}
