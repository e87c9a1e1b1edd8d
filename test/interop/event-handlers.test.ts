// swimring agent --event-handler beside a real serf agent (Debian's serf 0.9.4) with the same
// handlers and tags: what each agent's scripts receive (SERF_* environment and stdin) matches
// field for field but for the self name, `serf query ping` gets `pong` from both handlers, and a
// tag change and a leave of the serf agent reach swimring's member-update / member-leave handlers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it as nodeIt } from 'node:test';
import { missingBinary } from '../helpers/binaries.js';
import { Processes, freePort, startAgent, startSerf, waitFor } from '../helpers/processes.js';

/** Without serf each test is skipped, and counted so; under CI=true a missing serf throws. */
const skip = missingBinary('serf');
const it = (name: string, fn: () => Promise<void>) => nodeIt(name, { skip }, fn);

/** Odd keys on purpose: Serf upper-cases `ı` to I, turns é, - and . into _, and escapes the tab in member lines. */
const TAGS: Record<string, string> = { role: 'web', 'dc-name': 'east', ıd: 'x', zoné: 'b', 'app.version': '1.2', note: 'a\tb,c=d' };

interface Run {
  env: Record<string, string>;
  stdin: string;
}

describe('event handlers: swimring agent and serf agent side by side', () => {
  const procs = new Processes();
  const dir = mkdtempSync(join(tmpdir(), 'swimring-eh-interop-'));
  after(async () => {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What a handler records: its SERF_* variables, then its stdin (renamed into place last). */
  const record = (kind: string) =>
    `f="${dir}/$SERF_SELF_NAME.${kind}.$$"; env | grep '^SERF_' | sort > "$f.env"; cat > "$f.tmp"; mv "$f.tmp" "$f.stdin"`;
  const handlers = [
    `member-join=${record('join')}`,
    `member-update=${record('update')}`,
    `member-leave,member-failed=${record('gone')}`,
    `user:deploy=${record('user')}`,
    `query:ping=${record('query')}; echo pong`,
  ];

  /** The runs an agent's handler of that kind recorded so far. */
  function runs(agent: string, kind: string): Run[] {
    return readdirSync(dir)
      .filter((f) => f.startsWith(`${agent}.${kind}.`) && f.endsWith('.stdin'))
      .map((f) => {
        const base = join(dir, f.slice(0, -'.stdin'.length));
        const env: Record<string, string> = {};
        for (const line of readFileSync(`${base}.env`, 'utf8').split('\n')) {
          const eq = line.indexOf('=');
          if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
        }
        return { env, stdin: readFileSync(`${base}.stdin`, 'utf8') };
      });
  }
  /** The environment but for the self name (the one field that differs between the agents). */
  const shared = (r: Run) => Object.fromEntries(Object.entries(r.env).filter(([k]) => k !== 'SERF_SELF_NAME'));
  /** A member line with its tags in a canonical order (Serf writes them in map order). */
  const canonical = (line: string) => {
    const [name, addr, role, tags] = line.split('\t');
    return [name, addr, role, tags!.split(',').sort().join(',')].join('\t');
  };
  /** Member lines from all of an agent's runs of that kind, by member name. */
  const memberLines = (agent: string, kind: string) =>
    new Map(
      runs(agent, kind).flatMap((r) =>
        r.stdin
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.split('\t')[0]!, canonical(l)] as const),
      ),
    );
  const joinLines = (agent: string) => memberLines(agent, 'join');

  it('member-join, member-update, user:deploy and query:ping handlers see the same thing on both agents; member-leave', async () => {
    const serf = await startSerf(procs, 'serf-eh', { tags: TAGS, eventHandlers: handlers });
    const tsRpc = `127.0.0.1:${await freePort()}`;
    const ts = await startAgent(procs, 'ts-eh', [
      '--rpc-addr',
      tsRpc,
      '--join',
      `127.0.0.1:${serf.port}`,
      ...Object.entries(TAGS).flatMap(([k, v]) => ['--tag', `${k}=${v}`]),
      ...handlers.flatMap((h) => ['--event-handler', h]),
    ]);
    const agents = [serf.name, ts.name];
    // `serf info` lists the handlers the same way for both ("event:name" = script).
    const handlersOf = (rpc: string) =>
      (JSON.parse(execFileSync('serf', ['info', '-format=json', `-rpc-addr=${rpc}`], { encoding: 'utf8' })) as { event_handlers: unknown })
        .event_handlers;
    assert.deepEqual(handlersOf(tsRpc), handlersOf(serf.rpc));
    assert.equal((handlersOf(tsRpc) as Record<string, string>)['query:ping'], `${record('query')}; echo pong`);

    // Member joins: each agent's handler sees both members join (its own join included).
    for (const agent of agents) {
      await waitFor(`${agent}'s member-join handler saw both members`, () => agents.every((n) => joinLines(agent).has(n)), 30_000);
    }
    const tagsField = 'app.version=1.2,dc-name=east,note=a\\tb,c=d,role=web,zoné=b,ıd=x';
    for (const agent of agents) {
      assert.deepEqual(
        Object.fromEntries(joinLines(agent)),
        Object.fromEntries(agents.map((n) => [n, canonical(`${n}\t127.0.0.1\tweb\t${tagsField}`)])),
        `${agent}'s member lines`,
      );
      for (const r of runs(agent, 'join')) {
        assert.deepEqual(r.env, {
          SERF_EVENT: 'member-join',
          SERF_SELF_NAME: agent,
          SERF_SELF_ROLE: 'web',
          SERF_TAG_APP_VERSION: '1.2',
          SERF_TAG_DC_NAME: 'east',
          SERF_TAG_ID: 'x',
          SERF_TAG_NOTE: 'a\tb,c=d',
          SERF_TAG_ROLE: 'web',
          SERF_TAG_ZON_: 'b',
        });
      }
    }

    // A user event sent with the real `serf event`, through the serf agent's RPC.
    await serf.cli(['event', 'deploy', 'v42']);
    for (const agent of agents) await waitFor(`${agent}'s user:deploy handler ran`, () => runs(agent, 'user').length > 0, 30_000);
    const [serfUser, tsUser] = agents.map((a) => runs(a, 'user'));
    assert.equal(serfUser!.length, 1);
    assert.equal(tsUser!.length, 1);
    assert.deepEqual(shared(tsUser![0]!), shared(serfUser![0]!));
    assert.equal(tsUser![0]!.env['SERF_EVENT'], 'user');
    assert.equal(tsUser![0]!.env['SERF_USER_EVENT'], 'deploy');
    assert.match(tsUser![0]!.env['SERF_USER_LTIME']!, /^\d+$/);
    assert.deepEqual([serfUser![0]!.stdin, tsUser![0]!.stdin], ['v42\n', 'v42\n']);

    // `serf query ping`: both handlers answer, with their output.
    const out = await serf.cli(['query', '-format=json', '-timeout=6s', 'ping', 'hello']);
    const answers = JSON.parse(out) as { Acks: string[]; Responses: Record<string, string> };
    assert.deepEqual(answers.Responses, { 'serf-eh': 'pong\n', 'ts-eh': 'pong\n' });
    assert.deepEqual([...answers.Acks].sort(), agents);
    const [serfQuery, tsQuery] = agents.map((a) => runs(a, 'query'));
    assert.equal(serfQuery!.length, 1);
    assert.equal(tsQuery!.length, 1);
    assert.deepEqual(shared(tsQuery![0]!), shared(serfQuery![0]!));
    assert.equal(tsQuery![0]!.env['SERF_QUERY_NAME'], 'ping');
    assert.match(tsQuery![0]!.env['SERF_QUERY_LTIME']!, /^\d+$/);
    assert.deepEqual([serfQuery![0]!.stdin, tsQuery![0]!.stdin], ['hello\n', 'hello\n']);

    // New tags on the serf agent (`serf tags -set`): both handlers get a member-update for it
    // (the serf agent's for itself), with the same line.
    await serf.cli(['tags', '-set', 'zone=c']);
    const updated = canonical(`serf-eh\t127.0.0.1\tweb\t${tagsField},zone=c`);
    for (const agent of agents) {
      await waitFor(
        `${agent}'s member-update handler saw serf-eh's new tags`,
        () => memberLines(agent, 'update').get('serf-eh') === updated,
        30_000,
      );
      assert.ok(runs(agent, 'update').every((r) => r.env['SERF_EVENT'] === 'member-update'));
    }
    assert.equal(runs(ts.name, 'update').length, 1);

    // `serf leave`: swimring's member-leave handler runs for it; the leaving status on the way is
    // no member-update (Serf has none), so the one update stays the only one.
    await serf.cli(['leave']);
    await waitFor("ts-eh's member-leave handler saw serf-eh leave", () => memberLines(ts.name, 'gone').get('serf-eh') === updated, 30_000);
    assert.deepEqual(
      runs(ts.name, 'gone').map((r) => r.env['SERF_EVENT']),
      ['member-leave'],
    );
    assert.equal(runs(ts.name, 'update').length, 1);

    assert.doesNotMatch(ts.stderr(), /event handler (failed|killed|could not start)|query response not sent/);
    assert.doesNotMatch(serf.log(), /Error invoking script|Failed to respond to query/);
  });
});
