// Intents about members not known yet (src/serf/recent-intents.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentIntents } from '../../src/serf/recent-intents.js';

describe('recent intents', () => {
  it('recent intents keep the newest per node, evict the oldest when full, expire after their timeout', () => {
    const r = new RecentIntents(2);
    assert.deepEqual(r.upsert('a', { kind: 'join', ltime: 3n, atMs: 0 }), { kept: true, evicted: false });
    assert.deepEqual(r.upsert('a', { kind: 'leave', ltime: 2n, atMs: 1 }), { kept: false, evicted: false }, 'older: ignored');
    assert.deepEqual(r.upsert('a', { kind: 'leave', ltime: 4n, atMs: 2 }), { kept: true, evicted: false });
    r.upsert('b', { kind: 'join', ltime: 1n, atMs: 3 });
    assert.deepEqual(r.upsert('c', { kind: 'join', ltime: 1n, atMs: 4 }), { kept: true, evicted: true });
    assert.equal(r.get('a'), undefined, 'the oldest entry went');
    r.expire(1000, 500);
    assert.equal(r.size, 0);
  });
});
