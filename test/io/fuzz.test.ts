// Garbage at a live, encrypted node over real sockets: datagrams and streams that are random,
// truncated, plaintext, or encrypted with another key are dropped and counted; the member table
// does not change; the node keeps answering and a newcomer still converges with it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/sim/prng.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { Keyring } from '../../src/io/keyring.js';
import { garbage, validPackets, validStreams } from '../helpers/corpus.js';
import { waitFor } from '../helpers/processes.js';

const key = randomBytes(32).toString('base64');
const otherKey = randomBytes(32).toString('base64');

function table(node: GossipNode): string {
  return node
    .members()
    .map((m) => `${m.name}:${m.status}:${m.incarnation}`)
    .sort()
    .join(' ');
}

/** Changes one byte after the version byte: ciphertext, nonce or tag, so authentication fails. */
function tamper(sealed: Uint8Array, random: () => number): Uint8Array {
  const out = Uint8Array.from(sealed);
  out[1 + Math.floor(random() * (out.length - 1))]! ^= 1 + Math.floor(random() * 255);
  return out;
}

async function stream(port: number, bytes: Uint8Array, hangUp: boolean): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(bytes);
      if (hangUp) s.end();
    });
    s.on('data', () => undefined);
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.setTimeout(3000, () => s.destroy());
  });
}

describe('fuzzing a live node over real sockets', () => {
  it('20 000 bad datagrams and 1 000 bad streams: dropped, counted, harmless', async () => {
    const opts = { bind: '127.0.0.1:0', profile: 'local' as const, encrypt: key };
    const a = await GossipNode.create({ name: 'fz-a', ...opts });
    const b = await GossipNode.create({ name: 'fz-b', ...opts });
    const nodes = [a, b];
    try {
      await b.join([`127.0.0.1:${a.address.port}`]);
      await waitFor(
        'a and b see each other',
        () => [a, b].every((n) => n.members().filter((m) => m.status === 'alive').length === 2),
        10_000,
        20,
      );
      const before = table(a);
      const random = seededRandom(31);
      const plain = validPackets(['fz-a', 'fz-b']);
      const wrong = new Keyring([otherKey]);
      const right = new Keyring([key]);
      const udp = createSocket('udp4');
      for (let i = 0; i < 20_000; i++) {
        const r = random();
        const valid = plain[Math.floor(random() * plain.length)]!;
        const bytes =
          r < 0.3
            ? garbage(random, 1400)
            : r < 0.5
              ? valid // plaintext into an encrypted cluster
              : r < 0.7
                ? wrong.encrypt(valid) // another cluster's key
                : r < 0.85
                  ? right.encrypt(valid).subarray(0, Math.floor(random() * 60)) // truncated
                  : tamper(right.encrypt(valid), random); // tampered: the GCM tag fails
        udp.send(bytes, a.address.port, '127.0.0.1');
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 300));
      udp.close();
      const streams = validStreams(['fz-a', 'x']);
      const jobs: Promise<void>[] = [];
      for (let i = 0; i < 1_000; i++) {
        const r = random();
        const bytes =
          r < 0.3
            ? garbage(random, 3000)
            : r < 0.5
              ? streams[Math.floor(random() * streams.length)]! // plaintext stream
              : r < 0.7
                ? Uint8Array.from([10, 0xff, 0xff, 0xff, 0xff]) // frame length beyond the limit
                : r < 0.9
                  ? Uint8Array.from([10, 0, 0, 0, 40, ...wrong.encrypt(streams[0]!).subarray(0, 40)])
                  : Uint8Array.from([10, 0, 0, 1, 0]); // promises 256 bytes, never sends them
        jobs.push(stream(a.address.port, bytes, r < 0.9));
        if (jobs.length >= 64) await Promise.all(jobs.splice(0));
      }
      await Promise.all(jobs);
      const drops = a.counters.drops;
      assert.equal(table(a), before, `garbage never changes the member table (drops ${JSON.stringify(drops)})`);
      assert.ok((drops['decrypt'] ?? 0) > 10_000, `datagrams dropped at decryption: ${JSON.stringify(drops)}`);
      assert.ok((drops['streamEncryption'] ?? 0) + (drops['malformedStream'] ?? 0) > 500, `streams dropped: ${JSON.stringify(drops)}`);
      // Still a healthy member, and a newcomer converges with both.
      const c = await GossipNode.create({ name: 'fz-c', ...opts });
      nodes.push(c);
      await c.join([`127.0.0.1:${a.address.port}`]);
      await waitFor(
        'all three see three alive',
        () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 3),
        15_000,
        20,
      );
      assert.equal(b.members().find((m) => m.name === 'fz-a')?.status, 'alive');
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});

describe('stream limits', () => {
  it('an inbound stream that trickles bytes is cut at the deadline, not kept alive by activity', async () => {
    const node = await GossipNode.create({ name: 'slow', bind: '127.0.0.1:0', profile: 'local' }); // tcpTimeoutMs 1000
    try {
      const socket = connect(node.address.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      let closed = false;
      socket.on('close', () => (closed = true));
      socket.on('error', () => undefined);
      // A push/pull header, then one byte every 200 ms: never complete, never idle. Only an
      // absolute deadline closes it (an idle timeout never would).
      socket.write(Uint8Array.from([6, 0x83]));
      const trickle = setInterval(() => socket.writable && socket.write(Uint8Array.from([0xa4])), 200);
      try {
        await waitFor('the node closes the stream', () => closed, 30_000, 50);
      } finally {
        clearInterval(trickle);
      }
      assert.equal(node.counters.drops['streamTimeout'], 1, 'closed by the stream deadline');
    } finally {
      await node.close();
    }
  });
});
