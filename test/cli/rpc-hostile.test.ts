// Hostile and broken clients of the agent's Serf RPC (--rpc-addr): each gets Serf's error string
// or is disconnected, within the budgets of src/cli/rpc/server.ts, and the agent keeps serving.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { type Socket, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GoRpcWriter } from '../../src/cli/rpc/codec.js';
import { createAgentLogger } from '../../src/cli/rpc/log-hub.js';
import { RpcServer } from '../../src/cli/rpc/server.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { Processes, freePort, serfAvailable, startAgent, waitFor, type Agent } from '../helpers/processes.js';
import { SerfRpcClient, encode } from '../helpers/serf-rpc-client.js';

const AUTH = 'hostile-test-token';
const serfHere = serfAvailable();

function rawConnect(addr: string): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<void> }> {
  const i = addr.lastIndexOf(':');
  const socket = connect(Number(addr.slice(i + 1)), addr.slice(0, i));
  let data = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

const frame = (...objects: Parameters<typeof encode>[1][]): Buffer => {
  const w = new GoRpcWriter();
  for (const o of objects) encode(w, o);
  return Buffer.from(w.finish());
};

describe('Serf RPC: hostile clients', () => {
  const procs = new Processes();
  let agent: Agent;
  let rpc: string;

  before(async () => {
    rpc = `127.0.0.1:${await freePort()}`;
    agent = await startAgent(procs, 'hostile', ['--rpc-addr', rpc, '--rpc-auth', AUTH]);
  });
  after(() => procs.stopAll());

  /** Members through a well-behaved client: the real serf CLI where installed, else ours. */
  async function stillServes(): Promise<void> {
    if (serfHere) {
      const out = await new Promise<string>((resolve, reject) =>
        execFile('serf', ['members', `-rpc-addr=${rpc}`, `-rpc-auth=${AUTH}`], { encoding: 'utf8', timeout: 30_000 }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      assert.match(out, /^hostile\s+127\.0\.0\.1:\d+\s+alive\s*\n$/);
      return;
    }
    const c = await SerfRpcClient.connect(rpc, { authKey: AUTH });
    const r = await c.request('members');
    assert.equal((r.body as { Members: { Name: string }[] }).Members[0]!.Name, 'hostile');
    c.close();
  }

  const dropped = (reason: RegExp) =>
    waitFor(
      `the agent logs a drop: ${reason}`,
      () =>
        agent
          .stderr()
          .split('\n')
          .some((l) => l.includes('RPC client dropped') && reason.test(l)),
      15_000,
    );

  it('answers protocol errors with Serf strings', async () => {
    // Stalled connections first: they run out their deadlines while the rest goes on.
    const silent = await rawConnect(rpc);
    const halfRequest = await SerfRpcClient.connect(rpc, { authKey: AUTH });
    halfRequest.socket.write(frame({ Command: 'members', Seq: 9 }).subarray(0, 5));
    const headerOnly = await SerfRpcClient.connect(rpc, { authKey: AUTH });
    headerOnly.send('members-filtered', headerOnly.nextSeq()); // and never its body

    const before = await rawConnect(rpc);
    before.socket.write(frame({ Command: 'members', Seq: 7 }));
    await before.closed;
    assert.deepEqual(before.received(), Buffer.from(frame({ Error: 'Handshake required', Seq: 7 })));

    const c = await SerfRpcClient.connect(rpc);
    assert.deepEqual(await c.request('handshake', { Version: 1 }), { error: 'Handshake already performed' });
    assert.deepEqual(await c.request('members'), { error: 'Authentication required' });
    assert.deepEqual(await c.request('stream', { Type: '*' }), { error: 'Authentication required' });
    assert.deepEqual(await c.request('auth', { AuthKey: 'wrong' }), { error: 'Invalid authentication token' });
    assert.deepEqual(await c.request('auth', { AuthKey: AUTH }), { error: '' });
    const members = await c.request('members');
    assert.equal(members.error, '');
    assert.equal((members.body as { Members: { Name: string; Status: string }[] }).Members[0]!.Name, 'hostile');
    assert.deepEqual(await c.request('stream', { Type: 'member-join,bogus' }), { error: 'Invalid event filter' });
    const first = await c.subscribe('stream', { Type: 'user:x,query' }, () => {});
    assert.equal(first.error, '');
    assert.deepEqual(await c.subscribe('stream', { Type: '*' }, () => {}, first.seq), {
      error: 'Stream with given sequence exists',
      seq: first.seq,
    });
    assert.deepEqual(await c.request('respond', { ID: 12345, Payload: { bin: Buffer.from('x') } }), {
      error: 'No pending queries matching ID',
    });
    assert.deepEqual(await c.request('monitor', { LogLevel: 'error' }), { error: 'Unknown log level: ERROR' });
    const mon = await c.subscribe('monitor', { LogLevel: 'warn' }, () => {});
    assert.equal(mon.error, '');
    assert.deepEqual(await c.request('monitor', { LogLevel: 'debug' }), { error: 'Monitor already exists' });
    assert.deepEqual(await c.request('stop', { Stop: 999 }), { error: '' });
    assert.deepEqual(await c.request('stop', { Stop: mon.seq }), { error: '' });
    assert.deepEqual(await c.request('query', { Name: '_serf_list-keys', Timeout: 1_000_000_000 }), {
      error: "Queries cannot contain the '_serf_' prefix",
    });
    assert.match(
      (await c.request('event', { Name: 'big', Payload: { bin: new Uint8Array(2000) }, Coalesce: true })).error,
      /at most 512 bytes/,
    );
    const coord = await c.request('get-coordinate', { Node: 'hostile' });
    assert.deepEqual(coord, { error: '', body: { Coord: { Adjustment: 0, Error: 0, Height: 0, Vec: null }, Ok: false } });
    const filtered = await c.request('members-filtered', { Tags: { x: '(a+)+$' }, Status: '', Name: '' });
    assert.match(filtered.error, /^Failed to compile regex/);
    assert.deepEqual(filtered.body, { Members: [] });
    // An unknown command: Serf's string, then the connection ends (a body of unknown shape may follow).
    const unknown = await c.request('no-such-command', { Whatever: 1 });
    assert.deepEqual(unknown, { error: 'Unsupported command' });
    await c.closed;

    const v2 = await SerfRpcClient.connect(rpc, { handshake: false });
    assert.deepEqual(await v2.request('handshake', { Version: 2 }), { error: 'Unsupported IPC version' });
    v2.close();

    // The stalled ones: the silent one never shook hands, the other never finished its request.
    await Promise.all([silent.closed, halfRequest.closed, headerOnly.closed]);
    assert.equal(silent.received().length, 0);
    await dropped(/no handshake in time/);
    await dropped(/request not completed in time/);
    await stillServes();
  });

  it('disconnects malformed msgpack and frames over budget before reading them', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['0xc1, never used', Buffer.from([0xc1]), /malformed request: unsupported msgpack type 0xc1/],
      ['an ext value', Buffer.from([0xd4, 0x01, 0x00]), /malformed request/],
      ['a 4 GiB string', Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), /larger than 1048576 bytes/],
      ['a 4-billion-element array', Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]), /more than 65536 elements/],
      ['a 4-billion-entry map', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), /more than 65536 elements/],
      ['a header that is not a map', frame(42), /malformed request: request header is not a msgpack map/],
      ['a negative Seq', frame({ Command: 'members', Seq: -1 }), /malformed request: field Seq/],
    ];
    for (const [what, bytes, reason] of cases) {
      const c = await rawConnect(rpc);
      c.socket.write(frame({ Command: 'handshake', Seq: 1 }, { Version: 1 }));
      c.socket.write(bytes);
      await c.closed;
      await dropped(reason);
      assert.ok(c.received().equals(Buffer.from(frame({ Error: '', Seq: 1 }))), `${what}: only the handshake was answered`);
    }
    // A body of the wrong shape (after auth): Serf's decoder fails and drops the client too.
    const c = await SerfRpcClient.connect(rpc, { authKey: AUTH });
    c.send('members-filtered', c.nextSeq(), 'not a map');
    await c.closed;
    await dropped(/members-filtered request is not a msgpack map/);
    await stillServes();
  });

  it('drops a monitor that stops reading, with a log line, and keeps serving the others', async () => {
    // In-process, so the log can be made to outrun the client: stderr silent, monitors get all.
    const { logger, logs } = createAgentLogger('silent');
    const node = await GossipNode.create({ name: 'slow-reader', bind: '127.0.0.1:0', logger });
    const server = await RpcServer.listen({ node, host: '127.0.0.1', port: 0, logger, logs, budgets: { maxBufferedOutBytes: 64 * 1024 } });
    const seen: string[] = [];
    const unsubscribe = logs.subscribe('WARN', (line) => seen.push(line));
    try {
      const slow = await SerfRpcClient.connect(server.address);
      const mon = await slow.subscribe('monitor', { LogLevel: 'info' }, () => {});
      assert.equal(mon.error, '');
      slow.socket.pause(); // stops reading: the kernel buffers fill, then ours
      const healthy = await SerfRpcClient.connect(server.address);
      const line = 'x'.repeat(3000);
      for (let i = 0; i < 20_000 && slow.socket.readyState === 'open' && !seen.some((l) => l.includes('RPC client dropped')); i++) {
        logger.info({ i, line }, 'filler');
        if (i % 100 === 0) await new Promise((r) => setImmediate(r));
      }
      await waitFor(
        'the slow monitor is dropped and that is logged',
        () => seen.some((l) => /\[WARN\] swimring: RPC client dropped .*reason=too slow/.test(l)),
        15_000,
      );
      slow.socket.resume();
      await slow.closed;
      const r = await healthy.request('members');
      assert.equal(r.error, '');
      healthy.close();
    } finally {
      unsubscribe();
      await server.close();
      await node.close();
    }
  });

  it(`refuses connections past the bound, then serves again`, async () => {
    const open: SerfRpcClient[] = [];
    try {
      for (let i = 0; i < 64; i++) open.push(await SerfRpcClient.connect(rpc));
      const extra = await rawConnect(rpc);
      extra.socket.write(frame({ Command: 'handshake', Seq: 1 }, { Version: 1 }));
      await extra.closed;
      assert.equal(extra.received().length, 0, 'the 65th connection is closed unanswered');
      await waitFor('the refusal is logged', () => agent.stderr().includes('RPC connection refused: too many connections'), 15_000);
    } finally {
      for (const c of open) c.close();
    }
    await waitFor(
      'a new client is served once the others are gone',
      async () => {
        try {
          const c = await SerfRpcClient.connect(rpc, { authKey: AUTH });
          c.close();
          return true;
        } catch {
          return false;
        }
      },
      15_000,
    );
    await stillServes();
    assert.equal(agent.child.exitCode, null, 'the agent is still running');
  });
});
