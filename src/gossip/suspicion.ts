/**
 * Lifeguard dynamic suspicion, as memberlist's suspicion.go (docs/protocol.md#dynamic-suspicion).
 * A suspicion starts at its maximum timeout and shrinks toward the minimum as independent
 * confirmations (suspects from distinct accusers) arrive:
 * timeout(c) = max − (ln(c + 1) / ln(k + 1)) × (max − min), never below min.
 */

/** min = SuspicionMult × max(1, log10(max(1, n))) × ProbeInterval. */
export function suspicionMinMs(suspicionMult: number, nodes: number, probeIntervalMs: number): number {
  return suspicionMult * Math.max(1, Math.log10(Math.max(1, nodes))) * probeIntervalMs;
}

/** Confirmations needed to reach the minimum: SuspicionMult − 2, or 0 when n − 2 < that. */
export function confirmationsWanted(suspicionMult: number, nodes: number): number {
  const k = suspicionMult - 2;
  return nodes - 2 < k ? 0 : k;
}

export function suspicionTimeoutMs(minMs: number, maxMs: number, k: number, confirmations: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}

export class Suspicion {
  readonly startMs: number;
  readonly #min: number;
  readonly #max: number;
  readonly #k: number;
  readonly #accusers = new Set<string>();
  /**
   * Identifies the current deadline: the owner gives each suspicion, and each change of its
   * deadline, a token unique across all suspicions, so a stale timer is recognised.
   */
  token: number;

  constructor(token: number, startMs: number, minMs: number, maxMs: number, k: number, firstAccuser: string) {
    this.token = token;
    this.startMs = startMs;
    this.#min = minMs;
    this.#max = maxMs;
    this.#k = k;
    this.#accusers.add(firstAccuser);
  }

  get confirmations(): number {
    return this.#accusers.size - 1;
  }

  /** When the suspect is declared dead, as it stands. */
  get deadlineMs(): number {
    const timeout = this.#k < 1 ? this.#min : suspicionTimeoutMs(this.#min, this.#max, this.#k, this.confirmations);
    return this.startMs + timeout;
  }

  get initialTimeoutMs(): number {
    return this.#k < 1 ? this.#min : this.#max;
  }

  /** A suspect message from `accuser`: true if it is a new confirmation (then re-gossip it). */
  confirm(accuser: string): boolean {
    if (this.confirmations >= this.#k || this.#accusers.has(accuser)) return false;
    this.#accusers.add(accuser);
    return true;
  }
}
