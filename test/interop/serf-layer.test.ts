// The Serf layer against real serf 0.9.4 agents: 3 serf agents and 3 swimring nodes (one in this
// process, two `swimring agent` processes) in one encrypted cluster on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it as nodeIt } from 'node:test';
import { GossipNode } from '../../src/io/gossip-node.js';
import { runCli } from '../helpers/cli.js';
import { missingBinary } from '../helpers/binaries.js';
import { Processes, type SerfAgent, httpOf, kill, startAgent, startSerf, waitFor } from '../helpers/processes.js';

/** Without serf each test is skipped, and counted so; under CI=true a missing serf throws. */
const skip = missingBinary('serf');
const it = (name: string, fn: () => Promise<void>) => nodeIt(name, { skip }, fn);
const text = (s: string) => new TextEncoder().encode(s);
/** Short reaping on both sides, so the test sees a failed member reaped. */
const REAP = { reconnect_timeout: '6s', tombstone_timeout: '6s' };

describe('the Serf layer with serf agents (3 + 3, encrypted)', () => {
  const procs = new Processes();
  let ts1: GossipNode | undefined;
  after(async () => {
    await ts1?.close();
    await procs.stopAll();
  });

  it('members, tags, events, queries, key rotation, leave, failure and reap', async () => {
    const key = execFileSync('serf', ['keygen'], { encoding: 'utf8' }).trim();
    const serfs: SerfAgent[] = [];
    for (const name of ['s1', 's2', 's3']) {
      serfs.push(
        await startSerf(procs, name, {
          encrypt: key,
          tags: { role: 'serf' },
          // The handler reads its stdin (the payload): serf logs an error when it cannot write it.
          eventHandlers: [`query:whoami=cat > /dev/null; echo serf-${name}`],
          config: REAP,
          ...(serfs[0] ? { join: serfs[0].port } : {}),
        }),
      );
    }
    const [s1, s2, s3] = serfs as [SerfAgent, SerfAgent, SerfAgent];
    ts1 = await GossipNode.create({
      name: 'ts1',
      bind: '127.0.0.1:0',
      encrypt: key,
      tags: { role: 'ts', lang: 'js' },
      gossip: { reconnectWindowMs: 6000, tombstoneTimeoutMs: 6000, reapIntervalMs: 1000 },
    });
    const node = ts1;
    const events: string[] = [];
    node.on('event', (e) => events.push(`${e.name}:${Buffer.from(e.payload).toString()}`));
    node.on('query', (q) => q.name === 'whoami' && q.respond(text('ts-ts1')));
    await node.join([`127.0.0.1:${s1.port}`]);
    const agentArgs = [
      '--encrypt',
      key,
      '--tag',
      'role=ts',
      '--reconnect-timeout',
      '6s',
      '--tombstone-timeout',
      '6s',
      '--http',
      '127.0.0.1:0',
    ];
    const ts2 = await startAgent(procs, 'ts2', [...agentArgs, '--join', `127.0.0.1:${s2.port}`]);
    const ts3 = await startAgent(procs, 'ts3', [...agentArgs, '--join', `127.0.0.1:${node.address.port}`]);
    const http = httpOf;
    const all = ['s1', 's2', 's3', 'ts1', 'ts2', 'ts3'];

    // All see each other alive, with the right tags.
    for (const s of serfs) {
      await waitFor(
        `${s.name} lists all six alive`,
        () => all.every((n) => s.members().some((m) => m.name === n && m.status === 'alive')),
        30_000,
      );
      const byName = new Map(s.members().map((m) => [m.name, m.tags]));
      assert.deepEqual(byName.get('ts1'), { role: 'ts', lang: 'js' });
      assert.deepEqual(byName.get('ts3'), { role: 'ts' });
    }
    await waitFor(
      'ts1 lists all six alive',
      () => all.every((n) => node.members().some((m) => m.name === n && m.status === 'alive')),
      30_000,
    );
    assert.deepEqual(node.members().find((m) => m.name === 's2')?.tags, { role: 'serf' });
    assert.deepEqual(node.members().find((m) => m.name === 's2')?.delegate, { min: 2, max: 5, cur: 5 });
    const viaHttp = (await (await fetch(`http://${http(ts2)}/members`)).json()) as { name: string; status: string }[];
    await waitFor(
      'ts2 lists all six alive',
      async () => {
        const list = (await (await fetch(`http://${http(ts2)}/members`)).json()) as { name: string; status: string }[];
        return all.every((n) => list.some((m) => m.name === n && m.status === 'alive'));
      },
      30_000,
    );
    assert.ok(viaHttp.length >= 2);

    // Gossip reaches everyone with high probability; a node the epidemic missed gets the event
    // from the next push/pull (30 s on LAN, either side), hence the bounds below.
    const EVENT_BOUND_MS = 45_000;
    // A serf event reaches the swimring nodes, once.
    await s1.cli(['event', 'deploy', 'v1']);
    await waitFor('ts1 gets the serf event', () => events.includes('deploy:v1'), EVENT_BOUND_MS);
    for (const a of [ts2, ts3])
      await waitFor(
        `${a.name} prints the serf event`,
        () => a.lines.some((l) => l['event'] === 'user-event' && l['name'] === 'deploy' && l['payload'] === 'v1'),
        EVENT_BOUND_MS,
      );
    // A swimring event (library, then CLI through an agent) reaches every serf agent.
    node.userEvent('hello', text('from-ts1'));
    const cli = await runCli(['event', '--http', http(ts3), 'hi', 'from-ts3']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /Event 'hi' dispatched/);
    for (const s of serfs) {
      await waitFor(
        `${s.name} receives both swimring events`,
        () => /Received event: user-event: hello/.test(s.log()) && /Received event: user-event: hi\b/.test(s.log()),
        EVENT_BOUND_MS,
      );
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(events.filter((e) => e === 'deploy:v1').length, 1, 'delivered once despite rebroadcasts and push/pulls');

    // A query reaches every member only with high probability within its timeout (gossip, for
    // agents as for us; Serf repairs no missed query): an operator runs it again. So each query
    // step, `serf keys` included, gets up to three attempts; every attempt needs every answer.
    const retried = async <T>(step: () => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await step();
        } catch (err) {
          if (attempt === 3) throw err;
        }
      }
    };

    // serf query gets the swimring answers; a swimring query gets every agent's.
    await retried(async () => {
      const answer = JSON.parse(await s2.cli(['query', '-format=json', '-timeout=3s', 'whoami', 'x'])) as {
        Acks: string[];
        Responses: Record<string, string>;
      };
      assert.deepEqual([...answer.Acks].sort(), [...all].sort(), 'every node acks a serf query');
      assert.equal(answer.Responses['ts1'], 'ts-ts1');
      assert.equal(answer.Responses['s3'], 'serf-s3\n');
    });
    await retried(async () => {
      const replies = [];
      for await (const r of node.query('whoami', text('y'), { requestAck: true, timeoutMs: 3000 })) replies.push(r);
      assert.deepEqual(
        replies
          .filter((r) => r.type === 'ack')
          .map((r) => r.from)
          .sort(),
        [...all].sort(),
      );
      const responses = new Map(
        replies.flatMap((r) => (r.type === 'response' ? [[r.from, Buffer.from(r.payload).toString()] as const] : [])),
      );
      assert.deepEqual(Object.fromEntries(responses), { s1: 'serf-s1\n', s2: 'serf-s2\n', s3: 'serf-s3\n', ts1: 'ts-ts1' });
    });
    await retried(async () => {
      const q = await runCli(['query', '--http', http(ts2), '--tag', 'role=^serf$', '--timeout', '2s', 'whoami']);
      assert.equal(q.code, 0, q.stderr);
      assert.match(q.stdout, /Response from 's1': serf-s1/);
      assert.match(q.stdout, /Total Responses: 3/);
    });

    // Key rotation with `serf keys` across the mixed cluster keeps everyone in.
    const next = execFileSync('serf', ['keygen'], { encoding: 'utf8' }).trim();
    const keys = (args: string[]) => retried(() => s1.cli(['keys', ...args]));
    await keys(['-install', next]);
    await keys(['-use', next]);
    await keys(['-remove', key]);
    const listed = await keys(['-list']);
    assert.match(listed, new RegExp(`${next.replace(/[+/]/g, '\\$&')}\\s+\\[6/6\\]`));
    assert.doesNotMatch(listed, new RegExp(key.replace(/[+/]/g, '\\$&')));
    assert.deepEqual(node.keyring?.keys, [next]);
    // A newcomer with only the new key joins through a swimring node and is seen by all.
    const s4 = await startSerf(procs, 's4', { encrypt: next, join: node.address.port, config: REAP });
    await waitFor(
      'everyone sees s4',
      () =>
        [s1, s2, s3].every((s) => s.members().some((m) => m.name === 's4' && m.status === 'alive')) &&
        node.members().some((m) => m.name === 's4' && m.status === 'alive'),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 3000)); // several probe rounds under the new key
    for (const s of [s1, s2, s3, s4])
      assert.ok(
        all.every((n) => s.members().some((m) => m.name === n && m.status === 'alive')),
        `${s.name} still sees all alive`,
      );

    // Nothing swimring sent made a serf agent complain.
    for (const s of [s1, s2, s3, s4]) assert.deepEqual(complaints(s), [], `${s.name} log`);

    // A swimring leave: serf shows it left (not failed).
    ts2.child.kill('SIGINT');
    await waitFor(
      'serf shows ts2 left',
      () => [s1, s3].every((s) => s.members().some((m) => m.name === 'ts2' && m.status === 'left')),
      30_000,
    );
    // A swimring kill -9: serf shows it failed, then reaps it after the reconnect timeout.
    await kill(ts3.child, 'SIGKILL');
    await waitFor('serf shows ts3 failed', () => s1.members().some((m) => m.name === 'ts3' && m.status === 'failed'), 30_000);
    await waitFor('serf reaps ts3', () => !s1.members().some((m) => m.name === 'ts3'), 60_000);
    // A serf agent's SIGINT: swimring shows it left; SIGKILL: failed, then reaped.
    const seen: string[] = [];
    for (const change of ['member-leave', 'member-failed', 'member-reap'] as const)
      node.on(change, (m) => seen.push(`${change}:${m.name}:${m.status}`));
    // Judged on ts1's events, not its current list: a member that left is reaped 6 s later here.
    const saw = async (what: string, done: () => boolean, ms: number) =>
      waitFor(what, done, ms).catch((err: Error) => {
        throw new Error(
          `${err.message}; ts1 emitted: ${seen.join(' ') || 'nothing'}; its list: ${JSON.stringify(node.members().map((m) => `${m.name}:${m.status}`))}`,
        );
      });
    s3.child.kill('SIGINT');
    await saw('ts1 shows s3 left', () => seen.includes('member-leave:s3:left'), 45_000);
    await kill(s2.child, 'SIGKILL');
    await saw('ts1 shows s2 failed', () => seen.includes('member-failed:s2:failed'), 45_000);
    await saw('ts1 reaps s2', () => seen.includes('member-reap:s2:failed'), 30_000);
  });
});

/**
 * The [ERR] and [WARN] lines of a serf agent's log, but for a fallback TCP ping that timed out:
 * on a loaded 2-core machine any member (a serf agent too) can answer one late, which says
 * nothing about the wire protocol (our TCP ping answers are checked in test/io/sockets.test.ts).
 */
function complaints(s: SerfAgent): string[] {
  return s
    .log()
    .split('\n')
    .filter((l) => /\[(ERR|WARN)\]/.test(l) && !/Failed fallback ping: .*i\/o timeout/.test(l));
}
