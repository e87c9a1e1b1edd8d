import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { GossipNode } from '../../src/io/gossip-node.js';
import { ENCRYPTION_OVERHEAD_BYTES, Keyring } from '../../src/io/keyring.js';
import { waitFor } from '../helpers/processes.js';

const newKey = (bytes = 32) => randomBytes(bytes).toString('base64');

describe('keyring', () => {
  it('seals with the primary ([1][nonce][ciphertext][tag]) and opens with any key in the ring', () => {
    const [a, b] = [newKey(), newKey(16)];
    const ring = new Keyring([a, b]);
    const sealed = ring.encrypt(Uint8Array.from([1, 2, 3]));
    assert.equal(sealed[0], 1);
    assert.equal(sealed.length, 3 + ENCRYPTION_OVERHEAD_BYTES);
    assert.deepEqual(Array.from(new Keyring([b, a]).decrypt(sealed)!), [1, 2, 3]);
    assert.equal(new Keyring([b]).decrypt(sealed), null, 'a ring without the key cannot open it');
    assert.equal(ring.decrypt(sealed.subarray(0, 20)), null, 'truncated');
    const tampered = Uint8Array.from(sealed);
    tampered[14]! ^= 1;
    assert.equal(ring.decrypt(tampered), null, 'tampered');
    const aad = Uint8Array.from([10, 0, 0, 0, 32]);
    assert.equal(ring.decrypt(ring.encrypt(Uint8Array.from([9]), aad), Uint8Array.from([10, 0, 0, 0, 33])), null, 'wrong additional data');
  });

  it('adds, makes primary and removes keys; refuses bad keys and removing the primary', () => {
    const [a, b] = [newKey(), newKey(24)];
    const ring = new Keyring([a]);
    ring.add(b);
    ring.add(b);
    assert.deepEqual(ring.keys, [a, b]);
    ring.use(b);
    assert.equal(ring.primary, b);
    assert.throws(() => ring.remove(b), { code: 'ERR_INVALID_OPTION' });
    ring.remove(a);
    assert.deepEqual(ring.keys, [b]);
    assert.throws(() => new Keyring(['not base64!']), { code: 'ERR_INVALID_OPTION', message: /^encrypt must be a base64 key/ });
    assert.throws(() => new Keyring([randomBytes(20).toString('base64')]), { message: /^encrypt must be a key of 16, 24 or 32 bytes/ });
    assert.throws(() => ring.use(a), { message: /^key must be a key already in the keyring/ });
  });

  it('rotates the key of a running cluster without a restart and without losing anyone', async () => {
    const [oldKey, nextKey] = [newKey(), newKey()];
    const nodes = await Promise.all(
      ['k1', 'k2', 'k3'].map((name) => GossipNode.create({ name, bind: '127.0.0.1:0', profile: 'local', encrypt: oldKey })),
    );
    try {
      await Promise.all(nodes.slice(1).map((n) => n.join([`127.0.0.1:${nodes[0]!.address.port}`])));
      const allAlive = () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 3);
      await waitFor('converged on the old key', allAlive, 10_000, 20);
      for (const n of nodes) n.keyring!.add(nextKey); // 1. everyone accepts the new key
      for (const n of nodes) n.keyring!.use(nextKey); // 2. everyone sends with it
      for (const n of nodes) n.keyring!.remove(oldKey); // 3. the old key is gone
      const late = await GossipNode.create({ name: 'k4', bind: '127.0.0.1:0', profile: 'local', encrypt: nextKey });
      nodes.push(late);
      await late.join([`127.0.0.1:${nodes[1]!.address.port}`]);
      await waitFor(
        'a newcomer with only the new key converges with all',
        () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 4),
        10_000,
        20,
      );
      const failed = nodes.flatMap((n) => n.members().filter((m) => m.status !== 'alive'));
      assert.deepEqual(failed, []);
      const stale = await GossipNode.create({ name: 'k5', bind: '127.0.0.1:0', profile: 'local', encrypt: oldKey });
      nodes.push(stale);
      await assert.rejects(
        stale.join([`127.0.0.1:${nodes[0]!.address.port}`]),
        { code: 'ERR_JOIN_FAILED' },
        'the old key no longer gets in',
      );
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});
