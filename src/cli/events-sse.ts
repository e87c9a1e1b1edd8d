/**
 * GET /events: the agent's events as server-sent events (text/event-stream), for the dashboard
 * and for scripts (`curl -N`). Each event's `data:` is one JSON line shaped like the agent's
 * stdout line for it (`event` plus the same fields) with `time` (ms since the epoch) added:
 *
 * - `hello` on connecting: {name, time, ring, partitions?, replicas?, handoff?};
 * - `member-join`, `member-update`, `member-leave`, `member-failed`, `member-reap`: the member
 *   as GET /members shows it (name, address, status, incarnation, tags, protocol); the local
 *   member's own tag changes come as member-update too, within `healthIntervalMs`;
 * - `user-event`: {name, ltime, coalesce, payload | payloadBase64};
 * - `acquire` {partition, replica, from}, `release` {partition, replica, to}, `promote` and
 *   `demote` {partition, replica, previousReplica}: the local member's holdings, as the ring
 *   reports them (with handoff, a lost partition's release comes once its new holders are ready);
 * - `health` every `healthIntervalMs` and on connecting (unless `?health=false`): counters and
 *   the health score, for rates;
 * - `dropped` (the last event of a client that read too slowly) and `closing` (the agent stops).
 *
 * Comment lines (`: ping`) every `heartbeatMs` keep proxies from closing an idle stream.
 *
 * Bounded: at most `maxClients` streams (more get 503, `sseClients`), and per client at most
 * `maxBufferedBytes` written and not yet taken by the socket: a client past it is dropped
 * (`sseSlow`, logged at most 10 times a second), its slot held until its socket closes (at
 * most `dropGraceMs` later), so streams hold at most maxClients × maxBufferedBytes (plus each
 * dropped stream's last event). Events wait for at most one turn of the event loop, in one batch
 * shared by all streams (written at once past 64 KiB); the agent never waits for a reader.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { GossipNode, Member } from '../io/gossip-node.js';
import { invalidOption } from '../errors.js';
import type { Ring } from '../ring/ring.js';
import { DropLogLimit } from './drop-log-limit.js';

export interface SseLimits {
  /** Event streams open at once. */
  maxClients: number;
  /** Bytes written to one client and not yet taken by its socket; past this it is dropped. */
  maxBufferedBytes: number;
  /** Interval of the keep-alive comment. */
  heartbeatMs: number;
  /** Interval of `health` samples. */
  healthIntervalMs: number;
  /** How long a dropped or closing client has to take its last event before its socket is destroyed. */
  dropGraceMs: number;
  /**
   * A stream older than this is ended with `renew` (checked with each heartbeat): EventSource
   * reconnects by itself, and clients that never let go cannot keep the slots for good.
   */
  maxStreamAgeMs: number;
}

export const DEFAULT_SSE_LIMITS: Readonly<SseLimits> = Object.freeze({
  // A few dashboards and scripts; each costs a socket and up to maxBufferedBytes.
  maxClients: 32,
  // Serf RPC's per-client output budget: a burst of every partition of a 2 056-partition ring
  // (~130 KB) or of a few thousand member events fits; a client that stays this far behind is gone.
  maxBufferedBytes: 1 << 20,
  // Under the idle timeouts of common proxies (60 s) with room to spare.
  heartbeatMs: 15_000,
  healthIntervalMs: 2_000,
  dropGraceMs: 2_000,
  maxStreamAgeMs: 15 * 60_000,
});

/** Member events, as the agent prints them. */
export const MEMBER_EVENTS = ['member-join', 'member-update', 'member-leave', 'member-failed', 'member-reap'] as const;

/** Batches at least this large are written at once rather than at the end of the turn. */
const FLUSH_BYTES = 64 * 1024;
/** "SSE client dropped" lines a second at most (the rest are counted in the next line). */
const DROP_LOGS_PER_SECOND = 10;
/** Suspects named per health sample at most (their count is in members.alive meanwhile). */
const MAX_SUSPECTS_LISTED = 256;

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

/** One SSE frame: JSON.stringify never emits a line break, so the data is one line. */
function frame(event: string, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${JSON.stringify({ event, ...data })}\n\n`;
}

interface Client {
  readonly res: ServerResponse;
  readonly socket: Socket;
  readonly health: boolean;
  readonly openedAtMs: number;
  /** Ended (dropped or closing): nothing more is written. */
  ended: boolean;
  graceTimer: NodeJS.Timeout | undefined;
}

/** Refusals the stream counts, by the HTTP drop reasons of /metrics. */
export interface SseDrops {
  sseClients: number;
  sseSlow: number;
}

export class EventStream {
  readonly #node: GossipNode;
  readonly #ring: Ring | undefined;
  readonly #limits: Readonly<SseLimits>;
  readonly #drops: SseDrops;
  readonly #log: Logger | undefined;
  readonly #dropLog = new DropLogLimit(DROP_LOGS_PER_SECOND);
  readonly #clients = new Set<Client>();
  /** When this agent saw each member enter its current status (ms since the epoch). */
  readonly #since = new Map<string, { status: string; atMs: number }>();
  #pruneAt = 64;
  /** Removes this stream's listeners from the node. */
  readonly #unsubscribe: (() => void)[] = [];
  /** Held partitions by kind, for the table they were counted on. */
  #held: { table: unknown; primaries: number; replicas: number } | undefined;
  readonly #ringStop = new AbortController();
  #batch = '';
  #flushQueued = false;
  /** The local member's tags as last reported (the node emits no member-update for its own tag changes). */
  #selfTags: string | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(node: GossipNode, ring: Ring | undefined, limits: Readonly<SseLimits>, drops: SseDrops, log?: Logger) {
    for (const key of Object.keys(DEFAULT_SSE_LIMITS) as (keyof SseLimits)[]) {
      const v = limits[key];
      if (!Number.isSafeInteger(v) || v < 1) throw invalidOption(`sse.${key}`, 'a positive integer', v);
    }
    this.#node = node;
    this.#ring = ring;
    this.#limits = limits;
    this.#drops = drops;
    this.#log = log;
    const now = Date.now();
    for (const m of node.members()) this.#since.set(m.name, { status: m.status, atMs: now });
    this.#pruneAt = 2 * this.#since.size + 64;
    for (const event of MEMBER_EVENTS) {
      const listener = (m: Member) => {
        const time = Date.now();
        this.#seen(m, event === 'member-reap', time);
        if (this.#clients.size > 0) this.#broadcast(frame(event, { ...memberJson(m), time }));
      };
      node.on(event, listener);
      this.#unsubscribe.push(() => node.off(event, listener));
    }
    const onUserEvent = (e: { name: string; ltime: bigint; coalesce: boolean; payload: Uint8Array }) => {
      if (this.#clients.size === 0) return;
      const data = { name: e.name, ltime: String(e.ltime), coalesce: e.coalesce, ...payloadJson(e.payload), time: Date.now() };
      this.#broadcast(frame('user-event', data));
    };
    node.on('event', onUserEvent);
    this.#unsubscribe.push(() => node.off('event', onUserEvent));
    if (ring) void this.#followRing(ring);
  }

  get maxClients(): number {
    return this.#limits.maxClients;
  }

  /** Event streams open now (dropped ones count until their socket closes). */
  get clients(): number {
    return this.#clients.size;
  }

  /** When this agent saw `m` enter its current status (ms since the epoch). */
  statusSince(m: Member): number {
    return this.#seen(m, false, Date.now());
  }

  /** Serves GET /events on `res`; false when every slot is taken (the caller answers 503). */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    // A stream pipelined behind another request of its connection (no socket yet), or behind a
    // stream, would hold a slot and never be sent a byte: one connection, one stream.
    const queued = res.socket === null || [...this.#clients].some((c) => c.socket === req.socket);
    if (this.#closed || queued || this.#clients.size >= this.#limits.maxClients) {
      this.#drops.sseClients++;
      return false;
    }
    const client: Client = {
      res,
      socket: req.socket,
      health: url.searchParams.get('health') !== 'false',
      openedAtMs: performance.now(),
      ended: false,
      graceTimer: undefined,
    };
    this.#clients.add(client);
    res.once('close', () => {
      clearTimeout(client.graceTimer);
      this.#clients.delete(client);
      if (this.#clients.size === 0) this.#stopTimers();
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      // One long response per connection: once it ends, the socket closes.
      connection: 'close',
    });
    const ring = this.#ring;
    const hello = {
      name: this.#node.name,
      time: Date.now(),
      ring: ring !== undefined,
      ...(ring ? { partitions: ring.table.partitions, replicas: ring.table.replicas, handoff: ring.handoff } : {}),
    };
    this.#write(client, `retry: 3000\n\n${frame('hello', hello)}`);
    if (client.health) this.#write(client, this.#healthFrame());
    if (this.#clients.size === 1) this.#selfTags = JSON.stringify(this.#node.tags);
    this.#startTimers();
    return true;
  }

  /** Ends every stream (`closing`) and stops following the node; streams that do not drain are destroyed after dropGraceMs. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ringStop.abort();
    for (const off of this.#unsubscribe) off();
    this.#stopTimers();
    this.#flush();
    const bye = frame('closing', { name: this.#node.name, time: Date.now() });
    for (const c of this.#clients) this.#end(c, bye);
  }

  #seen(m: Member, reaped: boolean, now: number): number {
    if (reaped) {
      this.#since.delete(m.name);
      return now;
    }
    const known = this.#since.get(m.name);
    if (known?.status === m.status) return known.atMs;
    this.#since.set(m.name, { status: m.status, atMs: now });
    // Members forgotten without a reap must not pile up: the map is pruned to the node's table
    // when it has doubled since the last pruning, so listing the members (O(n)) is amortized
    // over the n insertions before it, not paid per event.
    if (this.#since.size > this.#pruneAt) {
      const names = new Set(this.#node.members().map((x) => x.name));
      for (const name of this.#since.keys()) if (!names.has(name)) this.#since.delete(name);
      this.#pruneAt = 2 * this.#since.size + 64;
    }
    return now;
  }

  async #followRing(ring: Ring): Promise<void> {
    try {
      for await (const change of ring.events({ signal: this.#ringStop.signal })) {
        // Followed from the start (a consumer's first events are its holdings, not changes), formatted only for someone.
        if (this.#clients.size === 0) continue;
        const { type, ...rest } = change;
        this.#broadcast(frame(type, { ...rest, time: Date.now() }));
      }
    } catch (err) {
      if (!this.#ringStop.signal.aborted) this.#log?.error({ err }, 'event stream stopped following the ring');
    }
  }

  #broadcast(text: string): void {
    if (this.#clients.size === 0) return;
    this.#batch += text;
    if (this.#batch.length >= FLUSH_BYTES) this.#flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    const batch = this.#batch;
    this.#batch = '';
    if (batch === '') return;
    for (const c of this.#clients) this.#write(c, batch);
  }

  #write(c: Client, text: string): void {
    if (c.ended) return;
    // writableLength: what the response and its socket hold that the kernel has not taken.
    const buffered = c.res.writableLength;
    if (buffered + Buffer.byteLength(text) > this.#limits.maxBufferedBytes) {
      this.#drop(c, buffered);
      return;
    }
    c.res.write(text);
  }

  #drop(c: Client, buffered: number): void {
    this.#drops.sseSlow++;
    const admitted = this.#dropLog.admit('slow', performance.now());
    if (admitted && this.#log) {
      this.#log.warn(
        {
          client: `${c.socket.remoteAddress}:${c.socket.remotePort}`,
          bufferedBytes: buffered,
          maxBufferedBytes: this.#limits.maxBufferedBytes,
          ...(admitted.unloggedBefore > 0 ? { alsoDroppedUnlogged: admitted.unloggedBefore } : {}),
        },
        'SSE client dropped: it reads too slowly',
      );
    }
    this.#end(
      c,
      frame('dropped', { reason: 'slow', bufferedBytes: buffered, maxBufferedBytes: this.#limits.maxBufferedBytes, time: Date.now() }),
    );
  }

  /** Ends a stream with a last event; the socket is destroyed if it has not drained within dropGraceMs. */
  #end(c: Client, last: string): void {
    if (c.ended) return;
    c.ended = true;
    c.res.end(last);
    c.graceTimer = setTimeout(() => c.socket.destroy(), this.#limits.dropGraceMs);
    c.graceTimer.unref();
  }

  /**
   * A member-update for the local member when its tags changed (the ring's readiness tag changes
   * as partitions are loaded and handed over): the node reports only other members' updates.
   */
  #checkSelf(): void {
    const tags = JSON.stringify(this.#node.tags);
    if (tags === this.#selfTags) return;
    const first = this.#selfTags === undefined;
    this.#selfTags = tags;
    const self = first ? undefined : this.#node.members().find((m) => m.name === this.#node.name);
    if (self) this.#broadcast(frame('member-update', { ...memberJson(self), time: Date.now() }));
  }

  #healthFrame(): string {
    const node = this.#node;
    const c = node.counters;
    const byStatus: Record<string, number> = { alive: 0, leaving: 0, left: 0, failed: 0 };
    // Suspicion has no member event (Serf's status stays alive), so the samples carry it.
    const suspects: string[] = [];
    for (const m of node.members()) {
      byStatus[m.status] = (byStatus[m.status] ?? 0) + 1;
      if (m.suspect && suspects.length < MAX_SUSPECTS_LISTED) suspects.push(m.name);
    }
    const ring = this.#ring;
    let ringHealth: Record<string, unknown> | undefined;
    if (ring) {
      // Holdings are O(P) to count and change only with the table.
      if (this.#held?.table !== ring.table) {
        let primaries = 0;
        let replicas = 0;
        for (const r of ring.holdings().values()) {
          if (r === 0) primaries++;
          else replicas++;
        }
        this.#held = { table: ring.table, primaries, replicas };
      }
      const { primaries, replicas } = this.#held;
      ringHealth = { checksum: ring.checksum, members: ring.table.members.length, primaries, replicas, joining: ring.joining };
    }
    return frame('health', {
      name: node.name,
      time: Date.now(),
      status: node.leaving ? 'leaving' : 'ok',
      healthScore: node.healthScore,
      members: byStatus,
      suspects,
      counters: {
        packetsIn: c.packetsIn,
        packetsOut: c.packetsOut,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        probes: c.probes,
        probeFailures: c.probeFailures,
        suspicions: c.suspicions,
        refutations: c.refutations,
      },
      ...(ringHealth ? { ring: ringHealth } : {}),
    });
  }

  #startTimers(): void {
    if (this.#heartbeat === undefined) {
      this.#heartbeat = setInterval(() => {
        const now = performance.now();
        for (const c of this.#clients) {
          if (now - c.openedAtMs > this.#limits.maxStreamAgeMs)
            this.#end(
              c,
              frame('renew', { name: this.#node.name, time: Date.now(), reason: 'the stream reached its maximum age: reconnect' }),
            );
          else this.#write(c, ': ping\n\n');
        }
      }, this.#limits.heartbeatMs);
      this.#heartbeat.unref();
    }
    if (this.#healthTimer === undefined) {
      this.#healthTimer = setInterval(() => {
        this.#checkSelf();
        let text: string | undefined;
        for (const c of this.#clients) if (c.health) this.#write(c, (text ??= this.#healthFrame()));
      }, this.#limits.healthIntervalMs);
      this.#healthTimer.unref();
    }
  }

  #stopTimers(): void {
    clearInterval(this.#heartbeat);
    clearInterval(this.#healthTimer);
    this.#heartbeat = undefined;
    this.#healthTimer = undefined;
  }
}
