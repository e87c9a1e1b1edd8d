/**
 * Ring benchmarks (issue 9 item 5): building a ring alone at P partitions and draining its
 * initial events (one acquire per partition), with the longest the event loop went without a
 * turn meanwhile (a 1 ms interval timer's largest gap). Prints markdown and writes
 * bench/results/ring.md. `--quick`: one repeat, no file.
 */
import { writeFileSync } from 'node:fs';
import { MAX_RING_PARTITIONS, createRing } from '../src/ring/ring.js';
import { machineLine, median, table } from './machine.js';

const quick = process.argv.includes('--quick');
const REPEATS = quick ? 1 : 5;
const SIZES = [16_384, 65_536, 1_048_576, MAX_RING_PARTITIONS];

interface Run {
  createMs: number;
  drainMs: number;
  maxDelayMs: number;
}

async function once(partitions: number): Promise<Run> {
  const t0 = performance.now();
  const ring = await createRing({ name: 'bench', bind: '127.0.0.1:0', profile: 'local', partitions });
  const t1 = performance.now();
  let last = performance.now();
  let maxDelayMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxDelayMs = Math.max(maxDelayMs, now - last);
    last = now;
  }, 1);
  let n = 0;
  for await (const _ of ring.events()) if (++n === partitions) break;
  const t2 = performance.now();
  clearInterval(timer);
  maxDelayMs = Math.max(maxDelayMs, t2 - last);
  await ring.close();
  return { createMs: t1 - t0, drainMs: t2 - t1, maxDelayMs };
}

const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  console.log(line);
};
say('# Ring benchmarks');
say('');
say(`Machine: ${machineLine()}. ${REPEATS} repeats per size (the first iterator of each process is cold, so one warm-up run is discarded), median.`);
say('');
say('A ring alone (it holds every partition): `createRing` time, then the time to take all P initial `acquire` events from `ring.events()`, and the largest gap between two runs of a 1 ms interval timer during the drain (how long the event loop was kept from timers and sockets).');
say('');
const rows: (string | number)[][] = [];
await once(16_384); // warm-up
for (const partitions of SIZES) {
  const runs: Run[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await once(partitions));
  const perEventUs = (median(runs.map((r) => r.drainMs)) * 1000) / partitions;
  rows.push([partitions.toLocaleString('en-US'), median(runs.map((r) => r.createMs)).toFixed(0), median(runs.map((r) => r.drainMs)).toFixed(0), perEventUs.toFixed(2), median(runs.map((r) => r.maxDelayMs)).toFixed(1)]);
}
say(table(['P', 'createRing (ms)', 'initial drain (ms)', 'per event (µs)', 'event-loop max delay (ms)'], rows));
if (!quick) writeFileSync(new URL('./results/ring.md', import.meta.url), `${out.join('\n')}\n`);
