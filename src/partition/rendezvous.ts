/**
 * Rendezvous (highest random weight) placement. The weight of member m for partition p is
 *
 *   weight(m, p) = fmix64(xxh64(utf8(m), seed 0) XOR (p × 0x9e3779b97f4a7c15 mod 2^64))
 *
 * where fmix64 is MurmurHash3's 64-bit finalizer. The owners of p are the min(R, n) members
 * with the highest weights, highest first (replica 0 is the primary); equal weights, which need
 * a 64-bit collision, go to the member whose name sorts first. The member term is hashed once
 * per member, so a table costs one fmix64 per (member, partition).
 *
 * On a join only the newcomer can enter a partition's top R, and on a leave only the leaver's
 * slots move: the minimum possible data movement.
 */
import { encodeUtf8, encoded } from './utf8.js';
import { mul64, u64 } from './u64.js';
import { xxh64 } from './xxhash.js';

const GOLDEN_HI = 0x9e3779b9;
const GOLDEN_LO = 0x7f4a7c15;
const C1_HI = 0xff51afd7;
const C1_LO = 0xed558ccd;
const C2_HI = 0xc4ceb9fe;
const C2_LO = 0x1a85ec53;

/** Member hashes as interleaved halves: [hi0, lo0, hi1, lo1, ...], in member order. */
export function memberHashes(sortedNames: readonly string[]): Uint32Array {
  const out = new Uint32Array(sortedNames.length * 2);
  sortedNames.forEach((name, i) => {
    const n = encodeUtf8(name);
    const h = xxh64(encoded.bytes.subarray(0, n));
    out[2 * i] = Number(h >> 32n);
    out[2 * i + 1] = Number(h & 0xffffffffn);
  });
  return out;
}

// fmix64 result: high half returned, low half here.
let mixLo = 0;

function fmix64(hiIn: number, loIn: number): number {
  let hi = hiIn;
  let lo = (loIn ^ (hi >>> 1)) >>> 0; // k ^= k >>> 33
  hi = mul64(hi, lo, C1_HI, C1_LO);
  lo = (u64.lo ^ (hi >>> 1)) >>> 0;
  hi = mul64(hi, lo, C2_HI, C2_LO);
  lo = (u64.lo ^ (hi >>> 1)) >>> 0;
  mixLo = lo;
  return hi;
}

/** weight(m, p) as a bigint, for documentation tests and other implementations to compare. */
export function rendezvousWeight(memberHash: bigint, partition: number): bigint {
  const pHi = mul64(0, partition >>> 0, GOLDEN_HI, GOLDEN_LO);
  const pLo = u64.lo;
  const hi = fmix64((Number(memberHash >> 32n) ^ pHi) >>> 0, (Number(memberHash & 0xffffffffn) ^ pLo) >>> 0);
  return (BigInt(hi) << 32n) | BigInt(mixLo);
}

/**
 * Writes the owners of `partition` (indices into the sorted member list, best first) into `out`
 * and returns how many there are: min(replicas, n). `weightHi`/`weightLo` are scratch of
 * length >= replicas.
 */
export function rendezvousOwners(
  hashes: Uint32Array,
  partition: number,
  replicas: number,
  out: Int32Array,
  weightHi: Uint32Array,
  weightLo: Uint32Array,
): number {
  const n = hashes.length >>> 1;
  const pHi = mul64(0, partition >>> 0, GOLDEN_HI, GOLDEN_LO);
  const pLo = u64.lo;
  let count = 0;
  for (let m = 0; m < n; m++) {
    const hi = fmix64((hashes[2 * m]! ^ pHi) >>> 0, (hashes[2 * m + 1]! ^ pLo) >>> 0);
    const lo = mixLo;
    // Insertion into the top-R list, kept sorted by weight descending. Members are visited in
    // name order, so on equal weights the earlier (smaller) name stays ahead.
    let pos = count;
    while (pos > 0) {
      const prevHi = weightHi[pos - 1]!;
      if (prevHi > hi || (prevHi === hi && weightLo[pos - 1]! >= lo)) break;
      pos--;
    }
    if (pos >= replicas) continue;
    const last = count < replicas ? count : replicas - 1;
    for (let k = last; k > pos; k--) {
      out[k] = out[k - 1]!;
      weightHi[k] = weightHi[k - 1]!;
      weightLo[k] = weightLo[k - 1]!;
    }
    out[pos] = m;
    weightHi[pos] = hi;
    weightLo[pos] = lo;
    if (count < replicas) count++;
  }
  return count;
}
