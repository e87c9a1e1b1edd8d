// The demos behind `npm start` and `npm run demo:partition` run, explain what they show, check
// what they claim, and clean up after themselves; `npm start -- --keep` leaves a cluster the
// printed commands work against, and SIGINT stops every agent.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { waitFor } from '../helpers/processes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Generous: five agents start, fail over and hand off on a loaded 2-core machine. */
const DEMO_LIMIT_MS = 150_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { timeout: number; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    // SIGTERM on timeout: the demo then stops its agents itself.
    execFile(file, args, { cwd: root, encoding: 'utf8', killSignal: 'SIGTERM', maxBuffer: 16 << 20, ...options }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** PIDs this file learned of (agents run in their own process group); killed after the tests if still there. */
const leftovers = new Set<number>();
after(() => {
  for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

/** The text between a step's heading and the next one. */
function section(out: string, heading: RegExp): string {
  const start = out.search(heading);
  assert.ok(start >= 0, `no heading ${heading}`);
  const rest = out.slice(start + 1);
  const end = rest.search(/\n\d\. |\nThe cluster keeps running|\nStopping:/);
  return end < 0 ? rest : rest.slice(0, end);
}

describe('npm start (examples/cluster-demo.ts)', () => {
  it(
    'tells the story: partitions, a failure, a handoff, views that agree; exits 0 with every agent stopped',
    { timeout: DEMO_LIMIT_MS + 30_000 },
    async () => {
      const r = await run(process.execPath, ['--import', 'tsx', 'examples/cluster-demo.ts'], { timeout: DEMO_LIMIT_MS });
      const out = r.stdout;
      assert.equal(r.code, 0, `exit ${r.code ?? r.signal}\n${out}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /demo failed/);

      // What a partition is and what the four events mean, before anything happens.
      assert.match(out, /cut into 64 partitions: a key such as "user:1001" belongs to partition\s+hash\(key\) mod 64/);
      assert.match(out, /the primary serves it, the replica keeps a copy/);
      assert.match(out, /^ +acquire +it starts holding a partition/m);
      assert.match(out, /^ +release +it stops holding a partition/m);
      assert.match(out, /^ +promote +it moves up from replica to primary/m);
      assert.match(out, /^ +demote +it moves down from primary to replica/m);
      assert.match(out, /Handoff is on/);
      assert.match(out, /Dashboard: http:\/\/127\.0\.0\.1:\d+\/ +\(open it in a browser/);

      // Step 1: a table of the five members; the 64 partitions have one primary and one replica each.
      const start = section(out, /^1\. Start the cluster/m);
      assert.match(start, /member +gossip address +primary +replica/);
      const rows = [...start.matchAll(/^ +(demo-\d) +127\.0\.0\.1:\d+ +(\d+) +(\d+)$/gm)];
      assert.deepEqual(
        rows.map((m) => m[1]),
        ['demo-1', 'demo-2', 'demo-3', 'demo-4', 'demo-5'],
      );
      assert.equal(
        rows.reduce((n, m) => n + Number(m[2]), 0),
        64,
      );
      assert.equal(
        rows.reduce((n, m) => n + Number(m[3]), 0),
        64,
      );
      assert.match(start, /GET \/route\?key=user:1001\): partition \d+, primary demo-\d, replica demo-\d/);

      // Step 2: demo-3 is killed; a before → after table; survivors took over from live members only.
      const kill = section(out, /^2\. Kill demo-3/m);
      assert.match(kill, /declared it failed\s+[\d.]+ s(?: to [\d.]+ s)? after the kill/);
      assert.match(kill, /member +primary +replica +what changed for it/);
      assert.match(kill, /^ +demo-3 +\d+ → - +\d+ → - +dead/m);
      const survivors = [...kill.matchAll(/^ +(demo-[1245]) +\d+ → (\d+) +\d+ → (\d+) +(.*)$/gm)];
      assert.equal(survivors.length, 4);
      assert.equal(
        survivors.reduce((n, m) => n + Number(m[2]), 0),
        64,
      );
      assert.ok(survivors.every((m) => !m[4]!.includes('nothing to copy')));
      assert.match(kill, /Nothing was lost: each of the \d+ partitions demo-3 held had its other owner alive/);

      // Step 3: demo-3 acquires only its share, each from a member that covered it, and is served
      // by the previous holders until it has loaded it.
      const restart = section(out, /^3\. Restart demo-3/m);
      assert.match(restart, /^ +demo-3 +- → \d+ +- → \d+ +acquired \d+ \(from demo-[1245]\)(?:, \d+ \(from demo-[1245]\))*$/m);
      assert.match(
        restart,
        /owners demo-3, demo-\d; served by (?:demo-[1245](?:, )?)+ \(demo-3 is still loading it\)\n[\s\S]*owners demo-3, demo-\d; served by demo-3[^\n]*: demo-3 has loaded it/,
      );
      assert.match(restart, /released each partition only once\s+demo-3 had loaded it/);
      assert.match(restart, /64 partitions \d+ times meanwhile: every partition always had a loaded holder/);

      // Step 4: every agent's /members and /ring, compared.
      const views = section(out, /^4\. Do all views agree\?/m);
      assert.match(views, /member +alive members it sees +ring checksum/);
      const checks = [...views.matchAll(/^ +(demo-\d) +(\d+) +([0-9a-f]{16})$/gm)];
      assert.equal(checks.length, 5);
      assert.ok(checks.every((m) => m[2] === '5'));
      assert.equal(new Set(checks.map((m) => m[3])).size, 1);
      assert.match(
        views,
        new RegExp(`All views agree: every agent sees 5 alive members and the same ring \\(checksum ${checks[0]![3]}\\)`),
      );

      // It stopped the agents it started, by PID, and they are gone.
      const pids = /SIGINT to PIDs ([\d, ]+)\)/.exec(out)?.[1]?.split(', ').map(Number) ?? [];
      assert.equal(pids.length, 5);
      for (const pid of pids) leftovers.add(pid);
      assert.deepEqual(pids.filter(alive), []);
      assert.match(out, /Done in [\d.]+ s\.\n$/);
    },
  );

  it(
    '--keep prints every address and a members command that works, and SIGINT stops every agent',
    { timeout: DEMO_LIMIT_MS + 90_000 },
    async () => {
      assert.ok(existsSync(`${root}dist/cli/main.js`), 'dist/cli/main.js is missing: run npm run build (npm ci and npm test do)');
      const demo: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'examples/cluster-demo.ts', '--keep'], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      demo.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
      demo.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
      try {
        const command = await waitFor(
          'the kept cluster and its members command',
          () => {
            if (demo.exitCode !== null) throw new Error(`the demo exited with ${demo.exitCode}\n${out}\n${err}`);
            return /^ +Members: +(node dist\/cli\/main\.js members --http 127\.0\.0\.1:\d+)$/m.exec(out)?.[1];
          },
          DEMO_LIMIT_MS,
        );
        const kept = section(out, /^The cluster keeps running \(--keep\)/m);
        assert.match(kept, /member +pid +gossip address +http address/);
        const rows = [...kept.matchAll(/^ +(demo-\d) +(\d+) +(127\.0\.0\.1:\d+) +(127\.0\.0\.1:\d+)$/gm)].map((m) => ({
          name: m[1]!,
          pid: Number(m[2]),
          gossip: m[3]!,
          http: m[4]!,
        }));
        for (const row of rows) leftovers.add(row.pid);
        assert.deepEqual(
          rows.map((row) => row.name),
          ['demo-1', 'demo-2', 'demo-3', 'demo-4', 'demo-5'],
        );
        assert.ok(command.endsWith(`--http ${rows[0]!.http}`));
        assert.match(kept, new RegExp(`Dashboard: +http://${rows[0]!.http}/ +\\(open it in a browser\\)`));
        assert.ok(out.includes(`Dashboard: http://${rows[0]!.http}/`), 'the dashboard URL printed at the start is demo-1 again');
        // Each printed HTTP address is that agent's.
        for (const row of rows) {
          const health = (await (await fetch(`http://${row.http}/health`)).json()) as { name: string };
          assert.equal(health.name, row.name);
        }

        // The printed command, as printed.
        const [, ...args] = command.split(' ');
        const members = await run(process.execPath, args, { timeout: 30_000 });
        assert.equal(members.code, 0, members.stderr);
        const listed = members.stdout
          .trimEnd()
          .split('\n')
          .map((line) => line.split(/ +/).slice(0, 3));
        assert.deepEqual(
          listed,
          rows.map((row) => [row.name, row.gossip, 'alive']),
        );

        demo.kill('SIGINT');
        assert.equal(await exited, 0, `${out}\n${err}`);
        assert.match(out, /Stopping: each agent leaves the cluster gracefully/);
        await waitFor('every agent to exit', () => rows.every((row) => !alive(row.pid)), 30_000);
      } finally {
        if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
      }
    },
  );
});

describe('npm run demo:partition (examples/partition-demo.ts)', () => {
  it('exits 0 and explains routing, data movement and the events', { timeout: 60_000 }, async () => {
    const r = await run('npm', ['run', '--silent', 'demo:partition'], { timeout: 60_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /owners are listed primary first/);
    assert.match(r.stdout, /user:1001 +→ partition +\d+ → cache-[a-e], cache-[a-e], cache-[a-e]\n/);
    assert.match(r.stdout, /Each \(partition, owner\) pair is a slot: 2056 × 3 = 6168 slots/);
    assert.match(r.stdout, /^ +jump +copies [\d.]+% of slots \([\d.]+× ideal\); cache-c sees \d+ release/m);
    assert.match(r.stdout, /^ +rendezvous copies [\d.]+% of slots \([\d.]+× ideal\); cache-c sees /m);
    assert.match(r.stdout, /emits 0 events/);
  });
});
