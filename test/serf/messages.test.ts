import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32 } from '../../src/gossip/codec/crc32.js';
import { encodeUser } from '../../src/gossip/codec/messages.js';
import { DecodeError, Writer } from '../../src/gossip/codec/msgpack.js';
import {
  QueryFlag,
  decodeJoinIntent,
  decodeLeaveIntent,
  decodeQuery,
  decodeQueryResponse,
  decodeUserEvent,
  encodeJoinIntent,
  encodeLeaveIntent,
  encodeQuery,
  encodeQueryResponse,
  encodeUserEvent,
} from '../../src/serf/messages.js';
import { check } from '../helpers/property.js';

const ascii = (s: string) => Buffer.from(s).toString('hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// docs/protocol.md#serf-message-types
describe('Serf messages', () => {
  it('join and leave intents encode byte for byte like the ones captured from a Go agent', () => {
    // 0c 7a288a53 | 08 | 01 | 82 a5"LTime" 11 a4"Node" a2"n4"
    const join = encodeUser(encodeJoinIntent({ ltime: 0x11n, node: 'n4' }));
    assert.equal(hex(join), `080182a5${ascii('LTime')}11a4${ascii('Node')}a2${ascii('n4')}`);
    assert.equal(crc32(join), 0x7a288a53);
    // 0c 1f90c9bd | 08 | 00 | 83 a5"LTime" 12 a4"Node" a2"n4" a5"Prune" c2
    const leave = encodeUser(encodeLeaveIntent({ ltime: 0x12n, node: 'n4', prune: false }));
    assert.equal(hex(leave), `080083a5${ascii('LTime')}12a4${ascii('Node')}a2${ascii('n4')}a5${ascii('Prune')}c2`);
    assert.equal(crc32(leave), 0x1f90c9bd);
    assert.deepEqual(decodeJoinIntent(join.subarray(2)), { ltime: 0x11n, node: 'n4' });
    assert.deepEqual(decodeLeaveIntent(leave.subarray(2)), { ltime: 0x12n, node: 'n4', prune: false });
  });

  it('a query timeout is a Go time.Duration in nanoseconds (3 s = ce b2 d0 5e 00)', () => {
    const q = encodeQuery({
      ltime: 1n,
      id: 7,
      addr: Uint8Array.from([127, 0, 0, 1]),
      port: 7946,
      sourceNode: 'n1',
      filters: [],
      flags: QueryFlag.ack,
      relayFactor: 0,
      timeoutNs: 3_000_000_000n,
      name: 'hello',
      payload: new TextEncoder().encode('world'),
    });
    assert.ok(hex(q).includes(`a7${ascii('Timeout')}ceb2d05e00`));
    assert.equal(decodeQuery(q.subarray(1)).timeoutNs, 3_000_000_000n);
  });

  it('every message round-trips, 64-bit Lamport times included', () => {
    const ltime = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
    const name = fc.string({ maxLength: 20 });
    const data = fc.uint8Array({ maxLength: 100 });
    check(
      fc.property(
        ltime,
        name,
        data,
        fc.boolean(),
        fc.nat({ max: 0xffffffff }),
        fc.array(data, { maxLength: 3 }),
        (t, n, payload, flag, id, filters) => {
          assert.deepEqual(decodeJoinIntent(encodeJoinIntent({ ltime: t, node: n }).subarray(1)), { ltime: t, node: n });
          assert.deepEqual(decodeLeaveIntent(encodeLeaveIntent({ ltime: t, node: n, prune: flag }).subarray(1)), {
            ltime: t,
            node: n,
            prune: flag,
          });
          assert.deepEqual(decodeUserEvent(encodeUserEvent({ ltime: t, name: n, payload, coalesce: flag }).subarray(1)), {
            ltime: t,
            name: n,
            payload,
            coalesce: flag,
          });
          const q = {
            ltime: t,
            id,
            addr: Uint8Array.from([10, 0, 0, 1]),
            port: 7946,
            sourceNode: n,
            filters,
            flags: 3,
            relayFactor: 2,
            timeoutNs: 5_000_000_000n,
            name: n,
            payload,
          };
          assert.deepEqual(decodeQuery(encodeQuery(q).subarray(1)), q);
          const r = { ltime: t, id, from: n, flags: QueryFlag.ack, payload: flag ? payload : null };
          assert.deepEqual(decodeQueryResponse(encodeQueryResponse(r).subarray(1)), r);
        },
      ),
    );
  });

  it('rejects wrong field types with a DecodeError', () => {
    const bad = new Writer().mapHeader(1).key('LTime').str('soon').finish();
    assert.throws(() => decodeJoinIntent(bad), DecodeError);
    const filters = new Writer().mapHeader(1).key('Filters').int(3).finish();
    assert.throws(() => decodeQuery(filters), DecodeError);
    assert.throws(() => decodeUserEvent(Uint8Array.from([0x93, 1, 2, 3])), DecodeError);
    assert.throws(() => decodeQueryResponse(Uint8Array.from([0x81])), DecodeError);
  });
});
