// The gate can fail on a binary: Debian 6.12's dumped ftrace_caller with one defect put into its words must fail
// the property that guards what the defect breaks, with a short counterexample, while the words as shipped hold.

import { describe, expect, it } from "vitest";
import type { EntryImage } from "../model/binary.ts";
import { binaryDesign } from "../model/variants/from-binary.ts";
import { encode } from "../model/insn.ts";
import { debian612Image } from "../model/variants/debian-6.12.ts";
import { registerEntryImage } from "../model/variants/index.ts";
import { branchHygiene } from "./branch-hygiene.ts";
import { exactHandlers } from "./exact-handlers.ts";
import { TEST_SEED, failureReport } from "./harness.ts";
import { literalDiscovery } from "./literal-discovery.ts";
import { pathSelection } from "./path-selection.ts";
import { referenceAgreement } from "./reference-agreement.ts";
import { type Property } from "./property.ts";
import { runProperty } from "./runner.ts";
import { stackAligned } from "./stack-aligned.ts";

/** Debian's image with words of ftrace_caller replaced (byte offset, new word), under a name of its own. */
function corrupted(name: string, words: ReadonlyArray<readonly [number, number]>): EntryImage {
  const code = debian612Image.code.map((c) =>
    c.name !== "ftrace_caller" ? c : { ...c, words: c.words.map((w, i) => words.find(([off]) => off === i * 4)?.[1] ?? w) },
  );
  return { ...debian612Image, name: `debian-6.12-${name}`, code };
}

interface Corruption {
  readonly name: string;
  readonly what: string;
  readonly words: ReadonlyArray<readonly [number, number]>;
  readonly property: Property;
  readonly message: RegExp;
  readonly maxSteps: number;
}

const FRAME_136: ReadonlyArray<readonly [number, number]> = [
  [0x18, encode({ kind: "sub_imm", rd: 31, rn: 31, imm12: 136, lsl12: false })],
  [0x94, encode({ kind: "add_imm", rd: 31, rn: 31, imm12: 136, lsl12: false })],
  [0xa4, encode({ kind: "add_imm", rd: 31, rn: 31, imm12: 136, lsl12: false })],
];

const CORRUPTIONS: ReadonlyArray<Corruption> = [
  {
    name: "ret-x17",
    what: "RET X17 for the BR X17 both direct exits share",
    words: [[0xa8, encode({ kind: "ret", rn: 17 })]],
    property: branchHygiene,
    message: /ret x17 at ftrace_caller_direct goes to \S+, which no call pushed \(RET used as a forward branch\)/,
    maxSteps: 3,
  },
  {
    name: "frame-136",
    what: "a frame 8 bytes short (sub sp, sp, #136 and both adds)",
    words: FRAME_136,
    property: stackAligned,
    message: /ftrace_caller reserves 136 bytes, not a multiple of 16/,
    maxSteps: 1,
  },
  {
    name: "frame-136-clobber",
    what: "the same short frame: the callsite's frame record lands 8 bytes into the caller's stack",
    words: FRAME_136,
    property: exactHandlers,
    message: /caller's stack: stp x29, x9, \[sp, #128\] at ftrace_caller\+0x44 writes \S+, at or above the callsite's sp/,
    maxSteps: 2,
  },
  {
    name: "literal-minus-8",
    what: "the literal loaded from (x30 & ~7) - 8 instead of - 16",
    words: [[0x8, encode({ kind: "ldur", rt: 11, rn: 11, simm9: -8 })]],
    property: literalDiscovery,
    message: /ftrace_caller loaded x11 = \S+, the literal holds/,
    maxSteps: 1,
  },
  {
    name: "direct-call-200",
    what: "ops->direct_call loaded from offset 200, where BTF (and the C side) has it at 208",
    words: [[0xc, encode({ kind: "ldr_imm", rt: 17, rn: 11, imm: 200 })]],
    // Only the reference notices: the early exit is missed, but call_direct_funcs still sets fregs->direct_tramp,
    // so the late exit reaches the trampoline with the right handlers, by the wrong path.
    property: referenceAgreement,
    message: /call \w+: path caller-ops, the reference says caller-direct/,
    maxSteps: 2,
  },
];

describe("a corrupted binary fails the gate", () => {
  it("holds every property on the words as shipped (the recorded finding aside)", () => {
    for (const p of [branchHygiene, stackAligned, literalDiscovery, pathSelection, referenceAgreement, exactHandlers]) {
      const out = runProperty(p, binaryDesign(debian612Image), { seed: TEST_SEED, numRuns: 150 });
      if (!out.ok) throw new Error(failureReport(out));
    }
  });

  for (const c of CORRUPTIONS) {
    it(`${c.what}: ${c.property.name} fails with at most ${c.maxSteps} steps`, () => {
      const design = registerEntryImage(corrupted(c.name, c.words));
      const out = runProperty(c.property, design, { seed: TEST_SEED, numRuns: 2000 });
      expect(out.error).toBeUndefined();
      expect(out.ok).toBe(false);
      expect(out.message).toMatch(c.message);
      expect(out.counterexample?.steps.length).toBeLessThanOrEqual(c.maxSteps);
      expect(out.counterexample?.variant).toBe(`debian-6.12-${c.name}`);
    });
  }
});
