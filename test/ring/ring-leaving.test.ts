// Leaving members are out of the ring: a member announcing its leave hands its partitions over
// while it is still up. The Serf layer tells of alive → leaving (and back) with a member update.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OwnershipChange } from '../../src/partition/diff.js';
import { createRing } from '../../src/ring/ring.js';
import { waitFor } from '../helpers/processes.js';

describe('a leaving member on real nodes', () => {
  it('the others drop it from their tables on its leave intent, before it is gone', async () => {
    const base = { bind: '127.0.0.1:0', profile: 'local' as const, partitions: 256, replicas: 1 };
    const a = await createRing({ ...base, name: 'la' });
    // b's leave intent is retransmitted longer, so there is time between the intent and its departure.
    const b = await createRing({ ...base, name: 'lb', gossip: { retransmitMult: 30 }, join: [`127.0.0.1:${a.node.address.port}`] });
    const stop = new AbortController();
    /** a's events after b starts leaving, each with the status a's node holds for b when it came out. */
    const seen: { change: OwnershipChange; bStatus: string | undefined }[] = [];
    let watching = false;
    void (async () => {
      for await (const change of a.events({ signal: stop.signal })) {
        if (watching) seen.push({ change, bStatus: a.node.machine.members.get('lb')?.status });
      }
    })();
    try {
      await waitFor('both in the ring', () => a.table.members.length === 2 && b.table.members.length === 2, 10_000, 20);
      await new Promise((r) => setTimeout(r, 200));
      watching = true;
      await b.leave();
      await waitFor('a sees b left', () => a.node.machine.members.get('lb')?.status === 'left', 10_000, 20);
      await waitFor('a holds everything', () => a.holdings().size === 256, 5000, 20);
      assert.ok(seen.length > 0, "a took b's partitions");
      assert.ok(seen.every((s) => s.change.type === 'acquire'));
      assert.deepEqual([...new Set(seen.map((s) => s.bStatus))], ['leaving'], 'a took them over while b was leaving, not once it had left');
    } finally {
      stop.abort();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
