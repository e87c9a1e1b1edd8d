/**
 * Simulated gossip: the real machine and codec on the virtual clock, LAN profile.
 * Time until 99.99 % and 100 % of nodes know of a join and of a failure, beside the epidemic
 * floor and Serf's published model; traffic per node idle and under churn; false failures
 * under loss with and without Lifeguard; simulator speed. Medians over seeds.
 *   npm run bench:sim [-- --quick]
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { resolveGossipConfig } from '../src/gossip/config.js';
import { SimWorld } from '../src/sim/world.js';
import { machineLine, median, table } from './machine.js';
import { convergedWorld as fresh, joinAndFailure, spread } from './sim-helpers.js';

const quick = process.argv.includes('--quick');
const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};
const lan = resolveGossipConfig('lan');
/** Serf's convergence simulator (serf.io docs), LAN, time to 99.99 %. */
const SERF_MODEL_S: Record<number, number> = { 10: 1.6, 100: 2.0, 1000: 2.2, 10000: 2.6 };
const UDP_IP_HEADER_BYTES = 28;

function traffic(w: SimWorld, ms: number, churn: boolean, names: string[]): { packets: number; bytes: number } {
  const count = () => {
    let packets = 0;
    let bytes = 0;
    for (const n of w.nodes.values()) {
      packets += n.machine.counters.packetsOut;
      bytes += n.machine.counters.bytesOut + n.machine.counters.packetsOut * UDP_IP_HEADER_BYTES;
    }
    return { packets, bytes };
  };
  const before = count();
  const nodes = w.nodes.size;
  if (!churn) w.runFor(ms);
  else {
    // One crash and one restart every 5 s.
    let down: string | undefined;
    for (let t = 0; t < ms; t += 5_000) {
      if (down) w.restart(down, names[0]!);
      down = names[1 + Math.floor(w.random() * (names.length - 1))];
      w.crash(down!);
      w.runFor(5_000);
    }
  }
  const after = count();
  const perNodeSecond = nodes * (ms / 1000);
  return { packets: (after.packets - before.packets) / perNodeSecond, bytes: (after.bytes - before.bytes) / perNodeSecond };
}

const fmt = (ms: number | null) => (ms === null ? 'n/a' : (ms / 1000).toFixed(2));

say('# Simulated gossip benchmarks (LAN profile)');
say();
say(
  `Machine: ${machineLine()}. The real GossipMachine and codec on a virtual clock; links 1–2 ms, no loss unless stated. Medians over seeds (20 for the join and failure rows up to 100 nodes, 5 for traffic, 3 at 1 000, one above).`,
);
say();

const sizes = quick ? [10, 100] : [10, 100, 1000];
const convergence: (string | number)[][] = [];
const trafficRows: (string | number)[][] = [];
for (const n of sizes) {
  // Join times are a few ms when the eager waves reach everyone and jump by a 200 ms gossip tick
  // when they miss one node, so small clusters need many seeds for a stable median.
  const seeds = n >= 1000 ? [1, 2, 3] : Array.from({ length: 20 }, (_, i) => i + 1);
  const join99: number[] = [];
  const join100: number[] = [];
  const fail99: number[] = [];
  const fail100: number[] = [];
  const idle: { packets: number; bytes: number }[] = [];
  const churn: { packets: number; bytes: number }[] = [];
  const wallPerSimSecond: number[] = [];
  for (const seed of seeds) {
    {
      const { w, names } = fresh(seed, n);
      const wall = performance.now();
      idle.push(traffic(w, 30_000, false, names));
      wallPerSimSecond.push((performance.now() - wall) / 30);
      const { join, failure } = joinAndFailure(w, names);
      if (join[0] !== null) join99.push(join[0]);
      if (join[1] !== null) join100.push(join[1]);
      if (failure[0] !== null) fail99.push(failure[0]);
      if (failure[1] !== null) fail100.push(failure[1]);
    }
    if (seed <= 5) {
      const { w, names } = fresh(seed + 100, n);
      churn.push(traffic(w, 30_000, true, names));
    }
  }
  const floor = Math.ceil(Math.log(n) / Math.log(1 + lan.gossipNodes)) * lan.gossipIntervalMs;
  convergence.push([
    n,
    fmt(median(join99)),
    fmt(median(join100)),
    fmt(floor),
    SERF_MODEL_S[n]!.toFixed(1),
    (median(join99) / 1000 / SERF_MODEL_S[n]!).toFixed(3),
    fmt(median(fail99)),
    fmt(median(fail100)),
  ]);
  trafficRows.push([
    n,
    median(idle.map((x) => x.packets)).toFixed(2),
    median(idle.map((x) => x.bytes)).toFixed(0),
    median(churn.map((x) => x.packets)).toFixed(2),
    median(churn.map((x) => x.bytes)).toFixed(0),
    median(wallPerSimSecond).toFixed(1),
  ]);
}
// The largest sizes: one seed, join and failure only. At 10 000 every node holds every member
// (10⁸ records in one process, about 13 GB of heap); push/pull is off there: a full-state
// exchange of 10 000 records per node would dominate the run and only adds anti-entropy.
for (const n of quick ? [] : [3000, 10000]) {
  const { w, names } = fresh(1, n, n >= 10000 ? { pushPullIntervalMs: 0 } : {});
  const { join, failure } = joinAndFailure(w, names);
  const model = SERF_MODEL_S[n];
  convergence.push([
    n,
    fmt(join[0]),
    fmt(join[1]),
    fmt(Math.ceil(Math.log(n) / Math.log(1 + lan.gossipNodes)) * lan.gossipIntervalMs),
    model ? model.toFixed(1) : '-',
    model && join[0] !== null ? (join[0] / 1000 / model).toFixed(3) : '-',
    fmt(failure[0]),
    fmt(failure[1]),
  ]);
}

say('## Join and failure, seconds until 99.99 % / 100 % of nodes know');
say();
say(
  "A join: one node joins a converged cluster through a random member. A failure: one node is killed. Rounds estimate: ⌈log₄ N⌉ synchronous gossip rounds of 200 ms with fanout 3 (not a lower bound: timers are staggered and news also rides on probes and acks). Serf model: Serf's published convergence simulation, 99.99 %.",
);
say();
say(
  table(
    ['N', 'join 99.99 %', 'join 100 %', 'rounds estimate', 'Serf model 99.99 %', 'ours / Serf', 'failure 99.99 %', 'failure 100 %'],
    convergence,
  ),
);
say();
say(
  'N = 3 000 and 10 000: one seed each. At 10 000 the process holds 10⁸ member records (about 13 GB of heap with the columnar member table) and push/pull is off, so only gossip, probes and acks spread the news. The failure times are dominated by the suspicion timeout, which grows with log₁₀ N (16 s minimum at 10 000), not by dissemination.',
);
say();
say('## Traffic per node per second (UDP, IP and UDP headers included)');
say();
say(table(['N', 'idle packets', 'idle bytes', 'churn packets', 'churn bytes', 'wall ms per simulated s (idle)'], trafficRows));
say();
say(
  'Churn: a node crashes and the previous one restarts every 5 s. Datagrams only: push/pull anti-entropy adds one TCP exchange of the full member list per node per push/pull interval. Serf, measured on real agents: about 2.0 datagrams and 336 B per node per second idle.',
);
say();

// False failures under loss.
const lossRows: (string | number)[][] = [];
const minutes = quick ? 2 : 10;
for (const loss of [0.1, 0.2, 0.3]) {
  const cells: (string | number)[] = [`${loss * 100} %`];
  for (const lifeguard of [false, true]) {
    const w = new SimWorld(14, resolveGossipConfig('lan', { lifeguard }));
    const names = w.addConvergedCluster(100);
    w.runFor(5_000);
    w.network.link.loss = loss;
    const start = w.nowMs;
    w.runFor(minutes * 60_000);
    const events = w.events.filter((e) => e.atMs >= start && e.change === 'leave');
    cells.push(`${events.length} (${new Set(events.map((e) => e.member.name)).size} nodes)`);
    void names;
  }
  lossRows.push(cells);
}
say(`## False failures: 100 nodes, ${minutes} simulated minutes of packet loss (every datagram; TCP pays retransmission timeouts)`);
say();
say('Failure notifications about nodes that never failed (distinct nodes wrongly declared failed).');
say();
say(table(['loss', 'SWIM without Lifeguard', 'with Lifeguard (default)'], lossRows));
say();

// Small clusters: the retransmit limit is only mult × 1 up to 9 nodes (2 in the local profile),
// so an epidemic can die out before it reaches everyone; push/pull repairs it later.
const reachRows: (string | number)[][] = [];
for (const profile of ['local', 'lan'] as const) {
  for (const n of [5, 8, 20]) {
    let missed = 0;
    let told = 0;
    const failAll: number[] = [];
    for (let seed = 1; seed <= (quick ? 3 : 10); seed++) {
      const w = new SimWorld(seed, resolveGossipConfig(profile, { pushPullIntervalMs: 0 }), { serf: true });
      w.maxEvents = 0;
      const names = w.addConvergedCluster(n);
      w.runFor(5_000);
      for (let update = 0; update < 40; update++) {
        const who = names[Math.floor(w.random() * n)]!;
        w.setTags(who, { v: String(update) });
        w.runFor(3_000);
        for (const o of names) {
          if (o === who) continue;
          told++;
          if (w.nodes.get(o)!.serf!.members.get(who)?.tags['v'] !== String(update)) missed++;
        }
      }
      const victim = names[1 + Math.floor(w.random() * (n - 1))]!;
      w.crash(victim);
      const [, all] = spread(
        w,
        () => names.filter((x) => x !== victim),
        (o) => w.statusOf(o, victim) === 'dead',
        120_000,
      );
      if (all !== null) failAll.push(all);
    }
    reachRows.push([profile, n, `${((100 * missed) / told).toFixed(2)} %`, fmt(median(failAll)), fmt(Math.max(...failAll))]);
  }
}
say('## Small clusters: news that missed a member, push/pull off');
say();
say(
  'Each update is a tag change (an alive with a new incarnation); a member missed it if it did not have it 3 s later. Ideal: 0 %. Then one node is killed: seconds until every other member holds it dead (median and worst over the seeds).',
);
say();
say(table(['profile', 'N', 'updates missed', 'failure 100 % median', 'failure 100 % worst'], reachRows));
say();

// Healing: our goal is one cluster again within 10 s after a 3/3 partition heals (serf: 30 s).
const healRows: (string | number)[][] = [];
for (const [label, overrides] of [
  ['default (reconnect every 5 s)', {}],
  ["with Serf's reconnect interval (30 s)", { reconnectIntervalMs: 30_000 }],
] as const) {
  const healS: number[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const w = new SimWorld(seed, resolveGossipConfig('lan', overrides), { serf: true });
    w.maxEvents = 0;
    const names = w.addConvergedCluster(6);
    w.runFor(10_000);
    const addresses = (list: string[]) => list.map((n) => `${w.nodes.get(n)!.address.host}:${w.nodes.get(n)!.address.port}`);
    w.network.partition(addresses(names.slice(0, 3)), addresses(names.slice(3)));
    w.runFor(60_000);
    w.network.heal();
    const [, all] = spread(
      w,
      () => names,
      (o) => names.every((x) => w.statusOf(o, x) === 'alive'),
      300_000,
    );
    healS.push(all === null ? Infinity : all);
  }
  healRows.push([label, fmt(median(healS)), fmt(Math.max(...healS))]);
}
say('## Healing: 6 nodes, a 3/3 network partition for 60 s, then healed');
say();
say('Seconds from healing until every node lists all six alive, over 20 seeds. Serf: about 30 s (its reconnect interval). Goal: 10 s.');
say();
say(table(['swimring', 'median', 'worst'], healRows));
say();

if (!quick) writeFileSync(new URL('./results/gossip-sim.md', import.meta.url), `${out.join('\n')}\n`);
