import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc32 } from '../../src/gossip/codec/crc32.js';
import { lzwCompress, lzwDecompress } from '../../src/gossip/codec/lzw.js';
import {
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeIndirectPing,
  decodePing,
  decodeSuspect,
  encodeAck,
  encodeAlive,
  encodeDead,
  encodeIndirectPing,
  encodePing,
  encodePushPull,
  encodeSuspect,
} from '../../src/gossip/codec/messages.js';
import { DecodeError, Reader, Writer, decodeValue } from '../../src/gossip/codec/msgpack.js';
import { parseStream } from '../../src/gossip/codec/stream.js';
import { check } from '../helpers/property.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex'));
const ascii = (s: string) => hex(new TextEncoder().encode(s));
const LOCAL = Uint8Array.from([127, 0, 0, 1]);
const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);

describe('msgpack (go-msgpack dialect)', () => {
  it('writes integers in their smallest form and raw strings as fixstr / str16 / str32, never str8', () => {
    const cases: [(w: Writer) => void, string][] = [
      [(w) => w.int(1), '01'],
      [(w) => w.int(127), '7f'],
      [(w) => w.int(128), 'cc80'],
      [(w) => w.int(7946), 'cd1f0a'],
      [(w) => w.int(0x10000), 'ce00010000'],
      [(w) => w.int(3_000_000_000), 'ceb2d05e00'],
      [(w) => w.int(2 ** 40), 'cf0000010000000000'],
      [(w) => w.int(0xffffffffffffffffn), 'cfffffffffffffffff'],
      [(w) => w.int(-1), 'ff'],
      [(w) => w.int(-33), 'd0df'],
      [(w) => w.raw(new Uint8Array(31)), `bf${'00'.repeat(31)}`],
      [(w) => w.raw(new Uint8Array(32)), `da0020${'00'.repeat(32)}`],
      [(w) => w.raw(new Uint8Array(130)), `da0082${'00'.repeat(130)}`],
      [(w) => w.raw(new Uint8Array(0x10000)), `db00010000${'00'.repeat(0x10000)}`],
      [(w) => w.rawOrNil(null), 'c0'],
      [(w) => w.rawOrNil(new Uint8Array(0)), 'a0'],
      [(w) => w.raw(VSN), 'a6010502020505'],
    ];
    for (const [write, expected] of cases) {
      const w = new Writer();
      write(w);
      assert.equal(hex(w.finish()), expected);
    }
  });

  it('decodes raw strings as bytes (no UTF-8 mangling) and accepts str8 and bin', () => {
    assert.deepEqual(decodeValue(unhex('a2ff00')).value, Uint8Array.from([0xff, 0x00]));
    assert.deepEqual(decodeValue(unhex('d902ff00')).value, Uint8Array.from([0xff, 0x00]));
    assert.deepEqual(decodeValue(unhex('c402ff00')).value, Uint8Array.from([0xff, 0x00]));
  });

  it('round-trips any value it can write', () => {
    check(
      fc.property(
        fc.array(fc.oneof(fc.integer(), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), fc.uint8Array({ maxLength: 300 }), fc.boolean())),
        (values) => {
          const w = new Writer().arrayHeader(values.length);
          for (const v of values) {
            if (typeof v === 'boolean') w.bool(v);
            else if (v instanceof Uint8Array) w.raw(v);
            else w.int(v);
          }
          const decoded = decodeValue(w.finish()).value as unknown[];
          assert.deepEqual(
            decoded.map((v) => (typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : v)),
            values.map((v) => (typeof v === 'number' ? BigInt(v) : v)),
          );
        },
      ),
    );
  });

  it('decoding is total: random bytes give a value or a DecodeError, nothing else', () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          new Reader(bytes).value();
        } catch (err) {
          assert.ok(err instanceof DecodeError, String(err));
        }
      }),
      5000,
    );
  });

  it('refuses declared lengths larger than the input without allocating them', () => {
    assert.throws(() => decodeValue(unhex('ddffffffff')), DecodeError);
    assert.throws(() => decodeValue(unhex('dfffffffff')), DecodeError);
    assert.throws(() => decodeValue(unhex('dbffffffff')), DecodeError);
    assert.throws(() => decodeValue(new Uint8Array(40).fill(0x91)), /nesting too deep/);
  });
});

describe('memberlist messages', () => {
  // Packets captured between two Debian serf agents (docs/protocol.md#memberlist-messages).
  it('encodes a ping byte-identical to a Go agent', () => {
    const ping = encodePing({ node: 'n3', seqNo: 1, sourceAddr: LOCAL, sourceNode: 'n4', sourcePort: 7949 });
    assert.equal(
      hex(ping),
      `0085a4${ascii('Node')}a2${ascii('n3')}a5${ascii('SeqNo')}01aa${ascii('SourceAddr')}a47f000001aa${ascii('SourceNode')}a2${ascii('n4')}aa${ascii('SourcePort')}cd1f0d`,
    );
    assert.equal(ping.length, 61);
    assert.deepEqual(decodePing(ping.subarray(1)), { node: 'n3', seqNo: 1, sourceAddr: LOCAL, sourceNode: 'n4', sourcePort: 7949 });
  });

  it('encodes alive and dead byte-identical to a Go agent', () => {
    const meta = unhex(`ff81a5${ascii('color')}a4${ascii('blue')}`);
    const alive = encodeAlive({ node: 'n4', incarnation: 1, addr: LOCAL, port: 7949, meta, vsn: VSN });
    assert.equal(
      hex(alive),
      `0486a4${ascii('Addr')}a47f000001ab${ascii('Incarnation')}01a4${ascii('Meta')}ad${hex(meta)}a4${ascii('Node')}a2${ascii('n4')}a4${ascii('Port')}cd1f0da3${ascii('Vsn')}a6010502020505`,
    );
    assert.equal(alive.length, 71); // 76 B on the wire with the 5-byte CRC header
    const dead = encodeDead({ node: 'n4', incarnation: 1, from: 'n4' });
    assert.equal(hex(dead), `0583a4${ascii('From')}a2${ascii('n4')}ab${ascii('Incarnation')}01a4${ascii('Node')}a2${ascii('n4')}`);
    assert.deepEqual(decodeDead(dead.subarray(1)), { node: 'n4', incarnation: 1, from: 'n4' });
    assert.deepEqual(decodeAlive(alive.subarray(1)), { node: 'n4', incarnation: 1, addr: LOCAL, port: 7949, meta, vsn: VSN });
  });

  it('omits empty Source* fields and round-trips every message', () => {
    const bare = encodePing({ node: '', seqNo: 9, sourceAddr: null, sourceNode: '', sourcePort: 0 });
    assert.equal(hex(bare), `0082a4${ascii('Node')}a0a5${ascii('SeqNo')}09`);
    const ind = { seqNo: 70000, node: 'x', target: LOCAL, port: 8000, nack: true, sourceAddr: LOCAL, sourcePort: 1, sourceNode: 'me' };
    assert.deepEqual(decodeIndirectPing(encodeIndirectPing(ind).subarray(1)), ind);
    assert.deepEqual(decodeAck(encodeAck({ seqNo: 4294967295, payload: null }).subarray(1)), { seqNo: 4294967295, payload: null });
    assert.deepEqual(decodeSuspect(encodeSuspect({ node: 'a', incarnation: 5, from: 'b' }).subarray(1)), {
      node: 'a',
      incarnation: 5,
      from: 'b',
    });
  });

  it('rejects fields of the wrong type or range with a DecodeError', () => {
    const w = new Writer().mapHeader(2).str('SeqNo').int(-1).str('Node').str('x');
    assert.throws(() => decodePing(w.finish()), DecodeError);
    const big = new Writer()
      .mapHeader(1)
      .str('SeqNo')
      .int(2 ** 32);
    assert.throws(() => decodePing(big.finish()), DecodeError);
    const wrong = new Writer().mapHeader(1).str('Node').int(3);
    assert.throws(() => decodePing(wrong.finish()), DecodeError);
    assert.throws(() => decodePing(unhex('93010203')), DecodeError);
  });
});

describe('CRC-32 and LZW', () => {
  it('CRC-32/IEEE check value and the captured packets', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    // The serf join intent captured from a Go agent (docs/protocol.md#serf-message-types):
    // 0c 7a288a53 | 08 01 82 a5"LTime" 11 a4"Node" a2"n4"
    const intent = unhex(`080182a5${ascii('LTime')}11a4${ascii('Node')}a2${ascii('n4')}`);
    assert.equal(crc32(intent), 0x7a288a53);
    const dead = encodeDead({ node: 'n4', incarnation: 1, from: 'n4' });
    assert.equal(crc32(dead), 0x5317da97);
  });

  it('LZW: empty input is clear + EOF (00 03 02)', () => {
    assert.equal(hex(lzwCompress(new Uint8Array(0))), '000302');
    assert.equal(lzwDecompress(unhex('000302'), 10).length, 0);
  });

  const fixtures = JSON.parse(readFileSync(new URL('../fixtures/go-lzw.json', import.meta.url), 'utf8')) as {
    vectors: { name: string; streamHex: string; compressedBufHex: string }[];
  };
  for (const v of fixtures.vectors) {
    it(`LZW matches Go byte for byte: ${v.name}`, () => {
      const goCompressed = unhex(v.compressedBufHex);
      const plain = lzwDecompress(goCompressed, 1 << 24);
      assert.equal(plain[0], 6, 'a push/pull message');
      assert.equal(hex(lzwCompress(plain)), v.compressedBufHex, 'our encoder writes exactly what Go wrote');
      const parsed = parseStream(unhex(v.streamHex), 1 << 24);
      assert.equal(parsed.status, 'complete');
      assert.ok(
        parsed.status === 'complete' && parsed.compressed && parsed.message.type === 'pushPull' && parsed.message.states.length > 0,
      );
    });
  }

  it('LZW round-trips any input, including past table resets', () => {
    check(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }),
          fc.uint8Array({ minLength: 9000, maxLength: 20000 }),
          fc.array(fc.constantFrom(0, 1, 2), { maxLength: 20000 }).map((a) => Uint8Array.from(a)),
        ),
        (input) => {
          assert.deepEqual(lzwDecompress(lzwCompress(input), input.length + 1), input);
        },
      ),
      100,
    );
  });

  it('LZW decoding is total and bounded', () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          lzwDecompress(bytes, 1000);
        } catch (err) {
          assert.ok(err instanceof DecodeError);
        }
      }),
      5000,
    );
    const bomb = lzwCompress(new Uint8Array(100_000));
    assert.throws(() => lzwDecompress(bomb, 10_000), /exceeds the limit/);
  });
});

describe('stream parser', () => {
  const states = [{ name: 'a', addr: LOCAL, port: 1, meta: unhex('ff80'), incarnation: 1, state: 0 as const, vsn: VSN }];
  const pp = encodePushPull({ join: true, nodes: 1, userStateLen: 3 }, states, Uint8Array.from([2, 0xc0, 0xc0]));

  it('says incomplete for every proper prefix and complete for the whole message', () => {
    for (let i = 0; i < pp.length; i++) assert.equal(parseStream(pp.subarray(0, i), 1 << 20).status, 'incomplete', `prefix ${i}`);
    const whole = parseStream(pp, 1 << 20);
    assert.equal(whole.status, 'complete');
    assert.ok(whole.status === 'complete' && whole.length === pp.length && whole.message.type === 'pushPull');
  });

  it('refuses unknown types, lies about counts and oversized messages', () => {
    assert.throws(() => parseStream(Uint8Array.from([42, 0]), 100), DecodeError);
    const lie = new Writer().u8(6).mapHeader(3).str('Join').bool(false).str('Nodes').int(1e9).str('UserStateLen').int(0).finish();
    assert.throws(() => parseStream(lie, 1 << 20), DecodeError);
    assert.throws(() => parseStream(pp.subarray(0, 20), 20), /exceeds/);
  });
});
