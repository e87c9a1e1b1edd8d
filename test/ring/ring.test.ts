// createRing on real sockets (127.0.0.1): the facade, its events, tag filtering, bad options.
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { describe, it } from 'node:test';
import type { OwnershipChange } from '../../src/partition/diff.js';
import { PartitionTable } from '../../src/partition/table.js';
import { type Ring, createRing } from '../../src/ring/ring.js';
import type { JoinError } from '../../src/io/join-error.js';
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
      const b = await createRing({
        ...base,
        name: 'rb',
        tags: { ring: 'on' },
        watchTags: { ring: 'on' },
        join: [`127.0.0.1:${a.node.address.port}`],
      });
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
  it("members with the key form a ring; the key is the node's", async () => {
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
      assert.deepEqual(
        a.membersForKey('k', { ready: true }).map((m) => m.name),
        ['ha'],
      );
      const lease = await claimed;
      assert.equal(lease.signal.aborted, false);

      b = await createRing({ ...opts, name: 'hb', join: [`127.0.0.1:${a.node.address.port}`] });
      const bEvents = collect(b, stopB.signal);
      await waitFor('both in the ring', () => a.table.members.length === 2 && b!.table.members.length === 2, 10_000, 20);
      // R = 2 with two members: both hold everything; b must load all before a is released from primaries.
      const movedPrimary = Array.from({ length: 64 }, (_, p) => p).find((p) => a.table.membersForPartition(p)[0] === 'hb')!;
      await waitFor('b acquired', () => bEvents.filter((e) => e.type === 'acquire').length === 64, 5000, 10);
      await waitFor(
        'a sees b not ready: only a serves',
        () =>
          a
            .membersForPartition(movedPrimary, { ready: true })
            .map((m) => m.name)
            .join() === 'ha',
        5000,
        20,
      );
      for (let p = 0; p < 64; p++) b.ready(p);
      await waitFor(
        'a sees b ready, primary first',
        () =>
          a
            .membersForPartition(movedPrimary, { ready: true })
            .map((m) => m.name)
            .join() === 'hb,ha',
        5000,
        20,
      );
      if (a.table.membersForPartition(a.partitionForKey('k'))[0] === 'hb')
        await waitFor('a lost the lease on k', () => lease.signal.aborted, 5000, 20);

      // b's handler for one partition breaks: routing fails over to a, then b is offered it again.
      const before = bEvents.length;
      b.reportFailed(movedPrimary);
      await waitFor(
        'a routes around b',
        () =>
          a
            .membersForPartition(movedPrimary, { ready: true })
            .map((m) => m.name)
            .join() === 'ha',
        5000,
        20,
      );
      await waitFor(
        'b gets the partition again',
        () => bEvents.slice(before).some((e) => e.type === 'acquire' && e.partition === movedPrimary),
        5000,
        20,
      );
      b.ready(movedPrimary);
      await waitFor('b serves it again', () => a.membersForPartition(movedPrimary, { ready: true })[0]?.name === 'hb', 5000, 20);
      assert.throws(() => b!.ready(64), { code: 'ERR_INVALID_ARGUMENT', message: /^partition must be an integer in \[0, 63\]/ });
      await assert.rejects(createRing({ ...opts, name: 'x', handoffTimeoutMs: -1 }), {
        code: 'ERR_INVALID_OPTION',
        message: /^handoffTimeoutMs/,
      });
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
      await waitFor(
        "b takes over a's partitions",
        () => aHeld.every((p) => bEvents.some((e) => e.type === 'acquire' && e.partition === p)),
        10_000,
        20,
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(left, false, 'a is still serving: b is not ready for them');
      assert.deepEqual(
        b.membersForPartition(aHeld[0]!, { ready: true }).map((m) => m.name),
        ['da'],
      );
      for (const p of aHeld) b.ready(p);
      await leaving;
      await waitFor('b sees a left', () => b.members().find((m) => m.name === 'da')?.status === 'left', 10_000, 20);
      assert.deepEqual(
        b.membersForPartition(aHeld[0]!, { ready: true }).map((m) => m.name),
        ['db'],
      );
    } finally {
      stop.abort();
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('createRing with seeds: the first view after a join', () => {
  /** The owners of every partition in the ring without `name`: whom its acquires copy from. */
  const before = (members: string[]) => new PartitionTable({ ...base, members });
  const assertShare = (ring: Ring, events: readonly OwnershipChange[], others: string[]) => {
    const held = ring.holdings();
    assert.ok(held.size > 0);
    assert.equal(events.length, held.size, `${ring.name}: one event per partition it holds`);
    const without = before(others);
    for (const e of events) {
      assert.equal(e.type, 'acquire', `${ring.name}: acquires only`);
      assert.equal(e.replica, held.get(e.partition));
      assert.equal(e.type === 'acquire' && e.from, without.membersForPartition(e.partition)[0], `${ring.name}: from of ${e.partition}`);
    }
  };

  it('a member given seeds emits its share of the ring it joined, from the previous holders; never the keyspace', async () => {
    const stop = new AbortController();
    const a = await createRing({ ...base, name: 'ja' });
    const seed = [`127.0.0.1:${a.node.address.port}`];
    const rings: Ring[] = [a];
    try {
      const b = await createRing({ ...base, name: 'jb', join: seed });
      rings.push(b);
      assert.equal(b.joining, false);
      const bEvents = collect(b, stop.signal);
      await waitFor('b sees two members', () => b.table.members.length === 2, 10_000, 10);
      await waitFor('b has its share', () => bEvents.length === b.holdings().size, 5000, 10);
      assertShare(b, bEvents, ['ja']);
      // A consumer that iterates before the join completes gets nothing until then, then the share.
      await waitFor('a sees b', () => a.table.members.length === 2, 10_000, 10);
      const c = await createRing({ ...base, name: 'jc', joining: true });
      rings.push(c);
      const cEvents = collect(c, stop.signal);
      // The cluster finds c first (a joins it): c routes by what it knows but owns nothing yet.
      await a.node.join([`127.0.0.1:${c.node.address.port}`]);
      await waitFor('c knows the ring', () => c.table.members.join() === 'ja,jb', 10_000, 10);
      assert.equal(c.joining, true);
      assert.equal(c.holdings().size, 0);
      assert.equal(c.membersForKey('user:1').length, 2);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(cEvents, [], 'nothing before its own join');
      assert.equal(await c.join(seed), 1);
      assert.equal(c.joining, false);
      assert.deepEqual(c.table.members, ['ja', 'jb', 'jc']);
      await waitFor('c has its share', () => cEvents.length === c.holdings().size, 5000, 10);
      assertShare(c, cEvents, ['ja', 'jb']);
      await waitFor('all agree', () => new Set(rings.map((r) => r.checksum)).size === 1 && a.table.members.length === 3, 10_000, 10);
      assertShare(c, cEvents, ['ja', 'jb']);
      assert.equal(c.name, 'jc');
      assert.equal(c.node.name, 'jc');
    } finally {
      stop.abort();
      await Promise.all(rings.map((r) => r.close()));
    }
  });

  it('a join that never reaches a seed rejects, or retries until aborted; either way it owns nothing and emits nothing', async () => {
    const stop = new AbortController();
    // A seed that hangs up on every connection: each join attempt fails.
    let attempts = 0;
    const refuser = createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((r) => refuser.listen(0, '127.0.0.1', () => r()));
    const nobody = [`127.0.0.1:${(refuser.address() as AddressInfo).port}`];
    // One round: createRing rejects saying why (the seed hung up).
    await assert.rejects(createRing({ ...base, name: 'jw', join: nobody }), (err: JoinError) => err.failures[0]!.reason === 'closed');
    const first = new AbortController();
    const created = createRing({ ...base, name: 'jx', join: nobody, joinRetry: { intervalMs: 50 }, signal: first.signal });
    await waitFor('two more failed attempts', () => attempts >= 3, 5000, 10);
    first.abort();
    await assert.rejects(created);
    const ring = await createRing({ ...base, name: 'jy', joining: true });
    try {
      const events = collect(ring, stop.signal);
      const abort = new AbortController();
      const joined = ring.join(nobody, { signal: abort.signal, retry: { intervalMs: 50 } });
      await waitFor('a failed attempt', () => attempts >= 4, 5000, 10);
      abort.abort();
      await assert.rejects(joined);
      assert.equal(ring.joining, true);
      assert.equal(ring.holdings().size, 0);
      assert.deepEqual(ring.table.members, []);
      assert.deepEqual(ring.membersForKey('user:1'), []);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(events, []);
    } finally {
      stop.abort();
      await ring.close();
      refuser.close();
    }
  });
});
