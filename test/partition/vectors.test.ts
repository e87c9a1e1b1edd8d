// Golden vectors from the real libring code: with hash 'fnv1a64' and placement 'jump' we must
// route exactly like a Go libring service.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPartitionTable, diffOwnership, fnv1a32, fnv1a64, jumpHash } from '../../src/index.js';
import { vectors, vectorsPath } from '../helpers/vectors.js';

const utf8 = new TextEncoder();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe(`libring golden vectors (${vectorsPath})`, () => {
  it('has every section populated', () => {
    assert.ok(vectors.keys.length > 0 && vectors.member_sets.length > 0 && vectors.jump.length > 0 && vectors.events.length > 0);
  });

  it('keys: UTF-8 bytes, FNV-1a 64, FNV-1a 32 and the partition for every P', () => {
    for (const v of vectors.keys) {
      assert.equal(hex(utf8.encode(v.key)), v.key_utf8_hex, `utf8 of ${JSON.stringify(v.key)}`);
      assert.equal(fnv1a64(v.key).toString(16).padStart(16, '0'), v.fnv1a64_hex, `fnv1a64 of ${JSON.stringify(v.key)}`);
      assert.equal(fnv1a64(v.key), BigInt(v.fnv1a64_dec));
      assert.equal(fnv1a32(v.key).toString(16).padStart(8, '0'), v.fnv1a32_hex_NOT_USED_BY_LIBRING);
      const bytes = Buffer.from(v.key_utf8_hex, 'hex');
      for (const [p, expected] of Object.entries(v.partition)) {
        const table = createPartitionTable({ members: [], partitions: Number(p), hash: 'fnv1a64' });
        assert.equal(table.partitionForKey(v.key), expected, `partition of ${JSON.stringify(v.key)} for P=${p}`);
        assert.equal(table.partitionForKey(new Uint8Array(bytes)), expected, 'same partition for the raw bytes');
      }
    }
  });

  it('keys: we never reproduce the 32-bit-uint variant where it differs (the portability bug)', () => {
    let differing = 0;
    for (const v of vectors.keys) {
      for (const [p, buggy] of Object.entries(v.partition_if_uint_is_32bit)) {
        if (buggy === v.partition[p]) continue;
        differing++;
        const table = createPartitionTable({ members: [], partitions: Number(p), hash: 'fnv1a64' });
        assert.notEqual(table.partitionForKey(v.key), buggy);
      }
    }
    assert.ok(differing > 0, 'the vectors contain keys where the 32-bit variant differs');
  });

  it('jump: every (key, buckets) case', () => {
    for (const v of vectors.jump) {
      assert.equal(BigInt(v.key_dec), BigInt(`0x${v.key_hex}`));
      assert.equal(jumpHash(BigInt(v.key_dec), v.buckets), v.bucket, `jump(${v.key_dec}, ${v.buckets})`);
    }
  });

  for (const set of vectors.member_sets) {
    it(`member set ${set.set}: sorted ring, rotation, replicas for R = 1..3 and the full preference list`, () => {
      const n = set.sorted_ring.length;
      const full = createPartitionTable({ members: set.input_order, partitions: set.partition_count, replicas: n, hash: 'fnv1a64' });
      assert.deepEqual(full.members, set.sorted_ring);
      const byReplicas = new Map<string, ReturnType<typeof createPartitionTable>>();
      for (const r of Object.keys(set.rows[0]!.replicas)) {
        byReplicas.set(
          r,
          createPartitionTable({ members: set.input_order, partitions: set.partition_count, replicas: Number(r), hash: 'fnv1a64' }),
        );
      }
      for (const row of set.rows) {
        assert.equal(jumpHash(row.partition, n), row.jump_bucket, `jump bucket of partition ${row.partition}`);
        for (const [r, expected] of Object.entries(row.replicas)) {
          // libring pads replica slots >= n with null (no owner); we return fewer owners.
          const owners = expected.filter((m): m is string => m !== null);
          assert.deepEqual(byReplicas.get(r)!.membersForPartition(row.partition), owners, `partition ${row.partition}, R=${r}`);
        }
        const preference = row.preference ?? [...set.sorted_ring.slice(row.jump_bucket), ...set.sorted_ring.slice(0, row.jump_bucket)];
        assert.deepEqual(full.membersForPartition(row.partition), preference, `preference of partition ${row.partition}`);
      }
    });
  }

  for (const ev of vectors.events) {
    it(`events "${ev.scenario}": owners match libring's and our diff is exactly the slot changes`, () => {
      const common = { partitions: ev.partitions, replicas: ev.redundancy, hash: 'fnv1a64' as const };
      const before = createPartitionTable({ ...common, members: ev.old_ring ?? [] });
      const after = createPartitionTable({ ...common, members: ev.new_ring });
      const expected: { partition: number; was: number; is: number }[] = [];
      for (const slot of ev.slot_owners) {
        assert.deepEqual(
          before.membersForPartition(slot.partition),
          slot.old.filter((m) => m !== null),
        );
        assert.deepEqual(
          after.membersForPartition(slot.partition),
          slot.new.filter((m) => m !== null),
        );
        const was = slot.old.indexOf(ev.local);
        const is = slot.new.indexOf(ev.local);
        if (was !== is) expected.push({ partition: slot.partition, was, is });
      }
      const changes = diffOwnership(before, after, ev.local);
      assert.deepEqual(
        changes.map((c) => ({
          partition: c.partition,
          was: c.type === 'acquire' ? -1 : c.type === 'release' ? c.replica : c.previousReplica,
          is: c.type === 'release' ? -1 : c.replica,
        })),
        expected,
      );
      // libring emits (R−1) spurious pairs per held partition even when nothing changed.
      if (ev.slot_changes_gaining_local === 0 && ev.slot_changes_losing_local === 0) {
        assert.equal(changes.length, 0);
        if (ev.redundancy > 1) assert.ok(ev.emitted_acquisitions > 0, 'libring emits spurious events here');
      }
    });
  }
});
