// Protocol-version checks: a single node's advertised versions, and memberlist's verifyProtocol
// over a push/pull and our own members.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeStateValue, PushNodeState } from '../../src/gossip/codec/messages.js';
import { ALIVE, DEAD, MemberTable, endpointOf } from '../../src/gossip/members.js';
import { DEFAULT_VSN, sensibleVersions, versionsCompatible } from '../../src/gossip/protocol-versions.js';
import { seededRandom } from '../../src/sim/prng.js';

const v = (...b: number[]) => Uint8Array.from(b);

function ours(...vsns: Uint8Array[]): MemberTable {
  const t = new MemberTable();
  const random = seededRandom(1);
  vsns.forEach((vsn, i) => {
    const slot = t.add(`local${i}`, endpointOf(v(10, 0, 0, i + 1), 7946, v(), vsn), 0, random);
    t.setState(slot, ALIVE, 1, 0);
  });
  return t;
}

function remote(vsn: Uint8Array, state: NodeStateValue = ALIVE): PushNodeState {
  return { name: `r${vsn.join('')}`, addr: v(10, 0, 1, 1), port: 7946, meta: v(), incarnation: 1, state, vsn };
}

describe('sensibleVersions', () => {
  const cases: [string, Uint8Array, boolean][] = [
    ['Serf 0.9.4 defaults', DEFAULT_VSN, true],
    ['a single protocol version', v(2, 2, 2, 4, 4, 4), true],
    ['min above max', v(3, 2, 2, 2, 5, 5), false],
    ['current below its range', v(2, 5, 1, 2, 5, 5), false],
    ['current above its range', v(1, 5, 6, 2, 5, 5), false],
    ['zero protocol min', v(0, 5, 2, 2, 5, 5), false],
    ['zero delegate range', v(1, 5, 2, 0, 0, 0), false],
    ['delegate current outside its range', v(1, 5, 2, 2, 4, 5), false],
  ];
  for (const [name, vsn, ok] of cases) it(`${name}: ${ok}`, () => assert.equal(sensibleVersions(vsn), ok));
});

describe('versionsCompatible (verifyProtocol)', () => {
  it('nodes that all speak inside every range are compatible', () => {
    assert.equal(versionsCompatible([remote(v(1, 5, 3, 2, 5, 4))], ours(DEFAULT_VSN, v(2, 4, 2, 2, 5, 5))), true);
  });

  it('a remote speaking below what one of ours needs is not', () => {
    assert.equal(versionsCompatible([remote(v(1, 5, 1, 2, 5, 5))], ours(v(2, 5, 2, 2, 5, 5))), false);
  });

  it('one of ours speaking above what a remote understands is not', () => {
    assert.equal(versionsCompatible([remote(v(1, 2, 2, 2, 5, 5))], ours(v(1, 5, 3, 2, 5, 5))), false);
  });

  it('delegate versions are checked too, both ends of the range', () => {
    assert.equal(versionsCompatible([remote(v(1, 5, 2, 2, 5, 3))], ours(v(1, 5, 2, 4, 5, 4))), false, 'theirs below our delegate min');
    assert.equal(versionsCompatible([remote(v(1, 5, 2, 2, 3, 3))], ours(v(1, 5, 2, 2, 5, 4))), false, 'ours above their delegate max');
  });

  it('only alive members count: an odd dead record (theirs or ours) does not block anti-entropy', () => {
    assert.equal(versionsCompatible([remote(v(9, 9, 9, 9, 9, 9), DEAD)], ours(DEFAULT_VSN)), true);
    const t = ours(DEFAULT_VSN, v(9, 9, 9, 9, 9, 9));
    t.setState(t.slotOf('local1'), DEAD, 1, 0);
    assert.equal(versionsCompatible([remote(DEFAULT_VSN)], t), true);
  });

  it('an alive member without a version is skipped; a short one fails', () => {
    assert.equal(versionsCompatible([remote(v())], ours(DEFAULT_VSN)), true);
    assert.equal(versionsCompatible([remote(v(1, 5, 2))], ours(DEFAULT_VSN)), false);
  });
});
