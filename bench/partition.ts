/**
 * Partitioner benchmarks (issue 2 §5). Prints markdown and writes bench/results/partition.md.
 *   npm run bench               full run
 *   npm run bench -- --quick    fewer repeats (a smoke run)
 * Timings are medians over repeats; movement figures are means over random joins/leaves.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { createPartitionTable, fnv1a32Partition, jumpHash, type KeyHash, type Placement } from '../src/index.js';
import { machineLine, median, table } from './machine.js';

const quick = process.argv.includes('--quick');
const REPEATS = quick ? 3 : 7;
const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};

/** xorshift32, for reproducible names and keys. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function names(count: number, seed: number): string[] {
  const next = rng(seed);
  const set = new Set<string>();
  while (set.size < count) set.add(`host-${next().toString(16).padStart(8, '0')}`);
  return [...set];
}

// Garbage collections observed while a measured loop runs: none means no allocation per call.
let gcCount = 0;
new PerformanceObserver((list) => (gcCount += list.getEntries().length)).observe({ entryTypes: ['gc'] });

function lookupsPerSecond(fn: (key: string) => number, keys: readonly string[], lookups: number): { rate: number; gcs: number } {
  const rates: number[] = [];
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += fn(keys[i & (keys.length - 1)]!); // warm up
  const gcBefore = gcCount;
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    for (let i = 0; i < lookups; i++) sink += fn(keys[i & (keys.length - 1)]!);
    rates.push(lookups / ((performance.now() - start) / 1000));
  }
  if (sink === -1) console.log(sink);
  return { rate: median(rates), gcs: gcCount - gcBefore };
}

async function settle(): Promise<void> {
  // GC entries are delivered asynchronously; let them arrive before reading the count.
  await new Promise((resolve) => setTimeout(resolve, 50));
}

say('# Partitioner benchmarks');
say();
say(`Machine: ${machineLine()}. ${REPEATS} repeats per timing, median.`);
say();

// 1. membersForKey throughput, 16-byte ASCII keys.
{
  const next = rng(42);
  const keys = Array.from({ length: 4096 }, () => `k${next().toString(36).padStart(15, '0')}`.slice(0, 16));
  const lookups = quick ? 2_000_000 : 10_000_000;
  const members = names(10, 7);
  const rows: (string | number)[][] = [];
  const fnvOnly = (key: string) => fnv1a32Partition(key, 2056);
  const floor = lookupsPerSecond(fnvOnly, keys, lookups);
  await settle();
  rows.push(['FNV-1a 32 mod P only (the floor)', '-', (floor.rate / 1e6).toFixed(1), '1.00', floor.gcs]);
  for (const [hash, placement] of [['fnv1a32', 'jump'], ['fnv1a64', 'jump'], ['fnv1a32', 'rendezvous']] as [KeyHash, Placement][]) {
    const t = createPartitionTable({ members, partitions: 2056, replicas: 3, hash, placement });
    const r = lookupsPerSecond((key) => t.membersForKey(key).length, keys, lookups);
    await settle();
    rows.push([`membersForKey, ${hash}, ${placement}`, 'P 2056, N 10, R 3', (r.rate / 1e6).toFixed(1), (r.rate / floor.rate).toFixed(2), r.gcs]);
  }
  // libring's way, transcribed: recompute the rotation and a fresh preference list per call.
  const sorted = [...members].sort();
  const libringStyle = (key: string) => {
    const rotation = jumpHash(fnv1a32Partition(key, 2056), sorted.length);
    const list = [...sorted.slice(rotation), ...sorted.slice(0, rotation)];
    return list.length;
  };
  const lib = lookupsPerSecond(libringStyle, keys, Math.floor(lookups / 4));
  await settle();
  rows.push(['libring-style per-call recompute (JS transcription)', 'P 2056, N 10', (lib.rate / 1e6).toFixed(1), (lib.rate / floor.rate).toFixed(2), lib.gcs]);
  say('## membersForKey throughput (one core, 16-byte ASCII keys)');
  say();
  say(table(['what', 'table', 'M lookups/s', 'vs floor', 'GCs during run'], rows));
  say();
}

// 2. Table build time.
{
  const rows: (string | number)[][] = [];
  for (const partitions of [512, 2056, 65536]) {
    for (const n of [3, 100, 1000]) {
      const members = names(n, n);
      const cells: (string | number)[] = [partitions, n];
      for (const placement of ['jump', 'rendezvous'] as Placement[]) {
        const times: number[] = [];
        const repeats = partitions * n > 10_000_000 ? Math.min(REPEATS, 3) : REPEATS;
        for (let r = 0; r < repeats; r++) {
          const start = performance.now();
          createPartitionTable({ members, partitions, replicas: 3, placement });
          times.push(performance.now() - start);
        }
        cells.push(median(times).toFixed(2));
      }
      rows.push(cells);
    }
  }
  say('## Table build time (R = 3), milliseconds');
  say();
  say(table(['P', 'N', 'jump', 'rendezvous'], rows));
  say();
}

// 3. Data moved on a single join or leave, and balance.
{
  const partitions = 2056;
  const trials = quick ? 20 : 100;
  const rows: (string | number)[][] = [];
  const balanceRows: (string | number)[][] = [];
  for (const n of [3, 10, 50, 200]) {
    for (const replicas of [1, 3]) {
      const cells: (string | number)[] = [n, replicas];
      const balance: (string | number)[] = [n, replicas];
      for (const placement of ['jump', 'rendezvous'] as Placement[]) {
        let joinCopies = 0;
        let joinSlots = 0;
        let leaveCopies = 0;
        let leaveSlots = 0;
        let maxOverMean = 0;
        for (let trial = 1; trial <= trials; trial++) {
          const all = names(n + 1, trial * 1000 + n);
          const base = all.slice(0, n);
          const before = createPartitionTable({ members: base, partitions, replicas, placement });
          const joined = createPartitionTable({ members: all, partitions, replicas, placement });
          const leaver = base[trial % n]!;
          const left = createPartitionTable({ members: base.filter((m) => m !== leaver), partitions, replicas, placement });
          const held = new Map<string, number>(before.members.map((m) => [m, 0]));
          for (let p = 0; p < partitions; p++) {
            const old = before.membersForPartition(p);
            for (const m of old) held.set(m, held.get(m)! + 1);
            // Data moved = slots whose new owner did not hold the partition before (copies to make).
            for (const m of joined.membersForPartition(p)) if (!old.includes(m)) joinCopies++;
            for (const m of left.membersForPartition(p)) if (!old.includes(m)) leaveCopies++;
          }
          joinSlots += partitions * Math.min(replicas, n + 1);
          leaveSlots += partitions * Math.min(replicas, n);
          const counts = [...held.values()];
          maxOverMean = Math.max(maxOverMean, Math.max(...counts) / (counts.reduce((a, b) => a + b, 0) / counts.length));
        }
        const joinFraction = joinCopies / joinSlots;
        const leaveFraction = leaveCopies / leaveSlots;
        cells.push(`${joinFraction.toFixed(3)} (${(joinFraction * (n + 1)).toFixed(2)}×)`);
        cells.push(replicas >= n ? `${leaveFraction.toFixed(3)} (n/a: R ≥ N)` : `${leaveFraction.toFixed(3)} (${(leaveFraction * n).toFixed(2)}×)`);
        balance.push(maxOverMean.toFixed(2));
      }
      rows.push([...cells.slice(0, 2), (1 / (n + 1)).toFixed(3), (1 / n).toFixed(3), ...cells.slice(2)]);
      balanceRows.push(balance);
    }
  }
  say(`## Data moved per single join / leave (P = ${partitions}, random host names, mean over ${trials} trials)`);
  say();
  say('Fraction of (partition, replica) slots whose new owner must copy the data, and its ratio to the ideal (1/(N+1) for a join, 1/N for a leave).');
  say();
  say(table(['N', 'R', 'ideal join', 'ideal leave', 'jump: join', 'jump: leave', 'rendezvous: join', 'rendezvous: leave'], rows));
  say();
  say('## Balance: max / mean slots held per member (worst over the trials above)');
  say();
  say(table(['N', 'R', 'jump', 'rendezvous'], balanceRows));
  say();
}

if (!quick) writeFileSync(new URL('./results/partition.md', import.meta.url), `${out.join('\n')}\n`);
process.exit(0);
