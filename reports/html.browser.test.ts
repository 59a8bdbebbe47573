// index.html in a real browser: headless Chromium renders the sample run to a screenshot (copied to
// /tmp/dispatch-spec-report.png for a person to look at) and its DOM holds the verdict table. Skipped only on a
// machine without Chromium, and failed in CI, which installs it (.ci/run).

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { itWithTool } from "../cli/needs-tool.ts";
import { FIXTURE_PROPERTIES, FIXTURE_VARIANTS, sampleResults } from "./fixtures.ts";
import { renderHtml } from "./render.ts";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const found = CANDIDATES.find((b) => existsSync(b));

const SCREENSHOT_COPY = "/tmp/dispatch-spec-report.png";

/** Runs headless Chromium with a fresh profile and no network chatter; returns its stdout. */
function chromium(bin: string, dir: string, ...args: string[]): string {
  const profile = mkdtempSync(join(dir, "profile-"));
  const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`];
  const r = spawnSync(bin, [...flags, ...args], { timeout: 60_000, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw r.error;
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("index.html in headless Chromium", () => {
  itWithTool(found !== undefined, "headless Chromium (Debian's chromium)")("renders to a screenshot and a DOM with the verdict table", { timeout: 180_000 }, () => {
    const bin = found ?? "";
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-html-"));
    const html = join(dir, "index.html");
    const png = join(dir, "report.png");
    try {
      writeFileSync(html, renderHtml(sampleResults()));

      chromium(bin, dir, "--window-size=1280,2000", `--screenshot=${png}`, `file://${html}`);
      expect(existsSync(png)).toBe(true);
      expect(statSync(png).size).toBeGreaterThan(10 * 1024);
      copyFileSync(png, SCREENSHOT_COPY);

      const dom = chromium(bin, dir, "--dump-dom", `file://${html}`);
      expect(dom).toContain('<table class="verdicts grid">');
      for (const v of FIXTURE_VARIANTS) expect(dom).toContain(`<td class="name">${v}</td>`);
      for (const p of FIXTURE_PROPERTIES) expect(dom).toContain(p.replace("-", "-<wbr>"));
      expect(dom).toContain("expected holds");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
