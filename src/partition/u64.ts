/**
 * 64-bit unsigned arithmetic on pairs of 32-bit halves, without BigInt, so that hashing stays
 * allocation-free on hot paths. Every function returns its high half and leaves the low half
 * in `u64.lo` (a module-level register: the code is synchronous, so no caller can interleave).
 */
export const u64 = { lo: 0 };

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
export function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const low = a0 * b0;
  const mid1 = a1 * b0;
  const mid2 = a0 * b1;
  // Every term is below 2^34, so the sums are exact in a double.
  const carry = Math.floor(((low >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) / 0x10000);
  return (a1 * b1 + Math.floor(mid1 / 0x10000) + Math.floor(mid2 / 0x10000) + carry) >>> 0;
}

/** (aHi:aLo × bHi:bLo) mod 2^64. Returns the high half; the low half is in `u64.lo`. */
export function mul64(aHi: number, aLo: number, bHi: number, bLo: number): number {
  u64.lo = Math.imul(aLo, bLo) >>> 0;
  return (mulHi32(aLo, bLo) + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
}

/** (hi:lo) mod m for 1 <= m < 2^31, exact: reduces 16 bits at a time so no product exceeds 2^53. */
export function mod64(hi: number, lo: number, m: number): number {
  let r = hi % m;
  r = (r * 0x10000 + (lo >>> 16)) % m;
  r = (r * 0x10000 + (lo & 0xffff)) % m;
  return r;
}

export function toBigInt(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}
