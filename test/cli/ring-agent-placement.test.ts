// `swimring agent --zone-tag K --weight-tag K`, end to end: real agent processes on 127.0.0.1
// whose /ring, /route and printed ownership lines must equal a partition table computed here,
// independently, from the zones and weights the agents were tagged with; after a kill -9, the
// survivors' table must equal the one computed over them. A missing or invalid weight tag counts
// as weight 1 and a missing or empty zone tag as a zone of its own, as documented.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type PartitionTable, createPartitionTable, ownershipOf } from '../../src/partition/index.js';
import { runCli } from '../helpers/cli.js';
import { type Agent, Processes, freePort, httpOf, kill, startAgent, waitFor } from '../helpers/processes.js';

const json = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

type RingBody = {
  checksum: string;
  partitions: number;
  replicas: number;
  hash: string;
  placement: string;
  members: string[];
  owners: string[][];
};
type RouteBody = { key: string; partition: number; members: { name: string }[] };

const PARTITIONS = 64;
const REPLICAS = 3;
const ringArgs = [
  '--profile',
  'local',
  '--partitions',
  String(PARTITIONS),
  '--replicas',
  String(REPLICAS),
  '--zone-tag',
  'zone',
  '--weight-tag',
  'weight',
  '--http',
  '127.0.0.1:0',
];
const KEYS = ['user:1', 'user:42', 'order:7', 'cart/9f3c', 'naïve 日本', 'k'];

/** Starts the agents all at once, each but the first joining the first (--retry-join: until it answers). */
async function startCluster(procs: Processes, specs: { name: string; tags: string[] }[]): Promise<Agent[]> {
  const seedPort = await freePort();
  return Promise.all(
    specs.map((s, i) =>
      startAgent(
        procs,
        s.name,
        [
          ...ringArgs,
          ...s.tags.flatMap((t) => ['--tag', t]),
          ...(i === 0 ? [] : ['--retry-join', `127.0.0.1:${seedPort}`, '--retry-interval', '200ms']),
        ],
        i === 0 ? { port: seedPort } : {},
      ),
    ),
  );
}

/** Every agent's /ring, once they all report the same checksum over exactly `members`. */
async function agreeOn(agents: Agent[], members: string[]): Promise<{ agent: Agent; ring: RingBody }[]> {
  const want = [...members].sort().join();
  return waitFor(
    `${agents.map((a) => a.name).join(', ')} agree on a ring of ${want}`,
    async () => {
      const rings = await Promise.all(agents.map(async (agent) => ({ agent, ring: await json<RingBody>(`http://${httpOf(agent)}/ring`) })));
      return (
        rings.every(({ ring }) => [...ring.members].sort().join() === want) &&
        new Set(rings.map(({ ring }) => ring.checksum)).size === 1 &&
        rings
      );
    },
    30_000,
    100,
  );
}

/** The (partition → replica) holdings an agent's acquire/release/promote/demote lines add up to. */
function heldFromLines(agent: Agent): Map<number, number> {
  const held = new Map<number, number>();
  for (const l of agent.lines) {
    if (l['event'] === 'release') held.delete(l['partition'] as number);
    else if (l['event'] === 'acquire' || l['event'] === 'promote' || l['event'] === 'demote')
      held.set(l['partition'] as number, l['replica'] as number);
  }
  return held;
}

const ownersOf = (t: PartitionTable) => Array.from({ length: t.partitions }, (_, p) => [...t.membersForPartition(p)]);

/** Every agent's /ring is `expected`, owner for owner, and its lines add up to its share of it. */
async function assertRingIs(rings: { agent: Agent; ring: RingBody }[], expected: PartitionTable): Promise<void> {
  for (const {
    agent: { name },
    ring,
  } of rings) {
    assert.equal(ring.checksum, expected.checksum, `${name}: checksum`);
    assert.deepEqual(
      { partitions: ring.partitions, replicas: ring.replicas, hash: ring.hash, placement: ring.placement, members: ring.members },
      { partitions: PARTITIONS, replicas: REPLICAS, hash: 'fnv1a32', placement: 'rendezvous', members: [...expected.members] },
      `${name}: table options (a zone or weight tag implies rendezvous)`,
    );
    assert.deepEqual(ring.owners, ownersOf(expected), `${name}: owners of every partition`);
  }
  for (const { agent: a } of rings) {
    const share = ownershipOf(expected, a.name);
    // Lines are written a turn or more after the table changes: wait for the last of them (an
    // unequal map after the deadline fails below, showing the difference).
    const same = () => JSON.stringify([...heldFromLines(a)].sort((x, y) => x[0] - y[0])) === JSON.stringify([...share]);
    await waitFor(`${a.name} printed lines adding up to its share`, same, 10_000, 50).catch(() => undefined);
    assert.deepEqual(heldFromLines(a), share, `${a.name}: its acquire/release/promote/demote lines add up to its share`);
  }
}

describe('swimring agent --zone-tag and --weight-tag', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  it('6 agents in 3 zones with weights 1,1,2,2,4,4: the ring equals the independently computed table, before and after a kill -9', async () => {
    const zones: Record<string, string> = { a0: 'a', a1: 'a', b0: 'b', b1: 'b', c0: 'c', c1: 'c' };
    const weights: Record<string, number> = { a0: 1, a1: 4, b0: 2, b1: 1, c0: 4, c1: 2 };
    const names = Object.keys(zones);
    const agents = await startCluster(
      procs,
      names.map((name) => ({ name, tags: [`zone=${zones[name]}`, `weight=${weights[name]}`] })),
    );

    const rings = await agreeOn(agents, names);
    const expected = createPartitionTable({ members: names, partitions: PARTITIONS, replicas: REPLICAS, zones, weights });
    // Both tags count: the table over the same members without either is another table.
    assert.notDeepEqual(
      ownersOf(createPartitionTable({ members: names, partitions: PARTITIONS, replicas: REPLICAS, zones })),
      ownersOf(expected),
      'weights change owners',
    );
    assert.notDeepEqual(
      ownersOf(createPartitionTable({ members: names, partitions: PARTITIONS, replicas: REPLICAS, weights })),
      ownersOf(expected),
      'zones change owners',
    );
    await assertRingIs(rings, expected);

    // The zone property itself: the 3 owners of every partition are in 3 distinct zones.
    for (const [p, owners] of rings[0]!.ring.owners.entries()) {
      assert.equal(owners.length, REPLICAS, `partition ${p}`);
      assert.equal(new Set(owners.map((o) => zones[o])).size, REPLICAS, `partition ${p}: owners ${owners.join(', ')} span 3 zones`);
    }

    // GET /route on every agent and `swimring route --zones --weights` agree with the table.
    const cli = await runCli([
      'route',
      '--members',
      names.join(','),
      '--partitions',
      String(PARTITIONS),
      '--replicas',
      String(REPLICAS),
      '--zones',
      names.map((n) => `${n}=${zones[n]}`).join(','),
      '--weights',
      names.map((n) => `${n}=${weights[n]}`).join(','),
      '--',
      ...KEYS,
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const cliLines = cli.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; partition: number; members: string[] });
    assert.deepEqual(
      cliLines,
      KEYS.map((key) => ({ key, partition: expected.partitionForKey(key), members: [...expected.membersForKey(key)] })),
    );
    for (const a of agents) {
      for (const key of KEYS) {
        const route = await json<RouteBody>(`http://${httpOf(a)}/route?key=${encodeURIComponent(key)}`);
        assert.equal(route.key, key);
        assert.equal(route.partition, expected.partitionForKey(key), `${a.name}: partition of ${key}`);
        assert.deepEqual(
          route.members.map((m) => m.name),
          [...expected.membersForKey(key)],
          `${a.name}: owners of ${key}`,
        );
      }
    }

    // kill -9 (by PID) a zone-a member: the five survivors agree on the table over themselves.
    const victim = agents.find((a) => a.name === 'a1')!;
    const marks = new Map(agents.map((a) => [a.name, a.lines.length]));
    await kill(victim.child, 'SIGKILL');
    const survivors = agents.filter((a) => a !== victim);
    const five = names.filter((n) => n !== 'a1');
    const after5 = await agreeOn(survivors, five);
    assert.equal(after5.length, 5);
    const expected5 = createPartitionTable({ members: five, partitions: PARTITIONS, replicas: REPLICAS, zones, weights });
    assert.notEqual(expected5.checksum, expected.checksum);
    await assertRingIs(after5, expected5);
    for (const a of survivors) {
      for (const l of a.lines.slice(marks.get(a.name)))
        assert.notEqual(l['from'], 'a1', `${a.name}: ${JSON.stringify(l)} is not taken from the dead member`);
    }
    // Zone a has one member left, a zone of its own: every partition still spans 3 zones.
    for (const [p, owners] of after5[0]!.ring.owners.entries()) {
      assert.equal(new Set(owners.map((o) => zones[o])).size, REPLICAS, `after the kill, partition ${p}: ${owners.join(', ')}`);
    }
    for (const key of KEYS) {
      const route = await json<RouteBody>(`http://${httpOf(survivors[0]!)}/route?key=${encodeURIComponent(key)}`);
      assert.deepEqual(
        route.members.map((m) => m.name),
        [...expected5.membersForKey(key)],
        `after the kill, owners of ${key}`,
      );
    }
  });

  it('a missing or invalid weight tag weighs 1, a missing or empty zone tag is a zone of its own', async () => {
    // As documented: src/ring/ring-view.ts weightFromTag ("a plain decimal in (0, MAX_WEIGHT], else
    // 1 (a bad tag must not stop the ring)") and zoneFromTag ("undefined (a zone of its own) when
    // missing, empty or not a valid zone name"); src/ring/ring.ts RingOptions.zoneTag/weightTag;
    // the agent's usage text (src/cli/agent.ts: "a member without the tag is a zone of its own",
    // "missing or invalid: 1"); README "Zones and weights".
    const specs = [
      { name: 'w0', tags: ['zone=x', 'weight=8'] }, // valid: weighs 8
      { name: 'w1', tags: ['zone=x'] }, // no weight tag: 1
      { name: 'w2', tags: ['zone=', 'weight=0x10'] }, // Number('0x10') is 16, but it is no plain decimal: 1; empty zone: its own
      { name: 'w3', tags: ['weight=1e7'] }, // over 1e6: 1 (not clamped); no zone tag: its own (not one shared with w2)
    ];
    const names = specs.map((s) => s.name);
    const agents = await startCluster(procs, specs);
    const rings = await agreeOn(agents, names);

    // Unlisted members of `zones` are zones of their own; unlisted members of `weights` weigh 1.
    const base = { members: names, partitions: PARTITIONS, replicas: REPLICAS };
    const expected = createPartitionTable({ ...base, zones: { w0: 'x', w1: 'x' }, weights: { w0: 8 } });
    assert.equal(
      expected.checksum,
      createPartitionTable({ ...base, zones: { w0: 'x', w1: 'x' }, weights: { w0: 8, w1: 1, w2: 1, w3: 1 } }).checksum,
    );
    await assertRingIs(rings, expected);

    // What the ring would be had it read the tags otherwise: each is a different table, so the
    // agreement above is with the documented reading and no other.
    const otherwise: [string, PartitionTable][] = [
      ['the valid weight ignored', createPartitionTable({ ...base, zones: { w0: 'x', w1: 'x' } })],
      ["'0x10' read as Number() reads it (16)", createPartitionTable({ ...base, zones: { w0: 'x', w1: 'x' }, weights: { w0: 8, w2: 16 } })],
      ["'1e7' clamped to 1e6", createPartitionTable({ ...base, zones: { w0: 'x', w1: 'x' }, weights: { w0: 8, w3: 1e6 } })],
      [
        'the empty and the missing zone tag one shared zone',
        createPartitionTable({ ...base, zones: { w0: 'x', w1: 'x', w2: '(none)', w3: '(none)' }, weights: { w0: 8 } }),
      ],
    ];
    for (const [what, table] of otherwise) assert.notDeepEqual(ownersOf(table), ownersOf(expected), `${what} gives other owners`);
  });
});
