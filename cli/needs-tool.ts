// A test that needs a host tool (GNU as, readelf, headless Chromium): run where the tool is, skipped on a
// developer's machine without it, and failed in CI (CI=true), where a missing tool is a missing install step in
// .ci/run, never a reason to skip.

import { it } from "vitest";

type TestFn = () => unknown;
type Options = { readonly timeout?: number };

/** What becomes of a test that needs a tool: run it, skip it, or fail it because CI lacks the tool. */
export function toolTestMode(present: boolean, ci: string | undefined): "run" | "skip" | "fail" {
  if (present) return "run";
  return ci === "true" ? "fail" : "skip";
}

/** `it` when the tool is present; otherwise `it.skip` on a developer's machine, and a failing test in CI. */
export function itWithTool(present: boolean, tool: string): (name: string, optsOrFn: Options | TestFn, fn?: TestFn) => void {
  const mode = toolTestMode(present, process.env["CI"]);
  if (mode === "fail")
    return (name) =>
      it(name, () => {
        throw new Error(`${tool} is not installed: CI must run every test, so .ci/run has to install it`);
      });
  const t = mode === "run" ? it : it.skip;
  return (name, optsOrFn, fn) => (fn === undefined ? t(name, optsOrFn as TestFn) : t(name, optsOrFn as Options, fn));
}
