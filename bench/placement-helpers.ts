/**
 * Shared by bench/partition.ts and bench/ring.ts: reproducible member names and keys, member
 * layouts with zones and weights, and the data a table change moves.
 */
import { createPartitionTable, type PartitionTable } from '../src/index.js';

/** xorshift32, for reproducible names and keys. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function names(count: number, seed: number): string[] {
  const next = rng(seed);
  const set = new Set<string>();
  while (set.size < count) set.add(`host-${next().toString(16).padStart(8, '0')}`);
  return [...set];
}

/** `count` (a power of two) 16-byte ASCII keys. */
export function keys16(count: number, seed: number): string[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => `k${next().toString(36).padStart(15, '0')}`.slice(0, 16));
}

export interface Layout {
  members: string[];
  zones?: Record<string, string>;
  weights?: Record<string, number>;
}

/** n members; zones assigned round-robin (`zone-i`) when zoneCount > 0; weights drawn from {1, 2, 4} when weighted. */
export function layout(n: number, zoneCount: number, seed: number, weighted: boolean): Layout {
  const members = names(n, seed);
  const next = rng(seed + 1);
  const zones = zoneCount > 0 ? Object.fromEntries(members.map((m, i) => [m, `zone-${i % zoneCount}`])) : undefined;
  const weights = weighted ? Object.fromEntries(members.map((m) => [m, [1, 2, 4][next() % 3]!])) : undefined;
  return { members, ...(zones ? { zones } : {}), ...(weights ? { weights } : {}) };
}

/** The table of a layout: rendezvous with its zones and weights. */
export function buildLayout(l: Layout, partitions: number, replicas: number): PartitionTable {
  return createPartitionTable({
    members: l.members,
    partitions,
    replicas,
    placement: 'rendezvous',
    ...(l.zones ? { zones: l.zones } : {}),
    ...(l.weights ? { weights: l.weights } : {}),
  });
}

/** Partitions `m` holds in `t` (at any replica index). */
export function holdings(t: PartitionTable, m: string): number {
  let c = 0;
  for (let p = 0; p < t.partitions; p++) if (t.membersForPartition(p).includes(m)) c++;
  return c;
}

/** Slots whose new owner did not hold the partition before: copies to make. */
export function moved(a: PartitionTable, b: PartitionTable): number {
  let c = 0;
  for (let p = 0; p < a.partitions; p++) {
    const old = a.membersForPartition(p);
    for (const m of b.membersForPartition(p)) if (!old.includes(m)) c++;
  }
  return c;
}
