// Vitest configuration for mutation testing (npm run mutation): the property suite, the scenario and regression
// corpora and the model's own unit tests (encodings, layout validation, the arch hooks) judge each mutant of
// model/, the concurrent properties included. The tests that check the suite's own mutants are left out (they test
// the properties, not the model), as are the explorer's and the CLI's (they run the same properties again), and
// properties run fewer cases to keep the run within reach.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["properties/**/*.test.ts", "model/**/*.test.ts", "generators/**/*.test.ts"],
    exclude: ["properties/explore.test.ts"],
    testNamePattern: "^(?!.*kills the mutant).*$",
    env: { DISPATCH_SPEC_TEST_RUNS: "100" },
    pool: "threads",
  },
});
