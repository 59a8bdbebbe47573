// The module build's checks that need no archive: the vermagic a built module carries against the booted kernel's.

import { describe, expect, it } from "vitest";
import { vermagicMatches, vermagicOf } from "./module.ts";

describe("vermagic", () => {
  const ko = (s: string): Buffer => Buffer.concat([Buffer.from("\x7fELF junk\0name=dsmod\0"), Buffer.from(s), Buffer.from("\0more\0")]);

  it("reads it from .modinfo and matches on the release", () => {
    expect(vermagicOf(ko("vermagic=6.12.117+deb13-arm64 SMP mod_unload modversions aarch64"))).toBe("6.12.117+deb13-arm64 SMP mod_unload modversions aarch64");
    expect(vermagicMatches("6.12.117+deb13-arm64 SMP mod_unload modversions aarch64")).toBe(true);
  });

  it("refuses another release, a prefix of it, and a module without one", () => {
    expect(vermagicMatches("7.3.4+deb13-arm64 SMP preempt mod_unload modversions aarch64")).toBe(false);
    expect(vermagicMatches("6.12.117+deb13-arm64-rt SMP")).toBe(false);
    expect(vermagicOf(ko("author=nobody"))).toBeNull();
    expect(vermagicMatches(null)).toBe(false);
  });
});
