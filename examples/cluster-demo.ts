/**
 * npm start: five `swimring agent` processes on 127.0.0.1 form a ring (64 partitions, 2
 * replicas, handoff on: each member takes 1 s to "load" a partition it gains). The demo shows
 * the members and how the partitions are spread, kills one with SIGKILL and shows the others
 * take over its partitions, restarts it under the same name and shows the handoff (it acquires
 * only its share, each from the member that took it over, and the previous holders keep serving
 * until it has loaded it), then stops everything it started. About
 * 20 s; `npm start -- --keep` leaves the cluster running until Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { fnv1a32Partition } from '../src/index.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const keep = process.argv.includes('--keep');
const NAMES = ['demo-1', 'demo-2', 'demo-3', 'demo-4', 'demo-5'];
const VICTIM = 'demo-3';
const PARTITIONS = 64;
const started = Date.now();
const t = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const say = (line: string) => console.log(`${t()}  ${line}`);

interface Agent {
  name: string;
  gossip: number;
  http: number;
  child: ChildProcess;
  lines: Record<string, unknown>[];
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The CLI from the sources (tsx comes with `npm ci`), so the demo never runs a stale build. */
const cli = ['--import', 'tsx', `${root}src/cli/main.ts`];

/** Ownership changes per member, printed as one summary line per member after a burst. */
const burst = new Map<string, Map<string, number>>();
let flushTimer: NodeJS.Timeout | undefined;
function note(agent: string, line: Record<string, unknown>): void {
  const type = line['event'] as string;
  if (!['acquire', 'release', 'promote', 'demote'].includes(type)) return;
  const peer = type === 'acquire' ? line['from'] : type === 'release' ? line['to'] : null;
  const key = peer ? `${type} (${type === 'acquire' ? 'from' : 'to'} ${peer})` : type;
  const counts = burst.get(agent) ?? new Map<string, number>();
  counts.set(key, (counts.get(key) ?? 0) + 1);
  burst.set(agent, counts);
  clearTimeout(flushTimer);
  flushTimer = setTimeout(flush, 300);
}
function flush(): void {
  for (const [agent, counts] of [...burst].sort(([a], [b]) => (a < b ? -1 : 1))) {
    say(`  ${agent}: ${[...counts].map(([k, n]) => `${n} × ${k}`).join(', ')}`);
  }
  burst.clear();
}

async function start(name: string, gossip: number, http: number, seed?: number): Promise<Agent> {
  const args = [
    'agent',
    '--name',
    name,
    '--bind',
    `127.0.0.1:${gossip}`,
    '--http',
    `127.0.0.1:${http}`,
    '--profile',
    'local',
    '--partitions',
    String(PARTITIONS),
    '--replicas',
    '2',
    '--handoff',
    '--ready-after',
    '1s',
    '--log-level',
    'warn',
  ];
  if (seed) args.push('--join', `127.0.0.1:${seed}`);
  const child = spawn(process.execPath, [...cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const agent: Agent = { name, gossip, http, child, lines: [] };
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (!p.trim()) continue;
      const line = JSON.parse(p) as Record<string, unknown>;
      agent.lines.push(line);
      note(name, line);
    }
  });
  await until(`${name} to start`, () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    return agent.lines.some((l) => l['event'] === 'started');
  });
  return agent;
}

async function until(what: string, done: () => boolean | Promise<boolean>, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const get = async <T>(agent: Agent, path: string): Promise<T> => (await (await fetch(`http://127.0.0.1:${agent.http}${path}`)).json()) as T;
type Ring = { members: string[]; owners: string[][]; checksum: string };

async function showRing(agent: Agent): Promise<Ring> {
  const ring = await get<Ring>(agent, '/ring');
  const primary = new Map<string, number>();
  const replica = new Map<string, number>();
  for (const [p, r] of ring.owners) {
    primary.set(p!, (primary.get(p!) ?? 0) + 1);
    if (r) replica.set(r, (replica.get(r) ?? 0) + 1);
  }
  say(`ring ${ring.checksum} as ${agent.name} sees it:`);
  for (const m of ring.members)
    say(
      `  ${m.padEnd(7)} primary for ${String(primary.get(m) ?? 0).padStart(2)}, replica for ${String(replica.get(m) ?? 0).padStart(2)} of ${PARTITIONS} partitions`,
    );
  return ring;
}

const agents = new Map<string, Agent>();
const seenAllAlive = async (n: number) =>
  (
    await Promise.all(
      [...agents.values()]
        .filter((a) => a.child.exitCode === null && a.child.signalCode === null)
        .map((a) => get<{ status: string }[]>(a, '/members')),
    )
  ).every((list) => list.filter((m) => m.status === 'alive').length === n);

async function main(): Promise<void> {
  say(`starting ${NAMES.length} agents (${PARTITIONS} partitions, 2 replicas)…`);
  for (const name of NAMES) {
    const first = agents.get(NAMES[0]!);
    agents.set(name, await start(name, await freePort(), await freePort(), first?.gossip));
  }
  await until('all five to see five alive', () => seenAllAlive(5));
  flush();
  const one = agents.get('demo-1')!;
  say('members (GET /members on demo-1):');
  for (const m of await get<{ name: string; address: string; status: string }[]>(one, '/members'))
    say(`  ${m.name.padEnd(7)} ${m.address.padEnd(16)} ${m.status}`);
  const before = await showRing(one);
  const key = 'user:1001';
  const route = await get<{ partition: number; members: { name: string }[] }>(one, `/route?key=${key}`);
  say(`${key} → partition ${route.partition} → ${route.members.map((m) => m.name).join(', ')}`);

  const victim = agents.get(VICTIM)!;
  say(`kill -9 ${VICTIM}`);
  victim.child.kill('SIGKILL');
  await until(
    `the others to see ${VICTIM} failed`,
    async () =>
      (
        await Promise.all(
          [...agents.values()].filter((a) => a !== victim).map((a) => get<{ name: string; status: string }[]>(a, '/members')),
        )
      ).every((l) => l.find((m) => m.name === VICTIM)?.status === 'failed'),
    // A member the failure news missed finds out by probing, and then waits out its own
    // suspicion timeout alone (18 s here): slow, but bounded.
    60_000,
  );
  await new Promise((r) => setTimeout(r, 400));
  flush();
  say(`${VICTIM} is failed everywhere; its partitions moved to surviving replicas:`);
  await showRing(one);

  say(`restart ${VICTIM} under the same name and address`);
  agents.set(VICTIM, await start(VICTIM, victim.gossip, victim.http, one.gossip));
  // A partition that comes back to the restarted member (the table depends only on the member
  // set, so it is the one it had before the kill): who owns it, who serves it, as demo-1 sees it.
  const back = before.owners.findIndex((o) => o[0] === VICTIM);
  type Route = { members: { name: string }[]; ready: { name: string }[] };
  const routeBack = () => get<Route>(one, `/route?key=${encodeURIComponent(keyFor(back))}`);
  const show = (r: Route) =>
    say(
      `partition ${back}: owners ${r.members.map((m) => m.name).join(', ')}; serving now ${r.ready.map((m) => m.name).join(', ') || 'nobody'}`,
    );
  let now = await routeBack();
  await until(`${VICTIM} to own partition ${back} again`, async () => (now = await routeBack()).members[0]?.name === VICTIM);
  show(now);
  await until(`${VICTIM} to be ready for partition ${back}`, async () => (now = await routeBack()).ready[0]?.name === VICTIM, 40_000);
  flush();
  show(now);
  // Every view converges (gossip, or push/pull for a member the epidemic missed).
  const checksums = async () => new Set(await Promise.all([...agents.values()].map(async (a) => (await get<Ring>(a, '/ring')).checksum)));
  await until('all five to see five alive', () => seenAllAlive(5), 40_000);
  await until('all five to agree on the ring', async () => (await checksums()).size === 1, 40_000);
  flush();
  await showRing(one);
  say('all five agree on the ring again');
}

/** A key of the given partition (keys are routed by FNV-1a 32 of their bytes, mod P). */
function keyFor(partition: number): string {
  for (let i = 0; ; i++) if (fnv1a32Partition(`key-${i}`, PARTITIONS) === partition) return `key-${i}`;
}

async function stopAll(): Promise<void> {
  say('stopping: each agent leaves gracefully');
  await Promise.all(
    [...agents.values()].map(
      (a) =>
        new Promise<void>((resolve) => {
          if (a.child.exitCode !== null || a.child.signalCode !== null) return resolve();
          const force = setTimeout(() => a.child.kill('SIGKILL'), 15_000);
          a.child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          a.child.kill('SIGINT');
        }),
    ),
  );
  say('done');
}

try {
  await main();
  if (keep) {
    say('--keep: the cluster keeps running; Ctrl-C stops it');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} finally {
  await stopAll();
}
