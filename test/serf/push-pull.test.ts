// Serf's push/pull user state (src/serf/push-pull.ts): its encoding, and Go's as sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, Writer } from '../../src/gossip/codec/msgpack.js';
import { decodeSerfState, encodeSerfState } from '../../src/serf/push-pull.js';
import { SEEN_RING_SLOTS } from '../../src/serf/seen-ring.js';
import { text } from './helpers.js';

// docs/protocol.md#serf-state-exchange
describe('Serf push/pull state', () => {
  it('round-trips, and reads a Go ring of 512 slots that are mostly nil', () => {
    const state = {
      ltime: 7n,
      eventLTime: 3n,
      queryLTime: 2n,
      statusLTimes: new Map([
        ['a', 5n],
        ['b', 2n],
      ]),
      leftMembers: ['b'],
      events: [{ ltime: 2n, events: [{ name: 'deploy', payload: text('v1') }] }],
    };
    const bytes = encodeSerfState(state);
    assert.equal(bytes[0], 2);
    assert.deepEqual(decodeSerfState(bytes.subarray(1)), state);
    // As Go sends it: the whole ring, nil where nothing happened.
    const w = new Writer().mapHeader(6).key('EventLTime').int(4).key('Events').arrayHeader(SEEN_RING_SLOTS);
    for (let i = 0; i < SEEN_RING_SLOTS; i++) {
      if (i === 3) w.mapHeader(2).key('Events').arrayHeader(1).mapHeader(2).key('Name').str('x').key('Payload').nil().key('LTime').int(3);
      else w.nil();
    }
    w.key('LTime').int(9).key('LeftMembers').nil().key('QueryLTime').int(1).key('StatusLTimes').mapHeader(0);
    const go = decodeSerfState(w.finish());
    assert.deepEqual(go.events, [{ ltime: 3n, events: [{ name: 'x', payload: new Uint8Array(0) }] }]);
    assert.equal(go.ltime, 9n);
    assert.deepEqual(go.leftMembers, []);
  });

  it('malformed state is a DecodeError, never another exception', () => {
    for (const bad of [
      Uint8Array.from([0x90]),
      Uint8Array.from([0x81, 0xac, ...text('StatusLTimes'), 0x05]),
      Uint8Array.from([0x81, 0xa6, ...text('Events'), 0x91, 0x05]),
    ]) {
      assert.throws(() => decodeSerfState(bad), DecodeError);
    }
  });
});
