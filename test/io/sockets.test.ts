// Real sockets on 127.0.0.1: nodes in one process, and agents as separate processes.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { encodePing } from '../../src/gossip/codec/messages.js';
import { parseStream } from '../../src/gossip/codec/stream.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { Processes, httpOf, kill, startAgent, waitFor } from '../helpers/processes.js';

describe('real sockets on 127.0.0.1', () => {
  it('20 nodes in one process join, converge, detect a failure and a leave', async () => {
    const nodes: GossipNode[] = [];
    try {
      for (let i = 0; i < 20; i++) nodes.push(await GossipNode.create({ name: `p${i}`, bind: '127.0.0.1:0', profile: 'local' }));
      const seed = `127.0.0.1:${nodes[0]!.address.port}`;
      await Promise.all(nodes.slice(1).map((n, i) => n.join([i % 2 ? seed : `127.0.0.1:${nodes[i]!.address.port}`])));
      const alive = (n: GossipNode) => n.members().filter((m) => m.status === 'alive').length;
      await waitFor('all 20 see 20 alive', () => nodes.every((n) => alive(n) === 20), 30_000, 50);
      await nodes[7]!.close(); // immediate: peers see a failure
      const rest = nodes.filter((_, i) => i !== 7);
      await waitFor(
        'all see p7 failed',
        () => rest.every((n) => n.members().find((m) => m.name === 'p7')?.status === 'failed'),
        30_000,
        50,
      );
      await nodes[8]!.leave();
      const rest2 = rest.filter((n) => n !== nodes[8]);
      await waitFor('all see p8 left', () => rest2.every((n) => n.members().find((m) => m.name === 'p8')?.status === 'left'), 30_000, 50);
      for (const n of rest2) assert.equal(n.members().find((m) => m.name === 'p0')?.status, 'alive');
      const drops = rest2.flatMap((n) => Object.keys(n.counters.drops));
      assert.deepEqual(
        drops.filter((d) => d !== 'staleAck'),
        [],
        'no input dropped in a healthy cluster',
      );
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  const procs = new Processes();
  after(() => procs.stopAll());

  it('5 swimring agent processes join, converge and detect a kill -9; SIGINT leaves gracefully', async () => {
    const first = await startAgent(procs, 'agent-0', ['--profile', 'local', '--http', '127.0.0.1:0']);
    const agents = [first];
    for (let i = 1; i < 5; i++)
      agents.push(await startAgent(procs, `agent-${i}`, ['--profile', 'local', '--join', `127.0.0.1:${agents[i - 1]!.port}`]));
    const names = agents.map((a) => a.name);
    const joinedAll = (a: (typeof agents)[number]) =>
      names.filter((n) => n !== a.name).every((n) => a.lines.some((l) => l['event'] === 'member-join' && l['name'] === n));
    await waitFor('every agent sees the 4 others join', () => agents.every(joinedAll), 30_000);
    const http = httpOf(first);
    const members = (await (await fetch(`http://${http}/members`)).json()) as { name: string; status: string }[];
    assert.deepEqual(members.map((m) => m.name).sort(), [...names].sort());
    assert.ok(members.every((m) => m.status === 'alive'));
    const health = (await (await fetch(`http://${http}/health`)).json()) as { status: string; alive: number };
    assert.deepEqual([health.status, health.alive], ['ok', 5]);

    await kill(agents[2]!.child, 'SIGKILL');
    await waitFor(
      'the others report agent-2 failed',
      () => agents.filter((_, i) => i !== 2).every((a) => a.lines.some((l) => l['event'] === 'member-failed' && l['name'] === 'agent-2')),
      30_000,
    );

    agents[3]!.child.kill('SIGINT');
    await waitFor('agent-3 exits by itself after leaving', () => agents[3]!.child.exitCode !== null, 15_000);
    assert.equal(agents[3]!.child.exitCode, 0);
    assert.ok(agents[3]!.lines.some((l) => l['event'] === 'left'));
    await waitFor(
      'the others report agent-3 left',
      () => [0, 1, 4].every((i) => agents[i]!.lines.some((l) => l['event'] === 'member-leave' && l['name'] === 'agent-3')),
      15_000,
    );
  });
});

describe('user events and queries', () => {
  it('an event reaches every node once; a query collects acks and responses, then ends', async () => {
    const nodes = await Promise.all(
      ['u1', 'u2', 'u3'].map((name) =>
        GossipNode.create({ name, bind: '127.0.0.1:0', profile: 'local', tags: { role: name === 'u3' ? 'db' : 'web' } }),
      ),
    );
    try {
      await Promise.all(nodes.slice(1).map((n) => n.join([`127.0.0.1:${nodes[0]!.address.port}`])));
      await waitFor('all see 3 alive', () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 3), 10_000, 20);
      const events = nodes.map(() => [] as string[]);
      nodes.forEach((n, i) => n.on('event', (e) => events[i]!.push(`${e.name}:${Buffer.from(e.payload).toString()}`)));
      for (const n of nodes) n.on('query', (q) => q.name === 'whoami' && q.respond(new TextEncoder().encode(`i am ${n.machine.name}`)));
      nodes[1]!.userEvent('deploy', new TextEncoder().encode('v1'));
      await waitFor('every node got the event', () => events.every((e) => e.length === 1), 10_000, 20);
      assert.deepEqual(events, [['deploy:v1'], ['deploy:v1'], ['deploy:v1']]);

      const replies = [];
      for await (const r of nodes[0]!.query('whoami', new Uint8Array(0), { requestAck: true, timeoutMs: 1500 })) replies.push(r);
      const acks = replies
        .filter((r) => r.type === 'ack')
        .map((r) => r.from)
        .sort();
      const answers = replies.flatMap((r) => (r.type === 'response' ? [`${r.from}=${Buffer.from(r.payload).toString()}`] : [])).sort();
      assert.deepEqual(acks, ['u1', 'u2', 'u3']);
      assert.deepEqual(answers, ['u1=i am u1', 'u2=i am u2', 'u3=i am u3']);

      const filtered = [];
      for await (const r of nodes[0]!.query('whoami', new Uint8Array(0), {
        filters: [{ type: 'tag', tag: 'role', expr: '^db$' }],
        timeoutMs: 1000,
      }))
        filtered.push(r.from);
      assert.deepEqual(filtered, ['u3'], 'only the member whose tag matches answers');
      assert.throws(() => nodes[0]!.userEvent('big', new Uint8Array(600)), { code: 'ERR_INVALID_ARGUMENT' });
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});

describe('disposal', () => {
  it('`await using` closes the node when the scope ends', async () => {
    let port = 0;
    {
      await using node = await GossipNode.create({ name: 'scoped', bind: '127.0.0.1:0', profile: 'local' });
      port = node.address.port;
    }
    // The port is free again: binding it works.
    const again = await GossipNode.create({ name: 'again', bind: `127.0.0.1:${port}`, profile: 'local' });
    await again.close();
  });
});

describe('join', () => {
  it('resolves seed names, and a retrying join that cannot succeed retries until its signal aborts', async () => {
    const [a, b] = await Promise.all(['j1', 'j2'].map((name) => GossipNode.create({ name, bind: '127.0.0.1:0', profile: 'local' })));
    try {
      assert.equal(await b!.join([`localhost:${a!.address.port}`]), 1);
      await waitFor('a knows b', () => a!.members().some((m) => m.name === 'j2' && m.status === 'alive'), 10_000, 20);
      const ac = new AbortController();
      const failing = b!.join(['127.0.0.1:1', 'no-such-host.invalid:7946'], { signal: ac.signal, retry: { intervalMs: 100 } });
      setTimeout(() => ac.abort(new Error('gave up')), 500);
      await assert.rejects(failing, /gave up/);
      await assert.rejects(b!.join([]), { code: 'ERR_INVALID_OPTION' });
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});

describe('tags', () => {
  it('peers see our tags, and a runtime setTags arrives as a member-update', async () => {
    const a = await GossipNode.create({ name: 't1', bind: '127.0.0.1:0', profile: 'local', tags: { role: 'web', dc: 'lab' } });
    const b = await GossipNode.create({ name: 't2', bind: '127.0.0.1:0', profile: 'local' });
    try {
      const updates: Record<string, string>[] = [];
      b.on('member-update', (m) => m.name === 't1' && updates.push({ ...m.tags }));
      await b.join([`127.0.0.1:${a.address.port}`]);
      await waitFor('b sees t1 with its tags', () => b.members().find((m) => m.name === 't1')?.tags['dc'] === 'lab', 10_000, 20);
      a.setTags({ role: 'db' });
      await waitFor('the update reaches b', () => updates.length > 0, 10_000, 20);
      assert.deepEqual(updates.at(-1), { role: 'db' });
      assert.throws(() => a.setTags({ x: 'y'.repeat(600) }), { code: 'ERR_INVALID_OPTION' });
      await assert.rejects(GossipNode.create({ name: 'x', bind: '127.0.0.1:0', tags: { n: 1 as never } }), { code: 'ERR_INVALID_OPTION' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('TCP pings (memberlist fallback ping)', () => {
  it('a ping for us over TCP gets an ack with its sequence number, at once', async () => {
    const node = await GossipNode.create({ name: 'pinged', bind: '127.0.0.1:0', profile: 'local' });
    try {
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const socket = connect(node.address.port, '127.0.0.1', () =>
          socket.write(encodePing({ seqNo: 4242, node: 'pinged', sourceAddr: null, sourcePort: 0, sourceNode: '' })),
        );
        const chunks: Buffer[] = [];
        socket.on('data', (d: Buffer) => {
          chunks.push(d);
          const all = Buffer.concat(chunks);
          if (parseStream(all, 1 << 20).status === 'complete') {
            socket.destroy();
            resolve(all);
          }
        });
        socket.on('error', reject);
        socket.on('close', () => reject(new Error('closed without an ack')));
      });
      const parsed = parseStream(reply, 1 << 20);
      assert.equal(parsed.status, 'complete');
      assert.deepEqual(parsed.status === 'complete' && parsed.message.type === 'ack' ? parsed.message.ack.seqNo : null, 4242);
    } finally {
      await node.close();
    }
  });
});
