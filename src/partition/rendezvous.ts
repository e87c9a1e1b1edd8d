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
  return weight / -Math.log(uniform(hi, lo));
}

function uniform(hi: number, lo: number): number {
  return (hi * 2097152 + (lo >>> 11) + 0.5) / TWO_POW_53;
}

/** Candidates kept per partition by the fast pass of constrainedOwners, beyond the replicas. */
const EXTRA_CANDIDATES = 6;

/**
 * Per-table state for constrainedOwners: each member's zone, the weights, and scratch. Build it
 * once per table with rankScratch.
 */
export interface RankScratch {
  readonly zoneOf: Int32Array;
  readonly weights: Float64Array | null;
  /** zonesAtLeast[c]: how many zones have at least c members (c = 0 .. replicas). */
  readonly zonesAtLeast: Int32Array;
  readonly score: Float64Array;
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly taken: Uint8Array;
  readonly perZone: Int32Array;
  /** The fast pass's best candidates (member indexes), best first. */
  readonly top: Int32Array;
}

/** `zoneOf[m]`: zone id of member m, ids dense from 0. */
export function rankScratch(zoneOf: Int32Array, weights: Float64Array | null, replicas: number): RankScratch {
  const n = zoneOf.length;
  let zones = 0;
  for (let m = 0; m < n; m++) zones = Math.max(zones, zoneOf[m]! + 1);
  const size = new Int32Array(zones);
  for (let m = 0; m < n; m++) size[zoneOf[m]!]!++;
  const zonesAtLeast = new Int32Array(replicas + 1);
  for (let c = 0; c <= replicas; c++) for (let z = 0; z < zones; z++) if (size[z]! >= c) zonesAtLeast[c]!++;
  return {
    zoneOf,
    weights,
    zonesAtLeast,
    score: new Float64Array(n),
    hi: new Uint32Array(n),
    lo: new Uint32Array(n),
    taken: new Uint8Array(n),
    perZone: new Int32Array(zones),
    top: new Int32Array(Math.min(n, replicas + EXTRA_CANDIDATES)),
  };
}

/** Whether member a ranks before member b: higher score, then higher raw weight, then smaller index. */
function ranksBefore(s: RankScratch, a: number, b: number): boolean {
  const { score, hi, lo } = s;
  if (score[a] !== score[b]) return score[a]! > score[b]!;
  if (hi[a] !== hi[b]) return hi[a]! > hi[b]!;
  if (lo[a] !== lo[b]) return lo[a]! > lo[b]!;
  return a < b;
}

/**
 * Zone-aware, optionally weighted rendezvous: writes the owners of `partition` into `out` and
 * returns min(replicas, n). Members are ranked by score (w / -ln(u) with weights, else the raw
 * 64-bit weight; ties by raw weight, then name order). Owners are picked best-first among
 * members whose zone holds fewer than `cap` owners, `cap` starting at 1 and rising only when no
 * member qualifies: the first min(R, zones) owners are in distinct zones, and with fewer zones
 * than R the rest spread round-robin (no zone holds more than ceil(R / zones) while another
 * zone with unused members holds fewer).
 *
 * The pick runs on the best R + 6 members, found in one pass (with weights, -ln(u) ≥ 1 − u lets
 * most members be passed over without a logarithm). Whether any member qualifies at the current
 * cap follows from zone sizes alone, so the result is the full ranking's unless a qualifying
 * member lies beyond the candidates; then the full ranking decides.
 */
export function constrainedOwners(hashes: Uint32Array, partition: number, replicas: number, out: Int32Array, s: RankScratch): number {
  const n = hashes.length >>> 1;
  const pHi = mul64(0, partition >>> 0, GOLDEN_HI, GOLDEN_LO);
  const pLo = u64.lo;
  const { score, hi: hiOf, lo: loOf, taken, perZone, top, zoneOf, weights, zonesAtLeast } = s;
  const k = top.length;
  let kept = 0;
  for (let m = 0; m < n; m++) {
    const hi = fmix64((hashes[2 * m]! ^ pHi) >>> 0, (hashes[2 * m + 1]! ^ pLo) >>> 0);
    const lo = mixLo;
    hiOf[m] = hi;
    loOf[m] = lo;
    if (weights === null) {
      score[m] = 0;
    } else {
      const w = weights[m]!;
      // w / (1 − u) bounds the score from above; the margin covers rounding in both divisions.
      if (kept === k && (w / (1 - uniform(hi, lo))) * (1 + 1e-9) < score[top[k - 1]!]!) continue;
      score[m] = weightedScore(w, hi, lo);
    }
    if (kept === k && !ranksBefore(s, m, top[k - 1]!)) continue;
    let pos = kept < k ? kept++ : k - 1;
    while (pos > 0 && ranksBefore(s, m, top[pos - 1]!)) {
      top[pos] = top[pos - 1]!;
      pos--;
    }
    top[pos] = m;
  }
  for (let i = 0; i < kept; i++) {
    taken[top[i]!] = 0;
    perZone[zoneOf[top[i]!]!] = 0;
  }
  const width = replicas < n ? replicas : n;
  let count = 0;
  let cap = 1;
  // Zones that can still take an owner at the current cap, counted from zone sizes.
  let open = zonesAtLeast[1]!;
  while (count < width) {
    if (open === 0) {
      // Every zone now holds min(cap, its size) owners: those with more members can take one more.
      cap++;
      open = zonesAtLeast[cap]!;
      continue;
    }
    let best = -1;
    for (let i = 0; i < kept; i++) {
      const m = top[i]!;
      if (taken[m] === 0 && perZone[zoneOf[m]!]! < cap) {
        best = m;
        break;
      }
    }
    if (best < 0) return constrainedOwnersByFullRanking(hashes, partition, replicas, out, s);
    taken[best] = 1;
    const z = zoneOf[best]!;
    if (++perZone[z]! === cap) open--;
    out[count++] = best;
  }
  return count;
}

/** constrainedOwners over every member's score: the reference, and the rare slow path. */
export function constrainedOwnersByFullRanking(
  hashes: Uint32Array,
  partition: number,
  replicas: number,
  out: Int32Array,
  s: RankScratch,
): number {
  const n = hashes.length >>> 1;
  const pHi = mul64(0, partition >>> 0, GOLDEN_HI, GOLDEN_LO);
  const pLo = u64.lo;
  const { score, hi: hiOf, lo: loOf, taken, perZone, zoneOf, weights } = s;
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
      if (best < 0 || ranksBefore(s, m, best)) best = m;
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
