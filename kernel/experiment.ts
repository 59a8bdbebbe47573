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
    dsmodDirect: [],
    options: { direct: "bpf", ordinary: "instance", probe: [] },
    steps: [
      {
        index: 1,
        text: `dsmod: refused ${tries}`,
        model: [],
        attached: [],
        detached: [],
        rets: false,
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

// The livepatch + fexit experiment (reports/history/record.md, 3e9a18e1c3e9 "Fix IPMODIFY + DIRECT in
// modify_ftrace_direct()"): on x86, a function that a livepatch redirects, with a BPF fentry program and then an
// fexit program attached, ran its unpatched body after the fexit, because modify_ftrace_direct never asked the BPF
// ops' ops_func, so the trampoline was rebuilt calling the function's recorded address instead of the one the
// livepatch left on the stack (BPF_TRAMP_F_ORIG_STACK). arm64's BPF JIT has no such choice: a trampoline that calls
// the function calls the address it was entered with in x30, which ftrace_caller's late exit to a direct trampoline
// loads from the saved pc, the one the livepatch's handler rewrote. The experiment does the commit's three steps on
// a real arm64 kernel, with dsmod in the livepatch's part (an IPMODIFY ops pointing the saved pc at a replacement
// that returns -EADV), and asks, with a direct ops of dsmod's own, whether the kernel asks ops_func on a modify.

/** The experiment's name on the command line. */
export const LIVEPATCH_EXPERIMENT = "livepatch-fexit";

/** The errno dsmod's replacement of sethostname returns (EADV, which the real system call never returns). */
export const PATCHED_ERRNO = 68;

const FN = "__arm64_sys_sethostname";
const PIN_FENTRY = "/sys/fs/bpf/lp_fentry";
const PIN_FEXIT = "/sys/fs/bpf/lp_fexit";
/** The function whose fexit trampoline is built without the livepatch (no IPMODIFY ops, so no ORIG_STACK). */
const REF_FN = "__arm64_sys_setdomainname";
const PIN_REF_FENTRY = "/sys/fs/bpf/ref_fentry";
const PIN_REF_FEXIT = "/sys/fs/bpf/ref_fexit";

/** The stages, in order: what each does, and whether the replacement must run in it. */
export const LIVEPATCH_STAGES = [
  { stage: "unpatched", shell: [] as string[], patched: false, what: "nothing attached" },
  { stage: "patched", shell: [`echo patch > ${CTL}`], patched: true, what: "dsmod's IPMODIFY ops redirects sethostname" },
  { stage: "direct", shell: [`echo direct > ${CTL}`], patched: true, what: "and a direct ops of dsmod's (trampoline A) joins it" },
  { stage: "direct-modified", shell: [`echo direct-modify > ${CTL}`], patched: true, what: "modify_ftrace_direct moves it to trampoline B" },
  { stage: "fentry", shell: [`echo direct-off > ${CTL}`, `kagent fentry ${FN} ${PIN_FENTRY}`], patched: true, what: "dsmod's direct ops gone, a BPF fentry program attached" },
  { stage: "fexit", shell: [`kagent fexit ${FN} ${PIN_FEXIT}`], patched: true, what: "a BPF fexit program attached too: modify_ftrace_direct, the trampoline now calls the function" },
] as const;

/** The guest's part: each stage's actions, one call of sethostname, and at the end the run counts and dsmod's report. */
export function livepatchPlan(): GuestScenario {
  const shell: string[] = [];
  for (const s of LIVEPATCH_STAGES) shell.push(`echo stage:${s.stage}`, ...s.shell, `kagent call ${FN}`);
  // The fexit trampoline's code as built for the livepatched function (with BPF_TRAMP_F_ORIG_STACK, if the kernel
  // asked ops_func), and as built for a function no IPMODIFY ops covers (without it).
  shell.push(`kagent images ${FN}`, `kagent fentry ${REF_FN} ${PIN_REF_FENTRY}`, `kagent fexit ${REF_FN} ${PIN_REF_FEXIT}`, `kagent images ${REF_FN}`);
  shell.push(`kagent runs ${PIN_FENTRY} ${PIN_FEXIT}`, `cat ${REPORT}`, `rm -f ${PIN_FENTRY} ${PIN_FEXIT} ${PIN_REF_FENTRY} ${PIN_REF_FEXIT}`, `echo unpatch > ${CTL}`);
  return {
    name: LIVEPATCH_EXPERIMENT,
    scenario: parseScenario({ functions: [{ name: "f", addr: "0xffff800009000000" }, { name: "g", addr: "0xffff800009001000" }], steps: [] }),
    real: new Map([["f", FN], ["g", REF_FN]]),
    dsmod: ["A"],
    dsmodDirect: [],
    options: { direct: "bpf", ordinary: "instance", probe: [] },
    steps: [{ index: 1, text: "dsmod: livepatch, direct, BPF fentry and fexit on sethostname", model: [], attached: [], detached: [], rets: false, shell }],
  };
}

/** What one stage's call of sethostname returned, and the errors the stage's actions printed. */
export interface LivepatchStage {
  readonly stage: string;
  readonly ret: number | null;
  readonly errno: number | null;
  readonly errors: ReadonlyArray<string>;
}

export interface LivepatchResult {
  readonly stages: ReadonlyArray<LivepatchStage>;
  readonly runs: Readonly<Record<string, number>>;
  /** dsmod's livepatch line: the replacement's calls, the return codes and ops_func's counts. */
  readonly report: Readonly<Record<string, number>>;
  /** Every BPF trampoline image kagent read, by function: its address and words. */
  readonly images: ReadonlyMap<string, ReadonlyArray<{ readonly addr: string; readonly words: ReadonlyArray<number> }>>;
}

/** The experiment's lines in a guest console, or null if the console has no dsmod livepatch line. */
export function parseLivepatch(console: string): LivepatchResult | null {
  const lines = console.split("\n").filter((l) => l.startsWith("### ")).map((l) => l.slice(4).trim());
  const stages: LivepatchStage[] = [];
  let runs: Record<string, number> = {};
  let report: Record<string, number> | null = null;
  const images = new Map<string, Array<{ addr: string; words: number[] }>>();
  let cur: { stage: string; ret: number | null; errno: number | null; errors: string[] } | null = null;
  const flush = (): void => {
    if (cur !== null) stages.push(cur);
  };
  for (const l of lines) {
    if (l.startsWith("stage:")) {
      flush();
      cur = { stage: l.slice("stage:".length), ret: null, errno: null, errors: [] };
      continue;
    }
    if (!l.startsWith("{")) {
      if (cur !== null && /error|can't|cannot|invalid/i.test(l)) cur.errors.push(l);
      continue;
    }
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(l) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof j["error"] === "string" && cur !== null) cur.errors.push(j["error"]);
    else if (j["call"] === FN && cur !== null && typeof j["ret"] === "number" && typeof j["errno"] === "number") {
      cur.ret = j["ret"];
      cur.errno = j["errno"];
    } else if (typeof j["runs"] === "object" && j["runs"] !== null) {
      flush();
      cur = null;
      runs = Object.fromEntries(Object.entries(j["runs"] as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === "number"));
    } else if (typeof j["images"] === "string" && Array.isArray(j["at"])) {
      const list: Array<{ addr: string; words: number[] }> = [];
      for (const im of j["at"] as unknown[]) {
        if (typeof im !== "object" || im === null) continue;
        const { addr, words } = im as { addr?: unknown; words?: unknown };
        if (typeof addr === "string" && Array.isArray(words) && words.every((w) => typeof w === "string" && /^[0-9a-f]{8}$/.test(w))) list.push({ addr, words: words.map((w) => parseInt(w as string, 16)) });
      }
      images.set(j["images"], list);
    } else if (typeof j["livepatch"] === "number") {
      report = Object.fromEntries(Object.entries(j).filter((e): e is [string, number] => typeof e[1] === "number"));
    }
  }
  flush();
  return report === null ? null : { stages, runs, report, images };
}

const RET_X9 = 0xd65f0120;
const ADR_X30_8 = 0x1000005e;
const RET_X10 = 0xd65f0140;

/** A trampoline image's code: its words up to the `ret x9` that ends a trampoline returning to the caller. */
export function trampolineCode(words: ReadonlyArray<number>): ReadonlyArray<number> | null {
  const end = words.indexOf(RET_X9);
  return end < 0 ? null : words.slice(0, end + 1);
}

/** Whether a trampoline's code calls the traced function: `adr x30, #8; ret x10` (x10 = the x30 it was entered with). */
export function callsFunction(code: ReadonlyArray<number>): boolean {
  return code.some((w, i) => w === ADR_X30_8 && code[i + 1] === RET_X10);
}

/** Two words equal but for an address: MOVZ/MOVN/MOVK of one register and shift (an immediate), or BL/B (an offset). */
function sameButAddress(a: number, b: number): boolean {
  if (a === b) return true;
  const movWide = (w: number): boolean => (w & 0x1f800000) === 0x12800000;
  if (movWide(a) && movWide(b)) return (a & 0xffe0001f) >>> 0 === (b & 0xffe0001f) >>> 0;
  const branch = (w: number): number => (w & 0xfc000000) >>> 0;
  return (branch(a) === 0x94000000 || branch(a) === 0x14000000) && branch(a) === branch(b);
}

/** The index of the first word where two codes differ in more than an address, or -1 when they are the same code. */
export function codeDifference(a: ReadonlyArray<number>, b: ReadonlyArray<number>): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || !sameButAddress(x, y)) return i;
  }
  return -1;
}

/** The fexit image of a function among those kagent read: the one whose code calls the function. */
function fexitCode(r: LivepatchResult, fn: string): ReadonlyArray<number> | null {
  for (const im of r.images.get(fn) ?? []) {
    const code = trampolineCode(im.words);
    if (code !== null && callsFunction(code)) return code;
  }
  return null;
}

/** The verdict: every patched call ran the replacement (arm64 keeps the livepatch under a modified fexit trampoline). */
export function judgeLivepatch(r: LivepatchResult): { readonly confirmed: boolean; readonly lines: ReadonlyArray<string> } {
  const lines: string[] = [];
  let ok = true;
  for (const want of LIVEPATCH_STAGES) {
    const got = r.stages.find((s) => s.stage === want.stage);
    if (got === undefined || got.ret === null) {
      ok = false;
      lines.push(`${want.stage}: no call recorded${got !== undefined && got.errors.length > 0 ? ` (${got.errors.join("; ")})` : ""}`);
      continue;
    }
    const ranNew = got.ret === -1 && got.errno === PATCHED_ERRNO;
    const body = ranNew ? "the replacement ran" : got.ret === 0 ? "the original body ran" : `sethostname returned ${got.ret} (errno ${got.errno})`;
    const right = ranNew === want.patched && (want.patched || got.ret === 0) && got.errors.length === 0;
    if (!right) ok = false;
    lines.push(`${want.stage} (${want.what}): ${body}${got.errors.length > 0 ? `; errors: ${got.errors.join("; ")}` : ""}`);
  }
  const fentry = r.runs[PIN_FENTRY] ?? -1;
  const fexit = r.runs[PIN_FEXIT] ?? -1;
  if (fentry !== 2 || fexit !== 1) ok = false;
  lines.push(`BPF programs ran: fentry ${fentry} time(s) (2 expected), fexit ${fexit} (1 expected)`);
  const patchedCalls = LIVEPATCH_STAGES.filter((s) => s.patched).length;
  const newCalls = r.report["new_calls"] ?? -1;
  if (newCalls !== patchedCalls) ok = false;
  lines.push(`dsmod's replacement ran ${newCalls} time(s) (${patchedCalls} expected)`);
  const atRegister = r.report["self_at_register"] ?? -1;
  const atModify = r.report["self_at_modify"] ?? -1;
  if ((r.report["direct_ret"] ?? -1) !== 0 || (r.report["modify_ret"] ?? -1) !== 0) ok = false;
  lines.push(
    atModify > atRegister
      ? `this kernel asks ops_func on modify_ftrace_direct (ENABLE_SHARE_IPMODIFY_SELF ${atRegister} time(s) by register, ${atModify - atRegister} more by modify): it carries 3e9a18e1c3e9`
      : `this kernel does not ask ops_func on modify_ftrace_direct (ENABLE_SHARE_IPMODIFY_SELF ${atRegister} time(s) by register, none by modify): it lacks 3e9a18e1c3e9`,
  );
  const lp = fexitCode(r, FN);
  const ref = fexitCode(r, REF_FN);
  if (lp === null || ref === null) {
    ok = false;
    lines.push(`fexit trampoline code: not found for ${lp === null ? FN : REF_FN}`);
  } else {
    const at = codeDifference(lp, ref);
    if (at >= 0) ok = false;
    lines.push(
      at < 0
        ? `fexit trampolines: the one built for the livepatched function (${atModify > atRegister ? "with" : "without"} BPF_TRAMP_F_ORIG_STACK) and one built for ${REF_FN} (without) are the same ${lp.length} instructions but for addresses: arm64's JIT calls the function through the x30 it was entered with either way`
        : `fexit trampolines differ at instruction ${at}: ${(lp[at] ?? 0).toString(16).padStart(8, "0")} for the livepatched function, ${(ref[at] ?? 0).toString(16).padStart(8, "0")} for ${REF_FN}`,
    );
  }
  return { confirmed: ok, lines };
}
