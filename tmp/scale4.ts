import { resolveGossipConfig } from '../src/gossip/config.js';
import { SimWorld } from '../src/sim/world.js';
const n = 500;
const t = performance.now();
const w = new SimWorld(7, resolveGossipConfig('lan'));
w.addNode('n0');
for (let i = 1; i < n; i++) w.addNode(`n${i}`, `n${Math.floor(w.random() * i)}`);
w.runFor(20_000);
console.log(((performance.now() - t) / 1000).toFixed(1), 's wall');
