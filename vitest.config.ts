// Vitest configuration: tests sit next to the code they test.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{model,generators,properties,reports,cli,conformance,kernel}/**/*.test.ts"],
    pool: "threads",
  },
});
