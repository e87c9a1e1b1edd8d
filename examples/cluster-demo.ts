/**
 * npm start: a guided tour of a swimring cluster. Five `swimring agent` processes (run from the
 * sources through tsx) on 127.0.0.1 share 64 partitions with 2 owners each and handoff on. The
 * demo explains what it does as it goes: it starts the cluster, kills one agent with SIGKILL and
 * shows who took over its partitions, restarts it and shows the handoff, then checks that every
 * agent sees the same members and the same ring. About 20 s; exit code 0, or 1 with the reason
 * when something does not converge within its bound.
 *
 * `npm start -- --keep` leaves the cluster running afterwards and prints every agent's addresses
 * and PID; Ctrl-C (SIGINT) or SIGTERM stops the agents gracefully, each by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { fnv1a32Partition } from '../src/index.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const keep = process.argv.includes('--keep');
const NAMES = ['demo-1', 'demo-2', 'demo-3', 'demo-4', 'demo-5'];
const [FIRST, VICTIM] = ['demo-1', 'demo-3'];
const PARTITIONS = 64;
const REPLICAS = 2;
/** Bounds on every wait, generous for a loaded 2-core machine. */
const START_LIMIT_MS = 30_000;
/** A survivor the failure news missed finds out by probing and then waits out its own suspicion timeout alone. */
const SETTLE_LIMIT_MS = 60_000;
const HTTP_TIMEOUT_MS = 5_000;
/** What an agent's stderr keeps for a failure report. */
const STDERR_TAIL_BYTES = 16 * 1024;
/** Ownership changes recorded per step; a step sees a few hundred. */
const MAX_RECORDED = 100_000;

/** The CLI from the sources (tsx comes with `npm ci`), so the demo never runs a stale build. */
const cli = ['--import', 'tsx', `${root}src/cli/main.ts`];
/** One key per partition (keys are routed by FNV-1a 32 of their bytes, mod P), to ask GET /route about each. */
const KEYS = keysPerPartition();

const started = Date.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** "1.0 s" or "1.0 s to 1.4 s": the range of sorted durations. */
const span = (sorted: number[]) =>
  seconds(sorted[0]!) === seconds(sorted.at(-1)!) ? seconds(sorted[0]!) : `${seconds(sorted[0]!)} to ${seconds(sorted.at(-1)!)}`;
const out = (text = '') => console.log(text);
const para = (...lines: string[]) => lines.forEach((l) => out(`   ${l}`));
const heading = (title: string) => out(`\n${title}  [${seconds(Date.now() - started)}]`);

/** A demo failure: printed as one clear message, exit code 1. */
class DemoError extends Error {}
const interrupt = new AbortController();

type Change = {
  event: 'acquire' | 'release' | 'promote' | 'demote';
  partition: number;
  replica: number;
  /** acquire: a member to copy from (null: nobody has it). */
  from?: string | null;
  /** release: the member that took its place. */
  to?: string | null;
};
interface Recorded {
  at: number;
  agent: string;
  change: Change;
}

interface Agent {
  name: string;
  gossip: number;
  /** host:port of its HTTP endpoint, from its `started` line. */
  http: string;
  child: ChildProcess;
  /** Partition → replica index this process holds, from its acquire/release/promote/demote lines. */
  holds: Map<number, number>;
  /** member-failed lines: member name → when the demo read it. */
  failedSeen: Map<string, number>;
  stderr: string;
  /** We stopped it (kill, or the final stop), so its exit is expected. */
  stopping: boolean;
}

const agents = new Map<string, Agent>();
/** Every agent process started, named or still starting: what stopAll stops. */
const spawned = new Set<Agent>();
let recording: Recorded[] = [];
let unexpectedExit: string | undefined;

function freePort(): Promise<number> {
  // Free for both TCP and UDP on 127.0.0.1: gossip uses both on the same port.
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => {
        const u = createSocket('udp4');
        u.once('error', () => freePort().then(resolve, reject));
        u.bind(port, '127.0.0.1', () => u.close(() => resolve(port)));
      });
    });
  });
}

async function startAgent(name: string, gossip: number, seed?: number): Promise<Agent> {
  const args = [
    'agent',
    '--name',
    name,
    '--bind',
    `127.0.0.1:${gossip}`,
    // Port 0: the OS picks a free one and the `started` line tells us which.
    '--http',
    '127.0.0.1:0',
    '--rpc-addr',
    'off',
    '--profile',
    'local',
    '--partitions',
    String(PARTITIONS),
    '--replicas',
    String(REPLICAS),
    '--handoff',
    '--ready-after',
    '1s',
    '--log-level',
    'warn',
  ];
  if (seed) args.push('--join', `127.0.0.1:${seed}`);
  // Its own process group: a terminal's Ctrl-C reaches only the demo, which then stops each agent
  // once, by PID (a second SIGINT would make an agent exit without leaving).
  const child = spawn(process.execPath, [...cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const agent: Agent = { name, gossip, http: '', child, holds: new Map(), failedSeen: new Map(), stderr: '', stopping: false };
  spawned.add(agent);
  child.stderr!.on('data', (d: Buffer) => {
    agent.stderr = (agent.stderr + d.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  let partial = '';
  // Always read: an agent waits for a slow reader of its event lines.
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const text of lines) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      onLine(agent, line);
    }
  });
  child.on('exit', (code, signal) => {
    if (agent.stopping) return;
    const why = `${name} exited unexpectedly (${signal ?? `code ${code}`})`;
    if (keptResolve && !firstSignalAt) out(`   ${why}`);
    unexpectedExit ??= `${why}${tail(agent)}`;
  });
  await until(`${name} to start`, START_LIMIT_MS, () => (agent.http !== '' ? true : `no "started" line from ${name} yet`));
  return agent;
}

function onLine(agent: Agent, line: Record<string, unknown>): void {
  const event = line['event'];
  if (event === 'started') agent.http = String(line['http']);
  else if (event === 'member-failed') agent.failedSeen.set(String(line['name']), Date.now());
  // Kept running, the first agent's view of membership changes shows what the user does to the cluster.
  if (
    keptResolve &&
    !firstSignalAt &&
    agent.name === FIRST &&
    (event === 'member-join' || event === 'member-leave' || event === 'member-failed')
  )
    out(`   ${FIRST} sees ${String(line['name'])}: ${event.slice('member-'.length)}`);
  else if (event === 'acquire' || event === 'release' || event === 'promote' || event === 'demote') {
    const change = line as unknown as Change;
    if (event === 'release') agent.holds.delete(change.partition);
    else agent.holds.set(change.partition, change.replica);
    if (recording.length < MAX_RECORDED) recording.push({ at: Date.now(), agent: agent.name, change });
  }
}

function tail(agent: Agent): string {
  const text = agent.stderr.trim();
  return text ? `\n   ${agent.name}'s last log lines:\n${text.split('\n').slice(-10).join('\n')}` : '';
}

/**
 * Polls `probe` until it returns true; a string says what is still missing. Gives up after
 * `limitMs` with that string, so a failure says what did not converge.
 */
async function until(what: string, limitMs: number, probe: () => true | string | Promise<true | string>): Promise<void> {
  const deadline = Date.now() + limitMs;
  let missing = '';
  for (;;) {
    if (interrupt.signal.aborted) throw interrupt.signal.reason as Error;
    if (unexpectedExit) throw new DemoError(unexpectedExit);
    try {
      const result = await probe();
      if (result === true) return;
      missing = result;
    } catch (err) {
      missing = (err as Error).message;
    }
    if (Date.now() > deadline) throw new DemoError(`${what} did not happen within ${seconds(limitMs)}: ${missing}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function get<T>(agent: Agent, path: string): Promise<T> {
  const res = await fetch(`http://${agent.http}${path}`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${path} on ${agent.name}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

type MemberJson = { name: string; address: string; status: string };
type RingJson = { members: string[]; owners: string[][]; checksum: string };
type RouteJson = { partition: number; members: { name: string }[]; ready: { name: string }[] };

const running = () => [...agents.values()].filter((a) => !a.stopping);

/** Partition → replica index `member` holds in a ring table. */
function tableHolds(ring: RingJson, member: string): Map<number, number> {
  const holds = new Map<number, number>();
  ring.owners.forEach((owners, p) => owners.includes(member) && holds.set(p, owners.indexOf(member)));
  return holds;
}

/** What every partition's owners and ready holders are, as `agent` sees them. */
async function serving(agent: Agent): Promise<RouteJson[]> {
  return Promise.all(KEYS.map((key) => get<RouteJson>(agent, `/route?key=${encodeURIComponent(key)}`)));
}

/**
 * The cluster has settled on `alive` (and sees `failed` as failed): every running agent sees
 * exactly those members alive and the same ring of them; each agent holds exactly what that ring
 * gives it (its withheld handoff releases are out); every owner is ready (loaded) for what it owns.
 */
async function settled(alive: string[], failed?: string): Promise<true | string> {
  for (const a of running()) {
    const members = await get<MemberJson[]>(a, '/members');
    const seen = members.filter((m) => m.status === 'alive').map((m) => m.name);
    if (seen.sort().join() !== [...alive].sort().join()) return `${a.name} sees ${seen.join(', ')} alive, expected ${alive.join(', ')}`;
    const f = failed && members.find((m) => m.name === failed);
    if (f && f.status !== 'failed') return `${a.name} sees ${failed} ${f.status}`;
  }
  const rings = await Promise.all(running().map((a) => get<RingJson>(a, '/ring')));
  if (new Set(rings.map((r) => r.checksum)).size !== 1)
    return `the agents' ring checksums differ: ${rings.map((r) => r.checksum).join(', ')}`;
  for (const a of running()) {
    const want = tableHolds(rings[0]!, a.name);
    const differ = [...new Set([...want.keys(), ...a.holds.keys()])].filter((p) => want.get(p) !== a.holds.get(p));
    if (differ.length) return `${a.name} still has ${differ.length} partitions to take or hand over (handoff in progress)`;
  }
  const notReady = (await serving(agents.get(FIRST)!)).filter(
    (r) => r.ready.map((m) => m.name).join() !== r.members.map((m) => m.name).join(),
  );
  if (notReady.length) return `${notReady.length} partitions have owners still loading them`;
  return true;
}

/** The settled ring, as the first agent sees it. */
const ringNow = () => get<RingJson>(agents.get(FIRST)!, '/ring');

function counts(ring: RingJson | undefined, member: string): { primary: number; replica: number } | undefined {
  if (!ring?.members.includes(member)) return undefined;
  let primary = 0;
  let replica = 0;
  for (const owners of ring.owners) {
    if (owners[0] === member) primary++;
    else if (owners.includes(member)) replica++;
  }
  return { primary, replica };
}

/** Plain words for a member's recorded changes in one step. */
function describe(member: string, changes: Recorded[]): string {
  const mine = changes.filter((r) => r.agent === member).map((r) => r.change);
  const parts: string[] = [];
  const bySource = new Map<string, number>();
  for (const c of mine.filter((c) => c.event === 'acquire')) {
    const from = c.from ? `from ${c.from}` : 'nothing to copy';
    bySource.set(from, (bySource.get(from) ?? 0) + 1);
  }
  if (bySource.size)
    parts.push(
      `acquired ${[...bySource]
        .sort()
        .map(([from, n]) => `${n} (${from})`)
        .join(', ')}`,
    );
  for (const [event, verb] of [
    ['promote', 'promoted'],
    ['demote', 'demoted'],
    ['release', 'released'],
  ] as const) {
    const n = mine.filter((c) => c.event === event).length;
    if (n) parts.push(`${verb} ${n}`);
  }
  return parts.join('; ') || 'nothing';
}

function table(header: string[], rows: string[][], rightAligned: number[] = []): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `     ${cells
      .map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}`;
  out(line(header));
  for (const r of rows) out(line(r));
}

/** Per member: partitions held as primary and as replica before → after, and what changed for it. */
function changeTable(before: RingJson, after: RingJson, changes: Recorded[], gone?: string): void {
  const fmt = (n: number | undefined) => (n === undefined ? '-' : String(n));
  table(
    ['member', 'primary', 'replica', 'what changed for it'],
    NAMES.map((name) => {
      const b = counts(before, name);
      const a = counts(after, name);
      return [
        name,
        `${fmt(b?.primary)} → ${fmt(a?.primary)}`,
        `${fmt(b?.replica)} → ${fmt(a?.replica)}`,
        name === gone ? 'dead: its partitions went to the others' : describe(name, changes),
      ];
    }),
  );
}

/** Fails the demo when a claim it is about to print does not hold. */
function check(ok: boolean, claim: string): void {
  if (!ok) throw new DemoError(`check failed: ${claim}`);
}

async function story(): Promise<void> {
  out('swimring cluster demo: five agents gossip on 127.0.0.1, share a keyspace, lose a member and get it back.');
  out();
  para(
    `The keyspace is cut into ${PARTITIONS} partitions: a key such as "user:1001" belongs to partition`,
    `hash(key) mod ${PARTITIONS}. Each partition has ${REPLICAS} owners: the primary serves it, the replica keeps a copy`,
    'and takes over if the primary dies. Every agent computes the same owner table from the member',
    'list it learns by gossip; there is no coordinator. When the table changes, each agent is told',
    'what changed for it:',
    '  acquire  it starts holding a partition: copy its data from the member named in "from"',
    '  release  it stops holding a partition: another member took its place',
    '  promote  it moves up from replica to primary of a partition it already holds (no copy)',
    '  demote   it moves down from primary to replica (it keeps its copy)',
    'Handoff is on: an agent takes 1 s to load a partition it acquires (--ready-after 1s), and',
    'the previous holder keeps serving the partition until the new one has loaded it.',
  );

  heading('1. Start the cluster');
  const first = await startAgent(FIRST, await freePort());
  agents.set(FIRST, first);
  para(
    `${FIRST} is up. Dashboard: http://${first.http}/  (open it in a browser to watch the rest live)`,
    `${NAMES.slice(1).join(', ')} now join it.`,
  );
  for (const a of await Promise.all(NAMES.slice(1).map(async (name) => startAgent(name, await freePort(), first.gossip))))
    agents.set(a.name, a);
  await until('the five agents to settle on one ring', SETTLE_LIMIT_MS, () => settled(NAMES));
  const initial = await ringNow();
  const joined = recording.filter((r) => r.agent !== FIRST && r.change.event === 'acquire');
  check(
    joined.every((r) => r.change.from),
    'every partition a joining agent acquired came with a member to copy it from',
  );
  para(
    `${FIRST} started alone and held all ${PARTITIONS} partitions (a new cluster has no data to copy).`,
    'As the others joined it handed them over: every partition a joining agent acquired named a member',
    `to copy it from. Once every handoff was done, the ${PARTITIONS} partitions were spread like this:`,
  );
  out();
  table(
    ['member', 'gossip address', 'primary', 'replica'],
    NAMES.map((name) => {
      const c = counts(initial, name)!;
      return [name, `127.0.0.1:${agents.get(name)!.gossip}`, String(c.primary), String(c.replica)];
    }),
    [2, 3],
  );
  const route = await get<RouteJson>(first, '/route?key=user:1001');
  out();
  para(
    `Routing a key (GET /route?key=user:1001): partition ${route.partition}, primary ${route.members[0]!.name}, replica ${route.members[1]!.name}.`,
  );

  heading(`2. Kill ${VICTIM} without warning (SIGKILL: it cannot say goodbye)`);
  const victim = agents.get(VICTIM)!;
  recording = [];
  const killedAt = Date.now();
  victim.stopping = true;
  victim.child.kill('SIGKILL');
  const survivors = NAMES.filter((n) => n !== VICTIM);
  await until(`the survivors to mark ${VICTIM} failed and settle on a ring of four`, SETTLE_LIMIT_MS, () => settled(survivors, VICTIM));
  agents.delete(VICTIM);
  const afterKill = await ringNow();
  const detected = survivors.map((n) => agents.get(n)!.failedSeen.get(VICTIM)! - killedAt).sort((a, b) => a - b);
  const lost = initial.owners.filter((o) => o.includes(VICTIM));
  const failover = recording;
  const acquires = failover.filter((r) => r.change.event === 'acquire');
  check(
    acquires.every((r) => r.change.from && r.change.from !== VICTIM),
    'every partition acquired after the failure came with a live member to copy it from',
  );
  check(
    lost.every((o) => o.some((m) => m !== VICTIM)),
    `every partition ${VICTIM} held had another owner alive`,
  );
  para(
    `The others' probes of ${VICTIM} went unanswered: they suspected it, then declared it failed`,
    `${span(detected)} after the kill (gossip spreads the news). Each survivor then recomputed`,
    'the owner table for four members:',
  );
  out();
  changeTable(initial, afterKill, failover, VICTIM);
  out();
  const primaries = initial.owners.map((o, p) => ({ o, p })).filter(({ o }) => o[0] === VICTIM);
  const promoted = primaries.filter(({ o, p }) => afterKill.owners[p]![0] === o[1]).length;
  para(
    `Nothing was lost: each of the ${lost.length} partitions ${VICTIM} held had its other owner alive. Of the`,
    `${primaries.length} it was primary for, ${promoted} are now served by their replica, promoted: it already had the data${promoted < primaries.length ? ';' : '.'}`,
    ...(promoted < primaries.length ? [`the other ${primaries.length - promoted} went to a member that copied them.`] : []),
    `Each of the ${acquires.length} acquires named a live member to copy from. Partitions ${VICTIM} never held moved too:`,
    'the table is recomputed from the member list, which keeps most, not all, partitions in place.',
  );

  heading(`3. Restart ${VICTIM} (same name, same gossip address)`);
  recording = [];
  const restartedAt = Date.now();
  // While it rejoins, sample on demo-1 who can serve each partition, to show the handoff and check
  // that no partition is ever left without a loaded holder.
  const samples: { at: number; routes: RouteJson[] }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        samples.push({ at: Date.now(), routes: await serving(agents.get(FIRST)!) });
      } catch {
        // A sample that timed out on a loaded machine is skipped; the next one follows.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    agents.set(VICTIM, await startAgent(VICTIM, victim.gossip, first.gossip));
    await until(`${VICTIM} to rejoin and the handoff to finish`, SETTLE_LIMIT_MS, () => settled(NAMES));
  } finally {
    sampling = false;
    await sampler;
  }
  samples.push({ at: Date.now(), routes: await serving(first) });
  const afterRestart = await ringNow();
  const handoff = recording;
  const back = handoff.filter((r) => r.agent === VICTIM && r.change.event === 'acquire');
  check(back.length > 0 && back.every((r) => r.change.from), `${VICTIM} acquired its partitions, each from a member that had it`);
  check(afterRestart.checksum === initial.checksum, `the ring after the restart is the one of step 1 (${initial.checksum})`);
  const empty = samples.filter((s) => s.routes.some((r) => r.ready.length === 0)).length;
  check(empty === 0, `every partition had a loaded holder in each sample (${empty} of ${samples.length} samples found one without)`);
  para(
    `${VICTIM} got back exactly the partitions it had in step 1: the table depends only on who is in the`,
    'ring. It acquired each one from the member that had covered it:',
  );
  out();
  changeTable(afterKill, afterRestart, handoff);
  out();
  // One partition it is primary of again: who GET /route said could serve it, over time.
  const shown = initial.owners.findIndex((o) => o[0] === VICTIM);
  const states: string[] = [];
  for (const s of samples) {
    const r = s.routes[shown]!;
    if (r.members[0]?.name !== VICTIM) continue;
    const ready = r.ready.map((m) => m.name);
    const state = ready.includes(VICTIM)
      ? `served by ${ready.join(', ')}: ${VICTIM} has loaded it`
      : `served by ${ready.join(', ')} (${VICTIM} is still loading it)`;
    if (states.at(-1)?.endsWith(state)) continue;
    states.push(`+${seconds(s.at - restartedAt)}  owners ${r.members.map((m) => m.name).join(', ')}; ${state}`);
  }
  para(`Partition ${shown} over time, as ${FIRST} routes it (GET /route):`, ...states.map((s) => `  ${s}`));
  const acquiredAt = new Map(back.map((r) => [r.change.partition, r.at]));
  const handedOver = handoff.filter((r) => r.change.event === 'release' && r.change.to === VICTIM);
  check(
    handedOver.length > 0 && handedOver.every((r) => (acquiredAt.get(r.change.partition) ?? Infinity) <= r.at),
    `every partition handed over to ${VICTIM} was released after ${VICTIM} acquired it`,
  );
  const delays = handedOver.map((r) => r.at - acquiredAt.get(r.change.partition)!).sort((a, b) => a - b);
  out();
  para(
    'Handoff: the previous holders kept serving and released each partition only once',
    `${VICTIM} had loaded it, ${span(delays)} after it acquired it. ${FIRST} was asked who can serve`,
    `each of the ${PARTITIONS} partitions ${samples.length} times meanwhile: every partition always had a loaded holder.`,
  );

  heading('4. Do all views agree?');
  const views = await Promise.all(
    NAMES.map(async (name) => {
      const a = agents.get(name)!;
      const members = await get<MemberJson[]>(a, '/members');
      return { name, alive: members.filter((m) => m.status === 'alive').length, ring: await get<RingJson>(a, '/ring') };
    }),
  );
  para('Each agent asked for its members (GET /members) and its ring (GET /ring):');
  out();
  table(
    ['member', 'alive members it sees', 'ring checksum'],
    views.map((v) => [v.name, String(v.alive), v.ring.checksum]),
    [1],
  );
  out();
  const agree = views.every((v) => v.alive === NAMES.length && v.ring.checksum === views[0]!.ring.checksum);
  check(agree, 'every agent sees five alive members and the same ring checksum');
  para(`All views agree: every agent sees ${NAMES.length} alive members and the same ring (checksum ${views[0]!.ring.checksum}).`);
}

function printKept(): void {
  const http = agents.get(FIRST)!.http;
  heading('The cluster keeps running (--keep)');
  out();
  table(
    ['member', 'pid', 'gossip address', 'http address'],
    NAMES.map((name) => {
      const a = agents.get(name)!;
      return [name, String(a.child.pid), `127.0.0.1:${a.gossip}`, a.http];
    }),
  );
  out();
  para(
    `Dashboard:  http://${http}/  (open it in a browser)`,
    `Members:    node dist/cli/main.js members --http ${http}`,
    `Ring:       curl -s http://${http}/ring`,
    `A key:      curl -s 'http://${http}/route?key=user:1001'`,
    'Try kill -9 on one PID: the others take over its partitions (watch the dashboard or the',
    'members command). Ctrl-C stops all agents.',
  );
}

/** Stops every agent still running: SIGINT to its PID (a graceful leave), SIGKILL after 15 s. */
async function stopAll(): Promise<void> {
  const live = [...spawned].filter((a) => a.child.exitCode === null && a.child.signalCode === null);
  if (live.length === 0) return;
  out(`\nStopping: each agent leaves the cluster gracefully (SIGINT to PIDs ${live.map((a) => a.child.pid).join(', ')}).`);
  await Promise.all(
    live.map(
      (a) =>
        new Promise<void>((resolve) => {
          a.stopping = true;
          const force = setTimeout(() => a.child.kill('SIGKILL'), 15_000);
          a.child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          a.child.kill('SIGINT');
        }),
    ),
  );
}

let firstSignalAt = 0;
let keptResolve: (() => void) | undefined;
function onSignal(signal: NodeJS.Signals): void {
  // `npm start` may deliver one Ctrl-C twice (from the terminal and relayed by npm or tsx): only
  // a second signal a moment later means "now".
  if (firstSignalAt && Date.now() - firstSignalAt > 1_000) {
    for (const a of spawned) a.child.kill('SIGKILL');
    process.exit(130);
  }
  if (firstSignalAt) return;
  firstSignalAt = Date.now();
  if (keptResolve) keptResolve();
  else interrupt.abort(new DemoError(`interrupted (${signal}): stopping`));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  await story();
  if (keep && !interrupt.signal.aborted) {
    printKept();
    await new Promise<void>((resolve) => (keptResolve = resolve));
  }
  await stopAll();
  out(`Done in ${seconds(Date.now() - started)}.`);
} catch (err) {
  const message = err instanceof DemoError ? err.message : String((err as Error).stack ?? err);
  console.error(interrupt.signal.aborted ? `\n${message}` : `\ndemo failed: ${message}`);
  process.exitCode = interrupt.signal.aborted ? 130 : 1;
} finally {
  await stopAll();
}

function keysPerPartition(): string[] {
  const keys: string[] = [];
  for (let i = 0, found = 0; found < PARTITIONS; i++) {
    const p = fnv1a32Partition(`key-${i}`, PARTITIONS);
    if (keys[p] === undefined) {
      keys[p] = `key-${i}`;
      found++;
    }
  }
  return keys;
}
