import { resolveGossipConfig } from '../src/gossip/config.js';
import { SimWorld } from '../src/sim/world.js';
const n = 300;
const t = performance.now();
const w = new SimWorld(7, resolveGossipConfig('lan'));
w.addNode('n0');
for (let i = 1; i < n; i++) w.addNode(`n${i}`, 'n0');
w.runFor(15_000);
console.log(((performance.now() - t) / 1000).toFixed(1), 's wall');
