/**
 * The agent's HTTP endpoint: GET /members, GET /health, POST /event, POST /query, GET /events
 * (server-sent events, src/cli/events-sse.ts), GET / (the dashboard, src/cli/dashboard/); with the
 * ring also GET /ring, GET /route?key=K, GET /metrics (Prometheus text) and the routing proxy
 * /proxy/KEY/... . /query answers with one JSON line per ack or response as they arrive, then a
 * summary line. With a token, every endpoint that changes anything or proxies needs
 * `Authorization: Bearer TOKEN`. Everything a client can make the agent hold is bounded:
 * connections, header size and time, request time, buffered bodies (per request and in all),
 * running queries and their timeouts, event streams and what each may leave unread.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type Socket, isIP } from 'node:net';
import { isLoopback } from './http-flags.js';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { SwimringError } from '../errors.js';
import type { QueryFilter } from '../serf/query-filters.js';
import type { GossipNode, Member } from '../io/gossip-node.js';
import type { Ring } from '../ring/ring.js';
import { dashboardAsset } from './dashboard/assets.js';
import { parseDuration } from './duration.js';
import { DEFAULT_SSE_LIMITS, EventStream, type SseLimits, memberJson, payloadJson } from './events-sse.js';
import { metricsText } from './metrics.js';
import { proxy } from './proxy.js';
import { UsageError } from './usage.js';

export { memberJson, payloadJson } from './events-sse.js';

/** Event payloads are at most 512 bytes and query payloads a few KiB; 64 KiB leaves room and no more. */
const MAX_BODY_BYTES = 64 * 1024;
/** Longest query through HTTP: long enough for any cluster's answers, short enough that an abandoned one cannot hold a slot for long. */
export const MAX_HTTP_QUERY_TIMEOUT_MS = 5 * 60_000;
/** Serf's relay factor range. */
const MAX_RELAY_FACTOR = 5;

export interface HttpLimits {
  /** Connections open at once; more are closed on accept (each costs a socket and parser state). */
  maxConnections: number;
  /** Request body bytes buffered across all requests; a request that would exceed it gets 503. */
  maxBufferedBodyBytes: number;
  /** Queries running through HTTP at once; kept well under the node's 256 so name-conflict votes and the library always find a slot. */
  maxHttpQueries: number;
  /** Time to receive a request's headers. */
  headersTimeoutMs: number;
  /** A client sends its request head as soon as it connects: at the connection limit, one that has not within this is evicted first. */
  requestHeadGraceMs: number;
  /** Time to receive a whole request, body included. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept. */
  keepAliveTimeoutMs: number;
  /** How often the header and request deadlines are checked. */
  connectionsCheckingIntervalMs: number;
  /** Bytes of request line and headers. */
  maxHeaderSize: number;
  /** Header lines parsed per request. */
  maxHeadersCount: number;
  /** A proxied attempt's socket may be idle this long (connecting, or mid-response) before it is abandoned. */
  proxyAttemptTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  // A few hundred clients, operators and proxied requests at once; Node's default is unlimited.
  maxConnections: 256,
  // 32 proxied bodies of the 1 MiB maximum at once: memory stays tens of MiB whatever clients send.
  maxBufferedBodyBytes: 32 * 1024 * 1024,
  maxHttpQueries: 64,
  // A client sends its headers in one go; 10 s tolerates slow links and frees slowloris sockets.
  headersTimeoutMs: 10_000,
  requestHeadGraceMs: 1_000,
  // A 1 MiB body over a slow link; /query's streamed answer is not part of the request.
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckingIntervalMs: 1_000,
  // Node's default: plenty for bearer tokens and proxied application headers.
  maxHeaderSize: 16 * 1024,
  maxHeadersCount: 100,
  proxyAttemptTimeoutMs: 10_000,
});

export interface AgentHttpOptions {
  /** When set, POST /event, /query, /ready, /failed and /proxy/* need `Authorization: Bearer TOKEN`. */
  token?: string;
  limits?: Partial<HttpLimits>;
  /** Bounds of GET /events (src/cli/events-sse.ts). */
  sse?: Partial<SseLimits>;
  /** Where dropped /events clients are logged. */
  logger?: Logger;
}

/** Reasons a request or connection was refused, as counted in swimring_http_drops_total. */
export const HTTP_DROP_REASONS = [
  'connections',
  'evicted',
  'bodyBudget',
  'bodyTooLarge',
  'queries',
  'unauthorized',
  'headers',
  'timeout',
  'malformed',
  'sseClients',
  'sseSlow',
  'crossSite',
] as const;
export type HttpDropReason = (typeof HTTP_DROP_REASONS)[number];

/** What the HTTP side holds now and what it refused, for /metrics. */
export class HttpStats {
  readonly drops: Record<HttpDropReason, number> = Object.fromEntries(HTTP_DROP_REASONS.map((r) => [r, 0])) as Record<
    HttpDropReason,
    number
  >;
  connections = 0;
  bufferedBodyBytes = 0;
  runningQueries = 0;
}

/** A refusal with its status; `drop` counts it. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly drop?: HttpDropReason,
  ) {
    super(message);
  }
}

/** Paths whose every method needs the token (they change state); /proxy/* is guarded too. */
const GUARDED_PATHS = new Set(['/event', '/query', '/ready', '/failed']);

/** Read endpoints: another method on them is 405. */
const READ_PATHS = new Set(['/members', '/health', '/events']);

/** Per-server state the handlers share. */
export interface HttpContext {
  readonly node: GossipNode;
  readonly ring: Ring | undefined;
  readonly limits: Readonly<HttpLimits>;
  readonly stats: HttpStats;
  /** SHA-256 of the token: compared in constant time whatever the presented token's length. */
  readonly tokenDigest: Buffer | undefined;
  /** GET /events. */
  readonly events: EventStream;
}

export function agentHttpServer(node: GossipNode, ring?: Ring, options: AgentHttpOptions = {}): Server {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  if (options.token !== undefined && options.token === '') throw new SwimringError('ERR_INVALID_OPTION', ' must not be empty', 'token');
  const requested = new WeakSet<Socket>();
  const stats = new HttpStats();
  const ctx: HttpContext = {
    node,
    ring,
    limits,
    stats,
    tokenDigest: options.token === undefined ? undefined : sha256(options.token),
    events: new EventStream(node, ring, { ...DEFAULT_SSE_LIMITS, ...options.sse }, stats.drops, options.logger),
  };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
      maxHeaderSize: limits.maxHeaderSize,
    },
    (req, res) => {
      if (!requested.has(req.socket)) {
        requested.add(req.socket);
        req.socket.setTimeout(0);
      }
      handle(ctx, req, res).catch((err: unknown) => fail(ctx, res, err));
    },
  );
  server.maxHeadersCount = limits.maxHeadersCount;
  // close() waits for open responses, and an event stream never ends by itself: end them first.
  const closeServer = server.close.bind(server);
  server.close = (callback?: (err?: Error) => void) => {
    ctx.events.close();
    return closeServer(callback);
  };
  // Open connections, oldest first, with the request each is serving (if any).
  const open = new Map<Socket, OpenConnection>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const conn = open.get(req.socket);
    if (conn === undefined) return;
    conn.req = req;
    res.once('close', () => {
      conn.served = true;
      if (conn.req === req) conn.req = undefined;
    });
  });
  server.on('connection', (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      const idle = idlest(open, performance.now(), limits.requestHeadGraceMs);
      if (idle === undefined) {
        ctx.stats.drops.connections++;
        socket.destroy();
        return;
      }
      ctx.stats.drops.evicted++;
      open.delete(idle);
      idle.destroy();
    }
    open.set(socket, { openedAtMs: performance.now(), served: false, req: undefined });
    ctx.stats.connections++;
    socket.once('close', () => {
      open.delete(socket);
      ctx.stats.connections--;
    });
    // Node's header deadline starts with the first byte: a connection that sends nothing would
    // be kept forever. Until its first request arrives, an idle socket is closed (by Node's
    // timeout handler) after the header deadline; requests clear this.
    socket.setTimeout(limits.headersTimeoutMs);
    socket.once('timeout', () => {
      if (!requested.has(socket)) ctx.stats.drops.timeout++;
    });
  });
  // Node's own answers (431, 408, 400), with the refusal counted.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }) => {
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    if (err.code !== 'ECONNRESET') ctx.stats.drops[status === 431 ? 'headers' : status === 408 ? 'timeout' : 'malformed']++;
    if (socket.writable && socket.bytesWritten === 0) {
      const text = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
      socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroy();
  });
  return server;
}

interface OpenConnection {
  readonly openedAtMs: number;
  /** It has had a request answered (a keep-alive client between requests, not a slowloris). */
  served: boolean;
  /** The request it is serving now. */
  req: IncomingMessage | undefined;
}

/**
 * At the connection limit a newcomer takes the place of the oldest connection doing nothing
 * useful: first one that has not sent a whole request head within `requestHeadGraceMs`
 * (slowloris), then one whose request body is still arriving (a trickled upload), then the
 * oldest of those that have just connected (an attacker reconnecting as fast as it is closed
 * evicts its own older connections, not a client that sends its request at once), and last one
 * idle between requests (a keep-alive client that has been served). Connections serving a
 * complete request (a streaming /query answer, a proxied response) are never evicted.
 */
function idlest(open: ReadonlyMap<Socket, OpenConnection>, nowMs: number, graceMs: number): Socket | undefined {
  let uploading: Socket | undefined;
  let idle: Socket | undefined;
  let fresh: Socket | undefined;
  for (const [socket, { openedAtMs, served, req }] of open) {
    if (req === undefined && !served) {
      if (nowMs - openedAtMs >= graceMs) return socket;
      fresh ??= socket;
    } else if (req !== undefined && !req.complete) uploading ??= socket;
    else if (req === undefined) idle ??= socket;
  }
  return uploading ?? fresh ?? idle;
}

function fail(ctx: HttpContext, res: ServerResponse, err: unknown): void {
  if (err instanceof HttpError && err.drop) ctx.stats.drops[err.drop]++;
  if (res.destroyed || res.writableEnded) return; // the client went away, or the answer is complete
  if (res.headersSent) {
    // Mid-answer: the client must see a broken response, not a complete-looking one.
    res.destroy();
    return;
  }
  const status = err instanceof HttpError ? err.status : err instanceof SwimringError || err instanceof UsageError ? 400 : 500;
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="swimring"';
  // A refused body may still be arriving: do not keep reading it on this connection.
  if (status === 413 || status === 503) headers['connection'] = 'close';
  send(res, status, { error: err instanceof Error ? err.message : String(err) }, headers);
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Refuses what a web page in the operator's browser could send: a request from another origin
 * (a simple POST needs no preflight, so /event, /query, /ready would run), and on loopback a
 * request naming a host that is not an address or localhost (DNS rebinding: a page's own name
 * made to point at 127.0.0.1, so that it may read the answers). The dashboard's requests are
 * same-origin; clients other than browsers send no Origin.
 */
function sameSite(req: IncomingMessage): void {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (req.headers['sec-fetch-site'] === 'cross-site' || (origin !== undefined && origin !== `http://${host}`))
    throw new HttpError(403, 'cross-site requests are refused', 'crossSite');
  if (isLoopback(req.socket.localAddress ?? '')) {
    const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
    if (name !== 'localhost' && isIP(name) === 0)
      throw new HttpError(
        403,
        `on loopback the Host must be an address or localhost, got ${JSON.stringify(host.slice(0, 100))}`,
        'crossSite',
      );
  }
}

function authorize(ctx: HttpContext, req: IncomingMessage): void {
  if (ctx.tokenDigest === undefined) return;
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  if (m && timingSafeEqual(sha256(m[1]!), ctx.tokenDigest)) return;
  throw new HttpError(401, "this endpoint needs Authorization: Bearer <the agent's --http-token>", 'unauthorized');
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { node, ring } = ctx;
  sameSite(req);
  const raw = req.url ?? '/';
  if (!raw.startsWith('/')) throw new HttpError(400, 'the request target must be a path');
  const url = new URL(raw, 'http://agent');
  const proxied = raw.startsWith('/proxy/') || raw === '/proxy' || url.pathname.startsWith('/proxy/');
  if (proxied || GUARDED_PATHS.has(url.pathname)) authorize(ctx, req);
  if (ring && raw.startsWith('/proxy/'))
    return proxy(ring, req, res, raw, {
      readBody: (max) => readBody(ctx, req, res, max),
      attemptTimeoutMs: ctx.limits.proxyAttemptTimeoutMs,
    });
  const route = `${req.method} ${url.pathname}`;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const asset = dashboardAsset(url.pathname);
    if (asset) {
      res.writeHead(200, asset.headers);
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
  }
  switch (route) {
    case 'GET /events':
      if (!ctx.events.serve(req, res, url))
        throw new HttpError(503, `at most ${ctx.events.maxClients} event streams at once; try again later`);
      return;
    case 'GET /metrics':
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metricsText(node, ring, ctx.stats));
      return;
    case 'GET /ring': {
      if (!ring) return send(res, 404, { error: 'no ring: start the agent with --partitions' });
      const t = ring.table;
      const owners = Array.from({ length: t.partitions }, (_, p) => t.membersForPartition(p));
      return send(res, 200, {
        checksum: t.checksum,
        partitions: t.partitions,
        replicas: t.replicas,
        hash: t.hash,
        placement: t.placement,
        members: t.members,
        owners,
        name: ring.name,
        joining: ring.joining,
        handoff: ring.handoff,
        // With handoff, who can serve each partition now: ready owners in replica order, then
        // members still handing it over (an owner missing here is still loading it).
        ...(ring.handoff
          ? { ready: Array.from({ length: t.partitions }, (_, p) => ring.membersForPartition(p, { ready: true }).map((m) => m.name)) }
          : {}),
      });
    }
    case 'POST /ready':
    case 'POST /failed': {
      if (!ring?.handoff) return send(res, 404, { error: 'no handoff: start the agent with --partitions and --handoff' });
      const partition = Number(required(url, 'partition'));
      if (url.pathname === '/ready') ring.ready(partition);
      else ring.reportFailed(partition);
      return send(res, 200, { ok: true, partition });
    }
    case 'GET /route': {
      if (!ring) return send(res, 404, { error: 'no ring: start the agent with --partitions' });
      const key = required(url, 'key');
      const member = (m: Member) => ({ name: m.name, address: `${m.host}:${m.port}`, tags: m.tags });
      return send(res, 200, {
        key,
        partition: ring.partitionForKey(key),
        members: ring.membersForKey(key).map(member),
        ready: ring.membersForKey(key, { ready: true }).map(member),
      });
    }
    case 'GET /members':
      // ?since=true adds statusSince (when this agent saw the member enter its status, ms since the
      // epoch) and suspect (the failure detector suspects it; Serf's status is still alive).
      if (url.searchParams.get('since') === 'true')
        return send(
          res,
          200,
          node.members().map((m) => ({ ...memberJson(m), statusSince: ctx.events.statusSince(m), suspect: m.suspect })),
        );
      return send(res, 200, node.members().map(memberJson));
    case 'GET /health': {
      const alive = node.members().filter((m) => m.status === 'alive').length;
      return send(res, 200, { status: node.leaving ? 'leaving' : 'ok', name: node.name, alive, healthScore: node.healthScore });
    }
    case 'POST /event': {
      const name = required(url, 'name');
      node.userEvent(name, await readBody(ctx, req, res, MAX_BODY_BYTES), { coalesce: url.searchParams.get('coalesce') !== 'false' });
      return send(res, 200, { ok: true, name });
    }
    case 'POST /query':
      return query(ctx, url, req, res);
    default:
      return send(res, GUARDED_PATHS.has(url.pathname) || READ_PATHS.has(url.pathname) || dashboardAsset(url.pathname) ? 405 : 404, {
        error: 'not found',
      });
  }
}

async function query(ctx: HttpContext, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const name = required(url, 'name');
  const filters: QueryFilter[] = [];
  const nodes = url.searchParams.getAll('node');
  if (nodes.length > 0) filters.push({ type: 'node', names: nodes });
  for (const tag of url.searchParams.getAll('tag')) {
    const eq = tag.indexOf('=');
    if (eq <= 0) throw new UsageError(`tag must be KEY=REGEXP, got ${JSON.stringify(tag)}`);
    filters.push({ type: 'tag', tag: tag.slice(0, eq), expr: tag.slice(eq + 1) });
  }
  const timeout = url.searchParams.get('timeout');
  const timeoutMs = timeout === null ? undefined : parseDuration('timeout', timeout);
  if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_HTTP_QUERY_TIMEOUT_MS)) {
    throw new UsageError(`timeout must be more than 0 and at most 5m, got ${JSON.stringify(timeout)}`);
  }
  const relay = url.searchParams.get('relay');
  if (relay !== null && !(/^\d$/.test(relay) && Number(relay) <= MAX_RELAY_FACTOR))
    throw new UsageError(`relay must be an integer in [0, ${MAX_RELAY_FACTOR}], got ${JSON.stringify(relay)}`);
  if (ctx.stats.runningQueries >= ctx.limits.maxHttpQueries)
    throw new HttpError(503, `at most ${ctx.limits.maxHttpQueries} queries run through HTTP at once; try again later`, 'queries');
  ctx.stats.runningQueries++;
  try {
    // The client went away (or the answer ended): stop the query, which frees its slot.
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    const payload = await readBody(ctx, req, res, MAX_BODY_BYTES);
    const replies = ctx.node.query(name, payload, {
      filters,
      requestAck: url.searchParams.get('ack') !== 'false',
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(relay !== null ? { relayFactor: Number(relay) } : {}),
      signal: controller.signal,
    });
    let acks = 0;
    let responses = 0;
    let first = true;
    for await (const r of replies) {
      if (first) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      first = false;
      if (r.type === 'ack') acks++;
      else responses++;
      res.write(`${JSON.stringify(r.type === 'ack' ? r : { type: r.type, from: r.from, ...payloadJson(r.payload) })}\n`);
    }
    if (controller.signal.aborted) return;
    if (first) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end(`${JSON.stringify({ type: 'done', acks, responses })}\n`);
  } finally {
    ctx.stats.runningQueries--;
  }
}

function required(url: URL, param: string): string {
  const v = url.searchParams.get(param);
  if (v === null || v === '') throw new UsageError(`${param} is required`);
  return v;
}

/**
 * Reads a request body of at most `max` bytes, drawing on the server's budget for buffered
 * bodies; what it took is given back when the response closes.
 */
async function readBody(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, max: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `body must be at most ${max} bytes`, 'bodyTooLarge');
  const overBudget = () => new HttpError(503, 'the agent holds too many request bodies; try again later', 'bodyBudget');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw tooLarge();
  if (ctx.stats.bufferedBodyBytes + declared > ctx.limits.maxBufferedBodyBytes) throw overBudget();
  let held = 0;
  let released = false;
  res.once('close', () => {
    released = true;
    ctx.stats.bufferedBodyBytes -= held;
    held = 0;
  });
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (released) throw new HttpError(499, 'the client went away');
    if (held + chunk.length > max) throw tooLarge();
    if (ctx.stats.bufferedBodyBytes + chunk.length > ctx.limits.maxBufferedBodyBytes) throw overBudget();
    held += chunk.length;
    ctx.stats.bufferedBodyBytes += chunk.length;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, held);
}
