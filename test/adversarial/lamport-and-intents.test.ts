// Lamport times near 2^64 in every message that carries one, and forged intents and accusations
// about live members (the victim itself too), injected into a live 4-node Serf cluster in the
// simulator. Afterwards: nobody stays leaving / left / failed longer than a bounded simulated
// time, events and queries work exactly once, and the buffers an outsider can fill stay bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeDead, encodeSuspect, encodeUser, MessageType } from '../../src/gossip/codec/messages.js';
import { packPacket } from '../../src/gossip/codec/packet.js';
import { encodeJoinIntent, encodeLeaveIntent, encodeQuery, encodeUserEvent } from '../../src/serf/messages.js';
import { encodeSerfState } from '../../src/serf/push-pull.js';
import { MAX_PER_SLOT, SEEN_RING_SLOTS, SeenRing } from '../../src/serf/seen-ring.js';
import { MAX_RECENT_INTENTS } from '../../src/serf/serf-members.js';
import { seeds, withSeed } from '../helpers/sim.js';
import {
  type Cluster,
  V,
  allAlive,
  assertDeliveredOnce,
  assertHealthy,
  cat,
  injectPacket,
  injectStream,
  serfCluster,
  statuses,
  text,
  trackAcks,
} from './hostile.js';

const MAX = 2n ** 64n - 1n;
const LTIMES = [MAX, MAX - 1n, 2n ** 63n, MAX - 512n];
/** How long a forged intent or accusation may hold a live member in another status. */
const BOUND_MS = 60_000;

const serfDatagram = (m: Uint8Array) => packPacket([encodeUser(m)], { compress: false, crc: false });
const pushPullWith = (userState: Uint8Array) =>
  cat(
    [MessageType.pushPull],
    V.map([
      ['Join', V.bool(false)],
      ['Nodes', V.int(0)],
      ['UserStateLen', V.int(userState.length)],
    ]),
    userState,
  );

function settle(c: Cluster, what: string): void {
  const { w, names } = c;
  const at = w.runUntilTrue(() => allAlive(w, names), BOUND_MS);
  assert.ok(at !== null, `${what}: every member alive everywhere within ${BOUND_MS / 1000} s: ${statuses(w, names)}`);
}

/** Health now, and again after two push/pull rounds (which replay recent events). */
function wholeAfter(c: Cluster, what: string): void {
  settle(c, what);
  const event = assertHealthy(c, what);
  c.w.runFor(65_000);
  assertDeliveredOnce(c, [event], `${what} (after push/pulls)`);
  assertHealthy(c, `${what} (after push/pulls)`);
  assert.deepEqual(c.escaped, [], `${what}: no exception escaped`);
}

type Forge = { name: string; inject: (c: Cluster, ltime: bigint) => void };

const VICTIM = 'n0';
const LIVE = 'n2';

const FORGERIES: Forge[] = [
  {
    name: 'user event',
    inject: (c, ltime) =>
      injectPacket(c, VICTIM, serfDatagram(encodeUserEvent({ ltime, name: 'forged', payload: text('!'), coalesce: false })), 'user event'),
  },
  {
    name: 'query',
    inject: (c, ltime) =>
      injectPacket(
        c,
        VICTIM,
        serfDatagram(
          encodeQuery({
            ltime,
            id: 4242,
            addr: Uint8Array.from([10, 9, 9, 9]),
            port: 7946,
            sourceNode: 'mallory',
            filters: [],
            flags: 1,
            relayFactor: 0,
            timeoutNs: 1_000_000_000n,
            name: 'forged',
            payload: text('?'),
          }),
        ),
        'query',
      ),
  },
  {
    name: `join intent about live ${LIVE}`,
    inject: (c, ltime) => injectPacket(c, VICTIM, serfDatagram(encodeJoinIntent({ ltime, node: LIVE })), 'join intent'),
  },
  {
    name: `leave intent about live ${LIVE}`,
    inject: (c, ltime) => injectPacket(c, VICTIM, serfDatagram(encodeLeaveIntent({ ltime, node: LIVE, prune: false })), 'leave intent'),
  },
  {
    name: `leave intent about the victim itself`,
    inject: (c, ltime) =>
      injectPacket(c, VICTIM, serfDatagram(encodeLeaveIntent({ ltime, node: VICTIM, prune: false })), 'leave intent (self)'),
  },
  {
    name: `pruning leave intent about live ${LIVE}`,
    inject: (c, ltime) => injectPacket(c, VICTIM, serfDatagram(encodeLeaveIntent({ ltime, node: LIVE, prune: true })), 'prune intent'),
  },
  {
    name: 'push/pull state (LTime, EventLTime, QueryLTime)',
    inject: (c, ltime) =>
      injectStream(
        c,
        VICTIM,
        pushPullWith(
          encodeSerfState({ ltime, eventLTime: ltime, queryLTime: ltime, statusLTimes: new Map(), leftMembers: [], events: [] }),
        ),
        'push/pull clocks',
      ),
  },
  {
    name: `push/pull state (StatusLTimes of ${LIVE} and of the victim)`,
    inject: (c, ltime) =>
      injectStream(
        c,
        VICTIM,
        pushPullWith(
          encodeSerfState({
            ltime: 1n,
            eventLTime: 1n,
            queryLTime: 1n,
            statusLTimes: new Map([
              [LIVE, ltime],
              [VICTIM, ltime],
            ]),
            leftMembers: [],
            events: [],
          }),
        ),
        'push/pull status times',
      ),
  },
  {
    name: `push/pull state naming live ${LIVE} in LeftMembers`,
    inject: (c, ltime) =>
      injectStream(
        c,
        VICTIM,
        pushPullWith(
          encodeSerfState({
            ltime: 1n,
            eventLTime: 1n,
            queryLTime: 1n,
            statusLTimes: new Map([[LIVE, ltime]]),
            leftMembers: [LIVE],
            events: [],
          }),
        ),
        'push/pull left members',
      ),
  },
  {
    name: 'push/pull state carrying an event',
    inject: (c, ltime) =>
      injectStream(
        c,
        VICTIM,
        pushPullWith(
          encodeSerfState({
            ltime: 1n,
            eventLTime: ltime,
            queryLTime: 1n,
            statusLTimes: new Map(),
            leftMembers: [],
            events: [{ ltime, events: [{ name: 'forged-pp', payload: text('!') }] }],
          }),
        ),
        'push/pull event',
      ),
  },
];

describe('adversarial: Lamport times near 2^64 (simulator)', () => {
  for (const [index, forge] of FORGERIES.entries()) {
    it(`${forge.name} at 2^64−1, 2^64−2, 2^63, 2^64−513: nobody stays out, events and queries work exactly once`, () => {
      for (const seed of seeds(1)) {
        for (const ltime of LTIMES) {
          withSeed(seed * 1000 + index, (s) => {
            const c = serfCluster(s);
            c.w.userEvent('n1', `warmup-${ltime}`, text('x'));
            c.w.runFor(2000);
            forge.inject(c, ltime);
            c.w.runFor(3000);
            wholeAfter(c, `${forge.name} at ${ltime}`);
            for (const node of c.w.liveNodes()) {
              const serf = node.serf!;
              for (const t of [serf.clock.time, serf.eventClock.time, serf.queryClock.time])
                assert.ok(t >= 0n && t <= MAX, `${node.name}: clock ${t} in uint64`);
            }
          });
        }
      }
    });
  }
});

describe('adversarial: forged intents and accusations about live members (simulator)', () => {
  const current = (c: Cluster, node: string) => c.w.nodes.get(VICTIM)!.serf!.members.statusLTime(node) ?? 0n;

  it('forged leave intents about each live member (the victim too), just ahead of its time and far ahead: refuted, alive everywhere within the bound', () => {
    for (const seed of seeds(2)) {
      withSeed(seed, (s) => {
        const c = serfCluster(s);
        for (const target of c.names) {
          for (const ahead of [1n, 1000n, 2n ** 40n]) {
            injectPacket(
              c,
              VICTIM,
              serfDatagram(encodeLeaveIntent({ ltime: current(c, target) + ahead, node: target, prune: false })),
              `leave ${target} +${ahead}`,
            );
            c.w.runFor(1000);
            settle(c, `leave intent about ${target} at +${ahead}`);
          }
        }
        wholeAfter(c, 'forged leave intents');
      });
    }
  });

  it('forged suspect and dead messages about each live member (the victim too) at incarnation +1: refuted, alive everywhere within the bound', () => {
    for (const seed of seeds(2)) {
      withSeed(seed, (s) => {
        const c = serfCluster(s);
        const machine = c.w.nodes.get(VICTIM)!.machine;
        for (const target of c.names) {
          for (const [kind, encode] of [
            ['suspect', encodeSuspect],
            ['dead', encodeDead],
            ['left (dead from itself)', encodeDead],
          ] as const) {
            const slot = machine.members.slotOf(target);
            const incarnation = machine.members.incarnation(slot) + 1;
            const from = kind.startsWith('left') ? target : 'mallory';
            injectPacket(
              c,
              VICTIM,
              packPacket([encode({ node: target, incarnation, from })], { compress: false, crc: false }),
              `${kind} ${target}`,
            );
            c.w.runFor(500);
            settle(c, `${kind} about ${target} at incarnation ${incarnation}`);
          }
        }
        wholeAfter(c, 'forged accusations');
      });
    }
  });

  // memberlist's incarnation is a uint32: a refutation of an accusation at 2^32−1 needs 2^32,
  // which no decoder takes (Go's wraps to 0, older than the accusation). One datagram then
  // holds a live member dead for good.
  for (const [kind, encode, fromSelf] of [
    ['suspect', encodeSuspect, false],
    ['dead', encodeDead, false],
    ['left (dead from itself)', encodeDead, true],
  ] as const) {
    for (const target of [LIVE, VICTIM]) {
      it(`a forged ${kind} about ${target === VICTIM ? 'the victim itself' : `live ${target}`} at incarnation 2^32−1: refuted within the bound, events and queries still work`, () =>
        withSeed(seeds(1)[0]! + (fromSelf ? 10 : 0) + (target === VICTIM ? 20 : 0), (s) => {
          const c = serfCluster(s);
          injectPacket(
            c,
            VICTIM,
            packPacket([encode({ node: target, incarnation: 2 ** 32 - 1, from: fromSelf ? target : 'mallory' })], {
              compress: false,
              crc: false,
            }),
            kind,
          );
          c.w.runFor(1000);
          wholeAfter(c, `${kind} about ${target} at 2^32−1`);
        }));
    }
  }

  it(`a forged alive about live ${LIVE} at incarnation 2^32−1 (its own address): it stays alive, and a later suspicion of it is still refuted`, () =>
    withSeed(seeds(1)[0]! + 30, (s) => {
      const c = serfCluster(s);
      const n2 = c.w.nodes.get(LIVE)!;
      const bytes = packPacket([message4(LIVE, n2.address.host, n2.address.port, 2 ** 32 - 1)], { compress: false, crc: false });
      injectPacket(c, VICTIM, bytes, 'alive at 2^32−1');
      c.w.runFor(5000);
      settle(c, 'alive at 2^32−1');
      // The honest accusation that follows a lost probe: suspect at the incarnation held for it.
      injectPacket(
        c,
        'n1',
        packPacket([encodeSuspect({ node: LIVE, incarnation: 2 ** 32 - 1, from: 'n1' })], { compress: false, crc: false }),
        'suspect after alive at max',
      );
      c.w.runFor(1000);
      wholeAfter(c, `suspicion of ${LIVE} after an alive at 2^32−1`);
    }));

  it('forged join intents for 10 000 unknown names (and 200 of 60 000-byte names): the recent-intents buffer stays bounded everywhere, the cluster whole', () =>
    withSeed(seeds(1)[0]! + 40, (s) => {
      const c = serfCluster(s);
      for (let i = 0; i < 10_000; i++) {
        injectPacket(c, VICTIM, serfDatagram(encodeJoinIntent({ ltime: BigInt(10 + i), node: `phantom-${i}` })), 'join intent');
        if (i % 500 === 0) c.w.runFor(200);
      }
      const long = 'x'.repeat(60_000);
      for (let i = 0; i < 200; i++)
        injectPacket(c, VICTIM, serfDatagram(encodeJoinIntent({ ltime: 100_000n + BigInt(i), node: `${long}${i}` })), 'long join intent');
      c.w.runFor(5000);
      for (const node of c.w.liveNodes()) {
        const intents = node.serf!.members.intents.size;
        assert.ok(intents <= MAX_RECENT_INTENTS, `${node.name} holds ${intents} intents`);
      }
      const victim = c.w.nodes.get(VICTIM)!.serf!;
      assert.ok(victim.members.intents.size > 0 && victim.members.evictedIntents > 0, 'the buffer filled and evicted');
      assert.ok(victim.members.size === c.names.length, `no phantom became a member: ${victim.members.size}`);
      wholeAfter(c, 'join intent flood');
      // Intents expire after recentIntentTimeoutMs (5 min).
      c.w.runFor(c.w.config.recentIntentTimeoutMs + 2 * c.w.config.reapIntervalMs);
      for (const node of c.w.liveNodes()) assert.equal(node.serf!.members.intents.size, 0, `${node.name}'s intents expired`);
    }));

  it('forged leave intents for 10 000 unknown names: bounded, and a later member of one of those names joins alive', () =>
    withSeed(seeds(1)[0]! + 50, (s) => {
      const c = serfCluster(s);
      for (let i = 0; i < 10_000; i++)
        injectPacket(
          c,
          VICTIM,
          serfDatagram(encodeLeaveIntent({ ltime: BigInt(10 + i), node: `n${4 + (i % 5000)}`, prune: false })),
          'leave intent',
        );
      c.w.runFor(3000);
      for (const node of c.w.liveNodes()) assert.ok(node.serf!.members.intents.size <= MAX_RECENT_INTENTS);
      // n4 was named in a forged leave before it existed: once it joins it must not stay leaving.
      c.w.addNode('n4', 'n1');
      c.names.push('n4');
      trackAcks(c, 'n4');
      settle(c, 'n4 joins after forged leave intents about it');
      wholeAfter(c, 'leave intent flood');
    }));

  it('the duplicate filters stay bounded: 20 000 forged events at one Lamport time and at 20 000 times', () =>
    withSeed(seeds(1)[0]! + 60, (s) => {
      const ring = new SeenRing<number>((a, b) => a === b);
      for (let i = 0; i < 20_000; i++) ring.admit(BigInt(i), i, BigInt(i + 1));
      assert.ok(ring.entries().length <= SEEN_RING_SLOTS);
      for (let i = 0; i < 20_000; i++) ring.admit(50_000n, i, 50_001n);
      assert.ok(ring.entries().every((e) => e.items.length <= MAX_PER_SLOT));
      const c = serfCluster(s);
      const before = c.w.userEvents.length;
      for (let i = 0; i < 2000; i++)
        injectPacket(
          c,
          VICTIM,
          serfDatagram(encodeUserEvent({ ltime: 7n, name: `flood-${i}`, payload: text(''), coalesce: false })),
          'event flood',
        );
      c.w.runFor(5000);
      const delivered = c.w.userEvents.slice(before).filter((e) => e.observer === VICTIM && e.event.name.startsWith('flood-')).length;
      assert.ok(delivered <= MAX_PER_SLOT, `the victim delivered ${delivered} of 2000 events at one time`);
      assert.ok((c.w.nodes.get(VICTIM)!.serf!.drops['eventSlotFull'] ?? 0) > 0);
      wholeAfter(c, 'event flood at one time');
    }));
});

/** An alive datagram for `node` at `host:port` with `incarnation`. */
function message4(node: string, host: string, port: number, incarnation: number): Uint8Array {
  return cat(
    [MessageType.alive],
    V.map([
      ['Addr', V.bin(Uint8Array.from(host.split('.').map(Number)))],
      ['Incarnation', V.int(incarnation)],
      ['Meta', V.bin(Uint8Array.from([0xff, 0x80]))],
      ['Node', V.str(node)],
      ['Port', V.int(port)],
      ['Vsn', V.bin(Uint8Array.from([1, 5, 2, 2, 5, 5]))],
    ]),
  );
}
