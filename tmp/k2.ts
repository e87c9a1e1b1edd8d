import { resolveGossipConfig } from '../src/gossip/config.js';
import { SimWorld } from '../src/sim/world.js';
const w = new SimWorld(7, resolveGossipConfig('lan', { compression: false }));
w.addNode('n0');
for (let i = 1; i < 1000; i++) w.addNode(`n${i}`, `n${Math.floor(w.random() * i)}`);
const t = performance.now();
w.runFor(8000);
console.log(((performance.now() - t) / 1000).toFixed(1), 's wall');
