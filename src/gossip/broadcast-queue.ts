/**
 * Transmit-limited broadcast queue (wire reference §9.5). Each message goes out with up to
 * `limit` packets; selection favours the fewest transmits, then larger messages, then newer.
 * Messages keyed by member name replace queued news about the same member. The depth is
 * bounded: past it the most transmitted (then oldest) messages are dropped, and counted.
 *
 * Entries are kept in selection order, so taking is a scan from the front and a re-insert of
 * what was sent (binary search), never a full sort.
 */
export interface Broadcast {
  /** Member name for membership news (newer replaces older); null for messages never replaced. */
  readonly key: string | null;
  readonly bytes: Uint8Array;
  /** Called once, when the message leaves the queue (sent enough, replaced or dropped). */
  readonly done?: (reason: 'sent' | 'replaced' | 'dropped') => void;
}

interface Entry {
  broadcast: Broadcast;
  transmits: number;
  id: number;
}

/** Selection order: fewer transmits, then larger, then newer. */
function before(a: Entry, b: Entry): boolean {
  if (a.transmits !== b.transmits) return a.transmits < b.transmits;
  const sa = a.broadcast.bytes.length;
  const sb = b.broadcast.bytes.length;
  return sa !== sb ? sa > sb : a.id > b.id;
}

export class BroadcastQueue {
  readonly #entries: Entry[] = [];
  readonly #byKey = new Map<string, Entry>();
  readonly #maxDepth: number;
  #nextId = 0;
  dropped = 0;

  constructor(maxDepth: number) {
    this.#maxDepth = maxDepth;
  }

  get length(): number {
    return this.#entries.length;
  }

  queue(broadcast: Broadcast): void {
    if (broadcast.key !== null) {
      const old = this.#byKey.get(broadcast.key);
      if (old) this.#remove(old, 'replaced');
    }
    const entry: Entry = { broadcast, transmits: 0, id: this.#nextId++ };
    this.#insert(entry);
    if (broadcast.key !== null) this.#byKey.set(broadcast.key, entry);
    if (this.#entries.length > this.#maxDepth) {
      // The last entry has the most transmits (ties: smallest, then oldest).
      this.#remove(this.#entries[this.#entries.length - 1]!, 'dropped');
      this.dropped++;
    }
  }

  /**
   * Takes messages that fit in `budgetBytes`, charging `overheadBytes` per message, and counts
   * a transmit for each; messages that reach `limit` transmits leave the queue.
   */
  take(overheadBytes: number, budgetBytes: number, limit: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const sent: Entry[] = [];
    let free = budgetBytes;
    for (const e of this.#entries) {
      if (free <= overheadBytes) break;
      const cost = e.broadcast.bytes.length + overheadBytes;
      if (cost > free) continue;
      free -= cost;
      out.push(e.broadcast.bytes);
      sent.push(e);
      if (out.length >= 255) break; // a compound holds at most 255 messages
    }
    for (const e of sent) {
      this.#unlink(e);
      e.transmits++;
      if (e.transmits >= limit) {
        if (e.broadcast.key !== null && this.#byKey.get(e.broadcast.key) === e) this.#byKey.delete(e.broadcast.key);
        e.broadcast.done?.('sent');
      } else {
        this.#insert(e);
      }
    }
    return out;
  }

  /** Whether a keyed message is still waiting. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  #insert(entry: Entry): void {
    const a = this.#entries;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(a[mid]!, entry)) lo = mid + 1;
      else hi = mid;
    }
    a.splice(lo, 0, entry);
  }

  #unlink(entry: Entry): void {
    const a = this.#entries;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(a[mid]!, entry)) lo = mid + 1;
      else hi = mid;
    }
    if (a[lo] === entry) a.splice(lo, 1);
    else a.splice(a.indexOf(entry), 1);
  }

  #remove(entry: Entry, reason: 'sent' | 'replaced' | 'dropped'): void {
    this.#unlink(entry);
    const key = entry.broadcast.key;
    if (key !== null && this.#byKey.get(key) === entry) this.#byKey.delete(key);
    entry.broadcast.done?.(reason);
  }
}
