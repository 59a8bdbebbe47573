// npm run conformance: the model's A64 words against a real toolchain. Needs Debian's AArch64 binutils; when they
// are missing it prints the one install line and exits 2, installing nothing itself.

import { APT_LINE, compareEncodings, toolsPresent } from "./encodings.ts";

function hex(w: number): string {
  return `0x${(w >>> 0).toString(16).padStart(8, "0")}`;
}

function main(): number {
  if (!toolsPresent()) {
    process.stderr.write(`conformance: AArch64 binutils not found; install them with: ${APT_LINE}\n`);
    return 2;
  }
  const { checked, mismatches } = compareEncodings();
  for (const m of mismatches) process.stdout.write(`MISMATCH ${m.where}: "${m.text}" model ${hex(m.model)} gas ${hex(m.gas)}\n`);
  process.stdout.write(`encodings: ${checked - mismatches.length} passed, ${mismatches.length} failed\n`);
  return mismatches.length === 0 ? 0 : 1;
}

process.exitCode = main();
