import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fnv1a32, fnv1a32Partition, fnv1a64, fnv1a64Partition, jumpHash } from '../../src/index.js';
import { mod64, mul64, mulHi32, u64 } from '../../src/partition/u64.js';
import { compareUtf8, encodeUtf8, encoded } from '../../src/partition/utf8.js';
import { anyUtf16String, check } from '../helpers/property.js';

const MASK64 = (1n << 64n) - 1n;
const utf8 = new TextEncoder();

/** Straightforward BigInt reference FNV-1a 64, to check the split-halves implementation. */
function fnv1a64Reference(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64;
  return h;
}

/** BigInt transcription of go-jump, the reference for jumpHash. */
function jumpReference(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor((b + 1) * (2147483648 / (Number(k >> 33n) + 1)));
  }
  return b;
}

describe('FNV-1a', () => {
  // Published test values (Fowler/Noll/Vo test suite; Go's hash/fnv tests).
  const published: [string, number, bigint][] = [
    ['', 0x811c9dc5, 0xcbf29ce484222325n],
    ['a', 0xe40c292c, 0xaf63dc4c8601ec8cn],
    ['foobar', 0xbf9cf968, 0x85944171f73967e8n],
  ];
  for (const [input, h32, h64] of published) {
    it(`published value for ${JSON.stringify(input)}`, () => {
      assert.equal(fnv1a32(input), h32);
      assert.equal(fnv1a64(input), h64);
      assert.equal(fnv1a32(utf8.encode(input)), h32);
      assert.equal(fnv1a64(utf8.encode(input)), h64);
    });
  }

  it('hashes a string exactly as its UTF-8 bytes, lone surrogates included (as U+FFFD)', () => {
    check(
      fc.property(fc.oneof(anyUtf16String(), anyUtf16String(20000)), (s) => {
        const bytes = utf8.encode(s);
        assert.equal(fnv1a32(s), fnv1a32(bytes));
        assert.equal(fnv1a64(s), fnv1a64Reference(bytes));
      }),
    );
  });

  it('maps to a partition by the full hash modulo P, for P up to 2^31 − 1', () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 0x7fffffff }), (bytes, p) => {
        assert.equal(fnv1a32Partition(bytes, p), fnv1a32(bytes) % p);
        assert.equal(fnv1a64Partition(bytes, p), Number(fnv1a64Reference(bytes) % BigInt(p)));
      }),
    );
  });

  it('distinguishes NFC and NFD forms (no normalisation, like libring)', () => {
    assert.notEqual(fnv1a64('\u00e9'), fnv1a64('e\u0301'));
  });
});

describe('UTF-8 helpers', () => {
  it('encodeUtf8 equals TextEncoder for any UTF-16 string', () => {
    check(
      fc.property(anyUtf16String(200), (s) => {
        const n = encodeUtf8(s);
        assert.deepEqual(encoded.bytes.subarray(0, n), utf8.encode(s));
      }),
    );
  });

  it('compareUtf8 orders like a byte-wise comparison of the UTF-8 encodings (Go sort.Strings)', () => {
    check(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(utf8.encode(a), utf8.encode(b))));
      }),
      1000,
    );
    // The case where UTF-16 order and UTF-8 order disagree: U+FF01 sorts before U+1F600 in UTF-8.
    assert.ok(compareUtf8('\uff01', '\u{1f600}') < 0);
    assert.ok('\uff01' > '\u{1f600}', 'plain JS comparison gets this wrong');
  });
});

describe('64-bit arithmetic on halves', () => {
  const u32 = fc.nat({ max: 0xffffffff });
  it('mulHi32, mul64 and mod64 agree with BigInt', () => {
    check(
      fc.property(u32, u32, u32, u32, fc.integer({ min: 1, max: 0x7fffffff }), (ah, al, bh, bl, m) => {
        assert.equal(mulHi32(al, bl), Number((BigInt(al) * BigInt(bl)) >> 32n));
        const a = (BigInt(ah) << 32n) | BigInt(al);
        const b = (BigInt(bh) << 32n) | BigInt(bl);
        const hi = mul64(ah, al, bh, bl);
        assert.equal((BigInt(hi) << 32n) | BigInt(u64.lo), (a * b) & MASK64);
        assert.equal(mod64(ah, al, m), Number(a % BigInt(m)));
      }),
      2000,
    );
  });
});

describe('jump consistent hash', () => {
  // go-jump's jump_test.go, generated from the reference C++ code: Hash(key, i + 1) = buckets[i].
  const reference: [bigint, number[]][] = [
    [0n, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    [1n, [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17]],
    [0xdeadbeefn, [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16]],
    [0x0ddc0ffeebadf00dn, [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15]],
  ];
  for (const [key, buckets] of reference) {
    it(`reference values for key ${key}`, () => {
      buckets.forEach((expected, i) => assert.equal(jumpHash(key, i + 1), expected, `jump(${key}, ${i + 1})`));
    });
  }

  it('agrees with a BigInt transcription of the reference for any 64-bit key', () => {
    check(
      fc.property(fc.bigInt({ min: 0n, max: MASK64 }), fc.integer({ min: 1, max: 0x7fffffff }), (key, buckets) => {
        assert.equal(jumpHash(key, buckets), jumpReference(key, buckets));
      }),
      2000,
    );
  });

  it('number and bigint keys agree; in range, and adding a bucket moves a key only to the new bucket', () => {
    check(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 5000 }), (key, buckets) => {
        const b = jumpHash(key, buckets);
        assert.equal(b, jumpHash(BigInt(key), buckets));
        assert.ok(b >= 0 && b < buckets);
        // Consistency: adding a bucket either keeps the key or moves it to the new bucket.
        const next = jumpHash(key, buckets + 1);
        assert.ok(next === b || next === buckets);
      }),
    );
  });

  it('rejects bad arguments with ERR_INVALID_ARGUMENT', () => {
    for (const buckets of [0, -1, 1.5, 2 ** 31, Number.NaN]) {
      assert.throws(() => jumpHash(1n, buckets), { code: 'ERR_INVALID_ARGUMENT', message: /buckets/ });
    }
    for (const key of [-1, 1.5, 2 ** 53, -1n, 1n << 64n]) {
      assert.throws(() => jumpHash(key, 10), { code: 'ERR_INVALID_ARGUMENT', message: /key/ });
    }
  });
});
