import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';

describe('swimring agent: bad arguments', () => {
  const cases: [string, string[], RegExp][] = [
    ['missing --name', ['agent'], /--name is required/],
    ['a bind that is not an IP', ['agent', '--name', 'x', '--bind', 'example:7946'], /--bind must be an IP address and port/],
    ['a port out of range', ['agent', '--name', 'x', '--bind', '127.0.0.1:70000'], /--bind must be host:port with a port in \[0, 65535\]/],
    ['an unknown profile', ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--profile', 'moon'], /--profile must be one of lan, wan, local/],
    ['a key that is not base64', ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--encrypt', 'not a key'], /--encrypt must be a base64 key/],
    ['a key of the wrong size', ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--encrypt', Buffer.alloc(20).toString('base64')], /--encrypt must be a key of 16, 24 or 32 bytes/],
    ['an unknown log level', ['agent', '--name', 'x', '--log-level', 'loud'], /--log-level must be one of/],
    ['an unknown flag', ['agent', '--name', 'x', '--nope'], /Unknown option '--nope'/],
    ['a tag without =', ['agent', '--name', 'x', '--tag', 'role'], /--tag must be KEY=VALUE, got "role"/],
    ['tags over 512 bytes', ['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--tag', `big=${'x'.repeat(600)}`], /--tag must encode to at most 512 bytes/],
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
    for (const flag of ['--name', '--bind', '--advertise', '--join', '--tag', '--profile', '--encrypt', '--http', '--log-level']) assert.ok(r.stdout.includes(flag), flag);
  });
});
