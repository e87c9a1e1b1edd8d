/**
 * Lifeguard local health awareness, as memberlist's awareness.go
 * (docs/protocol.md#local-health-awareness): a score in [0, max − 1] that rises when this node's
 * probes fail without nacks or when it must refute accusations, and falls on each successful
 * probe. Intervals and timeouts are stretched by (score + 1).
 */
export class Awareness {
  #score = 0;
  readonly #max: number;

  constructor(maxMultiplier: number) {
    this.#max = maxMultiplier;
  }

  get score(): number {
    return this.#score;
  }

  apply(delta: number): void {
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + delta));
  }

  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
