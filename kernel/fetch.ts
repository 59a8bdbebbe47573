// What `dispatch-spec kernel` needs on the host, fetched once into kernel/cache/: Debian trixie's arm64 kernel
// (6.12, built with DYNAMIC_FTRACE_WITH_CALL_OPS and DIRECT_CALLS) and busybox, both taken from Debian's archive
// with `apt-get download` and unpacked with `dpkg-deb -x`, never installed; and the guest agent, cross-built from
// kernel/agent/kagent.c. The trixie suite is added to apt only after a pin keeps it at priority 100, so no later
// `apt-get install` upgrades the host to it.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { missingTools } from "../conformance/tools.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const CACHE = join(HERE, "cache");

export const KERNEL_VERSION = "6.12.117-1";
export const KERNEL_RELEASE = "6.12.117+deb13-arm64";
const KERNEL_PACKAGE = `linux-image-${KERNEL_RELEASE}:arm64=${KERNEL_VERSION}`;
const BUSYBOX_PACKAGE = "busybox-static:arm64";

export const HOST_TOOLS = ["qemu-system-aarch64", "aarch64-linux-gnu-gcc", "cpio", "xz", "dpkg-deb", "apt-get", "make"] as const;
export const HOST_APT_LINE = "apt-get install -y --no-install-recommends qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross cpio xz-utils make";

const PIN_FILE = "/etc/apt/preferences.d/dispatch-spec-trixie";
const SOURCE_FILE = "/etc/apt/sources.list.d/dispatch-spec-trixie.sources";

export class FetchError extends Error {}

export function missingHostTools(): string[] {
  return missingTools(HOST_TOOLS);
}

function run(cmd: string, args: ReadonlyArray<string>, cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.error !== undefined) throw new FetchError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new FetchError(`${cmd} ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-1)[0] ?? ""}`);
  return r.stdout;
}

export interface KernelFiles {
  /** The raw arm64 Image that QEMU boots with -kernel. */
  readonly image: string;
  /** binfmt_misc.ko, decompressed: a module with patchable entries, for the module-PLT path. */
  readonly module: string;
  readonly busybox: string;
  readonly agent: string;
  /** dsmod.ko (kernel/module.ts), when a scenario needs it. */
  readonly dsmod?: string;
}

/** Make apt able to download the arm64 trixie kernel without ever preferring trixie for the host. */
function aptSetup(say: (s: string) => void): void {
  if (!existsSync(PIN_FILE)) {
    say(`writing ${PIN_FILE} (trixie pinned to priority 100: downloads only, never host upgrades)`);
    writeFileSync(PIN_FILE, "# dispatch-spec (npm run kernel): trixie only for the arm64 kernel package, never for host upgrades.\nPackage: *\nPin: release n=trixie\nPin-Priority: 100\n");
  }
  if (!existsSync(SOURCE_FILE)) {
    say(`writing ${SOURCE_FILE} (Debian trixie, main)`);
    writeFileSync(SOURCE_FILE, "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n");
  }
  if (!run("dpkg", ["--print-foreign-architectures"]).split("\n").includes("arm64")) {
    say("dpkg --add-architecture arm64");
    run("dpkg", ["--add-architecture", "arm64"]);
  }
  say("apt-get update");
  run("apt-get", ["update", "-qq"]);
}

/** The files, from the cache or fetched now (saying each step). */
export function fetchKernel(say: (s: string) => void): KernelFiles {
  const image = join(CACHE, "k", "boot", `vmlinuz-${KERNEL_RELEASE}`);
  const moduleXz = join(CACHE, "k", "usr", "lib", "modules", KERNEL_RELEASE, "kernel", "fs", "binfmt_misc.ko.xz");
  const module = join(CACHE, "binfmt_misc.ko");
  const busybox = join(CACHE, "bb", "bin", "busybox");
  if (!existsSync(image) || !existsSync(busybox)) {
    mkdirSync(CACHE, { recursive: true });
    say(`fetching into ${CACHE}: ${KERNEL_PACKAGE} (about 90 MB) and ${BUSYBOX_PACKAGE} (under 1 MB), unpacked, not installed`);
    aptSetup(say);
    const dl = join(CACHE, "deb");
    rmSync(dl, { recursive: true, force: true });
    mkdirSync(dl, { recursive: true });
    run("apt-get", ["download", "-q", KERNEL_PACKAGE, BUSYBOX_PACKAGE], dl);
    for (const f of readdirSync(dl)) run("dpkg-deb", ["-x", join(dl, f), join(CACHE, f.startsWith("busybox") ? "bb" : "k")]);
    rmSync(dl, { recursive: true, force: true });
  }
  if (!existsSync(module)) {
    writeFileSync(module, spawnSync("xz", ["-dc", moduleXz], { maxBuffer: 1 << 26 }).stdout);
  }
  return { image, module, busybox, agent: buildAgent() };
}

/** The guest agent, rebuilt when its source is newer. */
export function buildAgent(): string {
  const src = join(HERE, "agent", "kagent.c");
  const bin = join(CACHE, "kagent");
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  mkdirSync(CACHE, { recursive: true });
  run("aarch64-linux-gnu-gcc", ["-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", bin, src]);
  return bin;
}
