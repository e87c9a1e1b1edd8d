// Serf's Lamport clocks are Go uint64s: they wrap past 2^64−1 to 0. The Serf layer must keep
// working across the wrap, and a leave intent no join intent can outdate must not stick.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAlive, encodeUser } from '../../src/gossip/codec/messages.js';
import { packPacket } from '../../src/gossip/codec/packet.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import type { MemberView } from '../../src/gossip/members.js';
import { LamportClock } from '../../src/serf/lamport.js';
import { encodeJoinIntent, encodeLeaveIntent, encodeUserEvent } from '../../src/serf/messages.js';
import { type SerfEffect, SerfMachine } from '../../src/serf/serf-machine.js';
import { SerfMembers } from '../../src/serf/serf-members.js';
import { encodeTags } from '../../src/serf/tags.js';

const MAX = 2n ** 64n - 1n;
const text = (s: string) => new TextEncoder().encode(s);
const packet = (serfMessage: Uint8Array) => packPacket([encodeUser(serfMessage)], { compress: false, crc: false });
const view = (name: string): MemberView => ({
  name,
  host: '10.0.0.2',
  port: 7946,
  meta: encodeTags({}),
  vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
  incarnation: 1,
  status: 'alive',
});

describe('LamportClock as Go uint64', () => {
  it('Increment returns the new time (Go) and wraps from 2^64−1 to 0', () => {
    const c = new LamportClock();
    assert.equal(c.time, 1n);
    assert.equal(c.increment(), 2n);
    c.witness(MAX - 1n);
    assert.equal(c.time, MAX);
    assert.equal(c.increment(), 0n);
    assert.equal(c.time, 0n);
    assert.equal(c.increment(), 1n);
  });

  it('witnessing 2^64−1 wraps to 0, whatever the time; after the wrap it counts on from there', () => {
    const c = new LamportClock();
    c.witness(MAX);
    assert.equal(c.time, 0n);
    c.witness(MAX);
    assert.equal(c.time, 0n, 'again: 2^64−1 is never older than the time');
    c.witness(5n);
    assert.equal(c.time, 6n);
    c.witness(3n);
    assert.equal(c.time, 6n, 'the past changes nothing');
    c.witness(MAX - 2n);
    assert.equal(c.time, MAX - 1n);
    c.witness(MAX - 1n);
    assert.equal(c.time, MAX);
  });
});

describe('the Serf layer across a wrap', () => {
  const config = resolveGossipConfig('lan');
  const machine = () => {
    const m = new SerfMachine({ config, local: { name: 'me', host: '10.0.0.1', port: 7946 }, random: () => 0.5 });
    m.start(0);
    const alive = packPacket(
      [
        encodeAlive({
          incarnation: 1,
          node: 'b',
          addr: Uint8Array.from([10, 0, 0, 2]),
          port: 7946,
          meta: encodeTags({}),
          vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
        }),
      ],
      { compress: false, crc: false },
    );
    m.handlePacket({ host: '10.0.0.2', port: 7946 }, alive, 0);
    m.drain();
    return m;
  };
  const events = (effects: SerfEffect[]) => effects.flatMap((e) => (e.type === 'event' ? [e.event] : []));

  it('a user event at 2^64−1 wraps the event clock to 0; our next event is at 0 and is delivered', () => {
    const m = machine();
    m.handlePacket(
      { host: '10.9.9.9', port: 7946 },
      packet(encodeUserEvent({ ltime: MAX, name: 'forged', payload: text('!'), coalesce: false })),
      1,
    );
    assert.deepEqual(
      events(m.drain()).map((e) => e.ltime),
      [MAX],
    );
    assert.equal(m.eventClock.time, 0n);
    m.userEvent('deploy', text('v1'), false, 2);
    assert.deepEqual(
      events(m.drain()).map((e) => [e.name, e.ltime]),
      [['deploy', 0n]],
    );
    assert.equal(m.eventClock.time, 1n);
    // A peer's next event, at 1, is delivered too.
    m.handlePacket(
      { host: '10.0.0.2', port: 7946 },
      packet(encodeUserEvent({ ltime: 1n, name: 'next', payload: text(''), coalesce: false })),
      3,
    );
    assert.deepEqual(
      events(m.drain()).map((e) => [e.name, e.ltime]),
      [['next', 1n]],
    );
  });

  it('a join intent at 2^64−1 wraps the member clock to 0', () => {
    const m = machine();
    m.handlePacket({ host: '10.9.9.9', port: 7946 }, packet(encodeJoinIntent({ ltime: MAX, node: 'b' })), 1);
    assert.equal(m.members.statusLTime('b'), MAX);
    assert.equal(m.clock.time, 0n);
  });

  it('a leave intent at 2^64−1 about a live member does not make it leaving (no join could refute it)', () => {
    const m = machine();
    m.handlePacket({ host: '10.9.9.9', port: 7946 }, packet(encodeLeaveIntent({ ltime: MAX, node: 'b', prune: false })), 1);
    assert.equal(m.members.get('b')?.status, 'alive');
    assert.equal(m.clock.time, 0n, 'the clock still witnesses it, as Go');
    // One below is refutable, so it applies, as in Serf; the member's join at 2^64−1 refutes it.
    m.handlePacket({ host: '10.9.9.9', port: 7946 }, packet(encodeLeaveIntent({ ltime: MAX - 1n, node: 'b', prune: false })), 2);
    assert.equal(m.members.get('b')?.status, 'leaving');
    m.handlePacket({ host: '10.0.0.2', port: 7946 }, packet(encodeJoinIntent({ ltime: MAX, node: 'b' })), 3);
    assert.equal(m.members.get('b')?.status, 'alive');
  });

  it('memberlist’s dead{From = self} is a graceful leave even if the member was not leaving', () => {
    const m = new SerfMembers('me');
    m.nodeJoin(view('a'), {});
    assert.equal(m.nodeLeave('a', 10, true)?.change, 'leave');
    assert.equal(m.get('a')?.status, 'left');
    m.nodeJoin(view('b'), {});
    assert.equal(m.nodeLeave('b', 10, false)?.change, 'failed');
  });
});
