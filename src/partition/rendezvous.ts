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

/** 2^53: u is taken from the top 53 bits of the weight, the precision of a float64. */
const TWO_POW_53 = 9007199254740992;

/**
 * Weighted rendezvous score w / -ln(u), u = (top 53 bits of weight(m, p) + 0.5) / 2^53 in (0, 1).
 * -ln(u) is Exp(1), so -ln(u)/w is Exp(w) and member m has the lowest one (the highest score)
 * with probability w_m / Σw: shares proportional to weight. float64 arithmetic with V8's
 * fdlibm Math.log, identical on every platform.
 */
export function weightedScore(weight: number, hi: number, lo: number): number {
  const u = (hi * 2097152 + (lo >>> 11) + 0.5) / TWO_POW_53;
  return weight / -Math.log(u);
}

/** Scratch for constrainedOwners, sized for n members and z zones. */
export interface RankScratch {
  readonly score: Float64Array;
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly taken: Uint8Array;
  readonly perZone: Int32Array;
}

export function rankScratch(n: number, zones: number): RankScratch {
  return {
    score: new Float64Array(n),
    hi: new Uint32Array(n),
    lo: new Uint32Array(n),
    taken: new Uint8Array(n),
    perZone: new Int32Array(zones),
  };
}

/**
 * Zone-aware, optionally weighted rendezvous: writes the owners of `partition` into `out` and
 * returns min(replicas, n). Members are ranked by score (w / -ln(u) with weights, else the raw
 * 64-bit weight; ties by raw weight, then name order). Owners are picked best-first among
 * members whose zone holds fewer than `cap` owners, `cap` starting at 1 and rising only when no
 * member qualifies: the first min(R, zones) owners are in distinct zones, and with fewer zones
 * than R the rest spread round-robin (no zone holds more than ceil(R / zones) while another
 * zone with unused members holds fewer).
 */
export function constrainedOwners(
  hashes: Uint32Array,
  partition: number,
  replicas: number,
  zoneOf: Int32Array,
  weights: Float64Array | null,
  out: Int32Array,
  s: RankScratch,
): number {
  const n = hashes.length >>> 1;
  const pHi = mul64(0, partition >>> 0, GOLDEN_HI, GOLDEN_LO);
  const pLo = u64.lo;
  const { score, hi: hiOf, lo: loOf, taken, perZone } = s;
  for (let m = 0; m < n; m++) {
    const hi = fmix64((hashes[2 * m]! ^ pHi) >>> 0, (hashes[2 * m + 1]! ^ pLo) >>> 0);
    hiOf[m] = hi;
    loOf[m] = mixLo;
    score[m] = weights === null ? 0 : weightedScore(weights[m]!, hi, mixLo);
    taken[m] = 0;
    perZone[zoneOf[m]!] = 0;
  }
  const width = replicas < n ? replicas : n;
  let count = 0;
  let cap = 1;
  while (count < width) {
    let best = -1;
    for (let m = 0; m < n; m++) {
      if (taken[m] === 1 || perZone[zoneOf[m]!]! >= cap) continue;
      // Ascending scan with a strict comparison: on a full tie the smaller name index stays.
      if (
        best < 0 ||
        score[m]! > score[best]! ||
        (score[m] === score[best] && (hiOf[m]! > hiOf[best]! || (hiOf[m] === hiOf[best] && loOf[m]! > loOf[best]!)))
      ) {
        best = m;
      }
    }
    if (best < 0) {
      cap++;
      continue;
    }
    taken[best] = 1;
    perZone[zoneOf[best]!]!++;
    out[count++] = best;
  }
  return count;
}
