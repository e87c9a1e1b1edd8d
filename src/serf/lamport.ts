/**
 * Serf's Lamport clocks (docs/protocol.md#lamport-clocks), as Go's uint64 ones: values in
 * [0, 2^64−1], and one past 2^64−1 is 0. Serf keeps three independent clocks: members (join/leave
 * intents), user events, queries. A time from the wire is a uint64; witnessing 2^64−1 wraps the
 * clock to 0, as in Go, so a peer that saw it counts on from 0.
 */
export const MAX_LTIME = 0xffff_ffff_ffff_ffffn;

/** `t + 1` in uint64 arithmetic. */
export function nextLTime(t: bigint): bigint {
  return BigInt.asUintN(64, t + 1n);
}

export class LamportClock {
  /** Serf's Create increments each clock once, so they start at 1. */
  #counter = 1n;

  /** Serf's Time. */
  get time(): bigint {
    return this.#counter;
  }

  /** Serf's Increment: one more (wrapping), returning the new time. */
  increment(): bigint {
    this.#counter = nextLTime(this.#counter);
    return this.#counter;
  }

  /** Serf's Witness: a time at or past ours moves us to one beyond it (wrapping); older ones do nothing. */
  witness(v: bigint): void {
    if (v < this.#counter) return;
    this.#counter = nextLTime(v);
  }
}
