/**
 * What a member can serve, carried in one Serf tag so that it spreads by gossip and survives
 * push/pull (serf agents just see one more tag). A member names two tables by checksum prefix:
 * `to`, its current table, and `from`, the table of the partitions it lost but still serves
 * (retains until their new holders are ready); equal when it retains nothing:
 *
 *   swr = <from: 8 hex>.<to: 8 hex>.<held runs>.<retained runs>
 *
 * Runs are base64url of unsigned LEB128 varints, alternating run lengths of "serves" and "does
 * not serve", starting with "serves" (empty: serves all): held runs over the member's holdings
 * in `to`, ascending; retained runs over its holdings in `from` that it does not hold in `to`,
 * ascending. A member without the tag serves whatever it holds (no handoff). Bounded: past
 * MAX_RUN_BYTES a run list collapses to "serves none", which only delays routing to it.
 */
import { BudgetExceededError, DecodeError, TruncatedError } from '../gossip/codec/decode-error.js';

export const READY_TAG = 'swr';
export const MAX_RUN_BYTES = 60;
const PREFIX_CHARS = 8;
/** The longest readiness tag value: two prefixes, two run lists in base64url, three dots. */
export const MAX_READY_TAG_CHARS = 2 * PREFIX_CHARS + 2 * Math.ceil((MAX_RUN_BYTES * 4) / 3) + 3;

/** Run ends (cumulative): indices in [ends[2k], ends[2k+1]) do not serve. */
export type Runs = readonly number[];

export interface Readiness {
  /** Checksum prefixes of the tables. */
  readonly from: string;
  readonly to: string;
  readonly held: Runs;
  readonly retained: Runs;
}

/** Does the i-th partition of the list serve? (i < 0: not in the list, no.) */
export function isReadyAt(ends: Runs, i: number): boolean {
  if (i < 0) return false;
  // Binary search for the first run end above i; odd runs are the ones that do not serve.
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! > i) hi = mid;
    else lo = mid + 1;
  }
  return lo % 2 === 0;
}

export function checksumPrefix(checksum: string): string {
  return checksum.slice(0, PREFIX_CHARS);
}

/** Encodes readiness: `held[i]` / `retained[i]` tell whether the i-th partition of each list serves. */
export function encodeReadiness(from: string, to: string, held: readonly boolean[], retained: readonly boolean[]): string {
  return `${checksumPrefix(from)}.${checksumPrefix(to)}.${encodeRuns(held)}.${encodeRuns(retained)}`;
}

function encodeRuns(ready: readonly boolean[]): string {
  const runs: number[] = [];
  let want = true;
  let length = 0;
  for (const r of ready) {
    if (r === want) {
      length++;
      continue;
    }
    runs.push(length);
    want = !want;
    length = 1;
  }
  if (!(want && length === ready.length) && ready.length > 0) runs.push(length);
  let bytes = varints(runs);
  if (bytes.length > MAX_RUN_BYTES) bytes = varints([0, ready.length]);
  return toBase64Url(bytes);
}

export function decodeReadiness(value: string): Readiness {
  const parts = value.split('.');
  if (parts.length !== 4 || parts[0]!.length !== PREFIX_CHARS || parts[1]!.length !== PREFIX_CHARS)
    throw new DecodeError('malformed readiness tag', 'malformed');
  return { from: parts[0]!, to: parts[1]!, held: decodeRuns(parts[2]!), retained: decodeRuns(parts[3]!) };
}

function decodeRuns(text: string): Runs {
  const bytes = fromBase64Url(text);
  if (bytes.length > MAX_RUN_BYTES) throw new BudgetExceededError('readiness runs too long');
  const runs: number[] = [];
  let v = 0;
  let shift = 0;
  for (const b of bytes) {
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (shift > 28) throw new DecodeError('readiness varint too long', 'malformed');
    if (b < 0x80) {
      runs.push(v);
      v = 0;
      shift = 0;
    }
  }
  if (shift !== 0) throw new TruncatedError('truncated readiness varint');
  const ends: number[] = [];
  let at = 0;
  for (const length of runs) ends.push((at += length));
  return ends;
}

function varints(values: readonly number[]): number[] {
  const out: number[] = [];
  for (let v of values) {
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  }
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url without padding (RFC 4648 §5). */
function toBase64Url(bytes: readonly number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += ALPHABET[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

function fromBase64Url(text: string): number[] {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) throw new DecodeError('readiness runs are not base64url', 'malformed');
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  return out;
}
