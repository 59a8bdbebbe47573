// Worker-thread entry: register tsx in this thread, then load the TypeScript worker named in workerData.module
// (default: check's).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(typeof workerData?.module === "string" ? workerData.module : "./check-worker.ts");
