/**
 * A member's view of the ring (pure): the members it knows, which of them own partitions
 * (alive and passing the filter), the partition table over those, and the exact ownership
 * changes of the local member whenever the set of owners changes.
 */
import { type OwnershipChange, diffOwnership } from '../partition/diff.js';
import type { ResolvedPartitionOptions } from '../partition/options.js';
import { MAX_WEIGHT, MAX_ZONE_LENGTH, PartitionTable } from '../partition/table.js';
import type { SerfMember } from '../serf/serf-members.js';
import type { Tags } from '../serf/tags.js';
import { READY_TAG } from './readiness.js';
import type { MemberFilter } from './tag-filter.js';

/** Set by a member that hands its partitions over before it leaves: it owns nothing any more. */
export const DRAIN_TAG = 'swd';

/** A member's tags without the ring's own (handoff readiness, draining): the ones its application set. */
export function withoutRingTags(tags: Tags): Record<string, string> {
  const { [READY_TAG]: _ready, [DRAIN_TAG]: _draining, ...rest } = tags;
  return rest;
}

export interface RingPartitionOptions extends ResolvedPartitionOptions {
  /** Tag holding a member's zone: replicas go to distinct zones. Untagged: a zone of its own. */
  readonly zoneTag?: string;
  /** Tag holding a member's capacity weight, a decimal in (0, 1e6]; missing or invalid: 1. */
  readonly weightTag?: string;
}

/** A weight tag's value: a plain decimal in (0, MAX_WEIGHT], else 1 (a bad tag must not stop the ring). */
export function weightFromTag(value: string | undefined): number {
  if (value === undefined || !/^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) return 1;
  const w = Number(value);
  return w > 0 && w <= MAX_WEIGHT ? w : 1;
}

/** A zone tag's value, or undefined (a zone of its own) when missing, empty or not a valid zone name. */
export function zoneFromTag(value: string | undefined): string | undefined {
  return value !== undefined && value.length > 0 && value.length <= MAX_ZONE_LENGTH && value.isWellFormed() ? value : undefined;
}

export class RingView {
  readonly local: string;
  readonly #options: ResolvedPartitionOptions;
  readonly #zoneTag: string | undefined;
  readonly #weightTag: string | undefined;
  readonly #filter: MemberFilter;
  readonly #members = new Map<string, SerfMember>();
  #table: PartitionTable;
  /** Zones and weights the table was built from (with zoneTag or weightTag). */
  #inputsKey: string | undefined;
  /** False while the local member is joining: it owns nothing until it has seen the cluster. */
  #admitted: boolean;

  constructor(local: string, options: RingPartitionOptions, filter: MemberFilter, admitted = true) {
    this.local = local;
    const { zoneTag, weightTag, ...partition } = options;
    this.#options = partition;
    this.#zoneTag = zoneTag;
    this.#weightTag = weightTag;
    this.#filter = filter;
    this.#admitted = admitted;
    this.#table = this.tableOf([]);
  }

  /** Whether the local member may own partitions (false until its join completes). */
  get admitted(): boolean {
    return this.#admitted;
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
    if (m.name === this.local && !this.#admitted) return false;
    return m.status === 'alive' && m.tags[DRAIN_TAG] === undefined && this.#filter(m.tags, m.name);
  }

  /**
   * The join completed: the local member takes its share of the table over the members known
   * now. Its changes are acquires only, each from the holder it replaces.
   */
  admit(diff = true): OwnershipChange[] {
    if (this.#admitted) return [];
    this.#admitted = true;
    return this.#rebuild(diff);
  }

  /**
   * Takes a member's new state (or its removal, after a reap) and returns the local member's
   * ownership changes; none when the set of owners is unchanged. With `diff` false the table
   * is replaced without listing the changes (O(P) objects no one would read).
   */
  apply(member: SerfMember, removed = false, diff = true): OwnershipChange[] {
    if (removed) this.#members.delete(member.name);
    else this.#members.set(member.name, member);
    return this.#rebuild(diff);
  }

  #rebuild(diff: boolean): OwnershipChange[] {
    const owners = [...this.#members.values()].filter((m) => this.owns(m)).map((m) => m.name);
    const inputs = this.#tagged() ? this.#placementInputs(owners) : undefined;
    if (sameSet(owners, this.#table.members) && inputs?.key === this.#inputsKey) return [];
    const next =
      inputs === undefined
        ? this.tableOf(owners)
        : new PartitionTable({ ...this.#options, members: owners, zones: inputs.zones, weights: inputs.weights });
    this.#inputsKey = inputs?.key;
    // A zone or weight change that changes no owner (e.g. a zone with one member) changes no checksum.
    if (next.checksum === this.#table.checksum) return [];
    const before = this.#table;
    this.#table = next;
    return diff ? diffOwnership(before, this.#table, this.local) : [];
  }

  #tagged(): boolean {
    return this.#zoneTag !== undefined || this.#weightTag !== undefined;
  }

  /** The table over `names` with this view's options and those members' zone and weight tags. */
  tableOf(names: readonly string[]): PartitionTable {
    if (!this.#tagged()) return new PartitionTable({ ...this.#options, members: names });
    const { zones, weights } = this.#placementInputs(names);
    return new PartitionTable({ ...this.#options, members: names, zones, weights });
  }

  /** Zones and weights of `names` from their tags, and a key that is equal when they are. */
  #placementInputs(names: readonly string[]): { zones: Record<string, string>; weights: Record<string, number>; key: string } {
    const zones: Record<string, string> = Object.create(null);
    const weights: Record<string, number> = Object.create(null);
    const parts: string[] = [];
    for (const name of [...names].sort()) {
      const tags = this.#members.get(name)?.tags ?? {};
      const zone = this.#zoneTag === undefined ? undefined : zoneFromTag(tags[this.#zoneTag]);
      if (zone !== undefined) zones[name] = zone;
      const weight = this.#weightTag === undefined ? 1 : weightFromTag(tags[this.#weightTag]);
      weights[name] = weight;
      parts.push(name, zone ?? '', String(weight));
    }
    return { zones, weights, key: JSON.stringify(parts) };
  }
}

function sameSet(names: readonly string[], sorted: readonly string[]): boolean {
  if (names.length !== sorted.length) return false;
  const set = new Set(sorted);
  return names.every((n) => set.has(n));
}
