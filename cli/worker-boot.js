// Worker-thread entry: register tsx in this thread, make known the designs read from binaries (--entry) that the
// main thread passed in workerData.entries, then load the TypeScript worker named in workerData.module (default:
// check's).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
if (Array.isArray(workerData?.entries) && workerData.entries.length > 0) {
  const { registerEntryImage } = await import("../model/variants/index.ts");
  for (const image of workerData.entries) registerEntryImage(image);
}
await import(typeof workerData?.module === "string" ? workerData.module : "./check-worker.ts");
