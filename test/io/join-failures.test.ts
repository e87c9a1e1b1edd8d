// node.join says why a seed could not be joined, with a stable reason for each: refused,
// timeout, closed, encryption (three ways), protocol, name conflict, the seed's own error,
// a malformed reply, a name that does not resolve. Seed names resolve to every A and AAAA
// address (a DNS stub stands in for a Kubernetes headless Service); `retry` retries as
// serf agent -retry-join does.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { createSocket } from 'node:dgram';
import { NodeState, encodeErr, encodePushPull } from '../../src/gossip/codec/messages.js';
import { GossipNode, type GossipNodeOptions } from '../../src/io/gossip-node.js';
import { JoinError } from '../../src/io/join-error.js';
import { startDnsStub } from '../helpers/dns-stub.js';
import { FUTURE_PUSH_PULL, FakeSeeds } from '../helpers/fake-seeds.js';
import { freePort, waitFor } from '../helpers/processes.js';

/** A member only a seed's late reply knows. */
const LATE_STATE = {
  name: 'only-in-the-late-reply',
  addr: Uint8Array.from([127, 0, 0, 1]),
  port: 9,
  meta: new Uint8Array(0),
  incarnation: 1,
  state: NodeState.alive,
  vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
};
const KEY = Buffer.alloc(16, 1).toString('base64');
const OTHER_KEY = Buffer.alloc(16, 2).toString('base64');

const nodes: GossipNode[] = [];
const seeds = new FakeSeeds();
after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  seeds.closeAll();
});

async function node(name: string, options: Partial<GossipNodeOptions> = {}): Promise<GossipNode> {
  const n = await GossipNode.create({ name, bind: '127.0.0.1:0', profile: 'local', ...options });
  nodes.push(n);
  return n;
}

async function joinFailure(joiner: GossipNode, seed: string): Promise<JoinError> {
  try {
    await joiner.join([seed]);
  } catch (err) {
    assert.ok(err instanceof JoinError, String(err));
    assert.equal(err.code, 'ERR_JOIN_FAILED');
    assert.equal(err.failures.length, 1);
    return err;
  }
  assert.fail(`joining ${seed} succeeded`);
}

describe('node.join: why a seed could not be joined', () => {
  it('nothing listening: refused; a seed that never answers: timeout; one that hangs up: closed', async () => {
    const joiner = await node('j-net', { gossip: { tcpTimeoutMs: 300 } });
    const refused = await joinFailure(joiner, `127.0.0.1:${await freePort()}`);
    assert.equal(refused.failures[0]!.reason, 'refused');
    assert.match(refused.message, /^could not join any seed: 127\.0\.0\.1:\d+: connection refused/);
    const silent = await seeds.start(() => {});
    assert.equal((await joinFailure(joiner, silent)).failures[0]!.reason, 'timeout');
    const hangsUp = await seeds.start((socket) => socket.once('data', () => socket.end()));
    assert.equal((await joinFailure(joiner, hangsUp)).failures[0]!.reason, 'closed');
  });

  it('encryption: the seed encrypts and we do not, the reverse, and another key', async () => {
    const encrypted = await node('e-seed', { encrypt: KEY });
    const plain = await node('p-seed');
    const cases: [string, Partial<GossipNodeOptions>, GossipNode, RegExp][] = [
      ['j-plain', {}, encrypted, /the peer encrypts and this node has no keyring/],
      ['j-key', { encrypt: KEY }, plain, /this node encrypts and the peer does not/],
      ['j-other', { encrypt: OTHER_KEY }, encrypted, /the peer uses another key/],
    ];
    for (const [name, options, seed, detail] of cases) {
      const err = await joinFailure(await node(name, options), `127.0.0.1:${seed.address.port}`);
      assert.equal(err.failures[0]!.reason, 'encryption', name);
      assert.match(err.failures[0]!.detail, detail, name);
    }
    assert.deepEqual(
      [encrypted, plain].map((n) => n.members().length),
      [1, 1],
      'no seed let any of them in',
    );
  });

  it("a seed whose members speak other protocol versions: protocol; the seed's error: remoteError; garbage: malformed", async () => {
    const joiner = await node('j-proto');
    const protocol = await joinFailure(joiner, await seeds.replying(FUTURE_PUSH_PULL));
    assert.equal(protocol.failures[0]!.reason, 'protocol');
    assert.ok(!joiner.members().some((m) => m.name === 'future'), 'nothing of an incompatible state is merged');
    const remote = await joinFailure(joiner, await seeds.replying(encodeErr('Remote is busy')));
    assert.deepEqual(
      [remote.failures[0]!.reason, remote.failures[0]!.detail],
      ['remoteError', 'the peer answered with an error: Remote is busy'],
    );
    const garbage = await joinFailure(joiner, await seeds.replying(Uint8Array.from([0xc1, 0xc1, 0xc1])));
    assert.equal(garbage.failures[0]!.reason, 'malformed');
  });

  it('a live member already has our name at another address: nameConflict, and nothing is merged', async () => {
    const seed = await node('c-seed');
    const holder = await node('taken');
    await holder.join([`127.0.0.1:${seed.address.port}`]);
    const impostor = await node('taken');
    const err = await joinFailure(impostor, `127.0.0.1:${seed.address.port}`);
    assert.equal(err.failures[0]!.reason, 'nameConflict');
    assert.equal(err.failures[0]!.detail, `the cluster already has a live member named "taken" at 127.0.0.1:${holder.address.port}`);
    assert.deepEqual(
      impostor.members().map((m) => m.name),
      ['taken'],
    );
    assert.ok(seed.members().some((m) => m.name === 'taken' && m.port === holder.address.port && m.status === 'alive'));
  });

  it('every seed is tried; each failure is listed in the order given; one answering is enough', async () => {
    const seed = await node('m-seed');
    const joiner = await node('m-joiner');
    const dead = `127.0.0.1:${await freePort()}`;
    await assert.rejects(joiner.join([dead, 'no-such-host.invalid']), (err: JoinError) => {
      assert.deepEqual(
        err.failures.map((f) => [f.seed, f.address, f.reason]),
        [
          [dead, dead, 'refused'],
          ['no-such-host.invalid', null, 'resolve'],
        ],
      );
      assert.equal(err.attempts, 1);
      return true;
    });
    const self = `127.0.0.1:${joiner.address.port}`;
    await assert.rejects(joiner.join([self]), (err: JoinError) => err.failures[0]!.reason === 'self' && err.failures[0]!.address === self);
    assert.equal(await joiner.join([dead, self, `127.0.0.1:${seed.address.port}`]), 1, 'only the seed counts, not ourselves');
  });

  it('a name joins every A and AAAA address it resolves to, on the default port unless given', async () => {
    const port = await freePort();
    // Two seeds on one port, at two loopback addresses; ::1 has none (refused, and the join still succeeds).
    const s1 = await node('dns-1', { bind: `127.0.0.1:${port}` });
    const s2 = await node('dns-2', { bind: `127.0.0.2:${port}` });
    const dns = await startDnsStub({
      'seeds.swimring.test': { a: ['127.0.0.1', '127.0.0.2'], aaaa: ['::1'] },
      'solo.swimring.test': { a: ['127.0.0.3'] },
    });
    try {
      const joiner = await node('dns-joiner', { dnsServers: [dns.address] });
      assert.equal(await joiner.join([`seeds.swimring.test:${port}`]), 2);
      await waitFor(
        'both seeds know the joiner',
        () => [s1, s2].every((s) => s.members().some((m) => m.name === 'dns-joiner')),
        10_000,
        20,
      );
      assert.deepEqual(new Set(dns.queries.map((q) => q.type)), new Set(['A', 'AAAA']));
      const unknown = await joinFailure(joiner, 'nowhere.swimring.test');
      assert.deepEqual(
        [unknown.failures[0]!.reason, unknown.failures[0]!.detail],
        ['resolve', 'cannot resolve "nowhere.swimring.test": no such host'],
      );
      // No port: Serf's 7946.
      const lone = await node('dns-lone', { dnsServers: [dns.address], gossip: { tcpTimeoutMs: 300 } });
      const noPort = await joinFailure(lone, 'solo.swimring.test');
      assert.equal(noPort.failures[0]!.address, '127.0.0.3:7946');
    } finally {
      await dns.close();
    }
  });

  it('retry: rounds every intervalMs until a seed answers; after max rounds, a JoinError with the attempts', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const joiner = await node('r-joiner', { logger });
    await assert.rejects(joiner.join([`127.0.0.1:${port}`], { retry: { intervalMs: 20, max: 3 } }), (err: JoinError) => {
      assert.equal(err.attempts, 3);
      assert.match(err.message, /^could not join any seed in 3 attempts: 127\.0\.0\.1:\d+: connection refused/);
      return true;
    });
    assert.equal(warnings.filter((w) => w.includes('join failed, retrying')).length, 2);
    // The seed comes up after the first failed round: the retrying join gets in.
    warnings.length = 0;
    const joining = joiner.join([`127.0.0.1:${port}`], { retry: { intervalMs: 50 } });
    await waitFor('a failed round', () => warnings.some((w) => w.includes('join failed, retrying')), 10_000, 5);
    const late = await node('r-seed', { bind: `127.0.0.1:${port}` });
    assert.equal(await joining, 1);
    assert.ok(late.members().some((m) => m.name === 'r-joiner'));
    const ac = new AbortController();
    const aborted = joiner.join([`127.0.0.1:${await freePort()}`], { retry: { intervalMs: 60_000 }, signal: ac.signal });
    ac.abort(new Error('stop retrying'));
    await assert.rejects(aborted, /stop retrying/);
    await assert.rejects(joiner.join(['127.0.0.1:1'], { retry: { intervalMs: 0 } }), {
      code: 'ERR_INVALID_OPTION',
      subject: 'retry.intervalMs',
    });
    await assert.rejects(node('bad-dns', { dnsServers: ['dns.example'] }), { code: 'ERR_INVALID_OPTION', subject: 'dnsServers[0]' });
  });

  it('push/pulls go 8 at a time (each reply may hold megabytes), each address once', async () => {
    let open = 0;
    let peak = 0;
    let connections = 0;
    const addresses = await Promise.all(
      Array.from({ length: 40 }, () =>
        seeds.start((socket) => {
          connections++;
          peak = Math.max(peak, ++open);
          // Done once it hangs up: the joiner starts its next push/pull only after that.
          socket.once('data', () =>
            setTimeout(() => {
              open--;
              socket.end();
            }, 20),
          );
        }),
      ),
    );
    const joiner = await node('fan-out');
    await assert.rejects(joiner.join([...addresses, ...addresses]), (e: JoinError) => e.failures.length === 40);
    assert.equal(connections, 40, 'an address given twice is tried once');
    assert.ok(peak <= 8, `${peak} push/pulls at once`);
  });

  it('an abort rejects at once, during resolution too; a reply that comes after it is not merged', async () => {
    const silentDns = createSocket('udp4');
    let queries = 0;
    silentDns.on('message', () => queries++);
    await new Promise<void>((r) => silentDns.bind(0, '127.0.0.1', r));
    try {
      const resolving = await node('abort-dns', { dnsServers: [`127.0.0.1:${silentDns.address().port}`] });
      const ac = new AbortController();
      const joining = resolving.join(['seed.swimring.test'], { signal: ac.signal });
      await waitFor('the A and AAAA queries', () => queries >= 2, 10_000, 5);
      ac.abort(new Error('enough'));
      await assert.rejects(joining, /enough/);
      assert.equal(queries, 2, 'rejected before the resolver asked again');
    } finally {
      silentDns.close();
    }
    let answer: (() => void) | undefined;
    const late = await seeds.start((socket) =>
      socket.once(
        'data',
        () => (answer = () => socket.write(encodePushPull({ join: false, nodes: 0, userStateLen: 0 }, [LATE_STATE], new Uint8Array(0)))),
      ),
    );
    const joiner = await node('abort-late');
    const ac = new AbortController();
    const joining = joiner.join([late], { signal: ac.signal });
    await waitFor('the push/pull reached the seed', () => answer !== undefined, 10_000, 5);
    ac.abort(new Error('stop'));
    await assert.rejects(joining, /stop/);
    answer!();
    const other = await node('abort-witness');
    await other.join([`127.0.0.1:${joiner.address.port}`]); // a round trip through the joiner after the late reply
    assert.deepEqual(
      joiner
        .members()
        .map((m) => m.name)
        .sort(),
      ['abort-late', 'abort-witness'],
      'the late reply was not merged',
    );
  });

  it('closing the node ends a join under way, retrying or not, with a JoinError', async () => {
    const silent = await seeds.start(() => {});
    const once = await node('close-once', { gossip: { tcpTimeoutMs: 60_000 } });
    const pending = once.join([silent]);
    await new Promise((r) => setImmediate(r));
    await once.close();
    await assert.rejects(pending, (err: JoinError) => err.code === 'ERR_JOIN_FAILED' && err.failures[0]!.detail === 'the node closed');
    const retrying = await node('close-retrying', { gossip: { tcpTimeoutMs: 60_000 } });
    const again = retrying.join([silent], { retry: { intervalMs: 10 } });
    await new Promise((r) => setImmediate(r));
    await retrying.close();
    await assert.rejects(again, { code: 'ERR_JOIN_FAILED' });
  });
});
