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

/** Reply lines per `call` command, checking that every other command was accepted. */
export function splitReplies(lines: ReadonlyArray<string>, commands: ReadonlyArray<string>): string[][] {
  const out: string[][] = [];
  let i = 0;
  for (const cmd of commands) {
    if (!cmd.startsWith("call ")) {
      const r = lines[i++];
      if (r !== "ok") throw new HarnessError(`harness refused "${cmd.slice(0, 80)}": ${r ?? "(no reply)"}`);
      continue;
    }
    const mine: string[] = [];
    while (i < lines.length) {
      const l = lines[i++]!;
      mine.push(l);
      if (l.startsWith("e ") || l.startsWith("err ")) break;
    }
    out.push(mine);
  }
  return out;
}
