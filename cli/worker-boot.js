// Worker-thread entry: register tsx in this thread, make known the designs read from binaries (--entry) and the
// design files (--design) that the main thread passed in workerData.entries and workerData.designFiles, then load
// the TypeScript worker named in workerData.module (default: check's).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
if (Array.isArray(workerData?.entries) && workerData.entries.length > 0) {
  const { registerEntryImage } = await import("../model/variants/index.ts");
  for (const image of workerData.entries) registerEntryImage(image);
}
if (Array.isArray(workerData?.designFiles) && workerData.designFiles.length > 0) {
  const { loadDesignFile } = await import("./design-file.ts");
  for (const file of workerData.designFiles) await loadDesignFile(file);
}
await import(typeof workerData?.module === "string" ? workerData.module : "./check-worker.ts");
