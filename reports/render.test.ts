// The report renderers on a small hand-built run: summary.md flags the unexpected cell and the unreached label,
// junit.xml is well-formed with the right counts and escapes, index.html is self-contained and escaped.

import { describe, expect, it } from "vitest";
import { DANGEROUS_MESSAGE, FIXTURE_MUTANT, FIXTURE_PROPERTIES, FIXTURE_VARIANTS, sampleResults, UNREACHED_LABEL } from "./fixtures.ts";
import { SUMMARY_LIMIT, MARKDOWN_TRACE_LINES, renderHtml, renderJunit, renderSummaryMarkdown } from "./render.ts";
import type { CellResult, Results } from "./results.ts";

interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
}

/** A strict reader for the XML subset junit.xml uses: throws unless well-formed; returns every start tag. */
function xmlElements(text: string): XmlElement[] {
  const token = /<\?xml[^?]*\?>|<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  const entity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  const stack: string[] = [];
  const out: XmlElement[] = [];
  let at = 0;
  for (const m of text.matchAll(token)) {
    const between = text.slice(at, m.index);
    if (/[<>]/.test(between) || entity.test(between)) throw new Error(`raw markup in text near ${JSON.stringify(between.slice(0, 60))}`);
    at = m.index + m[0].length;
    const [, close, name, rawAttrs, selfClose] = m;
    if (name === undefined) continue;
    if (close === "/") {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
      continue;
    }
    const attrs = Object.fromEntries([...(rawAttrs ?? "").matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1] ?? "", a[2] ?? ""]));
    if (Object.values(attrs).some((v) => entity.test(v) || v.includes(">"))) throw new Error(`raw markup in an attribute of <${name}>`);
    out.push({ name, attrs });
    if (selfClose !== "/") stack.push(name);
  }
  if (stack.length > 0 || text.slice(at).trim() !== "") throw new Error(`unclosed: ${stack.join(", ")}`);
  return out;
}

function withCells(r: Results, f: (c: CellResult) => CellResult): Results {
  return { ...r, cells: r.cells.map(f) };
}

describe("renderSummaryMarkdown", () => {
  const r = sampleResults();
  const text = renderSummaryMarkdown(r);

  it("has a title with the overall status, command, seed, runs and duration", () => {
    expect(text.split("\n")[0]).toMatch(/^## ❌ dispatch-spec gate: 1 unexpected verdict$/);
    expect(text).toContain("seed `20261125`");
    expect(text).toContain("2000 runs per cell");
    expect(text).toContain("43.2 s");
    expect(renderSummaryMarkdown({ ...withCells(r, (c) => ({ ...c, changed: false })), ok: true })).toMatch(/^## ✅ dispatch-spec gate: every verdict as expected\n/);
  });

  it("has the verdict table, variants by properties, with the unexpected cell flagged", () => {
    expect(text).toContain(`| variant | ${FIXTURE_PROPERTIES.join(" | ")} |`);
    expect(text).toContain("| --- | --- | --- | --- |");
    expect(text).toContain("| `upstream` | holds | holds | holds |");
    expect(text).toContain("| `v1-posted` | holds | fails | holds |");
    expect(text).toContain("| `v1-fixups` | holds | holds | **fails** ⚠️ (expected holds) |");
    expect(text).toContain(`| \`${FIXTURE_MUTANT}\` | literal-valid | fails |`);
  });

  it("gives each unexpected cell a section with its message, seed, path, file and trace, and each recorded failure a line with its replay command", () => {
    expect(text).toContain("#### ⚠️ Unexpected: `v1-fixups` × `branch-hygiene`");
    expect(text).toMatch(/^- expected failure: `v1-posted` × `stack-aligned`: .* — replay: `npx dispatch-spec replay reports\/counterexamples\/v1-posted--stack-aligned\.json`/m);
    expect(text).toMatch(new RegExp(`^- mutant killed: \`${FIXTURE_MUTANT.replace(/[+]/g, "\\+")}\` × \`literal-valid\``, "m"));
    expect(text).not.toContain("#### Expected failure");
    expect(text).toContain("path `3:1:0:0` · counterexample `reports/counterexamples/v1-fixups--branch-hygiene.json`");
    expect(text).toContain("> ret x17 at ftrace_caller_direct goes to &lt;T1 & \"body\"&gt;, which no call pushed");
    expect(text).toMatch(/```text\nvariant v1-fixups[^`]*symbol <&>"' \(every markup/);
  });

  it("cuts traces longer than the limit, saying so", () => {
    const long = withCells(r, (c) => (c.counterexample === null ? c : { ...c, counterexample: { ...c.counterexample, trace: Array.from({ length: 100 }, (_, i) => `line ${i}`) } }));
    const md = renderSummaryMarkdown(long);
    expect(md).toContain(`line ${MARKDOWN_TRACE_LINES - 1}\n`);
    expect(md).not.toContain(`line ${MARKDOWN_TRACE_LINES}\n`);
    expect(md).toContain(`showing ${MARKDOWN_TRACE_LINES} of 100 lines, 40 lines left out`);
  });

  it("has the corpus line and names every unreached coverage label prominently", () => {
    expect(text).toContain("**Corpus:** ✅ 14 scenario files, all expectations hold");
    expect(text).toContain("**Never reached**");
    expect(text).toContain(`> - \`upstream\` · transitions: \`${UNREACHED_LABEL}\``);
    expect(text).toContain("<summary>upstream — ⚠️ 1 never reached</summary>");
    expect(text).toContain(`**\`${UNREACHED_LABEL}\` 0 ⚠️ never reached**`);
  });

  it("stays below a pull-request comment's size however many cells fail unexpectedly, traces left to index.html", () => {
    const many = { ...r, cells: Array.from({ length: 400 }, (_, i) => r.cells.map((c) => ({ ...c, design: `${c.design}-${i}`, changed: true, counterexample: c.counterexample === null ? null : { ...c.counterexample, trace: Array.from({ length: 50 }, (_, j) => `trace line ${j} ${"x".repeat(60)}`) } }))).flat() };
    const md = renderSummaryMarkdown(many);
    expect(new TextEncoder().encode(md).length).toBeLessThan(SUMMARY_LIMIT);
    expect(md).toContain("### Verdicts");
    expect(md).toMatch(/index\.html/);
  });

  it("escapes | in table cells", () => {
    const piped = withCells(r, (c) => (c.kind === "mutant" ? { ...c, property: "a|b" } : c));
    expect(renderSummaryMarkdown(piped)).toContain("| a\\|b |");
  });
});

describe("renderJunit", () => {
  const r = sampleResults();
  const text = renderJunit(r);
  const elements = xmlElements(text);
  const changed = r.cells.filter((c) => c.changed).length;

  it("is well-formed, with one testsuite per design and one testcase per cell, then the corpus", () => {
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')).toBe(true);
    // One more testcase: the corpus files that held.
    expect(text.match(/<testcase /g)).toHaveLength(r.cells.length + 1);
    const suites = elements.filter((e) => e.name === "testsuite");
    expect(suites.map((s) => s.attrs.name)).toEqual([...FIXTURE_VARIANTS, FIXTURE_MUTANT, "corpus"]);
    expect(suites.map((s) => s.attrs.tests)).toEqual(["3", "3", "3", "3", "1", "1"]);
    const cases = elements.filter((e) => e.name === "testcase");
    expect(cases[0]?.attrs).toEqual({ classname: "dispatch-spec.upstream", name: "literal-valid", time: "0.400" });
  });

  it("counts only changed cells as failures, on the root and on their suite", () => {
    const root = elements.find((e) => e.name === "testsuites");
    expect(root?.attrs).toMatchObject({ tests: String(r.cells.length + 1), failures: String(changed), errors: "0", time: "43.210" });
    expect(elements.filter((e) => e.name === "failure")).toHaveLength(changed);
    expect(elements.find((e) => e.name === "testsuite" && e.attrs.name === "v1-fixups")?.attrs.failures).toBe("1");
    expect(elements.find((e) => e.name === "testsuite" && e.attrs.name === "v1-posted")?.attrs.failures).toBe("0");
  });

  it("keeps expected failures passing, with their message in system-out", () => {
    expect(elements.filter((e) => e.name === "system-out")).toHaveLength(2);
    expect(text).toContain("<system-out>fails, as expected\nftrace_regs is 120 bytes");
  });

  it("escapes the message in attributes and text", () => {
    const failure = elements.find((e) => e.name === "failure");
    expect(failure?.attrs.message).toBe(DANGEROUS_MESSAGE.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;"));
    expect(text).toContain("symbol &lt;&amp;&gt;&quot;&apos; (every markup");
    expect(text).not.toMatch(/<&|<T1|&"|<\s*&/);
  });

  it("turns an error into <error>, strips characters XML 1.0 forbids, and says why a holds is a failure", () => {
    const broken = withCells(r, (c) =>
      c.design === "upstream" && c.property === "literal-valid"
        ? { ...c, changed: true, error: "TypeError: x\u0000 is \u001b[31mnot\u001b[0m a <function>" }
        : c.kind === "mutant"
          ? { ...c, verdict: "holds", changed: true, message: null, counterexample: null }
          : c,
    );
    const xml = renderJunit(broken);
    const els = xmlElements(xml);
    expect(els.find((e) => e.name === "error")?.attrs.message).toBe("TypeError: x is not a &lt;function&gt;");
    expect(els.find((e) => e.name === "testsuites")?.attrs).toMatchObject({ failures: "2", errors: "1" });
    expect(els.filter((e) => e.name === "failure").map((e) => e.attrs.message)).toContain("expected fails, got holds");
    expect(xml).not.toMatch(/[\u0000\u001b]/);
  });
});

describe("renderHtml", () => {
  const r = sampleResults();
  const html = renderHtml(r);

  it("is one self-contained page", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("<style>");
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\ssrc=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
  });

  it("has the overall status, every design and every property", () => {
    expect(html).toContain("dispatch-spec gate: <span class=\"status\">1 unexpected verdict</span>");
    for (const d of [...FIXTURE_VARIANTS, FIXTURE_MUTANT]) expect(html).toContain(`>${d}<`);
    // Each column's short head carries the full name in its title, and the legend names it in full.
    for (const p of FIXTURE_PROPERTIES) expect(html).toContain(`<th title="${p} (safety)">`);
    for (const p of FIXTURE_PROPERTIES) expect(html).toContain(`<dd><code>${p}</code>`);
    // An expected failure is marked as recorded, not shown as a plain failure.
    expect(html).toMatch(/<td class="v fails recorded" title="fails, as expected\n[^"]*"><a href="#cell-v1-posted--stack-aligned"><span class="pill">fails\*<\/span>/);
    expect(html).toMatch(/<td class="v fails unexpected" title="UNEXPECTED: expected holds, got fails\n[^"]*"><a href="#cell-v1-fixups--branch-hygiene"><span class="pill">⚠ fails<small>expected holds<\/small>/);
    expect(html).toContain('id="cell-v1-posted--stack-aligned"');
    expect(html).toContain("Generated 2026-11-25T09:14:46.722Z");
  });

  it("escapes every dangerous character", () => {
    expect(html).not.toContain(`<&>"'`);
    expect(html).not.toContain("<T1");
    expect(html).toContain("symbol &lt;&amp;&gt;&quot;&#39; (every markup");
    expect(html).toContain("&lt;T1 &amp; &quot;body&quot;&gt;");
  });

  it("marks the unreached coverage label as never reached", () => {
    expect(html).toContain(`<tr class="never" title="expected, never reached"><td class="l">${UNREACHED_LABEL.replace(">", "&gt;")} <span class="nr">never reached</span></td><td class="n">0</td></tr>`);
    expect(html).toContain('<span class="tag bad">1 never reached</span>');
    expect(html).toMatch(/⚠ Never reached<\/strong>[^]*<code>upstream<\/code> · transitions: <code>literal D -&gt; ftrace_list_ops<\/code>/);
  });

  it("shows unexpected failures in full and folds expected ones, traces in <pre>", () => {
    expect(html).toMatch(/<article class="failure unexpected" id="cell-v1-fixups--branch-hygiene">[^]*<details open><summary>trace \(7 lines\)<\/summary><pre class="trace">variant v1-fixups/);
    expect(html).toMatch(/<details class="failure known" id="cell-v1-posted--stack-aligned"><summary>[^]*ftrace_regs is 120 bytes[^]*<\/summary>[^]*<pre class="trace">variant v1-posted/);
  });
});

describe("a design judged against a baseline (gate --variant/--design)", () => {
  /** list-ops-only's gate: safety unchanged, the finding cured, two agreement properties newly failing. */
  function againstResults(): Results {
    const base = sampleResults();
    const cell = (property: string, was: "holds" | "fails", now: "holds" | "fails", change: NonNullable<CellResult["against"]>["change"], judges: "safety" | "agreement"): CellResult => ({
      design: "list-ops-only",
      property,
      kind: "variant",
      verdict: now,
      expected: was,
      changed: change === "newly failing",
      against: { baseline: "upstream", verdict: was, change },
      judges,
      runs: 2000,
      ms: 10,
      seed: 20261125,
      path: now === "fails" ? "0:1" : null,
      message: now === "fails" ? "f: literal is ftrace_list_ops, expected D (caller-direct)" : null,
      error: null,
      counterexample: null,
    });
    return {
      ...base,
      ok: false,
      cells: [
        cell("literal-valid", "holds", "holds", "unchanged", "safety"),
        cell("path-selection", "holds", "fails", "newly failing", "agreement"),
        cell("recursion-protected", "fails", "holds", "newly holding", "safety"),
      ],
    };
  }

  it("summary.md leads with the design against its baseline: what each property judges, both verdicts and the change", () => {
    const text = renderSummaryMarkdown(againstResults());
    expect(text).toContain("## ❌ dispatch-spec gate: list-ops-only against upstream: 1 newly failing (it judges agreement, not safety), 1 newly holding");
    expect(text).toContain("### `list-ops-only` against `upstream`");
    expect(text).toContain("| property | judges | upstream | now | change |");
    expect(text).toContain("| `path-selection` | agreement | holds | fails | **❌ newly failing** (agreement, not safety) |");
    expect(text).toContain("| `recursion-protected` | safety | fails | holds | ✅ newly holding |");
    expect(text).toContain("#### ⚠️ Newly failing against upstream [agreement]: `list-ops-only` × `path-selection`");
    expect(text).toContain("**newly failing against upstream (upstream holds, now fails)**");
  });

  it("index.html has the same table above the grid, with agreement tags and the change of each property", () => {
    const html = renderHtml(againstResults());
    expect(html).toContain('<section id="against-list-ops-only"><h2>list-ops-only against upstream<small>1 newly failing (it judges agreement, not safety), 1 newly holding</small></h2>');
    expect(html).toContain('<span class="tag bad">newly failing (agreement)</span>');
    expect(html).toContain('<span class="tag ok">newly holding</span>');
    expect(html.indexOf('id="against-list-ops-only"')).toBeLessThan(html.indexOf('id="verdicts"'));
    expect(html).toContain("<b>1</b><span>newly failing against upstream</span>");
    expect(html).toContain("<h2>Failures<small>1 newly failing against upstream · 0 expected;");
  });
});
