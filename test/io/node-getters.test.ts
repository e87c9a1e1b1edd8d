// GossipNode's read-only getters: what the CLI (and any caller) reads instead of node.machine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GossipNode } from '../../src/io/gossip-node.js';
import { waitFor } from '../helpers/processes.js';

describe('GossipNode getters', () => {
  it('healthScore, leaving, config, lamportTimes and counters (a snapshot) track the node', async () => {
    const a = await GossipNode.create({ name: 'getters-a', bind: '127.0.0.1:0', profile: 'local' });
    const b = await GossipNode.create({ name: 'getters-b', bind: '127.0.0.1:0', profile: 'local' });
    try {
      assert.equal(a.name, 'getters-a');
      assert.equal(a.healthScore, 0, 'healthy at start');
      assert.equal(a.healthScore, a.machine.gossip.healthScore);
      assert.equal(a.leaving, false);
      assert.equal(a.config.gossipNodes, a.machine.config.gossipNodes);
      assert.equal(a.config, a.machine.config);
      const times = a.lamportTimes;
      assert.deepEqual(times, { member: a.machine.clock.time, event: a.machine.eventClock.time, query: a.machine.queryClock.time });
      a.userEvent('tick');
      assert.equal(a.lamportTimes.event, times.event + 1n, 'a user event moves the event clock');
      await b.join([`127.0.0.1:${a.address.port}`]);
      const before = a.counters;
      assert.ok(before.packetsIn + before.streamsOut >= 0);
      before.packetsIn = -1;
      before.drops['made-up'] = 5;
      assert.notEqual(a.counters.packetsIn, -1, 'changing a snapshot does not touch the node');
      assert.equal(a.counters.drops['made-up'], undefined);
      const leaving = a.leave();
      assert.equal(a.leaving, true, 'leaving as soon as leave() begins');
      await leaving;
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('members() says which alive members the failure detector suspects, until it declares them failed', async () => {
    // A long suspicion (suspicionMult 64, probes every 200 ms: seconds for two members) leaves a window to see it in.
    const gossip = { suspicionMult: 64, probeIntervalMs: 200 };
    const a = await GossipNode.create({ name: 'suspect-a', bind: '127.0.0.1:0', profile: 'local', gossip });
    const b = await GossipNode.create({ name: 'suspect-b', bind: '127.0.0.1:0', profile: 'local', gossip });
    try {
      await b.join([`127.0.0.1:${a.address.port}`]);
      const seen = () => a.members().find((m) => m.name === 'suspect-b');
      await waitFor('a sees b alive', () => seen()?.status === 'alive', 10_000, 20);
      assert.equal(seen()!.suspect, false);
      await b.close(); // gone without a leave: probes fail
      await waitFor('a suspects b, which Serf still calls alive', () => seen()?.suspect === true, 15_000, 20);
      assert.equal(seen()!.status, 'alive');
      await waitFor('b failed, no longer suspect', () => seen()?.status === 'failed', 30_000, 50);
      assert.equal(seen()!.suspect, false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
