/**
 * The current token of each timer kind. Scheduling a timer takes a fresh token, which makes every
 * earlier timer of that kind stale: when a stale one fires it is ignored, so a pure machine never
 * has to cancel anything. Tokens count up from 1; before the first, 0 is current.
 */
export class TimerTokens<K extends string> {
  readonly #current = new Map<K, number>();

  /** A fresh token for `kind`; from now on only it is current. */
  next(kind: K): number {
    const token = this.current(kind) + 1;
    this.#current.set(kind, token);
    return token;
  }

  current(kind: K): number {
    return this.#current.get(kind) ?? 0;
  }

  isCurrent(kind: K, token: number): boolean {
    return token === this.current(kind);
  }
}
