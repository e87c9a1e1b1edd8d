// The agent's HTTP side in-process (agentHttpServer over a real GossipNode or Ring on 127.0.0.1):
// the proxy only ever reaches an owner's `http` origin, queries are bounded and cancelled with
// their client, memory and connections are bounded, a stalled owner does not hang the client,
// and the token guards every endpoint that changes anything.
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, type Server, createServer, request } from 'node:http';
import { type Socket, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type AgentHttpOptions, agentHttpServer } from '../../src/cli/agent-http.js';
import { SwimringError } from '../../src/errors.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { Ring } from '../../src/ring/ring.js';
import { waitFor } from '../helpers/processes.js';
import { close, listen } from '../helpers/servers.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One raw request (the path is sent as given: no client-side URL normalization). */
function send(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** One sample of a Prometheus metric from /metrics (0 when absent). */
async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = (await send(port, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A server that counts every connection made to it: it must never be reached. */
async function secretServer(): Promise<{ port: number; contacts: () => number; server: Server }> {
  let contacts = 0;
  const server = createServer((_req, res) => res.end('secret'));
  server.on('connection', () => contacts++);
  return { port: await listen(server), contacts: () => contacts, server };
}

/** A backend that echoes the request it got (method, path, authorization). */
async function echoBackend(): Promise<{ port: number; server: Server; seen: { url: string; authorization: string | undefined }[] }> {
  const seen: { url: string; authorization: string | undefined }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => res.end(`${req.method} ${req.url}`));
  });
  return { port: await listen(server), server, seen };
}

/** A one-member ring whose `http` tag is `httpTag`, served by agentHttpServer. */
async function ringAgent(
  name: string,
  httpTag: string,
  options: AgentHttpOptions = {},
): Promise<{ ring: Ring; server: Server; port: number }> {
  const ring = await Ring.create({ name, bind: '127.0.0.1:0', profile: 'local', partitions: 8, tags: { http: httpTag } });
  await waitFor('the ring has its member', () => ring.table.members.length === 1, 10_000, 20);
  const server = agentHttpServer(ring.node, ring, options);
  return { ring, server, port: await listen(server) };
}

describe("routing proxy: the target is always the owner's http origin plus the path", () => {
  let secret: Awaited<ReturnType<typeof secretServer>>;
  let backend: Awaited<ReturnType<typeof echoBackend>>;
  let agent: Awaited<ReturnType<typeof ringAgent>>;
  before(async () => {
    secret = await secretServer();
    backend = await echoBackend();
    agent = await ringAgent('ssrf-1', `http://127.0.0.1:${backend.port}/app`);
  });
  after(async () => {
    await close(agent.server);
    await agent.ring.close();
    await close(backend.server);
    await close(secret.server);
  });

  it(
    'no path form reaches another host (absolute URL, //host, %2F%2F, backslashes, dot segments), for GET and POST',
    { timeout: 60_000 },
    async () => {
      const s = `127.0.0.1:${secret.port}`;
      const forms = [
        `/proxy/k/http://${s}/admin/secret`,
        `/proxy/k/http:/${s}/admin/secret`,
        `/proxy/k/http:%2F%2F${s}/admin/secret`,
        `/proxy/k//${s}/admin/secret`,
        `/proxy/k///${s}/admin/secret`,
        `/proxy/k/%2F%2F${s}/admin/secret`,
        `/proxy/k/\\\\${s}/admin/secret`,
        `/proxy/k/\\/${s}/admin/secret`,
        `/proxy/k/http:\\\\${s}/admin/secret`,
        `/proxy/k/../../../${s}/admin/secret`,
        `/proxy/k/%2e%2e/%2E%2E/${s}`,
        `/proxy/k/.%2e/x`,
        `/proxy/k/./x`,
        `/proxy/k?x=http://${s}/`,
        `/proxy/k/x?u=//${s}/`,
        `/proxy/k/x#//${s}/`,
        `/proxy/k/x@${s}/`,
        `/proxy/k/@${s}/`,
      ];
      const wrong: string[] = [];
      for (const method of ['GET', 'POST']) {
        for (const path of forms) {
          const r = await send(agent.port, path, { method, ...(method === 'POST' ? { body: 'x' } : {}) });
          if (r.status === 400) continue;
          // Anything else must be the owner's answer for a path under its base path.
          if (r.status !== 200 || !r.body.startsWith(`${method} /app/`)) wrong.push(`${method} ${path}: ${r.status} ${r.body}`);
        }
      }
      assert.equal(secret.contacts(), 0, `the secret server was contacted: ${wrong.join('; ')}`);
      assert.deepEqual(wrong, []);
    },
  );

  it('a plain path and query are forwarded under the base path', { timeout: 60_000 }, async () => {
    const r = await send(agent.port, '/proxy/user:7/items/a%20b?x=1&y=2');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'GET /app/items/a%20b?x=1&y=2');
    const root = await send(agent.port, '/proxy/user:7');
    assert.equal(root.body, 'GET /app/');
  });

  it('/proxy/%zz/x (a key that is not valid percent-encoding) is 400', { timeout: 60_000 }, async () => {
    const r = await send(agent.port, '/proxy/%zz/x');
    assert.equal(r.status, 400, r.body);
  });

  it('an owner whose http tag is not an http: URL is skipped (502), never contacted', { timeout: 60_000 }, async () => {
    for (const [i, tag] of [
      `https://127.0.0.1:${secret.port}/`,
      `ftp://127.0.0.1:${secret.port}/`,
      `file:///etc/passwd`,
      `127.0.0.1:${secret.port}`,
      `javascript:fetch('//127.0.0.1:${secret.port}')`,
    ].entries()) {
      const bad = await ringAgent(`ssrf-tag-${i}`, tag);
      try {
        const r = await send(bad.port, '/proxy/k/x');
        assert.equal(r.status, 502, `${tag}: ${r.status} ${r.body}`);
      } finally {
        await close(bad.server);
        await bad.ring.close();
      }
    }
    assert.equal(secret.contacts(), 0);
  });
});

describe('routing proxy: an owner failing mid-body', () => {
  it('an owner that sends headers and part of the body then stalls: the client response is aborted', { timeout: 60_000 }, async () => {
    const stalled = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
    });
    const port = await listen(stalled);
    const agent = await ringAgent('stall-1', `http://127.0.0.1:${port}`, { limits: { proxyAttemptTimeoutMs: 300 } });
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = request({ host: '127.0.0.1', port: agent.port, path: '/proxy/k/x', agent: false }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve('end'));
          res.on('error', () => resolve('aborted'));
          res.on('close', () => resolve(res.complete ? 'end' : 'aborted'));
        });
        req.on('error', () => resolve('aborted'));
        req.end();
      });
      assert.equal(outcome, 'aborted');
    } finally {
      await close(agent.server);
      await agent.ring.close();
      await close(stalled);
    }
  });

  it('an owner that resets the connection mid-body: the client response is aborted', { timeout: 60_000 }, async () => {
    const resetting = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial', () => res.socket?.destroy());
    });
    const port = await listen(resetting);
    const agent = await ringAgent('reset-1', `http://127.0.0.1:${port}`);
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = request({ host: '127.0.0.1', port: agent.port, path: '/proxy/k/x', agent: false }, (res) => {
          res.on('data', () => undefined);
          res.on('error', () => resolve('aborted'));
          res.on('close', () => resolve(res.complete ? 'end' : 'aborted'));
        });
        req.on('error', () => resolve('aborted'));
        req.end();
      });
      assert.equal(outcome, 'aborted');
    } finally {
      await close(agent.server);
      await agent.ring.close();
      await close(resetting);
    }
  });
});

describe('queries through HTTP', () => {
  let node: GossipNode;
  let server: Server;
  let port: number;
  before(async () => {
    node = await GossipNode.create({ name: 'q-1', bind: '127.0.0.1:0', profile: 'local' });
    server = agentHttpServer(node);
    port = await listen(server);
  });
  after(async () => {
    await close(server);
    await node.close();
  });

  /** Starts POST /query and resolves once its headers (our own ack) are in; the request stays open. */
  const openQuery = (timeout: string) =>
    new Promise<{ status: number; destroy: () => void }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: `/query?name=hold&timeout=${timeout}`, method: 'POST', agent: false }, (res) => {
        res.on('data', () => undefined);
        res.on('error', () => undefined);
        resolve({ status: res.statusCode ?? 0, destroy: () => req.destroy() });
      });
      req.on('error', (err) => reject(err));
      req.end();
    });

  it(
    'queries whose client went away release their slot: 5 × 64 abandoned queries, then a query still runs',
    { timeout: 60_000 },
    async () => {
      for (let round = 0; round < 5; round++) {
        const held = await Promise.all(Array.from({ length: 64 }, () => openQuery('4m')));
        assert.deepEqual([...new Set(held.map((h) => h.status))], [200], `round ${round}`);
        for (const h of held) h.destroy();
        await waitFor(
          `round ${round}: no query running`,
          async () => (await metric(port, 'swimring_http_queries_running')) === 0,
          10_000,
          20,
        );
      }
      const r = await send(port, '/query?name=after&timeout=200ms', { method: 'POST' });
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, /"type":"done","acks":1/);
    },
  );

  it('at most 64 queries run through HTTP at once: the next is 503 and counted', { timeout: 60_000 }, async () => {
    const held = await Promise.all(Array.from({ length: 64 }, () => openQuery('4m')));
    try {
      const r = await send(port, '/query?name=one-more&timeout=200ms', { method: 'POST' });
      assert.equal(r.status, 503, r.body);
      assert.equal(await metric(port, 'swimring_http_drops_total', '{reason="queries"}'), 1);
    } finally {
      for (const h of held) h.destroy();
    }
    await waitFor('no query running', async () => (await metric(port, 'swimring_http_queries_running')) === 0, 10_000, 20);
  });

  it('timeouts over the maximum (5m), and bad relay factors, are 400', { timeout: 60_000 }, async () => {
    for (const q of [
      'timeout=24h',
      'timeout=5m1ms',
      'timeout=99999999999999999999',
      'relay=6',
      'relay=-1',
      'relay=1.5',
      'relay=abc',
      'relay=',
    ]) {
      const r = await send(port, `/query?name=x&${q}`, { method: 'POST' });
      assert.equal(r.status, 400, `${q}: ${r.status} ${r.body}`);
    }
    const ok = await send(port, '/query?name=x&timeout=300ms&relay=5', { method: 'POST' });
    assert.equal(ok.status, 200, ok.body);
  });
});

describe('GossipNode.query bounds and cancellation', () => {
  it('timeoutMs must be finite and at most 2^31−1 ms (ERR_INVALID_ARGUMENT)', { timeout: 60_000 }, async () => {
    const node = await GossipNode.create({ name: 'qb-1', bind: '127.0.0.1:0', profile: 'local' });
    try {
      for (const timeoutMs of [2 ** 31, 25 * 24 * 3_600_000, Infinity, Number.NaN, 0, -1, 1.5]) {
        await assert.rejects(
          async () => {
            for await (const _ of node.query('q', new Uint8Array(0), { timeoutMs })) break;
          },
          (err: unknown) => err instanceof SwimringError && err.code === 'ERR_INVALID_ARGUMENT' && /timeoutMs/.test(err.message),
          `timeoutMs ${timeoutMs}`,
        );
      }
      for await (const r of node.query('q', new Uint8Array(0), { timeoutMs: 2 ** 31 - 1, requestAck: true })) {
        assert.equal(r.type, 'ack');
        break;
      }
    } finally {
      await node.close();
    }
  });

  it('a query whose consumer stops (abort or break) frees its running slot: 300 in a row still run', { timeout: 60_000 }, async () => {
    const node = await GossipNode.create({ name: 'qb-2', bind: '127.0.0.1:0', profile: 'local' });
    try {
      for (let i = 0; i < 300; i++) {
        const controller = new AbortController();
        const replies = node.query('q', new Uint8Array(0), { timeoutMs: 600_000, requestAck: true, signal: controller.signal });
        const first = await replies.next();
        assert.equal(first.done, false, `query ${i}`);
        if (i % 2 === 0) controller.abort();
        else await replies.return(undefined);
        for await (const _ of replies);
      }
    } finally {
      await node.close();
    }
  });
});

describe('HTTP bounds: connections, buffered bodies, slow clients', () => {
  it(
    'at maxConnections a newcomer evicts the oldest connection doing nothing; served keep-alive clients go last, busy ones never',
    { timeout: 60_000 },
    async () => {
      const node = await GossipNode.create({ name: 'c-1', bind: '127.0.0.1:0', profile: 'local' });
      // No grace: a connection without a request head counts as slow at once.
      const server = agentHttpServer(node, undefined, { limits: { maxConnections: 8, requestHeadGraceMs: 0 } });
      const port = await listen(server);
      try {
        const sockets: Socket[] = [];
        const closedByServer: number[] = [];
        try {
          // A keep-alive client that has been served once.
          const served = connect(port, '127.0.0.1');
          served.on('error', () => undefined);
          sockets.push(served);
          const answer = new Promise<string>((resolve) => served.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
          served.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
          assert.match(await answer, /^HTTP\/1\.1 200/);
          // 12 connections that never send a request (slowloris): the 5 oldest make room for the newest.
          for (let i = 0; i < 12; i++) {
            const s = connect(port, '127.0.0.1');
            s.on('error', () => undefined);
            s.on('close', () => closedByServer.push(i));
            s.resume();
            sockets.push(s);
            await new Promise<void>((resolve) => s.once('connect', () => resolve()));
          }
          await waitFor('the 5 oldest silent connections are closed', () => closedByServer.length === 5, 10_000, 20);
          assert.deepEqual(
            [...closedByServer].sort((a, b) => a - b),
            [0, 1, 2, 3, 4],
          );
          assert.ok(!served.destroyed, 'the served keep-alive client is kept');
          // A client still gets an answer while the limit is full of idle connections.
          assert.equal((await send(port, '/health')).status, 200);
          assert.ok((await metric(port, 'swimring_http_drops_total', '{reason="evicted"}')) >= 6);
        } finally {
          for (const s of sockets) s.destroy();
        }
        await waitFor('the idle connections are gone', async () => (await metric(port, 'swimring_http_connections')) === 1, 10_000, 20);
        // 8 connections each waiting on a complete request (a running query): a newcomer is refused.
        const queries = Array.from({ length: 8 }, () =>
          request({ host: '127.0.0.1', port, path: '/query?name=hold&timeout=30s', method: 'POST', agent: false }),
        );
        const answered: Promise<void>[] = queries.map(
          (q) =>
            new Promise<void>((resolve) =>
              q.on('response', (res) => {
                res.resume();
                resolve();
              }),
            ),
        );
        for (const q of queries) {
          q.on('error', () => undefined);
          q.end();
        }
        await Promise.all(answered);
        await assert.rejects(send(port, '/health'), 'the limit is full of busy connections: the newcomer is closed');
        for (const q of queries) q.destroy();
        await waitFor(
          'refusals are counted',
          async () => {
            try {
              return (await metric(port, 'swimring_http_drops_total', '{reason="connections"}')) >= 1;
            } catch {
              return false;
            }
          },
          10_000,
          20,
        );
      } finally {
        await close(server);
        await node.close();
      }
    },
  );

  it(
    'at maxConnections trickled uploads are evicted first, then the oldest fresh connections, a served keep-alive client last',
    { timeout: 60_000 },
    async () => {
      const node = await GossipNode.create({ name: 'c-2', bind: '127.0.0.1:0', profile: 'local' });
      const server = agentHttpServer(node, undefined, { limits: { maxConnections: 4, requestHeadGraceMs: 60_000 } });
      const port = await listen(server);
      const sockets: Socket[] = [];
      try {
        const open = async (head: string): Promise<Socket> => {
          const s = connect(port, '127.0.0.1');
          s.on('error', () => undefined);
          sockets.push(s);
          await new Promise<void>((resolve) => s.once('connect', () => resolve()));
          if (head) s.write(head);
          return s;
        };
        // Three uploads that never finish their bodies, then one client that has just connected.
        const uploads: Socket[] = [];
        for (let i = 0; i < 3; i++)
          uploads.push(await open('POST /event?name=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc'));
        await waitFor(
          'the uploads are requests in progress',
          async () => (await metric(port, 'swimring_http_connections')) >= 3,
          10_000,
          20,
        );
        const fresh = await open('');
        // Two newcomers: each evicts the oldest upload, not the fresh client.
        const gone = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
        const newcomer = await open('');
        await gone(uploads[0]!);
        await open('');
        await gone(uploads[1]!);
        assert.ok(!fresh.destroyed, 'the client that has just connected is kept');
        assert.ok(!uploads[2]!.destroyed);
        // A served keep-alive client outlives connections that have just connected.
        const served = await open('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await gone(uploads[2]!);
        await new Promise<void>((resolve) => served.once('data', () => resolve()));
        await open('');
        await gone(fresh);
        await open('');
        await gone(newcomer);
        assert.ok(!served.destroyed, 'the served keep-alive client is kept');
      } finally {
        for (const s of sockets) s.destroy();
        await close(server);
        await node.close();
      }
    },
  );

  it(
    'buffered request bodies share one budget: the request that would exceed it is 503, the bytes held never exceed it',
    { timeout: 60_000 },
    async () => {
      const backend = await echoBackend();
      const agent = await ringAgent('budget-1', `http://127.0.0.1:${backend.port}`, { limits: { maxBufferedBodyBytes: 256 * 1024 } });
      // Each upload sends 100 KiB and holds back its last byte.
      const chunk = Buffer.alloc(100 * 1024, 'x');
      const uploads: { destroy: () => void; status: Promise<number> }[] = [];
      const upload = () => {
        let destroy = () => undefined as void;
        const status = new Promise<number>((resolve) => {
          const req = request(
            {
              host: '127.0.0.1',
              port: agent.port,
              path: '/proxy/k/up',
              method: 'POST',
              headers: { 'content-length': String(100 * 1024 + 1) },
              agent: false,
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', () => resolve(-1));
          req.write(chunk);
          destroy = () => req.destroy();
        });
        const u = { destroy: () => destroy(), status };
        uploads.push(u);
        return u;
      };
      try {
        upload();
        await waitFor(
          '100 KiB held',
          async () => (await metric(agent.port, 'swimring_http_body_bytes_buffered')) === 100 * 1024,
          10_000,
          20,
        );
        upload();
        await waitFor(
          '200 KiB held',
          async () => (await metric(agent.port, 'swimring_http_body_bytes_buffered')) === 200 * 1024,
          10_000,
          20,
        );
        const third = upload();
        assert.equal(await third.status, 503);
        assert.equal(await metric(agent.port, 'swimring_http_body_bytes_buffered'), 200 * 1024);
        assert.equal(await metric(agent.port, 'swimring_http_drops_total', '{reason="bodyBudget"}'), 1);
        const small = await send(agent.port, '/event?name=e', { method: 'POST', body: Buffer.alloc(60 * 1024, 'e') });
        assert.equal(small.status, 503, 'an event body over the remaining budget is refused too');
      } finally {
        for (const u of uploads) u.destroy();
      }
      await waitFor(
        'nothing held once the uploads are gone',
        async () => (await metric(agent.port, 'swimring_http_body_bytes_buffered')) === 0,
        10_000,
        20,
      );
      const ok = await send(agent.port, '/proxy/k/after', { method: 'POST', body: 'x' });
      assert.equal(ok.status, 200, ok.body);
      await close(agent.server);
      await agent.ring.close();
      await close(backend.server);
    },
  );

  it(
    'slow clients are closed: one that sends nothing, one that never finishes its headers, one that never finishes its body',
    { timeout: 60_000 },
    async () => {
      const node = await GossipNode.create({ name: 's-1', bind: '127.0.0.1:0', profile: 'local' });
      const server = agentHttpServer(node, undefined, {
        limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, connectionsCheckingIntervalMs: 100 },
      });
      const port = await listen(server);
      const opened = [
        '',
        'GET /members HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ',
        'POST /event?name=e HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc',
      ].map((text) => {
        const s = connect(port, '127.0.0.1', () => s.write(text));
        s.on('error', () => undefined);
        s.resume(); // read the server's 408 so its close reaches us
        return s;
      });
      try {
        await waitFor('all three closed by the server', () => opened.every((s) => s.closed), 15_000, 20);
      } finally {
        for (const s of opened) s.destroy();
        await close(server);
        await node.close();
      }
    },
  );

  it('oversized headers are refused (431)', { timeout: 60_000 }, async () => {
    const node = await GossipNode.create({ name: 'h-1', bind: '127.0.0.1:0', profile: 'local' });
    const server = agentHttpServer(node);
    const port = await listen(server);
    try {
      const r = await send(port, '/members', { headers: { 'x-big': 'x'.repeat(20 * 1024) } });
      assert.equal(r.status, 431);
    } finally {
      await close(server);
      await node.close();
    }
  });
});

describe('the HTTP token', () => {
  const token = 's3cret-token';
  let backend: Awaited<ReturnType<typeof echoBackend>>;
  let agent: Awaited<ReturnType<typeof ringAgent>>;
  before(async () => {
    backend = await echoBackend();
    agent = await ringAgent('tok-1', `http://127.0.0.1:${backend.port}`, { token });
  });
  after(async () => {
    await close(agent.server);
    await agent.ring.close();
    await close(backend.server);
  });

  it('endpoints that change anything or proxy need it: 401 without, with a wrong one, or another scheme', { timeout: 60_000 }, async () => {
    const guarded: [string, string][] = [
      ['POST', '/event?name=e'],
      ['POST', '/query?name=q&timeout=100ms'],
      ['POST', '/ready?partition=0'],
      ['POST', '/failed?partition=0'],
      ['GET', '/proxy/k/x'],
      ['POST', '/proxy/k/x'],
    ];
    for (const [method, path] of guarded) {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: `Basic ${token}` },
        { authorization: `Bearer ${token}x` },
        { authorization: 'Bearer' },
      ]) {
        const r = await send(agent.port, path, { method, headers });
        assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}: ${r.status} ${r.body}`);
        assert.match(String(r.headers['www-authenticate']), /^Bearer/);
      }
    }
    assert.equal(backend.seen.length, 0, 'nothing proxied without the token');
    assert.equal(await metric(agent.port, 'swimring_http_drops_total', '{reason="unauthorized"}'), guarded.length * 5);
  });

  it('with the token they work, and the proxy does not forward Authorization to the owner', { timeout: 60_000 }, async () => {
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await send(agent.port, '/event?name=e', { method: 'POST', headers: auth, body: 'p' })).status, 200);
    assert.equal((await send(agent.port, '/query?name=q&timeout=100ms', { method: 'POST', headers: auth })).status, 200);
    const proxied = await send(agent.port, '/proxy/k/x', { headers: { authorization: `bearer ${token}` } });
    assert.equal(proxied.status, 200, proxied.body);
    assert.equal(backend.seen.at(-1)?.url, '/x');
    assert.equal(backend.seen.at(-1)?.authorization, undefined);
  });

  it('reads stay open', { timeout: 60_000 }, async () => {
    for (const path of ['/members', '/health', '/ring', '/route?key=k', '/metrics']) {
      assert.equal((await send(agent.port, path)).status, 200, path);
    }
  });
});
