// Query filters (src/serf/query-filters.ts): their encoding, matching, and the expressions refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError } from '../../src/gossip/codec/msgpack.js';
import { compileTagExpr, decodeFilter, encodeFilter, filtersMatch } from '../../src/serf/query-filters.js';

// docs/protocol.md#queries
describe('query filters', () => {
  it('encode and decode node and tag filters; unknown filter types are reported as null', () => {
    const node = { type: 'node', names: ['a', 'b'] } as const;
    const tag = { type: 'tag', tag: 'role', expr: '^web' } as const;
    assert.deepEqual(decodeFilter(encodeFilter(node)), node);
    assert.deepEqual(decodeFilter(encodeFilter(tag)), tag);
    assert.equal(decodeFilter(Uint8Array.from([7, 0x90])), null);
    assert.throws(() => decodeFilter(new Uint8Array(0)), DecodeError);
  });

  it('all filters must match: node list, tag present and matching (unanchored, as Go)', () => {
    const tags = { role: 'web-frontend', dc: 'eu' };
    assert.ok(filtersMatch([{ type: 'node', names: ['a', 'me'] }], 'me', tags));
    assert.ok(!filtersMatch([{ type: 'node', names: ['a'] }], 'me', tags));
    assert.ok(filtersMatch([{ type: 'tag', tag: 'role', expr: 'web' }], 'me', tags));
    assert.ok(!filtersMatch([{ type: 'tag', tag: 'role', expr: '^web$' }], 'me', tags));
    assert.ok(!filtersMatch([{ type: 'tag', tag: 'zone', expr: '.*' }], 'me', tags), 'a missing tag never matches');
    assert.ok(
      !filtersMatch(
        [
          { type: 'tag', tag: 'dc', expr: 'eu' },
          { type: 'node', names: ['x'] },
        ],
        'me',
        tags,
      ),
    );
  });

  it('refuses expressions a backtracking engine could take exponential time on', () => {
    for (const safe of ['^web-\\d+$', 'a|b', '(eu|us)-west', '[a-z]+', '^(prod)$', 'x{2,3}']) assert.ok(compileTagExpr(safe), safe);
    for (const unsafe of ['(a+)+$', '(a|aa)*', '(x*)*y', '(\\w+\\s?)+$', '(a)\\1', '(?=a)b', 'a'.repeat(300), '(unclosed'])
      assert.equal(compileTagExpr(unsafe), null, unsafe);
    // Refused, not run (running it on this value would not finish in our lifetime).
    assert.ok(!filtersMatch([{ type: 'tag', tag: 'v', expr: '(a+)+$' }], 'me', { v: `${'a'.repeat(60)}!` }));
  });
});
