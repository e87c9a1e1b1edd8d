// The agent's and the client commands' own failures: one line on stderr and a non-zero exit,
// never a stack trace or a process left running; the HTTP token flags; loopback by default.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CliResult, runCli as runCliFromSource } from '../helpers/cli.js';
import { Processes, httpOf, startAgent, waitFor } from '../helpers/processes.js';
import { listen } from '../helpers/servers.js';

/** Generous: a CLI that is still running after this has hung (code null), which fails the test. */
const HUNG_AFTER_MS = 20_000;

/** Runs the CLI from source, with no token from the environment; killed (by its PID) if it hangs. */
const runCli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCliFromSource(args, '', { env: { SWIMRING_HTTP_TOKEN: '', ...env }, hungAfterMs: HUNG_AFTER_MS });

/** Exit code `code` and exactly one line on stderr, with no stack frame. */
function oneLine(r: CliResult, code: number, message: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.match(lines[0]!, message);
}

describe('swimring agent: its own failures exit with one line', () => {
  it('--http on a port in use', async () => {
    const taken = createTcpServer();
    const port = await listen(taken);
    try {
      const r = await runCli(['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--http', `127.0.0.1:${port}`, '--log-level', 'silent']);
      oneLine(r, 2, /--http 127\.0\.0\.1:\d+ failed: EADDRINUSE/);
    } finally {
      taken.close();
    }
  });

  for (const [flag, value] of [
    ['--join', 'nohost:99999'],
    ['--join', 'a:b:c'],
    ['--join', ''],
    ['--advertise', 'a:b:c'],
    ['--advertise', '127.0.0.1:99999'],
  ] as const) {
    it(`${flag} ${JSON.stringify(value)}`, async () => {
      const r = await runCli(['agent', '--name', 'x', '--bind', '127.0.0.1:0', flag, value, '--log-level', 'silent']);
      oneLine(r, 2, new RegExp(`^swimring agent: ${flag} must be`));
    });
  }

  it('--http-token and --http-token-file are exclusive; an empty or unreadable token file is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swimring-token-'));
    writeFileSync(join(dir, 'empty'), '\n');
    const base = ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--http', '0', '--log-level', 'silent'];
    oneLine(await runCli([...base, '--http-token', 'a', '--http-token-file', join(dir, 'empty')]), 2, /--http-token and --http-token-file/);
    oneLine(await runCli([...base, '--http-token-file', join(dir, 'empty')]), 2, /--http-token-file .* is empty/);
    oneLine(await runCli([...base, '--http-token-file', join(dir, 'missing')]), 2, /--http-token-file .*ENOENT/);
    oneLine(await runCli([...base, '--http-token', '']), 2, /--http-token must not be empty/);
    oneLine(await runCli(['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--http-token', 'a']), 2, /--http-token needs --http/);
  });
});

describe('swimring members, event and query: their own failures exit with one line', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  for (const command of [['members'], ['event', 'e'], ['query', 'q']]) {
    it(`${command[0]} with the agent down`, async () => {
      const r = await runCli([command[0]!, '--http', '127.0.0.1:1', ...command.slice(1)]);
      oneLine(r, 1, /cannot reach the agent at 127\.0\.0\.1:1/);
    });
  }

  it('against a server that is not an agent: each fails (exit 1, one line), event included', async () => {
    for (const [status, type, body] of [
      [200, 'text/html', '<html>hello</html>'],
      [404, 'text/plain', 'not found'],
      [200, 'application/json', '{"hello":'],
      [500, 'application/json', '[1,2'],
    ] as const) {
      const server = createServer((req, res) => {
        req.resume();
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      });
      servers.push(server);
      const http = `127.0.0.1:${await listen(server)}`;
      for (const command of [['members'], ['event', 'e'], ['query', 'q']]) {
        const r = await runCli([command[0]!, '--http', http, ...command.slice(1)]);
        oneLine(r, 1, /not a swimring agent|agent answered/);
        assert.doesNotMatch(r.stdout, /dispatched!|Total Acks/, `${command[0]} against ${status} ${type}`);
      }
    }
  });

  it('--timeout over 5m and a bad --relay-factor are usage errors', async () => {
    oneLine(await runCli(['query', '--http', '127.0.0.1:1', '--timeout', '24h', 'q']), 2, /--timeout must be at most 5m/);
    oneLine(
      await runCli(['query', '--http', '127.0.0.1:1', '--relay-factor', '9', 'q']),
      2,
      /--relay-factor must be an integer in \[0, 5\]/,
    );
  });
});

describe("the agent's HTTP: loopback by default, a token for what changes anything", () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  it('--http PORT and --http :PORT bind 127.0.0.1', async () => {
    for (const http of ['0', ':0']) {
      const agent = await startAgent(procs, `lo-${http === '0' ? 'a' : 'b'}`, ['--profile', 'local', '--http', http]);
      assert.match(httpOf(agent), /^127\.0\.0\.1:\d+$/, http);
    }
  });

  it('a non-loopback --http without a token logs a warning', async () => {
    const agent = await startAgent(procs, 'wide', ['--profile', 'local', '--http', '0.0.0.0:0']);
    assert.match(httpOf(agent), /^0\.0\.0\.0:\d+$/);
    // The warning and the started line go to different pipes: wait for it rather than race.
    await waitFor('the warning', () => /"level":40[^\n]*no --http-token/.test(agent.stderr()), 10_000);
  });

  it('with --http-token-file, the client commands need the token (flag, file or SWIMRING_HTTP_TOKEN)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swimring-token-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'tok-123\n');
    const agent = await startAgent(procs, 'guarded', ['--profile', 'local', '--http', '0', '--http-token-file', file]);
    const http = `127.0.0.1:${httpOf(agent).split(':')[1]}`;
    oneLine(await runCli(['event', '--http', http, 'e']), 1, /agent answered 401/);
    oneLine(await runCli(['query', '--http', http, '--timeout', '200ms', 'q']), 1, /agent answered 401/);
    oneLine(await runCli(['event', '--http', http, '--http-token', 'wrong', 'e']), 1, /agent answered 401/);
    const byFlag = await runCli(['event', '--http', http, '--http-token', 'tok-123', 'e']);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    const byFile = await runCli(['query', '--http', http, '--http-token-file', file, '--timeout', '200ms', 'q']);
    assert.equal(byFile.code, 0, byFile.stderr);
    assert.match(byFile.stdout, /Total Acks: 1/);
    const byEnv = await runCli(['event', '--http', http, 'e'], { SWIMRING_HTTP_TOKEN: 'tok-123' });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    const members = await runCli(['members', '--http', http]);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, /^guarded /);
  });
});
