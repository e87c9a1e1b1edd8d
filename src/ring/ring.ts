/**
 * createRing: a gossip node plus the partition ring over its members (README.md#ring-guide),
 * libring's Cluster done right. Reads are O(1) on an immutable snapshot; ownership changes of the
 * local member come out exact, through bounded per-consumer queues; with `handoff`, a partition is
 * not let go before its new holders are ready (ring-core.ts).
 */
import { EventEmitter } from 'eventemitter3';
import { invalidArgument, invalidOption } from '../errors.js';
import { type Tags, encodeTags } from '../serf/tags.js';
import { GossipNode, type GossipNodeEvents, type GossipNodeOptions, type JoinOptions, type Member } from '../io/gossip-node.js';
import { type OwnershipChange, ownershipOf } from '../partition/diff.js';
import type { Key } from '../partition/fnv.js';
import { type KeyHash, type Placement, type ResolvedPartitionOptions, resolvePartitionOptions } from '../partition/options.js';
import { PartitionTable } from '../partition/table.js';
import { MAX_RING_PARTITIONS, PartitionEventQueue } from './event-queue.js';
import { MAX_READY_TAG_CHARS, READY_TAG, encodeReadiness } from './readiness.js';
import { type CoreOutput, RingCore } from './ring-core.js';
import { DRAIN_TAG, withoutRingTags } from './ring-view.js';
import { type WatchTags, compileWatchTags } from './tag-filter.js';

export interface RingOptions extends GossipNodeOptions {
  /** Base64 encryption keys, primary first: the same as the node's `encrypt`. */
  keyring?: string | readonly string[];
  /**
   * Seeds to join (`host[:port]`; see GossipNode.join). The member owns nothing until one
   * answers: its first events are its share of the ring it joined. If none answers, createRing
   * rejects with a JoinError saying why, unless `joinRetry` asks for more rounds.
   */
  join?: readonly string[];
  /** Retry the initial join, as `serf agent -retry-join` (JoinOptions.retry); `signal` aborts it. */
  joinRetry?: JoinOptions['retry'];
  /**
   * Start in the joining phase without joining yet, for callers that call `ring.join(seeds)`
   * themselves (as the agent does, to report before its seeds answer). Implied by `join`.
   */
  joining?: boolean;
  /** Which members own partitions; default all. */
  watchTags?: WatchTags;
  partitions: number;
  replicas?: number;
  hash?: KeyHash;
  placement?: Placement;
  /**
   * Tag naming each member's zone: the replicas of a partition go to distinct zones while unused
   * zones remain. A member without the tag (or with an empty one) is a zone of its own. Implies
   * placement 'rendezvous'.
   */
  zoneTag?: string;
  /**
   * Tag holding each member's capacity weight (a decimal in (0, 1e6]): shares proportional to
   * weight. Missing or invalid: weight 1. Implies placement 'rendezvous'.
   */
  weightTag?: string;
  /** Aborts the initial join (the ring is then closed and createRing rejects). */
  signal?: AbortSignal;
  /**
   * Handoff: an acquired partition is not served until `ready(partition)`, and a lost one is
   * served (its `release` withheld) until its new holders are ready, or `handoffTimeoutMs`.
   */
  handoff?: boolean;
  /** Default 60 000. */
  handoffTimeoutMs?: number;
  /** After `reportFailed`, the partition is offered again (a new acquire) this much later. Default 5 000. */
  retryDelayMs?: number;
}

/** Held while the local member is the ready primary of `partition`; `signal` aborts when it stops being. */
export interface Lease {
  readonly partition: number;
  readonly signal: AbortSignal;
}

/** The node's membership, user-event and query events, passed through. */
export type RingEvents = Omit<GossipNodeEvents, 'name-conflict'>;

const NONE: readonly Member[] = Object.freeze([]);
/** Readiness changes are published at most this often (each is a gossiped tag update). */
const TAG_DEBOUNCE_MS = 50;
/**
 * events() hands out at most this many events between two turns of the event loop (and stops
 * sooner after MS_PER_TURN), so that timers and sockets are served while a large ring drains.
 */
export const EVENTS_PER_TURN = 1024;
const MS_PER_TURN = 10;
/** Partitions an iterator reads its initial holdings from per step; a step counts as SCAN_WORK events. */
const SCAN_STEP = 4096;
const SCAN_WORK = 64;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export { MAX_RING_PARTITIONS };

/** zoneTag and weightTag: non-empty strings; either one implies (and needs) rendezvous placement. */
function placementTagOptions(
  zoneTag: unknown,
  weightTag: unknown,
  placement: Placement | undefined,
): { zoneTag?: string; weightTag?: string } {
  for (const [option, value] of [
    ['zoneTag', zoneTag],
    ['weightTag', weightTag],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value.length === 0))
      throw invalidOption(option, 'a non-empty tag name', value);
  }
  const out = {
    ...(zoneTag !== undefined ? { zoneTag: zoneTag as string } : {}),
    ...(weightTag !== undefined ? { weightTag: weightTag as string } : {}),
  };
  if (placement === 'jump' && (zoneTag !== undefined || weightTag !== undefined))
    throw invalidOption('placement', "'rendezvous' (or unset) with zoneTag or weightTag", placement);
  return out;
}

/** With handoff, our tags must leave room for the longest readiness tag (meta is 512 bytes). */
function roomForReadiness(tags: Tags): void {
  try {
    encodeTags({ ...tags, [READY_TAG]: 'x'.repeat(MAX_READY_TAG_CHARS) });
  } catch {
    throw invalidOption('tags', `small enough to leave ${MAX_READY_TAG_CHARS + 5} bytes for the handoff tag (512 bytes in all)`, tags);
  }
}

/** The readiness tag of a member that serves nothing yet. */
function notReadyYet(options: ResolvedPartitionOptions): string {
  const empty = new PartitionTable({ ...options, members: [] }).checksum;
  return encodeReadiness(empty, empty, [], []);
}

function durationOption(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 86_400_000)
    throw invalidOption(option, 'an integer number of ms in [0, 86400000]', value);
  return value;
}

export class Ring extends EventEmitter<RingEvents> {
  readonly node: GossipNode;
  readonly #core: RingCore;
  readonly #queues = new Set<PartitionEventQueue>();
  #wake: { atMs: number; timer: NodeJS.Timeout } | undefined;
  readonly #claims = new Set<{ partition: number; resolve: (lease: Lease) => void; reject: (err: unknown) => void }>();
  readonly #leases = new Map<number, AbortController>();
  #userTags: Tags;
  #tagTimer: NodeJS.Timeout | undefined;
  #draining = false;
  readonly #handoffTimeoutMs: number;
  /** Owner name lists (shared, frozen, from the table) → the same owners as members. */
  #asMembers = new WeakMap<readonly string[], readonly Member[]>();
  #known: Map<string, Member> | undefined;
  #closed = false;

  private constructor(node: GossipNode, core: RingCore, handoffTimeoutMs: number) {
    super();
    this.node = node;
    this.#core = core;
    this.#handoffTimeoutMs = handoffTimeoutMs;
    this.#userTags = withoutRingTags(node.tags);
    for (const m of node.members()) this.#run(core.apply(m, false, performance.now(), false)); // no consumer yet
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
    const {
      join,
      joinRetry,
      joining,
      watchTags,
      partitions,
      replicas,
      hash,
      placement,
      zoneTag,
      weightTag,
      signal,
      keyring,
      ...nodeOptions
    } = options;
    if (keyring !== undefined && nodeOptions.encrypt !== undefined)
      throw invalidOption('keyring', 'absent when encrypt is given (they are the same option)', keyring);
    if (keyring !== undefined) nodeOptions.encrypt = keyring;
    // Rings materialize per-partition state (tables, event queues): P is bounded below the partitioner's.
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_RING_PARTITIONS) {
      throw invalidOption('partitions', `an integer in [1, ${MAX_RING_PARTITIONS}]`, partitions);
    }
    const placementTags = placementTagOptions(zoneTag, weightTag, placement);
    const partitionOptions = {
      ...resolvePartitionOptions({
        partitions,
        ...(replicas !== undefined ? { replicas } : {}),
        ...(hash ? { hash } : {}),
        ...(placement ? { placement } : {}),
        ...(placementTags.zoneTag !== undefined || placementTags.weightTag !== undefined ? { placement: 'rendezvous' as const } : {}),
      }),
      ...placementTags,
    };
    const filter = compileWatchTags(watchTags);
    const { handoff = false, handoffTimeoutMs, retryDelayMs, ...gossipOptions } = nodeOptions;
    if (typeof handoff !== 'boolean') throw invalidOption('handoff', 'a boolean', handoff);
    const timeouts = {
      handoffTimeoutMs: durationOption('handoffTimeoutMs', handoffTimeoutMs, 60_000),
      retryDelayMs: durationOption('retryDelayMs', retryDelayMs, 5000),
    };
    if (join !== undefined && (!Array.isArray(join) || join.some((s) => typeof s !== 'string')))
      throw invalidOption('join', 'an array of host:port strings', join);
    if (joining !== undefined && typeof joining !== 'boolean') throw invalidOption('joining', 'a boolean', joining);
    const seeded = joining === true || (join !== undefined && join.length > 0);
    signal?.throwIfAborted();
    // With handoff we start out serving nothing, and say so from the first gossip on (a member
    // without the tag would read as one without handoff: ready for all it holds).
    if (handoff) roomForReadiness(gossipOptions.tags ?? {});
    const tags = handoff ? { ...(gossipOptions.tags ?? {}), [READY_TAG]: notReadyYet(partitionOptions) } : gossipOptions.tags;
    const node = await GossipNode.create({ ...gossipOptions, ...(tags ? { tags } : {}) });
    const ring = new Ring(
      node,
      new RingCore({ local: gossipOptions.name, partitions: partitionOptions, filter, handoff, joining: seeded, ...timeouts }),
      timeouts.handoffTimeoutMs,
    );
    if (join && join.length > 0) {
      try {
        await ring.join(join, { ...(signal ? { signal } : {}), ...(joinRetry !== undefined ? { retry: joinRetry } : {}) });
      } catch (err) {
        await ring.close();
        throw err;
      }
    }
    return ring;
  }

  /**
   * Joins through `seeds` (see GossipNode.join: one round unless `retry`, rejecting with a
   * JoinError saying why no seed answered) and resolves with the number that answered. A ring started with
   * seeds (`join` or `joining`) owns nothing until this completes; then, with every member the
   * state exchange brought in, it takes its share at once: acquires only, each `from` the member
   * that held the partition before. If it rejects, nothing was emitted and the ring still owns
   * nothing (call it again, or close). On a ring that already owns its share (the first member
   * of a cluster) it only joins the node.
   */
  async join(seeds: readonly string[], options: JoinOptions = {}): Promise<number> {
    const answered = await this.node.join(seeds, options);
    // The member events of the state exchange were applied before the join resolved.
    if (!this.#closed) this.#run(this.#core.admit(performance.now(), this.#queues.size > 0));
    return answered;
  }

  /** The local member's name. */
  get name(): string {
    return this.#core.view.local;
  }

  /** True until the join of a ring started with seeds completes: it owns nothing meanwhile. */
  get joining(): boolean {
    return this.#core.joining;
  }

  /** Whether this ring runs the handoff protocol. */
  get handoff(): boolean {
    return this.#core.handoff;
  }

  /** The local member, as the cluster sees it. */
  get local(): Member {
    return this.node.members().find((m) => m.name === this.#core.view.local)!;
  }

  /** The current partition table (immutable; replaced on every ring change). */
  get table(): PartitionTable {
    return this.#core.table;
  }

  /** Identifies the table: equal on every member whose view agrees. */
  get checksum(): string {
    return this.#core.table.checksum;
  }

  partitionForKey(key: Key): number {
    return this.#core.table.partitionForKey(key);
  }

  /**
   * Owners of the key's partition, primary first: a frozen array shared between calls. With
   * `{ ready: true }`, the members that can serve it now, best first: ready owners in replica
   * order, then members still handing it over.
   */
  membersForKey(key: Key, options?: { ready?: boolean }): readonly Member[] {
    return this.membersForPartition(this.#core.table.partitionForKey(key), options);
  }

  membersForPartition(partition: number, options?: { ready?: boolean }): readonly Member[] {
    if (options?.ready) return this.#members(this.#core.readyHolders(partition));
    return this.#members(this.#core.table.membersForPartition(partition));
  }

  /** With handoff: the application has loaded `partition` and can serve it. */
  ready(partition: number): void {
    this.#checkPartition(partition);
    this.#run(this.#core.markReady(partition, performance.now()));
  }

  /**
   * With handoff: the local handler for `partition` broke. We stop claiming it at once (routing
   * fails over to the next ready holder), and an `acquire` for it comes again after retryDelayMs.
   */
  reportFailed(partition: number): void {
    this.#checkPartition(partition);
    this.#run(this.#core.reportFailed(partition, performance.now()));
  }

  /**
   * Resolves when the local member is the ready primary of the key's (or this) partition, with
   * a lease whose signal aborts when it stops being so. See the README for what this can and
   * cannot guarantee without a central store.
   */
  claim(keyOrPartition: Key | number, options: { signal?: AbortSignal } = {}): Promise<Lease> {
    const partition = typeof keyOrPartition === 'number' ? keyOrPartition : this.partitionForKey(keyOrPartition);
    this.#checkPartition(partition);
    options.signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const claim = { partition, resolve, reject };
      this.#claims.add(claim);
      options.signal?.addEventListener('abort', () => this.#claims.delete(claim) && reject(options.signal!.reason), { once: true });
      this.#checkClaims();
    });
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
    return ownershipOf(this.#core.table, this.#core.view.local);
  }

  /**
   * The local member's ownership changes, in order per partition: first acquires describing
   * what it holds now (nothing while it is joining; each `from` the member that held the
   * partition before it joined, if still there), then every change. Bounded (one pending entry per partition); ends when
   * the signal aborts, the loop breaks, or the ring closes. Hands out at most EVENTS_PER_TURN
   * events between two turns of the event loop.
   */
  async *events(options: { signal?: AbortSignal } = {}): AsyncGenerator<OwnershipChange, void, undefined> {
    const { signal } = options;
    signal?.throwIfAborted();
    const partitions = this.#core.table.partitions;
    const queue = new PartitionEventQueue(partitions);
    this.#queues.add(queue);
    const stop = () => queue.interrupt();
    signal?.addEventListener('abort', stop, { once: true });
    // The initial holdings are read in steps from the table current at each step; changes that
    // come meanwhile fold into the same per-partition entries, so the net result is exact.
    let scanned = 0;
    let work = 0;
    let turnAt = performance.now();
    try {
      while (!this.#closed && !signal?.aborted) {
        if (work >= EVENTS_PER_TURN || (work > 0 && work % SCAN_WORK === 0 && performance.now() - turnAt >= MS_PER_TURN)) {
          await nextTurn();
          work = 0;
          turnAt = performance.now();
          continue;
        }
        if (scanned < partitions && queue.size < EVENTS_PER_TURN) {
          const to = Math.min(partitions, scanned + SCAN_STEP);
          this.#scanHoldings(queue, scanned, to);
          scanned = to;
          work += SCAN_WORK;
        }
        const next = queue.take();
        if (next) {
          work++;
          yield next;
          continue;
        }
        if (scanned < partitions) continue;
        await queue.wait();
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      this.#queues.delete(queue);
    }
  }

  /** Queues an acquire for every partition in [from, to) the local member holds now, from whom it took it. */
  #scanHoldings(queue: PartitionEventQueue, from: number, to: number): void {
    const table = this.#core.table;
    const local = this.#core.view.local;
    if (!table.hasMember(local)) return;
    for (let p = from; p < to; p++) {
      const replica = table.membersForPartition(p).indexOf(local);
      if (replica >= 0) queue.pushAcquire(p, replica, this.#core.sourceOf(p));
    }
  }

  /** Replaces our tags (the readiness tag is kept; with handoff, leave it 179 bytes of room). */
  setTags(tags: Tags): void {
    if (this.#core.handoff) roomForReadiness(tags);
    const before = this.#userTags;
    this.#userTags = { ...tags };
    try {
      this.#publishTags();
    } catch (err) {
      this.#userTags = before;
      throw err;
    }
  }

  /**
   * Graceful. With handoff we first drain: a tag takes us out of the ring, the others take our
   * partitions over, and we keep serving them until their new holders are ready (bounded by
   * handoffTimeoutMs and the signal). Then our leave is gossiped and we close.
   */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#core.handoff && !this.#closed) {
      this.#draining = true;
      this.#publishTags();
      const deadline = performance.now() + this.#handoffTimeoutMs;
      while (this.#core.retaining > 0 || this.#core.table.hasMember(this.#core.view.local)) {
        if (this.#closed || options.signal?.aborted || performance.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
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
    clearTimeout(this.#wake?.timer);
    clearTimeout(this.#tagTimer);
    for (const q of this.#queues) q.interrupt();
    for (const c of this.#claims) c.reject(new Error('the ring was closed'));
    this.#claims.clear();
    for (const l of this.#leases.values()) l.abort(new Error('the ring was closed'));
  }

  #apply(m: Member, removed: boolean): void {
    // Member data (address, tags) may have changed: rebuild the owner → member lists lazily.
    this.#asMembers = new WeakMap();
    this.#known = undefined;
    if (m.name === this.#core.view.local) return; // our own state is the core's
    this.#run(this.#core.apply(m, removed, performance.now(), this.#queues.size > 0));
  }

  /** Carries out what the core asks for. */
  #run(outputs: CoreOutput[]): void {
    for (const o of outputs) {
      if (o.kind === 'change') for (const q of this.#queues) q.push(o.change);
      else if (o.kind === 'retry') for (const q of this.#queues) q.retry(o.change);
      else if (o.kind === 'tag') this.#scheduleTags();
      else this.#wakeAt(o.atMs);
    }
    this.#checkClaims();
  }

  /** One timer, at the earliest time the core asked for (it asks again after each tick). */
  #wakeAt(atMs: number): void {
    if (this.#closed || (this.#wake !== undefined && this.#wake.atMs <= atMs)) return;
    if (this.#wake) clearTimeout(this.#wake.timer);
    const timer = setTimeout(
      () => {
        this.#wake = undefined;
        if (!this.#closed) this.#run(this.#core.tick(performance.now()));
      },
      Math.max(0, atMs - performance.now()),
    );
    timer.unref(); // the node's sockets keep the process alive, not our bookkeeping
    this.#wake = { atMs, timer };
  }

  #scheduleTags(): void {
    if (this.#tagTimer !== undefined || this.#closed) return;
    this.#tagTimer = setTimeout(() => {
      this.#tagTimer = undefined;
      this.#publishTags();
    }, TAG_DEBOUNCE_MS);
    this.#tagTimer.unref();
  }

  #publishTags(): void {
    if (this.#closed) return;
    const tag = this.#core.tag;
    const tags: Record<string, string> = tag === undefined ? { ...this.#userTags } : { ...this.#userTags, [READY_TAG]: tag };
    if (this.#draining) tags[DRAIN_TAG] = '1';
    this.node.setTags(tags);
    this.#asMembers = new WeakMap(); // our own member record changed
    this.#known = undefined;
    // Our own tags decide whether we are in the ring (watchTags): the core sees them too.
    this.#run(this.#core.apply(this.local, false, performance.now(), this.#queues.size > 0));
  }

  #checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.#core.table.partitions) {
      throw invalidArgument('partition', `an integer in [0, ${this.#core.table.partitions - 1}]`, partition);
    }
  }

  /** Resolves claims that now hold; aborts leases that no longer do. */
  #checkClaims(): void {
    const local = this.#core.view.local;
    const readyPrimary = (p: number) => this.#core.table.membersForPartition(p)[0] === local && this.#core.isReady(local, p);
    for (const [p, lease] of this.#leases) {
      if (readyPrimary(p) && !this.#closed) continue;
      this.#leases.delete(p);
      lease.abort(new Error(`no longer the ready primary of partition ${p}`));
    }
    for (const c of this.#claims) {
      if (!readyPrimary(c.partition)) continue;
      this.#claims.delete(c);
      let lease = this.#leases.get(c.partition);
      if (!lease) this.#leases.set(c.partition, (lease = new AbortController()));
      c.resolve({ partition: c.partition, signal: lease.signal });
    }
  }

  #members(names: readonly string[]): readonly Member[] {
    if (names.length === 0) return NONE;
    let list = this.#asMembers.get(names);
    if (list === undefined) {
      // One member map per ring change, shared by every owner list built until the next one.
      this.#known ??= new Map(this.node.members().map((m) => [m.name, m]));
      const known = this.#known;
      list = Object.freeze(names.map((n) => known.get(n)).filter((m) => m !== undefined));
      this.#asMembers.set(names, list);
    }
    return list;
  }
}

/** See Ring.create. */
export function createRing(options: RingOptions): Promise<Ring> {
  return Ring.create(options);
}
