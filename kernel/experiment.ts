// The refused-registration experiment on a real kernel (reports/findings/failed-registration-visible.md, "What would
// confirm it"): our module dsmod registers a plain ops and an IPMODIFY ops on sethostname, a kernel thread on the
// other CPU calls sethostname in a loop, and dsmod registers a second IPMODIFY ops on it again and again. Every one
// of those registrations is refused with -EBUSY by ftrace_hash_ipmodify_enable, after ftrace_startup has linked the
// ops into ftrace_ops_list; the model predicts that a call walking the list in that moment runs the refused ops'
// callback. dsmod counts how often it did.

import type { GuestScenario } from "./guest.ts";
import { parseScenario } from "../model/scenario.ts";

/** The experiment's name on the command line. */
export const REFUSED_EXPERIMENT = "refused-registration";
export const REFUSED_DEFAULT_TRIES = 300;
export const REFUSED_MAX_TRIES = 100_000;

const CTL = "/sys/kernel/debug/dispatch_spec/ctl";
const REPORT = "/sys/kernel/debug/dispatch_spec/report";

/**
 * The guest's part: a plain dsmod ops A on sethostname, one call from the shell (so dsmod learns the function's
 * address from the ip ftrace hands A's callback), the experiment, and dsmod's report.
 */
export function refusedPlan(tries: number): GuestScenario {
  return {
    name: REFUSED_EXPERIMENT,
    scenario: parseScenario({ functions: [{ name: "f", addr: "0xffff800009000000" }], steps: [] }),
    real: new Map([["f", "__arm64_sys_sethostname"]]),
    dsmod: ["A"],
    steps: [
      {
        index: 1,
        text: `dsmod: refused ${tries}`,
        model: [],
        attached: [],
        detached: [],
        shell: [`echo "reg A - __arm64_sys_sethostname" > ${CTL}`, "hostname dispatch-spec", `echo "refused ${tries}" > ${CTL}`, `cat ${REPORT}`],
      },
    ],
  };
}

/** What dsmod reported: registrations tried, refused with -EBUSY, ended otherwise; callbacks of refused ops; calls. */
export interface RefusedResult {
  readonly tries: number;
  readonly busy: number;
  readonly other: number;
  readonly firstOther: number;
  readonly hits: number;
  readonly calls: number;
}

/** dsmod's "refused" line in a guest console, or null if the console has none. */
export function parseRefused(console: string): RefusedResult | null {
  const line = console.split("\n").find((l) => l.startsWith('### {"refused":'));
  if (line === undefined) return null;
  const j = JSON.parse(line.slice(4)) as Record<string, unknown>;
  const n = (k: string): number => {
    const v = j[k];
    if (typeof v !== "number" || !Number.isInteger(v)) throw new Error(`dsmod's refused line has no integer "${k}": ${line}`);
    return v;
  };
  return { tries: n("refused"), busy: n("busy"), other: n("other"), firstOther: n("first_other"), hits: n("hits"), calls: n("calls") };
}

/** The verdict in one line, and whether the kernel did what the model predicts. */
export function judgeRefused(r: RefusedResult): { readonly confirmed: boolean; readonly line: string } {
  const what = `${r.busy} of ${r.tries} registrations of a second IPMODIFY ops refused with -EBUSY${r.other > 0 ? ` (${r.other} ended otherwise, first ${r.firstOther})` : ""}; the refused ops' callback ran ${r.hits} time(s) in ${r.calls} calls of sethostname on the other CPU`;
  const confirmed = r.hits > 0 && r.busy === r.tries && r.other === 0;
  return { confirmed, line: confirmed ? `confirmed: ${what}` : `not shown: ${what}` };
}
