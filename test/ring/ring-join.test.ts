// The first view after a join, in the simulator: a member given seeds owns nothing
// until its join's state exchange completes, then takes its share of the ring it found at once
// (acquires only, each from the member that held the partition before); the members already
// there release exactly what it took. The same for a member restarted under the same name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { type OwnershipChange, diffOwnership, ownershipOf } from '../../src/partition/diff.js';
import { resolvePartitionOptions } from '../../src/partition/options.js';
import { PartitionTable } from '../../src/partition/table.js';
import { RingCore } from '../../src/ring/ring-core.js';
import { SimWorld } from '../../src/sim/world.js';
import { seeds, withSeed } from '../helpers/sim.js';

const jump = resolvePartitionOptions({ partitions: 256, replicas: 2 });
let partitions = jump;

interface Member {
  core: RingCore;
  life: number;
  changes: OwnershipChange[];
}

/** A world whose members run a RingCore each, joining (owning nothing) until their join succeeds. */
function ringWorld(seed: number, handoff: boolean) {
  const w = new SimWorld(seed, resolveGossipConfig('lan'), { serf: true });
  w.maxEvents = 0;
  const members = new Map<string, Member>();
  const record = (m: Member, outputs: ReturnType<RingCore['apply']>) => {
    for (const o of outputs) if (o.kind === 'change') m.changes.push(o.change);
  };
  w.onSerfEvent = (e) => {
    const m = members.get(e.observer);
    if (!m || m.life !== e.life || e.member.name === e.observer) return;
    record(m, m.core.apply(e.member, e.change === 'reap', w.nowMs));
  };
  w.onJoined = (name, life) => {
    const m = members.get(name);
    if (m && m.life === life) record(m, m.core.admit(w.nowMs));
  };
  /** Boots `name`'s ring (after addNode or restart): joining when it was given a seed. */
  const boot = (name: string, joining: boolean) => {
    const node = w.nodes.get(name)!;
    const m: Member = {
      core: new RingCore({ local: name, partitions, filter: () => true, handoff, handoffTimeoutMs: 60_000, retryDelayMs: 5000, joining }),
      life: node.life,
      changes: [],
    };
    members.set(name, m);
    record(m, m.core.apply(node.serf!.members.get(name)!, false, w.nowMs));
    return m;
  };
  const add = (name: string, seedName?: string) => {
    w.addNode(name, seedName);
    return boot(name, seedName !== undefined);
  };
  const settled = () => {
    const live = w.liveNodes().map((n) => n.name);
    return (
      live.every((o) => live.every((x) => w.serfStatusOf(o, x) === 'alive')) &&
      new Set(live.map((n) => members.get(n)!.core.table.checksum)).size === 1
    );
  };
  return { w, members, add, boot, settled };
}

/** The member's stream is exactly its share, as acquires from whoever held each partition without it. */
function assertShare(name: string, changes: readonly OwnershipChange[], without: PartitionTable, withIt: PartitionTable): void {
  const share = ownershipOf(withIt, name);
  assert.ok(share.size > 0, `${name} holds something`);
  assert.deepEqual(
    changes.map((c) => c.type).filter((t) => t !== 'acquire'),
    [],
    `${name}: acquires only`,
  );
  assert.deepEqual(new Map(changes.map((c) => [c.partition, c.replica])), share, `${name}: exactly its share`);
  assert.equal(changes.length, share.size, `${name}: one event per partition`);
  for (const c of changes) {
    assert.equal(
      c.type === 'acquire' && c.from,
      without.membersForPartition(c.partition)[0] ?? null,
      `${name}: from of partition ${c.partition}`,
    );
  }
}

describe('the first view after a join (simulator)', () => {
  for (const n of [1, 4, 20]) {
    it(`a newcomer joining a ${n}-member ring emits exactly its share; the others release exactly that to it`, () => {
      // Rendezvous moves only what the newcomer takes; jump also reshuffles replicas among the
      // members already there (diffOwnership says exactly how).
      for (const [seed, placement] of seeds(2).flatMap(
        (s) =>
          [
            [s, 'jump'],
            [s, 'rendezvous'],
          ] as const,
      )) {
        partitions = resolvePartitionOptions({ partitions: 256, replicas: 2, placement });
        withSeed(seed, (s) => {
          const { w, members, add, settled } = ringWorld(s, false);
          const names = Array.from({ length: n }, (_, i) => `m${String(i).padStart(2, '0')}`);
          add(names[0]!);
          for (let i = 1; i < n; i++) add(names[i]!, names[Math.floor(w.random() * i)]!);
          assert.ok(w.runUntilTrue(settled, 120_000) !== null, 'the ring settles');
          // Every member that joined also started with its share, not with the keyspace.
          const tableOf = (list: string[]) => new PartitionTable({ ...partitions, members: list });
          for (let i = 1; i < n; i++) {
            const m = members.get(names[i]!)!;
            assert.ok(
              m.changes.every((c) => c.type !== 'acquire' || c.from !== null),
              `${names[i]}: every acquire has a source`,
            );
          }
          const seen = new Map(names.map((name) => [name, members.get(name)!.changes.length]));

          const newcomer = add('new', names[Math.floor(w.random() * n)]!);
          assert.equal(newcomer.core.joining, true);
          assert.ok(w.runUntilTrue(settled, 120_000) !== null, 'the ring settles with the newcomer');
          const without = tableOf(names);
          const withIt = tableOf([...names, 'new']);
          assert.equal(newcomer.core.table.checksum, withIt.checksum);
          assertShare('new', newcomer.changes, without, withIt);

          let released = 0;
          for (const name of names) {
            const after = members.get(name)!.changes.slice(seen.get(name));
            assert.deepEqual(after, diffOwnership(without, withIt, name), `${name}: exactly its changes`);
            if (placement === 'jump') continue;
            for (const c of after) {
              assert.ok(c.type === 'release' || c.type === 'demote', `${name}: ${c.type}`);
              if (c.type === 'release') {
                assert.equal(c.to, 'new');
                released++;
              }
            }
          }
          if (placement === 'jump') return;
          // Every partition the newcomer took pushed one holder out, once the ring had R members.
          assert.equal(
            released,
            [...ownershipOf(withIt, 'new')].filter(([p]) => without.membersForPartition(p).length === partitions.replicas).length,
          );
        });
      }
    });
  }

  it('a member restarted under the same name emits only its share, from the members that took over', () => {
    partitions = jump;
    for (const handoff of [false, true]) {
      withSeed(1, (s) => {
        const { w, members, add, boot, settled } = ringWorld(s, handoff);
        const names = ['r0', 'r1', 'r2', 'r3', 'r4'];
        add(names[0]!);
        for (let i = 1; i < names.length; i++) add(names[i]!, names[0]!);
        assert.ok(w.runUntilTrue(settled, 120_000) !== null);
        w.crash('r3');
        const survivors = names.filter((x) => x !== 'r3');
        const shrunk = new PartitionTable({ ...partitions, members: survivors }).checksum;
        assert.ok(
          w.runUntilTrue(() => survivors.every((x) => members.get(x)!.core.table.checksum === shrunk), 120_000) !== null,
          'the survivors take over',
        );
        w.restart('r3', 'r0');
        const again = boot('r3', true);
        assert.ok(w.runUntilTrue(settled, 120_000) !== null, 'the ring settles with r3 back');
        assertShare(
          'r3',
          again.changes,
          new PartitionTable({ ...partitions, members: survivors }),
          new PartitionTable({ ...partitions, members: names }),
        );
      });
    }
  });

  it('a member whose seed never answers owns nothing and emits nothing, and keeps retrying', () => {
    const { w, add } = ringWorld(1, true);
    add('a');
    w.crash('a');
    const lonely = add('lonely', 'a');
    w.runFor(120_000);
    assert.equal(lonely.core.joining, true);
    assert.deepEqual(lonely.changes, []);
    assert.equal(lonely.core.table.members.length, 0);
    assert.equal(ownershipOf(lonely.core.table, 'lonely').size, 0);
  });
});
