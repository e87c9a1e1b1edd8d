// `swimring agent` joins as `serf agent` does: --join is one round and a failure ends the agent
// with each seed's reason (exit 1); --retry-join retries in the background every
// --retry-interval, up to --retry-max rounds; seed names resolve through --dns-server. A member
// that never got in prints no `left`.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { encodeErr } from '../../src/gossip/codec/messages.js';
import { runCli } from '../helpers/cli.js';
import { startDnsStub } from '../helpers/dns-stub.js';
import { FUTURE_PUSH_PULL, FakeSeeds } from '../helpers/fake-seeds.js';
import { Processes, freePort, kill, startAgent, waitFor } from '../helpers/processes.js';

const procs = new Processes();
after(() => procs.stopAll());

const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const seeds = new FakeSeeds();
after(() => seeds.closeAll());

const agentArgs = (name: string) => ['agent', '--name', name, '--bind', '127.0.0.1:0', '--profile', 'local', '--rpc-addr', 'off'];

describe('swimring agent --join / --retry-join', () => {
  it('--join with no seed answering exits 1 with each reason; a ring member acquires nothing and prints no left', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const r = await runCli([...agentArgs('lonely'), '--partitions', '16', '--join', dead, '--join', 'no-such-host.invalid']);
    assert.equal(r.code, 1, r.stderr);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('swimring agent:'));
    assert.deepEqual(errors, [
      `swimring agent: could not join any seed: ${dead}: connection refused: nothing listens there; no-such-host.invalid: cannot resolve "no-such-host.invalid": no such host`,
    ]);
    const events = jsonLines(r.stdout).map((l) => l['event']);
    assert.deepEqual(events, ['started'], 'no acquire, no joined, no left');
  });

  it('seeds that time out, hang up, speak another protocol version, answer an error or garbage: each reason on the one line', async () => {
    const addresses = await Promise.all([
      seeds.start(() => {}),
      seeds.start((socket) => socket.once('data', () => socket.end())),
      seeds.replying(FUTURE_PUSH_PULL),
      seeds.replying(encodeErr('Remote is busy')),
      seeds.replying(Uint8Array.from([0xc1, 0xc1])),
    ]);
    const r = await runCli([...agentArgs('picky'), ...addresses.flatMap((s) => ['--join', s])]);
    assert.equal(r.code, 1, r.stderr);
    const line = r.stderr.split('\n').find((l) => l.startsWith('swimring agent:'))!;
    const reasons = [
      'no reply within \\d+ ms',
      'the peer closed the connection without replying',
      "the peer's members speak protocol versions outside the range ours support",
      'the peer answered with an error: Remote is busy',
      "the peer's reply: ",
    ];
    assert.match(
      line,
      new RegExp(
        `^swimring agent: could not join any seed: ${addresses.map((s, i) => `${s.replaceAll('.', '\\.')}: ${reasons[i]}.*`).join('; ')}$`,
      ),
    );
  });

  it('a name already taken in the cluster: exit 1 naming the holder', async () => {
    const seed = await startAgent(procs, 'taken', ['--profile', 'local', '--rpc-addr', 'off']);
    const r = await runCli([...agentArgs('taken'), '--join', `127.0.0.1:${seed.port}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /could not join any seed: 127\.0\.0\.1:\d+: the cluster already has a live member named "taken" at 127\.0\.0\.1:\d+\n/,
    );
    assert.equal(seed.child.exitCode, null);
  });

  it('--retry-join gives up after --retry-max rounds (exit 1), and gets in once a seed comes up', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const r = await runCli([...agentArgs('retrier'), '--retry-join', dead, '--retry-interval', '50ms', '--retry-max', '3']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`swimring agent: could not join any seed in 3 attempts: ${dead.replaceAll('.', '\\.')}: connection refused`),
    );
    assert.equal((r.stderr.match(/join failed, retrying/g) ?? []).length, 2);
    assert.deepEqual(
      jsonLines(r.stdout).map((l) => l['event']),
      ['started'],
    );

    const port = await freePort();
    const late = await startAgent(procs, 'late-joiner', [
      '--profile',
      'local',
      '--rpc-addr',
      'off',
      '--partitions',
      '8',
      '--retry-join',
      `127.0.0.1:${port}`,
      '--retry-interval',
      '100ms',
    ]);
    await waitFor('a failed round', () => late.stderr().includes('join failed, retrying'), 15_000);
    assert.ok(!late.lines.some((l) => l['event'] === 'acquire'), 'owns nothing while it retries');
    await startAgent(procs, 'late-seed', ['--profile', 'local', '--rpc-addr', 'off', '--partitions', '8'], { port });
    await waitFor('joined', () => late.lines.some((l) => l['event'] === 'joined'), 15_000);
    assert.deepEqual(
      late.lines.find((l) => l['event'] === 'joined'),
      { event: 'joined', seeds: [`127.0.0.1:${port}`], answered: 1 },
    );
    await waitFor('its share', () => late.lines.some((l) => l['event'] === 'acquire'), 15_000);
    await kill(late.child, 'SIGTERM');
    assert.ok(
      late.lines.some((l) => l['event'] === 'left'),
      'a member that got in leaves',
    );
  });

  it('a member still retrying stops on SIGTERM without a leave and prints no left', async () => {
    const waiting = await startAgent(procs, 'waiting', [
      '--profile',
      'local',
      '--rpc-addr',
      'off',
      '--retry-join',
      `127.0.0.1:${await freePort()}`,
    ]);
    await waitFor('a failed round', () => waiting.stderr().includes('join failed, retrying'), 15_000);
    await kill(waiting.child, 'SIGTERM');
    assert.equal(waiting.child.exitCode, 0);
    assert.deepEqual(
      waiting.lines.map((l) => l['event']),
      ['started'],
    );
    assert.match(waiting.stderr(), /never joined a cluster, so nothing to leave/);
  });

  it('--dns-server resolves a seed name to every address; bad retry flags are usage errors', async () => {
    const port = await freePort();
    const seed = await startAgent(procs, 'dns-seed', ['--profile', 'local', '--rpc-addr', 'off'], { port });
    const dns = await startDnsStub({ 'ring.swimring.test': { a: ['127.0.0.1', '127.0.0.3'] } });
    try {
      const joiner = await startAgent(procs, 'dns-joiner', [
        '--profile',
        'local',
        '--rpc-addr',
        'off',
        '--dns-server',
        dns.address,
        '--join',
        `ring.swimring.test:${port}`,
      ]);
      await waitFor('joined', () => joiner.lines.some((l) => l['event'] === 'joined'), 15_000);
      assert.equal(joiner.lines.find((l) => l['event'] === 'joined')!['answered'], 1, '127.0.0.3 has no seed: one of two answered');
      await waitFor('the seed sees it', () => seed.lines.some((l) => l['event'] === 'member-join' && l['name'] === 'dns-joiner'), 15_000);
    } finally {
      await dns.close();
    }
    for (const [args, message] of [
      [['--retry-interval', '1s'], /--retry-interval and --retry-max need --retry-join/],
      [['--retry-join', '127.0.0.1:1', '--retry-max=-1'], /--retry-max must be 0 or more/],
      [['--retry-join', '127.0.0.1:1', '--retry-interval', 'soon'], /--retry-interval must be a duration/],
      [['--retry-join', 'a:b:c'], /--retry-join must be host:port/],
      [['--dns-server', 'dns.example'], /--dns-server/],
    ] as [string[], RegExp][]) {
      const r = await runCli([...agentArgs('bad-flags'), ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
