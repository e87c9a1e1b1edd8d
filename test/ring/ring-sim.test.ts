// The ring in the simulator: 50 members, P = 2056, R = 3, with churn, loss and
// restarts. Every member's view is replayed from the Serf notifications it received.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import type { SerfMember } from '../../src/serf/serf-members.js';
import { type OwnershipChange, ownershipOf } from '../../src/partition/diff.js';
import { resolvePartitionOptions } from '../../src/partition/options.js';
import { RingView } from '../../src/ring/ring-view.js';
import { SimWorld } from '../../src/sim/world.js';
import { seeds, withSeed } from '../helpers/sim.js';

const options = resolvePartitionOptions({ partitions: 2056, replicas: 3 });
const N = 50;

/** Replays one life of one member: its view, and the stream of its ownership changes. */
function replay(w: SimWorld, observer: string, life: number): { view: RingView; changes: OwnershipChange[] } {
  const view = new RingView(observer, options, () => true);
  const self = w.nodes.get(observer)!.serf!.members.get(observer)!;
  const changes: OwnershipChange[] = [...view.apply({ ...self, status: 'alive' } as SerfMember)];
  for (const e of w.serfEvents) {
    if (e.observer !== observer || e.life !== life) continue;
    changes.push(...view.apply(e.member, e.change === 'reap'));
  }
  return { view, changes };
}

describe('the ring in the simulator', () => {
  it('50 members with churn, loss and restarts: views agree, owners distinct, event streams exact', () => {
    for (const seed of seeds(2)) {
      withSeed(seed, (s) => {
        const w = new SimWorld(s, resolveGossipConfig('lan'), { serf: true });
        w.maxEvents = 10_000_000;
        const names = Array.from({ length: N }, (_, i) => `m${String(i).padStart(2, '0')}`);
        w.addNode(names[0]!);
        for (let i = 1; i < N; i++) w.addNode(names[i]!, names[Math.floor(w.random() * i)]!);
        w.runFor(10_000);
        w.network.link.loss = 0.05;
        // Churn: every 4 s a member crashes, and the one before comes back.
        let down: string | undefined;
        for (let round = 0; round < 10; round++) {
          if (down) w.restart(down, names[0] === down ? names[1]! : names[0]!);
          down = names[1 + Math.floor(w.random() * (N - 1))]!;
          w.crash(down);
          w.runFor(4000);
        }
        if (down) w.restart(down, names[0]!);
        w.network.link.loss = 0;
        const live = () => w.liveNodes().map((n) => n.name);
        const settled = () => live().length === N && live().every((o) => live().every((x) => w.serfStatusOf(o, x) === 'alive'));
        assert.ok(w.runUntilTrue(settled, 120_000) !== null, 'everyone alive everywhere again');

        const checksums = new Set<string>();
        for (const node of w.liveNodes()) {
          const { view, changes } = replay(w, node.name, node.life);
          checksums.add(view.table.checksum);
          // Exactly min(R, n) distinct owners per partition.
          for (let p = 0; p < options.partitions; p += 97) {
            const owners = view.table.membersForPartition(p);
            assert.equal(new Set(owners).size, Math.min(3, N));
          }
          // The stream is well formed and ends at the member's share of the table.
          const held = new Map<number, number>();
          for (const c of changes) {
            if (c.type === 'acquire') {
              assert.ok(!held.has(c.partition), `${node.name}: double acquire of ${c.partition}`);
              held.set(c.partition, c.replica);
            } else if (c.type === 'release') {
              assert.ok(held.has(c.partition), `${node.name}: release of ${c.partition} without acquire`);
              held.delete(c.partition);
            } else {
              assert.equal(held.get(c.partition), c.previousReplica, `${node.name}: ${c.type} from a replica it did not hold`);
              held.set(c.partition, c.replica);
            }
          }
          assert.deepEqual(held, ownershipOf(view.table, node.name), `${node.name}: final holdings`);
        }
        assert.equal(checksums.size, 1, 'all views have the same checksum');
      });
    }
  });
});
