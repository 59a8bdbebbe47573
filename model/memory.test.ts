// Paged memory: the same answers as a plain word map (reads, has, entries), clones that share pages until written,
// and writeWords equal to one write32 per word.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Memory, MemoryFault } from "./memory.ts";

const BASE = 0xffff800008000000n;

describe("Memory", () => {
  it("agrees with a plain map of words on any sequence of 32- and 64-bit stores", () => {
    const op = fc.record({ off: fc.nat({ max: 2047 }), wide: fc.boolean(), v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const m = new Memory();
        const ref = new Map<bigint, number>();
        for (const { off, wide, v } of ops) {
          const a = BASE + BigInt(off) * 4n;
          if (wide) {
            m.write64(a, v);
            ref.set(a, Number(v & 0xffffffffn));
            ref.set(a + 4n, Number(v >> 32n));
          } else {
            m.write32(a, Number(v & 0xffffffffn));
            ref.set(a, Number(v & 0xffffffffn));
          }
        }
        for (let off = 0; off < 2048; off += 37) {
          const a = BASE + BigInt(off) * 4n;
          expect(m.read32(a)).toBe(ref.get(a) ?? 0);
          expect(m.has(a)).toBe(ref.has(a));
        }
        expect(new Map(m.entries())).toEqual(ref);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it("a clone shares pages until either side writes, and each then sees only its own stores", () => {
    const a = new Memory();
    a.write64(BASE, 0x1111222233334444n);
    const b = a.clone();
    b.write32(BASE, 5);
    a.write32(BASE + 4n, 6);
    expect(a.read64(BASE)).toBe(0x0000000633334444n);
    expect(b.read64(BASE)).toBe(0x1111222200000005n);
    const c = b.clone();
    c.write32(BASE + 0x1000n, 9);
    expect(b.has(BASE + 0x1000n)).toBe(false);
    expect(c.read32(BASE)).toBe(5);
  });

  it("writeWords is one write32 per word, across pages, and tells a listener each store", () => {
    const words = Uint32Array.from({ length: 150 }, (_, i) => i * 7 + 1);
    const at = BASE + 0xf8n;
    const bulk = new Memory();
    bulk.writeWords(at, words);
    const one = new Memory();
    words.forEach((w, i) => one.write32(at + BigInt(i * 4), w));
    expect([...bulk.entries()]).toEqual([...one.entries()]);
    const heard: Array<[bigint, number]> = [];
    const l = new Memory();
    l.listener = (addr, _size, v) => heard.push([addr, Number(v)]);
    l.writeWords(at, words.subarray(0, 3));
    expect(heard).toEqual([
      [at, 1],
      [at + 4n, 8],
      [at + 8n, 15],
    ]);
  });

  it("refuses a misaligned access", () => {
    expect(() => new Memory().read32(BASE + 2n)).toThrow(MemoryFault);
    expect(() => new Memory().writeWords(BASE + 1n, new Uint32Array(1))).toThrow(/misaligned/);
  });
});

describe("Memory.generation", () => {
  it("counts the stores that change memory, and only those (a call's loop check relies on it)", () => {
    const m = new Memory();
    const g0 = m.generation;
    m.write32(BASE, 7);
    expect(m.generation).toBe(g0 + 1);
    m.write32(BASE, 7);
    m.write64(BASE, 7n);
    expect(m.generation).toBe(g0 + 2);
    m.write64(BASE, 7n);
    expect(m.generation).toBe(g0 + 2);
    // Counted per word: both halves change.
    m.write64(BASE, 1n << 40n);
    expect(m.generation).toBe(g0 + 4);
    // A zero stored where nothing was written yet is a change: the word becomes mapped.
    m.write32(BASE + 64n, 0);
    expect(m.generation).toBe(g0 + 5);
    // A clone goes on from its original's count; a store to it is not one to the original.
    const c = m.clone();
    c.write32(BASE, 9);
    expect(c.generation).toBe(g0 + 6);
    expect(m.generation).toBe(g0 + 5);
  });
});
