// The per-CPU timeline of a concurrent run: one row per tick, one column for the updater and one per CPU, so a
// reader sees which store landed while which CPU was where; then each call's outcome.

import type { ConcurrentResult } from "../model/concurrent.ts";
import { violationMessages } from "../model/exec.ts";
import { foldViolations } from "./fold.ts";

const WIDTH = 46;

function cell(text: string): string {
  return (text.length > WIDTH ? `${text.slice(0, WIDTH - 1)}…` : text).padEnd(WIDTH);
}

export function timelineLines(r: ConcurrentResult, cpus: number): string[] {
  const head = `${"tick".padStart(4)}  ${cell("updater")}${Array.from({ length: cpus }, (_, i) => cell(`cpu${i + 1}`)).join("")}`;
  const rows = r.timeline.map((e) => {
    const cols = Array.from({ length: cpus + 1 }, (_, a) => cell(a === e.actor ? e.text : ""));
    return `${String(e.tick).padStart(4)}  ${cols.join("")}`.trimEnd();
  });
  const calls = r.calls.map(
    (c) =>
      `cpu${c.cpu} call ${c.fn} [ticks ${c.start}-${c.end}]: path ${c.obs.path}, handlers [${c.obs.handlers.map((h) => h.ops).join(", ")}], tramp ${c.obs.tramps.map((t) => t.tramp).join(", ") || "-"}, ${c.obs.returned ? "returned" : "did not return"}${c.obs.violations.length > 0 ? `\n    ! ${foldViolations(violationMessages(c.obs.violations)).join("\n    ! ")}` : ""}`,
  );
  const literals = r.badLiterals.slice(0, 5).map((b) => `! tick ${b.tick}: ${b.message}`);
  return [head, ...rows, "", ...calls, ...literals];
}
