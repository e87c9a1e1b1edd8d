/**
 * Serf's duplicate filters for user events and queries: a ring of 512 slots indexed by LTime
 * mod 512, each holding what was seen at that LTime, so delivery is at most once however often
 * a message arrives.
 *
 * Serf refuses a message older than the clock's reach (LTime < clock − 512) outright. We refuse
 * it only if its slot also holds a newer LTime, the case where a duplicate could no longer be
 * told (a deliberate deviation, invisible on the wire): one forged push/pull can move the clock
 * to 2^64 − 1 without any message at those times, and Serf's rule then drops every real message
 * until the rest of the cluster catches up; with ours, whose slot holds nothing newer, they are
 * still delivered exactly once.
 */
export const SEEN_RING_SLOTS = 512;
/** Distinct messages remembered per LTime; more at one LTime are refused (and counted). */
export const MAX_PER_SLOT = 64;

export type Verdict = 'new' | 'duplicate' | 'tooOld' | 'full';

export class SeenRing<T> {
  readonly #slots: ({ ltime: bigint; items: T[] } | undefined)[] = new Array(SEEN_RING_SLOTS);
  readonly #same: (a: T, b: T) => boolean;

  constructor(same: (a: T, b: T) => boolean) {
    this.#same = same;
  }

  /** Records `item` at `ltime` unless seen; `now` is the clock after witnessing `ltime`. */
  admit(ltime: bigint, item: T, now: bigint): Verdict {
    const reach = BigInt(SEEN_RING_SLOTS);
    const index = Number(ltime % reach);
    let slot = this.#slots[index];
    if (now > reach && ltime < now - reach && slot !== undefined && slot.ltime > ltime) return 'tooOld';
    if (slot !== undefined && slot.ltime === ltime) {
      if (slot.items.some((seen) => this.#same(seen, item))) return 'duplicate';
      if (slot.items.length >= MAX_PER_SLOT) return 'full';
    } else {
      slot = { ltime, items: [] };
      this.#slots[index] = slot;
    }
    slot.items.push(item);
    return 'new';
  }

  /** Every occupied slot in the ring's order (by LTime mod 512), for push/pull. */
  entries(): { ltime: bigint; items: readonly T[] }[] {
    return this.#slots.filter((s): s is { ltime: bigint; items: T[] } => s !== undefined);
  }
}
