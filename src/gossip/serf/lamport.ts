/**
 * Serf's Lamport clocks (wire reference §10.2): 64-bit, starting at 1. Witnessing a time at or
 * past ours moves us just beyond it; an older time changes nothing. Serf keeps three independent
 * clocks: members (join/leave intents), user events, queries.
 */
export class LamportClock {
  #time = 1n;

  get time(): bigint {
    return this.#time;
  }

  /** The current time, then move on (leave intents, events and queries use this). */
  increment(): bigint {
    const now = this.#time;
    this.#time = now + 1n;
    return now;
  }

  /** Seen `v`: if v >= ours, ours becomes v + 1. */
  witness(v: bigint): void {
    if (v >= this.#time) this.#time = v + 1n;
  }
}
