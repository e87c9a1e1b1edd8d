/**
 * Soak run (not in CI): a cluster of --agents agents on loopback (from dist/, their
 * own processes) for --minutes, with churn (every --churn-seconds one agent other than the
 * anchor is either killed with SIGKILL and restarted on the same port, or leaves gracefully and
 * rejoins) and the attacks of bench/attack/attacker.ts cycled against the long-lived anchor
 * agent. Every second every agent's RSS and the anchor's open file descriptors are sampled;
 * the anchor's /health is fetched every --probe-ms over one keep-alive connection (an
 * event-loop delay proxy). The last quarter (at most 60 s) is quiet: no churn, no attacks, every
 * agent running; then all agents must list each other alive and agree on one ring checksum.
 *
 * Packet loss is not injected: that needs netem or a packet filter, and this machine's kernel
 * has no netem and no iptables/nft (and the machine's network must not be changed).
 *
 *   npm run build && npm run soak -- --minutes 30 [--agents 6 --churn-seconds 20 --attack-seconds 20 --encrypt]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ATTACKS, type AttackName } from './attack/attacks.js';
import {
  type AgentProc,
  type AgentSpec,
  HealthProber,
  converged,
  fmt,
  httpGet,
  killAgent,
  killAllStarted,
  randomKey,
  root,
  rssMiB,
  sleep,
  startAgent,
  started,
} from './attack/cluster.js';
import { machineLine, table } from './machine.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    agents: { type: 'string', default: '6' },
    'churn-seconds': { type: 'string', default: '20' },
    'attack-seconds': { type: 'string', default: '20' },
    'attack-pause-seconds': { type: 'string', default: '10' },
    'udp-rate': { type: 'string', default: '2000' },
    'probe-ms': { type: 'string', default: '100' },
    attacks: { type: 'string' },
    /**
     * udp-flood kinds (prefixes; see bench/attack/attacker.ts). Unencrypted, the default leaves out
     * the forged alive/suspect/dead and Serf intents about real members: without a key anyone may
     * speak for a member (README "Security model"), and bench:attack measures them on their own.
     */
    'udp-kinds': { type: 'string' },
    encrypt: { type: 'boolean', default: false },
    partitions: { type: 'string', default: '16' },
    out: { type: 'string', default: join(root, 'bench/results/soak.md') },
  },
});
const TOTAL_MS = Number(values.minutes) * 60_000;
const QUIET_MS = Math.min(60_000, TOTAL_MS / 4);
const N = Number(values.agents);
const CHURN_MS = Number(values['churn-seconds']) * 1000;
const ATTACK_MS = Number(values['attack-seconds']) * 1000;
const ATTACK_PAUSE_MS = Number(values['attack-pause-seconds']) * 1000;
const PARTITIONS = Number(values.partitions);
const attackList = (values.attacks ? values.attacks.split(',') : [...ATTACKS]) as AttackName[];
for (const a of attackList) if (!ATTACKS.includes(a)) throw new Error(`unknown attack ${a}`);
const key = values.encrypt ? randomKey() : undefined;
const SAFE_UDP_KINDS = 'compound-of-compress,nested,map32,array32,str32,bin32,map-30k,deep,serf-user-event,serf-query';
const udpKinds = values['udp-kinds'] ?? (key ? undefined : SAFE_UDP_KINDS);

const cleanup = () => killAllStarted();
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.on('exit', cleanup);

const log = (msg: string) => console.error(`[soak ${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${msg}`);
let t0 = Date.now();

/** Live agents by name (replaced on restart). */
const agents = new Map<string, AgentProc>();
const rssSamples: { t: number; name: string; pid: number; rss: number }[] = [];
const anchorFds: { t: number; fds: number }[] = [];
const churnLog: string[] = [];
const attackLog: { attack: AttackName; at: number; stats: string }[] = [];
let anchorCrashed = '';

function spec(name: string, port?: number, httpPort?: number, join: number[] = []): AgentSpec {
  return {
    name,
    ...(port ? { port } : {}),
    ...(httpPort ? { httpPort } : {}),
    join,
    partitions: PARTITIONS,
    extra: ['--tag', 'http=http://127.0.0.1:9'],
    ...(key ? { encrypt: key } : {}),
  };
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

function slopePerTenMin(points: { t: number; v: number }[]): number {
  if (points.length < 2) return Number.NaN;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mv = points.reduce((s, p) => s + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? Number.NaN : (num / den) * 600_000;
}

/** The lowest sample of each minute, at the minute's midpoint. */
function minuteMinimums(points: { t: number; v: number }[]): { t: number; v: number }[] {
  const byMinute = new Map<number, number>();
  for (const p of points) {
    const m = Math.floor(p.t / 60_000);
    byMinute.set(m, Math.min(byMinute.get(m) ?? Number.POSITIVE_INFINITY, p.v));
  }
  return [...byMinute].map(([m, v]) => ({ t: m * 60_000 + 30_000, v }));
}

async function churn(stopAt: number): Promise<void> {
  let i = 0;
  while (Date.now() + CHURN_MS < stopAt) {
    await sleep(CHURN_MS);
    if (Date.now() >= stopAt) break;
    const names = [...agents.keys()].filter((n) => n !== 'anchor');
    const name = names[Math.floor(Math.random() * names.length)]!;
    const a = agents.get(name)!;
    const graceful = i++ % 2 === 1;
    log(`churn: ${graceful ? 'graceful leave of' : 'kill -9 of'} ${name}`);
    churnLog.push(`${((Date.now() - t0) / 1000).toFixed(0)} s: ${graceful ? 'leave+rejoin' : 'kill -9+restart'} ${name}`);
    await killAgent(a, graceful ? 'SIGTERM' : 'SIGKILL', 10_000);
    await sleep(graceful ? 5000 : 3000);
    const seeds = [
      agents.get('anchor')!.port,
      ...[...agents.values()]
        .filter((x) => x.name !== name && x.name !== 'anchor')
        .map((x) => x.port)
        .slice(0, 1),
    ];
    try {
      agents.set(name, await startAgent(spec(name, a.port, a.httpPort, seeds)));
    } catch (err) {
      log(`restart of ${name} failed: ${(err as Error).message.slice(0, 300)}; retrying on new ports`);
      agents.set(name, await startAgent(spec(name, undefined, undefined, seeds)));
    }
  }
}

async function attacks(stopAt: number): Promise<void> {
  let i = 0;
  while (Date.now() + ATTACK_MS < stopAt) {
    const attack = attackList[i++ % attackList.length]!;
    const anchor = agents.get('anchor')!;
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/attack/attacker.ts',
        '--attack',
        attack,
        '--gossip',
        `127.0.0.1:${anchor.port}`,
        '--http',
        `127.0.0.1:${anchor.httpPort}`,
        '--ms',
        String(ATTACK_MS),
        '--members',
        [...agents.values()].map((a) => `${a.name}=${a.port}`).join(','),
        '--victim',
        'anchor',
        '--udp-rate',
        values['udp-rate'],
        ...(udpKinds ? ['--udp-kinds', udpKinds] : []),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    started.add(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const at = Date.now() - t0;
    log(`attack: ${attack} for ${ATTACK_MS / 1000} s`);
    await new Promise<void>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), ATTACK_MS + 60_000);
      child.once('exit', () => {
        clearTimeout(killer);
        started.delete(child);
        resolve();
      });
    });
    attackLog.push({ attack, at, stats: out.trim().split('\n').pop() ?? '' });
    await sleep(ATTACK_PAUSE_MS);
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const load0 = loadavg();
  const anchor = await startAgent(spec('anchor'));
  agents.set('anchor', anchor);
  for (let i = 1; i < N; i++) agents.set(`node-${i}`, await startAgent(spec(`node-${i}`, undefined, undefined, [anchor.port])));
  const tc = Date.now();
  while (!(await converged([...agents.values()]))) {
    if (Date.now() - tc > 60_000) throw new Error('cluster did not converge in 60 s');
    await sleep(250);
  }
  await sleep(2000);
  const idleRss = rssMiB(anchor.pid);
  t0 = Date.now();
  log(`${N} agents converged; soaking for ${TOTAL_MS / 60_000} min (last ${QUIET_MS / 1000} s quiet)${key ? ', encrypted' : ''}`);

  const prober = new HealthProber(anchor.httpPort, Number(values['probe-ms']), 1000, true);
  const sampler = setInterval(() => {
    const t = Date.now() - t0;
    for (const a of agents.values()) {
      const rss = rssMiB(a.pid);
      if (!Number.isNaN(rss)) rssSamples.push({ t, name: a.name, pid: a.pid, rss });
    }
    anchorFds.push({ t, fds: fdCount(anchor.pid) });
    if (anchor.exited() && !anchorCrashed) {
      anchorCrashed = `anchor exited (${anchor.child.exitCode ?? anchor.child.signalCode}) at ${(t / 1000).toFixed(0)} s: ${anchor.stderrTail().slice(-800)}`;
      log(anchorCrashed);
    }
  }, 1000);
  const progress = setInterval(() => {
    const r = rssMiB(anchor.pid);
    const s = prober.summary();
    log(`anchor RSS ${fmt(r)} MiB, fds ${fdCount(anchor.pid)}, /health p99 ${fmt(s.p99)} max ${fmt(s.max)} ms so far`);
  }, 30_000);

  const activeEnd = t0 + TOTAL_MS - QUIET_MS;
  await Promise.all([churn(activeEnd), attacks(activeEnd)]);
  log('quiet phase: no churn, no attacks');
  // every agent running (a churned one may have failed to restart)
  for (const [name, a] of agents)
    if (a.exited() && name !== 'anchor') agents.set(name, await startAgent(spec(name, a.port, a.httpPort, [anchor.port])));
  const quietStart = Date.now() - t0;
  const wait = t0 + TOTAL_MS - Date.now();
  if (wait > 0) await sleep(wait);
  clearInterval(progress);

  // convergence at the end: waited for up to 60 s more
  const live = [...agents.values()];
  const tEnd = Date.now();
  let convergedAtEnd = await converged(live);
  let convergeWaitMs = 0;
  while (!convergedAtEnd && Date.now() - tEnd < 60_000) {
    await sleep(500);
    convergedAtEnd = await converged(live);
  }
  convergeWaitMs = Date.now() - tEnd;
  const checksums = await Promise.all(
    live.map(async (a) => {
      const r = await httpGet(a.httpPort, '/ring', 5000);
      try {
        return r.ok ? String((JSON.parse(r.body) as { checksum: unknown }).checksum) : `error ${r.status}`;
      } catch {
        return 'unreadable';
      }
    }),
  );
  clearInterval(sampler);
  await prober.stop();
  const health = prober.summary();
  const load1 = loadavg();

  // figures
  const anchorRss = rssSamples.filter((s) => s.name === 'anchor').map((s) => ({ t: s.t, v: s.rss }));
  const quietRss = anchorRss.filter((p) => p.t >= quietStart);
  const perAgent = [...new Set(rssSamples.map((s) => s.name))].map((name) => {
    const ss = rssSamples.filter((s) => s.name === name);
    const pids = new Set(ss.map((s) => s.pid));
    return { name, processes: pids.size, max: Math.max(...ss.map((s) => s.rss)), end: ss[ss.length - 1]!.rss };
  });
  const fd0 = anchorFds[0]?.fds ?? Number.NaN;
  const fdEnd = anchorFds[anchorFds.length - 1]?.fds ?? Number.NaN;
  const fdMax = Math.max(...anchorFds.map((f) => f.fds).filter((x) => !Number.isNaN(x)));
  const oneChecksum = new Set(checksums).size === 1 && !checksums[0]!.startsWith('error');
  const summary: [string, string][] = [
    [
      'duration',
      `${fmt(TOTAL_MS / 60_000)} min (last ${fmt(QUIET_MS / 1000, 0)} s quiet), ${N} agents, ${key ? 'encrypted' : 'unencrypted'}, LAN profile, --partitions ${PARTITIONS}`,
    ],
    [
      'churn',
      `${churnLog.length} events (every ${CHURN_MS / 1000} s, alternating kill -9 + restart on the same port and graceful leave + rejoin)`,
    ],
    [
      'attacks on the anchor',
      `${attackLog.length} runs of ${ATTACK_MS / 1000} s, ${ATTACK_PAUSE_MS / 1000} s apart, cycling ${attackList.join(', ')}; udp-flood at ${values['udp-rate']}/s, kinds ${udpKinds ?? 'all'}`,
    ],
    ['packet loss', 'not injected (no netem, iptables or nft on this machine; the machine network is not to be changed)'],
    [
      'anchor RSS idle before the run / end / max',
      `${fmt(idleRss)} / ${fmt(anchorRss[anchorRss.length - 1]?.v ?? Number.NaN)} / ${fmt(Math.max(...anchorRss.map((p) => p.v)))} MiB`,
    ],
    ['anchor RSS slope, whole run', `${fmt(slopePerTenMin(anchorRss))} MiB per 10 min`],
    [
      'anchor RSS slope of the per-minute minimums (the baseline the GC returns to)',
      `${fmt(slopePerTenMin(minuteMinimums(anchorRss)))} MiB per 10 min`,
    ],
    [
      'anchor RSS in the quiet phase (min / max)',
      quietRss.length ? `${fmt(Math.min(...quietRss.map((p) => p.v)))} / ${fmt(Math.max(...quietRss.map((p) => p.v)))} MiB` : '—',
    ],
    ['anchor open fds start / end / max', `${fd0} / ${fdEnd} / ${fdMax}`],
    [
      'anchor /health (keep-alive, every ' + values['probe-ms'] + ' ms)',
      `p50 ${fmt(health.p50)} ms, p99 ${fmt(health.p99)} ms, max ${fmt(health.max)} ms, longest gap ${fmt(health.gap, 0)} ms, ${health.failures} failed of ${health.n}${health.errors ? ` (${health.errors})` : ''}`,
    ],
    ['other agents, max RSS', `${fmt(Math.max(...perAgent.filter((p) => p.name !== 'anchor').map((p) => p.max)))} MiB`],
    [
      'converged at the end',
      convergedAtEnd ? `yes (${convergeWaitMs < 600 ? 'at once' : `after ${fmt(convergeWaitMs / 1000)} s`})` : `**no** (not within 60 s)`,
    ],
    ['ring checksum', oneChecksum ? `one (${checksums[0]})` : `**${new Set(checksums).size} different**: ${checksums.join(', ')}`],
    ['anchor crashed', anchorCrashed ? `**${anchorCrashed.replace(/\n/g, ' ')}**` : 'no'],
  ];
  const md = [
    '# Soak run',
    '',
    `\`npm run soak -- --minutes ${values.minutes}\` (bench/soak.ts), ${startedAt.toISOString()}.`,
    '',
    `Machine: ${machineLine()}; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1.map((x) => x.toFixed(2)).join(' ')} at end.`,
    '',
    table(['what', 'figure'], summary),
    '',
    '## Per agent (RSS over all its processes)',
    '',
    table(
      ['agent', 'processes (restarts + 1)', 'max RSS MiB', 'end RSS MiB'],
      perAgent.map((p) => [p.name, p.processes, fmt(p.max), fmt(p.end)]),
    ),
    '',
    '## Anchor RSS, one sample per 30 s',
    '',
    anchorRss
      .filter((_, i) => i % 30 === 0)
      .map((p) => `${(p.t / 1000).toFixed(0)} s: ${fmt(p.v)} MiB`)
      .join(', '),
    '',
    '## Churn',
    '',
    churnLog.join('; ') || '—',
    '',
    '## Attacks',
    '',
    ...attackLog.map((a) => `- ${(a.at / 1000).toFixed(0)} s ${a.attack}: ${a.stats}`),
    '',
  ].join('\n');
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(values.out, md);
  console.log(table(['what', 'figure'], summary));
  console.log(`\nwritten to ${values.out}`);
  await Promise.all([...agents.values()].map((a) => killAgent(a, 'SIGKILL')));
}

try {
  await main();
} finally {
  cleanup();
}
