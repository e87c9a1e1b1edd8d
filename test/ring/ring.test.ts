// createRing on real sockets (127.0.0.1): the facade, its events, tag filtering, bad options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OwnershipChange } from '../../src/partition/diff.js';
import { type Ring, createRing } from '../../src/ring/ring.js';
import { waitFor } from '../helpers/processes.js';

const base = { bind: '127.0.0.1:0', profile: 'local' as const, partitions: 64, replicas: 2 };

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
    ];
    for (const [bad, message] of cases) {
      await assert.rejects(createRing({ name: 'x', bind: '127.0.0.1:0', ...bad } as never), { code: 'ERR_INVALID_OPTION', message });
    }
  });
});
