import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_MATERIALIZED_PARTITIONS, MAX_PARTITIONS, createPartitionTable, jumpHash, type Placement } from '../../src/index.js';
import { memberNames, seededNames } from '../helpers/members.js';
import { anyUtf16String, check } from '../helpers/property.js';

const placements: Placement[] = ['jump', 'rendezvous'];

describe('partition table', () => {
  for (const placement of placements) {
    it(`${placement}: owners are distinct members, min(R, n) of them, for every partition`, () => {
      check(
        fc.property(memberNames(), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 6 }), (members, partitions, replicas) => {
          const table = createPartitionTable({ members, partitions, replicas, placement });
          const memberSet = new Set(members);
          for (let p = 0; p < partitions; p++) {
            const owners = table.membersForPartition(p);
            assert.equal(owners.length, Math.min(replicas, members.length));
            assert.equal(new Set(owners).size, owners.length, 'no duplicate owner');
            for (const o of owners) assert.ok(memberSet.has(o));
          }
        }),
        100,
      );
    });

    it(`${placement}: membersForKey is membersForPartition(partitionForKey), returning the same frozen array every call`, () => {
      check(
        fc.property(memberNames(1), fc.integer({ min: 1, max: 5000 }), anyUtf16String(), (members, partitions, key) => {
          const table = createPartitionTable({ members, partitions, replicas: 3, placement });
          const owners = table.membersForKey(key);
          assert.equal(owners, table.membersForPartition(table.partitionForKey(key)));
          assert.equal(owners, table.membersForKey(key), 'no allocation: the same array object');
          assert.ok(Object.isFrozen(owners));
          assert.equal(table.primaryForKey(key), owners[0]);
        }),
      );
    });

    it(`${placement}: does not depend on the order members are given in`, () => {
      check(
        fc.property(
          memberNames(1).chain((m) => fc.tuple(fc.constant(m), fc.shuffledSubarray(m, { minLength: m.length }))),
          ([a, b]) => {
            const t1 = createPartitionTable({ members: a, partitions: 97, replicas: 2, placement });
            const t2 = createPartitionTable({ members: b, partitions: 97, replicas: 2, placement });
            assert.equal(t1.checksum, t2.checksum);
            for (let p = 0; p < 97; p++) assert.deepEqual(t1.membersForPartition(p), t2.membersForPartition(p));
          },
        ),
      );
    });

    // Stated balance bound: with P·R/n expected slots per member, every member holds within
    // 6·sqrt(P·R/n) of that (the binomial spread is about sqrt of the mean).
    for (const [n, partitions, replicas] of [
      [10, 2056, 1],
      [10, 2056, 3],
      [50, 2056, 1],
      [64, 65536, 3],
      [200, 2056, 3],
    ] as const) {
      it(`${placement}: balance within 6·sqrt(mean) slots per member (n=${n}, P=${partitions}, R=${replicas})`, () => {
        for (const seed of [1, 2, 3]) {
          const table = createPartitionTable({ members: seededNames(n, seed), partitions, replicas, placement });
          const counts = new Map<string, number>(table.members.map((m) => [m, 0]));
          for (let p = 0; p < partitions; p++) for (const o of table.membersForPartition(p)) counts.set(o, counts.get(o)! + 1);
          const mean = (partitions * replicas) / n;
          for (const [m, c] of counts) {
            assert.ok(Math.abs(c - mean) <= 6 * Math.sqrt(mean), `seed ${seed}: ${m} holds ${c}, mean ${mean.toFixed(1)}`);
          }
        }
      });
    }
  }

  it('jump: replica r is the sorted member at (jump(p, n) + r) mod n', () => {
    const members = seededNames(17, 9);
    const table = createPartitionTable({ members, partitions: 1000, replicas: 4 });
    for (let p = 0; p < 1000; p++) {
      const rotation = jumpHash(p, 17);
      assert.deepEqual(
        table.membersForPartition(p),
        [0, 1, 2, 3].map((r) => table.members[(rotation + r) % 17]),
      );
    }
  });

  it('jump tables above the materialization limit compute the same owners per lookup', () => {
    const members = seededNames(7, 4);
    const big = createPartitionTable({ members, partitions: MAX_PARTITIONS, replicas: 2, hash: 'fnv1a64' });
    for (const p of [0, 1, 12345, MAX_MATERIALIZED_PARTITIONS, MAX_PARTITIONS - 1]) {
      const rotation = jumpHash(p, 7);
      assert.deepEqual(big.membersForPartition(p), [big.members[rotation], big.members[(rotation + 1) % 7]]);
    }
    assert.equal(big.membersForKey('some key'), big.membersForKey('some key'));
    assert.throws(() => big.membersForPartition(MAX_PARTITIONS), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('is immutable', () => {
    const table = createPartitionTable({ members: ['a', 'b'], partitions: 8, replicas: 2 });
    assert.throws(() => ((table as { partitions: number }).partitions = 9), TypeError);
    assert.throws(() => (table.members as string[]).push('c'), TypeError);
    assert.throws(() => (table.membersForPartition(0) as string[]).pop(), TypeError);
    assert.equal(table.hasMember('a'), true, 'the lazy member index still works on a frozen table');
  });

  it('an empty member list is valid and owns nothing', () => {
    for (const placement of placements) {
      const table = createPartitionTable({ members: [], partitions: 64, replicas: 3, placement });
      assert.deepEqual(table.membersForKey('k'), []);
      assert.equal(table.primaryForKey('k'), undefined);
      assert.deepEqual(table.membersForPartition(63), []);
    }
  });

  it('checksum: equal inputs give equal checksums; any change of P, R, hash, placement or members changes it', () => {
    const members = ['a', 'b', 'c'];
    const base = createPartitionTable({ members, partitions: 512, replicas: 2 });
    assert.match(base.checksum, /^[0-9a-f]{16}$/);
    assert.equal(createPartitionTable({ members: ['c', 'a', 'b'], partitions: 512, replicas: 2 }).checksum, base.checksum);
    const variants = [
      createPartitionTable({ members, partitions: 513, replicas: 2 }),
      createPartitionTable({ members, partitions: 512, replicas: 3 }),
      createPartitionTable({ members, partitions: 512, replicas: 2, hash: 'fnv1a64' }),
      createPartitionTable({ members, partitions: 512, replicas: 2, placement: 'rendezvous' }),
      createPartitionTable({ members: ['a', 'b'], partitions: 512, replicas: 2 }),
      createPartitionTable({ members: ['a', 'b', 'd'], partitions: 512, replicas: 2 }),
      createPartitionTable({ members: ['a', 'bc'], partitions: 512, replicas: 2 }),
      createPartitionTable({ members: ['ab', 'c'], partitions: 512, replicas: 2 }),
    ];
    const all = new Set([base.checksum, ...variants.map((t) => t.checksum)]);
    assert.equal(all.size, variants.length + 1);
  });

  it('rejects bad lookups with ERR_INVALID_ARGUMENT', () => {
    const table = createPartitionTable({ members: ['a'], partitions: 8 });
    for (const p of [-1, 8, 1.5, Number.NaN]) {
      assert.throws(() => table.membersForPartition(p), {
        code: 'ERR_INVALID_ARGUMENT',
        message: /partition must be an integer in \[0, 7\]/,
      });
    }
    for (const key of [1, null, undefined, {}, ['a']]) {
      assert.throws(() => table.membersForKey(key as never), { code: 'ERR_INVALID_ARGUMENT', message: /key/ });
    }
  });
});

describe('partition options', () => {
  const ok = { members: ['a', 'b'], partitions: 16 };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['P = 0', { partitions: 0 }, /^partitions must be an integer in \[1, 2147483647\], got 0$/],
    ['P negative', { partitions: -3 }, /^partitions must be/],
    ['P fractional', { partitions: 2.5 }, /^partitions must be/],
    ['P = 2^31', { partitions: 2 ** 31 }, /^partitions must be/],
    ['P NaN', { partitions: Number.NaN }, /^partitions must be/],
    ['P a string', { partitions: '16' }, /^partitions must be .*got "16"$/],
    ['P missing', { partitions: undefined }, /^partitions must be/],
    ['R = 0', { replicas: 0 }, /^replicas must be an integer in \[1, 65535\]/],
    ['R fractional', { replicas: 1.5 }, /^replicas must be/],
    ['unknown hash', { hash: 'md5' }, /^hash must be one of fnv1a32, fnv1a64, got "md5"$/],
    ['unknown placement', { placement: 'ring' }, /^placement must be one of jump, rendezvous/],
    [
      'rendezvous above the materialization limit',
      { placement: 'rendezvous', partitions: MAX_MATERIALIZED_PARTITIONS + 1 },
      /^partitions must be at most 4194304 with placement 'rendezvous'/,
    ],
    ['members not an array', { members: 'a,b' }, /^members must be an array/],
    ['duplicate member', { members: ['a', 'b', 'a'] }, /^members must be unique names, got "a"$/],
    ['empty name', { members: ['a', ''] }, /^members must be non-empty, well-formed strings/],
    ['non-string name', { members: ['a', 7] }, /^members must be non-empty, well-formed strings, got 7$/],
    ['lone surrogate in a name', { members: ['a\ud800'] }, /^members must be non-empty, well-formed strings/],
  ];
  for (const [label, patch, message] of cases) {
    it(`rejects ${label} with ERR_INVALID_OPTION naming the option`, () => {
      assert.throws(
        () => createPartitionTable({ ...ok, ...patch } as never),
        (err: unknown) => {
          assert.ok(err instanceof Error && err.name === 'SwimringError');
          assert.equal((err as { code?: string }).code, 'ERR_INVALID_OPTION');
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('accepts the extremes of every range', () => {
    assert.equal(createPartitionTable({ members: ['a'], partitions: 1 }).membersForKey('x')[0], 'a');
    assert.equal(createPartitionTable({ members: ['a'], partitions: MAX_PARTITIONS, replicas: 65535 }).membersForKey('x').length, 1);
  });
});
