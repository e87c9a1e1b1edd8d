/**
 * The ring of one member, with the handoff protocol (pure and synchronous; the I/O layer and
 * the simulator drive it). Without handoff it passes the view's exact changes through. With
 * handoff:
 *
 * - an acquired partition is not ready until the application calls `markReady` (it has loaded
 *   the data); partitions the member already had the data of stay ready;
 * - a lost partition is retained: the member keeps serving it and its `release` is withheld
 *   until every new holder is ready (or gone), or `handoffTimeoutMs` passed; then all withheld
 *   releases go out at once and the retained set is dropped;
 * - what the member can serve is published in one tag (see readiness.ts), so every member can
 *   list the holders that can serve a partition now: ready owners in replica order, then
 *   members still retaining it.
 */
import { type OwnershipChange, ownershipOf } from '../partition/diff.js';
import { PartitionTable } from '../partition/table.js';
import type { SerfMember } from '../serf/serf-members.js';
import { READY_TAG, type Readiness, checksumPrefix, decodeReadiness, encodeReadiness, isReadyAt } from './readiness.js';
import { RingView, type RingPartitionOptions } from './ring-view.js';
import type { MemberFilter } from './tag-filter.js';

export interface RingCoreOptions {
  local: string;
  partitions: RingPartitionOptions;
  filter: MemberFilter;
  handoff: boolean;
  /** Longest a member retains partitions whose new holders are not ready. */
  handoffTimeoutMs: number;
  /** After reportFailed, the partition is offered again (release + acquire) this much later. */
  retryDelayMs: number;
  /** The member joins a cluster: it owns nothing until `admit` (its join completed). */
  joining?: boolean;
}

export type CoreOutput =
  /** An ownership change for the local member's event streams. */
  | { readonly kind: 'change'; readonly change: OwnershipChange }
  /** Offer a partition again after a failure: consumers must see a fresh acquire. */
  | { readonly kind: 'retry'; readonly change: OwnershipChange & { type: 'acquire' } }
  /** Publish this readiness tag value (undefined: remove the tag). */
  | { readonly kind: 'tag'; readonly value: string | undefined }
  /** Call `tick` at this time. */
  | { readonly kind: 'wake'; readonly atMs: number };

/** Tables remembered by checksum prefix, to read other members' readiness. */
const TABLE_MEMORY = 32;

export class RingCore {
  readonly view: RingView;
  readonly #o: RingCoreOptions;
  readonly #tables = new Map<string, PartitionTable>();
  /** Prefixes no nearby table matched, until the ring changes. */
  readonly #misses = new Set<string>();
  /** The table whose partitions we still have the data of (retained until handed over). */
  #from: PartitionTable;
  readonly #ready = new Set<number>();
  readonly #failed = new Map<number, number>(); // partition → retry at (ms)
  /** Released partitions whose data we keep serving until handed over, with their release. */
  readonly #withheld = new Map<number, OwnershipChange>();
  #transitionSinceMs: number | null = null;
  #tag: string | undefined;
  /** Parsed readiness tags by member, kept while the tag value is unchanged. */
  readonly #parsed = new Map<string, { value: string; readiness: Readiness | null }>();
  /** Held partitions (ascending) per table and member, for reading readiness runs. */
  readonly #heldLists = new WeakMap<PartitionTable, Map<string, number[]>>();
  /** Partitions a member held in one table and not in another (ascending), per (to, from, member). */
  readonly #droppedLists = new WeakMap<PartitionTable, Map<string, number[]>>();
  /** Ready holders per partition for the current state; cleared on any change. */
  #readyCache = new Map<number, readonly string[]>();
  /** The table just before the local member was admitted: whom its first acquires copy from. */
  #beforeJoin: PartitionTable | undefined;

  constructor(options: RingCoreOptions) {
    this.#o = options;
    this.view = new RingView(options.local, options.partitions, options.filter, options.joining !== true);
    this.#from = this.view.table;
    this.#remember(this.view.table);
  }

  get handoff(): boolean {
    return this.#o.handoff;
  }

  get table(): PartitionTable {
    return this.view.table;
  }

  /** Partitions lost but still served, waiting for their new holders. */
  get retaining(): number {
    return this.#withheld.size;
  }

  /**
   * A member's new state (or its removal). `diff` false: no one reads the local member's
   * changes (no consumer, and nothing ready that a release would have to be withheld for).
   */
  apply(member: SerfMember, removed: boolean, nowMs: number, diff = true): CoreOutput[] {
    return this.#absorb(this.view.apply(member, removed, this.#diffNeeded(diff)), nowMs);
  }

  /** Still joining: the local member owns nothing yet. */
  get joining(): boolean {
    return !this.view.admitted;
  }

  /**
   * The join completed (its state exchange applied): the local member takes its share of the
   * ring it found. The changes are acquires only, each `from` the holder it replaces.
   */
  admit(nowMs: number, diff = true): CoreOutput[] {
    if (this.view.admitted) return [];
    this.#beforeJoin = this.view.table;
    return this.#absorb(this.view.admit(this.#diffNeeded(diff)), nowMs);
  }

  /**
   * Whom the local member's holding of `partition` comes from, for a consumer that reads its
   * holdings late: the first holder before it joined that is still in the ring (null for the
   * first member of a cluster, or when none is left).
   */
  sourceOf(partition: number): string | null {
    if (this.#beforeJoin === undefined) return null;
    for (const m of this.#beforeJoin.membersForPartition(partition)) if (this.view.table.hasMember(m)) return m;
    return null;
  }

  #diffNeeded(diff: boolean): boolean {
    return diff || (this.#o.handoff && (this.#ready.size > 0 || this.#withheld.size > 0));
  }

  #absorb(changes: OwnershipChange[], nowMs: number): CoreOutput[] {
    this.#readyCache.clear();
    const out: CoreOutput[] = [];
    // The current table is what peers' readiness tags name, whether or not anyone read the changes.
    if (this.#tables.get(checksumPrefix(this.view.table.checksum)) !== this.view.table || this.#misses.size > 0) {
      this.#remember(this.view.table);
      this.#misses.clear();
    }
    for (const change of changes) {
      if (!this.#o.handoff) {
        out.push({ kind: 'change', change });
        continue;
      }
      const p = change.partition;
      if (change.type === 'release') {
        // Loaded data is kept, and served, until the new holders are ready; never-loaded is let go.
        if (this.#ready.has(p) && !this.#failed.has(p)) this.#withheld.set(p, change);
        else out.push({ kind: 'change', change });
        this.#ready.delete(p);
        this.#failed.delete(p);
        continue;
      }
      if (change.type === 'acquire' && this.#withheld.delete(p)) this.#ready.add(p); // still had it
      out.push({ kind: 'change', change });
    }
    if (this.#o.handoff && this.#withheld.size > 0) this.#transitionSinceMs ??= nowMs;
    out.push(...this.#settle(nowMs));
    return out;
  }

  /** The application has loaded `partition`: it can serve it. */
  markReady(partition: number, nowMs: number): CoreOutput[] {
    if (!this.#o.handoff || !this.#holds(partition)) return [];
    this.#ready.add(partition);
    this.#failed.delete(partition);
    this.#readyCache.clear();
    return this.#settle(nowMs);
  }

  /** The local handler for `partition` broke: stop claiming it; offer it again later. */
  reportFailed(partition: number, nowMs: number): CoreOutput[] {
    if (!this.#holds(partition)) return [];
    this.#ready.delete(partition);
    this.#failed.set(partition, nowMs + this.#o.retryDelayMs);
    this.#readyCache.clear();
    return [...this.#settle(nowMs), { kind: 'wake', atMs: nowMs + this.#o.retryDelayMs }];
  }

  /** Time passes: handoff timeouts and retries. */
  tick(nowMs: number): CoreOutput[] {
    const out: CoreOutput[] = [];
    let next = Infinity;
    for (const [partition, atMs] of this.#failed) {
      if (atMs > nowMs) {
        next = Math.min(next, atMs); // timers may fire a little early
        continue;
      }
      this.#failed.delete(partition);
      const replica = this.view.table.membersForPartition(partition).indexOf(this.#o.local);
      if (replica >= 0)
        out.push({
          kind: 'retry',
          change: { type: 'acquire', partition, replica, from: this.readyHolders(partition).find((m) => m !== this.#o.local) ?? null },
        });
    }
    if (next < Infinity) out.push({ kind: 'wake', atMs: next });
    return [...out, ...this.#settle(nowMs)];
  }

  /** Members that can serve `partition` now, best first: ready owners by replica, then retainers. */
  readyHolders(partition: number): readonly string[] {
    return this.#readyCache.get(partition) ?? this.#findReadyHolders(partition);
  }

  /** readyHolders' slow path, apart so the cached path allocates nothing (no closure context). */
  #findReadyHolders(partition: number): readonly string[] {
    const owners = this.view.table.membersForPartition(partition);
    const list = owners.filter((m) => this.isReady(m, partition));
    if (this.#o.handoff || list.length < owners.length) {
      for (const m of this.view.members()) {
        if (m.status !== 'alive' || owners.includes(m.name)) continue;
        if (this.isReady(m.name, partition)) list.push(m.name);
      }
    }
    const holders = Object.freeze(list);
    this.#readyCache.set(partition, holders);
    return holders;
  }

  /** Can `member` serve `partition` now, as far as this member knows? */
  isReady(member: string, partition: number): boolean {
    if (member === this.#o.local) return this.#servesLocally(partition);
    const value = this.view.member(member)?.tags[READY_TAG];
    const owns = (t: PartitionTable) => t.membersForPartition(partition).includes(member);
    if (value === undefined) return owns(this.view.table); // no handoff there: it serves what it holds
    const r = this.#readiness(member, value);
    if (r === null) return false;
    const to = this.#tableFor(r.to);
    if (to && owns(to)) return isReadyAt(r.held, sortedIndexOf(this.#heldList(to, member), partition));
    const from = this.#tableFor(r.from);
    if (to === undefined || from === undefined || !owns(from)) return false;
    return isReadyAt(r.retained, sortedIndexOf(this.#droppedListOf(from, to, member), partition));
  }

  /** The tag value the local member should publish (undefined without handoff). */
  get tag(): string | undefined {
    return this.#tag;
  }

  #servesLocally(partition: number): boolean {
    if (!this.#o.handoff) return this.#holds(partition);
    if (this.#holds(partition)) return this.#ready.has(partition) && !this.#failed.has(partition);
    return this.#withheld.has(partition);
  }

  #holds(partition: number): boolean {
    return this.view.table.membersForPartition(partition).includes(this.#o.local);
  }

  /** Releases withheld partitions once handed over; republishes the tag; asks for a wake-up. */
  #settle(nowMs: number): CoreOutput[] {
    if (!this.#o.handoff) return [];
    const out: CoreOutput[] = [];
    if (this.#withheld.size > 0) {
      const timedOut = this.#transitionSinceMs !== null && nowMs - this.#transitionSinceMs >= this.#o.handoffTimeoutMs;
      const handedOver = [...this.#withheld.keys()].every((p) => this.view.table.membersForPartition(p).every((m) => this.isReady(m, p)));
      if (timedOut || handedOver) {
        for (const c of this.#withheld.values()) out.push({ kind: 'change', change: c });
        this.#withheld.clear();
        this.#transitionSinceMs = null;
      } else if (this.#transitionSinceMs !== null) {
        out.push({ kind: 'wake', atMs: this.#transitionSinceMs + this.#o.handoffTimeoutMs });
      }
    }
    // Nothing retained any more: the current table is the only one we serve from.
    if (this.#withheld.size === 0) this.#from = this.view.table;
    const held = this.#heldList(this.view.table, this.#o.local);
    const dropped = this.#from === this.view.table ? [] : this.#droppedList(this.#from, this.view.table);
    const tag = encodeReadiness(
      this.#from.checksum,
      this.view.table.checksum,
      held.map((p) => this.#servesLocally(p)),
      dropped.map((p) => this.#withheld.has(p)),
    );
    if (tag !== this.#tag) {
      this.#tag = tag;
      this.#readyCache.clear();
      out.push({ kind: 'tag', value: tag });
    }
    return out;
  }

  #readiness(member: string, value: string): Readiness | null {
    const cached = this.#parsed.get(member);
    if (cached?.value === value) return cached.readiness;
    let readiness: Readiness | null;
    try {
      readiness = decodeReadiness(value);
    } catch {
      readiness = null; // malformed: treat as not ready
    }
    this.#parsed.set(member, { value, readiness });
    return readiness;
  }

  /** Partitions `local` holds in `from` but not in `to`, ascending. */
  #droppedList(from: PartitionTable, to: PartitionTable): number[] {
    return this.#droppedListOf(from, to, this.#o.local);
  }

  #droppedListOf(from: PartitionTable, to: PartitionTable, member: string): number[] {
    let byKey = this.#droppedLists.get(to);
    if (!byKey) this.#droppedLists.set(to, (byKey = new Map()));
    const key = `${from.checksum}\n${member}`;
    let list = byKey.get(key);
    if (!list) {
      const now = new Set(this.#heldList(to, member));
      byKey.set(key, (list = this.#heldList(from, member).filter((p) => !now.has(p))));
    }
    return list;
  }

  #heldList(table: PartitionTable, member: string): number[] {
    let byMember = this.#heldLists.get(table);
    if (!byMember) this.#heldLists.set(table, (byMember = new Map()));
    let list = byMember.get(member);
    if (!list) byMember.set(member, (list = [...ownershipOf(table, member).keys()].sort((a, b) => a - b)));
    return list;
  }

  /**
   * The table with this checksum prefix. One we never built ourselves is usually one member away
   * from ours (a peer may be a step ahead or behind): those candidates are rebuilt and checked,
   * and a miss is remembered until the ring changes.
   */
  #tableFor(prefix: string): PartitionTable | undefined {
    const known = this.#tables.get(prefix);
    if (known || this.#misses.has(prefix)) return known;
    const base = this.view.table.members;
    const candidates: string[][] = base.map((_, i) => base.filter((__, j) => j !== i));
    for (const m of this.view.members()) if (!base.includes(m.name)) candidates.push([...base, m.name]);
    for (const names of candidates) {
      const table = this.view.tableOf(names);
      if (checksumPrefix(table.checksum) !== prefix) continue;
      this.#remember(table);
      return table;
    }
    if (this.#misses.size < TABLE_MEMORY) this.#misses.add(prefix);
    return undefined;
  }

  #remember(table: PartitionTable): void {
    const prefix = checksumPrefix(table.checksum);
    this.#tables.delete(prefix);
    this.#tables.set(prefix, table);
    if (this.#tables.size > TABLE_MEMORY) this.#tables.delete(this.#tables.keys().next().value!);
  }
}

/** Index of `value` in an ascending list, or -1. */
function sortedIndexOf(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = list[mid]!;
    if (at === value) return mid;
    if (at < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
