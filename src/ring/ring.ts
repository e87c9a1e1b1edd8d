/**
 * createRing: a gossip node plus the partition ring over its members (DESIGN §4), libring's
 * Cluster done right. Reads are O(1) on an immutable snapshot; ownership changes of the local
 * member come out exact, through bounded per-consumer queues.
 */
import { EventEmitter } from 'eventemitter3';
import { invalidOption } from '../errors.js';
import type { UserEvent } from '../gossip/serf/serf-machine.js';
import type { Tags } from '../gossip/serf/tags.js';
import { GossipNode, type GossipNodeOptions, type Member, type ReceivedQuery } from '../io/gossip-node.js';
import { type OwnershipChange, ownershipOf } from '../partition/diff.js';
import type { Key } from '../partition/fnv.js';
import { type KeyHash, type Placement, resolvePartitionOptions } from '../partition/options.js';
import type { PartitionTable } from '../partition/table.js';
import { PartitionEventQueue } from './event-queue.js';
import { RingView } from './ring-view.js';
import { type WatchTags, compileWatchTags } from './tag-filter.js';

export interface RingOptions extends GossipNodeOptions {
  /** Seeds to join (`host:port`); retried with backoff until one answers or `signal` aborts. */
  join?: readonly string[];
  /** Which members own partitions; default all. */
  watchTags?: WatchTags;
  partitions: number;
  replicas?: number;
  hash?: KeyHash;
  placement?: Placement;
  /** Aborts the initial join (the ring is then closed and createRing rejects). */
  signal?: AbortSignal;
}

export interface RingEvents {
  'member-join': [Member];
  'member-update': [Member];
  'member-leave': [Member];
  'member-failed': [Member];
  'member-reap': [Member];
  event: [UserEvent];
  query: [ReceivedQuery];
}

const NONE: readonly Member[] = Object.freeze([]);

export class Ring extends EventEmitter<RingEvents> {
  readonly node: GossipNode;
  readonly #view: RingView;
  readonly #queues = new Set<PartitionEventQueue>();
  /** Owner name lists (shared, frozen, from the table) → the same owners as members. */
  #asMembers = new WeakMap<readonly string[], readonly Member[]>();
  #closed = false;

  private constructor(node: GossipNode, view: RingView) {
    super();
    this.node = node;
    this.#view = view;
    for (const m of node.members()) view.apply(m);
    for (const change of ['member-join', 'member-update', 'member-leave', 'member-failed', 'member-reap'] as const) {
      node.on(change, (m) => {
        this.#apply(m, change === 'member-reap');
        this.emit(change, m);
      });
    }
    node.on('event', (e) => this.emit('event', e));
    node.on('query', (q) => this.emit('query', q));
  }

  /** Starts a node, joins `join` if given, and keeps the ring over the cluster's members. */
  static async create(options: RingOptions): Promise<Ring> {
    if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
    const { join, watchTags, partitions, replicas, hash, placement, signal, ...nodeOptions } = options;
    const partitionOptions = resolvePartitionOptions({ partitions, ...(replicas !== undefined ? { replicas } : {}), ...(hash ? { hash } : {}), ...(placement ? { placement } : {}) });
    const filter = compileWatchTags(watchTags);
    if (join !== undefined && (!Array.isArray(join) || join.some((s) => typeof s !== 'string'))) throw invalidOption('join', 'an array of host:port strings', join);
    signal?.throwIfAborted();
    const node = await GossipNode.create(nodeOptions);
    const ring = new Ring(node, new RingView(nodeOptions.name, partitionOptions, filter));
    if (join && join.length > 0) {
      try {
        await node.join(join, signal ? { signal } : {});
      } catch (err) {
        await ring.close();
        throw err;
      }
    }
    return ring;
  }

  /** The local member, as the cluster sees it. */
  get local(): Member {
    return this.node.members().find((m) => m.name === this.#view.local)!;
  }

  /** The current partition table (immutable; replaced on every ring change). */
  get table(): PartitionTable {
    return this.#view.table;
  }

  /** Identifies the table: equal on every member whose view agrees. */
  get checksum(): string {
    return this.#view.table.checksum;
  }

  partitionForKey(key: Key): number {
    return this.#view.table.partitionForKey(key);
  }

  /** Owners of the key's partition, primary first: a frozen array shared between calls. */
  membersForKey(key: Key): readonly Member[] {
    return this.#members(this.#view.table.membersForKey(key));
  }

  membersForPartition(partition: number): readonly Member[] {
    return this.#members(this.#view.table.membersForPartition(partition));
  }

  primaryForKey(key: Key): Member | undefined {
    return this.membersForKey(key)[0];
  }

  /** Every member known, ring owner or not, with status and tags. */
  members(): Member[] {
    return this.node.members();
  }

  /** Partitions the local member holds, as partition → replica index. */
  holdings(): Map<number, number> {
    return ownershipOf(this.#view.table, this.#view.local);
  }

  /**
   * The local member's ownership changes, in order per partition: first acquires describing
   * what it holds now, then every change. Bounded (one pending entry per partition); ends when
   * the signal aborts, the loop breaks, or the ring closes.
   */
  async *events(options: { signal?: AbortSignal } = {}): AsyncGenerator<OwnershipChange, void, undefined> {
    const { signal } = options;
    signal?.throwIfAborted();
    const queue = new PartitionEventQueue();
    for (const [partition, replica] of this.holdings()) queue.push({ type: 'acquire', partition, replica, from: null });
    this.#queues.add(queue);
    const stop = () => queue.interrupt();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      while (!this.#closed && !signal?.aborted) {
        const next = queue.take();
        if (next) {
          yield next;
          continue;
        }
        await queue.wait();
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      this.#queues.delete(queue);
    }
  }

  setTags(tags: Tags): void {
    this.node.setTags(tags);
  }

  /** Graceful: our leave is gossiped (the others take over our partitions), then we close. */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.node.leave(options);
    this.#shut();
  }

  /** Immediate. Idempotent. */
  async close(): Promise<void> {
    await this.node.close();
    this.#shut();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const q of this.#queues) q.interrupt();
  }

  #apply(m: Member, removed: boolean): void {
    // Member data (address, tags) may have changed: rebuild the owner → member lists lazily.
    this.#asMembers = new WeakMap();
    for (const change of this.#view.apply(m, removed)) for (const q of this.#queues) q.push(change);
  }

  #members(names: readonly string[]): readonly Member[] {
    if (names.length === 0) return NONE;
    let list = this.#asMembers.get(names);
    if (list === undefined) {
      const known = new Map(this.node.members().map((m) => [m.name, m]));
      list = Object.freeze(names.map((n) => known.get(n)!).filter((m) => m !== undefined));
      this.#asMembers.set(names, list);
    }
    return list;
  }
}

/** See Ring.create. */
export function createRing(options: RingOptions): Promise<Ring> {
  return Ring.create(options);
}

