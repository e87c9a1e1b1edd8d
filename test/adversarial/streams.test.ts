// Hostile TCP streams, structured: many short connections, slow ones, every stream message
// truncated at every byte (so at every structural boundary), declared counts and lengths at
// their maximum, compression bombs of each message type. Framing is checked exhaustively on the
// codec; the rest against real nodes on loopback, attackers bound to 127.0.0.2 and up. Budgets
// are asserted as conditions (open streams, buffered bytes, drops by reason), never durations.
// (test/io/hostile-streams.test.ts covers the push/pull bomb, stalled floods and frame sizes.)
import assert from 'node:assert/strict';
import { type Socket, createConnection } from 'node:net';
import { describe, it } from 'node:test';
import { lzwCompress } from '../../src/gossip/codec/lzw.js';
import {
  MessageType,
  encodeAck,
  encodeCompress,
  encodeErr,
  encodePing,
  encodePushPull,
  encodeUserStream,
} from '../../src/gossip/codec/messages.js';
import { Writer } from '../../src/gossip/codec/msgpack.js';
import { parseStream } from '../../src/gossip/codec/stream.js';
import { encodeSerfState } from '../../src/serf/push-pull.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { waitFor } from '../helpers/processes.js';
import { V, cat } from './hostile.js';

const sources = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);
const compress = (m: Uint8Array) => encodeCompress({ algo: 0, buf: lzwCompress(m) });

/** Connects, writes `bytes` (all at once, or one byte every `trickleMs`), optionally ends, and collects what comes back until the socket closes. */
function exchange(
  port: number,
  localAddress: string,
  bytes: Uint8Array,
  options: { end?: boolean; trickleMs?: number } = {},
): Promise<Buffer> {
  return new Promise((resolve) => {
    const s: Socket = createConnection({ host: '127.0.0.1', port, localAddress });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      if (timer) clearInterval(timer);
      resolve(Buffer.concat(chunks));
    });
    s.on('connect', () => {
      if (options.trickleMs === undefined) {
        s.write(bytes);
        if (options.end) s.end();
        return;
      }
      let at = 0;
      timer = setInterval(() => {
        if (s.destroyed) return clearInterval(timer);
        if (at < bytes.length) s.write(bytes.subarray(at, ++at));
        else if (options.end) {
          clearInterval(timer);
          s.end();
        }
      }, options.trickleMs);
    });
  });
}

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    }),
  );
  return out;
}

const drops = (n: GossipNode) => ({ ...n.counters.drops });
const delta = (before: Record<string, number>, after: Record<string, number>) => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
};

/** Samples the node's stream budgets while `work` runs. */
async function watched<T>(
  node: GossipNode,
  maxStreamBytes: number,
  work: Promise<T>,
): Promise<{ result: T; peakOpen: number; peakBytes: number }> {
  let peakOpen = 0;
  let peakBytes = 0;
  const sample = setInterval(() => {
    peakOpen = Math.max(peakOpen, node.inboundStreams.open);
    peakBytes = Math.max(peakBytes, node.inboundStreams.bufferedBytes);
  }, 5);
  try {
    const result = await work;
    assert.ok(peakOpen <= 128, `at most 128 inbound streams open (peak ${peakOpen})`);
    assert.ok(peakBytes <= 2 * maxStreamBytes, `at most 2 × maxStreamBytes buffered (peak ${peakBytes})`);
    return { result, peakOpen, peakBytes };
  } finally {
    clearInterval(sample);
  }
}

async function newcomerJoins(a: GossipNode): Promise<void> {
  await using b = await GossipNode.create({ name: 'newcomer', bind: '127.0.0.1:0', profile: 'local' });
  await b.join([`127.0.0.1:${a.address.port}`]);
  await waitFor('a sees the newcomer alive', () => a.members().some((m) => m.name === 'newcomer' && m.status === 'alive'), 10_000);
}

async function quiet(a: GossipNode): Promise<void> {
  await waitFor(
    'every inbound stream is closed and its buffer released',
    () => a.inboundStreams.open === 0 && a.inboundStreams.bufferedBytes === 0,
    10_000,
    20,
  );
}

// ---- the stream messages ------------------------------------------------------------------

const STATE = {
  name: 'pp',
  addr: Uint8Array.from([127, 0, 0, 9]),
  port: 7946,
  meta: Uint8Array.from([0xff, 0x80]),
  incarnation: 1,
  state: 0 as const,
  vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
};
const SERF_STATE = encodeSerfState({
  ltime: 1n,
  eventLTime: 1n,
  queryLTime: 1n,
  statusLTimes: new Map([['pp', 1n]]),
  leftMembers: [],
  events: [{ ltime: 1n, events: [{ name: 'e', payload: Uint8Array.from([1]) }] }],
});
const MESSAGES: [string, Uint8Array][] = [
  [
    'pushPull',
    encodePushPull({ join: false, nodes: 2, userStateLen: SERF_STATE.length }, [STATE, { ...STATE, name: 'pq', port: 7947 }], SERF_STATE),
  ],
  ['pushPull without states or user state', encodePushPull({ join: true, nodes: 0, userStateLen: 0 }, [], new Uint8Array(0))],
  ['ping', encodePing({ node: '', seqNo: 123_456, sourceAddr: Uint8Array.from([127, 0, 0, 2]), sourcePort: 7000, sourceNode: 'mallory' })],
  ['ack', encodeAck({ seqNo: 9, payload: Uint8Array.from([1, 2, 3]) })],
  ['err', encodeErr('something went wrong')],
  ['user', encodeUserStream(Uint8Array.from([3, 0x80, 1, 2, 3]))],
];

describe('adversarial streams: truncation at every boundary (codec)', () => {
  it('every strict prefix of every stream message, plain and compressed, is incomplete; the whole is complete', () => {
    const maxBytes = 1 << 20;
    const failures: string[] = [];
    for (const [name, plain] of MESSAGES) {
      for (const [form, bytes] of [
        ['plain', plain],
        ['compressed', compress(plain)],
      ] as const) {
        for (let n = 0; n < bytes.length; n++) {
          try {
            const r = parseStream(bytes.subarray(0, n), maxBytes);
            if (r.status !== 'incomplete') failures.push(`${name} (${form}) cut at ${n}/${bytes.length}: ${r.status}`);
          } catch (err) {
            failures.push(`${name} (${form}) cut at ${n}/${bytes.length}: threw ${(err as Error).name}: ${(err as Error).message}`);
          }
        }
        const whole = parseStream(bytes, maxBytes);
        if (whole.status !== 'complete') failures.push(`${name} (${form}) whole: incomplete`);
        // Trailing bytes after the message are ignored (one request per stream).
        const padded = parseStream(cat(bytes, [0xc1, 0xc1, 0xc1]), maxBytes);
        if (padded.status !== 'complete') failures.push(`${name} (${form}) with trailing bytes: incomplete`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

describe('adversarial streams on real sockets', () => {
  it('1 000 short connections, each one ping answered by one ack: budgets hold, members unchanged, a newcomer joins', async () => {
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'local' });
    const before = drops(a);
    const tasks = Array.from({ length: 1000 }, (_, i) => async () => {
      const reply = await exchange(
        a.address.port,
        sources(8)[i % 8]!,
        encodePing({ node: '', seqNo: i + 1, sourceAddr: null, sourcePort: 0, sourceNode: '' }),
      );
      const parsed = parseStream(reply, 1 << 20);
      return parsed.status === 'complete' && parsed.message.type === 'ack' ? parsed.message.ack.seqNo : -1;
    });
    const { result } = await watched(a, a.machine.config.maxStreamBytes, pool(tasks, 24));
    assert.deepEqual(
      result,
      Array.from({ length: 1000 }, (_, i) => i + 1),
      'every connection got the ack of its own ping',
    );
    await quiet(a);
    assert.deepEqual(delta(before, drops(a)), {}, 'nothing dropped: 24 at once from 8 sources is inside every limit');
    assert.deepEqual(
      a.members().map((m) => m.name),
      ['a'],
    );
    await newcomerJoins(a);
  });

  it('slow streams (1 byte per 50 ms): a slow valid ping is answered before the deadline; endless ones are closed at it, counted as timeouts', async () => {
    await using lan = await GossipNode.create({ name: 'lan', bind: '127.0.0.1:0', profile: 'lan' });
    await using local = await GossipNode.create({ name: 'local', bind: '127.0.0.1:0', profile: 'local' });
    const ping = encodePing({ node: '', seqNo: 42, sourceAddr: null, sourcePort: 0, sourceNode: '' });
    // An endless user message: it announces 1 MiB and trickles it.
    const endless = cat(
      new Writer()
        .u8(MessageType.user)
        .mapHeader(1)
        .key('UserMsgLen')
        .int(1 << 20)
        .finish(),
      new Uint8Array(1 << 20),
    );
    const localBefore = drops(local);
    const work = Promise.all([
      ...Array.from({ length: 8 }, (_, i) => exchange(lan.address.port, sources(4)[i % 4]!, ping, { trickleMs: 50 })),
      ...Array.from({ length: 40 }, (_, i) => exchange(local.address.port, sources(4)[i % 4]!, endless, { trickleMs: 50 })),
    ]);
    const { result } = await watched(local, local.machine.config.maxStreamBytes, work);
    for (const reply of result.slice(0, 8)) {
      const parsed = parseStream(reply, 1 << 20);
      assert.ok(parsed.status === 'complete' && parsed.message.type === 'ack' && parsed.message.ack.seqNo === 42, 'the slow ping is acked');
    }
    assert.deepEqual(delta(localBefore, drops(local)), { streamTimeout: 40 }, 'each endless stream closed at its deadline');
    await quiet(local);
    await newcomerJoins(local);
  });

  it('every stream message truncated at its structural boundaries, then ended: each dropped as malformedStream, nothing else', async () => {
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'local' });
    const cuts: [string, Uint8Array][] = [];
    for (const [name, plain] of MESSAGES) {
      for (const [form, bytes] of [
        ['plain', plain],
        ['compressed', compress(plain)],
      ] as const) {
        // After the type byte, inside and after the first map header, half way, one byte short.
        for (const n of new Set([1, 2, 3, Math.floor(bytes.length / 2), bytes.length - 1]))
          if (n > 0 && n < bytes.length) cuts.push([`${name} (${form}) cut at ${n}`, bytes.subarray(0, n)]);
      }
    }
    const before = drops(a);
    const replies = await watched(
      a,
      a.machine.config.maxStreamBytes,
      pool(
        cuts.map(
          ([, bytes], i) =>
            () =>
              exchange(a.address.port, sources(4)[i % 4]!, bytes, { end: true }),
        ),
        16,
      ),
    );
    assert.equal(replies.result.length, cuts.length);
    assert.deepEqual(delta(before, drops(a)), { malformedStream: cuts.length }, 'one malformedStream per truncated stream');
    await quiet(a);
    assert.deepEqual(
      a.members().map((m) => m.name),
      ['a'],
    );
  });

  it('declared counts and lengths at their maximum are refused on the declaration alone, by reason (three that may be real are held to the deadline)', async () => {
    const maxStreamBytes = 1 << 20;
    // 'local': a 1 s stream deadline, so a declaration that legitimately waits for its bytes costs 1 s.
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'local', gossip: { maxStreamBytes } });
    // These declare what a real message may need (65 536 states is the limit; a header of 2^32−1
    // entries is not looked at before 1 KiB of header has arrived): held until the deadline.
    const mayWait = new Set(['pushPull Nodes = 65 536 (nothing behind)', 'pushPull header map32 of 2^32−1', 'user header map32 of 2^32−1']);
    const header = (nodes: Uint8Array, userStateLen: Uint8Array) =>
      cat(
        [MessageType.pushPull],
        V.map([
          ['Join', V.bool(false)],
          ['Nodes', nodes],
          ['UserStateLen', userStateLen],
        ]),
      );
    const userLen = (len: Uint8Array) => cat([MessageType.user], V.map([['UserMsgLen', len]]));
    const inputs: [string, Uint8Array][] = [
      ['pushPull Nodes = 65 536 (nothing behind)', header(V.int(65_536), V.int(0))],
      ['pushPull Nodes = 65 537', header(V.int(65_537), V.int(0))],
      ['pushPull Nodes = 2^32−1', header(V.int(2 ** 32 - 1), V.int(0))],
      ['pushPull Nodes = 2^63', header(V.int(2n ** 63n), V.int(0))],
      ['pushPull Nodes = −1', header(V.int(-1), V.int(0))],
      ['pushPull Nodes = NaN', header(V.nan(), V.int(0))],
      ['pushPull UserStateLen = 2^32−1', header(V.int(0), V.int(2 ** 32 - 1))],
      ['pushPull UserStateLen = 2^53', header(V.int(0), V.int(2 ** 53))],
      ['pushPull UserStateLen = −1', header(V.int(0), V.int(-1))],
      ['pushPull header map32 of 2^32−1', cat([MessageType.pushPull], V.hugeMap())],
      ['user UserMsgLen = maxStreamBytes + 1', userLen(V.int(maxStreamBytes + 1))],
      ['user UserMsgLen = 2^32−1', userLen(V.int(2 ** 32 - 1))],
      ['user UserMsgLen = 2^53', userLen(V.int(2 ** 53))],
      ['user UserMsgLen = 2^64−1', userLen(V.int(2n ** 64n - 1n))],
      ['user UserMsgLen = −1', userLen(V.int(-1))],
      ['user UserMsgLen = NaN', userLen(V.nan())],
      ['user UserMsgLen = 1.5', userLen(V.f64(1.5))],
      ['user UserMsgLen = "7"', userLen(V.str('7'))],
      ['user header map32 of 2^32−1', cat([MessageType.user], V.hugeMap())],
      ['ping Node = str32 of 2^32−1', cat([MessageType.ping], [0x81], V.str('Node'), V.hugeStr())],
      ['ping body array32 of 2^32−1', cat([MessageType.ping], V.hugeArray())],
      ['ack Payload = str32 of 2^32−1', cat([MessageType.ack], [0x82], V.str('SeqNo'), V.int(1), V.str('Payload'), V.hugeStr())],
      ['err Error = str32 of 2^32−1', cat([MessageType.err], [0x81], V.str('Error'), V.hugeStr())],
      ['err body 1000 deep', cat([MessageType.err], V.deepArray(1000))],
      ['compress Buf = str32 of 2^32−1', cat([MessageType.compress], [0x82], V.str('Algo'), V.int(0), V.str('Buf'), V.hugeStr())],
      ['nested compress', compress(compress(encodePing({ node: '', seqNo: 1, sourceAddr: null, sourcePort: 0, sourceNode: '' })))],
      ['suspect on a stream', cat([MessageType.suspect], V.map([['Node', V.str('a')]]))],
      ['type 255', Uint8Array.from([255, 0x80])],
    ];
    const reasons: string[] = [];
    for (const [label, bytes] of inputs) {
      const before = drops(a);
      // The attacker never ends its side: only a refusal closes the stream before the 10 s deadline.
      await exchange(a.address.port, '127.0.0.2', bytes);
      const d = delta(before, drops(a));
      const keys = Object.keys(d);
      const refused =
        keys.length === 1 &&
        d[keys[0]!] === 1 &&
        (keys[0] === 'streamTooLarge' || keys[0] === 'malformedStream' || (mayWait.has(label) && keys[0] === 'streamTimeout'));
      reasons.push(`${label}: ${refused ? 'refused' : JSON.stringify(d)}`);
    }
    assert.deepEqual(
      reasons,
      inputs.map(([label]) => `${label}: refused`),
    );
    await quiet(a);
    assert.deepEqual(
      a.members().map((m) => m.name),
      ['a'],
    );
  });

  it('compression bombs of ping, ack, err and user messages (4 MiB inside a few KB) are dropped as streamTooLarge; budgets hold, a newcomer joins', async () => {
    const maxStreamBytes = 16 << 20;
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'local', gossip: { maxStreamBytes } });
    const big = 4 << 20;
    const fill = new Uint8Array(big).fill(0x61);
    const bombs: [string, Uint8Array][] = [
      ['ping with a 4 MiB Node', compress(cat([MessageType.ping], [0x81], V.str('Node'), V.bin(fill)))],
      ['ack with a 4 MiB Payload', compress(cat([MessageType.ack], [0x82], V.str('Payload'), V.bin(fill), V.str('SeqNo'), V.int(1)))],
      ['err with a 4 MiB Error', compress(cat([MessageType.err], [0x81], V.str('Error'), V.bin(fill)))],
      ['user with a 4 MiB payload', compress(encodeUserStream(fill))],
      ['user declaring 2^32−1 bytes, 4 MiB behind', compress(cat([MessageType.user], V.map([['UserMsgLen', V.int(2 ** 32 - 1)]]), fill))],
      [
        'a 4 MiB run of nils after a ping',
        compress(cat(encodePing({ node: '', seqNo: 1, sourceAddr: null, sourcePort: 0, sourceNode: '' }), new Uint8Array(big).fill(0xc0))),
      ],
    ];
    for (const [label, bytes] of bombs) assert.ok(bytes.length < 64 * 1024, `${label} is small on the wire (${bytes.length} bytes)`);
    const before = drops(a);
    const verdicts: string[] = [];
    const { result } = await watched(
      a,
      maxStreamBytes,
      pool(
        bombs.map(([label, bytes], i) => async () => {
          const reply = await exchange(a.address.port, sources(6)[i]!, bytes, { end: true });
          return `${label}: ${reply.length === 0 ? 'closed' : reply[0] === MessageType.err || reply[0] === MessageType.compress ? 'error reply' : `reply type ${reply[0]}`}`;
        }),
        6,
      ),
    );
    verdicts.push(...result);
    assert.ok(
      verdicts.every((v) => !v.includes('reply type')),
      `no bomb is answered as a request: ${verdicts.join('; ')}`,
    );
    const d = delta(before, drops(a));
    // The last one is a whole ping followed by junk: the envelope is expanded whole first, so it too is over the limit.
    assert.deepEqual(d, { streamTooLarge: bombs.length }, `drops by reason: ${JSON.stringify(d)} (${verdicts.join('; ')})`);
    await quiet(a);
    assert.deepEqual(
      a.members().map((m) => m.name),
      ['a'],
    );
    await newcomerJoins(a);
  });
});
