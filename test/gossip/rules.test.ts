// Table-driven tests of the state rules (docs/protocol.md#member-states-and-incarnations), fed
// through the real packet path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MessageType,
  decodeAlive,
  decodeDead,
  encodeAlive,
  encodeDead,
  encodeIndirectPing,
  encodeSuspect,
} from '../../src/gossip/codec/messages.js';
import { unpackPacket } from '../../src/gossip/codec/packet.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { type Effect, GossipMachine, MAX_PENDING_RELAYS } from '../../src/gossip/machine.js';
import { seededRandom } from '../../src/sim/prng.js';

const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);
const META = Uint8Array.from([0xff, 0x80]);
const PEER = { host: '10.0.0.9', port: 7946 };

function machine(): GossipMachine {
  const m = new GossipMachine({
    config: resolveGossipConfig('lan'),
    local: { name: 'me', host: '10.0.0.1', port: 7946 },
    random: seededRandom(1),
  });
  m.start(0);
  m.drain();
  return m;
}

function alive(
  node: string,
  incarnation: number,
  extra: { host?: number; port?: number; meta?: Uint8Array; vsn?: Uint8Array } = {},
): Uint8Array {
  return encodeAlive({
    node,
    incarnation,
    addr: Uint8Array.from([10, 0, 0, extra.host ?? 2]),
    port: extra.port ?? 7946,
    meta: extra.meta ?? META,
    vsn: extra.vsn ?? VSN,
  });
}

function feed(m: GossipMachine, packet: Uint8Array, nowMs = 1000): Effect[] {
  m.handlePacket(PEER, packet, nowMs);
  return m.drain();
}

const memberEvents = (effects: Effect[]) =>
  effects.filter((e) => e.type === 'member').map((e) => (e.type === 'member' ? `${e.change}:${e.member.name}:${e.member.status}` : ''));

describe('alive rule', () => {
  const cases: {
    name: string;
    setup: Uint8Array[];
    packet: Uint8Array;
    status?: string;
    incarnation?: number;
    events: string[];
    drop?: string;
  }[] = [
    { name: 'an unknown node joins', setup: [], packet: alive('b', 1), status: 'alive', incarnation: 1, events: ['join:b:alive'] },
    {
      name: 'the same news again changes nothing',
      setup: [alive('b', 1)],
      packet: alive('b', 1),
      status: 'alive',
      incarnation: 1,
      events: [],
    },
    { name: 'an older incarnation is ignored', setup: [alive('b', 5)], packet: alive('b', 4), status: 'alive', incarnation: 5, events: [] },
    {
      name: 'a newer incarnation with new meta is an update',
      setup: [alive('b', 1)],
      packet: alive('b', 2, { meta: Uint8Array.from([0xff, 0x81, 0xa1, 0x61, 0xa1, 0x62]) }),
      status: 'alive',
      incarnation: 2,
      events: ['update:b:alive'],
    },
    {
      name: 'a newer incarnation with the same meta is silent',
      setup: [alive('b', 1)],
      packet: alive('b', 2),
      status: 'alive',
      incarnation: 2,
      events: [],
    },
    {
      name: 'another address for a live name is a conflict',
      setup: [alive('b', 1)],
      packet: alive('b', 9, { host: 3 }),
      status: 'alive',
      incarnation: 1,
      events: [],
      drop: 'conflictingAddress',
    },
    {
      name: 'a member that left may come back at another address',
      setup: [alive('b', 1), encodeDead({ node: 'b', incarnation: 1, from: 'b' })],
      packet: alive('b', 1, { host: 3 }),
      status: 'alive',
      incarnation: 1,
      events: ['join:b:alive'],
    },
    {
      name: 'a failed member may not come back at another address while reclaim is off',
      setup: [alive('b', 1), encodeDead({ node: 'b', incarnation: 1, from: 'x' })],
      packet: alive('b', 5, { host: 3 }),
      status: 'dead',
      incarnation: 1,
      events: [],
      drop: 'conflictingAddress',
    },
    {
      name: 'a dead member comes back with a higher incarnation',
      setup: [alive('b', 1), encodeDead({ node: 'b', incarnation: 1, from: 'x' })],
      packet: alive('b', 2),
      status: 'alive',
      incarnation: 2,
      events: ['join:b:alive'],
    },
    {
      name: 'an impossible version range is ignored',
      setup: [],
      packet: alive('b', 1, { vsn: Uint8Array.from([3, 2, 2, 2, 5, 5]) }),
      events: [],
      drop: 'badVersion',
    },
    {
      name: 'a current version outside its own range is ignored (it would block every push/pull)',
      setup: [],
      packet: alive('b', 1, { vsn: Uint8Array.from([1, 5, 9, 2, 5, 5]) }),
      events: [],
      drop: 'badVersion',
    },
    {
      name: 'a zero delegate range is ignored',
      setup: [],
      packet: alive('b', 1, { vsn: Uint8Array.from([1, 5, 2, 0, 0, 0]) }),
      events: [],
      drop: 'badVersion',
    },
    {
      name: 'a short Vsn is malformed',
      setup: [],
      packet: alive('b', 1, { vsn: Uint8Array.from([1, 5, 2]) }),
      events: [],
      drop: 'malformed',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = machine();
      for (const p of c.setup) feed(m, p);
      const effects = feed(m, c.packet);
      assert.deepEqual(memberEvents(effects), c.events);
      assert.equal(m.members.get('b')?.status, c.status);
      if (c.incarnation !== undefined) assert.equal(m.members.get('b')?.incarnation, c.incarnation);
      if (c.drop) assert.equal(m.counters.drops[c.drop], 1);
    });
  }
});

describe('dead-node reclaim (deadNodeReclaimTimeMs)', () => {
  it('a member failed longer than the reclaim time may come back at another address, not sooner', () => {
    const m = new GossipMachine({
      config: resolveGossipConfig('lan', { deadNodeReclaimTimeMs: 60_000 }),
      local: { name: 'me', host: '10.0.0.1', port: 7946 },
      random: seededRandom(1),
    });
    m.start(0);
    m.drain();
    feed(m, alive('b', 4), 0);
    feed(m, encodeDead({ node: 'b', incarnation: 4, from: 'x' }), 1000);
    feed(m, alive('b', 1, { host: 3 }), 61_000);
    assert.equal(m.members.get('b')!.status, 'dead', 'exactly the reclaim time is not enough');
    assert.equal(m.counters.drops['conflictingAddress'], 1);
    const effects = feed(m, alive('b', 1, { host: 3 }), 61_001);
    assert.deepEqual(memberEvents(effects), ['join:b:alive']);
    const b = m.members.get('b')!;
    assert.deepEqual([b.status, b.incarnation, b.host], ['alive', 1, '10.0.0.3'], 'a restarted process starts over at a low incarnation');
  });
});

describe('suspect and dead rules', () => {
  it('a suspicion of a member we hold dead is answered with the verdict, straight to its sender', () => {
    const m = machine();
    feed(m, alive('b', 2));
    feed(m, encodeDead({ node: 'b', incarnation: 2, from: 'x' }));
    const effects = feed(m, encodeSuspect({ node: 'b', incarnation: 2, from: 'y' }), 2000);
    const told = effects
      .filter((e) => e.type === 'send' && e.to.host === PEER.host && e.to.port === PEER.port)
      .flatMap((e) => (e.type === 'send' ? unpackPacket(e.bytes).messages : []))
      .filter((msg) => msg.type === MessageType.dead)
      .map((msg) => decodeDead(msg.body));
    assert.deepEqual(told, [{ node: 'b', incarnation: 2, from: 'me' }]);
    assert.equal(m.members.get('b')!.status, 'dead');
    // A suspicion of a newer incarnation than our verdict is not answered with it.
    const later = feed(m, encodeSuspect({ node: 'b', incarnation: 3, from: 'y' }), 3000);
    assert.equal(later.filter((e) => e.type === 'send').length, 0);
    assert.equal(m.members.get('b')!.status, 'dead', 'a suspect does not revive a dead member');
  });

  it('suspect: unknown or older is ignored; alive becomes suspect with a timer at the maximum timeout', () => {
    const m = machine();
    feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'x' }));
    assert.equal(m.members.get('b'), undefined);
    for (const n of ['b', 'c', 'd', 'e', 'f']) feed(m, alive(n, 3, { host: n.charCodeAt(0) }));
    feed(m, encodeSuspect({ node: 'b', incarnation: 2, from: 'x' }));
    assert.equal(m.members.get('b')!.status, 'alive', 'older incarnation ignored');
    const effects = feed(m, encodeSuspect({ node: 'b', incarnation: 3, from: 'x' }), 5000);
    assert.equal(m.members.get('b')!.status, 'suspect');
    // n = 6 members: min = 4 × max(1, log10 6) × 1 s = 4 s, max = 6 × min = 24 s, k = 2.
    const timer = effects.find((e) => e.type === 'timer' && e.timer.kind === 'suspicion');
    assert.equal(timer?.type === 'timer' && timer.atMs, 5000 + 24_000);
  });

  it('independent confirmations shrink the suspicion timeout toward the minimum', () => {
    const m = machine();
    for (const n of ['b', 'c', 'd', 'e', 'f']) feed(m, alive(n, 1, { host: n.charCodeAt(0) }));
    feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'c' }), 0);
    const again = feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'c' }), 100);
    assert.equal(again.filter((e) => e.type === 'timer').length, 0, 'the same accuser is not a confirmation');
    const one = feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'd' }), 200);
    const two = feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'e' }), 300);
    const at = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'timer' && e.timer.kind === 'suspicion' ? [e.atMs] : []));
    assert.deepEqual(at(one), [Math.floor(24_000 - (Math.log(2) / Math.log(3)) * 20_000)]);
    assert.deepEqual(at(two), [4000]);
    assert.deepEqual(at(feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'f' }), 400)), [], 'k confirmations at most');
  });

  it('the suspicion expires into dead, and a later alive brings the member back', () => {
    const m = machine();
    feed(m, alive('b', 1));
    const effects = feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'x' }), 0);
    const timer = effects.find((e) => e.type === 'timer' && e.timer.kind === 'suspicion');
    assert.ok(timer?.type === 'timer');
    m.handleTimer(timer.timer, timer.atMs);
    assert.deepEqual(memberEvents(m.drain()), ['leave:b:dead']);
    assert.deepEqual(memberEvents(feed(m, alive('b', 2), timer.atMs + 1)), ['join:b:alive']);
  });

  const deadCases: [string, Uint8Array, string | undefined, string[]][] = [
    ['dead from another node: failed', encodeDead({ node: 'b', incarnation: 1, from: 'x' }), 'dead', ['leave:b:dead']],
    ['dead from the node itself: left', encodeDead({ node: 'b', incarnation: 1, from: 'b' }), 'left', ['leave:b:left']],
    ['dead with an older incarnation: ignored', encodeDead({ node: 'b', incarnation: 0, from: 'x' }), 'alive', []],
    ['dead about an unknown node: ignored', encodeDead({ node: 'zz', incarnation: 9, from: 'x' }), 'alive', []],
  ];
  for (const [name, packet, status, events] of deadCases) {
    it(name, () => {
      const m = machine();
      feed(m, alive('b', 1));
      assert.deepEqual(memberEvents(feed(m, packet)), events);
      assert.equal(m.members.get('b')?.status, status);
      assert.deepEqual(memberEvents(feed(m, packet)), [], 'a second time changes nothing');
    });
  }
});

describe('refutation', () => {
  const accusations: [string, Uint8Array, number][] = [
    ['suspect about us', encodeSuspect({ node: 'me', incarnation: 1, from: 'x' }), 2],
    ['dead about us', encodeDead({ node: 'me', incarnation: 7, from: 'x' }), 8],
    ['alive about us with a newer incarnation', alive('me', 4, { host: 1 }), 5],
    [
      'alive about us with our incarnation but other meta',
      alive('me', 1, { host: 1, meta: Uint8Array.from([0xff, 0x81, 0xa1, 0x61, 0xa0]) }),
      2,
    ],
  ];
  for (const [name, packet, incarnation] of accusations) {
    it(`${name}: we outbid it and stay alive`, () => {
      const m = machine();
      feed(m, packet);
      assert.equal(m.incarnation, incarnation);
      assert.equal(m.members.get('me')!.status, 'alive');
      assert.equal(m.counters.refutations, 1);
      assert.equal(m.healthScore, 1, 'refuting costs local health (Lifeguard)');
    });
  }

  for (const [name, packet] of [
    ['a suspect', encodeSuspect({ node: 'me', incarnation: 2, from: 'x' })],
    ['a dead', encodeDead({ node: 'me', incarnation: 2, from: 'x' })],
  ] as const) {
    it(`${name} about us older than our incarnation: no refutation, but its sender gets our alive`, () => {
      const m = machine();
      feed(m, encodeSuspect({ node: 'me', incarnation: 4, from: 'x' }));
      assert.equal(m.incarnation, 5);
      const effects = feed(m, packet, 2000);
      assert.equal(m.incarnation, 5, 'nothing to outbid');
      const back = effects
        .filter((e) => e.type === 'send' && e.to.host === PEER.host && e.to.port === PEER.port)
        .flatMap((e) => (e.type === 'send' ? unpackPacket(e.bytes).messages : []))
        .filter((msg) => msg.type === MessageType.alive)
        .map((msg) => decodeAlive(msg.body));
      assert.deepEqual(
        back.map((a) => [a.node, a.incarnation]),
        [['me', 5]],
      );
    });
  }

  it('alive about us that matches what we are is not an accusation', () => {
    const m = machine();
    feed(m, alive('me', 1, { host: 1 }));
    assert.equal(m.incarnation, 1);
    assert.equal(m.counters.refutations, 0);
  });

  it('a leaving node does not refute its own dead', () => {
    const m = machine();
    feed(m, alive('b', 1));
    m.leave(0);
    assert.equal(m.members.get('me')!.status, 'left');
    feed(m, encodeSuspect({ node: 'me', incarnation: 5, from: 'x' }));
    feed(m, alive('me', 9, { host: 1 }));
    assert.equal(m.counters.refutations, 0);
  });
});

describe('rejoining after a restart', () => {
  it('a join reply that holds us dead is refuted, and the seed is told directly', () => {
    const m = machine();
    const id = m.join(PEER, 0);
    m.drain();
    const state = (name: string, incarnation: number, state: 0 | 1 | 2, host: number) => ({
      name,
      addr: Uint8Array.from([10, 0, 0, host]),
      port: 7946,
      meta: META,
      incarnation,
      state,
      vsn: VSN,
    });
    // Twenty others: the gossip round that spreads the refutation picks three of them.
    const others = Array.from({ length: 20 }, (_, i) => state(`n${i}`, 1, 0, 20 + i));
    const states = [state('seed', 3, 0, 9), state('me', 6, 2, 1), ...others];
    const header = { join: false, nodes: states.length, userStateLen: 0 };
    assert.deepEqual(m.handleStreamReply(id, { type: 'pushPull', header, states, userState: new Uint8Array() }, 10), { ok: true });
    assert.equal(m.incarnation, 7, 'outbids the dead verdict');
    const toSeed = m
      .drain()
      .filter((e) => e.type === 'send' && e.to.host === PEER.host && e.to.port === PEER.port)
      .flatMap((e) => (e.type === 'send' ? unpackPacket(e.bytes).messages : []))
      .filter((msg) => msg.type === MessageType.alive)
      .map((msg) => decodeAlive(msg.body))
      .filter((a) => a.node === 'me');
    assert.ok(
      toSeed.some((a) => a.incarnation === 7),
      'the seed gets our new alive at once, whatever the gossip picks',
    );
  });
});

describe('restore (a known member list, not gossiped)', () => {
  it('adds unknown alive members with a join each, and skips itself, known members and the not alive', () => {
    const m = machine();
    feed(m, alive('b', 4));
    const state = (name: string, incarnation: number, state: 0 | 1 | 2 | 3, host = 5) => ({
      name,
      addr: Uint8Array.from([10, 0, 0, host]),
      port: 7946,
      meta: META,
      incarnation,
      state,
      vsn: VSN,
    });
    m.restore([state('me', 9, 0, 1), state('b', 9, 0), state('c', 2, 0), state('d', 2, 2)], 50);
    assert.deepEqual(memberEvents(m.drain()), ['join:c:alive']);
    assert.equal(m.members.get('b')!.incarnation, 4, 'a known member is left as it is');
    assert.equal(m.members.get('c')!.incarnation, 2);
    assert.equal(m.members.get('d'), undefined);
    assert.equal(m.incarnation, 1, 'no refutation');
    // Nothing was queued for gossip: the gossip tick has nothing to send.
    m.handleTimer({ kind: 'gossip', token: 1 }, 100);
    const gossiped = m
      .drain()
      .flatMap((e) => (e.type === 'send' ? unpackPacket(e.bytes).messages : []))
      .filter((msg) => msg.type === MessageType.alive)
      .map((msg) => decodeAlive(msg.body).node);
    assert.ok(gossiped.length > 0, 'the gossip tick sent the queued alives');
    assert.ok(!gossiped.includes('c'), `restored members are not gossiped: ${gossiped.join(',')}`);
  });
});

describe('stale suspicion timers', () => {
  it('the timer of a refuted suspicion does not expire a later suspicion of the same node', () => {
    const m = machine();
    feed(m, alive('b', 1));
    const first = feed(m, encodeSuspect({ node: 'b', incarnation: 1, from: 'x' }), 0).find(
      (e) => e.type === 'timer' && e.timer.kind === 'suspicion',
    );
    feed(m, alive('b', 2), 100); // refuted
    feed(m, encodeSuspect({ node: 'b', incarnation: 2, from: 'x' }), 200); // suspected again
    assert.ok(first?.type === 'timer');
    m.handleTimer(first.timer, first.atMs); // the old timer fires
    assert.equal(m.members.get('b')!.status, 'suspect', 'still only suspect');
    assert.deepEqual(memberEvents(m.drain()), []);
  });
});

describe('bounds', () => {
  it('indirect probe requests beyond 256 pending are dropped and counted, not relayed', () => {
    const m = machine();
    let sends = 0;
    for (let i = 0; i < 300; i++) {
      const effects = feed(
        m,
        encodeIndirectPing({
          seqNo: i,
          node: 'z',
          target: Uint8Array.from([10, 0, 0, 7]),
          port: 7946,
          nack: true,
          sourceAddr: null,
          sourcePort: 0,
          sourceNode: '',
        }),
      );
      sends += effects.filter((e) => e.type === 'send').length;
    }
    assert.equal(m.counters.drops['tooManyRelays'], 300 - MAX_PENDING_RELAYS);
    assert.equal(sends, MAX_PENDING_RELAYS, 'one relayed ping per accepted request');
  });
});
