/**
 * Serf's user-event coalescing (UserCoalescePeriod / UserQuiescentPeriod): events sent with
 * coalescing allowed are held; of each name only the newest Lamport time survives (all events
 * at that time). The held set is delivered when no event has arrived for the quiescent period,
 * or when the coalesce period has passed since the first held event, whichever comes first.
 */
import type { UserEvent } from './serf-machine.js';

/** Names held at once; a new name beyond it flushes first. */
export const MAX_COALESCED_NAMES = 1024;

export class UserEventCoalescer {
  readonly #latest = new Map<string, { ltime: bigint; events: UserEvent[] }>();
  #firstAtMs: number | null = null;
  #lastAtMs = 0;

  get pending(): boolean {
    return this.#latest.size > 0;
  }

  /** Holds `e`; returns events that must be delivered now (an overflow flush), usually none. */
  add(e: UserEvent, nowMs: number): UserEvent[] {
    const flushed = !this.#latest.has(e.name) && this.#latest.size >= MAX_COALESCED_NAMES ? this.flush() : [];
    const held = this.#latest.get(e.name);
    if (held === undefined || e.ltime > held.ltime) this.#latest.set(e.name, { ltime: e.ltime, events: [e] });
    else if (e.ltime === held.ltime) held.events.push(e);
    this.#firstAtMs ??= nowMs;
    this.#lastAtMs = nowMs;
    return flushed;
  }

  /** When the held events are due: the earlier of first + coalesce and last + quiescent. */
  dueAtMs(coalesceMs: number, quiescentMs: number): number | null {
    if (this.#firstAtMs === null) return null;
    return Math.min(this.#firstAtMs + coalesceMs, this.#lastAtMs + quiescentMs);
  }

  flush(): UserEvent[] {
    const out = [...this.#latest.values()].flatMap((h) => h.events);
    this.#latest.clear();
    this.#firstAtMs = null;
    return out;
  }
}
