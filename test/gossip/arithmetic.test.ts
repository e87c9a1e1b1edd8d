import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey, ipToBytes, ipToString } from '../../src/gossip/address.js';
import { Awareness } from '../../src/gossip/awareness.js';
import { BroadcastQueue } from '../../src/gossip/broadcast-queue.js';
import { PROFILES, pushPullIntervalMs, resolveGossipConfig, retransmitLimit } from '../../src/gossip/config.js';
import { confirmationsWanted, suspicionMinMs, suspicionTimeoutMs } from '../../src/gossip/suspicion.js';

// docs/protocol.md#dynamic-suspicion
describe('suspicion arithmetic', () => {
  const minCases: [number, number, number, number][] = [
    // suspicionMult, n, probeInterval, expected min
    [4, 1, 1000, 4000],
    [4, 10, 1000, 4000],
    [4, 100, 1000, 8000],
    [4, 1000, 1000, 12000],
    [6, 100, 5000, 60000],
  ];
  for (const [mult, n, interval, expected] of minCases) {
    it(`min(${mult}, n=${n}, ${interval} ms) = ${expected} ms`, () => assert.equal(suspicionMinMs(mult, n, interval), expected));
  }
  it('confirmations wanted: SuspicionMult − 2, or 0 when n − 2 is smaller', () => {
    assert.deepEqual(
      [3, 4, 5, 10].map((n) => confirmationsWanted(4, n)),
      [0, 2, 2, 2],
    );
    assert.equal(confirmationsWanted(6, 10), 4);
  });
  it('the timeout falls from max to min logarithmically in the confirmations', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((c) => suspicionTimeoutMs(4000, 24000, 2, c)),
      [24000, 11381, 4000, 4000],
    );
    assert.equal(suspicionTimeoutMs(4000, 24000, 0, 0), 4000, 'k = 0: the minimum');
  });
});

// docs/protocol.md#local-health-awareness
describe('awareness', () => {
  it('stays in [0, max − 1] and stretches intervals by score + 1', () => {
    const a = new Awareness(8);
    a.apply(-1);
    assert.equal(a.score, 0);
    a.apply(3);
    assert.equal(a.scale(1000), 4000);
    a.apply(100);
    assert.equal(a.score, 7);
    assert.equal(a.scale(500), 4000);
  });
});

// docs/protocol.md#gossip-and-retransmission
describe('broadcast queue', () => {
  const msg = (n: number, size = 10) => new Uint8Array(size).fill(n);
  it('sends the least transmitted first, then the newest; drops after the limit', () => {
    const q = new BroadcastQueue(100);
    q.queue({ key: null, bytes: msg(1, 10) });
    q.queue({ key: null, bytes: msg(2, 20) });
    q.queue({ key: null, bytes: msg(3, 10) });
    assert.deepEqual(
      q.take(2, 1000, 2).map((b) => b[0]),
      [3, 2, 1],
    );
    q.queue({ key: null, bytes: msg(4, 5) });
    assert.deepEqual(
      q.take(2, 1000, 2).map((b) => b[0]),
      [4, 3, 2, 1],
    );
    assert.deepEqual(
      q.take(2, 1000, 2).map((b) => b[0]),
      [4],
    );
    assert.equal(q.length, 0);
  });

  it('skips what does not fit and keeps it for a later packet', () => {
    const q = new BroadcastQueue(100);
    q.queue({ key: null, bytes: msg(1, 50) });
    q.queue({ key: null, bytes: msg(2, 500) });
    q.queue({ key: null, bytes: msg(3, 50) });
    assert.deepEqual(
      q.take(2, 200, 9).map((b) => b[0]),
      [3, 1],
    );
    assert.deepEqual(
      q.take(2, 600, 9).map((b) => b[0]),
      [2, 3],
    );
  });
  it('fits the budget, counting the per-message overhead', () => {
    const q = new BroadcastQueue(100);
    for (let i = 0; i < 5; i++) q.queue({ key: null, bytes: msg(i, 100) });
    assert.equal(q.take(2, 305, 9).length, 2);
  });
  it('newer news about a member replaces older; the depth bound drops the most transmitted, counted', () => {
    const reasons: string[] = [];
    const q = new BroadcastQueue(2);
    q.queue({ key: 'a', bytes: msg(1), done: (r) => reasons.push(`a1:${r}`) });
    q.queue({ key: 'a', bytes: msg(2), done: (r) => reasons.push(`a2:${r}`) });
    assert.equal(q.length, 1);
    q.take(2, 1000, 9);
    q.queue({ key: 'b', bytes: msg(3) });
    q.queue({ key: 'c', bytes: msg(4) });
    assert.deepEqual(reasons, ['a1:replaced', 'a2:dropped']);
    assert.equal(q.dropped, 1);
  });
});

// docs/protocol.md#timers-and-parameters
describe('profiles and limits', () => {
  it('LAN is memberlist DefaultLANConfig as the Serf agent uses it', () => {
    const lan = PROFILES.lan;
    assert.deepEqual(
      [
        lan.probeIntervalMs,
        lan.probeTimeoutMs,
        lan.indirectChecks,
        lan.retransmitMult,
        lan.suspicionMult,
        lan.suspicionMaxTimeoutMult,
        lan.pushPullIntervalMs,
        lan.gossipIntervalMs,
        lan.gossipNodes,
        lan.gossipToTheDeadMs,
        lan.awarenessMaxMultiplier,
        lan.udpBufferBytes,
      ],
      [1000, 500, 3, 4, 4, 6, 30000, 200, 3, 30000, 8, 1400],
    );
    assert.deepEqual(
      [PROFILES.wan.probeIntervalMs, PROFILES.wan.suspicionMult, PROFILES.local.probeTimeoutMs, PROFILES.local.indirectChecks],
      [5000, 6, 200, 1],
    );
  });
  it('retransmit limit and push/pull scaling follow the cluster size', () => {
    const lan = PROFILES.lan;
    assert.deepEqual(
      [1, 9, 10, 99, 100].map((n) => retransmitLimit(lan, n)),
      [4, 4, 8, 8, 12],
    );
    assert.deepEqual(
      [32, 33, 64, 65, 1000].map((n) => pushPullIntervalMs(lan, n)),
      [30000, 60000, 60000, 90000, 180000],
    );
  });
  it('validates overrides with ERR_INVALID_OPTION naming the option', () => {
    assert.throws(() => resolveGossipConfig('lan', { probeIntervalMs: 0 }), {
      code: 'ERR_INVALID_OPTION',
      message: /^probeIntervalMs must be an integer in \[1, 3600000\]/,
    });
    assert.throws(() => resolveGossipConfig('lan', { lifeguard: 'yes' as never }), {
      code: 'ERR_INVALID_OPTION',
      message: /^lifeguard must be a boolean/,
    });
    assert.throws(() => resolveGossipConfig('lan', { probeTimeoutMs: 2000 }), {
      message: /^probeTimeoutMs must be at most probeIntervalMs/,
    });
    assert.throws(() => resolveGossipConfig('moon' as never), { message: /^profile must be one of lan, wan, local/ });
    assert.throws(() => resolveGossipConfig('lan', { nonsense: 1 } as never), { message: /^nonsense must be a known gossip option/ });
  });
});

describe('addresses', () => {
  it('IPv4 as 4 bytes, IPv6 as 16, IPv4-mapped shown as IPv4', () => {
    assert.deepEqual(ipToBytes('127.0.0.1'), Uint8Array.from([127, 0, 0, 1]));
    assert.equal(ipToString(Uint8Array.from([127, 0, 0, 1])), '127.0.0.1');
    assert.equal(ipToString(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3])), '10.1.2.3');
    assert.equal(ipToString(ipToBytes('fe80::1')!), 'fe80::1');
    assert.equal(ipToBytes('300.1.1.1'), null);
    assert.equal(ipToString(Uint8Array.from([1, 2, 3])), '');
    assert.equal(addressKey({ host: '10.0.0.1', port: 7946 }), '10.0.0.1:7946');
  });
});
