/**
 * The ring's partition events for one consumer, bounded: at most one pending entry per
 * partition. If the consumer falls behind, the changes of a partition are folded into the one
 * net change from what the consumer last saw to what is true now (an acquire then a release
 * cancel out; two promotions are one), so memory never exceeds the partition count and the
 * order of events per partition is kept.
 */
import type { OwnershipChange } from '../partition/diff.js';

export class PartitionEventQueue {
  /** Replica index per partition as the consumer last saw it (absent: not held). */
  readonly #seen = new Map<number, number>();
  /** Partition → the latest change not yet taken, in arrival order of first pending change. */
  readonly #pending = new Map<number, OwnershipChange>();
  #wake: (() => void) | undefined;

  /** `initial`: the holdings the consumer starts from (empty: it gets acquires for all). */
  constructor(initial: ReadonlyMap<number, number> = new Map()) {
    for (const [p, r] of initial) this.#seen.set(p, r);
  }

  get size(): number {
    return this.#pending.size;
  }

  push(change: OwnershipChange): void {
    this.#pending.set(change.partition, change);
    this.#wake?.();
  }

  /** An acquire the consumer must see even if it thinks it holds the partition (a retry). */
  retry(change: OwnershipChange & { type: 'acquire' }): void {
    this.#seen.delete(change.partition);
    this.push(change);
  }

  /** The next net change, or undefined when none is pending. */
  take(): OwnershipChange | undefined {
    for (const [p, latest] of this.#pending) {
      this.#pending.delete(p);
      const net = this.#net(latest);
      if (net) return net;
    }
    return undefined;
  }

  /** Resolves when something is pending (or at once if it already is). */
  wait(): Promise<void> {
    if (this.#pending.size > 0) return Promise.resolve();
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

  /** The change from the consumer's last view to `latest`'s outcome; updates that view. */
  #net(latest: OwnershipChange): OwnershipChange | undefined {
    const p = latest.partition;
    const was = this.#seen.get(p);
    const now = latest.type === 'release' ? undefined : latest.replica;
    if (now === undefined) this.#seen.delete(p);
    else this.#seen.set(p, now);
    if (was === now) return undefined;
    if (was === undefined) return latest.type === 'acquire' ? latest : { type: 'acquire', partition: p, replica: now!, from: null };
    if (now === undefined) return latest.type === 'release' ? { ...latest, replica: was } : latest;
    return { type: now < was ? 'promote' : 'demote', partition: p, replica: now, previousReplica: was };
  }
}
