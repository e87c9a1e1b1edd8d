// Serf's duplicate filter for user events and queries (src/serf/seen-ring.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SEEN_RING_SLOTS, SeenRing } from '../../src/serf/seen-ring.js';

describe('duplicate rings', () => {
  it('a seen ring admits once per LTime and item, refuses what is older than its reach, bounds a slot', () => {
    const ring = new SeenRing<number>((a, b) => a === b);
    assert.equal(ring.admit(5n, 1, 6n), 'new');
    assert.equal(ring.admit(5n, 1, 6n), 'duplicate');
    assert.equal(ring.admit(5n, 2, 6n), 'new');
    assert.equal(ring.admit(5n + BigInt(SEEN_RING_SLOTS), 1, 600n), 'new', 'the slot is reused by a later LTime');
    assert.equal(ring.admit(5n, 3, 600n), 'tooOld');
    for (let i = 0; i < 64; i++) ring.admit(700n, 100 + i, 701n);
    assert.equal(ring.admit(700n, 999, 701n), 'full');
  });
});
