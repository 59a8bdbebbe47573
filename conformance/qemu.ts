// The AArch64 harness (conformance/harness/a64h.c) built with Debian's cross compiler and run under
// qemu-aarch64-static: checking the tools, building the harness when its source is newer, and running one batch
// of protocol commands per QEMU process.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, "harness", "a64h.c");
const BINARY = join(HERE, "build", "a64h");

export const QEMU = "qemu-aarch64-static";
export const CC = "aarch64-linux-gnu-gcc";
export const QEMU_TOOLS = [QEMU, CC] as const;
export const QEMU_APT_LINE = "apt-get install -y --no-install-recommends qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross";

function onPath(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).status === 0;
}

export function qemuToolsPresent(): boolean {
  return QEMU_TOOLS.every(onPath);
}

/** Build the harness (static, with BTI and PAC landing pads in its own C code) if it is missing or stale. */
export function buildHarness(): string {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(dirname(BINARY), { recursive: true });
  const r = spawnSync(CC, ["-O2", "-static", "-Wall", "-Wextra", "-Werror", "-mbranch-protection=standard", "-o", BINARY, SOURCE], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the harness failed: ${r.stderr.trim()}`);
  return BINARY;
}

export class HarnessError extends Error {}

/**
 * Run one batch of commands in one QEMU process and return its reply lines (after the `ready` line), with whether
 * the CPU has BTI.
 */
export function runBatch(commands: ReadonlyArray<string>): { bti: boolean; lines: string[] } {
  const r = spawnSync(QEMU, [buildHarness()], { input: commands.join("\n") + "\n", encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.error !== undefined) throw new HarnessError(`${QEMU}: ${r.error.message}`);
  if (r.status !== 0) throw new HarnessError(`${QEMU} exited with ${r.status ?? r.signal}: ${r.stderr.trim().split("\n")[0] ?? ""}`);
  const lines = r.stdout.split("\n").filter((l) => l.length > 0);
  const first = lines.shift();
  if (first === undefined || !first.startsWith("ready ")) throw new HarnessError(`the harness did not start: ${first ?? "(no output)"}`);
  return { bti: first === "ready 1", lines };
}
