/**
 * A pure state machine's output: the effects it has emitted since the last drain, in order, and
 * the input it dropped, counted by reason. Generic over the effect type so every machine layer
 * (gossip, Serf) keeps its output the same way. A timer is an effect too: `{ type: 'timer',
 * timer, atMs }`, asking the driver to hand `timer` back at `atMs`.
 */

/** The timer an effect union carries in its `{ type: 'timer' }` variant. */
export type TimerOf<E> = E extends { readonly type: 'timer'; readonly timer: infer T; readonly atMs: number } ? T : never;

export class Outbox<E extends { readonly type: string }> {
  /** Dropped input by reason: nothing bad is lost silently. */
  readonly drops: Record<string, number>;
  #effects: E[] = [];

  /** `drops`: the record to count into (a machine may expose it in its own counters). */
  constructor(drops: Record<string, number> = {}) {
    this.drops = drops;
  }

  emit(effect: E): void {
    this.#effects.push(effect);
  }

  /** Asks for `timer` to be handed back at `atMs`. */
  timer(timer: TimerOf<E>, atMs: number): void {
    // E has a timer variant of exactly this shape whenever TimerOf<E> is not never.
    this.emit({ type: 'timer', timer, atMs } as unknown as E);
  }

  drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /** Takes the pending effects, oldest first. */
  drain(): E[] {
    const out = this.#effects;
    this.#effects = [];
    return out;
  }
}
