/**
 * A simulated network between addresses (host:port strings): per-link delay with jitter, loss,
 * duplication, and partitions (a blocked direction between two groups, so asymmetric ones too).
 */
export interface LinkProfile {
  delayMs: number;
  jitterMs: number;
  loss: number;
  duplicate: number;
}

export const DEFAULT_LINK: LinkProfile = { delayMs: 1, jitterMs: 1, loss: 0, duplicate: 0 };

export class SimNetwork {
  link: LinkProfile = { ...DEFAULT_LINK };
  /** Directed blocks: "from→to" address pairs that cannot talk. */
  readonly #blocked = new Set<string>();
  readonly #random: () => number;

  constructor(random: () => number) {
    this.#random = random;
  }

  /** Cuts `a` from `b` (both directions unless `oneWay`). */
  partition(a: readonly string[], b: readonly string[], oneWay = false): void {
    for (const x of a) {
      for (const y of b) {
        this.#blocked.add(`${x}→${y}`);
        if (!oneWay) this.#blocked.add(`${y}→${x}`);
      }
    }
  }

  heal(): void {
    this.#blocked.clear();
  }

  reachable(from: string, to: string): boolean {
    return !this.#blocked.has(`${from}→${to}`);
  }

  /** Delivery delays for one datagram: none if lost, two if duplicated. */
  datagramDelays(from: string, to: string): number[] {
    if (!this.reachable(from, to) || this.#random() < this.link.loss) return [];
    const delays = [this.#delay()];
    if (this.#random() < this.link.duplicate) delays.push(this.#delay());
    return delays;
  }

  /**
   * One-way delay of a stream exchange. TCP retransmits, so nothing is lost, but each lost
   * segment costs a retransmission timeout (1 s, doubling, as for a SYN).
   */
  streamDelay(): number {
    let delay = this.#delay();
    for (let rto = 1000; rto <= 8000 && this.#random() < this.link.loss; rto *= 2) delay += rto;
    return delay;
  }

  #delay(): number {
    return this.link.delayMs + this.#random() * this.link.jitterMs;
  }
}
