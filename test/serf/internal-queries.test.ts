// Serf's internal queries through the SerfMachine (src/serf/internal-queries.ts): the key
// operations on the keyring, and the _serf_conflict vote when another node claims our name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeKeyResponse, encodeConflictResponse, encodeKeyRequest } from '../../src/serf/internal-messages.js';
import { encodeQueryResponse } from '../../src/serf/messages.js';
import { type KeyringControl, SerfMachine } from '../../src/serf/serf-machine.js';
import { alivePacket, machine, of, serfPacket, text } from './helpers.js';

describe('SerfMachine', () => {
  it('key-management queries drive the keyring and answer as Serf does', () => {
    const keys = ['k1'];
    const keyring: KeyringControl = {
      install: (k) => void keys.push(Buffer.from(k).toString()),
      use: (k) => {
        const i = keys.indexOf(Buffer.from(k).toString());
        if (i < 0) throw new Error('not installed');
        keys.unshift(...keys.splice(i, 1));
      },
      remove: () => undefined,
      list: () => ({ keys: [...keys], primary: keys[0]! }),
    };
    const answer = (m: SerfMachine, name: string, key: string) => {
      const ltime = m.query(name, encodeKeyRequest(text(key)), {}, 0);
      return decodeKeyResponse(of(m.drain(), 'queryResponse').find((r) => r.ltime === ltime)!.payload);
    };
    const m = machine(keyring);
    assert.deepEqual(answer(m, '_serf_install-key', 'k2'), { result: true, message: '', keys: ['k1', 'k2'], primaryKey: 'k1' });
    assert.deepEqual(answer(m, '_serf_use-key', 'k2').primaryKey, 'k2');
    assert.deepEqual(answer(m, '_serf_use-key', 'nope'), { result: false, message: 'not installed', keys: [], primaryKey: '' });
    assert.equal(answer(machine(), '_serf_list-keys', '').message, 'No keyring to modify (encryption not enabled)');
    // 60 keys of 44 base64 characters do not fit a 1 024-byte response: cut, and said so.
    keys.splice(0, keys.length, ...Array.from({ length: 60 }, (_, i) => Buffer.alloc(32, i).toString('base64')));
    const listed = answer(m, '_serf_list-keys', '');
    assert.ok(listed.keys.length > 10 && listed.keys.length < 60, `${listed.keys.length} keys`);
    assert.deepEqual(listed.keys, keys.slice(0, listed.keys.length), 'the first ones');
    assert.equal(listed.message, `truncated key list response, showing first ${listed.keys.length} of 60 keys`);
    assert.equal(listed.result, true);
  });

  it('another node claiming our name starts a _serf_conflict vote; losing it asks the node to shut down', () => {
    const m = machine();
    m.handlePacket({ host: '10.0.0.2', port: 7946 }, alivePacket('b', 2), 0);
    m.handlePacket({ host: '10.0.0.3', port: 7946 }, alivePacket('c', 3), 0);
    m.drain();
    const started = m.queryClock.time;
    m.handlePacket({ host: '10.0.0.9', port: 7946 }, alivePacket('me', 9), 0);
    const effects = m.drain();
    assert.equal(of(effects, 'conflict').length, 1);
    assert.equal(m.queryClock.time, started + 1n, 'a query went out');
    const id = Math.floor(0.5 * 2 ** 31);
    // Both peers vouch for the other address.
    for (const [from, ip] of [
      ['b', 2],
      ['c', 3],
    ] as const) {
      const payload = encodeConflictResponse({
        name: 'me',
        addr: Uint8Array.from([10, 0, 0, 9]),
        port: 7946,
        tags: {},
        status: 1,
        vsn: new Uint8Array(6),
      });
      const response = encodeQueryResponse({ ltime: started, id, from, flags: 0, payload });
      m.handlePacket({ host: `10.0.0.${ip}`, port: 7946 }, serfPacket(response), 10);
    }
    m.handleTimer({ kind: 'queryTimeout', ltime: started }, 5000);
    assert.deepEqual(
      of(m.drain(), 'nameConflictLost').map((e) => [e.responses, e.matching]),
      [[2, 0]],
    );
  });
});
