// Dissemination on its own: the eager gossip round, piggy-backing and gossip rounds, over a real
// member table and broadcast queue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeUser } from '../../src/gossip/codec/messages.js';
import { unpackPacket } from '../../src/gossip/codec/packet.js';
import { type GossipConfig, resolveGossipConfig } from '../../src/gossip/config.js';
import { Dissemination } from '../../src/gossip/dissemination.js';
import type { Counters, Effect, TokenTimerKind } from '../../src/gossip/effects.js';
import { ALIVE, DEAD, MemberTable, endpointOf } from '../../src/gossip/members.js';
import { Outbox } from '../../src/gossip/outbox.js';
import { TimerTokens } from '../../src/gossip/timer-tokens.js';
import { seededRandom } from '../../src/sim/prng.js';

const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);

function world(others: number, overrides: Partial<GossipConfig> = {}) {
  const config = resolveGossipConfig('lan', { compression: false, ...overrides });
  const random = seededRandom(3);
  const members = new MemberTable();
  const self = members.insert('me', endpointOf(Uint8Array.from([10, 0, 0, 1]), 7946, Uint8Array.of(), VSN), 0);
  members.setState(self, ALIVE, 1, 0);
  members.enlist(self, random);
  for (let i = 2; i < 2 + others; i++)
    members.setState(members.add(`n${i}`, endpointOf(Uint8Array.from([10, 0, 0, i]), 7946, Uint8Array.of(), VSN), 0, random), ALIVE, 1, 0);
  const outbox = new Outbox<Effect>();
  const counters = { packetsOut: 0, bytesOut: 0, drops: outbox.drops } as unknown as Counters;
  const state = { started: true, nowMs: 100, leaving: false, left: 0 };
  const gossip = new Dissemination({
    config,
    members,
    self,
    name: 'me',
    random,
    counters,
    outbox,
    tokens: new TimerTokens<TokenTimerKind>(),
    overheadBytes: 0,
    started: () => state.started,
    nowMs: () => state.nowMs,
    leaving: () => state.leaving,
    left: () => state.left++,
  });
  const sends = () =>
    outbox
      .drain()
      .flatMap((e) => (e.type === 'send' ? [{ to: e.to.host, messages: unpackPacket(e.bytes).messages.map((m) => m.type) }] : []));
  return { config, members, outbox, counters, state, gossip, sends };
}

const news = (n: number) => ({ key: null, bytes: encodeUser(Uint8Array.of(n)) });

describe('dissemination', () => {
  it('news into a queue with nothing untried asks for one eager round at once; more news rides along', () => {
    const w = world(3);
    w.gossip.queue(news(1));
    w.gossip.queue(news(2));
    assert.deepEqual(
      w.outbox.drain().map((e) => (e.type === 'timer' ? [e.timer.kind, e.atMs] : e.type)),
      [['gossipNow', 100]],
    );
    w.gossip.eagerRound(100);
    const sent = w.sends();
    assert.equal(sent.length, w.config.gossipNodes);
    for (const s of sent) assert.equal(s.messages.length, 2, 'both news in one datagram');
    w.gossip.queue(news(3));
    assert.equal(w.outbox.drain().filter((e) => e.type === 'timer').length, 1, 'the next burst gets its own eager round');
  });

  it('before start, news waits for the first gossip round', () => {
    const w = world(3);
    w.state.started = false;
    w.gossip.queue(news(1));
    assert.deepEqual(w.outbox.drain(), []);
  });

  it('a gossip tick schedules the next one and sends only to members we gossip to', () => {
    const w = world(3, { gossipNodes: 10 });
    w.members.setState(w.members.slotOf('n3'), DEAD, 1, 0);
    w.gossip.queue(news(1));
    w.outbox.drain();
    w.gossip.tick(1000);
    const effects = w.outbox.drain();
    assert.deepEqual(effects[0], { type: 'timer', timer: { kind: 'gossip', token: 1 }, atMs: 1000 + w.config.gossipIntervalMs });
    const to = effects.flatMap((e) => (e.type === 'send' ? [e.to.host] : [])).sort();
    assert.deepEqual(to, ['10.0.0.2', '10.0.0.3', '10.0.0.4'], 'the recently dead included, never ourselves');
    assert.equal(w.counters.packetsOut, 3);
  });

  it('the long dead are not gossiped to; a leaving node with nobody left is done', () => {
    const w = world(1);
    w.members.setState(w.members.slotOf('n2'), DEAD, 1, 0);
    assert.equal(w.gossip.hasTargets(w.config.gossipToTheDeadMs - 1), true);
    assert.equal(w.gossip.hasTargets(w.config.gossipToTheDeadMs), false);
    w.state.leaving = true;
    w.gossip.queue(news(1));
    w.gossip.tick(w.config.gossipToTheDeadMs);
    assert.equal(w.state.left, 1);
    assert.deepEqual(w.sends(), []);
  });

  it('piggy-backs queued news on a datagram, but not back to the member that told us', () => {
    const w = world(2);
    w.gossip.source = { host: '10.0.0.2', port: 7946 };
    w.gossip.queue({ ...news(1), ...w.gossip.passedOn() });
    w.gossip.source = undefined;
    w.outbox.drain();
    const ack = encodeUser(Uint8Array.of(0));
    w.gossip.send({ host: '10.0.0.2', port: 7946 }, [ack], false, { up: true });
    w.gossip.send({ host: '10.0.0.3', port: 7946 }, [ack], false, { up: true });
    w.gossip.send({ host: '10.0.0.3', port: 7946 }, [ack], false, false);
    assert.deepEqual(
      w.sends().map((s) => s.messages.length),
      [1, 2, 1],
    );
  });
});
