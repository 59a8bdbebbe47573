// summary.md as a Markdown renderer shows it (markdown-it, CommonMark with GFM tables): messages keep their < > & "
// as text, a corpus failure line is a list item and not an indented code block, the verdict table is a table; and
// junit.xml carries corpus failures as failed testcases.

import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { DANGEROUS_MESSAGE, sampleResults } from "./fixtures.ts";
import { renderJunit, renderSummaryMarkdown } from "./render.ts";
import type { Results } from "./results.ts";

/** The sample run with two corpus failures, rows as the terminal prints them: indented, with markup-like text. */
function withCorpusFailures(): Results {
  const r = sampleResults();
  return {
    ...r,
    corpus: {
      files: 14,
      failed: 2,
      failures: ["        properties/corpus/upstream--x.json: message is <A> > 1 * 2 _now_, expected `B`", "        properties/scenarios/y.json: step 3: ret is -EBUSY, expected 0"],
    },
  };
}

describe("summary.md rendered", () => {
  const html = new MarkdownIt({ html: false }).render(renderSummaryMarkdown(withCorpusFailures()));

  it("shows a message's < > & \" as text, never as markup", () => {
    expect(html).not.toMatch(/<T1\b/);
    expect(html).toContain("&lt;T1 &amp; &quot;body&quot;&gt;");
    expect(DANGEROUS_MESSAGE).toContain("<T1");
  });

  it("renders each corpus failure as a list item of plain text, not an indented code block", () => {
    expect(html).toMatch(/<li>properties\/corpus\/upstream--x\.json: message is &lt;A&gt; &gt; 1 \* 2 _now_, expected `B`<\/li>/);
    expect(html).toMatch(/<li>properties\/scenarios\/y\.json: step 3: ret is -EBUSY, expected 0<\/li>/);
    expect(html).not.toMatch(/<pre><code>properties\/corpus/);
  });

  it("renders the verdict table as a table", () => {
    expect(html).toMatch(/<table>\s*<thead>\s*<tr>\s*<th>variant<\/th>/);
  });
});

describe("junit.xml and the corpus", () => {
  it("fails a testcase for each corpus file that fails, and counts them on the root", () => {
    const xml = renderJunit(withCorpusFailures());
    expect(xml).toMatch(/<testsuite name="corpus" tests="3" failures="2"/);
    expect(xml).toContain('<testcase classname="dispatch-spec.corpus" name="properties/corpus/upstream--x.json" time="0">');
    expect(xml).toMatch(/<failure message="properties\/scenarios\/y\.json: step 3: ret is -EBUSY, expected 0" type="corpus">/);
    expect(xml).toContain('name="12 file(s) that keep their recorded outcome"');
    const root = xml.match(/<testsuites [^>]*>/)?.[0] ?? "";
    expect(root).toMatch(/failures="3"/);
  });
});
