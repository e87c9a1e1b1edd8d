/**
 * Exact ownership changes of one member between two partition tables
 * (README.md#exact-ownership-changes). Per partition at most one change: the member starts holding
 * it, stops holding it, or changes replica index. A membership change that changes nothing for the
 * member yields nothing (libring yields R−1 spurious release/acquire pairs per held partition on
 * every event).
 */
import { invalidArgument } from '../errors.js';
import type { PartitionTable } from './table.js';

export type OwnershipChange =
  /** Starts holding `partition` at `replica`; `from` is a member that held it and is still present (previous primary first), or null. */
  | { readonly type: 'acquire'; readonly partition: number; readonly replica: number; readonly from: string | null }
  /** Stops holding `partition` (held at `replica`); `to` is the member that took its place, or null. */
  | { readonly type: 'release'; readonly partition: number; readonly replica: number; readonly to: string | null }
  /** Keeps holding `partition`, at a lower replica index (closer to primary, which is 0). */
  | { readonly type: 'promote'; readonly partition: number; readonly replica: number; readonly previousReplica: number }
  /** Keeps holding `partition`, at a higher replica index. */
  | { readonly type: 'demote'; readonly partition: number; readonly replica: number; readonly previousReplica: number };

/** Replica index of every partition `member` holds in `table`, as partition → replica. */
export function ownershipOf(table: PartitionTable, member: string): Map<number, number> {
  const held = new Map<number, number>();
  if (!table.hasMember(member)) return held;
  for (let p = 0; p < table.partitions; p++) {
    const replica = table.membersForPartition(p).indexOf(member);
    if (replica >= 0) held.set(p, replica);
  }
  return held;
}

/**
 * The changes for `member` from `before` to `after`, partitions ascending. Both tables must have
 * the same partition count; replica count, hash and placement may differ.
 */
export function diffOwnership(before: PartitionTable, after: PartitionTable, member: string): OwnershipChange[] {
  if (before.partitions !== after.partitions) {
    throw invalidArgument('after.partitions', `equal to before.partitions (${before.partitions})`, after.partitions);
  }
  const changes: OwnershipChange[] = [];
  if (!before.hasMember(member) && !after.hasMember(member)) return changes;
  for (let p = 0; p < before.partitions; p++) {
    const oldOwners = before.membersForPartition(p);
    const newOwners = after.membersForPartition(p);
    const was = oldOwners.indexOf(member);
    const is = newOwners.indexOf(member);
    if (was === is) continue;
    if (was < 0) {
      changes.push({ type: 'acquire', partition: p, replica: is, from: sourceOf(oldOwners, after) });
    } else if (is < 0) {
      changes.push({ type: 'release', partition: p, replica: was, to: successorOf(member, oldOwners, newOwners) });
    } else {
      changes.push({ type: is < was ? 'promote' : 'demote', partition: p, replica: is, previousReplica: was });
    }
  }
  return changes;
}

/** The first previous owner (by replica index) still present in the new table. */
function sourceOf(oldOwners: readonly string[], after: PartitionTable): string | null {
  for (const owner of oldOwners) if (after.hasMember(owner)) return owner;
  return null;
}

/**
 * The member that took `member`'s place: departing owners (old list order) pair with arriving
 * owners (new list order), so the k-th departure hands over to the k-th arrival.
 */
function successorOf(member: string, oldOwners: readonly string[], newOwners: readonly string[]): string | null {
  let k = 0;
  for (const owner of oldOwners) {
    if (owner === member) break;
    if (!newOwners.includes(owner)) k++;
  }
  for (const owner of newOwners) {
    if (oldOwners.includes(owner)) continue;
    if (k === 0) return owner;
    k--;
  }
  return null;
}
