// GET /events (server-sent events) in-process over real Rings on 127.0.0.1: the event names and
// JSON shapes, the bounds (clients → 503, a client that stops reading is dropped and logged, the
// agent never buffers past the budget), the dashboard's files and headers, and a real agent
// process that exits on SIGTERM with event streams open.
import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, get } from 'node:http';
import { type Socket, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Script } from 'node:vm';
import { pino } from 'pino';
import { type AgentHttpOptions, agentHttpServer } from '../../src/cli/agent-http.js';
import { DASHBOARD_JS } from '../../src/cli/dashboard/script.js';
import { SwimringError } from '../../src/errors.js';
import { Ring } from '../../src/ring/ring.js';
import { DEFAULT_VSN } from '../../src/gossip/machine.js';
import { NodeState, encodePushPull } from '../../src/gossip/codec/messages.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { encodeTags } from '../../src/serf/tags.js';
import { FakeSeeds } from '../helpers/fake-seeds.js';
import { Processes, httpOf, kill, startAgent, waitFor } from '../helpers/processes.js';
import { close, listen } from '../helpers/servers.js';

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** An /events client that parses what it reads: events, comment lines, and whether the stream ended. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  status = 0;
  headers: IncomingMessage['headers'] = {};
  #partial = '';
  readonly #res: Promise<IncomingMessage>;

  constructor(port: number, path = '/events') {
    this.#res = new Promise((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.#take(chunk));
        res.on('end', () => (this.ended = true));
        res.on('error', () => (this.ended = true));
        resolve(res);
      });
      req.on('error', reject);
    });
  }

  #take(chunk: string): void {
    this.#partial += chunk;
    let at: number;
    while ((at = this.#partial.indexOf('\n\n')) >= 0) {
      const block = this.#partial.slice(0, at);
      this.#partial = this.#partial.slice(at + 2);
      let event = '';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line);
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (event) this.events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
    }
  }

  response(): Promise<IncomingMessage> {
    return this.#res;
  }

  of(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  async close(): Promise<void> {
    (await this.#res).destroy();
  }
}

/** The body of a raw HTTP/1.1 response with chunked transfer encoding (it must be complete). */
function dechunk(raw: string): string {
  let at = raw.indexOf('\r\n\r\n');
  assert.ok(at > 0 && /transfer-encoding: chunked/i.test(raw.slice(0, at)));
  at += 4;
  let body = '';
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = parseInt(raw.slice(at, eol), 16);
    if (size === 0) return body;
    // Sizes count bytes; the events here are ASCII.
    body += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function ringAgent(
  name: string,
  options: AgentHttpOptions = {},
  join?: number,
): Promise<{ ring: Ring; server: Server; port: number; gossipPort: number }> {
  const ring = await Ring.create({
    name,
    bind: '127.0.0.1:0',
    profile: 'local',
    partitions: 16,
    tags: { role: 'test' },
    ...(join === undefined ? {} : { join: [`127.0.0.1:${join}`] }),
  });
  await waitFor('the ring has its member', () => ring.table.members.includes(name), 10_000, 20);
  const server = agentHttpServer(ring.node, ring, options);
  return { ring, server, port: await listen(server), gossipPort: ring.node.address.port };
}

describe('GET /events: names and shapes', () => {
  let a: Awaited<ReturnType<typeof ringAgent>>;
  before(async () => {
    a = await ringAgent('sse-a', { sse: { healthIntervalMs: 50, heartbeatMs: 50 } });
  });
  after(async () => {
    await close(a.server);
    await a.ring.close();
  });

  it(
    'hello, health, member, partition and user events carry the stdout shapes; ?health=false has no samples',
    { timeout: 60_000 },
    async () => {
      const client = new SseClient(a.port);
      const quiet = new SseClient(a.port, '/events?health=false');
      await waitFor('both streams say hello', () => client.of('hello').length === 1 && quiet.of('hello').length === 1, 10_000, 20);
      assert.equal(client.status, 200);
      assert.match(String(client.headers['content-type']), /^text\/event-stream/);
      assert.equal(client.headers['cache-control'], 'no-cache, no-transform');
      const hello = client.of('hello')[0]!.data;
      assert.equal(hello['event'], 'hello');
      assert.equal(hello['name'], 'sse-a');
      assert.equal(hello['ring'], true);
      assert.equal(hello['partitions'], 16);
      assert.equal(hello['replicas'], 1);
      assert.equal(hello['handoff'], false);
      assert.equal(typeof hello['time'], 'number');

      await waitFor(
        'health samples and heartbeats',
        () => client.of('health').length >= 3 && client.comments.includes(': ping'),
        10_000,
        20,
      );
      const health = client.of('health').at(-1)!.data;
      assert.equal(health['name'], 'sse-a');
      assert.equal(health['status'], 'ok');
      assert.equal(health['healthScore'], 0);
      assert.deepEqual(health['suspects'], [], 'nobody is suspected');
      assert.deepEqual(Object.keys(health['counters'] as object).sort(), [
        'bytesIn',
        'bytesOut',
        'packetsIn',
        'packetsOut',
        'probeFailures',
        'probes',
        'refutations',
        'suspicions',
      ]);
      assert.deepEqual(health['ring'], { checksum: a.ring.checksum, members: 1, primaries: 16, replicas: 0, joining: false });
      assert.equal(quiet.of('health').length, 0, 'the stream asked for no health samples');

      // A second member joins: a member-join, then the partitions it takes as releases to it.
      const b = await ringAgent('sse-b', {}, a.gossipPort);
      try {
        await waitFor(
          'member-join and releases',
          () => client.of('member-join').some((e) => e.data['name'] === 'sse-b') && client.of('release').length > 0,
          20_000,
          20,
        );
        const join = client.of('member-join').find((e) => e.data['name'] === 'sse-b')!.data;
        assert.deepEqual(Object.keys(join).sort(), ['address', 'event', 'incarnation', 'name', 'protocol', 'status', 'tags', 'time']);
        assert.equal(join['status'], 'alive');
        assert.equal(join['address'], `127.0.0.1:${b.gossipPort}`);
        assert.deepEqual(join['tags'], { role: 'test' });
        await waitFor('every moved partition released', () => client.of('release').length === 16 - a.ring.holdings().size, 20_000, 20);
        for (const { data } of client.of('release')) {
          assert.deepEqual(Object.keys(data).sort(), ['event', 'partition', 'replica', 'time', 'to']);
          assert.equal(data['replica'], 0);
          assert.equal(data['to'], 'sse-b');
          assert.ok(!a.ring.holdings().has(data['partition'] as number));
        }
        assert.deepEqual(
          quiet.of('release').map((e) => e.data['partition']),
          client.of('release').map((e) => e.data['partition']),
        );

        // A user event, and b's graceful leave.
        a.ring.node.userEvent('deploy', new TextEncoder().encode('v1.2.3'), { coalesce: false });
        await waitFor('the user event', () => client.of('user-event').length === 1, 10_000, 20);
        const user = client.of('user-event')[0]!.data;
        assert.equal(user['name'], 'deploy');
        assert.equal(user['payload'], 'v1.2.3');
        assert.equal(user['coalesce'], false);
        // The node reports no member-update for its own tag changes; the stream does.
        a.ring.setTags({ role: 'test', version: '2' });
        await waitFor(
          'member-update of the local member',
          () => client.of('member-update').some((e) => e.data['name'] === 'sse-a'),
          10_000,
          20,
        );
        const self = client.of('member-update').find((e) => e.data['name'] === 'sse-a')!.data;
        assert.deepEqual(self['tags'], { role: 'test', version: '2' });
        await b.ring.leave();
        await waitFor(
          'member-leave and the partitions back',
          () => client.of('member-leave').length === 1 && client.of('acquire').length > 0,
          20_000,
          20,
        );
        assert.equal(client.of('member-leave')[0]!.data['status'], 'left');
        assert.deepEqual(Object.keys(client.of('acquire')[0]!.data).sort(), ['event', 'from', 'partition', 'replica', 'time']);

        // /members?since=true adds when this agent saw each member enter its status.
        const members = (await (await fetch(`http://127.0.0.1:${a.port}/members?since=true`)).json()) as Record<string, unknown>[];
        const left = members.find((m) => m['name'] === 'sse-b')!;
        assert.equal(left['status'], 'left');
        assert.equal(left['statusSince'], client.of('member-leave')[0]!.data['time']);
        const plain = (await (await fetch(`http://127.0.0.1:${a.port}/members`)).json()) as Record<string, unknown>[];
        assert.ok(plain.every((m) => !('statusSince' in m)));
      } finally {
        await close(b.server);
        await b.ring.close();
        await client.close();
        await quiet.close();
      }
    },
  );
});

describe('GET /events: bounds', () => {
  it('at most maxClients streams: more get 503 (counted), and a closed stream frees its slot', { timeout: 30_000 }, async () => {
    const a = await ringAgent('sse-max', { sse: { maxClients: 2 } });
    try {
      const clients = [new SseClient(a.port), new SseClient(a.port)];
      await waitFor('two streams', () => clients.every((c) => c.of('hello').length === 1), 10_000, 20);
      const refused = await fetch(`http://127.0.0.1:${a.port}/events`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('connection'), 'close');
      assert.match(((await refused.json()) as { error: string }).error, /at most 2 event streams/);
      assert.equal(await metric(a.port, 'swimring_http_drops_total', '{reason="sseClients"}'), 1);
      await clients[0]!.close();
      const again = await waitFor(
        'a slot again',
        async () => {
          const c = new SseClient(a.port);
          if ((await c.response()).statusCode === 200) return c;
          await c.close();
          return false;
        },
        10_000,
        20,
      );
      await waitFor('its hello', () => again.of('hello').length === 1, 10_000, 20);
      await again.close();
      await clients[1]!.close();
    } finally {
      await close(a.server);
      await a.ring.close();
    }
  });

  it(
    'a client that stops reading is dropped (logged, counted) with a last `dropped` event; a reading client is not',
    { timeout: 120_000 },
    async () => {
      const logs: Record<string, unknown>[] = [];
      const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
      const budget = 256 * 1024;
      const a = await ringAgent('sse-slow', { sse: { maxBufferedBytes: budget, dropGraceMs: 60_000 }, logger });
      let stalled: Socket | undefined;
      const reader = new SseClient(a.port, '/events?health=false');
      try {
        // A raw client: it sends its request, reads the hello, then stops reading.
        stalled = connect(a.port, '127.0.0.1');
        stalled.setEncoding('utf8');
        let head = '';
        const onData = (d: string) => (head += d);
        stalled.on('data', onData);
        stalled.write('GET /events?health=false HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await waitFor(
          'the stalled client has its hello',
          () => head.includes('event: hello') && reader.of('hello').length === 1,
          10_000,
          20,
        );
        stalled.off('data', onData);
        stalled.pause();

        // User events of ~450 bytes each until the stalled client is dropped.
        const payload = new TextEncoder().encode('x'.repeat(400));
        let sent = 0;
        await waitFor(
          'the stalled client dropped',
          async () => {
            for (let i = 0; i < 100; i++) a.ring.node.userEvent(`flood-${sent++}`, payload, { coalesce: false });
            await new Promise((r) => setImmediate(r));
            return (await metric(a.port, 'swimring_http_drops_total', '{reason="sseSlow"}')) === 1;
          },
          90_000,
          0,
        );
        const dropLog = logs.find((l) => l['msg'] === 'SSE client dropped: it reads too slowly');
        assert.ok(dropLog, 'the drop is logged');
        assert.equal(dropLog['maxBufferedBytes'], budget);
        assert.ok((dropLog['bufferedBytes'] as number) <= budget, 'the buffer never passed the budget');
        assert.ok(!reader.ended, 'the reading client is still served');
        await waitFor('the reader got every event', () => reader.of('user-event').length === sent, 30_000, 20);
        assert.equal(reader.of('dropped').length, 0);

        // The stalled client reads again: what was buffered, then `dropped`, then the end.
        let rest = '';
        stalled.on('data', (d: string) => (rest += d));
        const ended = new Promise<void>((resolve) => stalled!.once('end', () => resolve()));
        stalled.resume();
        await ended;
        const body = dechunk(head + rest);
        assert.ok(body.endsWith('\n\n'), 'the stream ends after a whole event');
        const last = body.trimEnd().split('\n\n').at(-1)!;
        assert.match(last, /^event: dropped\ndata: /);
        const note = JSON.parse(last.slice(last.indexOf('data: ') + 6)) as Record<string, unknown>;
        assert.equal(note['reason'], 'slow');
        assert.equal(note['maxBufferedBytes'], budget);
      } finally {
        stalled?.destroy();
        await reader.close();
        await close(a.server);
        await a.ring.close();
      }
    },
  );

  it('server.close() ends open streams with `closing`, so the server closes', { timeout: 30_000 }, async () => {
    const a = await ringAgent('sse-close');
    try {
      const client = new SseClient(a.port);
      await waitFor('the stream', () => client.of('hello').length === 1, 10_000, 20);
      await new Promise<void>((resolve) => a.server.close(() => resolve()));
      await waitFor('the stream ended', () => client.ended, 10_000, 20);
      assert.equal(client.events.at(-1)!.event, 'closing');
    } finally {
      await a.ring.close();
    }
  });
});

describe('GET /events: work per event and per connection', () => {
  it(
    "a join that brings 3 000 members lists the node's members a bounded number of times, not once per member",
    { timeout: 60_000 },
    async () => {
      const seeds = new FakeSeeds();
      const meta = encodeTags({});
      const states = Array.from({ length: 3000 }, (_, i) => ({
        name: `m${i}`,
        addr: Uint8Array.from([127, 0, 0, 1]),
        port: 1 + i,
        meta,
        incarnation: 1,
        state: NodeState.alive,
        vsn: DEFAULT_VSN,
      }));
      const seed = await seeds.replying(encodePushPull({ join: false, nodes: states.length, userStateLen: 0 }, states, new Uint8Array(0)));
      const node = await GossipNode.create({ name: 'many', bind: '127.0.0.1:0', profile: 'local' });
      const server = agentHttpServer(node);
      try {
        let calls = 0;
        const members = node.members.bind(node);
        node.members = () => {
          calls++;
          return members();
        };
        assert.equal(await node.join([seed]), 1);
        assert.equal(members().length, 3001);
        // Pruning the status times lists the members once each time the map doubles: O(log n) lists.
        assert.ok(calls <= 20, `node.members() listed ${calls} times for 3 000 joins`);
      } finally {
        await close(server);
        await node.close();
        seeds.closeAll();
      }
    },
  );

  it(
    'one connection holds one stream: streams pipelined behind it are refused, leaving slots for others',
    { timeout: 30_000 },
    async () => {
      const a = await ringAgent('sse-pipe');
      const hog = connect(a.port, '127.0.0.1');
      try {
        hog.on('error', () => {});
        let got = '';
        hog.on('data', (d: Buffer) => (got += d.toString('utf8')));
        hog.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(32));
        await waitFor('the first stream', () => got.includes('event: hello'), 10_000, 20);
        const other = new SseClient(a.port);
        assert.equal((await other.response()).statusCode, 200);
        await other.close();
        assert.ok((await metric(a.port, 'swimring_http_drops_total', '{reason="sseClients"}')) >= 1, 'the pipelined ones were refused');
      } finally {
        hog.destroy();
        await close(a.server);
        await a.ring.close();
      }
    },
  );

  it('a stream past maxStreamAgeMs is ended with `renew` (EventSource reconnects), freeing its slot', { timeout: 30_000 }, async () => {
    const a = await ringAgent('sse-age', { sse: { maxClients: 1, maxStreamAgeMs: 200, heartbeatMs: 50 } });
    try {
      const old = new SseClient(a.port);
      await waitFor('renewed', () => old.of('renew').length === 1 && old.ended, 10_000, 20);
      assert.equal(old.of('renew')[0]!.data['name'], 'sse-age');
      const next = new SseClient(a.port);
      assert.equal((await next.response()).statusCode, 200, 'the slot is free again');
      await next.close();
    } finally {
      await close(a.server);
      await a.ring.close();
    }
  });
});

describe('GET /events: options', () => {
  it('limits must be positive integers (ERR_INVALID_OPTION)', async () => {
    const ring = await Ring.create({ name: 'sse-opts', bind: '127.0.0.1:0', profile: 'local', partitions: 4 });
    try {
      for (const sse of [{ maxClients: 0 }, { maxBufferedBytes: -1 }, { heartbeatMs: 1.5 }, { healthIntervalMs: Number.NaN }]) {
        assert.throws(
          () => agentHttpServer(ring.node, ring, { sse }),
          (err: unknown) =>
            err instanceof SwimringError && err.code === 'ERR_INVALID_OPTION' && err.message.includes(`sse.${Object.keys(sse)[0]}`),
        );
      }
    } finally {
      await ring.close();
    }
  });
});

describe('the dashboard files', () => {
  let a: Awaited<ReturnType<typeof ringAgent>>;
  before(async () => {
    a = await ringAgent('dash-files');
  });
  after(async () => {
    await close(a.server);
    await a.ring.close();
  });

  it('GET / is the page with a CSP allowing only this origin; its script and style are served; other methods are 405', async () => {
    const page = await fetch(`http://127.0.0.1:${a.port}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.match(html, /<script src="\/dashboard\.js" defer><\/script>/);
    assert.doesNotMatch(
      html,
      /<script>|<style>|\son[a-z]+=|https?:\/\//i,
      'no inline script or style, no handler attributes, nothing from elsewhere',
    );
    const js = await fetch(`http://127.0.0.1:${a.port}/dashboard.js`);
    assert.match(js.headers.get('content-type')!, /^text\/javascript/);
    assert.equal(await js.text(), DASHBOARD_JS);
    const css = await fetch(`http://127.0.0.1:${a.port}/dashboard.css`);
    assert.match(css.headers.get('content-type')!, /^text\/css/);
    assert.equal((await fetch(`http://127.0.0.1:${a.port}/`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`http://127.0.0.1:${a.port}/events`, { method: 'POST' })).status, 405);
  });

  it('the script is valid JavaScript that never parses network data as HTML', () => {
    new Script(DASHBOARD_JS); // throws on a syntax error
    assert.doesNotMatch(
      DASHBOARD_JS,
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*['"]on/,
    );
    assert.doesNotMatch(DASHBOARD_JS, /https?:\/\//, 'nothing fetched from elsewhere');
  });

  it('GET /ring names the local member and says whether it runs handoff', async () => {
    const ring = (await (await fetch(`http://127.0.0.1:${a.port}/ring`)).json()) as Record<string, unknown>;
    assert.equal(ring['name'], 'dash-files');
    assert.equal(ring['handoff'], false);
    assert.equal(ring['joining'], false);
    assert.ok(!('ready' in ring));
  });
});

describe('an agent process with open event streams', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  it('exits on SIGTERM: its streams get `closing` and end', { timeout: 60_000 }, async () => {
    const agent = await startAgent(procs, 'sse-exit', [
      '--profile',
      'local',
      '--partitions',
      '8',
      '--http',
      '127.0.0.1:0',
      '--rpc-addr',
      'off',
    ]);
    const port = Number(httpOf(agent).split(':')[1]);
    const clients = [new SseClient(port), new SseClient(port)];
    await waitFor('the streams', () => clients.every((c) => c.of('hello').length === 1), 10_000, 20);
    const exited = new Promise<number | null>((resolve) => agent.child.once('exit', (code) => resolve(code)));
    agent.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const c of clients) {
      await waitFor('the stream ended', () => c.ended, 10_000, 20);
      assert.equal(c.events.at(-1)!.event, 'closing');
    }
    await kill(agent.child, 'SIGKILL');
  });
});
