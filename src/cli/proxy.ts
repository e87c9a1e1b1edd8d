/**
 * The agent's routing proxy: /proxy/KEY/rest is forwarded to the holders of KEY that can serve it
 * now (ready holders, best first; then the other owners), at the URL in their `http` tag (e.g.
 * http=http://10.0.0.5:8080), as /rest under that URL's path. When one cannot be reached it fails
 * over to the next. The request body is buffered (at most 1 MiB) so it can be sent again.
 *
 * The target is always the owner's http: origin: `rest` is only ever a path (never resolved as
 * a URL), and paths that could climb out of the owner's base path are refused.
 */
import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, request } from 'node:http';
import { pipeline } from 'node:stream';
import type { Ring } from '../ring/ring.js';
import { HttpError, send } from './agent-http.js';

/** One proxied body is buffered whole so it can be replayed on failover; 1 MiB keeps that cheap. */
export const MAX_PROXY_BODY_BYTES = 1 << 20;
/** Hop-by-hop headers (RFC 9110 §7.6.1), the agent's own credentials, and what we set ourselves: not forwarded. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'authorization',
  'proxy-authorization',
  'content-length',
  'x-swimring-owner',
]);
/** Hop-by-hop headers of the owner's answer, not relayed. */
const NOT_RELAYED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export interface ProxyIo {
  /** Reads the request body (at most `max` bytes, within the server's budget). */
  readBody: (max: number) => Promise<Buffer>;
  attemptTimeoutMs: number;
}

/** `raw` is the request target as received (`/proxy/KEY/rest?query`), not normalized. */
export async function proxy(ring: Ring, req: IncomingMessage, res: ServerResponse, raw: string, io: ProxyIo): Promise<void> {
  const { key, path, search } = parseProxyTarget(raw);
  const body = await io.readBody(MAX_PROXY_BODY_BYTES);
  const headers = forwardedHeaders(req);
  const tried: string[] = [];
  // Holders that can serve now first (with handoff, those that have the data), then the rest.
  const ready = ring.membersForKey(key, { ready: true });
  const candidates = [...ready, ...ring.membersForKey(key).filter((m) => !ready.includes(m))];
  for (const owner of candidates) {
    if (res.destroyed) return; // the client went away
    const target = ownerTarget(owner.tags['http'], path, search);
    if (target === undefined) continue;
    tried.push(owner.name);
    const done = await attempt(target, req.method ?? 'GET', headers, body, res, owner.name, io.attemptTimeoutMs);
    if (done) return;
  }
  send(res, 502, { error: 'no owner of this key could be reached', key, tried });
}

/** Splits `/proxy/KEY/rest?query` into the decoded key, the rest as a path (no leading slash) and the query. */
export function parseProxyTarget(raw: string): { key: string; path: string; search: string } {
  if (raw.includes('#')) throw new HttpError(400, 'a request target must not have a fragment');
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const search = q < 0 ? '' : raw.slice(q);
  const rest = rawPath.slice('/proxy/'.length);
  const slash = rest.indexOf('/');
  const key = decode(slash < 0 ? rest : rest.slice(0, slash), 'the key');
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  // Only plain path segments: no way to name another host or climb above the owner's base path.
  if (/[\\\s]/.test(path) || /[^\x21-\x7e]/.test(path))
    throw new HttpError(400, 'the proxied path must not contain backslashes, spaces or control characters');
  const segments = path.split('/');
  if (segments.slice(0, -1).includes('')) throw new HttpError(400, 'the proxied path must not contain empty segments (//)');
  for (const s of segments) {
    const d = decode(s, 'the proxied path');
    if (d === '.' || d === '..' || d.includes('\\'))
      throw new HttpError(400, 'the proxied path must not contain dot segments or encoded backslashes');
  }
  return { key, path, search };
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, `${what} is not valid percent-encoding`);
  }
}

/** The owner's http: URL plus the path; undefined when the tag is missing or not an http: URL. */
export function ownerTarget(tag: string | undefined, path: string, search: string): URL | undefined {
  if (!tag) return undefined;
  let base: URL;
  try {
    base = new URL(tag);
  } catch {
    return undefined;
  }
  if (base.protocol !== 'http:' || base.hostname === '') return undefined;
  const target = new URL(base.origin);
  target.pathname = `${base.pathname.replace(/\/+$/, '')}/${path}`;
  target.search = search;
  return target;
}

function forwardedHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  // Headers the client named in Connection are hop-by-hop too.
  const named = new Set(
    String(req.headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((h) => h.trim()),
  );
  return Object.fromEntries(Object.entries(req.headers).filter(([h]) => !NOT_FORWARDED.has(h) && !named.has(h)));
}

/**
 * Forwards once; resolves true once a response is being relayed, false if the owner could not be
 * reached. A relayed response that fails midway (the owner resets or stalls) aborts the
 * client's response, so the client sees the failure instead of waiting.
 */
function attempt(
  target: URL,
  method: string,
  headers: OutgoingHttpHeaders,
  body: Buffer,
  res: ServerResponse,
  owner: string,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const out = request(
      target,
      { method, headers: { ...headers, 'content-length': body.length, 'x-swimring-owner': owner }, timeout: timeoutMs },
      (upstream) => {
        const relayed = Object.fromEntries(Object.entries(upstream.headers).filter(([h]) => !NOT_RELAYED.has(h)));
        res.writeHead(upstream.statusCode ?? 502, { ...relayed, 'x-swimring-owner': owner });
        pipeline(upstream, res, (err) => {
          if (err) {
            out.destroy();
            res.destroy();
          }
        });
        resolve(true);
      },
    );
    const clientGone = () => out.destroy();
    res.once('close', clientGone);
    out.on('timeout', () => out.destroy(new Error('timeout')));
    out.on('error', () => {
      res.off('close', clientGone);
      resolve(false);
    });
    out.on('close', () => res.off('close', clientGone));
    out.end(body);
  });
}
