// The transport on its own: datagrams and streams between two NetTransports, with and without a
// keyring, and nothing delivered once closed. (GossipNode's tests cover it under the protocol.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createServer } from 'node:net';
import pino from 'pino';
import { SwimringError } from '../../src/errors.js';
import type { Address } from '../../src/gossip/address.js';
import { encodeAck } from '../../src/gossip/codec/messages.js';
import type { StreamMessage } from '../../src/gossip/codec/stream.js';
import { Keyring } from '../../src/io/keyring.js';
import { monotonicNowMs } from '../../src/io/random.js';
import { NetTransport } from '../../src/io/transport.js';
import { waitFor } from '../helpers/processes.js';

const logger = pino({ level: 'silent' });

async function pair(keyring: () => Keyring | null) {
  const options = { host: '127.0.0.1', port: 0, maxStreamBytes: 1 << 20, tcpTimeoutMs: 2000, logger };
  const a = await NetTransport.bind({ ...options, keyring: keyring() });
  const b = await NetTransport.bind({ ...options, keyring: keyring() });
  const got = { packets: [] as [Address, Uint8Array][], requests: [] as StreamMessage[], drops: [] as string[] };
  b.listen({
    packet: (from, bytes) => got.packets.push([from, bytes]),
    streamRequest: (_from, message) => {
      got.requests.push(message);
      return message.type === 'ping' ? encodeAck({ seqNo: message.ping.seqNo, payload: null }) : null;
    },
    drop: (reason) => got.drops.push(reason),
  });
  const aDrops: string[] = [];
  a.listen({ packet: () => undefined, streamRequest: () => null, drop: (r) => aDrops.push(r) });
  return { a, b, got, aDrops, to: { host: '127.0.0.1', port: b.port } };
}

const ping = Uint8Array.from([0, 0x82, 0xa5, ...Buffer.from('SeqNo'), 0x2a, 0xa4, ...Buffer.from('Node'), 0xa1, 0x62]);

for (const encrypted of [false, true]) {
  describe(`NetTransport (${encrypted ? 'encrypted' : 'plain'})`, () => {
    const key = randomBytes(32).toString('base64');
    const keyring = () => (encrypted ? new Keyring([key]) : null);

    it('delivers datagrams decrypted, and a stream request its reply', async () => {
      const { a, b, got, aDrops, to } = await pair(keyring);
      try {
        assert.ok(a.port > 0 && b.port > 0 && a.port !== b.port);
        a.sendPacket(to, Uint8Array.from([1, 2, 3]));
        await waitFor('the datagram arrives', () => got.packets.length === 1, 5000, 10);
        assert.deepEqual(Array.from(got.packets[0]![1]), [1, 2, 3]);
        assert.equal(got.packets[0]![0].port, a.port, 'from the bound port');
        const reply = await new Promise<StreamMessage | Error>((resolve) => a.request(to, ping, monotonicNowMs() + 2000, resolve));
        assert.ok(!(reply instanceof Error), String(reply));
        assert.deepEqual(reply, { type: 'ack', ack: { seqNo: 42, payload: null } });
        assert.equal(got.requests.length, 1);
        assert.deepEqual(got.requests[0], {
          type: 'ping',
          ping: { seqNo: 42, node: 'b', sourceAddr: null, sourcePort: 0, sourceNode: '' },
        });
        a.sendStream(to, ping, monotonicNowMs() + 2000);
        await waitFor('the one-way stream arrives', () => got.requests.length === 2, 5000, 10);
        assert.deepEqual(got.drops, []);
        assert.deepEqual(aDrops, []);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('reports a refused stream as an error, and nothing once closed', async () => {
      const { a, b, to } = await pair(keyring);
      await b.close();
      const refused = await new Promise<StreamMessage | Error>((resolve) => a.request(to, ping, monotonicNowMs() + 2000, resolve));
      assert.ok(refused instanceof Error);
      let called = false;
      a.request(to, ping, monotonicNowMs() + 50, () => (called = true));
      await a.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(called, false, 'a request cut short by close is not reported');
      assert.deepEqual(a.inboundStreams, { open: 0, bufferedBytes: 0 });
      await a.close(); // idempotent
    });
  });
}

describe('NetTransport across keyrings', () => {
  it('a datagram no key opens is dropped as decrypt; a plain stream to an encrypted one fails', async () => {
    const options = { host: '127.0.0.1', port: 0, maxStreamBytes: 1 << 20, tcpTimeoutMs: 2000, logger };
    const a = await NetTransport.bind({ ...options, keyring: new Keyring([randomBytes(32).toString('base64')]) });
    const b = await NetTransport.bind({ ...options, keyring: new Keyring([randomBytes(32).toString('base64')]) });
    const plain = await NetTransport.bind({ ...options, keyring: null });
    const drops: string[] = [];
    const packets: Uint8Array[] = [];
    b.listen({ packet: (_f, bytes) => packets.push(bytes), streamRequest: () => null, drop: (r) => drops.push(r) });
    a.listen({ packet: () => undefined, streamRequest: () => null, drop: () => undefined });
    const plainDrops: string[] = [];
    plain.listen({ packet: () => undefined, streamRequest: () => null, drop: (r) => plainDrops.push(r) });
    try {
      a.sendPacket({ host: '127.0.0.1', port: b.port }, Uint8Array.from([1]));
      await waitFor('the datagram is dropped', () => drops.includes('decrypt'), 5000, 10);
      assert.deepEqual(packets, []);
      const reply = await new Promise<StreamMessage | Error>((resolve) =>
        plain.request({ host: '127.0.0.1', port: b.port }, ping, monotonicNowMs() + 2000, resolve),
      );
      assert.ok(reply instanceof Error || reply.type === 'err', 'no answer a plain peer could use');
      await waitFor('b counts the stream it could not read', () => drops.includes('streamEncryption'), 5000, 10);
    } finally {
      await Promise.all([a.close(), b.close(), plain.close()]);
    }
  });
});

describe('NetTransport.bind', () => {
  it('a port already taken is an option error whose subject is bind', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    try {
      await assert.rejects(
        NetTransport.bind({ host: '127.0.0.1', port, keyring: null, maxStreamBytes: 1 << 20, tcpTimeoutMs: 2000, logger }),
        (err: unknown) =>
          err instanceof SwimringError &&
          err.code === 'ERR_INVALID_OPTION' &&
          err.subject === 'bind' &&
          err.message === `bind 127.0.0.1:${port} (tcp) failed: EADDRINUSE`,
      );
    } finally {
      server.close();
    }
  });
});
