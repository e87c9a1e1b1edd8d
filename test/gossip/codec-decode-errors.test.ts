// DecodeError carries a typed reason: callers branch on it, never on the message text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as decodeErrors from '../../src/gossip/codec/decode-error.js';
import { BudgetExceededError, DecodeError, type DecodeErrorReason, TruncatedError } from '../../src/gossip/codec/decode-error.js';
import { lzwCompress, lzwDecompress } from '../../src/gossip/codec/lzw.js';
import { decodePing, encodePing } from '../../src/gossip/codec/messages.js';
import * as msgpack from '../../src/gossip/codec/msgpack.js';
import { Writer, decodeValue } from '../../src/gossip/codec/msgpack.js';
import { packPacket, unpackPacket } from '../../src/gossip/codec/packet.js';
import { parseStream } from '../../src/gossip/codec/stream.js';
import { StreamReadError, StreamReader } from '../../src/io/stream-reader.js';
import { decodeReadiness } from '../../src/ring/readiness.js';

const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex'));

/** The reason of the DecodeError `f` throws (fails if it throws nothing or anything else). */
function reasonOf(f: () => unknown): DecodeErrorReason {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof DecodeError, `not a DecodeError: ${String(err)}`);
    return err.reason;
  }
  assert.fail('did not throw');
}

const ping = encodePing({ seqNo: 7, node: 'a', sourceAddr: null, sourcePort: 0, sourceNode: '' });

describe('DecodeError reasons', () => {
  it('a packet whose CRC does not match is reason crc (message text unchanged)', () => {
    const packet = packPacket([ping], { compress: false, crc: true });
    assert.deepEqual(
      unpackPacket(packet).messages.map((m) => m.type),
      [ping[0]],
      'the intact packet unpacks',
    );
    const corrupted = Uint8Array.from(packet);
    corrupted[corrupted.length - 1]! ^= 0x01;
    assert.throws(
      () => unpackPacket(corrupted),
      (err: unknown) => err instanceof DecodeError && err.reason === 'crc' && err.message === 'CRC mismatch',
    );
  });

  it('msgpack: truncated, budget, too-deep, unknown-type and malformed', () => {
    assert.equal(
      reasonOf(() => decodeValue(unhex('92 01'))),
      'truncated',
      'an array of 2 with 1 item',
    );
    assert.equal(
      reasonOf(() => decodeValue(unhex('cd 01'))),
      'truncated',
      'a uint16 with 1 byte',
    );
    assert.equal(
      reasonOf(() => decodeValue(unhex('dc 00 05 01 02'))),
      'truncated',
      'an array declaring more items than bytes',
    );
    assert.equal(
      reasonOf(() => decodeValue(unhex('93 01 02 03'), 0, 3)),
      'budget',
      '4 elements on a budget of 3',
    );
    assert.equal(
      reasonOf(() => decodeValue(Uint8Array.from([...new Array<number>(40).fill(0x91), 0x01]))),
      'too-deep',
    );
    assert.equal(
      reasonOf(() => decodeValue(unhex('c1'))),
      'unknown-type',
    );
    assert.equal(
      reasonOf(() => decodeValue(unhex('d4 01 02'))),
      'unknown-type',
      'fixext',
    );
    assert.equal(
      reasonOf(() => decodeValue(unhex('81 01 02'))),
      'malformed',
      'a map key that is not a string',
    );
  });

  it('a field of the wrong type or range is reason field', () => {
    assert.equal(
      reasonOf(() => decodePing(new Writer().mapHeader(1).str('SeqNo').int(-1).finish())),
      'field',
    );
    assert.equal(
      reasonOf(() => decodePing(new Writer().mapHeader(1).str('Node').int(3).finish())),
      'field',
    );
    assert.equal(
      reasonOf(() => decodePing(unhex('93 01 02 03'))),
      'field',
      'an array where a struct goes',
    );
  });

  it('packets: truncated compounds, nesting, unknown compression, empty parts', () => {
    assert.equal(
      reasonOf(() => unpackPacket(unhex('07'))),
      'truncated',
      'a compound without its count',
    );
    assert.equal(
      reasonOf(() => unpackPacket(unhex('07 02 00 01'))),
      'truncated',
      'a compound without all its lengths',
    );
    let nested = ping;
    for (let i = 0; i < 6; i++) nested = Uint8Array.from([7, 1, nested.length >> 8, nested.length & 0xff, ...nested]);
    assert.equal(
      reasonOf(() => unpackPacket(nested)),
      'too-deep',
    );
    const lzw = new Writer().u8(9).mapHeader(2).str('Algo').int(1).str('Buf').raw(lzwCompress(ping)).finish();
    assert.equal(
      reasonOf(() => unpackPacket(lzw)),
      'unknown-type',
      'compression algorithm 1',
    );
    assert.equal(
      reasonOf(() => unpackPacket(unhex('07 01 00 00'))),
      'malformed',
      'an empty compound part',
    );
  });

  it('LZW: a missing EOF is truncated, an expansion past the limit is budget', () => {
    const compressed = lzwCompress(new Uint8Array(1000));
    assert.equal(lzwDecompress(compressed, 1000).length, 1000);
    assert.equal(
      reasonOf(() => lzwDecompress(compressed.subarray(0, 2), 1000)),
      'truncated',
    );
    assert.equal(
      reasonOf(() => lzwDecompress(compressed, 999)),
      'budget',
    );
  });

  it('streams: unknown message types, budgets; the stream reader maps budget to streamTooLarge', () => {
    assert.equal(
      reasonOf(() => parseStream(Uint8Array.from([42, 0]), 100)),
      'unknown-type',
    );
    const big = new Writer()
      .u8(8)
      .mapHeader(1)
      .str('UserMsgLen')
      .int(1 << 20)
      .finish();
    assert.equal(
      reasonOf(() => parseStream(big, 1000)),
      'field',
      'a user message longer than the stream limit',
    );
    // An ack whose array declares 32767 items: more than a 100-byte stream can ever hold.
    assert.equal(
      reasonOf(() => parseStream(Uint8Array.from([2, 0xdc, 0x7f, 0xff]), 100)),
      'budget',
    );
    const tooLarge = () => new StreamReader(null, 100).push(Buffer.from([2, 0xdc, 0x7f, 0xff]));
    assert.throws(tooLarge, (err: unknown) => err instanceof StreamReadError && err.reason === 'streamTooLarge');
    const malformed = () => new StreamReader(null, 100).push(Buffer.from([42]));
    assert.throws(malformed, (err: unknown) => err instanceof StreamReadError && err.reason === 'malformedStream');
  });

  it('the readiness tag: truncated varint, budget, malformed', () => {
    assert.equal(
      reasonOf(() => decodeReadiness('aaaaaaaa.bbbbbbbb.gICA.')),
      'truncated',
    );
    assert.equal(
      reasonOf(() => decodeReadiness(`aaaaaaaa.bbbbbbbb.${'A'.repeat(200)}.`)),
      'budget',
    );
    assert.equal(
      reasonOf(() => decodeReadiness('x')),
      'malformed',
    );
  });

  it('the subclasses and their reasons agree, and msgpack.ts re-exports the same classes', () => {
    const t = new TruncatedError('t');
    const b = new BudgetExceededError('b');
    assert.equal(t.reason, 'truncated');
    assert.equal(b.reason, 'budget');
    assert.ok(t instanceof DecodeError && b instanceof DecodeError);
    assert.equal(t.name, 'TruncatedError');
    assert.equal(new DecodeError('m').reason, 'malformed', 'the default, which only the subclasses rely on');
    assert.equal(new DecodeError('c', 'crc').reason, 'crc');
    // @ts-expect-error: truncated is TruncatedError's alone, so reason and class never disagree.
    assert.ok(new DecodeError('x', 'truncated'));
    assert.equal(msgpack.DecodeError, decodeErrors.DecodeError);
    assert.equal(msgpack.TruncatedError, decodeErrors.TruncatedError);
    assert.equal(msgpack.BudgetExceededError, decodeErrors.BudgetExceededError);
  });
});
