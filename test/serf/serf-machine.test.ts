// The SerfMachine's own work (src/serf/serf-machine.ts): join and leave intents (across a
// Lamport wrap), the graceful leave, merging a peer's push/pull state, and Serf's force-leave
// (RemoveFailedNodePrune) in the simulator: a failed member goes to `left` everywhere and is no
// longer reconnected; with prune it is erased. An alive member refutes it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamMessage } from '../../src/gossip/codec/stream.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { encodeJoinIntent, encodeLeaveIntent } from '../../src/serf/messages.js';
import { encodeSerfState } from '../../src/serf/push-pull.js';
import { SimWorld } from '../../src/sim/world.js';
import { seeds, withSeed } from '../helpers/sim.js';
import { MAX, alivePacket, machine, machineKnowingB, of, serfPacket, text } from './helpers.js';

describe('the Serf layer across a wrap', () => {
  it('a join intent at 2^64−1 wraps the member clock to 0', () => {
    const m = machineKnowingB();
    m.handlePacket({ host: '10.9.9.9', port: 7946 }, serfPacket(encodeJoinIntent({ ltime: MAX, node: 'b' })), 1);
    assert.equal(m.members.statusLTime('b'), MAX);
    assert.equal(m.clock.time, 0n);
  });

  it('a leave intent at 2^64−1 about a live member does not make it leaving (no join could refute it)', () => {
    const m = machineKnowingB();
    m.handlePacket({ host: '10.9.9.9', port: 7946 }, serfPacket(encodeLeaveIntent({ ltime: MAX, node: 'b', prune: false })), 1);
    assert.equal(m.members.get('b')?.status, 'alive');
    assert.equal(m.clock.time, 0n, 'the clock still witnesses it, as Go');
    // One below is refutable, so it applies, as in Serf; the member's join at 2^64−1 refutes it.
    m.handlePacket({ host: '10.9.9.9', port: 7946 }, serfPacket(encodeLeaveIntent({ ltime: MAX - 1n, node: 'b', prune: false })), 2);
    assert.equal(m.members.get('b')?.status, 'leaving');
    m.handlePacket({ host: '10.0.0.2', port: 7946 }, serfPacket(encodeJoinIntent({ ltime: MAX, node: 'b' })), 3);
    assert.equal(m.members.get('b')?.status, 'alive');
  });
});

// docs/protocol.md#leaving-failure-reaping-and-reconnect
describe('graceful leave', () => {
  it("alone, a graceful leave is leaving, then memberlist's leave and `left` at once", () => {
    const m = machine();
    m.leave(0);
    const effects = m.drain();
    assert.deepEqual(
      of(effects, 'member').map((e) => [e.change, e.member.name, e.member.status]),
      [['update', 'me', 'leaving']],
    );
    assert.equal(of(effects, 'left').length, 1);
    assert.equal(m.gossip.member('me')?.status, 'left');
  });

  it("with others to tell, memberlist's leave comes after broadcastTimeoutMs if the leave intent has not gone out by then", () => {
    const m = machineKnowingB();
    m.leave(10);
    const effects = m.drain();
    assert.ok(m.leaving);
    assert.equal(m.members.get('me')?.status, 'leaving');
    assert.equal(m.gossip.member('me')?.status, 'alive', "memberlist's leave waits for the intent");
    const timeout = of(effects, 'timer').find((t) => t.timer.kind === 'leaveBroadcastTimeout');
    assert.equal(timeout?.atMs, 10 + m.config.broadcastTimeoutMs);
    m.handleTimer(timeout.timer, timeout.atMs);
    assert.equal(m.gossip.member('me')?.status, 'left');
  });
});

// docs/protocol.md#serf-state-exchange
describe('push/pull state merge', () => {
  it("a peer's state is merged as Serf's MergeRemoteState: clocks, members that left, intents held, recent events once", () => {
    const m = machineKnowingB();
    const state = {
      ltime: 40n,
      eventLTime: 7n,
      queryLTime: 9n,
      statusLTimes: new Map([
        ['b', 30n],
        ['c', 12n],
      ]),
      leftMembers: ['b'],
      events: [{ ltime: 5n, events: [{ name: 'deploy', payload: text('v1') }] }],
    };
    const request: StreamMessage = {
      type: 'pushPull',
      header: { nodes: 0, userStateLen: 0, join: false },
      states: [],
      userState: encodeSerfState(state),
    };
    assert.ok(m.handleStreamRequest({ host: '10.0.0.2', port: 7946 }, request, 5), 'we answer with our own state');
    const effects = m.drain();
    // Each clock witnesses the peer's time − 1, so it ends at the peer's time.
    assert.deepEqual([m.clock.time, m.eventClock.time, m.queryClock.time], [40n, 7n, 9n]);
    // A member the peer saw leave: a leave intent one past its status time.
    assert.deepEqual(
      of(effects, 'member').map((e) => [e.change, e.member.name, e.member.status]),
      [['update', 'b', 'leaving']],
    );
    assert.equal(m.members.statusLTime('b'), 31n);
    assert.deepEqual(
      of(effects, 'event').map((e) => [e.event.name, e.event.ltime]),
      [['deploy', 5n]],
    );
    // The same state again delivers nothing new.
    m.handleStreamRequest({ host: '10.0.0.2', port: 7946 }, request, 6);
    assert.deepEqual(m.drain(), []);
    // The intent about c, unknown until now, applies when memberlist brings it.
    m.handlePacket({ host: '10.0.0.3', port: 7946 }, alivePacket('c', 3), 7);
    assert.deepEqual(
      of(m.drain(), 'member').map((e) => [e.change, e.member.name, e.member.status]),
      [['join', 'c', 'alive']],
    );
    assert.equal(m.members.statusLTime('c'), 12n);
  });
});

function serfCluster(seed: number, n: number): { w: SimWorld; names: string[] } {
  const w = new SimWorld(seed, resolveGossipConfig('lan'), { serf: true });
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  w.addNode(names[0]!);
  for (let i = 1; i < n; i++) w.addNode(names[i]!, names[0]!);
  const all = (status: string, subject?: string) => (o: string) =>
    (subject ? [subject] : names).every((x) => w.serfStatusOf(o, x) === status);
  assert.notEqual(
    w.runUntilTrue(() => names.every(all('alive')), 60_000),
    null,
    'the cluster forms',
  );
  return { w, names };
}

describe('force-leave (simulator)', () => {
  for (const forced of [false, true]) {
    it(
      forced
        ? 'a failed member forced to leave is left everywhere and never reconnected'
        : 'without force-leave, a failed member that comes back is reconnected',
      () => {
        for (const seed of seeds(3)) {
          withSeed(seed, (s) => {
            const { w, names } = serfCluster(s, 5);
            const survivors = names.slice(0, 4);
            w.crash('n4');
            assert.notEqual(
              w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n4') === 'failed'), 120_000),
              null,
              'n4 is seen failed',
            );
            if (forced) {
              w.forceLeave('n0', 'n4');
              assert.notEqual(
                w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n4') === 'left'), 30_000),
                null,
                'n4 is left everywhere',
              );
            }
            // Past the window in which memberlist still gossips to the dead, n4 comes back alone at
            // the same address: only a reconnect can bring it in.
            w.runFor(resolveGossipConfig('lan').gossipToTheDeadMs + 1000);
            w.restart('n4');
            const rejoined = w.runUntilTrue(() => w.serfStatusOf('n4', 'n0') === 'alive', 10 * 60_000);
            if (forced) {
              assert.equal(rejoined, null, 'no one reconnected to n4');
              assert.ok(survivors.every((o) => w.serfStatusOf(o, 'n4') === 'left'));
            } else {
              assert.notEqual(rejoined, null, 'a survivor reconnected to n4');
            }
          });
        }
      },
    );
  }

  it('with prune the member is erased everywhere; an alive member refutes a force-leave', () => {
    withSeed(seeds(1)[0]!, (s) => {
      const { w, names } = serfCluster(s, 4);
      w.crash('n3');
      const survivors = names.slice(0, 3);
      assert.notEqual(
        w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n3') === 'failed'), 120_000),
        null,
      );
      w.forceLeave('n1', 'n3', true);
      assert.notEqual(
        w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n3') === undefined), 30_000),
        null,
        'n3 is erased everywhere',
      );
      w.forceLeave('n0', 'n2');
      w.runFor(30_000);
      assert.ok(
        survivors.every((o) => w.serfStatusOf(o, 'n2') === 'alive'),
        'n2 refuted and is alive everywhere',
      );
    });
  });
});
