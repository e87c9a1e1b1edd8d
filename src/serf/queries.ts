/**
 * Serf's queries: starting one (query.go's Query), receiving one (handleQuery: the duplicate
 * filter, filters, the ack), answering it to the asker and through relays, collecting acks and
 * responses, and the timeout that ends it. Internal queries (named `_serf_...`) are handed to
 * the `internal` callback instead of the application, and a query started with a collector
 * reports its answers to it instead of emitting them.
 */
import { invalidArgument } from '../errors.js';
import { ipToString } from '../gossip/address.js';
import type { SerfContext } from './effects.js';
import { encodeRelay } from './internal-messages.js';
import type { LamportClock } from './lamport.js';
import { QueryFlag, encodeQuery, encodeQueryResponse, type Query } from './messages.js';
import { type QueryFilter, decodeFilter, encodeFilter, filtersMatch } from './query-filters.js';
import { SeenRing } from './seen-ring.js';

/** Serf's internal queries are named with this prefix and never reach the application. */
export const INTERNAL_QUERY_PREFIX = '_serf_';
/** Outgoing queries running at once. */
export const MAX_RUNNING_QUERIES = 256;
/** Most relays of one query response (Serf's clients refuse more than 5). */
export const MAX_RELAY_FACTOR = 5;

/** A query delivered to us; answer it once with `respond` before `deadlineMs`. */
export interface IncomingQuery {
  readonly ltime: bigint;
  readonly id: number;
  readonly name: string;
  readonly payload: Uint8Array;
  readonly from: string;
  readonly deadlineMs: number;
}

export interface QueryOptions {
  filters?: readonly QueryFilter[];
  /** Ask every matching node for an ack as soon as it receives the query (Serf's default for the CLI). */
  requestAck?: boolean;
  /** Default: gossip interval × queryTimeoutMult × ceil(log10(n + 1)), as Serf. */
  timeoutMs?: number;
  /** Responders also send their answer through this many random members (0–5). */
  relayFactor?: number;
}

/** Receives the answers of a query the Serf layer asked itself (acks are not reported). */
export interface QueryCollector {
  response(payload: Uint8Array): void;
  done(): void;
}

interface RunningQuery {
  readonly id: number;
  readonly acks: Set<string>;
  readonly responses: Set<string>;
  readonly collector: QueryCollector | null;
}

export class Queries {
  readonly #ctx: SerfContext;
  readonly #clock: LamportClock;
  readonly #internal: (incoming: IncomingQuery, q: Query, nowMs: number) => void;
  readonly #seen = new SeenRing<number>((a, b) => a === b);
  readonly #running = new Map<bigint, RunningQuery>();
  readonly #answered = new WeakSet<IncomingQuery>();
  readonly #incoming = new WeakMap<IncomingQuery, Query>();

  constructor(ctx: SerfContext, clock: LamportClock, internal: (incoming: IncomingQuery, q: Query, nowMs: number) => void) {
    this.#ctx = ctx;
    this.#clock = clock;
    this.#internal = internal;
  }

  /** Queries running now (ours and the layer's own). */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Starts a query and delivers it to us too, as Serf does; returns its Lamport time and
   * whether it is to be broadcast (the caller broadcasts `bytes`).
   */
  start(
    name: string,
    payload: Uint8Array,
    options: QueryOptions,
    collector: QueryCollector | null,
    nowMs: number,
  ): { ltime: bigint; bytes: Uint8Array; broadcast: boolean } {
    const { config, gossip } = this.#ctx;
    const self = gossip.endpointOf(this.#ctx.name)!;
    const nodes = gossip.memberCount;
    const timeoutMs = options.timeoutMs ?? config.gossipIntervalMs * config.queryTimeoutMult * Math.ceil(Math.log10(nodes + 1));
    const relayFactor = options.relayFactor ?? 0;
    if (!Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > MAX_RELAY_FACTOR)
      throw invalidArgument('relayFactor', `an integer in [0, ${MAX_RELAY_FACTOR}]`, relayFactor);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw invalidArgument('timeoutMs', 'a positive integer', timeoutMs);
    const query: Query = {
      ltime: this.#clock.time,
      id: Math.floor(this.#ctx.random() * 2 ** 31),
      addr: self.addr,
      port: self.port,
      sourceNode: this.#ctx.name,
      filters: (options.filters ?? []).map(encodeFilter),
      flags: options.requestAck ? QueryFlag.ack : 0,
      relayFactor,
      timeoutNs: BigInt(Math.round(timeoutMs)) * 1_000_000n,
      name,
      payload,
    };
    const bytes = encodeQuery(query);
    if (bytes.length > config.querySizeLimitBytes)
      throw invalidArgument('query', `at most ${config.querySizeLimitBytes} bytes encoded`, `${bytes.length} bytes`);
    this.#running.set(query.ltime, { id: query.id, acks: new Set(), responses: new Set(), collector });
    this.#ctx.timer({ kind: 'queryTimeout', ltime: query.ltime }, nowMs + timeoutMs);
    this.#clock.increment();
    return { ltime: query.ltime, bytes, broadcast: this.receive(query, nowMs) };
  }

  /**
   * Stops collecting answers for a query (its asker went away): frees its running slot at once,
   * without 'queryDone'. Queries with a collector are not cancelled. Returns whether it was running.
   */
  cancel(ltime: bigint): boolean {
    const q = this.#running.get(ltime);
    if (q === undefined || q.collector !== null) return false;
    this.#running.delete(ltime);
    return true;
  }

  /** Answers a query delivered to the application, once, before its deadline. Returns whether it was sent. */
  respond(query: IncomingQuery, payload: Uint8Array, nowMs: number): boolean {
    const q = this.#incoming.get(query);
    if (q === undefined || this.#answered.has(query) || nowMs > query.deadlineMs) return false;
    const limit = this.#ctx.config.queryResponseSizeLimitBytes;
    if (payload.length > limit) throw invalidArgument('payload', `at most ${limit} bytes`, `${payload.length} bytes`);
    this.#answered.add(query);
    this.#reply(q, 0, payload, nowMs);
    return true;
  }

  /** An internal query's answer (its size is the caller's to fit). */
  answerInternal(incoming: IncomingQuery, q: Query, payload: Uint8Array, nowMs: number): void {
    this.#answered.add(incoming);
    this.#reply(q, 0, payload, nowMs);
  }

  /** Serf's handleQuery; returns whether to rebroadcast. */
  receive(q: Query, nowMs: number): boolean {
    this.#clock.witness(q.ltime);
    const verdict = this.#seen.admit(q.ltime, q.id, this.#clock.time);
    if (verdict !== 'new') {
      if (verdict !== 'duplicate') this.#ctx.drop(verdict === 'tooOld' ? 'oldQuery' : 'querySlotFull');
      return false;
    }
    const rebroadcast = (q.flags & QueryFlag.noBroadcast) === 0;
    if (!this.#admits(q.filters)) return rebroadcast;
    if (q.flags & QueryFlag.ack) this.#reply(q, QueryFlag.ack, null, nowMs);
    const timeoutMs = Number(q.timeoutNs / 1_000_000n);
    const incoming: IncomingQuery = {
      ltime: q.ltime,
      id: q.id,
      name: q.name,
      payload: q.payload,
      from: q.sourceNode,
      deadlineMs: nowMs + timeoutMs,
    };
    this.#incoming.set(incoming, q);
    if (q.name.startsWith(INTERNAL_QUERY_PREFIX)) this.#internal(incoming, q, nowMs);
    else this.#ctx.emit({ type: 'query', query: incoming });
    return rebroadcast;
  }

  /** Serf's handleQueryResponse: an ack or a response to one of our running queries. */
  receiveResponse(r: { ltime: bigint; id: number; from: string; flags: number; payload: Uint8Array | null }): void {
    const q = this.#running.get(r.ltime);
    if (q === undefined || q.id !== r.id) {
      this.#ctx.drop('staleQueryResponse');
      return;
    }
    if (r.flags & QueryFlag.ack) {
      if (q.acks.has(r.from)) return;
      q.acks.add(r.from);
      if (q.collector === null) this.#ctx.emit({ type: 'queryAck', ltime: r.ltime, from: r.from });
      return;
    }
    if (q.responses.has(r.from)) return;
    q.responses.add(r.from);
    const payload = r.payload ?? new Uint8Array(0);
    if (q.collector !== null) q.collector.response(payload);
    else this.#ctx.emit({ type: 'queryResponse', ltime: r.ltime, from: r.from, payload });
  }

  /** The query's timeout fired. */
  finish(ltime: bigint): void {
    const q = this.#running.get(ltime);
    if (q === undefined) return;
    this.#running.delete(ltime);
    if (q.collector !== null) q.collector.done();
    else this.#ctx.emit({ type: 'queryDone', ltime });
  }

  #admits(raw: readonly Uint8Array[]): boolean {
    const filters: QueryFilter[] = [];
    for (const r of raw) {
      const f = decodeFilter(r);
      if (f === null) return false; // an unknown filter: Serf does not process the query
      filters.push(f);
    }
    return filtersMatch(filters, this.#ctx.name, this.#ctx.tags());
  }

  /** An ack (flags 1, no payload) or a response, to the asker and through relays (Serf's respondToQuery and relayResponse). */
  #reply(q: Query, flags: number, payload: Uint8Array | null, nowMs: number): void {
    const { gossip, name } = this.#ctx;
    const response = encodeQueryResponse({ ltime: q.ltime, id: q.id, from: name, flags, payload });
    const host = ipToString(q.addr);
    if (host === '') {
      this.#ctx.drop('badQueryAddress');
      return;
    }
    if (q.sourceNode === name) {
      // Our own query: no need for the network.
      this.receiveResponse({ ltime: q.ltime, id: q.id, from: name, flags, payload });
      return;
    }
    gossip.sendUser({ host, port: q.port }, response, false, nowMs);
    if (q.relayFactor === 0) return;
    // The asker chose up to 255 relays; Serf's clients ask for at most 5, and each relay is a
    // datagram we send for one we received: more would make us an amplifier.
    for (const e of gossip.randomAliveMembers(Math.min(q.relayFactor, MAX_RELAY_FACTOR), (member) => member !== q.sourceNode)) {
      gossip.sendUser({ host: e.host, port: e.port }, encodeRelay(q.addr, q.port, q.sourceNode, response), false, nowMs);
    }
  }
}
