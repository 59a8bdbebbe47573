// Kernel memory as the model sees it: 4-byte words at 4-byte aligned addresses, with 8-byte accesses
// made of two words (little-endian). Stands for kernel text and data as read and written by
// aarch64_insn_read / aarch64_insn_patch_text_nosync / aarch64_insn_write_literal_u64 and plain loads.
//
// Stored as 4 KiB pages of words (a typed array each, with a mark for the words ever written), looked up once per
// access by page number, and shared between a memory and its clones until one of them writes the page
// (copy-on-write): the interpreter's loads and stores and the explorer's snapshots are the suite's hot paths.

import { toHex } from "./insn.ts";

export const U64_MASK = (1n << 64n) - 1n;

/** A fault raised by a memory access the model cannot perform (misaligned or unmapped). */
export class MemoryFault extends Error {}

/** Called on every store, in order: how an updater's micro-steps are recorded for interleaving. */
export type WriteListener = (addr: bigint, size: 4 | 8, value: bigint) => void;

const PAGE_SHIFT = 8n;
const PAGE_WORDS = 64;
const OFFSET_MASK = 0xffn;

interface Page {
  readonly words: Uint32Array;
  /** 1 where a word has been written (has() and entries() report only those). */
  readonly written: Uint8Array;
  /** Shared with a clone: copy before the next write. */
  shared: boolean;
}

function newPage(): Page {
  return { words: new Uint32Array(PAGE_WORDS), written: new Uint8Array(PAGE_WORDS), shared: false };
}

export class Memory {
  private readonly pages: Map<bigint, Page>;
  listener: WriteListener | null = null;
  /**
   * Bumped by every store that changes memory (a store of the value already there leaves it): two moments with the
   * same generation saw the same memory (a call's loop check).
   */
  private gen = 0;

  constructor(words?: ReadonlyMap<bigint, number>) {
    this.pages = new Map();
    if (words !== undefined) for (const [a, w] of words) this.write32Quiet(a, w);
  }

  /** How many stores this memory has taken (see gen). */
  get generation(): number {
    return this.gen;
  }

  /** A copy that shares every page until either side writes it. */
  clone(): Memory {
    const c = new Memory();
    c.gen = this.gen;
    for (const [n, p] of this.pages) {
      p.shared = true;
      c.pages.set(n, p);
    }
    return c;
  }

  /** Every word written so far, as (address, value), for a copy of the image elsewhere (conformance). */
  *entries(): IterableIterator<[bigint, number]> {
    for (const [n, p] of this.pages) {
      const base = n << PAGE_SHIFT;
      for (let i = 0; i < PAGE_WORDS; i++) if (p.written[i] === 1) yield [base + BigInt(i * 4), p.words[i]!];
    }
  }

  has(addr: bigint): boolean {
    const p = this.pages.get(addr >> PAGE_SHIFT);
    return p !== undefined && p.written[wordIndex(addr)] === 1;
  }

  read32(addr: bigint): number {
    checkAligned(addr, 4n);
    const p = this.pages.get(addr >> PAGE_SHIFT);
    return p === undefined ? 0 : p.words[wordIndex(addr)]!;
  }

  write32(addr: bigint, value: number): void {
    checkAligned(addr, 4n);
    this.write32Quiet(addr, value);
    this.listener?.(addr, 4, BigInt(value >>> 0));
  }

  /** A 64-bit load; 8-byte alignment is not required by the ISA for normal memory, 4 is by the model. */
  read64(addr: bigint): bigint {
    checkAligned(addr, 4n);
    const lo = BigInt(this.read32(addr));
    const hi = BigInt(this.read32(addr + 4n));
    return (hi << 32n) | lo;
  }

  write64(addr: bigint, value: bigint): void {
    checkAligned(addr, 4n);
    const v = value & U64_MASK;
    this.write32Quiet(addr, Number(v & 0xffffffffn));
    this.write32Quiet(addr + 4n, Number(v >> 32n));
    this.listener?.(addr, 8, v);
  }

  /**
   * Store consecutive words from addr (4-byte aligned), page by page: as that many write32 calls, listener included,
   * but without a page lookup per word when nobody listens.
   */
  writeWords(addr: bigint, words: Uint32Array): void {
    checkAligned(addr, 4n);
    if (this.listener !== null) {
      words.forEach((w, i) => this.write32(addr + BigInt(i * 4), w));
      return;
    }
    let i = 0;
    let a = addr;
    while (i < words.length) {
      const start = wordIndex(a);
      const n = Math.min(PAGE_WORDS - start, words.length - i);
      this.write32Quiet(a, words[i]!);
      const p = this.pages.get(a >> PAGE_SHIFT)!;
      p.words.set(words.subarray(i, i + n), start);
      p.written.fill(1, start, start + n);
      i += n;
      a += BigInt(n * 4);
    }
  }

  private write32Quiet(addr: bigint, value: number): void {
    const n = addr >> PAGE_SHIFT;
    let p = this.pages.get(n);
    const i = wordIndex(addr);
    if (p === undefined || p.written[i] !== 1 || p.words[i] !== value >>> 0) this.gen++;
    if (p === undefined) {
      p = newPage();
      this.pages.set(n, p);
    } else if (p.shared) {
      p = { words: p.words.slice(), written: p.written.slice(), shared: false };
      this.pages.set(n, p);
    }
    p.words[i] = value >>> 0;
    p.written[i] = 1;
  }
}

function wordIndex(addr: bigint): number {
  return Number(addr & OFFSET_MASK) >>> 2;
}

function checkAligned(addr: bigint, n: bigint): void {
  if ((addr & (n - 1n)) !== 0n) throw new MemoryFault(`misaligned ${Number(n) * 8}-bit access at ${toHex(addr)}`);
}
