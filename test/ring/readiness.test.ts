// The handoff tag: round trips, bounds, malformed values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError } from '../../src/gossip/codec/msgpack.js';
import { MAX_READY_TAG_CHARS, decodeReadiness, encodeReadiness, isReadyAt } from '../../src/ring/readiness.js';

const A = 'aaaaaaaa11111111';
const B = 'bbbbbbbb22222222';

describe('readiness tag', () => {
  it('round-trips which held and retained partitions serve', () => {
    const held = [true, true, false, false, true, false];
    const retained = [false, true];
    const r = decodeReadiness(encodeReadiness(A, B, held, retained));
    assert.deepEqual([r.from, r.to], ['aaaaaaaa', 'bbbbbbbb']);
    assert.deepEqual(
      held.map((_, i) => isReadyAt(r.held, i)),
      held,
    );
    assert.deepEqual(
      retained.map((_, i) => isReadyAt(r.retained, i)),
      retained,
    );
    assert.equal(isReadyAt(r.held, -1), false, 'not in the list');
    assert.equal(encodeReadiness(A, A, [true, true], []), 'aaaaaaaa.aaaaaaaa..', 'all ready is empty runs');
  });

  it('stays within its bound: too many runs collapse to "serves none"', () => {
    const alternating = Array.from({ length: 2000 }, (_, i) => i % 2 === 0);
    const value = encodeReadiness(A, B, alternating, alternating);
    assert.ok(value.length <= MAX_READY_TAG_CHARS, `${value.length} chars`);
    const r = decodeReadiness(value);
    assert.ok(alternating.every((_, i) => !isReadyAt(r.held, i)));
  });

  it('malformed values are DecodeErrors', () => {
    for (const bad of [
      '',
      'x',
      'aaaaaaaa.bbbbbbbb.',
      'aaaa.bbbbbbbb..',
      'aaaaaaaa.bbbbbbbb.gICA.',
      `aaaaaaaa.bbbbbbbb.${'A'.repeat(200)}.`,
    ]) {
      assert.throws(() => decodeReadiness(bad), DecodeError, bad);
    }
  });
});
