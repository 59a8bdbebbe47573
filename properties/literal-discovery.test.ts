// literal-discovery: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { literalDiscovery } from "./literal-discovery.ts";

describeProperty(literalDiscovery);

import { describe, expect, it } from "vitest";
import { boot } from "../model/boot.ts";
import { DEFAULT_KERNEL } from "../model/layout.ts";
import { upstream } from "../model/variants/upstream.ts";

describe("literal-discovery over placements", () => {
  it("finds the literal for every 8-byte aligned placement in a page, with and without BTI C", () => {
    for (const bti of [false, true]) {
      const functions = Array.from({ length: 64 }, (_, i) => ({ name: `f${i}`, addr: DEFAULT_KERNEL.text + 0x1000000n + BigInt(i) * 0x80n + 8n * BigInt(i % 8), module: null, bti }));
      const k = boot({ bti, kernel: DEFAULT_KERNEL, modules: [], functions, trampolines: [] }, upstream);
      expect(literalDiscovery.atBoot?.(k) ?? null).toBeNull();
    }
  });
});
