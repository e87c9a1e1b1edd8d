import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/gossip/codec/msgpack.js';
import { decodeTags, encodeTags } from '../../src/serf/tags.js';
import { check } from '../helpers/property.js';

const ascii = (s: string) => Buffer.from(s).toString('hex');

// docs/protocol.md#tags
describe('Serf tags in node meta', () => {
  it('decodes the meta a Go agent sent (ff + map) and encodes the same bytes', () => {
    const goMeta = Buffer.from(`ff81a5${ascii('color')}a4${ascii('blue')}`, 'hex');
    assert.deepEqual(decodeTags(goMeta), { color: 'blue' });
    assert.deepEqual(Buffer.from(encodeTags({ color: 'blue' })), goMeta);
    assert.deepEqual(Buffer.from(encodeTags({})), Buffer.from([0xff, 0x80]));
  });

  it('round-trips any tags, with keys in a fixed order', () => {
    check(
      fc.property(fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 8 }), (tags) => {
        assert.deepEqual(decodeTags(encodeTags(tags)), { ...tags });
        assert.deepEqual(encodeTags(tags), encodeTags(Object.fromEntries(Object.entries(tags).reverse())));
      }),
    );
  });

  it('refuses tags over 512 encoded bytes or with non-string values, with ERR_INVALID_OPTION', () => {
    assert.throws(() => encodeTags({ big: 'x'.repeat(600) }), {
      code: 'ERR_INVALID_OPTION',
      message: /^tags must encode to at most 512 bytes, got 6\d\d$/,
    });
    assert.throws(() => encodeTags({ n: 5 as never }), { code: 'ERR_INVALID_OPTION', message: /^tags\.n must be a string/ });
    assert.throws(() => encodeTags(null as never), { code: 'ERR_INVALID_OPTION', message: /^tags must be an object/ });
    assert.equal(encodeTags({ fits: 'x'.repeat(500) }).length, 510);
  });

  it('reads meta without the 0xFF magic as a bare role, as Serf does; malformed maps are DecodeErrors', () => {
    assert.deepEqual(decodeTags(new Uint8Array(0)), { role: '' });
    assert.deepEqual(decodeTags(Buffer.from('web')), { role: 'web' });
    assert.throws(() => decodeTags(Uint8Array.from([0xff, 0x81, 0xa1, 0x61, 0x05])), DecodeError);
    assert.throws(() => decodeTags(Uint8Array.from([0xff, 0x92])), DecodeError);
  });

  it('a tag named __proto__ is a tag like any other: kept, an own property, the prototype untouched', () => {
    const tags = JSON.parse('{"__proto__":"x","role":"web"}') as Record<string, string>;
    const decoded = decodeTags(encodeTags(tags));
    assert.deepEqual(Object.entries(decoded), [
      ['__proto__', 'x'],
      ['role', 'web'],
    ]);
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  });
});
