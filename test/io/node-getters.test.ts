// GossipNode's read-only getters: what the CLI (and any caller) reads instead of node.machine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GossipNode } from '../../src/io/gossip-node.js';

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
});
