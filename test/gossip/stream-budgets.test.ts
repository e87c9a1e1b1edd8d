// Budgets of the stream and packet decoders against structured hostile inputs (docs/budgets.md):
// compression bombs, maximal declared counts, many cheap containers. Each case is refused by a
// budget before the work or memory it asks for is spent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { lzwCompress } from '../../src/gossip/codec/lzw.js';
import { MessageType, encodeAck, encodeCompress, encodePing, encodePushPull, type PushNodeState } from '../../src/gossip/codec/messages.js';
import { BudgetExceededError, DecodeError, Writer, decodeValue } from '../../src/gossip/codec/msgpack.js';
import { MAX_PACKET_BYTES, encodeCompound, unpackPacket } from '../../src/gossip/codec/packet.js';
import { MAX_PUSH_PULL_NODES, StreamFramer } from '../../src/gossip/codec/stream-framer.js';
import { MAX_COMPRESSION_RATIO, parseStream } from '../../src/gossip/codec/stream.js';
import { decodeSerfState } from '../../src/serf/push-pull.js';
import { check } from '../helpers/property.js';

const MAX = 16 * 1024 * 1024;

function pushPullHeader(nodes: number, userStateLen = 0): Writer {
  return new Writer()
    .u8(MessageType.pushPull)
    .mapHeader(3)
    .key('Join')
    .bool(false)
    .key('Nodes')
    .int(nodes)
    .key('UserStateLen')
    .int(userStateLen);
}

function compressed(plain: Uint8Array): Uint8Array {
  return encodeCompress({ algo: 0, buf: lzwCompress(plain) });
}

function members(n: number): PushNodeState[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `node-${String(i).padStart(5, '0')}`,
    addr: Uint8Array.from([10, 0, i >> 8, i & 255]),
    port: 7946,
    meta: Uint8Array.from([0xff, 0x81, 0xa4, 0x72, 0x6f, 0x6c, 0x65, 0xa3, 0x77, 0x65, 0x62]),
    incarnation: i % 7,
    state: 0,
    vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]),
  }));
}

describe('stream budgets', () => {
  it('an LZW bomb push/pull (1 M declared empty states in 2 KB) is refused before it expands', () => {
    const plain = pushPullHeader(1_000_000).bytes(new Uint8Array(1_000_000).fill(0x80)).finish();
    const bomb = compressed(plain);
    assert.ok(bomb.length < 4096, `the bomb is small (${bomb.length} B)`);
    assert.throws(() => parseStream(bomb, MAX), BudgetExceededError);
  });

  it('a compressed message may expand only MAX_COMPRESSION_RATIO times; real push/pulls stay well inside', () => {
    const real = encodePushPull({ join: false, nodes: 10_000, userStateLen: 0 }, members(10_000), new Uint8Array(0));
    const envelope = compressed(real);
    assert.ok(
      real.length / envelope.length < MAX_COMPRESSION_RATIO / 4,
      `a 10 000-member push/pull compresses ${(real.length / envelope.length).toFixed(1)}×`,
    );
    const parsed = parseStream(envelope, MAX);
    assert.ok(parsed.status === 'complete' && parsed.message.type === 'pushPull' && parsed.message.states.length === 10_000);
    // A valid message that compresses far better than that is over budget (its expansion is the cost).
    const zeros = new Writer().u8(MessageType.user).mapHeader(1).key('UserMsgLen').int(2_000_000).bytes(new Uint8Array(2_000_000)).finish();
    assert.throws(() => parseStream(compressed(zeros), MAX), BudgetExceededError);
  });

  it('a push/pull declaring more than MAX_PUSH_PULL_NODES states is refused on its header alone', () => {
    const header = pushPullHeader(MAX_PUSH_PULL_NODES + 1).finish();
    assert.throws(() => parseStream(header, MAX), BudgetExceededError);
    assert.equal(parseStream(pushPullHeader(MAX_PUSH_PULL_NODES).finish(), MAX).status, 'incomplete');
  });

  it('a compressed push/pull whose bytes cannot hold its declared states is refused', () => {
    const one = encodePushPull({ join: false, nodes: 1, userStateLen: 0 }, members(1), new Uint8Array(0));
    const lie = pushPullHeader(5000)
      .bytes(one.subarray(pushPullHeader(1).finish().length))
      .finish();
    assert.throws(() => parseStream(compressed(lie), MAX), /truncated/);
  });

  it('the walk stops at the first node state that is not a map, and at a state without a name', () => {
    const framer = new StreamFramer(MAX);
    assert.equal(framer.push(pushPullHeader(3).finish()), null);
    assert.throws(() => framer.push(Uint8Array.from([0x01])), /not a map/);
    const port = new Writer().mapHeader(1).key('Port').int(7946).finish();
    const nameless = pushPullHeader(2).bytes(port).bytes(port).finish();
    assert.throws(() => parseStream(nameless, MAX), /without a name/);
  });

  it('framing is resumable: any split of a message gives the same result as the whole, and nothing past it is kept', () => {
    const messages = [
      encodePushPull({ join: true, nodes: 40, userStateLen: 5 }, members(40), Uint8Array.from([1, 2, 3, 4, 5])),
      compressed(encodePushPull({ join: false, nodes: 300, userStateLen: 0 }, members(300), new Uint8Array(0))),
      encodePing({ seqNo: 7, node: 'n', sourceAddr: null, sourcePort: 0, sourceNode: '' }),
      encodeAck({ seqNo: 9, payload: new Uint8Array(300) }),
      new Writer().u8(MessageType.user).mapHeader(1).key('UserMsgLen').int(70_000).bytes(new Uint8Array(70_000).fill(7)).finish(),
    ];
    check(
      fc.property(
        fc.constantFrom(...messages.keys()),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 200 }),
        (which, sizes) => {
          const message = messages[which]!;
          const trailing = Uint8Array.from([...message, 1, 2, 3]);
          const framer = new StreamFramer(MAX);
          let at = 0;
          let whole: Uint8Array | null = null;
          for (let i = 0; whole === null && at < trailing.length; i++) {
            const n = sizes[i % sizes.length]!;
            whole = framer.push(trailing.subarray(at, at + n));
            at += n;
          }
          assert.deepEqual(whole, message);
        },
      ),
      200,
    );
  });

  it('a trickled message costs work linear in its size: the header is decoded once, values are walked once', () => {
    const message = encodePushPull({ join: false, nodes: 2000, userStateLen: 0 }, members(2000), new Uint8Array(0));
    const framer = new StreamFramer(MAX);
    let whole: Uint8Array | null = null;
    for (let i = 0; i < message.length; i++) whole = framer.push(message.subarray(i, i + 1));
    assert.deepEqual(whole, message);
    // Held memory follows the message, not the number of chunks.
    assert.ok(framer.bufferedBytes <= 2 * message.length, `buffered ${framer.bufferedBytes} for ${message.length}`);
  });
});

describe('decoder element budgets', () => {
  it('a value of many empty containers is refused before they are built (65 536 elements per value)', () => {
    const manyMaps = new Writer().arrayHeader(70_000).bytes(new Uint8Array(70_000).fill(0x80)).finish();
    assert.throws(() => decodeValue(manyMaps), BudgetExceededError);
    const fewer = new Writer().arrayHeader(30_000).bytes(new Uint8Array(30_000).fill(0x80)).finish();
    assert.equal((decodeValue(fewer).value as unknown[]).length, 30_000);
  });

  it('nesting deeper than 32 is refused', () => {
    assert.throws(() => decodeValue(new Uint8Array(40).fill(0x91)), DecodeError);
  });

  it('a Serf push/pull state with more status times than a push/pull may carry members is refused', () => {
    const n = 8 * MAX_PUSH_PULL_NODES;
    const w = new Writer().mapHeader(1).key('StatusLTimes').mapHeader(n);
    for (let i = 0; i < n; i++) w.str(i.toString(36)).int(1);
    assert.throws(() => decodeSerfState(w.finish()), BudgetExceededError);
  });
});

describe('datagram budgets', () => {
  it('all compress envelopes of one datagram expand to at most MAX_PACKET_BYTES together', () => {
    // 40 parts, each a compress of 60 000 zeros: 2.4 MB from one small datagram without the budget.
    const part = encodeCompress({ algo: 0, buf: lzwCompress(new Uint8Array(60_000)) });
    const datagram = encodeCompound(Array.from({ length: 40 }, () => part));
    assert.ok(datagram.length < 20_000);
    assert.throws(() => unpackPacket(datagram), BudgetExceededError);
    const fits = encodeCompound(
      Array.from({ length: 2 }, () => encodeCompress({ algo: 0, buf: lzwCompress(new Uint8Array(MAX_PACKET_BYTES / 4)) })),
    );
    assert.equal(unpackPacket(fits).messages.length, 2);
  });
});
