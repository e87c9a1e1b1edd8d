// swimring against real serf 0.9.4 agents (Debian package `serf`), on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it as nodeIt } from 'node:test';
import { GossipNode } from '../../src/io/gossip-node.js';
import { createPartitionTable } from '../../src/partition/table.js';
import { missingBinary } from '../helpers/binaries.js';
import { Processes, httpOf, kill, startAgent, startSerf, waitFor } from '../helpers/processes.js';

/** Without serf each test is skipped, and counted so; under CI=true a missing serf throws. */
const skip = missingBinary('serf');
const it = (name: string, fn: () => Promise<void>) => nodeIt(name, { skip }, fn);

describe('interop with serf agents', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  it('swimring nodes join a serf cluster: serf lists them alive, they list the serf agents alive', async () => {
    const s1 = await startSerf(procs, 's1', { tags: { role: 'web' } });
    const s2 = await startSerf(procs, 's2', { join: s1.port });
    const a1 = await startAgent(procs, 'ts-a', ['--join', `127.0.0.1:${s1.port}`, '--tag', 'role=ts', '--tag', 'lang=js']);
    const a2 = await startAgent(procs, 'ts-b', ['--join', `127.0.0.1:${s2.port}`]);
    for (const serf of [s1, s2]) {
      await waitFor(
        `${serf.name} lists both swimring nodes alive`,
        () => {
          const m = serf.members();
          return ['ts-a', 'ts-b'].every((n) => m.some((x) => x.name === n && x.status === 'alive' && x.addr.startsWith('127.0.0.1:')));
        },
        30_000,
      );
      const tsA = serf.members().find((x) => x.name === 'ts-a')!;
      assert.deepEqual(tsA.tags, { role: 'ts', lang: 'js' }, `${serf.name} shows ts-a's tags`);
      assert.deepEqual(serf.members().find((x) => x.name === 'ts-b')!.tags, {}, 'no tags is no tags (not a bogus role)');
    }
    await waitFor(
      'ts-b sees s1 with its tags',
      () =>
        a2.lines.some((l) => l['event'] === 'member-join' && l['name'] === 's1' && (l['tags'] as Record<string, string>)['role'] === 'web'),
      30_000,
    );
    for (const agent of [a1, a2]) {
      await waitFor(
        `${agent.name} sees s1, s2 and the other swimring node join`,
        () => {
          const joined = new Set(agent.lines.filter((l) => l['event'] === 'member-join').map((l) => l['name']));
          return ['s1', 's2', a1.name, a2.name].filter((n) => n !== agent.name).every((n) => joined.has(n));
        },
        30_000,
      );
    }
    // Nothing we sent made a serf agent complain.
    for (const serf of [s1, s2]) assert.doesNotMatch(serf.log(), /\[(ERR|WARN)\]/, `${serf.name} log`);

    // kill -9 of a swimring node: serf reports it failed.
    await kill(a2.child, 'SIGKILL');
    await waitFor('serf reports ts-b failed', () => s1.members().some((m) => m.name === 'ts-b' && m.status === 'failed'), 60_000);

    // SIGKILL of a serf agent: swimring marks it dead.
    await kill(s2.child, 'SIGKILL');
    await waitFor('ts-a reports s2 failed', () => a1.lines.some((l) => l['event'] === 'member-failed' && l['name'] === 's2'), 60_000);
    assert.equal(a1.child.exitCode, null, 'the swimring agent is still running');
  });

  it('a runtime setTags shows up in serf members', async () => {
    const s1 = await startSerf(procs, 'tg1');
    const node = await GossipNode.create({ name: 'ts-tags', bind: '127.0.0.1:0', tags: { version: '1' } });
    try {
      await node.join([`127.0.0.1:${s1.port}`]);
      await waitFor('serf shows version=1', () => s1.members().find((m) => m.name === 'ts-tags')?.tags['version'] === '1', 30_000);
      node.setTags({ version: '2', zone: 'b' });
      await waitFor(
        'serf shows the new tags',
        () => {
          const tags = s1.members().find((m) => m.name === 'ts-tags')?.tags;
          return tags?.['version'] === '2' && tags['zone'] === 'b';
        },
        30_000,
      );
      assert.doesNotMatch(s1.log(), /\[(ERR|WARN)\]/);
    } finally {
      await node.close();
    }
  });

  it('a swimring router joined to a plain serf cluster routes keys to the agents that carry ring tags, as libring does', async () => {
    const c1 = await startSerf(procs, 'c1', { tags: { ring: 'active' } });
    const c2 = await startSerf(procs, 'c2', { tags: { ring: 'active' }, join: c1.port });
    await startSerf(procs, 'c3', { tags: { ring: 'standby' }, join: c1.port });
    const router = await startAgent(procs, 'ts-router', [
      '--partitions',
      '128',
      '--replicas',
      '2',
      '--hash',
      'fnv1a64',
      '--watch-tag',
      'ring=^active$',
      '--http',
      '127.0.0.1:0',
      '--join',
      `127.0.0.1:${c2.port}`,
    ]);
    const http = httpOf(router);
    await waitFor(
      'the router sees the two active agents as the ring',
      async () => {
        const ring = (await (await fetch(`http://${http}/ring`)).json()) as { members: string[] };
        return ring.members.join() === 'c1,c2';
      },
      30_000,
    );
    const table = createPartitionTable({ members: ['c1', 'c2'], partitions: 128, replicas: 2, hash: 'fnv1a64' });
    for (const key of ['user:1', 'cart:77', 'a']) {
      const route = (await (await fetch(`http://${http}/route?key=${encodeURIComponent(key)}`)).json()) as {
        partition: number;
        members: { name: string }[];
      };
      assert.equal(route.partition, table.partitionForKey(key));
      assert.deepEqual(
        route.members.map((m) => m.name),
        [...table.membersForKey(key)],
      );
    }
    assert.ok(!router.lines.some((l) => l['event'] === 'acquire'), 'the router owns nothing');
    // A swimring owner with handoff: its readiness tag is just another tag to the agents.
    const owner = await startAgent(procs, 'ts-owner', [
      '--partitions',
      '128',
      '--replicas',
      '2',
      '--hash',
      'fnv1a64',
      '--watch-tag',
      'ring=^active$',
      '--tag',
      'ring=active',
      '--handoff',
      '--ready-after',
      '100ms',
      '--join',
      `127.0.0.1:${c1.port}`,
    ]);
    await waitFor(
      'the router sees three in the ring',
      async () => ((await (await fetch(`http://${http}/ring`)).json()) as { members: string[] }).members.join() === 'c1,c2,ts-owner',
      30_000,
    );
    await waitFor(
      'serf lists ts-owner with its readiness tag',
      () =>
        c1.members().some((m) => m.name === 'ts-owner' && m.status === 'alive' && /^[0-9a-f]{8}\.[0-9a-f]{8}\./.test(m.tags['swr'] ?? '')),
      30_000,
    );
    assert.ok(owner.lines.some((l) => l['event'] === 'acquire'));
    for (const s of [c1, c2])
      assert.deepEqual(
        s
          .log()
          .split('\n')
          .filter((l) => /\[(ERR|WARN)\]/.test(l)),
        [],
        `${s.name} log`,
      );
  });

  it("a swimring node that claims a serf agent's name: refused at join, or outvoted when the clusters merge; the agent keeps its name", async () => {
    const n1 = await startSerf(procs, 'n1');
    const n2 = await startSerf(procs, 'n2', { join: n1.port });
    const n3 = await startSerf(procs, 'n3', { join: n1.port });
    await waitFor(
      'three serf agents see each other',
      () => [n1, n2, n3].every((s) => s.members().filter((m) => m.status === 'alive').length === 3),
      30_000,
    );
    // Through a seed that knows the real n2, the join fails at once and says why.
    const direct = await startAgent(procs, 'n2', ['--join', `127.0.0.1:${n1.port}`]);
    await waitFor('the direct impostor exits', () => direct.child.exitCode !== null, 30_000);
    assert.equal(direct.child.exitCode, 1);
    assert.match(
      direct.stderr(),
      /could not join any seed: 127\.0\.0\.1:\d+: the cluster already has a live member named "n2" at 127\.0\.0\.1:\d+/,
    );
    assert.ok(!direct.lines.some((l) => l['event'] === 'left'), 'a node that never joined prints no left');
    // Through a lone serf agent that then joins the cluster, Serf's _serf_conflict vote decides.
    const n4 = await startSerf(procs, 'n4');
    const impostor = await startAgent(procs, 'n2', ['--join', `127.0.0.1:${n4.port}`]);
    await waitFor('the impostor joined n4', () => impostor.lines.some((l) => l['event'] === 'joined'), 30_000);
    await n4.cli(['join', `127.0.0.1:${n1.port}`]);
    // Gossip carries only changes and n4 keeps the impostor's claim, so the impostor would learn
    // of the real n2 only at a periodic push/pull (30 s apart): n1 starts one with it now.
    await n1.cli(['join', `127.0.0.1:${impostor.port}`]);
    await waitFor('the impostor reports a lost name-conflict vote and exits', () => impostor.child.exitCode !== null, 60_000);
    const line = impostor.lines.find((l) => l['event'] === 'name-conflict');
    assert.ok(line, 'a name-conflict JSON line');
    assert.ok(
      (line['responses'] as number) >= 2 && (line['matching'] as number) < (line['responses'] as number) / 2 + 1,
      JSON.stringify(line),
    );
    assert.equal(impostor.child.exitCode, 1);
    for (const s of [n1, n2, n3]) {
      const n2Member = s.members().find((m) => m.name === 'n2');
      assert.deepEqual([n2Member?.status, n2Member?.addr], ['alive', `127.0.0.1:${n2.port}`], `${s.name} still lists the real n2`);
    }
  });

  it('an encrypted serf cluster admits a swimring node with the key; one with another key or none exits saying why', async () => {
    const key = execFileSync('serf', ['keygen'], { encoding: 'utf8' }).trim();
    const other = execFileSync('serf', ['keygen'], { encoding: 'utf8' }).trim();
    const s1 = await startSerf(procs, 'e1', { encrypt: key });
    const s2 = await startSerf(procs, 'e2', { encrypt: key, join: s1.port });
    const plain = await startSerf(procs, 'p1');
    const good = await startAgent(procs, 'ts-good', ['--join', `127.0.0.1:${s1.port}`, '--encrypt', key]);
    const cases: [string, string[], RegExp][] = [
      ['another key', ['--join', `127.0.0.1:${s2.port}`, '--encrypt', other], /the peer uses another key/],
      ['no key', ['--join', `127.0.0.1:${s2.port}`], /the peer encrypts and this node has no keyring/],
      ['a key, the seed none', ['--join', `127.0.0.1:${plain.port}`, '--encrypt', key], /this node encrypts and the peer does not/],
    ];
    for (const [what, args, reason] of cases) {
      const bad = await startAgent(procs, `ts-bad-${cases.findIndex((c) => c[0] === what)}`, args);
      await waitFor(`the agent with ${what} exits`, () => bad.child.exitCode !== null, 30_000);
      assert.equal(bad.child.exitCode, 1, what);
      assert.match(bad.stderr(), new RegExp(`swimring agent: could not join any seed: 127\\.0\\.0\\.1:\\d+: .*${reason.source}`), what);
      assert.ok(!bad.lines.some((l) => l['event'] === 'member-join' || l['event'] === 'left'), `${what}: no member seen, no left`);
    }
    await waitFor(
      'both serf agents list ts-good alive',
      () => [s1, s2].every((s) => s.members().some((m) => m.name === 'ts-good' && m.status === 'alive')),
      30_000,
    );
    await waitFor(
      'ts-good sees both serf agents',
      () => ['e1', 'e2'].every((n) => good.lines.some((l) => l['event'] === 'member-join' && l['name'] === n)),
      30_000,
    );
    for (const s of [s1, s2]) assert.ok(!s.members().some((m) => m.name.startsWith('ts-bad')), `${s.name} never lists a ts-bad`);
    // Nothing crashed on the serf side.
    for (const p of [s1.child, s2.child, plain.child, good.child]) assert.equal(p.exitCode, null);
  });
});
