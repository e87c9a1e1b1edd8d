// The Serf layer in the simulator, with seeds: statuses from intents, leave after failure,
// restarts racing with failure, reaping, and user events delivered once under duplication.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey } from '../../src/gossip/address.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { SimWorld } from '../../src/sim/world.js';
import { seeds, withSeed } from '../helpers/sim.js';

function serfWorld(seed: number, n: number, overrides = {}): { w: SimWorld; names: string[] } {
  const w = new SimWorld(
    seed,
    resolveGossipConfig('lan', { reconnectWindowMs: 20_000, tombstoneTimeoutMs: 20_000, reapIntervalMs: 5_000, ...overrides }),
    { serf: true },
  );
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  w.addNode(names[0]!);
  for (let i = 1; i < n; i++) w.addNode(names[i]!, names[Math.floor(w.random() * i)]!);
  const all = () => names.every((o) => names.every((s) => w.serfStatusOf(o, s) === 'alive'));
  assert.ok(w.runUntilTrue(all, 30_000) !== null, 'the cluster forms');
  return { w, names };
}

const everyoneElse = (names: string[], but: string) => names.filter((n) => n !== but);

describe('Serf layer (simulator)', () => {
  it('a graceful leave is `left` everywhere, a crash `failed`, and both are reaped after their timeouts', () => {
    for (const seed of seeds(5)) {
      withSeed(seed, (s) => {
        const { w, names } = serfWorld(s, 8);
        w.leave('n3');
        const others = everyoneElse(names, 'n3');
        assert.ok(w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, 'n3') === 'left'), 20_000) !== null, 'n3 left everywhere');
        w.crash('n5');
        const rest = everyoneElse(others, 'n5');
        assert.ok(w.runUntilTrue(() => rest.every((o) => w.serfStatusOf(o, 'n5') === 'failed'), 60_000) !== null, 'n5 failed everywhere');
        assert.ok(
          w.runUntilTrue(
            () => rest.every((o) => w.serfStatusOf(o, 'n5') === undefined && w.serfStatusOf(o, 'n3') === undefined),
            60_000,
          ) !== null,
          'both reaped',
        );
        const reaps = w.serfEvents.filter((e) => e.change === 'reap');
        assert.deepEqual(new Set(reaps.map((e) => `${e.member.name}:${e.member.status}`)), new Set(['n3:left', 'n5:failed']));
        // No node was ever wrongly failed or left.
        assert.deepEqual(
          w.serfEvents.filter((e) => (e.change === 'failed' || e.change === 'leave') && e.member.name !== 'n3' && e.member.name !== 'n5'),
          [],
        );
      });
    }
  });

  it('a leave after a failure: a member declared failed that then leaves gracefully ends `left` everywhere', () => {
    for (const seed of seeds(5)) {
      withSeed(seed, (s) => {
        const { w, names } = serfWorld(s, 8);
        const others = everyoneElse(names, 'n2');
        w.network.partition(
          [addressKey(w.nodes.get('n2')!.address)],
          others.map((n) => addressKey(w.nodes.get(n)!.address)),
        );
        assert.ok(w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, 'n2') === 'failed'), 60_000) !== null, 'n2 failed everywhere');
        // The network heals and n2 leaves at once: its leave intent races its own refutation.
        w.network.heal();
        w.leave('n2');
        assert.ok(w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, 'n2') === 'left'), 60_000) !== null, 'left everywhere');
        // Force-leave of a failed member is a `leave` notification, not a second failure.
        const about = w.serfEvents.filter((e) => e.member.name === 'n2' && e.change !== 'join' && e.change !== 'update');
        for (const o of others)
          assert.deepEqual(
            about
              .filter((e) => e.observer === o)
              .map((e) => e.change)
              .at(-1),
            'leave',
            o,
          );
      });
    }
  });

  it('a restart racing with the failure verdict comes back alive everywhere, with a newer join intent', () => {
    for (const seed of seeds(5)) {
      withSeed(seed, (s) => {
        const { w, names } = serfWorld(s, 8);
        const before = w.nodes.get('n1')!.serf!.members.statusLTime('n6')!;
        w.crash('n6');
        // Restart at a random point: before, during or after the others decide it failed.
        w.runFor(Math.floor(w.random() * 8000));
        w.restart('n6', 'n0');
        const others = everyoneElse(names, 'n6');
        assert.ok(
          w.runUntilTrue(() => others.every((o) => w.serfStatusOf(o, 'n6') === 'alive' && w.serfStatusOf('n6', o) === 'alive'), 60_000) !==
            null,
          'n6 alive again everywhere',
        );
        w.runFor(2000);
        for (const o of others) assert.ok(w.nodes.get(o)!.serf!.members.statusLTime('n6')! > before, `${o} holds n6's newer join time`);
      });
    }
  });

  it('user events are delivered exactly once to every node despite loss and duplication', () => {
    for (const seed of seeds(5)) {
      withSeed(seed, (s) => {
        const { w, names } = serfWorld(s, 10);
        w.network.link.loss = 0.05;
        w.network.link.duplicate = 0.3;
        const sent: string[] = [];
        for (let i = 0; i < 20; i++) {
          const from = names[Math.floor(w.random() * names.length)]!;
          w.userEvent(from, `e${i}`, new TextEncoder().encode(`from ${from}`));
          sent.push(`e${i}`);
          w.runFor(Math.floor(w.random() * 300));
        }
        const got = (o: string) => w.userEvents.filter((e) => e.observer === o).map((e) => e.event.name);
        // Anti-entropy (push/pull carries the recent events) fills in what gossip lost.
        const allGot = () => names.every((o) => sent.every((e) => got(o).includes(e)));
        assert.ok(
          w.runUntilTrue(allGot, 120_000) !== null,
          `every node got every event; missing: ${names.map((o) => sent.filter((e) => !got(o).includes(e)).join(',')).join(' | ')}`,
        );
        w.runFor(35_000); // push/pulls replay the ring: still no duplicate
        for (const o of names) assert.deepEqual([...got(o)].sort(), [...sent].sort(), `${o} got each event once`);
      });
    }
  });
});
