// Kernel memory as the model sees it: 4-byte words at 4-byte aligned addresses, with 8-byte accesses
// made of two words (little-endian). Stands for kernel text and data as read and written by
// aarch64_insn_read / aarch64_insn_patch_text_nosync / aarch64_insn_write_literal_u64 and plain loads.

import { toHex } from "./insn.ts";

export const U64_MASK = (1n << 64n) - 1n;

/** A fault raised by a memory access the model cannot perform (misaligned or unmapped). */
export class MemoryFault extends Error {}

/** Called on every store, in order: how an updater's micro-steps are recorded for interleaving. */
export type WriteListener = (addr: bigint, size: 4 | 8, value: bigint) => void;

export class Memory {
  private readonly words: Map<bigint, number>;
  listener: WriteListener | null = null;

  constructor(words?: ReadonlyMap<bigint, number>) {
    this.words = new Map(words);
  }

  clone(): Memory {
    return new Memory(this.words);
  }

  /** Every word written so far, as (address, value), for a copy of the image elsewhere (conformance). */
  entries(): IterableIterator<[bigint, number]> {
    return this.words.entries();
  }

  has(addr: bigint): boolean {
    return this.words.has(addr);
  }

  read32(addr: bigint): number {
    checkAligned(addr, 4);
    return this.words.get(addr) ?? 0;
  }

  write32(addr: bigint, value: number): void {
    checkAligned(addr, 4);
    this.words.set(addr, value >>> 0);
    this.listener?.(addr, 4, BigInt(value >>> 0));
  }

  /** A 64-bit load; 8-byte alignment is not required by the ISA for normal memory, 4 is by the model. */
  read64(addr: bigint): bigint {
    checkAligned(addr, 4);
    const lo = BigInt(this.words.get(addr) ?? 0);
    const hi = BigInt(this.words.get(addr + 4n) ?? 0);
    return (hi << 32n) | lo;
  }

  write64(addr: bigint, value: bigint): void {
    checkAligned(addr, 4);
    const v = value & U64_MASK;
    this.words.set(addr, Number(v & 0xffffffffn));
    this.words.set(addr + 4n, Number(v >> 32n));
    this.listener?.(addr, 8, v);
  }
}

function checkAligned(addr: bigint, n: bigint | number): void {
  if (addr % BigInt(n) !== 0n) throw new MemoryFault(`misaligned ${Number(n) * 8}-bit access at ${toHex(addr)}`);
}
