/**
 * The ring's partition events for one consumer, bounded: at most one pending entry per
 * partition. If the consumer falls behind, the changes of a partition are folded into the one
 * net change from what the consumer last saw to what is true now (an acquire then a release
 * cancel out; two promotions are one), so memory never exceeds the partition count and the
 * order of events per partition is kept.
 *
 * A FIFO of partition ids (a ring buffer) over typed arrays indexed by partition: push and take
 * are O(1) and allocate nothing but the change handed out, whatever the churn. Pending
 * partitions come out in the order of their first pending change.
 */
import type { OwnershipChange } from '../partition/diff.js';
import { MAX_MATERIALIZED_PARTITIONS } from '../partition/options.js';

/** The most partitions a ring takes: its tables and these queues are materialized per partition. */
export const MAX_RING_PARTITIONS = MAX_MATERIALIZED_PARTITIONS;

/** `#pending` codes: nothing pending; the partition is not held; held at replica (code - HELD). */
const NONE = 0;
const NOT_HELD = 1;
const HELD = 2;

export class PartitionEventQueue {
  readonly partitions: number;
  /** Replica index + 1 per partition as the consumer last saw it (0: not held). Allocated on first use. */
  #seen: Uint16Array | undefined;
  /** The outcome of the newest change not yet taken, per partition (codes above). */
  #pending: Uint32Array | undefined;
  /** `from` of a pending acquire or `to` of a pending release, when it names a member. */
  readonly #peers = new Map<number, string>();
  /** Pending partitions, oldest first: a ring buffer whose capacity is a power of two. */
  #fifo = new Uint32Array(16);
  #head = 0;
  #count = 0;
  #wake: (() => void) | undefined;

  /** A consumer that has seen nothing yet: it gets an acquire for whatever it holds. */
  constructor(partitions: number) {
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_RING_PARTITIONS) {
      throw new RangeError(`partitions must be an integer in [1, ${MAX_RING_PARTITIONS}], got ${partitions}`);
    }
    this.partitions = partitions;
  }

  get size(): number {
    return this.#count;
  }

  push(change: OwnershipChange): void {
    const peer = change.type === 'acquire' ? change.from : change.type === 'release' ? change.to : null;
    this.#set(change.partition, change.type === 'release' ? NOT_HELD : HELD + change.replica, peer);
  }

  /** Same as push({ type: 'acquire', partition, replica, from }), without the object. */
  pushAcquire(partition: number, replica: number, from: string | null): void {
    this.#set(partition, HELD + replica, from);
  }

  /** An acquire the consumer must see even if it thinks it holds the partition (a retry). */
  retry(change: OwnershipChange & { type: 'acquire' }): void {
    this.#check(change.partition);
    if (this.#seen) this.#seen[change.partition] = 0;
    this.push(change);
  }

  /** The next net change, or undefined when none is pending. */
  take(): OwnershipChange | undefined {
    const pending = this.#pending;
    const seen = this.#seen;
    if (pending === undefined || seen === undefined) return undefined;
    const mask = this.#fifo.length - 1;
    while (this.#count > 0) {
      const p = this.#fifo[this.#head]!;
      this.#head = (this.#head + 1) & mask;
      this.#count--;
      const code = pending[p]!;
      pending[p] = NONE;
      let peer: string | null = null;
      if (this.#peers.size > 0) {
        peer = this.#peers.get(p) ?? null;
        if (peer !== null) this.#peers.delete(p);
      }
      const was = seen[p]! - 1; // -1: not held
      const now = code === NOT_HELD ? -1 : code - HELD;
      seen[p] = now + 1;
      if (was === now) continue;
      if (was < 0) return { type: 'acquire', partition: p, replica: now, from: peer };
      if (now < 0) return { type: 'release', partition: p, replica: was, to: peer };
      return { type: now < was ? 'promote' : 'demote', partition: p, replica: now, previousReplica: was };
    }
    return undefined;
  }

  /** Resolves when something is pending (or at once if it already is). */
  wait(): Promise<void> {
    if (this.#count > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Stops a wait (the consumer went away). */
  interrupt(): void {
    this.#wake?.();
  }

  #set(partition: number, code: number, peer: string | null): void {
    this.#check(partition);
    this.#seen ??= new Uint16Array(this.partitions);
    const pending = (this.#pending ??= new Uint32Array(this.partitions));
    if (pending[partition] === NONE) this.#enqueue(partition);
    pending[partition] = code;
    // Only acquires and releases name a peer; a later promotion folds it away.
    if (peer !== null) this.#peers.set(partition, peer);
    else if (this.#peers.size > 0) this.#peers.delete(partition);
    this.#wake?.();
  }

  #enqueue(partition: number): void {
    if (this.#count === this.#fifo.length) {
      // Never past P entries (one per partition): double, oldest first at index 0.
      const grown = new Uint32Array(this.#fifo.length * 2);
      const tail = this.#fifo.subarray(this.#head);
      grown.set(tail);
      grown.set(this.#fifo.subarray(0, this.#head), tail.length);
      this.#fifo = grown;
      this.#head = 0;
    }
    this.#fifo[(this.#head + this.#count) & (this.#fifo.length - 1)] = partition;
    this.#count++;
  }

  #check(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new RangeError(`partition must be an integer in [0, ${this.partitions - 1}], got ${partition}`);
    }
  }
}
