// The ring's zone and weight tags (zoneTag / weightTag) feeding the partitioner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SerfMember } from '../../src/serf/serf-members.js';
import { createPartitionTable } from '../../src/index.js';
import { ownershipOf } from '../../src/partition/diff.js';
import { resolvePartitionOptions } from '../../src/partition/options.js';
import { RingView, weightFromTag, zoneFromTag } from '../../src/ring/ring-view.js';
import { compileWatchTags } from '../../src/ring/tag-filter.js';
import { createRing } from '../../src/index.js';

const v = { min: 2, max: 5, cur: 5 };
const member = (name: string, tags: Record<string, string> = {}): SerfMember => ({
  name,
  host: '10.0.0.1',
  port: 7946,
  tags,
  status: 'alive',
  protocol: v,
  delegate: v,
});
const options = {
  ...resolvePartitionOptions({ partitions: 128, replicas: 2, placement: 'rendezvous' }),
  zoneTag: 'zone',
  weightTag: 'weight',
};

describe('ring zone and weight tags', () => {
  it('the view builds the table from the members’ tags, the same whatever order they arrive in', () => {
    const members = [
      member('a', { zone: 'z1', weight: '2' }),
      member('b', { zone: 'z1' }),
      member('c', { zone: 'z2', weight: 'heavy' }),
      member('d', { zone: 'z2', weight: '0.5' }),
      member('e'),
    ];
    const v1 = new RingView('a', options, compileWatchTags(undefined));
    const v2 = new RingView('a', options, compileWatchTags(undefined));
    for (const m of members) v1.apply(m);
    for (const m of [...members].reverse()) v2.apply(m);
    const expected = createPartitionTable({
      members: ['a', 'b', 'c', 'd', 'e'],
      partitions: 128,
      replicas: 2,
      zones: { a: 'z1', b: 'z1', c: 'z2', d: 'z2' },
      weights: { a: 2, d: 0.5 },
    });
    assert.equal(v1.table.checksum, expected.checksum);
    assert.equal(v2.table.checksum, expected.checksum);
    assert.deepEqual(v1.table.zones, expected.zones);
  });

  it('a zone or weight tag change rebuilds the table with exact changes; an unrelated tag change is a no-op', () => {
    const view = new RingView('a', options, compileWatchTags(undefined));
    for (const m of [member('a', { zone: 'z1' }), member('b', { zone: 'z1' }), member('c', { zone: 'z2' }), member('d', { zone: 'z2' })])
      view.apply(m);
    assert.deepEqual(view.apply(member('c', { zone: 'z2', version: '7' })), []);
    const before = view.table;
    const changes = view.apply(member('b', { zone: 'z2' }));
    assert.notEqual(view.table.checksum, before.checksum);
    const held = ownershipOf(before, 'a');
    for (const c of changes) {
      if (c.type === 'release') held.delete(c.partition);
      else held.set(c.partition, c.replica);
    }
    assert.deepEqual(held, ownershipOf(view.table, 'a'));
    const weighted = view.apply(member('a', { zone: 'z1', weight: '3' }));
    assert.ok(weighted.length > 0 && weighted.every((c) => c.type !== 'release'), 'a heavier a only gains');
  });

  it('tag values: a bad weight is 1, an empty or overlong zone is a zone of its own', () => {
    for (const bad of [undefined, '', '0', '-1', 'x', '1e7', 'NaN', 'Infinity', ' 2']) assert.equal(weightFromTag(bad), 1, String(bad));
    assert.equal(weightFromTag('2.5'), 2.5);
    assert.equal(zoneFromTag(''), undefined);
    assert.equal(zoneFromTag('z'.repeat(257)), undefined);
    assert.equal(zoneFromTag('eu-1'), 'eu-1');
  });

  it('createRing refuses an empty zoneTag and placement jump with a zone tag, naming the option', async () => {
    await assert.rejects(createRing({ name: 'x', partitions: 8, zoneTag: '' }), {
      code: 'ERR_INVALID_OPTION',
      message: /^zoneTag must be a non-empty tag name/,
    });
    await assert.rejects(createRing({ name: 'x', partitions: 8, weightTag: 'w', placement: 'jump' }), {
      code: 'ERR_INVALID_OPTION',
      message: /^placement must be 'rendezvous'/,
    });
  });
});
