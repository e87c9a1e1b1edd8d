import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { Processes, httpOf, startAgent, waitFor } from '../helpers/processes.js';

describe('swimring agent: bad arguments', () => {
  const cases: [string, string[], RegExp][] = [
    ['missing --name', ['agent'], /--name is required/],
    ['a bind that is not an IP', ['agent', '--name', 'x', '--bind', 'example:7946'], /--bind must be an IP address and port/],
    ['a port out of range', ['agent', '--name', 'x', '--bind', '127.0.0.1:70000'], /--bind must be host:port with a port in \[0, 65535\]/],
    [
      'an unknown profile',
      ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--profile', 'moon'],
      /--profile must be one of lan, wan, local/,
    ],
    [
      'a key that is not base64',
      ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--encrypt', 'not a key'],
      /--encrypt must be a base64 key/,
    ],
    [
      'a key of the wrong size',
      ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--encrypt', Buffer.alloc(20).toString('base64')],
      /--encrypt must be a key of 16, 24 or 32 bytes/,
    ],
    ['an unknown log level', ['agent', '--name', 'x', '--log-level', 'loud'], /--log-level must be one of/],
    ['an unknown flag', ['agent', '--name', 'x', '--nope'], /Unknown option '--nope'/],
    ['a tag without =', ['agent', '--name', 'x', '--tag', 'role'], /--tag must be KEY=VALUE, got "role"/],
    [
      'tags over 512 bytes',
      ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--tag', `big=${'x'.repeat(600)}`],
      /--tag must encode to at most 512 bytes/,
    ],
  ];
  for (const [label, args, message] of cases) {
    it(`${label}: one line on stderr, exit code 2`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    });
  }

  it('a port already taken: exit code 2 naming --bind', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await runCli(['agent', '--name', 'x', '--bind', `127.0.0.1:${port}`, '--log-level', 'silent']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--bind 127\.0\.0\.1:\d+ \(tcp\) failed: EADDRINUSE/);
    } finally {
      server.close();
    }
  });

  it('--help documents every flag', async () => {
    const r = await runCli(['agent', '--help']);
    assert.equal(r.code, 0);
    for (const flag of ['--name', '--bind', '--advertise', '--join', '--tag', '--profile', '--encrypt', '--http', '--log-level'])
      assert.ok(r.stdout.includes(flag), flag);
  });
});

describe('swimring event and swimring query', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  const usage: [string, string[], RegExp][] = [
    ['event without --http', ['event', 'deploy'], /--http is required/],
    ['query without a name', ['query', '--http', '127.0.0.1:1'], /expected NAME and an optional PAYLOAD/],
    ['query with a bad format', ['query', '--http', '127.0.0.1:1', '--format', 'xml', 'q'], /--format must be text or json/],
    ['query with a bad tag filter', ['query', '--http', '127.0.0.1:1', '--tag', 'role', 'q'], /--tag must be KEY=REGEXP/],
  ];
  for (const [label, args, message] of usage) {
    it(`${label}: one line on stderr, exit code 2`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('an unreachable agent is exit code 1 with the address', async () => {
    const r = await runCli(['event', '--http', '127.0.0.1:1', 'deploy']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach the agent at 127\.0\.0\.1:1/);
  });

  it('through a running agent: the event is printed by the agent, the query is acked and answered', async () => {
    const agent = await startAgent(procs, 'cli-1', ['--profile', 'local', '--http', '127.0.0.1:0']);
    const http = httpOf(agent);
    const sent = await runCli(['event', '--http', http, 'deploy', 'v9']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, "Event 'deploy' dispatched! Coalescing enabled: true\n");
    await waitFor(
      'the agent prints the event',
      () => agent.lines.some((l) => l['event'] === 'user-event' && l['name'] === 'deploy' && l['payload'] === 'v9'),
      10_000,
    );
    const q = await runCli(['query', '--http', http, '--timeout', '500ms', 'ping', 'x']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stdout, "Query 'ping' dispatched\nAck from 'cli-1'\nTotal Acks: 1\nTotal Responses: 0\n");
    assert.ok(agent.lines.some((l) => l['event'] === 'query' && l['name'] === 'ping' && l['from'] === 'cli-1'));
    const big = await runCli(['event', '--http', http, 'big', 'x'.repeat(600)]);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /user event must be at most 512 bytes/);
  });
});
