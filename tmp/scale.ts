import { resolveGossipConfig } from '../src/gossip/config.js';
import { SimWorld } from '../src/sim/world.js';
for (const n of [100, 1000]) {
  const t = performance.now();
  const w = new SimWorld(7, resolveGossipConfig('lan'));
  w.addNode('n0');
  for (let i = 1; i < n; i++) w.addNode(`n${i}`, 'n0');
  const live = w.liveNodes();
  const names = live.map((x) => x.name);
  const allAlive = () => live.every((a) => a.machine.members.size === n && names.every((b) => a.machine.members.get(b)?.status === 'alive'));
  let checks = 0;
  const at = w.runUntilTrue(() => (++checks % 2000 === 0 ? allAlive() : false), 120_000);
  console.log(n, 'nodes: all alive at', at, 'ms sim;', ((performance.now() - t) / 1000).toFixed(1), 's wall', 'events pending', w.clock.pending);
}
