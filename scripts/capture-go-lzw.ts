/**
 * Captures Go-produced LZW from a real serf agent (Debian serf 0.9.4, memberlist 0.2.2) for
 * test/fixtures/go-lzw.json. Serf agents compress every TCP stream, so we send push/pulls and keep
 * the compressed replies. The second push/pull follows one that fed the agent 24 members with
 * high-entropy tags, so its reply is long enough for Go's encoder to pass its 4095-code reset.
 *   npx tsx scripts/capture-go-lzw.ts
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodePushPull, type PushNodeState } from '../src/gossip/codec/messages.js';
import { decodeCompress } from '../src/gossip/codec/messages.js';
import { Writer } from '../src/gossip/codec/msgpack.js';
import { parseStream } from '../src/gossip/codec/stream.js';

const PORT = 17946;
const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);
const LOCALHOST = Uint8Array.from([127, 0, 0, 1]);

function tags(map: Record<string, string>): Uint8Array {
  const w = new Writer();
  w.u8(0xff).mapHeader(Object.keys(map).length);
  for (const [k, v] of Object.entries(map)) w.str(k).str(v);
  return w.finish();
}

function node(name: string, port: number, meta: Uint8Array): PushNodeState {
  return { name, addr: LOCALHOST, port, meta, incarnation: 1, state: 0, vsn: VSN };
}

async function pushPull(states: PushNodeState[], join: boolean): Promise<Uint8Array> {
  const request = encodePushPull({ join, nodes: states.length, userStateLen: 0 }, states, new Uint8Array(0));
  return new Promise((resolve, reject) => {
    const socket = connect(PORT, '127.0.0.1');
    let buf = Buffer.alloc(0);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parseStream(buf, 1 << 24);
      if (parsed.status === 'complete') {
        socket.destroy();
        resolve(new Uint8Array(buf.subarray(0, parsed.length)));
      }
    });
    socket.on('error', reject);
    setTimeout(() => reject(new Error('no reply')), 10_000).unref();
  });
}

const agent = spawn('serf', ['agent', '-node=capture-a', `-bind=127.0.0.1:${PORT}`, '-rpc-addr=127.0.0.1:17373', '-tag', 'role=capture'], {
  stdio: 'ignore',
});
try {
  await sleep(1500);
  const self = node('capture-ts', 17999, tags({ lang: 'ts' }));
  const first = await pushPull([self], true);
  const fakes = Array.from({ length: 24 }, (_, i) =>
    node(`fake-${i}`, 18000 + i, tags({ a: randomBytes(180).toString('base64'), b: randomBytes(120).toString('base64') })),
  );
  await pushPull([self, ...fakes], false);
  await sleep(500);
  const second = await pushPull([self], false);
  const vectors = [first, second].map((stream, i) => {
    const c = decodeCompress(stream.subarray(1));
    return {
      name: i === 0 ? 'join push/pull reply' : 'push/pull reply with 26 members',
      streamHex: Buffer.from(stream).toString('hex'),
      compressedBufHex: Buffer.from(c.buf).toString('hex'),
    };
  });
  const out = {
    source:
      'Replies of a real `serf agent` (Debian serf 0.9.4~ds1-1+b13, memberlist 0.2.2, Go 1.19 compress/lzw) to TCP push/pulls; captured by scripts/capture-go-lzw.ts',
    vectors,
  };
  writeFileSync(new URL('../test/fixtures/go-lzw.json', import.meta.url), `${JSON.stringify(out, null, 1)}\n`);
  console.log(vectors.map((v) => `${v.name}: ${v.compressedBufHex.length / 2} compressed bytes`).join('\n'));
} finally {
  agent.kill('SIGKILL');
}
