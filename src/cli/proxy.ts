/**
 * The agent's routing proxy: /proxy/KEY/rest is forwarded to the holders of KEY that can serve it
 * now (ready holders, best first; then the other owners), at the URL in their `http` tag (e.g.
 * http=http://10.0.0.5:8080), as /rest. When one cannot be reached it fails over to the next. The request body is buffered (at most 1 MiB) so it can
 * be sent again.
 */
import { type IncomingMessage, type ServerResponse, request } from 'node:http';
import type { Ring } from '../ring/ring.js';

const MAX_PROXY_BODY_BYTES = 1 << 20;
const ATTEMPT_TIMEOUT_MS = 10_000;
/** Hop-by-hop headers, not forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

export async function proxy(ring: Ring, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const rest = url.pathname.slice('/proxy/'.length);
  const slash = rest.indexOf('/');
  const key = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  const path = `${slash < 0 ? '/' : rest.slice(slash)}${url.search}`;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PROXY_BODY_BYTES) {
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: `body over ${MAX_PROXY_BODY_BYTES} bytes` })}\n`);
      return;
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([h]) => !HOP_BY_HOP.has(h)));
  const tried: string[] = [];
  // Holders that can serve now first (with handoff, those that have the data), then the rest.
  const ready = ring.membersForKey(key, { ready: true });
  const candidates = [...ready, ...ring.membersForKey(key).filter((m) => !ready.includes(m))];
  for (const owner of candidates) {
    const base = owner.tags['http'];
    if (!base) continue;
    let target: URL;
    try {
      target = new URL(path.replace(/^\/+/, ''), base.endsWith('/') ? base : `${base}/`);
    } catch {
      continue;
    }
    tried.push(owner.name);
    const done = await attempt(target, req.method ?? 'GET', headers, body, res, owner.name);
    if (done) return;
  }
  res.writeHead(502, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify({ error: 'no owner of this key could be reached', key, tried })}\n`);
}

/** Forwards once; resolves true once a response is being relayed, false if the owner is unreachable. */
function attempt(target: URL, method: string, headers: Record<string, unknown>, body: Buffer, res: ServerResponse, owner: string): Promise<boolean> {
  return new Promise((resolve) => {
    const out = request(target, { method, headers: { ...headers, 'content-length': body.length, 'x-swimring-owner': owner }, timeout: ATTEMPT_TIMEOUT_MS }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, { ...upstream.headers, 'x-swimring-owner': owner });
      upstream.pipe(res);
      resolve(true);
    });
    out.on('timeout', () => out.destroy(new Error('timeout')));
    out.on('error', () => resolve(false));
    out.end(body);
  });
}
