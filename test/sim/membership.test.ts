import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pushPullIntervalMs } from '../../src/gossip/config.js';
import { ALIVE } from '../../src/gossip/members.js';
import { cluster, converged, seeds, withSeed, world } from '../helpers/sim.js';

describe('simulated membership (LAN profile)', () => {
  it('50 nodes joining random earlier nodes converge: everyone sees everyone alive', () =>
    withSeed(11, (seed) => {
      const w = world(seed);
      cluster(w, 50);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 60_000),
        null,
        'converged within 60 s',
      );
    }));

  it('1 000 nodes join at once through random earlier nodes: every node sees all 1 000 alive', () =>
    withSeed(7, (seed) => {
      const w = world(seed);
      cluster(w, 1000);
      const live = w.liveNodes();
      const t = (a: (typeof live)[number]) => a.machine.members;
      const allAlive = () => live.every((a) => t(a).size === 1000 && [...t(a).slots()].every((slot) => t(a).status(slot) === ALIVE));
      let checkedAt = 0;
      // Checking 10⁶ entries is costly: every second is fine-grained enough here.
      // The join epidemic runs while most nodes know few members (so few retransmits), and
      // can miss a member here and there; the push/pull anti-entropy repairs that, and at
      // 1 000 nodes it runs every 180 s. So the bound is the storm plus one such interval.
      const limitMs = 60_000 + pushPullIntervalMs(w.config, 1000);
      const at = w.runUntilTrue(() => w.nowMs - checkedAt >= 1000 && ((checkedAt = w.nowMs), allAlive()), limitMs);
      assert.notEqual(at, null, `all alive within ${limitMs / 1000} simulated seconds`);
    }));

  it('a crashed node is marked dead by all within the profile bound, and nobody else is', () =>
    withSeed(12, (seed) => {
      const w = world(seed);
      const names = cluster(w, 20);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 60_000),
        null,
      );
      w.runFor(5_000);
      const victim = names[7]!;
      w.crash(victim);
      const start = w.nowMs;
      // Bound: detected by a probe within two intervals, then the longest suspicion (no
      // confirmations: SuspicionMaxTimeoutMult × min), then dissemination.
      const c = w.config;
      const minMs = c.suspicionMult * Math.max(1, Math.log10(20)) * c.probeIntervalMs;
      const bound = 2 * c.probeIntervalMs + c.suspicionMaxTimeoutMult * minMs + 2_000;
      const at = w.runUntilTrue(() => w.liveNodes().every((n) => w.statusOf(n.name, victim) === 'dead'), bound);
      assert.notEqual(at, null, `all see ${victim} dead within ${bound} ms`);
      const falseDeaths = w.events.filter((e) => e.atMs >= start && e.change === 'leave' && e.member.name !== victim);
      assert.deepEqual(falseDeaths, []);
    }));

  it('a graceful leave is seen by all as left, not failed', () =>
    withSeed(13, (seed) => {
      const w = world(seed);
      const names = cluster(w, 20);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 60_000),
        null,
      );
      w.leave(names[3]!);
      const at = w.runUntilTrue(() => w.liveNodes().every((n) => n.name === names[3] || w.statusOf(n.name, names[3]!) === 'left'), 10_000);
      assert.notEqual(at, null, 'all see it left within 10 s');
      w.runFor(30_000);
      assert.ok(
        w.liveNodes().every((n) => w.statusOf(n.name, names[3]!) === 'left'),
        'and it stays left',
      );
    }));

  it('100 nodes under 10 % packet loss for 10 simulated minutes: no false failure (Lifeguard)', () =>
    withSeed(14, (seed) => {
      const w = world(seed);
      cluster(w, 100);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 120_000),
        null,
      );
      w.network.link.loss = 0.1;
      const start = w.nowMs;
      w.runFor(600_000);
      const failures = w.events.filter((e) => e.atMs >= start && e.change === 'leave');
      assert.equal(
        failures.length,
        0,
        `false failures: ${failures
          .slice(0, 5)
          .map((e) => `${e.observer} saw ${e.member.name} ${e.member.status}`)
          .join(', ')}`,
      );
    }));

  it('two halves of a 60 s network partition merge by themselves within two push/pull intervals of healing', () =>
    withSeed(15, (seed) => {
      const w = world(seed);
      const names = cluster(w, 20);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 60_000),
        null,
      );
      const addresses = (list: string[]) => list.map((n) => `${w.nodes.get(n)!.address.host}:7946`);
      const left = names.slice(0, 10);
      const right = names.slice(10);
      w.network.partition(addresses(left), addresses(right));
      w.runFor(60_000);
      assert.ok(
        left.every((a) => right.every((b) => w.statusOf(a, b) === 'dead')),
        'each half saw the other fail',
      );
      w.network.heal();
      const limit = 2 * pushPullIntervalMs(w.config, 20);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), limit),
        null,
        `one cluster again within ${limit} ms`,
      );
    }));

  it('the halves of a 3/3 network partition are one cluster again within 10 s of healing (20 seeds)', () => {
    for (const seed of seeds(20)) {
      withSeed(seed, () => {
        const w = world(seed);
        const names = w.addConvergedCluster(6);
        w.runFor(10_000);
        const addresses = (list: string[]) => list.map((n) => `${w.nodes.get(n)!.address.host}:${w.nodes.get(n)!.address.port}`);
        w.network.partition(addresses(names.slice(0, 3)), addresses(names.slice(3)));
        w.runFor(60_000);
        assert.equal(w.statusOf('n0', 'n5'), 'dead', 'each half saw the other fail');
        w.network.heal();
        // Reconnect attempts (every reconnectIntervalMs, probability failed / alive) find the
        // other half; refutations go straight to whoever still holds the verdict.
        assert.notEqual(
          w.runUntilTrue(() => converged(w), 10_000),
          null,
          'one cluster within 10 s',
        );
      });
    }
  });

  it('a node restarted with the same name is re-admitted by refuting its stale state', () =>
    withSeed(16, (seed) => {
      const w = world(seed);
      const names = cluster(w, 10);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 60_000),
        null,
      );
      w.crash(names[4]!);
      assert.notEqual(
        w.runUntilTrue(() => w.liveNodes().every((n) => w.statusOf(n.name, names[4]!) === 'dead'), 60_000),
        null,
      );
      w.restart(names[4]!, names[0]!);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 30_000),
        null,
        'alive again everywhere',
      );
      assert.ok(w.nodes.get(names[4]!)!.machine.incarnation > 1, 'by refutation, with a higher incarnation');
    }));
});
