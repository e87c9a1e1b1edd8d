import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  createPartitionTable,
  diffOwnership,
  ownershipOf,
  type OwnershipChange,
  type PartitionTable,
  type Placement,
} from '../../src/index.js';
import { seededNames } from '../helpers/members.js';
import { check } from '../helpers/property.js';

/** Applies changes to a partition → replica map, failing on any change that does not fit it. */
function apply(held: Map<number, number>, changes: readonly OwnershipChange[]): Map<number, number> {
  const next = new Map(held);
  for (const c of changes) {
    const current = next.get(c.partition);
    if (c.type === 'acquire') {
      assert.equal(current, undefined, `acquire of held partition ${c.partition}`);
      next.set(c.partition, c.replica);
    } else if (c.type === 'release') {
      assert.equal(current, c.replica, `release of partition ${c.partition} not held at ${c.replica}`);
      next.delete(c.partition);
    } else {
      assert.equal(current, c.previousReplica, `${c.type} from the wrong replica`);
      assert.ok(c.type === 'promote' ? c.replica < c.previousReplica : c.replica > c.previousReplica);
      next.set(c.partition, c.replica);
    }
  }
  return next;
}

/** Two membership views over a small universe of names, and a local member from it. */
const scenario = fc
  .record({
    universe: fc.integer({ min: 1, max: 12 }).map((n) => seededNames(n, n * 31)),
    partitions: fc.integer({ min: 1, max: 300 }),
    replicas: fc.integer({ min: 1, max: 5 }),
    replicasAfter: fc.integer({ min: 1, max: 5 }),
    placement: fc.constantFrom<Placement>('jump', 'rendezvous'),
  })
  .chain((s) =>
    fc.record({
      s: fc.constant(s),
      before: fc.subarray(s.universe),
      after: fc.subarray(s.universe),
      local: fc.constantFrom(...s.universe),
      sameReplicas: fc.boolean(),
    }),
  );

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function tables(x: Scenario): [PartitionTable, PartitionTable] {
  const { partitions, replicas, replicasAfter, placement } = x.s;
  return [
    createPartitionTable({ members: x.before, partitions, replicas, placement }),
    createPartitionTable({ members: x.after, partitions, replicas: x.sameReplicas ? replicas : replicasAfter, placement }),
  ];
}

describe('ownership diff', () => {
  it('applying the diff to the old local ownership gives the new one, at most one change per partition, ascending', () => {
    check(
      fc.property(scenario, (x) => {
        const [before, after] = tables(x);
        const changes = diffOwnership(before, after, x.local);
        assert.deepEqual(apply(ownershipOf(before, x.local), changes), ownershipOf(after, x.local));
        for (let i = 1; i < changes.length; i++) assert.ok(changes[i - 1]!.partition < changes[i]!.partition);
      }),
      300,
    );
  });

  it('acquire.from is the first old owner still present; release.to is a new owner that was not an owner before', () => {
    check(
      fc.property(scenario, (x) => {
        const [before, after] = tables(x);
        for (const c of diffOwnership(before, after, x.local)) {
          const oldOwners = before.membersForPartition(c.partition);
          const newOwners = after.membersForPartition(c.partition);
          if (c.type === 'acquire') {
            assert.equal(c.from, oldOwners.find((m) => after.hasMember(m)) ?? null);
          } else if (c.type === 'release') {
            const arrivals = newOwners.filter((m) => !oldOwners.includes(m));
            if (c.to === null) {
              const departures = oldOwners.filter((m) => !newOwners.includes(m));
              assert.ok(arrivals.length < departures.length, 'to is null only when fewer members arrive than leave');
            } else {
              assert.ok(arrivals.includes(c.to));
            }
          }
        }
      }),
      300,
    );
  });

  it('a membership change that changes nothing for the member emits nothing', () => {
    check(
      fc.property(scenario, (x) => {
        const [before] = tables(x);
        const { partitions, replicas, placement } = x.s;
        const same = createPartitionTable({ members: [...x.before].reverse(), partitions, replicas, placement });
        assert.deepEqual(diffOwnership(before, same, x.local), []);
      }),
    );
  });

  it('libring scale: a no-op update at P = 2056, N = 10, R = 3 emits 0 events (libring: 2480)', () => {
    const members = Array.from({ length: 10 }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
    const before = createPartitionTable({ members, partitions: 2056, replicas: 3, hash: 'fnv1a64' });
    const after = createPartitionTable({ members: [...members].reverse(), partitions: 2056, replicas: 3, hash: 'fnv1a64' });
    assert.equal(diffOwnership(before, after, 'node-05').length, 0);
    assert.ok(ownershipOf(before, 'node-05').size > 0);
  });

  it('bootstrap: from an empty table every held partition is acquired from nobody', () => {
    const empty = createPartitionTable({ members: [], partitions: 128, replicas: 2 });
    const full = createPartitionTable({ members: ['a', 'b', 'c'], partitions: 128, replicas: 2 });
    const changes = diffOwnership(empty, full, 'b');
    assert.equal(changes.length, ownershipOf(full, 'b').size);
    assert.ok(changes.every((c) => c.type === 'acquire' && c.from === null));
  });

  it('names the successor on release and the source on acquire (R = 1, a member leaves)', () => {
    const before = createPartitionTable({ members: ['a', 'b', 'c'], partitions: 64, placement: 'rendezvous' });
    const after = createPartitionTable({ members: ['a', 'c'], partitions: 64, placement: 'rendezvous' });
    const released = diffOwnership(before, after, 'b');
    assert.ok(released.length > 0);
    for (const c of released) {
      assert.equal(c.type, 'release');
      assert.equal(c.type === 'release' && c.to, after.membersForPartition(c.partition)[0]);
    }
    // The member that returns gets its partitions back from whoever held them meanwhile.
    for (const c of diffOwnership(after, before, 'b')) {
      assert.deepEqual(c, { type: 'acquire', partition: c.partition, replica: 0, from: after.membersForPartition(c.partition)[0] });
    }
  });

  it('refuses tables with different partition counts', () => {
    const a = createPartitionTable({ members: ['a'], partitions: 8 });
    const b = createPartitionTable({ members: ['a'], partitions: 16 });
    assert.throws(() => diffOwnership(a, b, 'a'), { code: 'ERR_INVALID_ARGUMENT', message: /partitions/ });
  });
});
