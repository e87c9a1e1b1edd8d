// The Serf RPC server in-process: the bytes of responses and records against those a real serf
// 0.9.4 agent sent for the same things (captured from its RPC port), and the plumbing of the
// commands that reach GossipNode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GoRpcWriter, objectEnd } from '../../src/cli/rpc/codec.js';
import { createAgentLogger } from '../../src/cli/rpc/log-hub.js';
import {
  filterAdmits,
  parseEventFilter,
  writeHeader,
  writeKeyResponse,
  writeLogRecord,
  writeMember,
  writeMemberEvent,
  writeNoCoordinate,
  writeQueryEvent,
  writeQueryRecord,
  writeUserEvent,
} from '../../src/cli/rpc/protocol.js';
import { decodeBase64 } from '../../src/cli/rpc/keys.js';
import { DropLogLimit } from '../../src/cli/drop-log-limit.js';
import { RpcServer } from '../../src/cli/rpc/server.js';
import { GossipNode, type Member } from '../../src/io/gossip-node.js';
import { waitFor } from '../helpers/processes.js';
import { SerfRpcClient } from '../helpers/serf-rpc-client.js';

const hex = (write: (w: GoRpcWriter) => void) => {
  const w = new GoRpcWriter();
  write(w);
  return Buffer.from(w.finish()).toString('hex');
};

const p2: Member = {
  name: 'p2',
  host: '127.0.0.1',
  port: 17947,
  tags: { role: 'web' },
  status: 'alive',
  protocol: { min: 1, max: 5, cur: 2 },
  delegate: { min: 2, max: 5, cur: 5 },
  incarnation: 1,
  suspect: false,
};

describe('Serf RPC encodings, byte for byte as serf 0.9.4 sends them', () => {
  it('headers, members, member events, user events, queries, logs, keys, coordinates', () => {
    assert.equal(
      hex((w) => writeHeader(w, 1n, '')),
      '82a54572726f72a0a353657101',
    );
    assert.equal(
      hex((w) => writeHeader(w, 2n, 'Handshake already performed')),
      '82a54572726f72bb48616e647368616b6520616c726561647920706572666f726d6564a353657102',
    );
    const member =
      '8ba441646472c4047f000001ab44656c656761746543757205ab44656c65676174654d617805ab44656c65676174654d696e02a44e616d65a27032a4506f7274cd461bab50726f746f636f6c43757202ab50726f746f636f6c4d617805ab50726f746f636f6c4d696e01a6537461747573a5616c697665a45461677381a4726f6c65a3776562';
    assert.equal(
      hex((w) => writeMember(w, p2)),
      member,
    );
    assert.equal(
      hex((w) => writeMemberEvent(w, 'member-update', [p2])),
      `82a54576656e74ad6d656d6265722d757064617465a74d656d6265727391${member}`,
    );
    assert.equal(
      hex((w) => writeUserEvent(w, { ltime: 1n, name: 'ev1', payload: Buffer.from('hello'), coalesce: true })),
      '85a8436f616c65736365c3a54576656e74a475736572a54c54696d6501a44e616d65a3657631a75061796c6f6164c40568656c6c6f',
    );
    assert.equal(
      hex((w) => writeQueryEvent(w, 1n, { ltime: 1n, name: 'q1', payload: Buffer.from('pp') })),
      '85a54576656e74a57175657279a2494401a54c54696d6501a44e616d65a27131a75061796c6f6164c4027070',
    );
    assert.equal(
      hex((w) => writeQueryRecord(w, { type: 'ack', from: 'p1' })),
      '83a446726f6da27031a75061796c6f6164c0a454797065a361636b',
    );
    assert.equal(
      hex((w) => writeQueryRecord(w, null)),
      '83a446726f6da0a75061796c6f6164c0a454797065a4646f6e65',
    );
    // A string of 32 to 255 bytes is str8 here (go-msgpack's WriteExt), unlike on the gossip wire.
    assert.equal(
      hex((w) => writeLogRecord(w, '2026/11/29 02:12:24 [INFO] agent: Serf agent starting')),
      '81a34c6f67d935323032362f31312f32392030323a31323a3234205b494e464f5d206167656e743a2053657266206167656e74207374617274696e67',
    );
    assert.equal(
      hex((w) =>
        writeKeyResponse(w, {
          keys: new Map(),
          messages: new Map([
            ['p1', 'Keyring is empty (encryption not enabled)'],
            ['p2', 'Keyring is empty (encryption not enabled)'],
          ]),
          numErr: 2,
          numNodes: 2,
          numResp: 2,
        }),
      ),
      '85a44b65797380a84d6573736167657382a27031d9294b657972696e6720697320656d7074792028656e6372797074696f6e206e6f7420656e61626c656429a27032d9294b657972696e6720697320656d7074792028656e6372797074696f6e206e6f7420656e61626c656429a64e756d45727202a84e756d4e6f64657302a74e756d5265737002',
    );
    assert.equal(
      hex(writeNoCoordinate),
      '82a5436f6f726484aa41646a7573746d656e74cb0000000000000000a54572726f72cb0000000000000000a6486569676874cb0000000000000000a3566563c0a24f6bc2',
    );
  });

  it('stream filters as Serf parses them', () => {
    assert.deepEqual(parseEventFilter(''), [{ event: '*', name: '' }]);
    assert.deepEqual(parseEventFilter('member-join,user:deploy,query'), [
      { event: 'member-join', name: '' },
      { event: 'user', name: 'deploy' },
      { event: 'query', name: '' },
    ]);
    assert.equal(parseEventFilter('member-join,bogus'), null);
    assert.equal(parseEventFilter('user-event'), null);
    const f = parseEventFilter('user:deploy,member-failed')!;
    assert.ok(filterAdmits(f, 'user', 'deploy'));
    assert.ok(!filterAdmits(f, 'user', 'other'));
    assert.ok(filterAdmits(f, 'member-failed', ''));
    assert.ok(!filterAdmits(f, 'member-join', ''));
    assert.ok(filterAdmits(parseEventFilter('*')!, 'query', 'x'));
  });

  it("base64 keys fail with Go's messages", () => {
    const cases: [string, string][] = [
      ['garbage', 'illegal base64 data at input byte 4'],
      ['ab$d', 'illegal base64 data at input byte 2'],
      ['a===', 'illegal base64 data at input byte 1'],
      ['abcd=', 'illegal base64 data at input byte 4'],
      ['abc', 'illegal base64 data at input byte 0'],
      ['ab=c', 'illegal base64 data at input byte 2'],
      ['ab=', 'illegal base64 data at input byte 3'],
    ];
    for (const [key, error] of cases) assert.equal(decodeBase64(key), error, key);
    assert.deepEqual(decodeBase64('YWJj'), new Uint8Array([0x61, 0x62, 0x63]));
    assert.deepEqual(decodeBase64('ab=='), new Uint8Array([0x69]));
  });

  it('objectEnd waits for the rest of an object and refuses what is over budget from its header', () => {
    const w = new GoRpcWriter();
    w.mapHeader(2).text('Command').text('members').text('Seq').int(7);
    const bytes = w.finish();
    for (let i = 0; i < bytes.length; i++) assert.equal(objectEnd(bytes.subarray(0, i), 0, 1024, 100), null, `prefix of ${i}`);
    assert.equal(objectEnd(bytes, 0, 1024, 100), bytes.length);
    assert.throws(() => objectEnd(Uint8Array.from([0xc6, 0x00, 0x10, 0x00, 0x01]), 0, 1 << 20, 100), /larger than 1048576 bytes/);
    assert.throws(() => objectEnd(Uint8Array.from([0xdc, 0x01, 0x00]), 0, 1 << 20, 100), /more than 100 elements/);
    assert.throws(() => objectEnd(Uint8Array.from([0xc1]), 0, 1024, 100), /unsupported msgpack type 0xc1/);
  });
});

describe('Serf RPC commands that reach the node', () => {
  it('force-leave passes Node and Prune to GossipNode.forceLeave and answers without a body', async () => {
    const { logger, logs } = createAgentLogger('silent');
    const node = await GossipNode.create({ name: 'fl', bind: '127.0.0.1:0', logger });
    const calls: [string, { prune?: boolean } | undefined][] = [];
    // Stands in for (or overrides) GossipNode.forceLeave, whose signature this follows.
    Object.assign(node, {
      forceLeave: async (name: string, options?: { prune?: boolean }) => {
        calls.push([name, options]);
        if (name === 'boom') throw new Error('timed out broadcasting node removal');
        return name === 'known';
      },
    });
    const server = await RpcServer.listen({ node, host: '127.0.0.1', port: 0, logger, logs });
    try {
      const c = await SerfRpcClient.connect(server.address);
      assert.deepEqual(await c.request('force-leave', { Node: 'known', Prune: false }), { error: '' });
      assert.deepEqual(await c.request('force-leave', { Node: 'gone', Prune: true }), { error: '' });
      assert.deepEqual(await c.request('force-leave', { Node: 'boom' }), { error: 'timed out broadcasting node removal' });
      assert.deepEqual(calls, [
        ['known', { prune: false }],
        ['gone', { prune: true }],
        ['boom', { prune: false }],
      ]);
      // No body followed: the next response is read as a header.
      assert.equal((await c.request('members')).error, '');
      c.close();
    } finally {
      await server.close();
      await node.close();
    }
  });

  it('tags, event, members-filtered and stats on a lone node', async () => {
    const { logger, logs } = createAgentLogger('silent');
    const node = await GossipNode.create({ name: 'lone', bind: '127.0.0.1:0', logger, tags: { role: 'db', zone: 'a' } });
    const server = await RpcServer.listen({ node, host: '127.0.0.1', port: 0, logger, logs });
    try {
      const c = await SerfRpcClient.connect(server.address);
      const events: unknown[] = [];
      await c.subscribe('stream', { Type: 'member-update,user' }, (r) => events.push(r));
      assert.deepEqual(await c.request('tags', { Tags: { tier: '1' }, DeleteTags: ['zone'] }), { error: '' });
      assert.deepEqual(node.tags, { role: 'db', tier: '1' });
      assert.deepEqual(await c.request('event', { Name: 'hello', Payload: { bin: Buffer.from('w') }, Coalesce: false }), { error: '' });
      const filtered = await c.request('members-filtered', { Tags: { role: 'd.' }, Status: 'al.*', Name: 'lo' });
      assert.deepEqual((filtered.body as { Members: unknown[] }).Members, [], 'Name is anchored: lo does not match lone');
      const matched = await c.request('members-filtered', { Tags: { role: 'd.' }, Status: 'al.*', Name: 'lo.*' });
      assert.equal((matched.body as { Members: { Name: string }[] }).Members[0]!.Name, 'lone');
      const stats = (await c.request('stats')).body as Record<string, Record<string, string>>;
      assert.deepEqual(stats['agent'], { name: 'lone' });
      assert.deepEqual(stats['tags'], { role: 'db', tier: '1' });
      assert.equal(stats['serf']!['members'], '1');
      assert.equal(stats['serf']!['encrypted'], 'false');
      await waitFor('the user event', () => events.length >= 1, 15_000, 20);
      const { LTime: _, ...record } = events[0] as Record<string, unknown>;
      assert.deepEqual(record, { Coalesce: false, Event: 'user', Name: 'hello', Payload: 'w' });
      c.close();
    } finally {
      await server.close();
      await node.close();
    }
  });
});

describe('the log of dropped RPC clients', () => {
  it('logs at most the limit of each kind a second, counts the rest into the next line of that kind', () => {
    const limit = new DropLogLimit(3);
    const admitted = Array.from({ length: 5 }, () => limit.admit('malformed', 1_000.5));
    assert.deepEqual(admitted, [{ unloggedBefore: 0 }, { unloggedBefore: 0 }, { unloggedBefore: 0 }, null, null]);
    assert.deepEqual(limit.admit('deadline', 1_999), { unloggedBefore: 0 }, 'a flood of one kind does not silence another');
    assert.deepEqual(limit.admit('malformed', 2_000), { unloggedBefore: 2 });
    assert.deepEqual(limit.admit('malformed', 2_001), { unloggedBefore: 0 });
  });

  it('a flood of malformed clients leaves the drops of other kinds logged', async () => {
    const { logger, logs } = createAgentLogger('silent');
    const node = await GossipNode.create({ name: 'flooded', bind: '127.0.0.1:0', logger });
    const server = await RpcServer.listen({ node, host: '127.0.0.1', port: 0, logger, logs, budgets: { maxAuthFailures: 1 } });
    const seen: string[] = [];
    const unsubscribe = logs.subscribe('WARN', (line) => seen.push(line));
    try {
      for (let i = 0; i < 30; i++) {
        const c = await SerfRpcClient.connect(server.address);
        c.send('members-filtered', c.nextSeq(), 'not a map');
        await c.closed;
      }
      const c = await SerfRpcClient.connect(server.address, { handshake: false });
      assert.equal((await c.request('handshake', { Version: 1 })).error, '');
      assert.equal((await c.request('auth', { AuthKey: 'wrong' })).error, 'Invalid authentication token');
      await c.closed;
      await waitFor(
        'the auth drop is logged',
        () => seen.some((l) => /RPC client dropped .*too many failed auth attempts/.test(l)),
        15_000,
        20,
      );
      const malformed = seen.filter((l) => /RPC client dropped .*malformed request/.test(l));
      const unlogged = malformed.reduce((n, l) => n + Number(/alsoDroppedUnlogged=(\d+)/.exec(l)?.[1] ?? 0), 0);
      assert.ok(malformed.length >= 10 && malformed.length + unlogged <= 30, `${malformed.length} lines, ${unlogged} reported unlogged`);
    } finally {
      unsubscribe();
      await server.close();
      await node.close();
    }
  });
});
