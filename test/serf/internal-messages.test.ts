// The payloads of Serf's internal queries (src/serf/internal-messages.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeConflictResponse,
  decodeKeyRequest,
  decodeKeyResponse,
  decodeRelay,
  encodeConflictResponse,
  encodeKeyRequest,
  encodeKeyResponse,
  encodeRelay,
} from '../../src/serf/internal-messages.js';
import { decodeQueryResponse, encodeQueryResponse } from '../../src/serf/messages.js';
import { text } from './helpers.js';

describe('internal query payloads', () => {
  it('conflict answers, key requests and responses, relays round-trip', () => {
    const member = {
      name: 'x',
      addr: Uint8Array.from([10, 0, 0, 9]),
      port: 7000,
      tags: { a: 'b' },
      status: 1,
      vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
    };
    assert.deepEqual(decodeConflictResponse(encodeConflictResponse(member)), { addr: member.addr, port: 7000 });
    assert.equal(decodeConflictResponse(encodeConflictResponse(null)), null);
    assert.deepEqual(decodeKeyRequest(encodeKeyRequest(Uint8Array.from([1, 2, 3]))), Uint8Array.from([1, 2, 3]));
    assert.deepEqual(decodeKeyRequest(new Uint8Array(0)), new Uint8Array(0));
    const response = { result: true, message: '', keys: ['k1', 'k2'], primaryKey: 'k1' };
    assert.deepEqual(decodeKeyResponse(encodeKeyResponse(response)), response);
    const inner = encodeQueryResponse({ ltime: 4n, id: 9, from: 'r', flags: 0, payload: text('hi') });
    const relay = decodeRelay(encodeRelay(Uint8Array.from([127, 0, 0, 1]), 7946, 'asker', inner).subarray(1));
    assert.deepEqual(
      { ...relay, inner: decodeQueryResponse(relay.inner.subarray(1)) },
      { addr: Uint8Array.from([127, 0, 0, 1]), port: 7946, inner: { ltime: 4n, id: 9, from: 'r', flags: 0, payload: text('hi') } },
    );
  });
});
