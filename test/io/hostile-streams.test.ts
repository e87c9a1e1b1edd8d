// Hostile TCP streams against real nodes on loopback (docs/budgets.md "TCP streams"): a
// compression bomb, floods of stalled connections, frames announcing the largest size. Attackers
// connect from 127.0.0.2 and up (all loopback on Linux), real peers from 127.0.0.1, so the
// per-source limit can tell them apart.
import assert from 'node:assert/strict';
import { type Socket, createConnection } from 'node:net';
import { describe, it } from 'node:test';
import { lzwCompress } from '../../src/gossip/codec/lzw.js';
import { MessageType, encodeCompress } from '../../src/gossip/codec/messages.js';
import { Writer } from '../../src/gossip/codec/msgpack.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { waitFor } from '../helpers/processes.js';

const KEY = Buffer.alloc(16, 7).toString('base64');

function connect(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Keeps `count` connections open from `sources`, opening a new one whenever one is closed, until stopped. */
function flood(
  port: number,
  sources: string[],
  count: number,
  onConnect: (s: Socket) => void = () => {},
): { stop: () => void; opened: () => number } {
  let stopped = false;
  let opened = 0;
  const open = (i: number) => {
    if (stopped) return;
    const s = createConnection({ host: '127.0.0.1', port, localAddress: sources[i % sources.length]! });
    opened++;
    s.on('connect', () => onConnect(s));
    s.on('error', () => {});
    s.on('close', () => setImmediate(() => open(i)));
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const sockets = new Set<Socket>();
  for (let i = 0; i < count; i++) open(i);
  return {
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}

const sources = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);

describe('hostile streams on real sockets', () => {
  it('a 13 KB LZW bomb (16 M declared empty states) is dropped; the node keeps its members and admits a newcomer', async () => {
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'local' });
    await using b = await GossipNode.create({ name: 'b', bind: '127.0.0.1:0', profile: 'local' });
    const n = 16_000_000;
    const plain = new Writer()
      .u8(MessageType.pushPull)
      .mapHeader(3)
      .key('Join')
      .bool(false)
      .key('Nodes')
      .int(n)
      .key('UserStateLen')
      .int(0)
      .bytes(new Uint8Array(n).fill(0x80))
      .finish();
    const bomb = encodeCompress({ algo: 0, buf: lzwCompress(plain) });
    assert.ok(bomb.length < 14_000);
    const s = await connect(a.address.port, '127.0.0.2');
    s.on('error', () => {});
    s.end(bomb);
    await waitFor('the bomb is dropped', () => (a.counters.drops['streamTooLarge'] ?? 0) >= 1, 10_000);
    assert.deepEqual(
      a.members().map((m) => m.name),
      ['a'],
    );
    await b.join([`127.0.0.1:${a.address.port}`]);
    await waitFor('a sees b', () => a.members().length === 2, 10_000);
  });

  it('200 stalled connections from 8 sources, re-opened as they are closed, do not keep a keyed peer out', async () => {
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'local', encrypt: KEY });
    await using b = await GossipNode.create({ name: 'b', bind: '127.0.0.1:0', profile: 'local', encrypt: KEY });
    const f = flood(a.address.port, sources(8), 200);
    try {
      await waitFor('the flood fills the node', () => a.inboundStreams.open >= 100, 10_000);
      const joined = await Promise.race([
        b.join([`127.0.0.1:${a.address.port}`]),
        new Promise<number>((r) => setTimeout(() => r(0), 15_000).unref()),
      ]);
      assert.equal(joined, 1, 'b joined through a within 15 s under the flood');
      assert.ok(a.inboundStreams.open <= 128);
      assert.ok((a.counters.drops['streamEvicted'] ?? 0) > 0, 'stalled streams were evicted for newcomers');
    } finally {
      f.stop();
    }
    await waitFor('a sees b', () => a.members().length === 2, 10_000);
  });

  it('one source holds at most 32 streams; its oldest is evicted for its newest', async () => {
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'local' });
    const f = flood(a.address.port, ['127.0.0.2'], 60);
    try {
      await waitFor('the flooder has opened 100 connections', () => f.opened() >= 100, 10_000);
      assert.ok(a.inboundStreams.open <= 32, `${a.inboundStreams.open} open`);
      assert.ok((a.counters.drops['streamEvicted'] ?? 0) > 0);
    } finally {
      f.stop();
    }
  });

  it('frames announcing the largest size hold at most 2 × maxStreamBytes in all, encrypted or not', async () => {
    for (const encrypt of [KEY, undefined]) {
      const maxStreamBytes = 1 << 20;
      await using a = await GossipNode.create({
        name: 'a',
        bind: '127.0.0.1:0',
        profile: 'wan',
        gossip: { maxStreamBytes },
        ...(encrypt ? { encrypt } : {}),
      });
      let peak = 0;
      const junk = Buffer.alloc(64 * 1024, 0x41);
      // Encrypted: a frame header announcing the largest frame, then junk. Plain: a user message
      // announcing the largest payload, then the payload, never finished.
      const head = encrypt
        ? Buffer.from([MessageType.encrypt, 0, 0x10, 0, 0])
        : Buffer.from(
            new Writer()
              .u8(MessageType.user)
              .mapHeader(1)
              .key('UserMsgLen')
              .int(maxStreamBytes - 100)
              .finish(),
          );
      const f = flood(a.address.port, sources(4), 40, (s) => {
        s.write(head);
        let sent = 0;
        const more = () => {
          peak = Math.max(peak, a.inboundStreams.bufferedBytes);
          if (s.destroyed || sent >= maxStreamBytes - 200_000) return;
          sent += junk.length;
          s.write(junk, () => setImmediate(more));
        };
        more();
      });
      try {
        await waitFor('the budget evicts streams', () => (a.counters.drops['streamBufferBudget'] ?? 0) >= 20, 30_000);
      } finally {
        f.stop();
      }
      assert.ok(peak <= 2 * maxStreamBytes, `peak ${peak} bytes buffered`);
      assert.ok(a.inboundStreams.bufferedBytes <= 2 * maxStreamBytes);
    }
  });

  it('a connection that sends nothing is closed at the header deadline', async () => {
    await using a = await GossipNode.create({ name: 'a', bind: '127.0.0.1:0', profile: 'lan' });
    const s = await connect(a.address.port, '127.0.0.2');
    const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
    s.on('error', () => {});
    await closed;
    assert.equal(a.counters.drops['streamHeaderTimeout'], 1);
    assert.equal(a.counters.drops['streamTimeout'], undefined, 'closed by the header deadline, not the 10 s stream deadline');
  });
});
