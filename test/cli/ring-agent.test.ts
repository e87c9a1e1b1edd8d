// `swimring agent --partitions`: ring events as JSON lines, GET /ring, /route, /metrics, the
// routing proxy with failover, and `swimring members`; 3 agent processes on 127.0.0.1.
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { type Agent, Processes, freePort, httpOf, kill, startAgent, waitFor } from '../helpers/processes.js';

const json = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

describe('swimring agent with the ring', () => {
  const procs = new Processes();
  const servers: Server[] = [];
  after(async () => {
    await procs.stopAll();
    for (const s of servers) s.close();
  });

  it('routes, reports and proxies; a killed owner fails over', async () => {
    // One backend per member: it answers with its member's name.
    const backends = new Map<string, string>();
    for (const name of ['k0', 'k1', 'k2']) {
      const port = await freePort();
      const server = createServer((req, res) => res.end(`${name} ${req.method} ${req.url}`));
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
      servers.push(server);
      backends.set(name, `http://127.0.0.1:${port}`);
    }
    const ringArgs = (name: string) => [
      '--profile',
      'local',
      '--partitions',
      '64',
      '--replicas',
      '2',
      '--watch-tag',
      'role=^cache$',
      '--tag',
      'role=cache',
      '--tag',
      `http=${backends.get(name)}`,
      '--http',
      '127.0.0.1:0',
    ];
    const agents: Agent[] = [await startAgent(procs, 'k0', ringArgs('k0'))];
    for (const name of ['k1', 'k2'])
      agents.push(await startAgent(procs, name, [...ringArgs(name), '--join', `127.0.0.1:${agents[0]!.port}`]));
    const router = await startAgent(procs, 'router', [
      '--profile',
      'local',
      '--partitions',
      '64',
      '--replicas',
      '2',
      '--watch-tag',
      'role=^cache$',
      '--http',
      '127.0.0.1:0',
      '--join',
      `127.0.0.1:${agents[0]!.port}`,
    ]);

    type RingBody = { checksum: string; members: string[]; owners: string[][] };
    await waitFor(
      'all four agree on a 3-member ring',
      async () => {
        const rings = await Promise.all([...agents, router].map((a) => json<RingBody>(`http://${httpOf(a)}/ring`)));
        return rings.every((r) => r.members.join() === 'k0,k1,k2') && new Set(rings.map((r) => r.checksum)).size === 1;
      },
      20_000,
    );
    const ring = await json<RingBody>(`http://${httpOf(router)}/ring`);
    assert.equal(ring.owners.length, 64);
    assert.ok(ring.owners.every((o) => o.length === 2 && o[0] !== o[1]));
    assert.ok(
      router.lines.every((l) => l['event'] !== 'acquire'),
      'the router owns nothing',
    );
    assert.ok(agents.every((a) => a.lines.some((l) => l['event'] === 'acquire')));

    const route = await json<{ partition: number; members: { name: string }[] }>(`http://${httpOf(router)}/route?key=user:7`);
    assert.deepEqual(
      route.members.map((m) => m.name),
      ring.owners[route.partition],
    );
    const metrics = await (await fetch(`http://${httpOf(agents[1]!)}/metrics`)).text();
    assert.match(metrics, /^swimring_members\{status="alive"\} 4$/m);
    assert.match(metrics, /^swimring_ring_members 3$/m);
    assert.match(metrics, /^swimring_partitions_held\{replica="0"\} \d+$/m);
    const members = await runCli(['members', '--http', httpOf(router)]);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, /^k0 +127\.0\.0\.1:\d+ +alive +http=http:\/\/127\.0\.0\.1:\d+,role=cache$/m);
    assert.equal(members.stdout.trimEnd().split('\n').length, 4);

    // The proxy forwards to the primary.
    const primary = route.members[0]!.name;
    const first = await fetch(`http://${httpOf(router)}/proxy/user:7/items?x=1`);
    assert.equal(await first.text(), `${primary} GET /items?x=1`);
    // Kill the primary and its backend: the proxy fails over at once, then the ring moves on.
    const victim = agents.find((a) => a.name === primary)!;
    servers[['k0', 'k1', 'k2'].indexOf(primary)]!.close();
    servers[['k0', 'k1', 'k2'].indexOf(primary)]!.closeAllConnections();
    await kill(victim.child, 'SIGKILL');
    const failover = await fetch(`http://${httpOf(router)}/proxy/user:7/items`, { method: 'POST', body: 'data' });
    assert.equal(await failover.text(), `${route.members[1]!.name} POST /items`);
    const survivors = agents.filter((a) => a !== victim);
    await waitFor(
      "survivors acquire the victim's partitions from a surviving replica",
      () => survivors.every((a) => a.lines.some((l) => l['event'] === 'acquire' && l['from'] !== primary && l['from'] !== null)),
      30_000,
    );
    await waitFor(
      'the ring shrinks to two',
      async () => (await json<RingBody>(`http://${httpOf(router)}/ring`)).members.length === 2,
      30_000,
    );
  });

  it('5 agents with handoff: kill -9 moves partitions to surviving replicas, the restarted member reacquires, and the proxy never fails', async () => {
    const names = ['p0', 'p1', 'p2', 'p3', 'p4'];
    const backendPort = new Map<string, number>();
    const backend = new Map<string, Server>();
    const serve = async (name: string) => {
      const port = backendPort.get(name) ?? (await freePort());
      backendPort.set(name, port);
      const server = createServer((req, res) => res.end(`${name} ${req.url}`));
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
      servers.push(server);
      backend.set(name, server);
    };
    const args = (name: string) => [
      '--profile',
      'local',
      '--partitions',
      '64',
      '--replicas',
      '2',
      '--handoff',
      '--ready-after',
      '300ms',
      '--tag',
      `http=http://127.0.0.1:${backendPort.get(name)}`,
      '--http',
      '127.0.0.1:0',
    ];
    const agents = new Map<string, Agent>();
    for (const name of names) {
      await serve(name);
      const seed = agents.get('p0');
      agents.set(name, await startAgent(procs, name, [...args(name), ...(seed ? ['--join', `127.0.0.1:${seed.port}`] : [])]));
    }
    const p0 = agents.get('p0')!;
    type RingBody = { checksum: string; members: string[] };
    const agree = async (n: number) => {
      const rings = await Promise.all(
        [...agents.values()]
          .filter((a) => a.child.exitCode === null && a.child.signalCode === null)
          .map((a) => json<RingBody>(`http://${httpOf(a)}/ring`)),
      );
      return rings.every((r) => r.members.length === n) && new Set(rings.map((r) => r.checksum)).size === 1;
    };
    await waitFor('five agree', () => agree(5), 20_000);
    // `members` hides the ring's own tags (readiness) unless --detailed.
    const plain = await runCli(['members', '--http', httpOf(p0)]);
    assert.match(plain.stdout, /^p0 .* http=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.doesNotMatch(plain.stdout, /swr=/);
    const detailed = await runCli(['members', '--http', httpOf(p0), '--detailed']);
    assert.match(detailed.stdout, /^p0 .*swr=/m);

    // A client keeps asking p0's proxy for keys all through the failure and the restart.
    let requests = 0;
    const failures: string[] = [];
    let running = true;
    const client = (async () => {
      for (let i = 0; running; i++) {
        const key = `key-${i % 50}`;
        try {
          const r = await fetch(`http://${httpOf(p0)}/proxy/${key}/x`);
          const body = await r.text();
          if (r.status !== 200) failures.push(`${key}: ${r.status} ${body}`);
        } catch (err) {
          failures.push(`${key}: ${String(err)}`);
        }
        requests++;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const victim = agents.get('p2')!;
    backend.get('p2')!.close();
    backend.get('p2')!.closeAllConnections();
    await kill(victim.child, 'SIGKILL');
    const survivors = [...agents.values()].filter((a) => a !== victim);
    const mark = new Map(survivors.map((a) => [a.name, a.lines.length]));
    await waitFor(
      "the survivors acquire p2's partitions from a surviving replica",
      () =>
        survivors.some((a) =>
          a.lines.slice(mark.get(a.name)).some((l) => l['event'] === 'acquire' && typeof l['from'] === 'string' && l['from'] !== 'p2'),
        ),
      30_000,
    );
    assert.ok(
      survivors.every((a) => !a.lines.slice(mark.get(a.name)).some((l) => l['event'] === 'acquire' && l['from'] === 'p2')),
      'never from the dead member',
    );
    await waitFor('four agree', () => agree(4), 30_000);

    await serve('p2');
    // Same name and address (memberlist re-admits a failed member only at its old address).
    const back = await startAgent(procs, 'p2', [...args('p2'), '--join', `127.0.0.1:${p0.port}`], { port: victim.port });
    agents.set('p2', back);
    await waitFor('p2 reacquires', () => back.lines.filter((l) => l['event'] === 'acquire').length > 0, 20_000);
    await waitFor('five agree again', () => agree(5), 30_000);
    // The proxied requests go on through the handoffs, until they are over. Readiness is gossiped;
    // a tag update the epidemic missed arrives with the next push/pull.
    await waitFor(
      'settled: the ready holders are the owners',
      async () => {
        const route = await json<{ members: { name: string }[]; ready: { name: string }[] }>(`http://${httpOf(p0)}/route?key=key-1`);
        return route.ready.map((m) => m.name).join() === route.members.map((m) => m.name).join();
      },
      40_000,
    );
    running = false;
    await client;
    assert.ok(requests > 100, `${requests} requests`);
    assert.deepEqual(failures, [], `${failures.length} of ${requests} proxied requests failed`);
  });

  it('a fourth agent started with --join prints only its share, from the previous holders; so does a restarted one', async () => {
    const args = ['--profile', 'local', '--partitions', '64', '--replicas', '2', '--http', '127.0.0.1:0'];
    const names = ['j0', 'j1', 'j2'];
    const agents = new Map<string, Agent>();
    for (const name of names) {
      const seed = agents.get('j0');
      agents.set(name, await startAgent(procs, name, [...args, ...(seed ? ['--join', `127.0.0.1:${seed.port}`] : [])]));
    }
    type RingBody = { checksum: string; members: string[]; owners: string[][] };
    const live = () => [...agents.values()].filter((a) => a.child.exitCode === null && a.child.signalCode === null);
    const agree = async (members: string) => {
      const rings = await Promise.all(live().map((a) => json<RingBody>(`http://${httpOf(a)}/ring`)));
      return rings.every((r) => r.members.join() === members) && new Set(rings.map((r) => r.checksum)).size === 1;
    };
    await waitFor('three agree', () => agree('j0,j1,j2'), 20_000);
    const ringLines = (a: Agent, from = 0) =>
      a.lines.slice(from).filter((l) => ['acquire', 'release', 'promote', 'demote'].includes(l['event'] as string));
    /** The agent printed exactly its share of `ring`, as acquires from the holders in `before`. */
    const assertShare = (a: Agent, from: number, ring: RingBody, before: RingBody) => {
      const lines = ringLines(a, from);
      assert.deepEqual(
        lines.filter((l) => l['event'] !== 'acquire'),
        [],
        `${a.name}: acquires only`,
      );
      const share = ring.owners.flatMap((owners, p) =>
        owners.includes(a.name) ? [`${p}:${owners.indexOf(a.name)}:${before.owners[p]![0]}`] : [],
      );
      assert.deepEqual(
        lines.map((l) => `${l['partition']}:${l['replica']}:${l['from']}`).sort(),
        share.sort(),
        `${a.name}: exactly its share, from the previous primary`,
      );
    };
    // Each of the three joined with its share only (j1 and j2 never held the keyspace).
    for (const name of ['j1', 'j2'])
      assert.ok(
        ringLines(agents.get(name)!).every((l) => l['event'] !== 'acquire' || l['from'] !== null),
        `${name}: no acquire without a source`,
      );
    const three = await json<RingBody>(`http://${httpOf(agents.get('j0')!)}/ring`);
    const marks = new Map(names.map((n) => [n, agents.get(n)!.lines.length]));

    const j3 = await startAgent(procs, 'j3', [...args, '--join', `127.0.0.1:${agents.get('j0')!.port}`]);
    agents.set('j3', j3);
    await waitFor('four agree', () => agree('j0,j1,j2,j3'), 20_000);
    const four = await json<RingBody>(`http://${httpOf(j3)}/ring`);
    const share = four.owners.filter((o) => o.includes('j3')).length;
    await waitFor('j3 printed its share', () => ringLines(j3).length >= share, 10_000);
    await waitFor('j3 printed joined', () => j3.lines.some((l) => l['event'] === 'joined'), 10_000);
    assertShare(j3, 0, four, three);
    // The others changed exactly where j3 came in; what they release goes to j3 or to the member
    // the placement moved in with it.
    for (const name of names) {
      for (const l of ringLines(agents.get(name)!, marks.get(name))) {
        const p = l['partition'] as number;
        assert.ok(four.owners[p]!.includes('j3'), `${name}: ${String(l['event'])} of partition ${p}, which j3 does not own`);
        if (l['event'] === 'release') assert.ok(four.owners[p]!.includes(l['to'] as string), `${name}: released ${p} to a new owner`);
      }
    }

    // Killed and restarted under the same name and address: its share again, from who took over.
    await kill(j3.child, 'SIGKILL');
    await waitFor('the three take over', () => agree('j0,j1,j2'), 30_000);
    const back = await startAgent(procs, 'j3', [...args, '--join', `127.0.0.1:${agents.get('j1')!.port}`], { port: j3.port });
    agents.set('j3', back);
    await waitFor('four agree again', () => agree('j0,j1,j2,j3'), 30_000);
    await waitFor(
      'j3 printed its share again',
      () => ringLines(back).length >= share && back.lines.some((l) => l['event'] === 'joined'),
      10_000,
    );
    assertShare(back, 0, four, three);
  });

  it('ring flags without --partitions, and bad ring flags, are usage errors', async () => {
    for (const [args, message] of [
      [['--replicas', '2'], /need --partitions/],
      [['--partitions', '8', '--hash', 'md5'], /--hash must be one of fnv1a32, fnv1a64/],
      [['--partitions', '0'], /--partitions must be an integer in \[1, 4194304\]/],
      [['--partitions', '8', '--watch-tag', 'role'], /--watch-tag must be KEY=REGEXP/],
    ] as const) {
      const r = await runCli(['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--log-level', 'silent', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});
