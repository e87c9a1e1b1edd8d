/**
 * A member's view of the ring (pure): the members it knows, which of them own partitions
 * (alive and passing the filter), the partition table over those, and the exact ownership
 * changes of the local member whenever the set of owners changes.
 */
import { type OwnershipChange, diffOwnership } from '../partition/diff.js';
import type { ResolvedPartitionOptions } from '../partition/options.js';
import { PartitionTable } from '../partition/table.js';
import type { SerfMember } from '../gossip/serf/serf-members.js';
import type { MemberFilter } from './tag-filter.js';

/** Set by a member that hands its partitions over before it leaves: it owns nothing any more. */
export const DRAIN_TAG = 'swd';

export class RingView {
  readonly local: string;
  readonly #options: ResolvedPartitionOptions;
  readonly #filter: MemberFilter;
  readonly #members = new Map<string, SerfMember>();
  #table: PartitionTable;

  constructor(local: string, options: ResolvedPartitionOptions, filter: MemberFilter) {
    this.local = local;
    this.#options = options;
    this.#filter = filter;
    this.#table = new PartitionTable({ ...options, members: [] });
  }

  get table(): PartitionTable {
    return this.#table;
  }

  member(name: string): SerfMember | undefined {
    return this.#members.get(name);
  }

  members(): SerfMember[] {
    return [...this.#members.values()];
  }

  /** Does this member own partitions? Not when it is draining before a leave (DRAIN_TAG). */
  owns(m: SerfMember): boolean {
    return m.status === 'alive' && m.tags[DRAIN_TAG] === undefined && this.#filter(m.tags, m.name);
  }

  /**
   * Takes a member's new state (or its removal, after a reap) and returns the local member's
   * ownership changes; none when the set of owners is unchanged. With `diff` false the table
   * is replaced without listing the changes (O(P) objects no one would read).
   */
  apply(member: SerfMember, removed = false, diff = true): OwnershipChange[] {
    if (removed) this.#members.delete(member.name);
    else this.#members.set(member.name, member);
    const owners = [...this.#members.values()].filter((m) => this.owns(m)).map((m) => m.name);
    if (sameSet(owners, this.#table.members)) return [];
    const before = this.#table;
    this.#table = new PartitionTable({ ...this.#options, members: owners });
    return diff ? diffOwnership(before, this.#table, this.local) : [];
  }
}

function sameSet(names: readonly string[], sorted: readonly string[]): boolean {
  if (names.length !== sorted.length) return false;
  const set = new Set(sorted);
  return names.every((n) => set.has(n));
}
