/**
 * The agent's HTTP endpoint: GET /members, GET /health, POST /event, POST /query; with the ring
 * also GET /ring, GET /route?key=K, GET /metrics (Prometheus text) and the routing proxy
 * /proxy/KEY/... . /query answers with one JSON line per ack or response as they arrive, then a
 * summary line. Request bodies are bounded (64 KiB for events and queries, 1 MiB proxied).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Ring } from '../ring/ring.js';
import { metricsText } from './metrics.js';
import { proxy } from './proxy.js';
import { SwimringError } from '../errors.js';
import type { QueryFilter } from '../gossip/serf/query-filters.js';
import type { GossipNode, Member } from '../io/gossip-node.js';
import { parseDuration } from './duration.js';
import { UsageError } from './usage.js';

const MAX_BODY_BYTES = 64 * 1024;

export function memberJson(m: Member): Record<string, unknown> {
  return { name: m.name, address: `${m.host}:${m.port}`, status: m.status, incarnation: m.incarnation, tags: m.tags, protocol: m.delegate };
}

/** A payload as JSON: text when it is valid UTF-8, else base64 under another key. */
export function payloadJson(payload: Uint8Array): { payload: string } | { payloadBase64: string } {
  try {
    return { payload: new TextDecoder('utf-8', { fatal: true }).decode(payload) };
  } catch {
    return { payloadBase64: Buffer.from(payload).toString('base64') };
  }
}

export function agentHttpServer(node: GossipNode, ring?: Ring): Server {
  return createServer((req, res) => {
    handle(node, ring, req, res).catch((err: unknown) => {
      const bad = err instanceof SwimringError || err instanceof UsageError;
      if (!res.headersSent) send(res, bad ? 400 : 500, { error: err instanceof Error ? err.message : String(err) });
      else res.end();
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

async function handle(node: GossipNode, ring: Ring | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://agent');
  if (ring && url.pathname.startsWith('/proxy/')) return proxy(ring, req, res, url);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /metrics':
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metricsText(node, ring));
      return;
    case 'GET /ring': {
      if (!ring) return send(res, 404, { error: 'no ring: start the agent with --partitions' });
      const t = ring.table;
      const owners = Array.from({ length: t.partitions }, (_, p) => t.membersForPartition(p));
      return send(res, 200, { checksum: t.checksum, partitions: t.partitions, replicas: t.replicas, hash: t.hash, placement: t.placement, members: t.members, owners });
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
      return send(res, 200, { key, partition: ring.partitionForKey(key), members: ring.membersForKey(key).map(member), ready: ring.membersForKey(key, { ready: true }).map(member) });
    }
    case 'GET /members':
      return send(res, 200, node.members().map(memberJson));
    case 'GET /health': {
      const alive = node.members().filter((m) => m.status === 'alive').length;
      return send(res, 200, { status: node.machine.leaving ? 'leaving' : 'ok', name: node.machine.name, alive, healthScore: node.machine.gossip.healthScore });
    }
    case 'POST /event': {
      const name = required(url, 'name');
      node.userEvent(name, await body(req), { coalesce: url.searchParams.get('coalesce') !== 'false' });
      return send(res, 200, { ok: true, name });
    }
    case 'POST /query': {
      const name = required(url, 'name');
      const payload = await body(req);
      const filters: QueryFilter[] = [];
      const nodes = url.searchParams.getAll('node');
      if (nodes.length > 0) filters.push({ type: 'node', names: nodes });
      for (const tag of url.searchParams.getAll('tag')) {
        const eq = tag.indexOf('=');
        if (eq <= 0) throw new UsageError(`tag must be KEY=REGEXP, got ${JSON.stringify(tag)}`);
        filters.push({ type: 'tag', tag: tag.slice(0, eq), expr: tag.slice(eq + 1) });
      }
      const timeout = url.searchParams.get('timeout');
      const relay = url.searchParams.get('relay');
      const controller = new AbortController();
      req.on('close', () => controller.abort());
      const replies = node.query(name, payload, {
        filters,
        requestAck: url.searchParams.get('ack') !== 'false',
        ...(timeout ? { timeoutMs: parseDuration('timeout', timeout) } : {}),
        ...(relay ? { relayFactor: Number(relay) } : {}),
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
      if (first) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end(`${JSON.stringify({ type: 'done', acks, responses })}\n`);
      return;
    }
    default:
      return send(res, url.pathname === '/members' || url.pathname === '/health' || url.pathname === '/event' || url.pathname === '/query' ? 405 : 404, { error: 'not found' });
  }
}

function required(url: URL, param: string): string {
  const v = url.searchParams.get(param);
  if (v === null || v === '') throw new UsageError(`${param} is required`);
  return v;
}

async function body(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new UsageError(`body must be at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
