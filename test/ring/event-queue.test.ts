// The per-consumer event queue as a FIFO (docs/budgets.md#ring): O(1) push and take over typed
// arrays, one net change per partition, positions kept, memory bounded by P at the largest ring.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OwnershipChange } from '../../src/partition/diff.js';
import { MAX_RING_PARTITIONS, PartitionEventQueue } from '../../src/ring/event-queue.js';

const acq = (p: number, r = 0, from: string | null = null): OwnershipChange => ({ type: 'acquire', partition: p, replica: r, from });
const rel = (p: number, r = 0, to: string | null = null): OwnershipChange => ({ type: 'release', partition: p, replica: r, to });
const drain = (q: PartitionEventQueue) => {
  const out: OwnershipChange[] = [];
  for (let c = q.take(); c; c = q.take()) out.push(c);
  return out;
};

describe('PartitionEventQueue as a FIFO', () => {
  it('hands changes out in arrival order; a partition already pending keeps its place and takes the newest change', () => {
    const q = new PartitionEventQueue(16);
    q.push(acq(9, 1, 'x'));
    q.push(acq(3));
    q.push(acq(12, 0, 'y'));
    q.push({ type: 'promote', partition: 9, replica: 0, previousReplica: 1 }); // 9 stays first
    assert.equal(q.size, 3);
    assert.deepEqual(drain(q), [acq(9, 0), acq(3), acq(12, 0, 'y')], 'an acquire folded with a promotion keeps no source');
    q.push(rel(3, 0, 'z'));
    q.push(acq(1));
    q.push(rel(12));
    q.push(acq(12, 1, 'w')); // release + acquire at another index: a demotion, in 12's place
    assert.deepEqual(drain(q), [rel(3, 0, 'z'), acq(1), { type: 'demote', partition: 12, replica: 1, previousReplica: 0 }]);
    q.retry({ type: 'acquire', partition: 1, replica: 0, from: 'v' });
    assert.deepEqual(drain(q), [acq(1, 0, 'v')], 'a retry is shown even though the consumer holds it');
    q.push(rel(9, 0, 'u'));
    assert.deepEqual(drain(q), [rel(9, 0, 'u')], 'a release names the replica the consumer last saw and keeps its successor');
  });

  it('wraps around and grows without losing order', () => {
    const q = new PartitionEventQueue(1000);
    const out: number[] = [];
    let next = 0;
    // Interleave pushes and takes so the ring buffer wraps while it grows.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 20; i++) q.push(acq(next++ % 1000));
      for (let i = 0; i < 10; i++) out.push(q.take()!.partition);
    }
    for (const c of drain(q)) out.push(c.partition);
    assert.deepEqual(
      out,
      Array.from({ length: 1000 }, (_, p) => p),
    );
    assert.equal(q.size, 0);
  });

  it('at the largest ring, P acquires and then P releases pass through in order, never more than P pending', () => {
    const P = MAX_RING_PARTITIONS;
    assert.equal(P, 4_194_304);
    const q = new PartitionEventQueue(P);
    for (let p = 0; p < P; p++) q.push(acq(p, p & 1));
    for (let p = 0; p < P; p++) q.push(rel(p, p & 1)); // folds into the pending acquires: nothing to say
    assert.equal(q.size, P, 'bounded by P');
    assert.equal(q.take(), undefined, 'acquire + release cancel for every partition');
    for (let p = P - 1; p >= 0; p--) q.push(acq(p, 0));
    let expect = P - 1;
    let ok = true;
    for (let c = q.take(); c; c = q.take()) ok &&= c.type === 'acquire' && c.partition === expect--;
    assert.ok(ok && expect === -1, 'every acquire, in arrival order');
    assert.throws(() => q.push(acq(P)), /partition/);
  });
});
