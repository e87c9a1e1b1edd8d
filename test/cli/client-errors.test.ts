// swimring members / event / query against everything that is not a working agent: a closed
// port, a port that accepts and stays silent, servers that answer an HTTP error, that do not
// speak HTTP, that hang up, that break off a streamed answer. Each must end the command with one
// line on stderr (never a stack trace), nothing on stdout and exit code 1 (2 for bad arguments
// and for the agent's own 400, which means the request was bad). Servers are in this process,
// on 127.0.0.1; the CLI runs as a child process, as a user runs it.
import assert from 'node:assert/strict';
import { type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { type Server, type Socket, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type CliResult, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/processes.js';

/** Long enough that no legitimate path gets near it; a client that hangs fails instead of stalling the suite. */
const TEST_TIMEOUT_MS = 60_000;

function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** The command failed the way a user should see it: one line naming the command, no stack, no stdout. */
function assertOneLine(r: CliResult, command: string, code: number, message: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.ok(r.stderr.endsWith('\n'), `stderr ends its line: ${JSON.stringify(r.stderr)}`);
  assert.equal(r.stderr.split('\n').length, 2, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.ok(!/\bat .+:\d+:\d+/.test(r.stderr), `no stack trace: ${r.stderr}`);
  assert.ok(r.stderr.startsWith(`swimring ${command}: `), r.stderr);
  assert.match(r.stderr, message);
}

/** Each client command with the arguments it needs besides --http. */
const COMMANDS: [string, string[]][] = [
  ['members', []],
  ['event', ['deploy', 'v1']],
  ['query', ['--timeout', '1s', 'ping']],
];

describe('swimring members, event and query when the agent cannot be used', { timeout: TEST_TIMEOUT_MS * 4 }, () => {
  const sockets = new Set<Socket>();
  const accepted: Record<string, number> = { silent: 0, garbage: 0, hangup: 0 };
  // Accepts and never writes a byte.
  const silent = createServer((s) => {
    accepted['silent']!++;
    sockets.add(s);
  });
  // Something else on the port (an SSH server, say).
  const garbage = createServer((s) => {
    accepted['garbage']!++;
    s.on('error', () => {});
    s.end('SSH-2.0-OpenSSH_9.6\r\n');
  });
  // Accepts and closes at once.
  const hangup = createServer((s) => {
    accepted['hangup']!++;
    s.destroy();
  });
  // An HTTP server giving whatever answer the running test set: a status with a body, or a 200
  // stream that breaks off.
  let httpAnswer: 'broken-stream' | { status: number; type: string; body: string } = { status: 500, type: 'text/plain', body: '' };
  const http = createHttpServer((req, res) => {
    req.resume();
    const answer = httpAnswer;
    if (answer === 'broken-stream') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' });
      res.write(`${JSON.stringify({ type: 'ack', from: 'n1' })}\n`);
      // Let the line reach the client, then drop the connection mid-answer.
      setImmediate(() => res.socket?.destroy());
      return;
    }
    const { status, type, body } = answer;
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  });
  const ports: Record<string, number> = {};

  before(async () => {
    ports['silent'] = await listen(silent);
    ports['garbage'] = await listen(garbage);
    ports['hangup'] = await listen(hangup);
    ports['http'] = await listen(http);
  });
  after(() => {
    for (const s of sockets) s.destroy();
    for (const s of [silent, garbage, hangup, http]) s.close();
  });

  it('a closed port: "cannot reach the agent", exit 1, for each command', async () => {
    const port = await freePort();
    for (const [command, args] of COMMANDS) {
      const r = await runCli([command, '--http', `127.0.0.1:${port}`, ...args]);
      assertOneLine(r, command, 1, new RegExp(`cannot reach the agent at 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
    }
  });

  it('a port that accepts and never answers: given up after --http-timeout, exit 1, for each command', async () => {
    for (const [command, args] of COMMANDS) {
      const before = accepted['silent']!;
      const r = await runCli([command, '--http', `127.0.0.1:${ports['silent']}`, '--http-timeout', '300ms', ...args]);
      // query waits its own --timeout (1s) first: the agent says nothing until the query ends.
      const waited = command === 'query' ? '1.3 s' : '300 ms';
      assertOneLine(
        r,
        command,
        1,
        new RegExp(`the agent at 127\\.0\\.0\\.1:${ports['silent']} sent nothing for ${waited} \\(--http-timeout\\)`),
      );
      assert.equal(accepted['silent'], before + 1, 'the client did connect: it was the silence that ended it');
    }
  });

  // From here on the three commands share the code under test (one request, its answer judged
  // the same way): each case runs one of them, in turn, to keep the child processes few.
  const inTurn = (i: number) => COMMANDS[i % COMMANDS.length]!;

  it('a server that does not speak HTTP, and one that hangs up at once: exit 1', async () => {
    const [gc, gargs] = inTurn(0);
    assertOneLine(
      await runCli([gc, '--http', `127.0.0.1:${ports['garbage']}`, ...gargs]),
      gc,
      1,
      /is not a swimring agent: it does not answer in HTTP/,
    );
    const [hc, hargs] = inTurn(1);
    assertOneLine(await runCli([hc, '--http', `127.0.0.1:${ports['hangup']}`, ...hargs]), hc, 1, /closed the connection without answering/);
    assert.equal(accepted['garbage'], 1);
    assert.equal(accepted['hangup'], 1);
  });

  // Foreign answers (a 404 page, a 200 that is not JSON) are in agent-cli-errors.test.ts.
  const statuses: [string, { status: number; type: string; body: string }, number, RegExp][] = [
    [
      "500 with the agent's JSON error (a multi-line message keeps its first line)",
      { status: 500, type: 'application/json', body: JSON.stringify({ error: 'boom\n    at somewhere (x.js:1:2)' }) },
      1,
      /agent answered 500: boom$/m,
    ],
    [
      '401 (a wrong or missing --http-token)',
      { status: 401, type: 'application/json', body: JSON.stringify({ error: 'this endpoint needs Authorization: Bearer <token>' }) },
      1,
      /agent answered 401: this endpoint needs Authorization/,
    ],
    [
      '503 (the agent is at a limit)',
      { status: 503, type: 'application/json', body: JSON.stringify({ error: 'try again later' }) },
      1,
      /agent answered 503: try again later/,
    ],
    [
      '400: the agent calls the request bad, a usage error',
      { status: 400, type: 'application/json', body: JSON.stringify({ error: 'name is required' }) },
      2,
      /: name is required$/m,
    ],
  ];
  statuses.forEach(([label, answer, code, message], i) => {
    const [command, args] = inTurn(i);
    it(`an HTTP ${label}: exit ${code} (${command})`, async () => {
      httpAnswer = answer;
      assertOneLine(await runCli([command, '--http', `127.0.0.1:${ports['http']}`, ...args]), command, code, message);
    });
  });

  it('a streamed query answer that breaks off: exit 1, after the lines already printed', async () => {
    httpAnswer = 'broken-stream';
    const r = await runCli(['query', '--http', `127.0.0.1:${ports['http']}`, '--format', 'json', 'ping']);
    assert.equal(r.code, 1, r.stderr);
    // What arrived before the break is printed: the user sees how far it got.
    assert.equal(r.stdout, `${JSON.stringify({ type: 'ack', from: 'n1' })}\n`);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, /^swimring query: the answer from 127\.0\.0\.1:\d+ broke off/);
  });

  it('a bad --http or --http-timeout is a usage error (exit 2) before anything is sent', async () => {
    const cases: [string[], RegExp][] = [
      [['--http', '127.0.0.1:0'], /--http must name the agent's port/],
      [['--http', '127.0.0.1:99999'], /--http must be host:port with a port in \[0, 65535\]/],
      [['--http', 'no-port-here'], /--http must be/],
      [['--http', `127.0.0.1:${ports['silent']}`, '--http-timeout', '0'], /--http-timeout must be more than 0/],
      [['--http', `127.0.0.1:${ports['silent']}`, '--http-timeout', 'soon'], /--http-timeout must be a duration/],
    ];
    const before = accepted['silent'];
    for (const [i, [flags, message]] of cases.entries()) {
      const [command, args] = inTurn(i);
      assertOneLine(await runCli([command, ...flags, ...args]), command, 2, message);
    }
    assert.equal(accepted['silent'], before, 'nothing connected');
  });
});
