/**
 * Transmit-limited broadcast queue, as memberlist's TransmitLimitedQueue
 * (docs/protocol.md#gossip-and-retransmission). Each message goes out with up to `limit` packets;
 * the least transmitted go first and, among equals, the newest. Messages keyed by member name
 * replace queued news about the same member. The depth is bounded: past it the most transmitted
 * (then oldest) message is dropped, and counted.
 *
 * Each message also remembers whom it went to (and who told us): a packet for a member that
 * already has it carries other news instead, so the limited transmits reach distinct members.
 * Such a skip costs no transmit, but `limit` skips end the message too, so one that every
 * member we gossip to has does not linger. Why: in small clusters with memberlist's limits (2 to 8
 * transmits), random targets alone leave a member out of several percent of the news until the
 * next push/pull. The skipping is invisible on the wire.
 *
 * Messages sit in tiers by transmit count, each tier in queue order, so queueing is O(1) and
 * taking k messages is O(k). (memberlist also prefers larger messages among equals, a packing
 * heuristic invisible on the wire; we do not.) Replaced and promoted entries leave tombstones
 * that are compacted away lazily.
 */
const MAX_MISFITS = 32;

export interface Broadcast {
  /** Member name for membership news (newer replaces older); null for messages never replaced. */
  readonly key: string | null;
  readonly bytes: Uint8Array;
  /** addressKey of the member that told us, which has it already; absent for our own news. */
  readonly source?: string;
  /** Called once, when the message leaves the queue (sent enough, replaced or dropped). */
  readonly done?: (reason: 'sent' | 'replaced' | 'dropped') => void;
}

interface Entry {
  readonly broadcast: Broadcast;
  /** Transmits so far, which is also the tier that holds it; -1 once it left the queue. */
  tier: number;
  /** addressKeys of the members (up when told) it was sent to. */
  told: string[] | null;
  /** Packets it stayed out of because their recipient had it. */
  skips: number;
}

/** The member a packet goes to. */
export interface Recipient {
  /** Its addressKey. */
  readonly key: string;
  /** Alive or suspect; a member not up may have missed what it was sent, so is not recorded. */
  readonly up: boolean;
}

export class BroadcastQueue {
  readonly #tiers: Entry[][] = [];
  /** Live entries per tier (the arrays also hold tombstones). */
  readonly #live: number[] = [];
  readonly #byKey = new Map<string, Entry>();
  readonly #maxDepth: number;
  #length = 0;
  /** Live entries not yet sent nor skipped. */
  #untried = 0;
  dropped = 0;

  constructor(maxDepth: number) {
    this.#maxDepth = maxDepth;
  }

  get length(): number {
    return this.#length;
  }

  /** Messages no packet has been filled from yet: neither sent nor skipped for a recipient that had them. */
  get untried(): number {
    return this.#untried;
  }

  queue(broadcast: Broadcast): void {
    if (broadcast.key !== null) {
      const old = this.#byKey.get(broadcast.key);
      if (old) this.#retire(old, 'replaced');
    }
    const entry: Entry = { broadcast, tier: 0, told: null, skips: 0 };
    this.#place(entry, 0);
    if (broadcast.key !== null) this.#byKey.set(broadcast.key, entry);
    if (this.#length > this.#maxDepth) {
      this.#retire(this.#oldestOfHighestTier(), 'dropped');
      this.dropped++;
    }
  }

  /**
   * Takes messages for `to` that fit in `budgetBytes`, charging `overheadBytes` per message, and
   * counts a transmit for each; a message leaves the queue once sent, or skipped because `to`
   * had it, `limit` times.
   */
  take(overheadBytes: number, budgetBytes: number, limit: number, to: Recipient | null = null): Uint8Array[] {
    const out: Uint8Array[] = [];
    const sent: Entry[] = [];
    const everywhere: Entry[] = [];
    let free = budgetBytes;
    // Give up after this many messages in a row that do not fit: the packet is as full as it
    // usefully gets, and a long queue is not scanned for a last small message.
    let misfits = 0;
    for (let t = 0; t < this.#tiers.length && free > overheadBytes && out.length < 255 && misfits < MAX_MISFITS; t++) {
      const tier = this.#tiers[t]!;
      for (let i = tier.length - 1; i >= 0 && free > overheadBytes && out.length < 255 && misfits < MAX_MISFITS; i--) {
        const e = tier[i]!;
        if (e.tier !== t || sent.includes(e)) continue;
        if (to !== null && (e.broadcast.source === to.key || e.told?.includes(to.key))) {
          if (e.tier === 0 && e.skips === 0) this.#untried--;
          if (++e.skips >= limit) everywhere.push(e);
          continue;
        }
        const cost = e.broadcast.bytes.length + overheadBytes;
        if (cost > free) {
          misfits++;
          continue;
        }
        misfits = 0;
        free -= cost;
        out.push(e.broadcast.bytes);
        sent.push(e);
      }
    }
    // Oldest first, so each tier keeps its newest at the end.
    for (const e of sent.reverse()) {
      const next = e.tier + 1;
      this.#unplace(e);
      if (to?.up) (e.told ??= []).push(to.key);
      if (next >= limit) {
        this.#forget(e);
        e.broadcast.done?.('sent');
      } else {
        this.#place(e, next);
      }
    }
    for (const e of everywhere) {
      this.#unplace(e);
      this.#forget(e);
      e.broadcast.done?.('sent');
    }
    return out;
  }

  /** Whether a keyed message is still waiting. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  #place(e: Entry, tier: number): void {
    while (this.#tiers.length <= tier) {
      this.#tiers.push([]);
      this.#live.push(0);
    }
    e.tier = tier;
    if (tier === 0 && e.skips === 0) this.#untried++;
    this.#tiers[tier]!.push(e);
    this.#live[tier]!++;
    this.#length++;
  }

  /** Leaves a tombstone in the entry's tier; compacts the tier when tombstones dominate. */
  #unplace(e: Entry): void {
    const t = e.tier;
    if (t === 0 && e.skips === 0) this.#untried--;
    e.tier = -1;
    this.#live[t]!--;
    this.#length--;
    const tier = this.#tiers[t]!;
    while (tier.length > 0 && tier[tier.length - 1]!.tier !== t) tier.pop();
    if (tier.length > 32 && tier.length > 2 * this.#live[t]!) this.#tiers[t] = tier.filter((x) => x.tier === t);
  }

  #forget(e: Entry): void {
    const key = e.broadcast.key;
    if (key !== null && this.#byKey.get(key) === e) this.#byKey.delete(key);
  }

  #retire(e: Entry, reason: 'replaced' | 'dropped'): void {
    this.#unplace(e);
    this.#forget(e);
    e.broadcast.done?.(reason);
  }

  #oldestOfHighestTier(): Entry {
    for (let t = this.#tiers.length - 1; t >= 0; t--) {
      if (this.#live[t] === 0) continue;
      const found = this.#tiers[t]!.find((x) => x.tier === t);
      if (found) return found;
    }
    throw new Error('unreachable: the queue is over its depth, so it is not empty');
  }
}
