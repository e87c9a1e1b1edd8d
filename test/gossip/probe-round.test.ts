// The probe round on its own, over a real member table, with the machine's side (datagrams,
// streams, suspicion) recorded by a fake context.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Address } from '../../src/gossip/address.js';
import { Awareness } from '../../src/gossip/awareness.js';
import {
  MessageType,
  type IndirectPing,
  type Suspect,
  decodeAck,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodeSuspect,
} from '../../src/gossip/codec/messages.js';
import { type GossipConfig, resolveGossipConfig } from '../../src/gossip/config.js';
import type { Counters, Effect, TokenTimerKind } from '../../src/gossip/effects.js';
import { ALIVE, MemberTable, SUSPECT, endpointOf } from '../../src/gossip/members.js';
import { Outbox } from '../../src/gossip/outbox.js';
import { MAX_PENDING_RELAYS, ProbeRound } from '../../src/gossip/probe-round.js';
import { TimerTokens } from '../../src/gossip/timer-tokens.js';
import { seededRandom } from '../../src/sim/prng.js';

const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);
const META = Uint8Array.from([0xff, 0x80]);

interface Sent {
  to: Address;
  messages: Uint8Array[];
  crc: boolean;
  piggyback: false | { up: boolean };
}

function world(others: number, overrides: Partial<GossipConfig> = {}) {
  const config = resolveGossipConfig('lan', overrides);
  const random = seededRandom(7);
  const members = new MemberTable();
  const self = members.insert('me', endpointOf(Uint8Array.from([10, 0, 0, 1]), 7946, META, VSN), 0);
  members.setState(self, ALIVE, 1, 0);
  members.enlist(self, random);
  for (let i = 2; i < 2 + others; i++) {
    const slot = members.add(`n${i}`, endpointOf(Uint8Array.from([10, 0, 0, i]), 7946, META, VSN), 0, random);
    members.setState(slot, ALIVE, 1, 0);
  }
  const outbox = new Outbox<Effect>();
  const counters = { probes: 0, probeFailures: 0, indirectProbes: 0, drops: outbox.drops } as unknown as Counters;
  const awareness = new Awareness(config.awarenessMaxMultiplier);
  const sent: Sent[] = [];
  const streams: { to: Address; message: Uint8Array; deadlineMs: number; seq: number }[] = [];
  const suspects: Suspect[] = [];
  const round = new ProbeRound({
    config,
    members,
    self,
    name: 'me',
    random,
    counters,
    outbox,
    tokens: new TimerTokens<TokenTimerKind>(),
    awareness,
    send: (to, messages, crc, piggyback) => sent.push({ to, messages, crc, piggyback }),
    openStream: (purpose, to, message, deadlineMs, seq) => {
      assert.equal(purpose, 'ping');
      streams.push({ to, message, deadlineMs, seq });
    },
    suspect: (s) => suspects.push(s),
  });
  const timers = () => outbox.drain().flatMap((e) => (e.type === 'timer' ? [e] : []));
  return { config, members, outbox, counters, awareness, sent, streams, suspects, round, timers };
}

const body = (m: Uint8Array) => m.subarray(1);

function relayRequest(seqNo: number, nack: boolean, target = 3): IndirectPing {
  return {
    seqNo,
    target: Uint8Array.from([10, 0, 0, target]),
    port: 7946,
    node: `n${target}`,
    nack,
    sourceAddr: Uint8Array.from([10, 0, 0, 9]),
    sourcePort: 9000,
    sourceNode: 'asker',
  };
}
const ASKER_PACKET_SOURCE = { host: '10.0.0.8', port: 1 };

describe('probe round: our probes', () => {
  it('a tick pings the next member, schedules the next tick and the probe timeout', () => {
    const w = world(5);
    w.round.tick(1000);
    assert.equal(w.sent.length, 1);
    const [ping] = w.sent;
    assert.equal(ping!.messages[0]![0], MessageType.ping);
    const p = decodePing(body(ping!.messages[0]!));
    assert.equal(p.seqNo, 1);
    assert.equal(ping!.to.host, `10.0.0.${p.node.slice(1)}`, 'sent to the member it names');
    assert.deepEqual(ping!.piggyback, { up: true });
    assert.deepEqual(
      w.timers().map((e) => e.timer),
      [
        { kind: 'probe', token: 1 },
        { kind: 'probeTimeout', seq: 1 },
      ],
    );
    assert.equal(w.counters.probes, 1);
  });

  it('the next tick is stretched by the health score under Lifeguard, not without it', () => {
    for (const lifeguard of [true, false]) {
      const w = world(3, { lifeguard });
      w.awareness.apply(2);
      w.round.tick(1000);
      const next = w.timers().find((e) => e.timer.kind === 'probe')!;
      assert.equal(next.atMs, lifeguard ? 1000 + 3 * 1000 : 1000 + 1000);
    }
  });

  it('an ack within the timeout settles the probe: no suspicion, and the health score improves', () => {
    const w = world(5);
    w.awareness.apply(2);
    w.round.tick(1000);
    w.round.handleAck(1, 1500); // at the probe timeout exactly: still in time
    w.round.timeout(1, 1500);
    assert.equal(w.sent.length, 1, 'an acked probe asks nobody else');
    w.round.tick(4000);
    assert.deepEqual(w.suspects, []);
    assert.equal(w.counters.probeFailures, 0);
    assert.equal(w.awareness.score, 1);
  });

  it('a late ack (after the probe timeout) avoids suspicion but does not improve the health score', () => {
    const w = world(5);
    w.awareness.apply(2);
    w.round.tick(1000);
    w.round.handleAck(1, 1501);
    w.round.tick(4000);
    assert.deepEqual(w.suspects, []);
    assert.equal(w.awareness.score, 2);
  });

  it('no ack: helpers are asked (never us or the target), TCP is tried, and the target is suspected', () => {
    const w = world(6);
    w.round.tick(1000);
    const target = decodePing(body(w.sent[0]!.messages[0]!)).node;
    w.round.timeout(1, 1500);
    const indirect = w.sent.slice(1);
    assert.equal(indirect.length, w.config.indirectChecks);
    const helpers = new Set(indirect.map((s) => s.to.host));
    assert.equal(helpers.size, w.config.indirectChecks, 'distinct helpers');
    assert.ok(!helpers.has('10.0.0.1') && !helpers.has(`10.0.0.${target.slice(1)}`));
    for (const s of indirect) {
      assert.equal(s.messages[0]![0], MessageType.indirectPing);
      const req = decodeIndirectPing(body(s.messages[0]!));
      assert.deepEqual([req.seqNo, req.node, req.nack, req.sourceNode], [1, target, true, 'me']);
      assert.equal(s.piggyback, false);
    }
    assert.equal(w.counters.indirectProbes, 3);
    assert.equal(w.streams.length, 1);
    assert.deepEqual([w.streams[0]!.seq, w.streams[0]!.deadlineMs, decodePing(body(w.streams[0]!.message)).node], [1, 2000, target]);
    w.round.handleNack(1);
    w.round.handleNack(99); // another probe's
    w.round.tick(2000);
    assert.deepEqual(w.suspects, [{ incarnation: 1, node: target, from: 'me' }]);
    assert.equal(w.counters.probeFailures, 1);
    assert.equal(w.awareness.score, 2, 'three nacks expected, one came: the two missing count against us');
  });

  it('a TCP ack for the probe spares the target; an ack for another sequence number does not', () => {
    for (const [ackSeq, spared] of [
      [1, true],
      [2, false],
    ] as const) {
      const w = world(4);
      w.round.tick(1000);
      w.round.timeout(1, 1500);
      w.round.handleStreamAck(1, ackSeq);
      w.round.tick(2000);
      assert.equal(w.suspects.length, spared ? 0 : 1);
    }
  });

  it('a suspect target gets the suspicion along with the ping (buddy system)', () => {
    const w = world(1);
    const slot = w.members.slotOf('n2');
    w.members.setState(slot, SUSPECT, 4, 0);
    w.round.tick(1000);
    const [ping, accusation] = w.sent[0]!.messages;
    assert.equal(decodePing(body(ping!)).node, 'n2');
    assert.deepEqual(decodeSuspect(body(accusation!)), { incarnation: 4, node: 'n2', from: 'me' });
    assert.equal(w.sent[0]!.crc, true, 'a peer speaking protocol 5 gets a CRC');
  });

  it('an ack nobody waits for is dropped and counted', () => {
    const w = world(2);
    w.round.handleAck(42, 0);
    assert.equal(w.counters.drops['staleAck'], 1);
    assert.equal(w.sent.length, 0);
  });
});

describe('probe round: relays for others', () => {
  it('relays a ping under its own sequence number and passes the ack back to the requester', () => {
    const w = world(3);
    w.round.handleIndirectPing(relayRequest(77, true), ASKER_PACKET_SOURCE, 1000);
    assert.equal(w.round.pendingRelays, 1);
    const ping = w.sent[0]!;
    assert.deepEqual(ping.to, { host: '10.0.0.3', port: 7946 });
    const p = decodePing(body(ping.messages[0]!));
    assert.deepEqual([p.seqNo, p.node], [1, 'n3']);
    assert.deepEqual(
      w.timers().map((e) => [e.timer, e.atMs]),
      [[{ kind: 'relayTimeout', seq: 1 }, 1500]],
    );
    w.round.handleAck(1, 1100);
    assert.equal(w.round.pendingRelays, 0);
    const ack = w.sent[1]!;
    assert.deepEqual(ack.to, { host: '10.0.0.9', port: 9000 }, 'to the source the requester gave');
    assert.equal(decodeAck(body(ack.messages[0]!)).seqNo, 77);
    w.round.relayTimeout(1);
    assert.equal(w.sent.length, 2, 'an answered relay sends no nack');
  });

  it('a relay that times out sends a nack only when one was asked for', () => {
    const w = world(3);
    w.round.handleIndirectPing(relayRequest(5, true), ASKER_PACKET_SOURCE, 1000);
    w.round.handleIndirectPing({ ...relayRequest(6, false), sourceAddr: null, sourcePort: 0 }, ASKER_PACKET_SOURCE, 1000);
    w.round.relayTimeout(1);
    w.round.relayTimeout(2);
    const replies = w.sent.slice(2);
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.messages[0]![0], MessageType.nack);
    assert.equal(decodeNack(body(replies[0]!.messages[0]!)).seqNo, 5);
    assert.equal(w.round.pendingRelays, 0);
  });

  it(`holds at most ${MAX_PENDING_RELAYS} relays; a finished one makes room`, () => {
    const w = world(3);
    for (let i = 0; i < MAX_PENDING_RELAYS + 1; i++) w.round.handleIndirectPing(relayRequest(i, true), ASKER_PACKET_SOURCE, 1000);
    assert.equal(w.round.pendingRelays, MAX_PENDING_RELAYS);
    assert.equal(w.sent.length, MAX_PENDING_RELAYS);
    assert.equal(w.counters.drops['tooManyRelays'], 1);
    w.round.relayTimeout(1);
    w.round.handleIndirectPing(relayRequest(999, true), ASKER_PACKET_SOURCE, 2000);
    assert.equal(w.round.pendingRelays, MAX_PENDING_RELAYS);
  });

  it('probes and relays draw from one sequence, so an ack is never mistaken for the other', () => {
    const w = world(4);
    w.round.tick(1000);
    w.round.handleIndirectPing(relayRequest(50, true), ASKER_PACKET_SOURCE, 1000);
    const relaySeq = decodePing(body(w.sent[1]!.messages[0]!)).seqNo;
    assert.equal(relaySeq, 2);
    w.round.handleAck(relaySeq, 1100);
    assert.equal(decodeAck(body(w.sent[2]!.messages[0]!)).seqNo, 50, 'the relay took it');
    w.round.tick(2000);
    assert.equal(w.suspects.length, 1, 'our own probe is still unanswered');
  });
});

describe('probe round: pings for us', () => {
  it('acks a ping, and tells a sender we hold suspect what we believe', () => {
    const w = world(2);
    w.members.setState(w.members.slotOf('n2'), SUSPECT, 3, 0);
    w.round.handlePing(
      { seqNo: 9, node: 'me', sourceAddr: Uint8Array.from([10, 0, 0, 2]), sourcePort: 7946, sourceNode: 'n2' },
      { host: '10.0.0.2', port: 1234 },
    );
    const reply = w.sent[0]!;
    assert.deepEqual(reply.to, { host: '10.0.0.2', port: 7946 });
    assert.equal(decodeAck(body(reply.messages[0]!)).seqNo, 9);
    assert.deepEqual(decodeSuspect(body(reply.messages[1]!)), { incarnation: 3, node: 'n2', from: 'me' });
    assert.deepEqual(reply.piggyback, { up: true });
  });

  it('a ping for another node is dropped', () => {
    const w = world(2);
    w.round.handlePing({ seqNo: 9, node: 'someone-else', sourceAddr: null, sourcePort: 0, sourceNode: '' }, { host: '10.0.0.2', port: 1 });
    assert.equal(w.sent.length, 0);
    assert.equal(w.counters.drops['pingForOtherNode'], 1);
  });
});
