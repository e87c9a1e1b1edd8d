// The ring's pure parts: the tag filter, the view (who owns, exact changes), the bounded queue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SerfMember, SerfStatus } from '../../src/serf/serf-members.js';
import { type OwnershipChange, ownershipOf } from '../../src/partition/diff.js';
import { resolvePartitionOptions } from '../../src/partition/options.js';
import { PartitionEventQueue } from '../../src/ring/event-queue.js';
import { READY_TAG } from '../../src/ring/readiness.js';
import { RingCore } from '../../src/ring/ring-core.js';
import { RingView } from '../../src/ring/ring-view.js';
import { compileWatchTags } from '../../src/ring/tag-filter.js';

const v = { min: 2, max: 5, cur: 5 };
const member = (name: string, tags: Record<string, string> = {}, status: SerfStatus = 'alive'): SerfMember => ({
  name,
  host: '10.0.0.1',
  port: 7946,
  tags,
  status,
  protocol: v,
  delegate: v,
});
const options = resolvePartitionOptions({ partitions: 64, replicas: 2 });

describe('watchTags', () => {
  it('every listed tag must be present and match (RegExp unanchored, string exact); a predicate decides alone', () => {
    const f = compileWatchTags({ ring: /^active$/, dc: 'eu' });
    assert.ok(f({ ring: 'active', dc: 'eu', x: '1' }, 'a'));
    assert.ok(!f({ ring: 'active' }, 'a'), 'a missing tag fails');
    assert.ok(!f({ ring: 'inactive', dc: 'eu' }, 'a'));
    assert.ok(!f({ ring: 'active', dc: 'eu-west' }, 'a'), 'strings are exact');
    assert.ok(
      compileWatchTags({ role: /web/g })({ role: 'web' }, 'a') && compileWatchTags({ role: /web/g })({ role: 'web' }, 'a'),
      'a /g RegExp keeps no state between members',
    );
    assert.ok(compileWatchTags(undefined)({}, 'a'));
    assert.ok(compileWatchTags((tags, name) => name.startsWith('db') && tags['x'] === undefined)({}, 'db-1'));
    assert.throws(() => compileWatchTags({ ring: 3 as never }), {
      code: 'ERR_INVALID_OPTION',
      message: /^watchTags\.ring must be a RegExp or a string/,
    });
    assert.throws(() => compileWatchTags([] as never), { code: 'ERR_INVALID_OPTION', message: /^watchTags must be/ });
  });
});

describe('RingView', () => {
  it('owners are the alive members passing the filter; changes are exact; a no-op change emits nothing', () => {
    const view = new RingView('a', options, compileWatchTags({ ring: 'yes' }));
    const first = view.apply(member('a', { ring: 'yes' }));
    assert.equal(first.length, 64, 'alone, a acquires every partition');
    assert.ok(first.every((c) => c.type === 'acquire' && c.replica === 0 && c.from === null));
    assert.deepEqual(view.apply(member('router', {})), [], 'a member outside the filter owns nothing and changes nothing');
    const joined = view.apply(member('b', { ring: 'yes' }));
    assert.ok(
      joined.length > 0 && joined.every((c) => c.type === 'demote' || c.type === 'promote' || c.type === 'release' || c.type === 'acquire'),
    );
    assert.deepEqual(view.apply(member('b', { ring: 'yes', version: '2' })), [], 'a tag change that keeps b in the ring is a no-op');
    assert.deepEqual(
      view.apply(member('b', { ring: 'yes' }, 'leaving')).every((c) => c.type === 'promote' || c.type === 'acquire'),
      true,
      'b announcing its leave hands its partitions back',
    );
    assert.equal(view.table.members.join(), 'a');
    view.apply(member('b', { ring: 'yes' }));
    view.apply(member('c', { ring: 'no' }));
    assert.equal(view.table.members.join(), 'a,b');
    view.apply(member('c', { ring: 'yes' }));
    assert.equal(view.table.members.join(), 'a,b,c', 'a tag change moves a member into the ring');
    view.apply(member('c', { ring: 'yes' }, 'failed'));
    assert.equal(view.table.members.join(), 'a,b', 'failed members leave the ring');
  });
});

describe('PartitionEventQueue', () => {
  const acq = (p: number, r = 0): OwnershipChange => ({ type: 'acquire', partition: p, replica: r, from: null });
  const rel = (p: number, r = 0): OwnershipChange => ({ type: 'release', partition: p, replica: r, to: null });
  const drain = (q: PartitionEventQueue) => {
    const out: OwnershipChange[] = [];
    for (let c = q.take(); c; c = q.take()) out.push(c);
    return out;
  };

  it('passes changes through in order when the consumer keeps up', () => {
    const q = new PartitionEventQueue(options.partitions);
    q.push(acq(1));
    q.push(acq(2, 1));
    assert.deepEqual(drain(q), [acq(1), acq(2, 1)]);
    q.push({ type: 'promote', partition: 2, replica: 0, previousReplica: 1 });
    q.push(rel(1));
    assert.deepEqual(
      drain(q).map((c) => c.type),
      ['promote', 'release'],
    );
  });

  it('a slow consumer gets one net change per partition: acquire+release cancel, moves fold', () => {
    const q = new PartitionEventQueue(options.partitions);
    q.push(acq(5));
    q.push(rel(5));
    q.push(acq(6, 2));
    q.push({ type: 'promote', partition: 6, replica: 1, previousReplica: 2 });
    q.push({ type: 'promote', partition: 6, replica: 0, previousReplica: 1 });
    assert.deepEqual(drain(q), [{ type: 'acquire', partition: 6, replica: 0, from: null }]);
    for (let i = 0; i < 1000; i++) q.push(i % 2 ? rel(7) : acq(7));
    assert.equal(q.size, 1, 'bounded by the partition count');
    assert.deepEqual(drain(q), [], 'ends where the consumer was: nothing to say');
    q.push(rel(6));
    q.push(acq(6, 1));
    assert.deepEqual(drain(q), [{ type: 'demote', partition: 6, replica: 1, previousReplica: 0 }]);
  });

  it('replaying a random stream through it ends with the true holdings', () => {
    const view = new RingView('m0', options, () => true);
    const q = new PartitionEventQueue(options.partitions);
    const held = new Map<number, number>();
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    for (let step = 0; step < 300; step++) {
      const name = `m${Math.floor(rnd() * 8)}`;
      const status: SerfStatus = name === 'm0' || rnd() < 0.6 ? 'alive' : 'failed';
      for (const c of view.apply(member(name, {}, status))) q.push(c);
      if (rnd() < 0.3) {
        for (const c of drain(q)) {
          if (c.type === 'release') {
            assert.ok(held.has(c.partition), 'no release without acquire');
            held.delete(c.partition);
          } else if (c.type === 'acquire') {
            assert.ok(!held.has(c.partition), 'no double acquire');
            held.set(c.partition, c.replica);
          } else {
            assert.equal(held.get(c.partition), c.previousReplica);
            held.set(c.partition, c.replica);
          }
        }
      }
    }
    for (const c of drain(q)) {
      if (c.type === 'release') held.delete(c.partition);
      else held.set(c.partition, c.replica);
    }
    assert.deepEqual(held, ownershipOf(view.table, 'm0'));
  });
});

describe('RingCore readiness without a consumer', () => {
  it("a member that rebuilt its table with no one reading its events still reads the others' readiness against it", () => {
    const core = (local: string, joining = false) =>
      new RingCore({
        local,
        partitions: options,
        filter: () => true,
        handoff: true,
        handoffTimeoutMs: 60_000,
        retryDelayMs: 5000,
        joining,
      });
    const names = ['a', 'b', 'c'];
    // a and b hold the table over a, b, c and have loaded everything they hold.
    const tags = new Map<string, string>();
    for (const local of ['a', 'b']) {
      const ring = core(local);
      for (const n of names) ring.apply(member(n), false, 0);
      for (let p = 0; p < 64; p++) ring.markReady(p, 0);
      tags.set(local, ring.tag!);
    }
    // c joins with no event consumer yet (diff false everywhere), then sees their tags.
    const c = core('c', true);
    c.apply(member('c'), false, 0, false);
    for (const n of ['a', 'b']) c.apply(member(n), false, 0, false);
    c.admit(0, false);
    for (const n of ['a', 'b']) c.apply(member(n, { [READY_TAG]: tags.get(n)! }), false, 0, false);
    for (let p = 0; p < 64; p++) {
      for (const owner of c.table.membersForPartition(p).filter((m) => m !== 'c'))
        assert.ok(c.isReady(owner, p), `${owner} serves partition ${p}`);
    }
  });
});
