// User-event coalescing (src/serf/coalesce.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserEventCoalescer } from '../../src/serf/coalesce.js';
import { text } from './helpers.js';

describe('user event coalescing', () => {
  it('keeps the newest of each name (all events at that time) and is due at first + period or last + quiet', () => {
    const c = new UserEventCoalescer();
    const e = (name: string, ltime: bigint, p: string) => ({ name, ltime, payload: text(p), coalesce: true });
    c.add(e('a', 1n, 'old'), 0);
    c.add(e('a', 2n, 'new'), 100);
    c.add(e('a', 2n, 'new too'), 150);
    c.add(e('b', 1n, 'b'), 200);
    c.add(e('a', 1n, 'stale'), 250);
    assert.equal(c.dueAtMs(1000, 100), 350);
    assert.equal(c.dueAtMs(300, 1000), 300);
    assert.deepEqual(
      c.flush().map((x) => `${x.name}:${Buffer.from(x.payload).toString()}`),
      ['a:new', 'a:new too', 'b:b'],
    );
    assert.equal(c.dueAtMs(1, 1), null);
  });
});
