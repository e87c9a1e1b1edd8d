/** A virtual clock: one heap of (dueAtMs, seq) events; equal times run in scheduling order. */
interface Event {
  atMs: number;
  seq: number;
  run: () => void;
}

export class VirtualClock {
  nowMs = 0;
  readonly #heap: Event[] = [];
  #seq = 0;

  get pending(): number {
    return this.#heap.length;
  }

  at(atMs: number, run: () => void): void {
    const e: Event = { atMs: Math.max(atMs, this.nowMs), seq: this.#seq++, run };
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  /** Runs the next event; false when there is none due by `untilMs`. */
  step(untilMs: number): boolean {
    const h = this.#heap;
    const top = h[0];
    if (top === undefined || top.atMs > untilMs) return false;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let best = last;
        if (l < h.length && before(h[l]!, best)) {
          m = l;
          best = h[l]!;
        }
        if (r < h.length && before(h[r]!, best)) m = r;
        if (m === i) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    this.nowMs = top.atMs;
    top.run();
    return true;
  }
}

function before(a: Event, b: Event): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
