/**
 * FNV-1a over a key's UTF-8 bytes (string keys) or raw bytes (Uint8Array keys).
 * 32-bit: offset 0x811c9dc5, prime 0x01000193. 64-bit: offset 0xcbf29ce484222325,
 * prime 0x100000001b3 (Go's hash/fnv New64a, which libring uses).
 *
 * Hot path: string keys are hashed straight from their UTF-16 units while they are ASCII; the
 * first non-ASCII unit restarts the hash over the UTF-8 encoding. No allocation either way.
 */
import { encodeUtf8, encoded } from './utf8.js';
import { mod64, toBigInt } from './u64.js';

export type Key = string | Uint8Array;

/** FNV-1a 32 of the key, as an unsigned 32-bit integer. */
export function fnv1a32(key: Key): number {
  if (typeof key !== 'string') return fnv1a32Bytes(key, key.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return fnv1a32Bytes(encoded.bytes, encodeUtf8(key));
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/*
 * FNV-1a 64 in four 16-bit limbs (h3 high … h0 low) held in locals, so every step is
 * small-integer arithmetic. × 0x100000001b3 = × 0x1b3 plus the value shifted left by 40 bits
 * (limb 2, bit 8). Returns the low 32 bits; the high 32 bits are left in `hi64` (synchronous
 * code: no caller can interleave).
 */
let hi64 = 0;

function fnv64(key: Key): number {
  // One loop for both sources: a string is read by UTF-16 unit while it is ASCII; at the first
  // other unit the hash restarts over its UTF-8 encoding.
  let text = typeof key === 'string' ? key : null;
  let bytes = typeof key === 'string' ? encoded.bytes : key;
  let n = key.length;
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = 0; i < n; i++) {
    let c: number;
    if (text !== null) {
      c = text.charCodeAt(i);
      if (c >= 0x80) {
        n = encodeUtf8(text);
        bytes = encoded.bytes;
        text = null;
        h0 = 0x2325;
        h1 = 0x8422;
        h2 = 0x9ce4;
        h3 = 0xcbf2;
        i = -1;
        continue;
      }
    } else {
      c = bytes[i]!;
    }
    const x = h0 ^ c;
    const t0 = x * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (x << 8) + (t1 >>> 16);
    h3 = (h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)) & 0xffff;
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
  }
  hi64 = ((h3 << 16) | h2) >>> 0;
  return ((h1 << 16) | h0) >>> 0;
}

/** FNV-1a 64 of the key, as an unsigned 64-bit bigint. */
export function fnv1a64(key: Key): bigint {
  const lo = fnv64(key);
  return toBigInt(hi64, lo);
}

/** Partition of a key under FNV-1a 32: hash mod P. */
export function fnv1a32Partition(key: Key, partitions: number): number {
  return fnv1a32(key) % partitions;
}

/** Partition of a key under FNV-1a 64: the full 64-bit hash mod P (libring on 64-bit platforms). */
export function fnv1a64Partition(key: Key, partitions: number): number {
  const lo = fnv64(key);
  return mod64(hi64, lo, partitions);
}
