/**
 * Serf's duplicate filters for user events and queries (wire reference §10.2): a ring of 512
 * slots indexed by LTime mod 512, each holding what was seen at that LTime. A message older than
 * the ring's reach is refused outright, so delivery is at most once however often it arrives.
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
    if (now > reach && ltime < now - reach) return 'tooOld';
    const index = Number(ltime % reach);
    let slot = this.#slots[index];
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

  /** Every occupied slot, for push/pull. */
  entries(): { ltime: bigint; items: readonly T[] }[] {
    return this.#slots.filter((s): s is { ltime: bigint; items: T[] } => s !== undefined);
  }
}
