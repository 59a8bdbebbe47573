// `dispatch-spec kernel build [--patch FILE]...`: build (or take from the cache) Debian's 6.12 source with these
// patches and dispatch-spec's minimal config (kernel/build.ts). Progress on stderr, what was built on stdout, one
// line and exit 2 for a patch that does not apply, a failed build or a missing host tool.

import { missingTools } from "../conformance/tools.ts";
import { BUILD_APT_LINE, BUILD_TOOLS, BuildError, buildKernel, readPatch, type BuildProgress, type BuiltKernel } from "../kernel/build.ts";
import { FetchError } from "../kernel/fetch.ts";
import type { Io } from "./common.ts";
import { shownPath } from "./load.ts";

export interface KernelBuildFlags {
  readonly patch?: ReadonlyArray<string>;
}

/** Progress of a build on stderr: an updating line on a terminal, a line every 10 s in a log. */
export function buildProgress(io: Io, tty: boolean, now: () => number = () => Date.now()): BuildProgress {
  let last = 0;
  return {
    say: (s) => io.err(`${tty ? "\r\x1b[K" : ""}kernel build: ${s}\n`),
    step: (done, total, what) => {
      const line = `kernel build: ${done}/${total} steps (${Math.min(99, Math.floor((100 * done) / Math.max(1, total)))}%) ${what}`;
      if (tty) {
        io.err(`\r\x1b[K${line.slice(0, 120)}`);
        return;
      }
      if (now() - last < 10_000) return;
      last = now();
      io.err(`${line}\n`);
    },
  };
}

/** One line naming what a build made. */
export function builtLine(k: BuiltKernel): string {
  return `${k.cached ? "cached" : "built"} ${k.release} (key ${k.key}${k.patches.length > 0 ? `, patches ${k.patches.join(", ")}` : ", unpatched"}): ${shownPath(k.image)}`;
}

/** The host tools a build needs; one line and null when some are missing. */
export function buildToolsMissing(): string | null {
  const missing = missingTools(BUILD_TOOLS);
  return missing.length === 0 ? null : `missing ${missing.join(", ")}; install them with: ${BUILD_APT_LINE}`;
}

/** Build the kernel for these patch files; a BuildError or FetchError is one line on stderr and null. */
export async function buildOrSay(io: Io, patches: ReadonlyArray<string>): Promise<BuiltKernel | null> {
  const missing = buildToolsMissing();
  if (missing !== null) {
    io.err(`dispatch-spec kernel build: ${missing}\n`);
    return null;
  }
  try {
    const files = patches.map(readPatch);
    const started = performance.now();
    const k = await buildKernel(files, buildProgress(io, process.stderr.isTTY === true));
    if (!k.cached) io.err(`\nkernel build: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    return k;
  } catch (e) {
    if (e instanceof BuildError || e instanceof FetchError) {
      io.err(`\ndispatch-spec kernel build: ${e.message}\n`);
      return null;
    }
    throw e;
  }
}

export async function kernelBuildCommand(io: Io, flags: KernelBuildFlags): Promise<number> {
  const k = await buildOrSay(io, flags.patch ?? []);
  if (k === null) return 2;
  io.out(`${builtLine(k)}\n  vmlinux ${shownPath(k.vmlinux)}\n  modules ${[...k.modules.keys()].join(", ")}\n`);
  return 0;
}
