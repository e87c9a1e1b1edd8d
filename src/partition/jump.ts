/**
 * Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
 * 2014), bit-exact with the reference and with github.com/dgryski/go-jump, which libring uses:
 *
 *   b = -1; j = 0
 *   while j < buckets: b = j; key = key * 2862933555777941757 + 1 (mod 2^64)
 *                      j = floor((b + 1) * (2^31 / ((key >>> 33) + 1)))      (float64)
 */
import { invalidArgument } from '../errors.js';
import { mul64, u64 } from './u64.js';

const LCG_HI = 0x27bb2ee6; // 2862933555777941757 = 0x27bb2ee687b0b0fd
const LCG_LO = 0x87b0b0fd;
const TWO_POW_31 = 2147483648;
const MAX_BUCKETS = 0x7fffffff;

/** jump(key, buckets) for a 64-bit key given as two unsigned 32-bit halves; buckets in [1, 2^31). */
export function jumpHashParts(keyHi: number, keyLo: number, buckets: number): number {
  let hi = keyHi;
  let lo = keyLo;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    hi = mul64(hi, lo, LCG_HI, LCG_LO);
    lo = u64.lo + 1;
    if (lo === 0x100000000) {
      lo = 0;
      hi = (hi + 1) >>> 0;
    }
    // Same float64 operations, in the same order, as the reference.
    j = Math.floor((b + 1) * (TWO_POW_31 / ((hi >>> 1) + 1)));
  }
  return b;
}

/**
 * jump(key, buckets): the bucket in [0, buckets) for a 64-bit key (a bigint, or a non-negative
 * safe integer).
 */
export function jumpHash(key: bigint | number, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
    throw invalidArgument('buckets', `an integer in [1, ${MAX_BUCKETS}]`, buckets);
  }
  if (typeof key === 'bigint') {
    if (key < 0n || key > 0xffffffffffffffffn) throw invalidArgument('key', 'an unsigned 64-bit integer', key);
    return jumpHashParts(Number(key >> 32n), Number(key & 0xffffffffn), buckets);
  }
  if (!Number.isSafeInteger(key) || key < 0) {
    throw invalidArgument('key', 'a non-negative safe integer or a bigint', key);
  }
  return jumpHashParts(Math.floor(key / 0x100000000), key >>> 0, buckets);
}
