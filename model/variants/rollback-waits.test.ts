// rollback-waits: the two directed schedules on which an owner frees a refused ops under a list walker (the
// IPMODIFY refusal on upstream, c3b0f72e805f's dead-ftrace rollback in its world) hold no-use-after-free once the
// rollbacks wait; the refused ops' moment on the list (transitional-handlers) is not what the wait fixes.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS_DIR } from "../../cli/corpus.ts";
import { parseScenario } from "../scenario.ts";
import { checkConcurrentScenario } from "../../properties/concurrency.ts";
import { noUseAfterFree } from "../../properties/no-use-after-free.ts";
import { transitionalHandlers } from "../../properties/transitional-handlers.ts";
import type { Design } from "../kernel.ts";
import { variantByName } from "./index.ts";
import { rollbackWaits } from "./rollback-waits.ts";

function scenario(file: string): ReturnType<typeof parseScenario> {
  const json = JSON.parse(readFileSync(join(CORPUS_DIR, file), "utf8")) as Record<string, unknown>;
  delete json["counterexample"];
  return parseScenario(json);
}

describe("rollback-waits", () => {
  it("frees the ops an IPMODIFY refusal rolled back under no CPU", () => {
    const s = scenario("upstream--no-use-after-free-refused-registration.json");
    expect(checkConcurrentScenario(noUseAfterFree, s, variantByName("upstream")!)).toMatch(/use after free: load of L2->func/);
    expect(checkConcurrentScenario(noUseAfterFree, s, rollbackWaits)).toBeNull();
  });

  it("frees the ops c3b0f72e805f's rollback unlinked under no CPU, in the world where ftrace dies", () => {
    const s = scenario("fix-c3b0f72e805f--no-use-after-free-dead-rollback.json");
    const world = variantByName("fix-c3b0f72e805f")!;
    const waiting: Design = { ...world, name: "fix-c3b0f72e805f (rollback waits)", rollbackWaits: true };
    expect(checkConcurrentScenario(noUseAfterFree, s, world)).toMatch(/use after free: load of B->func/);
    expect(checkConcurrentScenario(noUseAfterFree, s, waiting)).toBeNull();
  });

  it("still lets a refused ops' callback run in the moment it is on the list", () => {
    const s = scenario("upstream--transitional-handlers-failed-registration.json");
    expect(checkConcurrentScenario(transitionalHandlers, s, rollbackWaits)).toMatch(/handler of L2 ran, but L2 traces g in none of the states/);
  });
});
