// The host tools the checks against real AArch64 need, and whether they are on PATH. The conformance run and the
// kernel run each install nothing themselves: they name what is missing and print the one apt line for it.

import { spawnSync } from "node:child_process";

/** Which of the tools are not on PATH. */
export function missingTools(tools: ReadonlyArray<string>): string[] {
  return tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
}

/** npm run conformance: GNU binutils (encodings), the cross compiler (the harness) and QEMU user mode. */
export const CONFORMANCE_TOOLS = ["aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "aarch64-linux-gnu-objcopy", "aarch64-linux-gnu-gcc", "qemu-aarch64-static"] as const;
export const CONFORMANCE_APT_LINE = "apt-get install -y --no-install-recommends binutils-aarch64-linux-gnu gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static";
