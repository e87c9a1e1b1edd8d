/**
 * swimring beside real serf agents on loopback, in one run: 10 nodes of each kind,
 * LAN profile, one after the other, repeated. Per repeat and kind: a join seen by all, a
 * user event delivered to all, a kill -9 seen as failed by all, a graceful leave seen as left by
 * all, and idle datagrams and bytes per node per second. Medians over repeats, ratio per row.
 *
 * Membership is sampled the same way for both kinds, every 25 ms (serf through its RPC
 * `members`, ours through `members()`); serf's datagrams are counted from the memberlist
 * metrics its agents send to a statsd listener here, ours from the node counters (both plus
 * 28 bytes of IP and UDP headers per datagram). Serf agents are separate processes; our nodes
 * share this process.
 *   npm run bench:serf [-- --quick]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GossipNode } from '../src/io/gossip-node.js';
import { freePort } from '../test/helpers/processes.js';
import { type Body, type Plain, SerfRpcClient } from '../test/helpers/serf-rpc-client.js';
import { machineLine, median, table } from './machine.js';

const quick = process.argv.includes('--quick');
const N = 10;
const REPEATS = quick ? 1 : 5;
const IDLE_MS = quick ? 5_000 : 20_000;
const SAMPLE_MS = 25;
const HEADER_BYTES = 28;

interface Row {
  joinMs: number;
  eventMs: number;
  failMs: number;
  leaveMs: number;
  idlePackets: number;
  idleBytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `done` every SAMPLE_MS until it holds; returns the elapsed ms since `t0`. */
async function until(what: string, t0: number, done: () => boolean | Promise<boolean>, limitMs = 120_000): Promise<number> {
  for (;;) {
    if (await done()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(SAMPLE_MS);
  }
}

// ---- serf ------------------------------------------------------------------------------------

interface SerfProc {
  name: string;
  port: number;
  child: ChildProcess;
  rpc: SerfRpcClient;
}

const dir = mkdtempSync(join(tmpdir(), 'swimring-vs-serf-'));

async function startSerf(name: string, statsdPort: number, joinPort?: number): Promise<SerfProc> {
  const port = await freePort();
  const rpcAddr = `127.0.0.1:${await freePort()}`;
  const config = join(dir, `${name}.json`);
  writeFileSync(config, JSON.stringify({ statsd_addr: `127.0.0.1:${statsdPort}` }));
  const args = ['agent', `-node=${name}`, `-bind=127.0.0.1:${port}`, `-rpc-addr=${rpcAddr}`, `-config-file=${config}`, '-log-level=warn'];
  if (joinPort) args.push(`-join=127.0.0.1:${joinPort}`);
  const child = spawn('serf', args, { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      return { name, port, child, rpc: await SerfRpcClient.connect(rpcAddr) };
    } catch (err) {
      if (i > 200) throw err;
      await sleep(25);
    }
  }
}

/** One Serf RPC request; an error in the answer's header throws. */
async function call(rpc: SerfRpcClient, command: string, body?: Body): Promise<Plain | undefined> {
  const r = await rpc.request(command, body);
  if (r.error) throw new Error(`serf RPC ${command}: ${r.error}`);
  return r.body;
}

async function members(rpc: SerfRpcClient): Promise<{ name: string; status: string }[]> {
  const body = (await call(rpc, 'members')) as { Members?: { Name: string; Status: string }[] } | undefined;
  if (!Array.isArray(body?.Members)) throw new Error('serf RPC members: no member list');
  return body.Members.map((m) => ({ name: m.Name, status: m.Status }));
}

function stop(p: SerfProc): Promise<void> {
  p.rpc.close();
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.child.once('exit', () => resolve());
    p.child.kill('SIGKILL');
  });
}

async function serfRun(): Promise<Row> {
  const statsd = createSocket('udp4');
  let packets = 0;
  let bytes = 0;
  statsd.on('message', (m) => {
    for (const line of m.toString().split('\n')) {
      const hit = /memberlist\.udp\.sent:([\d.]+)\|c/.exec(line);
      if (hit) {
        packets++;
        bytes += Number(hit[1]) + HEADER_BYTES;
      }
    }
  });
  const statsdPort = await new Promise<number>((resolve) => statsd.bind(0, '127.0.0.1', () => resolve(statsd.address().port)));
  const nodes: SerfProc[] = [];
  const extra: SerfProc[] = [];
  try {
    for (let i = 0; i < N; i++) nodes.push(await startSerf(`s${i}`, statsdPort, nodes[0]?.port));
    const statusOf = async (name: string) =>
      Promise.all(nodes.map(async (n) => (await members(n.rpc)).find((m) => m.name === name)?.status));
    const all = async (name: string, status: string) => (await statusOf(name)).every((s) => s === status);
    await until('serf cluster', performance.now(), async () =>
      (await Promise.all(nodes.map((n) => members(n.rpc)))).every((l) => l.filter((m) => m.status === 'alive').length === N),
    );
    await sleep(3000); // let the join traffic settle

    const p0 = packets;
    const b0 = bytes;
    await sleep(IDLE_MS);
    const idlePackets = (packets - p0) / N / (IDLE_MS / 1000);
    const idleBytes = (bytes - b0) / N / (IDLE_MS / 1000);

    const joiner = await startSerf('joiner', statsdPort);
    extra.push(joiner);
    let t0 = performance.now();
    await call(joiner.rpc, 'join', { Existing: [`127.0.0.1:${nodes[0]!.port}`], Replay: false });
    const joinMs = await until('serf join', t0, () => all('joiner', 'alive'));

    const got = new Set<string>();
    await Promise.all(
      nodes.map(async (n) => {
        const r = await n.rpc.subscribe('stream', { Type: 'user' }, (e) => (e as { Name?: Plain }).Name === 'bench' && got.add(n.name));
        if (r.error) throw new Error(`serf RPC stream: ${r.error}`);
      }),
    );
    t0 = performance.now();
    await call(nodes[3]!.rpc, 'event', { Name: 'bench', Payload: { bin: new TextEncoder().encode('payload') }, Coalesce: false });
    const eventMs = await until('serf event', t0, () => got.size === N);

    t0 = performance.now();
    joiner.child.kill('SIGKILL');
    const failMs = await until('serf failure', t0, () => all('joiner', 'failed'));

    const leaver = await startSerf('leaver', statsdPort);
    extra.push(leaver);
    await call(leaver.rpc, 'join', { Existing: [`127.0.0.1:${nodes[0]!.port}`], Replay: false });
    await until('serf leaver joined', performance.now(), () => all('leaver', 'alive'));
    await sleep(2000);
    t0 = performance.now();
    // Answered as the agent shuts down, or not at all: only the members' view is timed.
    void leaver.rpc.request('leave');
    const leaveMs = await until('serf leave', t0, () => all('leaver', 'left'));
    return { joinMs, eventMs, failMs, leaveMs, idlePackets, idleBytes };
  } finally {
    await Promise.all([...nodes, ...extra].map(stop));
    statsd.close();
  }
}

// ---- swimring --------------------------------------------------------------------------------

async function swimringRun(): Promise<Row> {
  const nodes: GossipNode[] = [];
  const extra: GossipNode[] = [];
  const create = (name: string) => GossipNode.create({ name, bind: '127.0.0.1:0', profile: 'lan' });
  try {
    for (let i = 0; i < N; i++) {
      const node = await create(`w${i}`);
      if (nodes[0]) await node.join([`127.0.0.1:${nodes[0].address.port}`]);
      nodes.push(node);
    }
    const all = (name: string, status: string) => nodes.every((n) => n.members().find((m) => m.name === name)?.status === status);
    await until('swimring cluster', performance.now(), () =>
      nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === N),
    );
    await sleep(3000);

    const count = () =>
      nodes.reduce(
        (acc, n) => ({
          packets: acc.packets + n.counters.packetsOut,
          bytes: acc.bytes + n.counters.bytesOut + n.counters.packetsOut * HEADER_BYTES,
        }),
        { packets: 0, bytes: 0 },
      );
    const before = count();
    await sleep(IDLE_MS);
    const after = count();
    const idlePackets = (after.packets - before.packets) / N / (IDLE_MS / 1000);
    const idleBytes = (after.bytes - before.bytes) / N / (IDLE_MS / 1000);

    const joiner = await create('joiner');
    extra.push(joiner);
    let t0 = performance.now();
    void joiner.join([`127.0.0.1:${nodes[0]!.address.port}`]);
    const joinMs = await until('swimring join', t0, () => all('joiner', 'alive'));

    const got = new Set<string>();
    for (const n of nodes) n.on('event', (e) => e.name === 'bench' && got.add(n.machine.name));
    t0 = performance.now();
    nodes[3]!.userEvent('bench', new TextEncoder().encode('payload'), { coalesce: false });
    const eventMs = await until('swimring event', t0, () => got.size === N);

    t0 = performance.now();
    await joiner.close(); // as kill -9: it stops answering at once
    const failMs = await until('swimring failure', t0, () => all('joiner', 'failed'));

    const leaver = await create('leaver');
    extra.push(leaver);
    await leaver.join([`127.0.0.1:${nodes[0]!.address.port}`]);
    await until('swimring leaver joined', performance.now(), () => all('leaver', 'alive'));
    await sleep(2000);
    t0 = performance.now();
    void leaver.leave();
    const leaveMs = await until('swimring leave', t0, () => all('leaver', 'left'));
    return { joinMs, eventMs, failMs, leaveMs, idlePackets, idleBytes };
  } finally {
    await Promise.all([...nodes, ...extra].map((n) => n.close()));
  }
}

// ---- report ----------------------------------------------------------------------------------

const serf: Row[] = [];
const ours: Row[] = [];
for (let r = 0; r < REPEATS; r++) {
  // Alternate which goes first, so drift on the machine does not favour one kind.
  if (r % 2 === 0) {
    serf.push(await serfRun());
    ours.push(await swimringRun());
  } else {
    ours.push(await swimringRun());
    serf.push(await serfRun());
  }
  console.error(`repeat ${r + 1}/${REPEATS}: serf ${JSON.stringify(serf.at(-1))} swimring ${JSON.stringify(ours.at(-1))}`);
}

const rows: [string, keyof Row, (v: number) => string][] = [
  ['join seen by all (s)', 'joinMs', (v) => (v / 1000).toFixed(2)],
  ['user event delivered to all (s)', 'eventMs', (v) => (v / 1000).toFixed(2)],
  ['kill -9 seen as failed by all (s)', 'failMs', (v) => (v / 1000).toFixed(2)],
  ['graceful leave seen as left by all (s)', 'leaveMs', (v) => (v / 1000).toFixed(2)],
  ['idle datagrams per node per s', 'idlePackets', (v) => v.toFixed(2)],
  ['idle bytes per node per s', 'idleBytes', (v) => v.toFixed(0)],
];
const out = [
  '# swimring beside serf 0.9.4 agents on loopback',
  '',
  `Machine: ${machineLine()}. ${N} nodes of each kind, LAN profile, ${REPEATS} repeats (medians), sampled every ${SAMPLE_MS} ms; idle traffic over ${IDLE_MS / 1000} s. Serf agents are processes; our nodes share one process.`,
  '',
  table(
    ['', 'serf', 'swimring', 'swimring / serf'],
    rows.map(([label, key, fmt]) => {
      const s = median(serf.map((x) => x[key]));
      const o = median(ours.map((x) => x[key]));
      return [label, fmt(s), fmt(o), (o / s).toFixed(2)];
    }),
  ),
  '',
  'Times run from the command (join RPC or call, event send, SIGKILL or close, leave) until the last of the 10 observers shows the change; the resolution is the 25 ms sampling.',
];
console.log(out.join('\n'));
if (!quick) writeFileSync(new URL('./results/vs-serf.md', import.meta.url), `${out.join('\n')}\n`);
