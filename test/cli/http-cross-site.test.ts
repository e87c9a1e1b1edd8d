// What a web page in the operator's browser could make the agent's HTTP do: a cross-site simple
// POST (no preflight) is refused before it runs, and on loopback a request naming a host that is
// not an address or localhost (DNS rebinding) is refused, so such a page can neither act nor read.
// Clients that are not browsers (curl, swimring's own commands) send no Origin and are served.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { agentHttpServer } from '../../src/cli/agent-http.js';
import { isLoopback } from '../../src/cli/http-flags.js';
import { GossipNode } from '../../src/io/gossip-node.js';

/** A raw HTTP/1.1 request; the status line and headers of the answer. */
function raw(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', reject);
    s.on('end', () => resolve(text.slice(0, text.indexOf('\r\n\r\n'))));
    s.write(`${head}Connection: close\r\n\r\n`);
  });
}

describe('agent HTTP: cross-site requests and DNS rebinding', () => {
  let node: GossipNode;
  let server: Server;
  let port: number;
  let events = 0;
  before(async () => {
    node = await GossipNode.create({ name: 'xsite', bind: '127.0.0.1:0', profile: 'local' });
    node.on('event', () => events++);
    server = agentHttpServer(node);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await node.close();
  });

  it('a POST /event from another origin is refused (403) and sends nothing; from the same origin it runs', async () => {
    const refused = await fetch(`http://127.0.0.1:${port}/event?name=x`, {
      method: 'POST',
      body: 'hi',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
    });
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: string }).error, /cross-site/);
    const fetchMetadata = await fetch(`http://127.0.0.1:${port}/event?name=x`, {
      method: 'POST',
      body: 'hi',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(fetchMetadata.status, 403);
    await fetchMetadata.arrayBuffer();
    const same = await fetch(`http://127.0.0.1:${port}/event?name=x`, {
      method: 'POST',
      body: 'hi',
      headers: { origin: `http://127.0.0.1:${port}` },
    });
    assert.equal(same.status, 200);
    await same.arrayBuffer();
    const plain = await fetch(`http://127.0.0.1:${port}/event?name=y`, { method: 'POST', body: 'hi' });
    assert.equal(plain.status, 200, 'no Origin: not a browser');
    await plain.arrayBuffer();
    assert.equal(events, 2, 'only the two accepted events went out');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /swimring_http_drops_total\{reason="crossSite"\} 2/);
  });

  it('on loopback, a Host that is not an address or localhost is refused; addresses and localhost are served', async () => {
    assert.match(await raw(port, 'GET /members HTTP/1.1\r\nHost: attacker.example:80\r\n'), /^HTTP\/1\.1 403/);
    assert.match(await raw(port, 'GET /members HTTP/1.1\r\nHost: localhost.attacker.example\r\n'), /^HTTP\/1\.1 403/);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', '127.0.0.1', `[::1]:${port}`]) {
      const head = await raw(port, `GET /members HTTP/1.1\r\nHost: ${host}\r\n`);
      assert.match(head, /^HTTP\/1\.1 200/, host);
      assert.match(head, /x-content-type-options: nosniff/i, 'JSON is not sniffed as anything else');
    }
  });

  it('loopback is 127/8, ::1 and localhost, also as a dual-stack socket reports IPv4 (::ffff:127.x)', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1', '::FFFF:127.9.9.9'])
      assert.ok(isLoopback(host), host);
    for (const host of ['10.0.0.1', '::ffff:10.0.0.1', '::', '0.0.0.0', 'example.com', '']) assert.ok(!isLoopback(host), host);
  });
});
