import { invalidOption } from '../errors.js';
import { compareUtf8 } from './utf8.js';

export type KeyHash = 'fnv1a32' | 'fnv1a64';
export type Placement = 'jump' | 'rendezvous';

export const KEY_HASHES: readonly KeyHash[] = ['fnv1a32', 'fnv1a64'];
export const PLACEMENTS: readonly Placement[] = ['jump', 'rendezvous'];

export const MAX_PARTITIONS = 0x7fffffff;
/**
 * Tables hold one owner-list id per partition up to this many partitions. Above it, jump tables
 * compute the rotation per lookup (still allocation-free) and rendezvous tables are refused:
 * building one costs a hash per (member, partition).
 */
export const MAX_MATERIALIZED_PARTITIONS = 1 << 22;

export interface PartitionOptions {
  /** Number of partitions P, an integer in [1, 2^31). */
  partitions: number;
  /** Owners per partition R (at most min(R, members) are returned), an integer >= 1. Default 1. */
  replicas?: number;
  /** Key hash. Default 'fnv1a32'; 'fnv1a64' routes like Go libring. */
  hash?: KeyHash;
  /** Partition placement. Default 'jump' (libring's); 'rendezvous' moves the least data. */
  placement?: Placement;
}

export interface ResolvedPartitionOptions {
  readonly partitions: number;
  readonly replicas: number;
  readonly hash: KeyHash;
  readonly placement: Placement;
}

const MAX_REPLICAS = 0xffff;

export function resolvePartitionOptions(options: PartitionOptions): ResolvedPartitionOptions {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  const { partitions, replicas = 1, hash = 'fnv1a32', placement = 'jump' } = options;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw invalidOption('partitions', `an integer in [1, ${MAX_PARTITIONS}]`, partitions);
  }
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw invalidOption('replicas', `an integer in [1, ${MAX_REPLICAS}]`, replicas);
  }
  if (!KEY_HASHES.includes(hash)) throw invalidOption('hash', `one of ${KEY_HASHES.join(', ')}`, hash);
  if (!PLACEMENTS.includes(placement)) throw invalidOption('placement', `one of ${PLACEMENTS.join(', ')}`, placement);
  if (placement === 'rendezvous' && partitions > MAX_MATERIALIZED_PARTITIONS) {
    throw invalidOption('partitions', `at most ${MAX_MATERIALIZED_PARTITIONS} with placement 'rendezvous'`, partitions);
  }
  return { partitions, replicas, hash, placement };
}

/** Validates member names and returns them sorted byte-wise by UTF-8 (Go's sort.Strings order). */
export function sortMemberNames(members: readonly string[]): readonly string[] {
  if (!Array.isArray(members)) throw invalidOption('members', 'an array of member names', members);
  const seen = new Set<string>();
  for (const name of members) {
    // Well-formed UTF-16 only: a lone surrogate has no UTF-8 encoding of its own, so two
    // different names could hash and sort as the same bytes.
    if (typeof name !== 'string' || name.length === 0 || !name.isWellFormed()) {
      throw invalidOption('members', 'non-empty, well-formed strings', name);
    }
    if (seen.has(name)) throw invalidOption('members', 'unique names', name);
    seen.add(name);
  }
  return [...members].sort(compareUtf8);
}
