// createRing on real sockets (127.0.0.1): the facade, its events, tag filtering, bad options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OwnershipChange } from '../../src/partition/diff.js';
import { type Ring, createRing } from '../../src/ring/ring.js';
import { waitFor } from '../helpers/processes.js';

const base = { bind: '127.0.0.1:0', profile: 'local' as const, partitions: 64, replicas: 2 };
const KEY = Buffer.alloc(32, 7).toString('base64');

/** Collects a ring's events in the background until `stop` aborts. */
function collect(ring: Ring, stop: AbortSignal): OwnershipChange[] {
  const out: OwnershipChange[] = [];
  void (async () => {
    for await (const e of ring.events({ signal: stop })) out.push(e);
  })();
  return out;
}

describe('createRing', () => {
  it('starts owning everything, shares partitions as members join, hands them back when one leaves', async () => {
    const stop = new AbortController();
    const a = await createRing({ ...base, name: 'ra', tags: { ring: 'on' }, watchTags: { ring: 'on' } });
    const events = collect(a, stop.signal);
    try {
      await waitFor('initial acquires', () => events.length === 64, 5000, 10);
      assert.ok(events.every((e) => e.type === 'acquire' && e.replica === 0 && e.from === null));
      const b = await createRing({ ...base, name: 'rb', tags: { ring: 'on' }, watchTags: { ring: 'on' }, join: [`127.0.0.1:${a.node.address.port}`] });
      const router = await createRing({ ...base, name: 'router', watchTags: { ring: 'on' }, join: [`127.0.0.1:${a.node.address.port}`] });
      try {
        await waitFor('all three agree', () => [a, b, router].every((r) => r.table.members.join() === 'ra,rb'), 10_000, 20);
        assert.equal(new Set([a, b, router].map((r) => r.checksum)).size, 1);
        // Routing: the router owns nothing but routes; members come with address and tags.
        const owners = router.membersForKey('user:42');
        assert.deepEqual([...owners].map((m) => m.name).sort(), ['ra', 'rb']);
        assert.equal(owners[0]!.tags['ring'], 'on');
        assert.equal(router.membersForKey('user:42'), owners, 'the same frozen array, no allocation');
        assert.equal(router.primaryForKey('user:42')?.name, owners[0]!.name);
        assert.equal(router.holdings().size, 0);
        // a demoted half of its primaries (R = 2 with two members: it holds everything, at 0 or 1).
        await waitFor('a sees its demotions', () => events.some((e) => e.type === 'demote'), 5000, 10);
        assert.equal(a.holdings().size, 64);
        // A member changing its tags leaves the ring: a is alone again.
        const before = events.length;
        b.setTags({ ring: 'off' });
        await waitFor('b left the ring', () => a.table.members.join() === 'ra', 10_000, 20);
        await waitFor('a promoted back', () => events.slice(before).some((e) => e.type === 'promote'), 5000, 10);
        assert.ok([...a.holdings().values()].every((r) => r === 0));
        // A graceful leave of b (out of the ring already) changes nothing for a.
        const quiet = events.length;
        await b.leave();
        await waitFor('a sees b left', () => a.members().find((m) => m.name === 'rb')?.status === 'left', 10_000, 20);
        assert.equal(events.length, quiet, 'a no-op membership change emits no partition events');
      } finally {
        await Promise.all([b.close(), router.close()]);
      }
    } finally {
      stop.abort();
      await a.close();
    }
  });

  it('a slow consumer sees net changes only, ending at the true holdings; breaking out releases the iterator', async () => {
    const a = await createRing({ ...base, name: 'sa' });
    const b = await createRing({ ...base, name: 'sb', join: [`127.0.0.1:${a.node.address.port}`] });
    try {
      await waitFor('both in the ring', () => a.table.members.length === 2, 10_000, 20);
      const held = new Map<number, number>();
      for await (const e of a.events()) {
        if (e.type === 'release') held.delete(e.partition);
        else held.set(e.partition, e.replica);
        if (held.size === 64) break;
      }
      assert.deepEqual(held, a.holdings());
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('bad options throw SwimringError naming the option', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ partitions: 0 }, /^partitions must be an integer/],
      [{ partitions: 8, replicas: 0 }, /^replicas must be/],
      [{ partitions: 8, hash: 'md5' }, /^hash must be one of/],
      [{ partitions: 8, placement: 'random' }, /^placement must be one of/],
      [{ partitions: 8, watchTags: { ring: 1 } }, /^watchTags\.ring must be a RegExp or a string/],
      [{ partitions: 8, join: 'host:1' }, /^join must be an array/],
      [{ partitions: 8, name: '' }, /^name must be a non-empty string/],
      [{ partitions: 8, keyring: [KEY], encrypt: KEY }, /^keyring must be absent when encrypt is given/],
    ];
    for (const [bad, message] of cases) {
      await assert.rejects(createRing({ name: 'x', bind: '127.0.0.1:0', ...bad } as never), { code: 'ERR_INVALID_OPTION', message });
    }
  });
});

describe('createRing with a keyring', () => {
  it('members with the key form a ring; the key is the node\'s', async () => {
    const a = await createRing({ ...base, name: 'ka', keyring: [KEY] });
    const b = await createRing({ ...base, name: 'kb', keyring: KEY, join: [`127.0.0.1:${a.node.address.port}`] });
    try {
      await waitFor('both in the ring', () => a.table.members.length === 2, 10_000, 20);
      assert.deepEqual(a.node.keyring?.keys, [KEY]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('createRing with handoff', () => {
  it('serves a partition only once ready, keeps serving a lost one until its new holder is ready, retries a failed one, and claims', async () => {
    const opts = { ...base, handoff: true, retryDelayMs: 300, handoffTimeoutMs: 20_000 };
    const stopA = new AbortController();
    const stopB = new AbortController();
    const a = await createRing({ ...opts, name: 'ha' });
    const aEvents = collect(a, stopA.signal);
    let b: Ring | undefined;
    try {
      await waitFor('a acquires everything', () => aEvents.length === 64, 5000, 10);
      assert.deepEqual(a.membersForKey('k', { ready: true }), [], 'nothing is served before ready()');
      const claimed = a.claim(a.partitionForKey('k'));
      for (let p = 0; p < 64; p++) a.ready(p);
      assert.deepEqual(a.membersForKey('k', { ready: true }).map((m) => m.name), ['ha']);
      const lease = await claimed;
      assert.equal(lease.signal.aborted, false);

      b = await createRing({ ...opts, name: 'hb', join: [`127.0.0.1:${a.node.address.port}`] });
      const bEvents = collect(b, stopB.signal);
      await waitFor('both in the ring', () => a.table.members.length === 2 && b!.table.members.length === 2, 10_000, 20);
      // R = 2 with two members: both hold everything; b must load all before a is released from primaries.
      const movedPrimary = Array.from({ length: 64 }, (_, p) => p).find((p) => a.table.membersForPartition(p)[0] === 'hb')!;
      await waitFor('b acquired', () => bEvents.filter((e) => e.type === 'acquire').length === 64, 5000, 10);
      await waitFor('a sees b not ready: only a serves', () => a.membersForPartition(movedPrimary, { ready: true }).map((m) => m.name).join() === 'ha', 5000, 20);
      for (let p = 0; p < 64; p++) b.ready(p);
      await waitFor('a sees b ready, primary first', () => a.membersForPartition(movedPrimary, { ready: true }).map((m) => m.name).join() === 'hb,ha', 5000, 20);
      if (a.table.membersForPartition(a.partitionForKey('k'))[0] === 'hb') await waitFor('a lost the lease on k', () => lease.signal.aborted, 5000, 20);

      // b's handler for one partition breaks: routing fails over to a, then b is offered it again.
      const before = bEvents.length;
      b.reportFailed(movedPrimary);
      await waitFor('a routes around b', () => a.membersForPartition(movedPrimary, { ready: true }).map((m) => m.name).join() === 'ha', 5000, 20);
      await waitFor('b gets the partition again', () => bEvents.slice(before).some((e) => e.type === 'acquire' && e.partition === movedPrimary), 5000, 20);
      b.ready(movedPrimary);
      await waitFor('b serves it again', () => a.membersForPartition(movedPrimary, { ready: true })[0]?.name === 'hb', 5000, 20);
      assert.throws(() => b!.ready(64), { code: 'ERR_INVALID_ARGUMENT', message: /^partition must be an integer in \[0, 63\]/ });
      await assert.rejects(createRing({ ...opts, name: 'x', handoffTimeoutMs: -1 }), { code: 'ERR_INVALID_OPTION', message: /^handoffTimeoutMs/ });
    } finally {
      stopA.abort();
      stopB.abort();
      await Promise.all([a.close(), b?.close()]);
    }
  });
});

describe('a graceful leave with handoff', () => {
  it('drains first: the leaver keeps serving until its successor is ready, then leaves', async () => {
    const opts = { ...base, partitions: 16, replicas: 1, handoff: true, handoffTimeoutMs: 20_000 };
    const a = await createRing({ ...opts, name: 'da' });
    const b = await createRing({ ...opts, name: 'db', join: [`127.0.0.1:${a.node.address.port}`] });
    const stop = new AbortController();
    const bEvents = collect(b, stop.signal);
    try {
      await waitFor('both in the ring', () => a.table.members.length === 2 && b.table.members.length === 2, 10_000, 20);
      for (const p of a.holdings().keys()) a.ready(p);
      for (const p of b.holdings().keys()) b.ready(p);
      const aHeld = [...a.holdings().keys()];
      let left = false;
      const leaving = a.leave().then(() => (left = true));
      await waitFor('b takes over a\'s partitions', () => aHeld.every((p) => bEvents.some((e) => e.type === 'acquire' && e.partition === p)), 10_000, 20);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(left, false, 'a is still serving: b is not ready for them');
      assert.deepEqual(b.membersForPartition(aHeld[0]!, { ready: true }).map((m) => m.name), ['da']);
      for (const p of aHeld) b.ready(p);
      await leaving;
      await waitFor('b sees a left', () => b.members().find((m) => m.name === 'da')?.status === 'left', 10_000, 20);
      assert.deepEqual(b.membersForPartition(aHeld[0]!, { ready: true }).map((m) => m.name), ['db']);
    } finally {
      stop.abort();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
