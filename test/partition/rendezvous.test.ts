import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { createPartitionTable, rendezvousWeight } from '../../src/index.js';
import { memberNames, seededNames } from '../helpers/members.js';
import { check } from '../helpers/property.js';

const MASK64 = (1n << 64n) - 1n;
const { h64Raw } = await xxhash();
const utf8 = new TextEncoder();

/** The documented weight, transcribed with BigInt: fmix64(xxh64(name) ^ (p * golden)). */
function weightReference(name: string, p: number): bigint {
  let k = h64Raw(utf8.encode(name), 0n) ^ ((BigInt(p) * 0x9e3779b97f4a7c15n) & MASK64);
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  k ^= k >> 33n;
  return k;
}

describe('rendezvous placement', () => {
  it('weights follow the documented formula', () => {
    check(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.nat({ max: 0x7fffffff }), (name, p) => {
        assert.equal(rendezvousWeight(h64Raw(utf8.encode(name), 0n), p), weightReference(name, p));
      }),
      500,
    );
  });

  it('owners are the members with the highest weights, highest first', () => {
    check(
      fc.property(memberNames(1, 12), fc.integer({ min: 1, max: 4 }), (members, replicas) => {
        const table = createPartitionTable({ members, partitions: 64, replicas, placement: 'rendezvous' });
        for (let p = 0; p < 64; p++) {
          const expected = [...members]
            .map((m) => ({ m, w: weightReference(m, p) }))
            .sort((a, b) => (a.w === b.w ? 0 : a.w > b.w ? -1 : 1))
            .slice(0, replicas)
            .map((x) => x.m);
          assert.deepEqual(table.membersForPartition(p), expected);
        }
      }),
      60,
    );
  });

  // A single join or leave moves only the changed member's slots (minimal disruption, checked
  // exactly per partition), and on average that is the ideal share: 1/(N+1) of the slots for a
  // join, 1/N for a leave. Our bound is 1.05 × ideal, averaged over the trials below.
  const cases: [n: number, partitions: number, replicas: number, trials: number][] = [
    [3, 2056, 1, 100],
    [3, 2056, 3, 100],
    [10, 2056, 1, 100],
    [10, 2056, 3, 100],
    [50, 2056, 1, 100],
    [50, 2056, 3, 60],
    [200, 8192, 3, 12],
  ];
  for (const [n, partitions, replicas, trials] of cases) {
    it(`moves only the changed member's data, ≤ 1.05 × ideal on average (N=${n}, R=${replicas}, P=${partitions})`, () => {
      let joinMoved = 0;
      let joinIdeal = 0;
      let leaveMoved = 0;
      let leaveIdeal = 0;
      for (let trial = 1; trial <= trials; trial++) {
        const names = seededNames(n + 1, trial * 7919 + n);
        const base = names.slice(0, n);
        const joiner = names[n]!;
        const leaver = base[trial % n]!;
        const before = createPartitionTable({ members: base, partitions, replicas, placement: 'rendezvous' });
        const joined = createPartitionTable({ members: names, partitions, replicas, placement: 'rendezvous' });
        const left = createPartitionTable({ members: base.filter((m) => m !== leaver), partitions, replicas, placement: 'rendezvous' });
        for (let p = 0; p < partitions; p++) {
          const old = before.membersForPartition(p);
          const gained = joined.membersForPartition(p).filter((m) => !old.includes(m));
          assert.ok(
            gained.every((m) => m === joiner),
            `partition ${p}: only the joiner gains`,
          );
          joinMoved += gained.length;
          const survivors = left.membersForPartition(p);
          const copied = survivors.filter((m) => !old.includes(m));
          assert.equal(
            copied.length,
            old.includes(leaver) && survivors.length === old.length ? 1 : 0,
            `partition ${p}: one copy per slot the leaver held`,
          );
          assert.ok(
            old.filter((m) => m !== leaver).every((m) => survivors.includes(m)),
            `partition ${p}: no survivor loses a slot`,
          );
          leaveMoved += copied.length;
        }
        const slotsAfterJoin = partitions * Math.min(replicas, n + 1);
        joinIdeal += slotsAfterJoin / (n + 1);
        // Ideal for a leave: the leaver's fair share of the old slots, which must be re-copied
        // only while the ring still has R members left to hold them.
        leaveIdeal += replicas < n ? (partitions * replicas) / n : 0;
      }
      assert.ok(joinMoved <= 1.05 * joinIdeal, `join moved ${joinMoved}, ideal ${joinIdeal.toFixed(0)}`);
      assert.ok(leaveMoved <= 1.05 * leaveIdeal, `leave moved ${leaveMoved}, ideal ${leaveIdeal.toFixed(0)}`);
    });
  }
});
