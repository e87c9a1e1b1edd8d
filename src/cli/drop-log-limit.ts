/**
 * How many "client dropped" lines the agent writes (Serf RPC and /events clients): at most
 * `perSecond` a second for each kind of drop, so a flood of one kind (malformed frames, say) can neither fill the log nor hide the
 * drops of another kind. Drops past the limit are counted and reported with the next line of
 * their kind.
 */
export type DropKind = 'malformed' | 'budget' | 'deadline' | 'slow' | 'auth' | 'internal' | 'shutdown';

export class DropLogLimit {
  readonly #perSecond: number;
  readonly #kinds = new Map<DropKind, { second: number; logged: number; unlogged: number }>();

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  /** null: do not log this drop; otherwise log it, with the drops of its kind left unlogged since. */
  admit(kind: DropKind, nowMs: number): { unloggedBefore: number } | null {
    const second = Math.floor(nowMs / 1000);
    let k = this.#kinds.get(kind);
    if (k === undefined) this.#kinds.set(kind, (k = { second, logged: 0, unlogged: 0 }));
    if (second !== k.second) {
      k.second = second;
      k.logged = 0;
    }
    if (++k.logged > this.#perSecond) {
      k.unlogged++;
      return null;
    }
    const unloggedBefore = k.unlogged;
    k.unlogged = 0;
    return { unloggedBefore };
  }
}
