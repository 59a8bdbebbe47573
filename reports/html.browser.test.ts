// index.html in a real browser: headless Chromium renders the sample run to a screenshot (copied to
// /tmp/dispatch-spec-report.png for a person to look at) and its DOM holds the verdict table; and the report of a
// real `gate --variant` run, measured at two window widths by a probe script added to a copy of the page: column
// heads apart, the legend, a replay command on every failure, the failing tick of a concurrent trace in view.
// Skipped only on a machine without Chromium, and failed in CI, which installs it (.ci/run).

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { itWithTool } from "../cli/needs-tool.ts";
import { cli, SAVED_DIR_RE } from "../cli/testkit.ts";
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
      expect(dom).toContain('<table class="verdicts grid"');
      for (const v of FIXTURE_VARIANTS) expect(dom).toContain(`<td class="name">${v}</td>`);
      for (const p of FIXTURE_PROPERTIES) expect(dom).toContain(`<dd><code>${p}</code>`);
      expect(dom).toContain("expected holds");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Measures the page as laid out and appends the numbers as JSON in <pre id="probe">: the verdict grid's heads
 * (overlapping neighbours, heads wider than their column), whether the grid fits its card, the legend's entries,
 * each failure's replay command, and for each marked focus line whether it shows inside its trace block.
 */
const PROBE = `(() => {
  for (const d of document.querySelectorAll("details.failure")) d.open = true;
  const heads = [...document.querySelectorAll("table.grid thead th .head")];
  const rects = heads.map((h) => h.getBoundingClientRect());
  const overlaps = rects.slice(1).flatMap((r, i) => (rects[i].right > r.left + 0.5 ? [heads[i].textContent + "|" + heads[i + 1].textContent] : []));
  const ths = [...document.querySelectorAll("table.grid thead th")].slice(1);
  const overflowing = ths.filter((th) => th.scrollWidth > th.clientWidth + 0.5).map((th) => th.textContent);
  const card = document.querySelector("#verdicts .card");
  const hits = [...document.querySelectorAll("mark.hit")].map((m) => {
    const a = m.getBoundingClientRect(), b = m.closest("pre").getBoundingClientRect();
    return a.height > 0 && a.top >= b.top && a.bottom <= b.bottom;
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    heads: heads.length, overlaps, overflowing, fits: card.scrollWidth <= card.clientWidth,
    legend: document.querySelectorAll("dl.heads > div").length, agreement: document.querySelectorAll("dl.heads .tag").length,
    replays: [...document.querySelectorAll(".failure")].map((f) => f.querySelector(".replay dd")?.textContent ?? null),
    hits,
  });
  document.body.append(out);
})();`;

interface Probe {
  readonly heads: number;
  readonly overlaps: string[];
  readonly overflowing: string[];
  readonly fits: boolean;
  readonly legend: number;
  readonly agreement: number;
  readonly replays: Array<string | null>;
  readonly hits: boolean[];
}

describe("a real gate report in headless Chromium", () => {
  itWithTool(found !== undefined, "headless Chromium (Debian's chromium)")("separated heads, a legend, a replay command on every failure and the failing tick in view, at 1280 and 720 pixels", { timeout: 240_000 }, async () => {
    const bin = found ?? "";
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-gate-html-"));
    try {
      // A mutant that frees an ops without the grace periods: concurrent counterexamples with long timelines.
      const r = await cli(["gate", "--variant", "upstream+free-without-grace", "--report", dir]);
      expect(r.out).toMatch(/no-use-after-free\s+safety\s+holds\s+fails\s+newly failing/);
      const page = readFileSync(join(dir, "index.html"), "utf8");
      const probed = join(dir, "probed.html");
      writeFileSync(probed, page.replace("</body>", `<script>${PROBE}</script></body>`));
      for (const width of [1280, 720]) {
        const dom = chromium(bin, dir, `--window-size=${width},2000`, "--dump-dom", `file://${probed}`);
        const m = /<pre id="probe">([^<]*)<\/pre>/.exec(dom);
        expect(m, `width ${width}: the probe ran`).not.toBeNull();
        const p = JSON.parse(m![1]!.replace(/&quot;/g, '"').replace(/&amp;/g, "&")) as Probe;
        expect(p.heads, `width ${width}`).toBe(16);
        expect(p.overlaps, `width ${width}: heads that overlap`).toEqual([]);
        expect(p.overflowing, `width ${width}: heads wider than their column`).toEqual([]);
        // The whole row fits a 1280-pixel window; a narrower one scrolls the grid sideways instead of squeezing it.
        expect(p.fits, `width ${width}`).toBe(width === 1280);
        expect(p.legend).toBe(16);
        expect(p.agreement).toBe(2);
        expect(p.replays.length).toBeGreaterThanOrEqual(3);
        for (const cmd of p.replays) expect(cmd).toMatch(new RegExp(`^npx dispatch-spec replay ${SAVED_DIR_RE}/upstream\\+free-without-grace--\\S+\\.json$`));
        expect(p.hits.length, `width ${width}: marked focus lines`).toBeGreaterThanOrEqual(2);
        expect(p.hits.every((h) => h), `width ${width}: each marked line shows in its trace block`).toBe(true);
      }
      expect(page).toMatch(/<mark class="hit">\s+\d+\s+ftrace_caller\+0x64: ldr x4, \[x2\]<\/mark>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
