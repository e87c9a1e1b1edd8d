/**
 * Intents about members we do not know yet (docs/protocol.md#join-and-leave-intents): a join or
 * leave intent can outrun the memberlist alive that introduces its member. Serf keeps the newest
 * intent per node for 5 minutes and applies it when the member shows up. Bounded: beyond `capacity`
 * names the oldest entry is dropped (counted by the caller through the return value).
 */
export type IntentKind = 'join' | 'leave';

export interface Intent {
  readonly kind: IntentKind;
  readonly ltime: bigint;
  readonly atMs: number;
}

export class RecentIntents {
  readonly #byNode = new Map<string, Intent>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#byNode.size;
  }

  get(node: string): Intent | undefined {
    return this.#byNode.get(node);
  }

  /**
   * Keeps the intent if it is newer than the one held for `node`; returns whether it was kept
   * (Serf rebroadcasts only then) and whether an older entry had to be evicted for room.
   */
  upsert(node: string, intent: Intent): { kept: boolean; evicted: boolean } {
    const held = this.#byNode.get(node);
    if (held !== undefined && held.ltime >= intent.ltime) return { kept: false, evicted: false };
    let evicted = false;
    if (held === undefined && this.#byNode.size >= this.#capacity) {
      // Map iteration is insertion order: the first key is the oldest entry.
      const oldest = this.#byNode.keys().next().value;
      if (oldest !== undefined) this.#byNode.delete(oldest);
      evicted = true;
    }
    this.#byNode.delete(node);
    this.#byNode.set(node, intent);
    return { kept: true, evicted };
  }

  delete(node: string): void {
    this.#byNode.delete(node);
  }

  /** Forgets intents older than `maxAgeMs`. */
  expire(nowMs: number, maxAgeMs: number): void {
    for (const [node, intent] of this.#byNode) {
      if (nowMs - intent.atMs > maxAgeMs) this.#byNode.delete(node);
    }
  }
}
