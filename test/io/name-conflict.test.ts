// Serf's name-conflict resolution (docs/protocol.md#name-conflicts) over real sockets: a second
// node that claims a taken name asks the cluster who holds it, is outvoted and shuts down. (A
// seed that already lists the name refuses the join outright: test/io/join-failures.test.ts; so
// the impostor joins a lone node that then joins the cluster.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GossipNode } from '../../src/io/gossip-node.js';
import { waitFor } from '../helpers/processes.js';

describe('name conflicts', () => {
  it('a newcomer under a taken name loses the vote and shuts down; the holder stays alive everywhere', async () => {
    const nodes = await Promise.all(
      ['c1', 'c2', 'c3', 'c4'].map((name) => GossipNode.create({ name, bind: '127.0.0.1:0', profile: 'local' })),
    );
    const seed = `127.0.0.1:${nodes[0]!.address.port}`;
    let impostor: GossipNode | undefined;
    try {
      await Promise.all(nodes.slice(1).map((n) => n.join([seed])));
      await waitFor(
        'all four see four alive',
        () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 4),
        30_000,
        50,
      );
      // The impostor learns of the holder in a push/pull with a member of the cluster (gossip
      // carries only changes, and the bridge keeps the impostor's claim): every 300 ms, not 15 s.
      impostor = await GossipNode.create({ name: 'c2', bind: '127.0.0.1:0', profile: 'local', gossip: { pushPullIntervalMs: 300 } });
      const bridge = await GossipNode.create({ name: 'c5', bind: '127.0.0.1:0', profile: 'local' });
      nodes.push(bridge);
      const lost = new Promise<{ responses: number; matching: number }>((resolve) => impostor!.once('name-conflict', resolve));
      await impostor.join([`127.0.0.1:${bridge.address.port}`]);
      await bridge.join([seed]);
      let timer: NodeJS.Timeout | undefined;
      const vote = await Promise.race([lost, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 30_000)))]);
      clearTimeout(timer);
      assert.ok(vote, 'the impostor reported a lost vote within 30 s');
      assert.ok(vote.responses >= 2 && vote.matching < Math.floor(vote.responses / 2) + 1, `outvoted: ${JSON.stringify(vote)}`);
      const holder = `127.0.0.1:${nodes[1]!.address.port}`;
      // The original four; the bridge met the impostor first and keeps it until it is found failed.
      nodes.slice(0, 4).forEach((n, i) => {
        const c2 = n.members().find((m) => m.name === 'c2');
        assert.deepEqual([c2?.status, `${c2?.host}:${c2?.port}`], ['alive', holder], `c${i + 1} still lists the holder`);
      });
    } finally {
      await Promise.all([...nodes, ...(impostor ? [impostor] : [])].map((n) => n.close()));
    }
  });
});
