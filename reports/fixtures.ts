// A small hand-built gate run for the report renderers' tests: four variants on three properties, one expected
// failure (v1-posted's misaligned sp), one unexpected failure whose trace holds XML-special characters, one
// killed mutant, and coverage with one expected label never reached.

import type { CellResult, Coverage, CoverageExpectations, Results } from "./results.ts";

export const FIXTURE_VARIANTS = ["upstream", "v1-posted", "v1-fixups", "call-ops-only"] as const;
export const FIXTURE_PROPERTIES = ["literal-valid", "stack-aligned", "branch-hygiene"] as const;
export const FIXTURE_MUTANT = "upstream+skip-literal-update";

/** The message of the unexpected failure: every character markup must escape. */
export const DANGEROUS_MESSAGE = `ret x17 at ftrace_caller_direct goes to <T1 & "body">, which no call pushed ('RET' as a forward branch)`;

/** The coverage label expected on upstream but never reached. */
export const UNREACHED_LABEL = "literal D -> ftrace_list_ops";

function holds(design: string, property: string, ms: number): CellResult {
  return { design, property, kind: "variant", verdict: "holds", expected: "holds", changed: false, runs: 2000, ms, seed: 20261125, path: null, message: null, error: null, counterexample: null };
}

const STACK_TRACE = [
  "variant v1-posted, BTI off, ftrace_caller at 0xffff800008002000",
  "  1  register_ftrace_function A     ret 0",
  "      f          literal ftrace_nop_ops -> A                insn nop -> bl ftrace_caller              ENABLED|CALL_OPS|CALL_OPS_EN count=1",
  "  2  call f                         path caller-ops    handlers [\"A\"]          tramp null     body 1  returned",
  "      violation: sp is 8 mod 16 at ftrace_caller+0x3c (blr x2, op->func): ftrace_regs is 120 bytes",
];

const BRANCH_TRACE = [
  "variant v1-fixups, BTI off, ftrace_caller at 0xffff800008002000",
  "  1  register_ftrace_direct D       ret 0",
  "      f          literal ftrace_nop_ops -> D                insn nop -> bl ftrace_caller              ENABLED|DIRECT|DIRECT_EN|CALL_OPS count=1",
  "  2  call f                         path caller-direct handlers []             tramp T1       body 1  returned",
  `      violation: ${DANGEROUS_MESSAGE}`,
  "      violation: RET used as a forward branch to f.body at T1+0x40 (x30 & ~7) - 16 < 0",
  `      symbol <&>"' (every markup character in one label)`,
];

const MUTANT_TRACE = [
  "variant upstream+skip-literal-update, BTI off, ftrace_caller at 0xffff800008002000",
  "  1  register_ftrace_function A     ret 0",
  "      f          literal ftrace_nop_ops                     insn nop -> bl ftrace_caller              ENABLED|CALL_OPS|CALL_OPS_EN count=1",
];

function cells(): CellResult[] {
  const grid = FIXTURE_VARIANTS.flatMap((v, i) => FIXTURE_PROPERTIES.map((p, j) => holds(v, p, 400 + 37 * i + 11 * j)));
  const replace = (design: string, property: string, c: Partial<CellResult>): void => {
    const k = grid.findIndex((x) => x.design === design && x.property === property);
    const old = grid[k];
    if (old !== undefined) grid[k] = { ...old, ...c };
  };
  replace("v1-posted", "stack-aligned", {
    verdict: "fails",
    expected: "fails",
    path: "0:0",
    message: "ftrace_regs is 120 bytes: sp is 8 mod 16 when ftrace_caller calls op->func",
    counterexample: { file: "reports/counterexamples/v1-posted--stack-aligned.json", steps: 2, trace: STACK_TRACE },
  });
  replace("v1-fixups", "branch-hygiene", {
    verdict: "fails",
    changed: true,
    path: "3:1:0:0",
    message: DANGEROUS_MESSAGE,
    counterexample: { file: "reports/counterexamples/v1-fixups--branch-hygiene.json", steps: 2, trace: BRANCH_TRACE },
  });
  const mutant: CellResult = {
    ...holds(FIXTURE_MUTANT, "literal-valid", 95),
    kind: "mutant",
    verdict: "fails",
    expected: "fails",
    path: "0",
    message: "f: literal is ftrace_nop_ops but the site is bl ftrace_caller",
    counterexample: { file: "reports/counterexamples/upstream+skip-literal-update--literal-valid.json", steps: 1, trace: MUTANT_TRACE },
  };
  return [...grid, mutant];
}

const EXPECTATIONS: CoverageExpectations = {
  siteStates: ["literal=ftrace_nop_ops, insn=nop", "literal=ordinary ops, insn=bl ftrace_caller"],
  transitions: ["insn nop -> bl", "literal ftrace_nop_ops -> ordinary ops", UNREACHED_LABEL],
  paths: ["untraced", "caller-ops", "caller-list"],
  trampolineClasses: ["-128M", "far"],
  apiReturns: ["register_ftrace_function 0", "register_ftrace_direct -EBUSY"],
};

function coverage(scale: number, unreachedLabel: boolean): Coverage {
  return {
    siteStates: { "literal=ftrace_nop_ops, insn=nop": 812 * scale, "literal=ordinary ops, insn=bl ftrace_caller": 377 * scale, "literal=ftrace_list_ops, insn=bl ftrace_caller": 95 * scale },
    transitions: { "insn nop -> bl": 240 * scale, "literal ftrace_nop_ops -> ordinary ops": 198 * scale, [UNREACHED_LABEL]: unreachedLabel ? 0 : 12 * scale },
    paths: { untraced: 1021 * scale, "caller-ops": 433 * scale, "caller-list": 120 * scale },
    trampolineClasses: { "-128M": 61 * scale, far: 140 * scale, "+128M-4": 58 * scale },
    apiReturns: { "register_ftrace_function 0": 612 * scale, "register_ftrace_direct -EBUSY": 33 * scale },
  };
}

/** A gate run with one unexpected verdict, so not ok. */
export function sampleResults(): Results {
  const all = cells();
  const names = [...FIXTURE_VARIANTS, FIXTURE_MUTANT];
  return {
    schema: "dispatch-spec/results@1",
    command: "gate",
    seed: 20261125,
    runs: 2000,
    startedAt: "2026-11-25T09:14:03.512Z",
    durationMs: 43_210,
    cells: all,
    coverage: Object.fromEntries(names.map((d, i) => [d, coverage(i + 1, d === "upstream")])),
    coverageExpected: Object.fromEntries(names.map((d) => [d, EXPECTATIONS])),
    corpus: { files: 14, failed: 0, failures: [] },
    ok: false,
  };
}
