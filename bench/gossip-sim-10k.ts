/**
 * The N = 10 000 row of the simulated gossip benchmark, on its own: 10⁸ member records need a
 * large heap (npm run bench:sim10k gives it 20 GB). Push/pull is off for this run: at this size
 * the first staggered full-state syncs (about 1 MB each) would take hours of wall time, and
 * anti-entropy does not change how fast gossip spreads a join or the failure detector finds a
 * crash. Writes bench/results/gossip-sim-10k.md.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { machineLine, table } from './machine.js';
import { convergedWorld, joinAndFailure } from './sim-helpers.js';

const n = 10_000;
const t0 = performance.now();
const { w, names } = convergedWorld(1, n, { pushPullIntervalMs: 0 });
const built = (performance.now() - t0) / 1000;
const heapGiB = process.memoryUsage().heapUsed / 2 ** 30;
const { join, failure } = joinAndFailure(w, names);
const fmt = (ms: number | null) => (ms === null ? 'n/a' : (ms / 1000).toFixed(2));
const text = [
  '# Simulated gossip, N = 10 000 (LAN profile, push/pull off)',
  '',
  `Machine: ${machineLine()}. One seed. Cluster built and settled in ${built.toFixed(0)} s wall, ${heapGiB.toFixed(1)} GiB of heap; whole run ${((performance.now() - t0) / 1000).toFixed(0)} s.`,
  '',
  table(
    ['N', 'join 99.99 %', 'join 100 %', 'Serf model 99.99 %', 'ours / Serf', 'failure 99.99 %', 'failure 100 %'],
    [[n, fmt(join[0]), fmt(join[1]), '2.6', join[0] === null ? '-' : (join[0] / 1000 / 2.6).toFixed(2), fmt(failure[0]), fmt(failure[1])]],
  ),
  '',
].join('\n');
console.log(text);
writeFileSync(new URL('./results/gossip-sim-10k.md', import.meta.url), text);
