/**
 * FNV-1a over a key's UTF-8 bytes (string keys) or raw bytes (Uint8Array keys).
 * 32-bit: offset 0x811c9dc5, prime 0x01000193. 64-bit: offset 0xcbf29ce484222325,
 * prime 0x100000001b3 (Go's hash/fnv New64a, which libring uses).
 */
import { encodeUtf8, encoded } from './utf8.js';
import { mod64, toBigInt } from './u64.js';

export type Key = string | Uint8Array;

function keyBytes(key: Key): Uint8Array {
  return typeof key === 'string' ? encoded.bytes : key;
}

function keyLength(key: Key): number {
  return typeof key === 'string' ? encodeUtf8(key) : key.length;
}

/** FNV-1a 32 of the key, as an unsigned 32-bit integer. */
export function fnv1a32(key: Key): number {
  const n = keyLength(key);
  const bytes = keyBytes(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

// The 64-bit state lives in two halves; `hi64` receives the high half of the last fnv1a64Parts call.
let hi64 = 0;

/** FNV-1a 64 of the key; returns the low 32 bits and leaves the high 32 bits in `hi64`. */
function fnv1a64Parts(key: Key): number {
  const n = keyLength(key);
  const bytes = keyBytes(key);
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < n; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    // × 0x100000001b3 = × 0x1b3 + × 2^40. lo × 0x1b3 < 2^41 is exact in a double.
    const t = lo * 0x1b3;
    hi = (Math.imul(hi, 0x1b3) + Math.floor(t / 0x100000000) + (lo << 8)) >>> 0;
    lo = t >>> 0;
  }
  hi64 = hi;
  return lo;
}

/** FNV-1a 64 of the key, as an unsigned 64-bit bigint. */
export function fnv1a64(key: Key): bigint {
  const lo = fnv1a64Parts(key);
  return toBigInt(hi64, lo);
}

/** Partition of a key under FNV-1a 32: hash mod P. */
export function fnv1a32Partition(key: Key, partitions: number): number {
  return fnv1a32(key) % partitions;
}

/** Partition of a key under FNV-1a 64: the full 64-bit hash mod P (libring on 64-bit platforms). */
export function fnv1a64Partition(key: Key, partitions: number): number {
  const lo = fnv1a64Parts(key);
  return mod64(hi64, lo, partitions);
}
