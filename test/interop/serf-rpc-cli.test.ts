// The real `serf` CLI (Debian's serf 0.9.4) driving a swimring agent over Serf's RPC protocol, in
// a cluster with a real serf agent: where the two agents should answer alike the outputs are
// compared, elsewhere the exact expected output is asserted.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it as nodeIt } from 'node:test';
import { missingBinary } from '../helpers/binaries.js';
import { Processes, freePort, kill, startAgent, startSerf, waitFor, type Agent, type SerfAgent } from '../helpers/processes.js';
import { type Plain, SerfRpcClient } from '../helpers/serf-rpc-client.js';

/** Without serf each test is skipped, and counted so; under CI=true a missing serf throws. */
const skip = missingBinary('serf');
const it = (name: string, fn: () => Promise<void>) => nodeIt(name, { skip }, fn);

const AUTH = 'rpc-test-token';
const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The serf CLI prints some errors on stdout, some on stderr. */
const said = (r: Run) => r.stdout + r.stderr;

/** Runs `serf CMD -rpc-addr=ADDR [-rpc-auth=..] ARGS`; resolves whatever the exit code. */
function serf(rpc: string, cmd: string, args: string[] = [], auth?: string): Promise<Run> {
  const full = [cmd, `-rpc-addr=${rpc}`, ...(auth ? [`-rpc-auth=${auth}`] : []), ...args];
  return new Promise((resolve) =>
    execFile('serf', full, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    }),
  );
}

interface JsonMember {
  name: string;
  addr: string;
  port: number;
  tags: Record<string, string>;
  status: string;
  protocol: { max: number; min: number; version: number };
}

function sortedMembers(out: string): JsonMember[] {
  return ((JSON.parse(out) as { members: JsonMember[] }).members ?? []).sort((a, b) => a.name.localeCompare(b.name));
}

const sortedLines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l.trim() !== '')
    .sort();

describe('the serf CLI against a swimring agent (Serf RPC)', () => {
  const procs = new Processes();
  let s1: SerfAgent;
  let ts: Agent;
  let tsRpc: string;
  const onTs = (cmd: string, args: string[] = []) => serf(tsRpc, cmd, args, AUTH);
  const onSerf = (cmd: string, args: string[] = []) => serf(s1.rpc, cmd, args);

  before(async () => {
    if (skip) return;
    s1 = await startSerf(procs, 's1', { encrypt: K1, tags: { role: 'serf' }, eventHandlers: ['query:whoami=printf serf-s1'] });
    tsRpc = `127.0.0.1:${await freePort()}`;
    ts = await startAgent(procs, 'ts1', [
      '--join',
      `127.0.0.1:${s1.port}`,
      '--encrypt',
      K1,
      '--tag',
      'role=ts',
      '--rpc-addr',
      tsRpc,
      '--rpc-auth',
      AUTH,
    ]);
    assert.equal(ts.lines.find((l) => l['event'] === 'started')?.['rpc'], tsRpc, 'the started line names the RPC address');
    await waitFor(
      'both agents list both members alive',
      async () => {
        const [a, b] = await Promise.all([onTs('members', ['-format=json']), onSerf('members', ['-format=json'])]);
        const alive = (r: Run) => r.code === 0 && sortedMembers(r.stdout).filter((m) => m.status === 'alive').length === 2;
        return alive(a) && alive(b);
      },
      30_000,
    );
  });
  after(() => procs.stopAll());

  it('members, -detailed, -format json, -status, -tag and -name answer as the serf agent does', async () => {
    const [a, b] = await Promise.all([onTs('members', ['-format=json']), onSerf('members', ['-format=json'])]);
    assert.deepEqual(sortedMembers(a.stdout), sortedMembers(b.stdout));
    const ts1 = sortedMembers(a.stdout).find((m) => m.name === 'ts1')!;
    assert.deepEqual(ts1, {
      name: 'ts1',
      addr: `127.0.0.1:${ts.port}`,
      port: ts.port,
      tags: { role: 'ts' },
      status: 'alive',
      protocol: { max: 5, min: 2, version: 5 },
    });
    for (const args of [
      [],
      ['-detailed'],
      ['-status=alive'],
      ['-tag', 'role=ts'],
      ['-tag', 'role=s.*'],
      ['-name=s.*'],
      ['-status=failed'],
      ['-tag', 'role=t'],
    ]) {
      const [x, y] = await Promise.all([onTs('members', args), onSerf('members', args)]);
      assert.equal(x.code, 0, `${args.join(' ')}: ${x.stderr}`);
      assert.deepEqual(sortedLines(x.stdout), sortedLines(y.stdout), `serf members ${args.join(' ')}`);
    }
    assert.match((await onTs('members', ['-tag', 'role=ts'])).stdout, /^ts1\s+127\.0\.0\.1:\d+\s+alive\s+role=ts\n$/);
    assert.equal((await onTs('members', ['-status=failed'])).stdout, '\n');
    // Without the token: Serf's error string, through the CLI.
    const noAuth = await serf(tsRpc, 'members');
    assert.equal(noAuth.code, 1);
    assert.match(said(noAuth), /Error retrieving members: Authentication required/);
    const badAuth = await serf(tsRpc, 'members', [], 'wrong');
    assert.match(said(badAuth), /Error connecting to Serf agent: Invalid authentication token/);
  });

  it('info, rtt and reachability', async () => {
    const info = await onTs('info', ['-format=json']);
    assert.equal(info.code, 0, info.stderr);
    const stats = JSON.parse(info.stdout) as Record<string, Record<string, string>>;
    assert.deepEqual(Object.keys(stats).sort(), ['agent', 'event_handlers', 'runtime', 'serf', 'tags']);
    assert.deepEqual(stats['agent'], { name: 'ts1' });
    assert.deepEqual(stats['tags'], { role: 'ts' });
    assert.equal(stats['serf']!['encrypted'], 'true');
    assert.equal(stats['serf']!['members'], '2');
    assert.equal(stats['serf']!['failed'], '0');
    assert.match(stats['serf']!['member_time']!, /^\d+$/);
    assert.equal(stats['runtime']!['os'], process.platform);
    const text = await onTs('info');
    assert.match(text.stdout, /^agent:\n\tname = ts1\nevent_handlers:\nruntime:\n/);
    // A Serf agent with coordinates disabled has none to give: rtt fails the same way.
    const rtt = await onTs('rtt', ['s1']);
    assert.equal(rtt.code, 1);
    assert.equal(said(rtt).trim(), 'Could not find a coordinate for node "s1"');
    const rtt2 = await onTs('rtt', ['s1', 'ts1']);
    assert.equal(said(rtt2).trim(), 'Could not find a coordinate for node "s1"');
    for (const run of [onTs, onSerf]) {
      const r = await run('reachability');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stdout, 'Total members: 2, live members: 2\nStarting reachability test...\nSuccessfully contacted all live nodes\n');
    }
  });

  it('event reaches the stream clients of both agents', async () => {
    const tsClient = await SerfRpcClient.connect(tsRpc, { authKey: AUTH });
    const serfClient = await SerfRpcClient.connect(s1.rpc);
    const seen: Record<string, Plain[]> = { ts: [], serf: [] };
    try {
      for (const [who, c] of [
        ['ts', tsClient],
        ['serf', serfClient],
      ] as const) {
        const r = await c.subscribe('stream', { Type: 'user:deploy' }, (rec) => seen[who]!.push(rec));
        assert.equal(r.error, '');
      }
      const sent = await onTs('event', ['deploy', 'v1']);
      assert.equal(sent.stdout, "Event 'deploy' dispatched! Coalescing enabled: true\n");
      await onTs('event', ['other', 'x']);
      await onTs('event', ['-coalesce=false', 'deploy', 'v2']);
      await waitFor('both streams got both deploy events', () => seen['ts']!.length >= 2 && seen['serf']!.length >= 2, 20_000);
      for (const who of ['ts', 'serf']) {
        // In Lamport order: a coalescing agent may hold an event back a little.
        const byTime = [...seen[who]!].sort((a, b) => Number((a as { LTime: number }).LTime) - Number((b as { LTime: number }).LTime));
        const records = byTime.map((r) => {
          const { LTime, ...rest } = r as Record<string, Plain>;
          assert.equal(typeof LTime, 'number');
          return rest;
        });
        assert.deepEqual(
          records,
          [
            { Coalesce: true, Event: 'user', Name: 'deploy', Payload: 'v1' },
            { Coalesce: false, Event: 'user', Name: 'deploy', Payload: 'v2' },
          ],
          who,
        );
      }
      const times = (rs: Plain[]) => rs.map((r) => (r as { LTime: number }).LTime).sort();
      assert.deepEqual(times(seen['ts']!), times(seen['serf']!), 'the same Lamport times');
    } finally {
      tsClient.close();
      serfClient.close();
    }
  });

  it('query: acks and responses from a serf event handler and from an RPC client of the swimring agent', async () => {
    const responder = await SerfRpcClient.connect(tsRpc, { authKey: AUTH });
    try {
      const answered: Plain[] = [];
      const r = await responder.subscribe('stream', { Type: 'query:whoami' }, (rec) => {
        answered.push(rec);
        const q = rec as { ID: number; Name: string; Payload: string };
        void responder
          .request('respond', { ID: q.ID, Payload: { bin: Buffer.from(`ts1 got ${q.Payload}`) } })
          .then((res) => assert.equal(res.error, ''));
      });
      assert.equal(r.error, '');
      const expected = { Acks: ['s1', 'ts1'], Responses: { s1: 'serf-s1', ts1: 'ts1 got hi' } };
      for (const run of [onTs, onSerf]) {
        const q = await run('query', ['-format=json', '-timeout=3s', 'whoami', 'hi']);
        assert.equal(q.code, 0, q.stderr);
        const out = JSON.parse(q.stdout) as { Acks: string[]; Responses: Record<string, string> };
        assert.deepEqual({ Acks: [...out.Acks].sort(), Responses: out.Responses }, expected);
      }
      const text = await onTs('query', ['-timeout=2s', '-node=ts1', 'whoami', 'x']);
      assert.equal(
        text.stdout,
        "Query 'whoami' dispatched\nAck from 'ts1'\nResponse from 'ts1': ts1 got x\nTotal Acks: 1\nTotal Responses: 1\n",
      );
      const tagged = await onTs('query', ['-format=json', '-timeout=2s', '-tag', 'role=serf', 'whoami', 'y']);
      assert.deepEqual(JSON.parse(tagged.stdout), { Acks: ['s1'], Responses: { s1: 'serf-s1' } });
      const noAck = await onTs('query', ['-format=json', '-timeout=2s', '-no-ack', '-node=s1', 'whoami', 'z']);
      assert.deepEqual(JSON.parse(noAck.stdout), { Acks: null, Responses: { s1: 'serf-s1' } });
      const internal = await onTs('query', ['_serf_x']);
      assert.equal(internal.code, 1);
      assert.match(said(internal), /Error sending query: Queries cannot contain the '_serf_' prefix/);
      assert.ok(answered.every((a) => (a as { Event: string }).Event === 'query'));
    } finally {
      responder.close();
    }
  });

  it('tags -set/-delete, join, keys -list/-install/-use/-remove', async () => {
    const tagged = await onTs('tags', ['-set', 'zone=a', '-set', 'tier=1', '-delete', 'role']);
    assert.equal(tagged.stdout, 'Successfully updated agent tags\n');
    await waitFor(
      's1 sees the new tags of ts1',
      async () => {
        const m = sortedMembers((await onSerf('members', ['-format=json'])).stdout).find((x) => x.name === 'ts1');
        return m?.tags['zone'] === 'a' && m.tags['tier'] === '1' && !('role' in m.tags);
      },
      20_000,
    );
    assert.deepEqual(
      sortedMembers((await onTs('members', ['-format=json'])).stdout),
      sortedMembers((await onSerf('members', ['-format=json'])).stdout),
    );

    const s3 = await startSerf(procs, 's3', { encrypt: K1 });
    const joined = await onTs('join', [`127.0.0.1:${s3.port}`]);
    assert.equal(joined.stdout, 'Successfully joined cluster by contacting 1 nodes.\n');
    await waitFor(
      'all three agents alive everywhere',
      async () => {
        const outs = await Promise.all([
          onTs('members', ['-format=json', '-status=alive']),
          onSerf('members', ['-format=json', '-status=alive']),
        ]);
        return outs.every(
          (o) =>
            sortedMembers(o.stdout)
              .map((m) => m.name)
              .join() === 's1,s3,ts1',
        );
      },
      30_000,
    );

    const list = async (run: typeof onTs) => {
      const r = await run('keys', ['-list']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return sortedLines(r.stdout);
    };
    const keyLine = (k: string, n: number) => new RegExp(`^${k.replace(/[+/]/g, '\\$&')}\\s+\\[${n}/3\\]$`);
    let lines = await list(onTs);
    assert.deepEqual(lines, await list(onSerf));
    assert.equal(lines.filter((l) => keyLine(K1, 3).test(l)).length, 1, lines.join('\n'));
    const install = await onTs('keys', [`-install=${K2}`]);
    assert.equal(install.stdout, '==> Installing key on all members...\n==> Successfully installed key!\n');
    lines = await list(onTs);
    assert.deepEqual(lines, await list(onSerf));
    assert.ok(lines.some((l) => keyLine(K1, 3).test(l)) && lines.some((l) => keyLine(K2, 3).test(l)), lines.join('\n'));
    assert.equal(
      (await onTs('keys', [`-use=${K2}`])).stdout,
      '==> Changing primary key on all members...\n==> Successfully changed primary key!\n',
    );
    assert.equal((await onTs('keys', [`-remove=${K1}`])).stdout, '==> Removing key on all members...\n==> Successfully removed key!\n');
    lines = await list(onTs);
    assert.deepEqual(lines, await list(onSerf));
    assert.ok(lines.some((l) => keyLine(K2, 3).test(l)) && !lines.some((l) => l.startsWith(K1)), lines.join('\n'));
    const bad = await onTs('keys', ['-install=garbage']);
    assert.equal(bad.code, 1);
    assert.match(said(bad), /Error installing key: illegal base64 data at input byte 4/);
    assert.deepEqual(bad, { ...(await onSerf('keys', ['-install=garbage'])) }, 'the same failure as the serf agent');
    // The cluster still talks with the new key only.
    assert.equal((await onTs('reachability')).code, 0);
    await kill(s3.child, 'SIGKILL');
  });

  it('force-leave, then force-leave -prune, of a failed serf agent', async () => {
    await waitFor(
      'ts1 sees s3 failed',
      async () => sortedMembers((await onTs('members', ['-format=json'])).stdout).some((m) => m.name === 's3' && m.status === 'failed'),
      45_000,
    );
    const r = await onTs('force-leave', ['s3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    for (const run of [onTs, onSerf]) {
      await waitFor(
        's3 is left',
        async () => sortedMembers((await run('members', ['-format=json'])).stdout).some((m) => m.name === 's3' && m.status === 'left'),
        20_000,
      );
    }
    assert.equal((await onTs('force-leave', ['-prune', 's3'])).code, 0);
    await waitFor(
      's3 is gone from ts1',
      async () => !sortedMembers((await onTs('members', ['-format=json'])).stdout).some((m) => m.name === 's3'),
      20_000,
    );
  });

  it('monitor streams the agent log; leave shuts the agent down gracefully', async () => {
    const monitor = procs.track(
      spawn('serf', ['monitor', `-rpc-addr=${tsRpc}`, `-rpc-auth=${AUTH}`, '-log-level=debug'], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    let out = '';
    monitor.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    await onTs('event', ['monitored', 'x']);
    await waitFor(
      'serf monitor prints swimring log lines',
      () => out.split('\n').filter((l) => /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(DEBUG|INFO|WARN)\] swimring: /.test(l)).length >= 3,
      20_000,
    );
    assert.match(out, /\[INFO\] swimring: gossip node started name=ts1/);
    await kill(monitor, 'SIGKILL');

    const left = await onTs('leave');
    assert.equal(left.stdout, 'Graceful leave complete\n');
    await waitFor('the swimring agent exits', () => ts.child.exitCode !== null, 20_000);
    assert.ok(ts.lines.some((l) => l['event'] === 'left'));
    await waitFor(
      's1 sees ts1 left',
      async () => sortedMembers((await onSerf('members', ['-format=json'])).stdout).some((m) => m.name === 'ts1' && m.status === 'left'),
      20_000,
    );
  });
});
