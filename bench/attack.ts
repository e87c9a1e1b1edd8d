/**
 * Attack benchmark: the wall-clock side of the input budgets (docs/budgets.md). For an unencrypted
 * and an encrypted 3-agent cluster (LAN profile, loopback, agents run from dist/ as their own
 * processes), each attack of bench/attack/attacker.ts runs for --seconds from a separate
 * attacker process against the victim while this process:
 *   - GETs /health every 10 ms over one keep-alive connection (an event-loop delay proxy: a
 *     failure or a wait over 1 s counts as 1000 ms) and every 100 ms on a fresh connection
 *     (availability to new clients);
 *   - samples the victim's RSS (/proc/PID/status VmRSS) every 100 ms;
 *   - asks every agent for /members every second.
 * After the attack: the victim must list the 3 real members alive (and no other alive) and they it (waited
 * for up to 20 s; the time to recover is reported), and the victim's drop counters (GET
 * /metrics) are diffed. Medians over --repeats. Writes bench/results/attack.md.
 *
 *   npm run build && npm run bench:attack [-- --seconds 10 --repeats 1 --only udp-flood,tcp-stalled --modes plain,encrypted --udp-rate 4000]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ATTACKS, ATTACK_DESCRIPTIONS, type AttackName } from './attack/attacks.js';
import {
  type AgentProc,
  HealthProber,
  RssSampler,
  converged,
  dropCounters,
  eventDelivered,
  dropDelta,
  fmt,
  killAgent,
  killAllStarted,
  listsExactly,
  randomKey,
  root,
  rssMiB,
  sleep,
  startAgent,
  started,
} from './attack/cluster.js';
import { machineLine, median, table } from './machine.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '1' },
    only: { type: 'string' },
    modes: { type: 'string', default: 'plain,encrypted' },
    'udp-rate': { type: 'string', default: '4000' },
    /** udp-flood only: prefixes of the datagram kinds to send (to find which one does harm). */
    'udp-kinds': { type: 'string' },
    out: { type: 'string', default: join(root, 'bench/results/attack.md') },
  },
});
const SECONDS = Number(values.seconds);
const REPEATS = Number(values.repeats);
const attacks = (values.only ? values.only.split(',') : [...ATTACKS]) as AttackName[];
for (const a of attacks) if (!ATTACKS.includes(a)) throw new Error(`unknown attack ${a}; one of ${ATTACKS.join(', ')}`);
const modes = values.modes.split(',') as ('plain' | 'encrypted')[];
const RECOVERY_MS = 20_000;
const PROBE_TIMEOUT_MS = 1000;

let interrupted = false;
const cleanup = () => killAllStarted();
process.on('SIGINT', () => {
  interrupted = true;
  cleanup();
  process.exit(130);
});
process.on('exit', cleanup);

interface Cluster {
  mode: 'plain' | 'encrypted';
  key: string | undefined;
  agents: AgentProc[];
  victim: AgentProc;
  idleRss: number;
}

async function startCluster(mode: 'plain' | 'encrypted'): Promise<Cluster> {
  const key = mode === 'encrypted' ? randomKey() : undefined;
  const common = { partitions: 16, extra: ['--tag', 'http=http://127.0.0.1:9'], ...(key ? { encrypt: key } : {}) };
  const victim = await startAgent({ name: 'victim', ...common });
  const agents = [victim];
  for (const name of ['peer-1', 'peer-2']) agents.push(await startAgent({ name, join: [victim.port], ...common }));
  const t0 = Date.now();
  while (!(await converged(agents))) {
    if (Date.now() - t0 > 30_000) throw new Error('cluster did not converge in 30 s');
    await sleep(200);
  }
  await sleep(3000); // join traffic settles, the heap warms up
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    samples.push(rssMiB(victim.pid));
    await sleep(100);
  }
  return { mode, key, agents, victim, idleRss: median(samples) };
}

async function stopCluster(c: Cluster): Promise<void> {
  await Promise.all(c.agents.map((a) => killAgent(a, 'SIGKILL')));
}

interface Result {
  mode: string;
  attack: AttackName;
  p50: number;
  p99: number;
  max: number;
  gap: number;
  fails: number;
  n: number;
  freshN: number;
  freshP99: number;
  freshFails: number;
  freshErrors: string;
  idleRss: number;
  peakDelta: number;
  endDelta: number;
  /** Member-list samples during the attack that were wrong, of those answered. */
  wrongDuring: number;
  samplesDuring: number;
  /** Right after the attack; else ms to recover, or -1 when it did not within RECOVERY_MS. */
  rightAfter: boolean;
  recoverMs: number;
  events: string;
  /** User events sent after the attack reached every agent. */
  eventsOk: string;
  drops: string;
  attacker: string;
  crashed: string;
}

function spawnAttacker(c: Cluster, attack: AttackName, ms: number): ChildProcess {
  const v = c.victim;
  const args = [
    '--import',
    'tsx',
    'bench/attack/attacker.ts',
    '--attack',
    attack,
    '--gossip',
    `127.0.0.1:${v.port}`,
    '--http',
    `127.0.0.1:${v.httpPort}`,
    '--ms',
    String(ms),
    '--members',
    c.agents.map((a) => `${a.name}=${a.port}`).join(','),
    '--victim',
    v.name,
    '--udp-rate',
    values['udp-rate'],
    ...(values['udp-kinds'] ? ['--udp-kinds', values['udp-kinds']] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  child.on('exit', () => started.delete(child));
  return child;
}

async function runAttack(c: Cluster, attack: AttackName): Promise<Result> {
  const v = c.victim;
  const names = c.agents.map((a) => a.name);
  const dropsBefore = await dropCounters(v.httpPort);
  const eventsBefore = c.agents.map((a) => a.events.length);
  const keepAlive = new HealthProber(v.httpPort, 10, PROBE_TIMEOUT_MS, true);
  const fresh = new HealthProber(v.httpPort, 100, PROBE_TIMEOUT_MS, false);
  const rss = new RssSampler(v.pid, 100);
  let wrongDuring = 0;
  let samplesDuring = 0;
  let polling = true;
  // one kept-alive connection per agent, opened before the attack, so /members is still asked when new connections are refused
  const pollAgents = c.agents.map(() => new HttpAgent({ keepAlive: true, maxSockets: 1 }));
  const poller = (async () => {
    while (polling) {
      const t0 = Date.now();
      const r = await Promise.all(c.agents.map((a, i) => listsExactly(a.httpPort, names, pollAgents[i])));
      if (!polling) break;
      if (r.every((x) => x !== undefined)) {
        samplesDuring++;
        if (r.some((x) => x === false)) wrongDuring++;
      } else if (r.some((x) => x === false)) {
        samplesDuring++;
        wrongDuring++;
      }
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
  })();

  const attacker = spawnAttacker(c, attack, SECONDS * 1000);
  let out = '';
  let err = '';
  attacker.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  attacker.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => attacker.once('exit', () => resolve()));
  // the measured window starts when the attacker's payloads are built
  const readyBy = Date.now() + 60_000;
  while (!out.includes('"ready"') && attacker.exitCode === null && Date.now() < readyBy) await sleep(20);
  keepAlive.reset();
  fresh.reset();
  rss.samples.length = 0;
  const killer = setTimeout(() => attacker.kill('SIGKILL'), SECONDS * 1000 + 30_000);
  await exited;
  clearTimeout(killer);
  polling = false;
  await Promise.all([keepAlive.stop(), fresh.stop(), poller]);
  for (const a of pollAgents) a.destroy();
  rss.stop();
  const endRss = rssMiB(v.pid);

  const crashed = v.exited() ? `victim exited (${v.child.exitCode ?? v.child.signalCode}): ${v.stderrTail().slice(-600)}` : '';
  const dropsAfter = crashed ? undefined : await dropCounters(v.httpPort);
  let rightAfter = false;
  let recoverMs = -1;
  if (!crashed) {
    const t0 = Date.now();
    rightAfter = await converged(c.agents);
    if (rightAfter) recoverMs = 0;
    else {
      while (Date.now() - t0 < RECOVERY_MS) {
        await sleep(250);
        if (await converged(c.agents)) {
          recoverMs = Date.now() - t0;
          break;
        }
      }
    }
  }
  // a user event sent by each peer after the attack must reach every agent (a Lamport clock pushed to 2^64 - 1 would stop that)
  let eventsOk = 'n/a';
  if (!crashed) {
    const res: string[] = [];
    for (const from of c.agents) {
      const delivered = await eventDelivered(from, c.agents, `check-${attack}-${from.name}-${Date.now()}`);
      if (!delivered) res.push(`from ${from.name} not delivered`);
    }
    eventsOk = res.length ? res.join('; ') : 'yes';
  }
  const evCounts = new Map<string, number>();
  c.agents.forEach((a, i) => {
    for (const e of a.events.slice(eventsBefore[i])) {
      const k = `${a.name === v.name ? 'victim' : 'peers'}:${String(e['event'])}${e['name'] ? `(${String(e['name'])})` : ''}`;
      evCounts.set(k, (evCounts.get(k) ?? 0) + 1);
    }
  });
  let attackerStats = '';
  const last = out.trim().split('\n').pop() ?? '';
  try {
    const s = JSON.parse(last) as Record<string, unknown>;
    delete s['done'];
    delete s['attack'];
    attackerStats = Object.entries(s)
      .filter(([, x]) => x !== 0 && !(typeof x === 'object' && x !== null && Object.keys(x).length === 0))
      .map(([k, x]) => `${k} ${typeof x === 'object' ? JSON.stringify(x) : String(x)}`)
      .join(', ');
  } catch {
    attackerStats = `attacker output unreadable: ${err.slice(-300)}`;
  }
  const k = keepAlive.summary();
  const f = fresh.summary();
  return {
    mode: c.mode,
    attack,
    p50: k.p50,
    p99: k.p99,
    max: k.max,
    gap: k.gap,
    fails: k.failures,
    n: k.n,
    freshN: f.n,
    freshP99: f.p99,
    freshFails: f.failures,
    freshErrors: f.errors,
    idleRss: c.idleRss,
    peakDelta: rss.max - c.idleRss,
    endDelta: endRss - c.idleRss,
    wrongDuring,
    samplesDuring,
    rightAfter,
    recoverMs,
    events: [...evCounts].map(([e, n]) => `${e}×${n}`).join(' ') || '—',
    eventsOk,
    drops: dropDelta(dropsBefore, dropsAfter),
    attacker: attackerStats,
    crashed,
  };
}

function combine(rs: Result[]): Result {
  if (rs.length === 1) return rs[0]!;
  const med = (f: (r: Result) => number) => median(rs.map(f));
  return {
    ...rs[0]!,
    p50: med((r) => r.p50),
    p99: med((r) => r.p99),
    max: Math.max(...rs.map((r) => r.max)),
    gap: Math.max(...rs.map((r) => r.gap)),
    fails: med((r) => r.fails),
    freshP99: med((r) => r.freshP99),
    freshFails: med((r) => r.freshFails),
    peakDelta: med((r) => r.peakDelta),
    endDelta: med((r) => r.endDelta),
    wrongDuring: Math.max(...rs.map((r) => r.wrongDuring)),
    rightAfter: rs.every((r) => r.rightAfter),
    recoverMs: rs.some((r) => r.recoverMs < 0) ? -1 : Math.max(...rs.map((r) => r.recoverMs)),
    crashed: rs
      .map((r) => r.crashed)
      .filter(Boolean)
      .join(' | '),
    eventsOk: rs.every((r) => r.eventsOk === 'yes')
      ? 'yes'
      : rs
          .map((r) => r.eventsOk)
          .filter((e) => e !== 'yes')
          .join(' | '),
  };
}

function verdict(r: Result): string {
  const bad: string[] = [];
  if (r.crashed) bad.push('CRASH');
  if (!(r.p99 <= 100)) bad.push('p99>100ms');
  if (r.gap > 1000) bad.push(`stall ${fmt(r.gap / 1000)} s`);
  if (!(r.peakDelta <= 150)) bad.push('RSS>+150MB');
  if (r.freshFails > r.freshN / 10) bad.push(`new HTTP connections refused (${r.freshFails} of ${r.freshN} probes)`);
  if (!r.rightAfter) bad.push(r.recoverMs < 0 ? 'members wrong' : 'members recovered late');
  if (r.eventsOk !== 'yes') bad.push(`user events after: ${r.eventsOk}`);
  return bad.length ? `**${bad.join(', ')}**` : 'ok';
}

function after(r: Result): string {
  if (r.crashed) return 'crashed';
  if (r.rightAfter) return 'yes';
  return r.recoverMs < 0 ? `**no** (not in ${RECOVERY_MS / 1000} s)` : `no, right after ${fmt(r.recoverMs / 1000)} s`;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const load0 = loadavg();
  const results: Result[] = [];
  for (const mode of modes) {
    let cluster = await startCluster(mode);
    console.error(`[${mode}] cluster up, victim idle RSS ${fmt(cluster.idleRss)} MiB`);
    try {
      for (const attack of attacks) {
        const reps: Result[] = [];
        for (let rep = 0; rep < REPEATS && !interrupted; rep++) {
          // a victim that crashed or a cluster left wrong by the last attack is started afresh
          if (cluster.victim.exited() || !(await converged(cluster.agents))) {
            console.error(`[${mode}] cluster not healthy before ${attack}: restarting it`);
            await stopCluster(cluster);
            cluster = await startCluster(mode);
          }
          const r = await runAttack(cluster, attack);
          reps.push(r);
          console.error(
            `[${mode}] ${attack}#${rep + 1}: /health p50 ${fmt(r.p50)} p99 ${fmt(r.p99)} max ${fmt(r.max)} ms, gap ${fmt(r.gap)} ms, fails ${r.fails}; fresh p99 ${fmt(r.freshP99)} fails ${r.freshFails} ${r.freshErrors}; ` +
              `RSS idle ${fmt(cluster.idleRss)} peak +${fmt(r.peakDelta)} end +${fmt(r.endDelta)} MiB; members wrong ${r.wrongDuring}/${r.samplesDuring}, after ${after(r)}; user events after: ${r.eventsOk}; events ${r.events}; drops ${r.drops}; attacker ${r.attacker}${r.crashed ? `; ${r.crashed}` : ''}`,
          );
          await sleep(2000); // lingering sockets close, timers fire
        }
        if (reps.length) results.push(combine(reps));
      }
    } finally {
      await stopCluster(cluster);
    }
  }
  const load1 = loadavg();

  const header = [
    'victim',
    'attack',
    '/health p50 ms',
    'p99 ms',
    'max ms',
    'longest gap ms',
    'fails / probes',
    'fresh-conn p99 ms / fails / probes',
    'idle RSS MiB',
    'peak − idle MiB',
    'end − idle MiB',
    'members wrong during (samples)',
    'members right after',
    'verdict',
  ];
  const rows = results.map((r) => [
    r.mode,
    r.attack,
    fmt(r.p50),
    fmt(r.p99),
    fmt(r.max),
    fmt(r.gap, 0),
    `${r.fails} / ${r.n}`,
    `${fmt(r.freshP99)} / ${r.freshFails} / ${r.freshN}`,
    fmt(r.idleRss),
    fmt(r.peakDelta),
    fmt(r.endDelta),
    `${r.wrongDuring}/${r.samplesDuring}`,
    after(r),
    verdict(r),
  ]);
  const detail = results.map(
    (r) =>
      `- **${r.mode} / ${r.attack}**: victim drops ${r.drops}; user events after the attack delivered: ${r.eventsOk}; membership events ${r.events}; attacker ${r.attacker}${r.freshErrors ? `; fresh-connection probe errors ${r.freshErrors}` : ''}${r.crashed ? `; **${r.crashed.replace(/\n/g, ' ')}**` : ''}`,
  );
  const md = [
    '# Attack benchmark',
    '',
    `\`npm run bench:attack\` (bench/attack.ts), ${startedAt.toISOString()}.`,
    '',
    `Machine: ${machineLine()}; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1.map((x) => x.toFixed(2)).join(' ')} at end.`,
    '',
    `Each attack ran ${SECONDS} s from a separate attacker process against the victim of a 3-agent cluster (LAN profile, loopback, --partitions 16, agents from dist/), ${REPEATS === 1 ? 'once' : `medians of ${REPEATS} runs (max and longest gap: worst run)`}. /health was fetched every 10 ms over one keep-alive connection (a failure or a wait past ${PROBE_TIMEOUT_MS} ms counts as ${PROBE_TIMEOUT_MS} ms; "longest gap" is the longest time between two answers) and every 100 ms on a fresh connection. RSS is the victim's VmRSS sampled every 100 ms. "Members right" means the victim lists the 3 real members alive and no other member alive, and so does each of them (without encryption a forged member may be listed, as failed); it was sampled every second during the attack and checked after it (waiting up to ${RECOVERY_MS / 1000} s). Targets: /health p99 ≤ 100 ms, RSS ≤ idle + 150 MB, member list right.`,
    '',
    table(header, rows),
    '',
    '## Attacks',
    '',
    ...attacks.map(
      (a) =>
        `- **${a}**: ${ATTACK_DESCRIPTIONS[a]}${a === 'udp-flood' ? ` (${values['udp-rate']} datagrams/s${values['udp-kinds'] ? `; only kinds ${values['udp-kinds']}` : ''})` : ''}.`,
    ),
    '',
    'The encrypted victim gets the same plaintext (it has no key to forge with): it must refuse it cheaply.',
    '',
    '## Details',
    '',
    ...detail,
    '',
  ].join('\n');
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(values.out, md);
  console.log(table(header, rows));
  console.log(`\nwritten to ${values.out}`);
}

try {
  await main();
} finally {
  cleanup();
}
