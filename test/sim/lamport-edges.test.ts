// Lamport times at the edge of uint64 in the simulator, with seeds: one forged datagram (a user
// event, a query, or a leave intent about a live member) at 2^64−1, 2^64−2 or 2^63, then events,
// queries, refutation, restart and graceful leave must all still work, as in Serf 0.9.4.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey } from '../../src/gossip/address.js';
import { encodeUser } from '../../src/gossip/codec/messages.js';
import { packPacket } from '../../src/gossip/codec/packet.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { encodeLeaveIntent, encodeQuery, encodeUserEvent } from '../../src/serf/messages.js';
import type { SerfEffect } from '../../src/serf/serf-machine.js';
import { SimWorld } from '../../src/sim/world.js';
import { seeds, withSeed } from '../helpers/sim.js';

const MAX = 2n ** 64n - 1n;
const EDGES = [MAX, MAX - 1n, 2n ** 63n];
const ATTACKER = { host: '10.9.9.9', port: 7946 };
const text = (s: string) => new TextEncoder().encode(s);

function serfWorld(seed: number, n: number): { w: SimWorld; names: string[] } {
  const w = new SimWorld(
    seed,
    resolveGossipConfig('lan', { reconnectWindowMs: 60_000, tombstoneTimeoutMs: 60_000, reapIntervalMs: 5_000 }),
    { serf: true },
  );
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  w.addNode(names[0]!);
  for (let i = 1; i < n; i++) w.addNode(names[i]!, names[Math.floor(w.random() * i)]!);
  assert.ok(w.runUntilTrue(() => allAlive(w, names), 30_000) !== null, 'the cluster forms');
  return { w, names };
}

function allAlive(w: SimWorld, names: string[]): boolean {
  return names.every((o) => names.every((s) => w.serfStatusOf(o, s) === 'alive'));
}

/** One datagram from outside the cluster into `target`; its effects run at the node's next step. */
function inject(w: SimWorld, target: string, serfMessage: Uint8Array): void {
  w.nodes.get(target)!.serf!.handlePacket(ATTACKER, packPacket([encodeUser(serfMessage)], { compress: false, crc: false }), w.nowMs);
}

/** Every Lamport clock of every live node holds a uint64. */
function clocksInRange(w: SimWorld): void {
  for (const node of w.liveNodes()) {
    const s = node.serf!;
    for (const [what, t] of [
      ['member', s.clock.time],
      ['event', s.eventClock.time],
      ['query', s.queryClock.time],
    ] as const) {
      assert.ok(t >= 0n && t <= MAX, `${node.name}'s ${what} clock is ${t}`);
    }
  }
}

const pick = <T>(w: SimWorld, xs: readonly T[]): T => xs[Math.floor(w.random() * xs.length)]!;

describe('Lamport times at the edge of uint64 (simulator)', () => {
  it('after a forged user event at 2^64−1, 2^64−2 or 2^63, later events reach every member exactly once', () => {
    for (const seed of seeds(3)) {
      for (const ltime of EDGES) {
        withSeed(seed, (s) => {
          const { w, names } = serfWorld(s, 4);
          w.userEvent('n1', 'before', text('x'));
          w.runFor(3000);
          inject(w, pick(w, names), encodeUserEvent({ ltime, name: 'forged', payload: text('!'), coalesce: false }));
          w.runFor(5000);
          const sent: string[] = [];
          for (let i = 0; i < 8; i++) {
            w.userEvent(names[i % names.length]!, `after${i}`, text(`${i}`));
            sent.push(`after${i}`);
            w.runFor(Math.floor(w.random() * 500));
          }
          const got = (o: string) =>
            w.userEvents.filter((e) => e.observer === o && e.event.name.startsWith('after')).map((e) => e.event.name);
          const allGot = () => names.every((o) => sent.every((e) => got(o).includes(e)));
          assert.ok(
            w.runUntilTrue(allGot, 60_000) !== null,
            `ltime ${ltime}: every node got every later event; missing: ${names.map((o) => `${o}: ${sent.filter((e) => !got(o).includes(e)).join(',')}`).join(' | ')}`,
          );
          w.runFor(35_000); // push/pulls replay the recent events (the forged one too)
          for (const o of names) {
            assert.deepEqual([...got(o)].sort(), [...sent].sort(), `ltime ${ltime}: ${o} got each later event once`);
            assert.ok(
              w.userEvents.filter((e) => e.observer === o && e.event.name === 'forged').length <= 1,
              `ltime ${ltime}: ${o} got the forged event at most once`,
            );
          }
          clocksInRange(w);
        });
      }
    }
  });

  it('after a forged query at 2^64−1, 2^64−2 or 2^63, later queries get an ack from every member', () => {
    for (const seed of seeds(3)) {
      for (const ltime of EDGES) {
        withSeed(seed, (s) => {
          const { w, names } = serfWorld(s, 4);
          const acks = new Map<string, Set<string>>();
          for (const name of names) {
            const serf = w.nodes.get(name)!.serf!;
            const drain = serf.drain.bind(serf);
            serf.drain = (): SerfEffect[] => {
              const out = drain();
              for (const e of out)
                if (e.type === 'queryAck') acks.set(`${name}@${e.ltime}`, (acks.get(`${name}@${e.ltime}`) ?? new Set()).add(e.from));
              return out;
            };
          }
          inject(
            w,
            pick(w, names),
            encodeQuery({
              ltime,
              id: 4242,
              addr: Uint8Array.from([10, 9, 9, 9]),
              port: 7946,
              sourceNode: 'mallory',
              filters: [],
              flags: 0,
              relayFactor: 0,
              timeoutNs: 1_000_000_000n,
              name: 'forged',
              payload: text('!'),
            }),
          );
          w.runFor(5000);
          for (let i = 0; i < 6; i++) {
            const from = names[i % names.length]!;
            const q = w.nodes.get(from)!.serf!.query(`q${i}`, text('?'), { requestAck: true, timeoutMs: 4000 }, w.nowMs);
            w.runFor(5000);
            assert.deepEqual(
              [...(acks.get(`${from}@${q}`) ?? [])].sort(),
              [...names].sort(),
              `ltime ${ltime}: query ${i} from ${from} (at ${q}) acked by all`,
            );
          }
          clocksInRange(w);
        });
      }
    }
  });

  it('a forged leave intent about a live member at 2^64−1, 2^64−2 or 2^63: it is alive everywhere, after a restart too, and its graceful leave is `left` everywhere', () => {
    for (const seed of seeds(3)) {
      for (const ltime of EDGES) {
        withSeed(seed, (s) => {
          const { w, names } = serfWorld(s, 4);
          const victim = 'n2';
          const others = names.filter((n) => n !== victim);
          // Into another member, so that it spreads (the victim itself would only refute it).
          inject(w, pick(w, others), encodeLeaveIntent({ ltime, node: victim, prune: false }));
          w.runFor(10_000);
          assert.ok(
            w.runUntilTrue(() => allAlive(w, names), 20_000) !== null,
            `ltime ${ltime}: the victim is alive everywhere again: ${others.map((o) => w.serfStatusOf(o, victim))}`,
          );
          w.runFor(35_000); // and stays so through push/pulls
          assert.ok(allAlive(w, names), `ltime ${ltime}: still alive everywhere: ${others.map((o) => w.serfStatusOf(o, victim))}`);
          // A crash and a restart under the same name.
          w.crash(victim);
          assert.ok(
            w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, victim) === 'failed'), 60_000) !== null,
            `ltime ${ltime}: failed everywhere`,
          );
          w.restart(victim, pick(w, others));
          assert.ok(
            w.runUntilTrue(() => allAlive(w, names), 60_000) !== null,
            `ltime ${ltime}: alive everywhere after the restart: ${others.map((o) => w.serfStatusOf(o, victim))}`,
          );
          w.runFor(35_000);
          assert.ok(allAlive(w, names), `ltime ${ltime}: still alive everywhere after the restart`);
          // Its graceful leave still reads as a leave.
          w.leave(victim);
          assert.ok(
            w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, victim) === 'left'), 30_000) !== null,
            `ltime ${ltime}: left everywhere: ${others.map((o) => w.serfStatusOf(o, victim))}`,
          );
          clocksInRange(w);
        });
      }
    }
  });

  it('a forged leave intent that never reaches its victim by gossip is refuted after a push/pull', () => {
    for (const seed of seeds(3)) {
      for (const ltime of [MAX - 1n, 2n ** 63n, 1000n]) {
        withSeed(seed, (s) => {
          const { w, names } = serfWorld(s, 4);
          const victim = 'n1';
          const others = names.filter((n) => n !== victim);
          const key = (n: string) => addressKey(w.nodes.get(n)!.address);
          // Cut off briefly (less than it takes to suspect it): the intent's gossip misses it.
          w.network.partition([key(victim)], others.map(key));
          inject(w, pick(w, others), encodeLeaveIntent({ ltime, node: victim, prune: false }));
          w.runFor(2500);
          w.network.heal();
          assert.ok(
            others.every((o) => w.serfStatusOf(o, victim) === 'leaving'),
            `ltime ${ltime}: the intent took: ${others.map((o) => w.serfStatusOf(o, victim))}`,
          );
          assert.ok(
            w.runUntilTrue(() => allAlive(w, names), 90_000) !== null,
            `ltime ${ltime}: alive everywhere: ${others.map((o) => w.serfStatusOf(o, victim))}`,
          );
          clocksInRange(w);
        });
      }
    }
  });

  it('a forged leave intent at 2^64−1 about a crashed member: once restarted it is alive everywhere', () => {
    for (const seed of seeds(3)) {
      withSeed(seed, (s) => {
        const { w, names } = serfWorld(s, 4);
        const victim = 'n3';
        const others = names.filter((n) => n !== victim);
        w.crash(victim);
        assert.ok(w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, victim) === 'failed'), 60_000) !== null, 'failed everywhere');
        inject(w, pick(w, others), encodeLeaveIntent({ ltime: MAX, node: victim, prune: false }));
        // A failed member named in a leave intent is force-left, as in Serf.
        assert.ok(
          w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, victim) === 'left'), 10_000) !== null,
          'force-left everywhere',
        );
        w.restart(victim, pick(w, others));
        assert.ok(
          w.runUntilTrue(() => allAlive(w, names), 60_000) !== null,
          `alive everywhere after the restart: ${others.map((o) => w.serfStatusOf(o, victim))}`,
        );
        w.runFor(35_000);
        assert.ok(allAlive(w, names), 'still alive everywhere');
        clocksInRange(w);
      });
    }
  });
});
