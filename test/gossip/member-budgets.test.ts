// What forged members may make a node hold (docs/budgets.md "Members"): at most maxMembers
// members, metas of at most 512 bytes (memberlist's MetaMaxSize), names of at most 512 characters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAlive } from '../../src/gossip/codec/messages.js';
import { packPacket } from '../../src/gossip/codec/packet.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { GossipMachine, MAX_META_BYTES, MAX_NAME_CHARS } from '../../src/gossip/machine.js';
import { seededRandom } from '../../src/sim/prng.js';

const VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);
const PEER = { host: '10.0.0.9', port: 7946 };

function machine(maxMembers?: number): GossipMachine {
  const config = resolveGossipConfig('lan', maxMembers === undefined ? {} : { maxMembers });
  const m = new GossipMachine({ config, local: { name: 'me', host: '10.0.0.1', port: 7946 }, random: seededRandom(1) });
  m.start(0);
  m.drain();
  return m;
}

const alive = (node: string, meta = Uint8Array.from([0xff, 0x80])) =>
  encodeAlive({ node, incarnation: 1, addr: Uint8Array.from([10, 0, 0, 2]), port: 7946, meta, vsn: VSN });

describe('member budgets', () => {
  it('forged alives for new names stop at maxMembers; the rest are dropped and counted', () => {
    const m = machine(1000);
    // 40 forged members per datagram, 3 000 in all.
    for (let i = 0; i < 3000; i += 40) {
      const messages = Array.from({ length: 40 }, (_, j) => alive(`forged-${i + j}`));
      m.handlePacket(PEER, packPacket(messages, { compress: false, crc: false }), 1000);
      m.drain();
    }
    assert.equal(m.members.size, 1000);
    assert.equal(m.counters.drops['memberLimit'], 2001);
  });

  it('the default is 16 384 members', () => {
    assert.equal(resolveGossipConfig('lan').maxMembers, 16_384);
    assert.throws(() => resolveGossipConfig('lan', { maxMembers: 0 }), /maxMembers must be an integer in \[1, 1048576\]/);
  });

  it('a meta over 512 bytes and a name over 512 characters are dropped', () => {
    const m = machine();
    m.handlePacket(PEER, alive('big-meta', new Uint8Array(MAX_META_BYTES + 1).fill(0x61)), 1000);
    m.handlePacket(PEER, alive('x'.repeat(MAX_NAME_CHARS + 1)), 1000);
    m.handlePacket(PEER, alive('just-fits', new Uint8Array(MAX_META_BYTES).fill(0x61)), 1000);
    m.drain();
    assert.deepEqual([...m.members.slots()].map((s) => m.members.name(s)).sort(), ['just-fits', 'me']);
    assert.equal(m.counters.drops['metaTooLarge'], 1);
    assert.equal(m.counters.drops['nameTooLong'], 1);
  });
});
