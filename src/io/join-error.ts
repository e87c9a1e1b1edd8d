import { SwimringError } from '../errors.js';
import type { StreamFailureReason } from '../gossip/stream-outcome.js';

/** Why one seed (or one address of it) could not be joined. */
export interface JoinFailure {
  /** The seed as given. */
  readonly seed: string;
  /** The `host:port` tried; null when the seed's name did not resolve. */
  readonly address: string | null;
  /**
   * A stable code: a stream failure reason, `resolve` for a name that did not resolve, or `self`
   * for this node's own address (not joined).
   */
  readonly reason: StreamFailureReason | 'resolve' | 'self';
  readonly detail: string;
}

/** No seed could be joined (ERR_JOIN_FAILED): every seed's reason, in the order given. */
export class JoinError extends SwimringError {
  readonly failures: readonly JoinFailure[];
  /** Rounds tried, each over every seed. */
  readonly attempts: number;

  constructor(failures: readonly JoinFailure[], attempts: number) {
    const reasons = failures.map((f) => `${f.address === null || f.address === f.seed ? f.seed : `${f.seed} (${f.address})`}: ${f.detail}`);
    super('ERR_JOIN_FAILED', `could not join any seed${attempts > 1 ? ` in ${attempts} attempts` : ''}: ${reasons.join('; ')}`);
    this.name = 'JoinError';
    this.failures = failures;
    this.attempts = attempts;
  }
}
