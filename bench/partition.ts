/**
 * Partitioner benchmarks. Prints markdown and writes bench/results/partition.md.
 *   npm run bench               full run
 *   npm run bench -- --quick    fewer repeats (a smoke run)
 * Timings are medians over repeats; movement figures are means over random joins/leaves.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createPartitionTable, fnv1a32Partition, jumpHash, type KeyHash, type PartitionTable, type Placement } from '../src/index.js';
import { countGcs, machineLine, median, settleGcs as settle, table } from './machine.js';
import { type Layout, buildLayout, holdings, keys16, layout, moved, names } from './placement-helpers.js';

const quick = process.argv.includes('--quick');
const REPEATS = quick ? 3 : 7;
const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};

// Garbage collections observed while a measured loop runs: none means no allocation per call.
const gcCount = countGcs();

function lookupsPerSecond(fn: (key: string) => number, keys: readonly string[], lookups: number): { rate: number; gcs: number } {
  const rates: number[] = [];
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += fn(keys[i & (keys.length - 1)]!); // warm up
  const gcBefore = gcCount();
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    for (let i = 0; i < lookups; i++) sink += fn(keys[i & (keys.length - 1)]!);
    rates.push(lookups / ((performance.now() - start) / 1000));
  }
  if (sink === -1) console.log(sink);
  return { rate: median(rates), gcs: gcCount() - gcBefore };
}

say('# Partitioner benchmarks');
say();
say(`Machine: ${machineLine()}. ${REPEATS} repeats per timing, median.`);
say();

// 1. membersForKey throughput, 16-byte ASCII keys.
{
  const keys = keys16(4096, 42);
  const lookups = quick ? 2_000_000 : 10_000_000;
  const members = names(10, 7);
  const rows: (string | number)[][] = [];
  const fnvOnly = (key: string) => fnv1a32Partition(key, 2056);
  const floor = lookupsPerSecond(fnvOnly, keys, lookups);
  await settle();
  rows.push(['FNV-1a 32 mod P only (the floor)', '-', (floor.rate / 1e6).toFixed(1), '1.00', floor.gcs]);
  for (const [hash, placement] of [
    ['fnv1a32', 'jump'],
    ['fnv1a64', 'jump'],
    ['fnv1a32', 'rendezvous'],
  ] as [KeyHash, Placement][]) {
    const t = createPartitionTable({ members, partitions: 2056, replicas: 3, hash, placement });
    const r = lookupsPerSecond((key) => t.membersForKey(key).length, keys, lookups);
    await settle();
    rows.push([
      `membersForKey, ${hash}, ${placement}`,
      'P 2056, N 10, R 3',
      (r.rate / 1e6).toFixed(1),
      (r.rate / floor.rate).toFixed(2),
      r.gcs,
    ]);
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
  rows.push([
    'libring-style per-call recompute (JS transcription)',
    'P 2056, N 10',
    (lib.rate / 1e6).toFixed(1),
    (lib.rate / floor.rate).toFixed(2),
    lib.gcs,
  ]);
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
      // Zones: 3, round-robin. Weights: 1 to 4.
      const zones = Object.fromEntries(members.map((m, i) => [m, `zone-${i % 3}`]));
      const weights = Object.fromEntries(members.map((m, i) => [m, 1 + (i % 4)]));
      const variants: [Placement, object][] = [
        ['jump', {}],
        ['rendezvous', {}],
        ['rendezvous', { zones }],
        ['rendezvous', { weights }],
        ['rendezvous', { zones, weights }],
      ];
      for (const [placement, extra] of variants) {
        const times: number[] = [];
        const repeats = partitions * n > 10_000_000 ? Math.min(REPEATS, 3) : REPEATS;
        for (let r = 0; r < repeats; r++) {
          const start = performance.now();
          createPartitionTable({ members, partitions, replicas: 3, placement, ...extra });
          times.push(performance.now() - start);
        }
        cells.push(median(times).toFixed(2));
      }
      rows.push(cells);
    }
  }
  say('## Table build time (R = 3), milliseconds');
  say();
  say(table(['P', 'N', 'jump', 'rendezvous', 'rendezvous + 3 zones', 'rendezvous + weights', 'rendezvous + zones + weights'], rows));
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
          for (let p = 0; p < partitions; p++) for (const m of before.membersForPartition(p)) held.set(m, held.get(m)! + 1);
          // Data moved = slots whose new owner did not hold the partition before (copies to make).
          joinCopies += moved(before, joined);
          leaveCopies += moved(before, left);
          joinSlots += partitions * Math.min(replicas, n + 1);
          leaveSlots += partitions * Math.min(replicas, n);
          const counts = [...held.values()];
          maxOverMean = Math.max(maxOverMean, Math.max(...counts) / (counts.reduce((a, b) => a + b, 0) / counts.length));
        }
        const joinFraction = joinCopies / joinSlots;
        const leaveFraction = leaveCopies / leaveSlots;
        cells.push(`${joinFraction.toFixed(3)} (${(joinFraction * (n + 1)).toFixed(2)}×)`);
        cells.push(
          replicas >= n ? `${leaveFraction.toFixed(3)} (n/a: R ≥ N)` : `${leaveFraction.toFixed(3)} (${(leaveFraction * n).toFixed(2)}×)`,
        );
        balance.push(maxOverMean.toFixed(2));
      }
      rows.push([...cells.slice(0, 2), (1 / (n + 1)).toFixed(3), (1 / n).toFixed(3), ...cells.slice(2)]);
      balanceRows.push(balance);
    }
  }
  say(`## Data moved per single join / leave (P = ${partitions}, random host names, mean over ${trials} trials)`);
  say();
  say(
    'Fraction of (partition, replica) slots whose new owner must copy the data, and its ratio to the ideal (1/(N+1) for a join, 1/N for a leave).',
  );
  say();
  say(table(['N', 'R', 'ideal join', 'ideal leave', 'jump: join', 'jump: leave', 'rendezvous: join', 'rendezvous: leave'], rows));
  say();
  say('## Balance: max / mean slots held per member (worst over the trials above)');
  say();
  say(table(['N', 'R', 'jump', 'rendezvous'], balanceRows));
  say();
}

// 4. Zones and weights: movement against the minimum, balance, share vs weight.
{
  const partitions = 2056;
  const trials = quick ? 10 : 40;
  const build = (l: Layout, replicas: number, size = partitions): PartitionTable => buildLayout(l, size, replicas);

  const rows: (string | number)[][] = [];
  const balanceRows: (string | number)[][] = [];
  const configs: [string, number, number, number, boolean][] = [
    ['plain rendezvous (reference)', 12, 0, 3, false],
    ['zones: 3 × 4, R = 3', 12, 3, 3, false],
    ['zones: 4 × 5, R = 3', 20, 4, 3, false],
    ['zones: 3 × 10, R = 2', 30, 3, 2, false],
    ['zones: 2 × 6, R = 3 (fewer zones than R)', 12, 2, 3, false],
    ['weights {1,2,4}, R = 1', 12, 0, 1, true],
    ['weights {1,2,4}, R = 3', 12, 0, 3, true],
    ['zones 4 × 5 + weights {1,2,4}, R = 3', 20, 4, 3, true],
  ];
  for (const [label, n, zoneCount, replicas, weighted] of configs) {
    let joinMoved = 0,
      joinIdeal = 0,
      joinSlots = 0,
      leaveMoved = 0,
      leaveIdeal = 0,
      leaveSlots = 0;
    let zoneMoved = 0,
      zoneIdeal = 0,
      allCopiesLost = 0,
      worstMember = 0,
      worstZone = 0;
    for (let trial = 1; trial <= trials; trial++) {
      const seed = trial * 7919 + n * 31 + zoneCount;
      const full = layout(n + 1, zoneCount, seed, weighted);
      const joiner = full.members[n]!;
      const base: Layout = { ...full, members: full.members.slice(0, n) };
      const before = build(base, replicas);
      const joined = build(full, replicas);
      joinMoved += moved(before, joined);
      joinIdeal += holdings(joined, joiner);
      joinSlots += partitions * replicas;
      const leaver = base.members[trial % n]!;
      const left = build({ ...base, members: base.members.filter((m) => m !== leaver) }, replicas);
      leaveMoved += moved(before, left);
      leaveIdeal += holdings(before, leaver);
      leaveSlots += partitions * replicas;
      // A whole zone fails (plain tables: the same members, placed without zones).
      const lostZone = new Set(base.members.filter((_, i) => i % Math.max(zoneCount, 3) === trial % Math.max(zoneCount, 3)));
      const survivors = build({ ...base, members: base.members.filter((m) => !lostZone.has(m)) }, replicas);
      zoneMoved += moved(before, survivors);
      const counts = new Map<string, number>(base.members.map((m) => [m, 0]));
      const perZone = new Map<string, number>();
      const zoneName = (m: string) => base.zones?.[m] ?? `zone-${base.members.indexOf(m) % Math.max(zoneCount, 3)}`;
      for (let p = 0; p < partitions; p++) {
        const owners = before.membersForPartition(p);
        let lost = 0;
        for (const m of owners) {
          counts.set(m, counts.get(m)! + 1);
          perZone.set(zoneName(m), (perZone.get(zoneName(m)) ?? 0) + 1);
          if (lostZone.has(m)) {
            zoneIdeal++;
            lost++;
          }
        }
        if (lost === owners.length) allCopiesLost++;
      }
      // Balance against each member's fair share (weight / total weight).
      const totalWeight = base.members.reduce((a, m) => a + (base.weights?.[m] ?? 1), 0);
      for (const [m, c] of counts)
        worstMember = Math.max(worstMember, c / ((partitions * replicas * (base.weights?.[m] ?? 1)) / totalWeight));
      const zoneMean = [...perZone.values()].reduce((a, b) => a + b, 0) / perZone.size;
      worstZone = Math.max(worstZone, Math.max(...perZone.values()) / zoneMean);
    }
    rows.push([
      label,
      `${(joinMoved / joinSlots).toFixed(4)} (${(joinMoved / joinIdeal).toFixed(2)}×)`,
      `${(leaveMoved / leaveSlots).toFixed(4)} (${(leaveMoved / leaveIdeal).toFixed(2)}×)`,
      `${(zoneMoved / (trials * partitions * replicas)).toFixed(3)} (${(zoneMoved / zoneIdeal).toFixed(2)}×)`,
      allCopiesLost,
    ]);
    balanceRows.push([label, worstMember.toFixed(2), zoneCount > 0 ? worstZone.toFixed(2) : '-']);
  }
  say(`## Zones and weights: data moved (P = ${partitions}, mean over ${trials} trials)`);
  say();
  say(
    "Fraction of (partition, replica) slots whose new owner must copy the data, and in parentheses its ratio to the minimum: the newcomer's holdings after a join, the leaver's holdings before a leave, the slots the failed zone held. Zones are assigned round-robin; weights drawn from {1, 2, 4}. Zone loss: one of the zones fails at once (plain rendezvous: the same members, placed without zones). Last column: partitions whose every copy was in the failed zone, summed over the trials.",
  );
  say();
  say(table(['layout (N before the join)', 'join', 'leave', 'zone loss', 'partitions losing every copy'], rows));
  say();
  say('## Zones and weights: balance (worst over the trials above)');
  say();
  say(
    'Per member: max of slots held / fair share (P·R·w/Σw; with zones the fair share of a member is not that: with R ≥ zones every zone holds every partition once, whatever its size or weight). Per zone: max / mean slots per zone.',
  );
  say();
  say(table(['layout', 'per member', 'per zone'], balanceRows));
  say();

  // Share vs weight, and movement on a weight change.
  const shareRows: (string | number)[][] = [];
  for (const size of [2056, 65536]) {
    for (const replicas of [1, 3]) {
      let worst = 0;
      let worstFair = 0;
      let worstPrimary = 0;
      const seeds = size > 10000 ? 3 : 10;
      for (let seed = 1; seed <= seeds; seed++) {
        const l = layout(10, 0, seed * 104729, true);
        const t = build(l, replicas, size);
        const totalWeight = l.members.reduce((a, m) => a + l.weights![m]!, 0);
        for (const m of l.members) {
          const expected = (size * replicas * l.weights![m]!) / totalWeight;
          const err = Math.abs(holdings(t, m) / expected - 1);
          worst = Math.max(worst, err);
          // Binomial noise alone: about 1/sqrt(expected) relative.
          worstFair = Math.max(worstFair, err * Math.sqrt(expected));
          let primaries = 0;
          for (let p = 0; p < size; p++) if (t.membersForPartition(p)[0] === m) primaries++;
          worstPrimary = Math.max(worstPrimary, Math.abs(primaries / ((size * l.weights![m]!) / totalWeight) - 1));
        }
      }
      shareRows.push([size, replicas, `${(worstPrimary * 100).toFixed(1)}%`, `${(worst * 100).toFixed(1)}%`, worstFair.toFixed(2)]);
    }
  }
  say('## Weights: share vs weight (N = 10, weights drawn from {1, 2, 4})');
  say();
  say(
    'Max over members and seeds (10 seeds at P = 2056, 3 at 65536) of |held / (P·R·w/Σw) − 1|: primaries alone (held = partitions where it is replica 0, R taken as 1), and all R slots (with R > 1 a member holds at most one slot per partition, so heavy members fall short of w/Σw and light ones exceed it). Last column: the all-slots error in standard deviations of binomial noise (|held − expected| / sqrt(expected)).',
  );
  say();
  say(table(['P', 'R', 'primaries: max relative error', 'all slots: max relative error', 'all slots, in noise sd'], shareRows));
  say();

  const changeRows: (string | number)[][] = [];
  for (const [label, zoneCount, replicas] of [
    ['weights, R = 1', 0, 1],
    ['weights, R = 3', 0, 3],
    ['zones 4 × 5 + weights, R = 3', 4, 3],
  ] as [string, number, number][]) {
    for (const factor of [2, 0.5]) {
      let movedSum = 0;
      let ideal = 0;
      for (let trial = 1; trial <= trials; trial++) {
        const l = layout(zoneCount > 0 ? 20 : 12, zoneCount, trial * 31337, true);
        const who = l.members[trial % l.members.length]!;
        const a = build(l, replicas);
        const b = build({ ...l, weights: { ...l.weights!, [who]: l.weights![who]! * factor } }, replicas);
        movedSum += moved(a, b);
        ideal += Math.abs(holdings(b, who) - holdings(a, who));
      }
      changeRows.push([
        label,
        `× ${factor}`,
        (movedSum / (trials * partitions * replicas)).toFixed(4),
        `${(movedSum / ideal).toFixed(2)}×`,
      ]);
    }
  }
  say(`## Weights: data moved when one member's weight changes (P = ${partitions}, mean over ${trials} trials)`);
  say();
  say("Ratio to the minimum: the change in that member's holdings (what it must gain, or what others must take over).");
  say();
  say(table(['layout', 'weight change', 'fraction of slots moved', 'vs minimum'], changeRows));
  say();
}

if (!quick) writeFileSync(new URL('./results/partition.md', import.meta.url), `${out.join('\n')}\n`);
process.exit(0);
