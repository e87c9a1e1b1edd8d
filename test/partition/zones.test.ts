import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createPartitionTable, diffOwnership, ownershipOf, type OwnershipChange, type PartitionTable } from '../../src/index.js';
import { memberNames, seededNames } from '../helpers/members.js';
import { check } from '../helpers/property.js';
import { constrainedOwners, constrainedOwnersByFullRanking, memberHashes, rankScratch } from '../../src/partition/rendezvous.js';

/** Members with a zone each (0..zones-1, or none) and a weight each (1 or something in (0, 16]). */
const layout = (minMembers = 1, maxMembers = 12) =>
  memberNames(minMembers, maxMembers).chain((members) =>
    fc.record({
      members: fc.constant(members),
      zones: fc.array(fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), {
        minLength: members.length,
        maxLength: members.length,
      }),
      weights: fc.array(fc.oneof(fc.constant(1), fc.double({ min: 0.01, max: 16, noNaN: true })), {
        minLength: members.length,
        maxLength: members.length,
      }),
      replicas: fc.integer({ min: 1, max: 5 }),
      partitions: fc.integer({ min: 1, max: 200 }),
    }),
  );

function zoneRecord(members: readonly string[], zones: readonly (number | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  members.forEach((m, i) => {
    if (zones[i] !== undefined) out[m] = `zone-${zones[i]}`;
  });
  return out;
}

function weightRecord(members: readonly string[], weights: readonly number[]): Record<string, number> {
  return Object.fromEntries(members.map((m, i) => [m, weights[i]!]));
}

/** The zone a member counts in: its named zone, or a zone of its own. */
const zoneKey = (zones: Record<string, string>, m: string) => (Object.hasOwn(zones, m) ? `z:${zones[m]}` : `m:${m}`);

/** Applies changes to a partition → replica map, failing on any change that does not fit it. */
function apply(held: Map<number, number>, changes: readonly OwnershipChange[]): Map<number, number> {
  const next = new Map(held);
  for (const c of changes) {
    const current = next.get(c.partition);
    if (c.type === 'acquire') {
      assert.equal(current, undefined);
      next.set(c.partition, c.replica);
    } else if (c.type === 'release') {
      assert.equal(current, c.replica);
      next.delete(c.partition);
    } else {
      assert.equal(current, c.previousReplica);
      next.set(c.partition, c.replica);
    }
  }
  return next;
}

function minus(a: readonly string[], b: readonly string[]): string[] {
  return a.filter((x) => !b.includes(x));
}

describe('zone-aware and weighted rendezvous', () => {
  it('the first min(R, zones) replicas are in distinct zones; with fewer zones than R the rest spread round-robin', () => {
    check(
      fc.property(layout(), ({ members, zones, weights, replicas, partitions }) => {
        const z = zoneRecord(members, zones);
        const table = createPartitionTable({ members, partitions, replicas, zones: z, weights: weightRecord(members, weights) });
        const zoneSize = new Map<string, number>();
        for (const m of members) zoneSize.set(zoneKey(z, m), (zoneSize.get(zoneKey(z, m)) ?? 0) + 1);
        const zoneCount = zoneSize.size;
        for (let p = 0; p < partitions; p++) {
          const owners = table.membersForPartition(p);
          assert.equal(owners.length, Math.min(replicas, members.length));
          assert.equal(new Set(owners).size, owners.length);
          const first = owners.slice(0, Math.min(replicas, zoneCount)).map((m) => zoneKey(z, m));
          assert.equal(new Set(first).size, first.length, `partition ${p}: ${owners.join(',')} repeats a zone early`);
          const per = new Map<string, number>();
          for (const m of owners) per.set(zoneKey(z, m), (per.get(zoneKey(z, m)) ?? 0) + 1);
          // Round-robin: a zone holds 2+ more than another only when the other has no member left.
          for (const [a, ca] of per) {
            for (const b of zoneSize.keys()) {
              const cb = per.get(b) ?? 0;
              if (ca > cb + 1) assert.equal(cb, zoneSize.get(b), `partition ${p}: ${a} holds ${ca}, ${b} only ${cb} with members left`);
            }
          }
        }
      }),
      150,
    );
  });

  it('fewer zones than R: 2 zones × 4 members and R = 4 give 2 + 2; zones of 1 and 5 with R = 3 give 1 + 2; 3 zones and R = 5 give 2, 2, 1', () => {
    const cases: [number[], number, number[]][] = [
      [[4, 4], 4, [2, 2]],
      [[1, 5], 3, [1, 2]],
      [[3, 3, 3], 5, [1, 2, 2]],
    ];
    for (const [sizes, replicas, expected] of cases) {
      const members = seededNames(
        sizes.reduce((a, b) => a + b, 0),
        replicas * 7 + sizes.length,
      );
      const zones: Record<string, string> = {};
      let i = 0;
      sizes.forEach((size, zone) => {
        for (let k = 0; k < size; k++) zones[members[i++]!] = `z${zone}`;
      });
      const table = createPartitionTable({ members, partitions: 500, replicas, zones });
      for (let p = 0; p < 500; p++) {
        const per = new Map<string, number>();
        for (const m of table.membersForPartition(p)) per.set(zones[m]!, (per.get(zones[m]!) ?? 0) + 1);
        assert.deepEqual(
          [...per.values()].sort((a, b) => a - b),
          expected,
          `partition ${p}`,
        );
      }
    }
  });

  it('does not depend on the order of members, zones or weights', () => {
    check(
      fc.property(
        layout().chain((l) => fc.tuple(fc.constant(l), fc.shuffledSubarray([...l.members.keys()], { minLength: l.members.length }))),
        ([{ members, zones, weights, replicas, partitions }, order]) => {
          const z = zoneRecord(members, zones);
          const w = weightRecord(members, weights);
          const t1 = createPartitionTable({ members, partitions, replicas, zones: z, weights: w });
          const shuffled = order.map((i) => members[i]!);
          const z2 = Object.fromEntries(Object.entries(z).reverse());
          const w2 = Object.fromEntries(Object.entries(w).reverse());
          const t2 = createPartitionTable({ members: shuffled, partitions, replicas, zones: z2, weights: w2 });
          assert.equal(t1.checksum, t2.checksum);
          for (let p = 0; p < partitions; p++) assert.deepEqual(t1.membersForPartition(p), t2.membersForPartition(p));
        },
      ),
    );
  });

  it('diffOwnership is exact between any two zoned, weighted tables', () => {
    check(
      fc.property(layout(2), fc.integer({ min: 0, max: 1 << 20 }), ({ members, zones, weights, replicas, partitions }, seed) => {
        const z = zoneRecord(members, zones);
        const before = createPartitionTable({ members, partitions, replicas, zones: z, weights: weightRecord(members, weights) });
        // After: one member gone, and one weight and one zone changed.
        const gone = members[seed % members.length]!;
        const rest = members.filter((m) => m !== gone);
        const w2 = weightRecord(members, weights);
        w2[rest[seed % rest.length]!] = 1 + (seed % 5);
        const z2 = { ...z, [rest[(seed >> 3) % rest.length]!]: 'zone-moved' };
        const after = createPartitionTable({ members: rest, partitions, replicas, zones: z2, weights: w2 });
        for (const local of members) {
          const got = apply(ownershipOf(before, local), diffOwnership(before, after, local));
          assert.deepEqual(got, ownershipOf(after, local), `member ${local}`);
        }
      }),
      100,
    );
  });

  // With at least R zones, the owners are the best member of each of the R best zones: a join,
  // a leave or one member's weight change alters at most one slot per partition, and only one
  // involving that member (the minimum data movement).
  function assertMinimal(before: PartitionTable, after: PartitionTable, who: string): void {
    for (let p = 0; p < before.partitions; p++) {
      const old = before.membersForPartition(p);
      const now = after.membersForPartition(p);
      const added = minus(now, old);
      const removed = minus(old, now);
      assert.ok(added.length <= 1 && removed.length <= 1, `partition ${p}: ${old.join(',')} → ${now.join(',')}`);
      if (added.length + removed.length > 0) assert.ok(added.includes(who) || removed.includes(who), `partition ${p}: ${who} not involved`);
    }
  }

  it('with at least R zones, a join, a leave or a weight change moves only the slots it must', () => {
    check(
      fc.property(
        layout(2),
        fc.nat(),
        fc.double({ min: 0.05, max: 20, noNaN: true }),
        ({ members, zones, weights, replicas, partitions }, pick, newWeight) => {
          const z = zoneRecord(members, zones);
          const w = weightRecord(members, weights);
          const who = members[pick % members.length]!;
          const rest = members.filter((m) => m !== who);
          const zoneCount = new Set(rest.map((m) => zoneKey(z, m))).size;
          fc.pre(zoneCount >= replicas);
          const without = createPartitionTable({ members: rest, partitions, replicas, zones: z, weights: w });
          const withIt = createPartitionTable({ members, partitions, replicas, zones: z, weights: w });
          assertMinimal(without, withIt, who); // join
          assertMinimal(withIt, without, who); // leave
          const reweighted = createPartitionTable({ members, partitions, replicas, zones: z, weights: { ...w, [who]: newWeight } });
          assertMinimal(withIt, reweighted, who);
        },
      ),
    );
  });

  it('a member’s share of primaries is proportional to its weight (P = 65536, within 5 standard deviations)', () => {
    const members = seededNames(8, 77);
    const weights = Object.fromEntries(members.map((m, i) => [m, [1, 1, 2, 3, 0.5, 8, 1.5, 4][i]!]));
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    const partitions = 65536;
    const table = createPartitionTable({ members, partitions, weights });
    const counts = new Map<string, number>();
    for (let p = 0; p < partitions; p++) {
      const o = table.membersForPartition(p)[0]!;
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    for (const m of members) {
      const mean = (partitions * weights[m]!) / total;
      assert.ok(
        Math.abs((counts.get(m) ?? 0) - mean) <= 5 * Math.sqrt(mean),
        `${m} (weight ${weights[m]}) holds ${counts.get(m)}, expected ${mean.toFixed(0)}`,
      );
    }
  });

  it('zones that constrain nothing and equal weights give exactly the plain rendezvous table and checksum', () => {
    check(
      fc.property(
        memberNames(1, 10),
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0.1, max: 100, noNaN: true }),
        (members, replicas, weight) => {
          const plain = createPartitionTable({ members, partitions: 64, replicas, placement: 'rendezvous' });
          const zones = Object.fromEntries(members.map((m, i) => [m, `own-${i}`]));
          const weights = Object.fromEntries(members.map((m) => [m, weight]));
          const same = createPartitionTable({ members, partitions: 64, replicas, zones, weights });
          assert.equal(same.checksum, plain.checksum);
          assert.equal(same.zones, null);
          assert.equal(same.weights, null);
          for (let p = 0; p < 64; p++) assert.deepEqual(same.membersForPartition(p), plain.membersForPartition(p));
        },
      ),
      100,
    );
  });

  it('checksum changes with any zone or weight that matters', () => {
    const members = ['a', 'b', 'c', 'd'];
    const base = createPartitionTable({
      members,
      partitions: 128,
      replicas: 2,
      zones: { a: 'x', b: 'x', c: 'y', d: 'y' },
      weights: { a: 2 },
    });
    const variants = [
      createPartitionTable({ members, partitions: 128, replicas: 2, zones: { a: 'x', b: 'x', c: 'y', d: 'y' } }),
      createPartitionTable({ members, partitions: 128, replicas: 2, zones: { a: 'x', b: 'x', c: 'y', d: 'y' }, weights: { a: 3 } }),
      createPartitionTable({ members, partitions: 128, replicas: 2, zones: { a: 'x', b: 'x', c: 'y', d: 'y' }, weights: { b: 2 } }),
      createPartitionTable({ members, partitions: 128, replicas: 2, zones: { a: 'x', b: 'y', c: 'y', d: 'y' }, weights: { a: 2 } }),
      createPartitionTable({ members, partitions: 128, replicas: 2, zones: { a: 'x', b: 'x', c: 'yy', d: 'yy' }, weights: { a: 2 } }),
      createPartitionTable({ members, partitions: 128, replicas: 2, zones: { a: 'x', b: 'x' }, weights: { a: 2 } }),
      createPartitionTable({ members, partitions: 128, replicas: 2, weights: { a: 2 } }),
      createPartitionTable({ members, partitions: 128, replicas: 2, placement: 'rendezvous' }),
    ];
    const all = new Set([base.checksum, ...variants.map((t) => t.checksum)]);
    assert.equal(all.size, variants.length + 1);
    assert.equal(
      createPartitionTable({
        members: ['d', 'c', 'b', 'a'],
        partitions: 128,
        replicas: 2,
        zones: { d: 'y', c: 'y', b: 'x', a: 'x', e: 'q' },
        weights: { a: 2, zz: 5 },
      }).checksum,
      base.checksum,
      'non-members are ignored',
    );
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['placement jump with zones', { placement: 'jump', zones: { a: 'x' } }, /^placement must be 'rendezvous'/],
    ['zones not an object', { zones: 'a=x' }, /^zones must be an object/],
    ['zones an array', { zones: ['x'] }, /^zones must be an object/],
    ['a numeric zone', { zones: { a: 1 } }, /^zones must be non-empty.*member "a".*got 1$/],
    ['an empty zone', { zones: { a: '' } }, /^zones must be non-empty/],
    ['a long zone', { zones: { a: 'z'.repeat(257) } }, /^zones must be/],
    ['weights not an object', { weights: 2 }, /^weights must be an object/],
    ['weight 0', { weights: { a: 0 } }, /^weights must be finite numbers in \(0, 1000000\] \(member "a"\), got 0$/],
    ['negative weight', { weights: { b: -1 } }, /^weights must be .*member "b"/],
    ['NaN weight', { weights: { a: Number.NaN } }, /^weights must be/],
    ['infinite weight', { weights: { a: Number.POSITIVE_INFINITY } }, /^weights must be/],
    ['weight above 1e6', { weights: { a: 1e6 + 1 } }, /^weights must be/],
    ['string weight', { weights: { a: '2' } }, /^weights must be/],
  ];
  for (const [label, patch, message] of bad) {
    it(`rejects ${label} with ERR_INVALID_OPTION naming the option`, () => {
      assert.throws(
        () => createPartitionTable({ members: ['a', 'b'], partitions: 16, ...patch } as never),
        (err: unknown) => {
          assert.equal((err as { code?: string }).code, 'ERR_INVALID_OPTION');
          assert.match((err as Error).message, message);
          return true;
        },
      );
    });
  }
});

describe('constrainedOwners: the candidate pass against the full ranking', () => {
  it("gives the full ranking's owners for every partition (large zones, fewer zones than R, extreme weights)", () => {
    check(
      fc.property(
        fc.integer({ min: 1, max: 80 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            zoneCount: fc.integer({ min: 1, max: 6 }),
            zoneOf: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: n, maxLength: n }),
            weights: fc.option(
              fc.array(fc.oneof(fc.constant(1), fc.constant(1e6), fc.constant(1e-9), fc.double({ min: 1e-6, max: 1e6, noNaN: true })), {
                minLength: n,
                maxLength: n,
              }),
              { nil: null },
            ),
            replicas: fc.integer({ min: 1, max: 8 }),
            seed: fc.integer({ min: 0, max: 1e6 }),
          }),
        ),
        ({ n, zoneCount, zoneOf, weights, replicas, seed }) => {
          const names = Array.from({ length: n }, (_, i) => `m-${seed}-${i}`).sort();
          const hashes = memberHashes(names);
          // Dense zone ids: members of a zone beyond zoneCount get one of their own.
          let next = zoneCount;
          const zones = Int32Array.from(zoneOf, (z) => (z < zoneCount ? z : next++));
          const used = [...new Set(zones)].sort((a, b) => a - b);
          const dense = Int32Array.from(zones, (z) => used.indexOf(z));
          const scratch = rankScratch(dense, weights === null ? null : Float64Array.from(weights), replicas);
          const width = Math.min(replicas, n);
          const fast = new Int32Array(width);
          const full = new Int32Array(width);
          for (let p = 0; p < 64; p++) {
            assert.equal(constrainedOwners(hashes, p, replicas, fast, scratch), width);
            assert.equal(constrainedOwnersByFullRanking(hashes, p, replicas, full, scratch), width);
            assert.deepEqual([...fast], [...full], `partition ${p}`);
          }
        },
      ),
      300,
    );
  });
});
