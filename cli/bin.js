#!/usr/bin/env node
// The dispatch-spec command: runs the TypeScript sources through tsx, no build step.
import { register } from "tsx/esm/api";

// A reader that stops early (`| head`) is not an error.
for (const s of [process.stdout, process.stderr]) s.on("error", (e) => (e.code === "EPIPE" ? process.exit(0) : Promise.reject(e)));

register();
const { main } = await import("./main.ts");
const { terminalProgress } = await import("./check.ts");
process.exitCode = await main(process.argv.slice(2), undefined, terminalProgress());
