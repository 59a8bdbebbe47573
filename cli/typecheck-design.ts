// `npm run typecheck-design -- FILE`: type-check a --design file on its own, with the project's strict settings, as
// the Design it must be. `npm run typecheck` covers only the project's own directories, and a file's shape check at
// load (cli/design-file.ts) cannot see the types of a hook's arguments or result; this can. The file's default
// export is assigned to a Design in a small checker module beside it in a temporary directory, so an untyped
// `export default { ... }` is judged too, not only one written as `const d: Design`.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "./common.ts";

/** tsc's flags: the project's strict settings, for files given on the command line (no tsconfig.json). */
export const TSC_FLAGS = [
  "--noEmit",
  "--ignoreConfig",
  "--strict",
  "--noUncheckedIndexedAccess",
  "--allowImportingTsExtensions",
  "--module",
  "nodenext",
  "--moduleResolution",
  "nodenext",
  "--target",
  "es2023",
  "--skipLibCheck",
  "--types",
  "node",
];

/** The checker module: FILE's default export, as a Design. */
export function checkerSource(file: string): string {
  return [
    `import type { Design } from ${JSON.stringify(join(ROOT, "model", "kernel.ts"))};`,
    `import design from ${JSON.stringify(resolve(file))};`,
    `// The default export of ${file}, as the Design --design loads it:`,
    `export const asDesign: Design = design;`,
    ``,
  ].join("\n");
}

function main(argv: ReadonlyArray<string>): number {
  const [file, ...rest] = argv;
  if (file === undefined || rest.length > 0) {
    process.stderr.write("typecheck-design: give one design file: npm run typecheck-design -- FILE (a .ts or .mts module whose default export is a Design)\n");
    return 2;
  }
  if (!existsSync(file)) {
    process.stderr.write(`typecheck-design: ${file}: not found\n`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), "typecheck-design-"));
  try {
    const checker = join(dir, "as-design.mts");
    writeFileSync(checker, checkerSource(file));
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "tsc"), [...TSC_FLAGS, resolve(file), checker], { stdio: "inherit" });
    if (r.status === 0) process.stdout.write(`${file}: a Design, type-checked\n`);
    return r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = main(process.argv.slice(2));
