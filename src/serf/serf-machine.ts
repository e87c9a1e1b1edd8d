/**
 * The Serf layer (wire reference §10) over the gossip machine: member status from intents,
 * user events, queries and Serf's internal queries. Pure and synchronous like the machine it
 * wraps: every call passes the time, answers come out of `drain()` as effects. Gossip effects
 * that concern members, user messages and push/pull state are consumed here and turned into
 * Serf's; the rest (sends, streams, timers) pass through.
 */
import { invalidArgument } from '../errors.js';
import { type Address, bytesEqual, ipToString } from '../gossip/address.js';
import { DecodeError } from '../gossip/codec/msgpack.js';
import type { StreamMessage } from '../gossip/codec/stream.js';
import type { GossipConfig } from '../gossip/config.js';
import { type Effect as GossipEffect, GossipMachine, type LocalNode, type Timer as GossipTimer } from '../gossip/machine.js';
import type { MemberView } from '../gossip/members.js';
import {
  type ConflictMember,
  SerfStatusCode,
  decodeConflictResponse,
  decodeKeyRequest,
  decodeRelay,
  encodeConflictResponse,
  encodeKeyResponse,
  encodeRelay,
  type KeyResponse,
} from './internal-messages.js';
import { UserEventCoalescer } from './coalesce.js';
import { LamportClock, MAX_LTIME, nextLTime } from './lamport.js';
import {
  QueryFlag,
  SerfType,
  decodeJoinIntent,
  decodeLeaveIntent,
  decodeQuery,
  decodeQueryResponse,
  decodeUserEvent,
  encodeJoinIntent,
  encodeLeaveIntent,
  encodeQuery,
  encodeQueryResponse,
  encodeUserEvent,
  type Query,
} from './messages.js';
import { type EventsAt, type RecentEvent, type SerfState, decodeSerfState, encodeSerfState } from './push-pull.js';
import { type QueryFilter, decodeFilter, encodeFilter, filtersMatch } from './query-filters.js';
import { SeenRing } from './seen-ring.js';
import { type SerfMemberEvent, SerfMembers } from './serf-members.js';
import { type Tags, decodeTags, encodeTags } from './tags.js';

/** Serf's internal queries are named with this prefix and never reach the application. */
export const INTERNAL_QUERY_PREFIX = '_serf_';
/** Outgoing queries running at once. */
export const MAX_RUNNING_QUERIES = 256;
/** Most relays of one query response (Serf's clients refuse more than 5). */
export const MAX_RELAY_FACTOR = 5;
/** Bytes of recent user events carried in one push/pull. */
export const MAX_STATE_EVENT_BYTES = 256 * 1024;

export type SerfTimer =
  | GossipTimer
  | { readonly kind: 'serfReap'; readonly token: number }
  | { readonly kind: 'queryTimeout'; readonly ltime: bigint }
  | { readonly kind: 'leaveBroadcastTimeout'; readonly token: number }
  | { readonly kind: 'coalesceFlush'; readonly token: number };

export interface UserEvent {
  readonly ltime: bigint;
  readonly name: string;
  readonly payload: Uint8Array;
  readonly coalesce: boolean;
}

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

export type SerfEffect =
  | Exclude<GossipEffect, { type: 'member' | 'user' | 'remoteState' | 'timer' }>
  | { readonly type: 'timer'; readonly timer: SerfTimer; readonly atMs: number }
  | ({ readonly type: 'member' } & SerfMemberEvent)
  | { readonly type: 'event'; readonly event: UserEvent }
  | { readonly type: 'query'; readonly query: IncomingQuery }
  | { readonly type: 'queryAck'; readonly ltime: bigint; readonly from: string }
  | { readonly type: 'queryResponse'; readonly ltime: bigint; readonly from: string; readonly payload: Uint8Array }
  | { readonly type: 'queryDone'; readonly ltime: bigint }
  /** We lost a name-conflict vote (§10.10): the node must shut down. */
  | { readonly type: 'nameConflictLost'; readonly responses: number; readonly matching: number };

/** Key management as Serf's internal queries drive it; the I/O layer owns the real keyring. */
export interface KeyringControl {
  install(key: Uint8Array): void;
  use(key: Uint8Array): void;
  remove(key: Uint8Array): void;
  /** Keys as base64, and the primary key as base64. */
  list(): { keys: string[]; primary: string };
}

export interface SerfMachineOptions {
  config: GossipConfig;
  local: Omit<LocalNode, 'meta'>;
  tags?: Tags;
  random: () => number;
  packetOverheadBytes?: number;
  keyring?: KeyringControl;
  /** Do not deliver events older than a joined cluster's event clock (Serf's default; -replay turns it off). */
  ignoreOldEvents?: boolean;
}

interface RunningQuery {
  readonly id: number;
  readonly acks: Set<string>;
  readonly responses: Set<string>;
  /** For our own name-conflict vote. */
  readonly conflict: { responses: number; matching: number } | null;
}

export class SerfMachine {
  readonly gossip: GossipMachine;
  readonly config: GossipConfig;
  readonly members: SerfMembers;
  readonly clock = new LamportClock();
  readonly eventClock = new LamportClock();
  readonly queryClock = new LamportClock();
  /** Serf-level drops by reason (gossip drops live in gossip.counters). */
  readonly drops: Record<string, number> = {};

  readonly #name: string;
  readonly #random: () => number;
  readonly #keyring: KeyringControl | undefined;
  readonly #ignoreOldEvents: boolean;
  readonly #events = new SeenRing<RecentEvent>((a, b) => a.name === b.name && bytesEqual(a.payload, b.payload));
  readonly #queries = new SeenRing<number>((a, b) => a === b);
  readonly #running = new Map<bigint, RunningQuery>();
  readonly #answered = new WeakSet<IncomingQuery>();
  readonly #incoming = new WeakMap<IncomingQuery, Query>();
  readonly #joins = new Set<number>();
  readonly #coalescer = new UserEventCoalescer();
  #coalesceToken = 0;
  #tags: Tags;
  #outbox: SerfEffect[] = [];
  #eventMinTime = 0n;
  #reapToken = 0;
  #leaveToken = 0;
  #state: 'alive' | 'leaving' | 'left' = 'alive';
  #leaveIntentSent = false;

  constructor(options: SerfMachineOptions) {
    this.config = options.config;
    this.#name = options.local.name;
    this.#random = options.random;
    this.#keyring = options.keyring;
    this.#ignoreOldEvents = options.ignoreOldEvents ?? true;
    this.#tags = options.tags ?? {};
    this.members = new SerfMembers(this.#name);
    this.gossip = new GossipMachine({
      config: options.config,
      local: { ...options.local, meta: encodeTags(this.#tags) },
      random: options.random,
      ...(options.packetOverheadBytes !== undefined ? { packetOverheadBytes: options.packetOverheadBytes } : {}),
      localState: () => this.#localState(),
    });
  }

  get name(): string {
    return this.#name;
  }

  get tags(): Tags {
    return this.#tags;
  }

  get leaving(): boolean {
    return this.#state !== 'alive';
  }

  drain(): SerfEffect[] {
    const out = this.#outbox;
    this.#outbox = [];
    return out;
  }

  start(nowMs: number): void {
    this.gossip.start(nowMs);
    // memberlist announces the local node to Serf like any other (no event for it here).
    this.members.nodeJoin(this.#selfView(), this.#tags);
    this.#pump(nowMs);
    this.#timer({ kind: 'serfReap', token: ++this.#reapToken }, nowMs + this.config.reapIntervalMs);
  }

  /** A push/pull join with one seed; on success we announce our join intent (§10.2). */
  join(seed: Address, nowMs: number): number {
    const id = this.gossip.join(seed, nowMs);
    this.#joins.add(id);
    this.#pump(nowMs);
    return id;
  }

  /** The members loaded without gossip (see GossipMachine.restore). */
  restore(...args: Parameters<GossipMachine['restore']>): void {
    this.gossip.restore(...args);
    this.#pump(args[1]);
  }

  setTags(tags: Tags, nowMs: number): void {
    const meta = encodeTags(tags);
    this.#tags = { ...tags };
    this.gossip.setMeta(meta);
    this.members.nodeUpdate(this.#selfView(), this.#tags);
    this.#pump(nowMs);
  }

  /**
   * Graceful leave in Serf's order (§10.6): our leave intent first, and once it has gone out
   * (or after broadcastTimeoutMs) memberlist's dead{From = self}. Effect 'left' at the end.
   */
  leave(nowMs: number): void {
    if (this.#state !== 'alive') return;
    this.#state = 'leaving';
    const ltime = this.#intentTime();
    this.clock.increment();
    this.#leaveIntent(ltime, this.#name, false, nowMs);
    if (!this.gossip.hasGossipTargets(nowMs)) {
      this.#memberlistLeave(nowMs);
      return;
    }
    const token = ++this.#leaveToken;
    this.gossip.broadcastUser(encodeLeaveIntent({ ltime, node: this.#name, prune: false }), () => {
      this.#leaveIntentSent = true;
    });
    this.#timer({ kind: 'leaveBroadcastTimeout', token }, nowMs + this.config.broadcastTimeoutMs);
    this.#pump(nowMs);
  }

  /** Sends a user event to the cluster, us included (§10.2). */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean, nowMs: number): void {
    const size = new TextEncoder().encode(name).length + payload.length;
    if (size > this.config.userEventSizeLimitBytes) {
      throw invalidArgument('user event', `at most ${this.config.userEventSizeLimitBytes} bytes of name and payload`, `${size} bytes`);
    }
    const event = { ltime: this.eventClock.time, name, payload, coalesce };
    const bytes = encodeUserEvent(event);
    this.#advanceEventClock(() => this.eventClock.increment());
    this.#userEvent(event, nowMs);
    this.gossip.broadcastUser(bytes);
    this.#pump(nowMs);
  }

  /**
   * Starts a query (§10.3); acks and responses come out as effects until 'queryDone'. Returns
   * the query's Lamport time, which names it in those effects.
   */
  query(name: string, payload: Uint8Array, options: QueryOptions, nowMs: number): bigint {
    if (this.#running.size >= MAX_RUNNING_QUERIES) throw invalidArgument('query', `one of at most ${MAX_RUNNING_QUERIES} running queries`, `query ${this.#running.size + 1}`);
    return this.#query(name, payload, options, null, nowMs);
  }

  /**
   * Stops collecting answers for a query started with `query` (its asker went away): frees its
   * running slot at once, without 'queryDone'. Internal votes are not cancelled. Returns whether
   * it was running.
   */
  cancelQuery(ltime: bigint): boolean {
    const q = this.#running.get(ltime);
    if (q === undefined || q.conflict !== null) return false;
    this.#running.delete(ltime);
    return true;
  }

  /** Answers a query delivered to us, once, before its deadline. Returns whether it was sent. */
  respond(query: IncomingQuery, payload: Uint8Array, nowMs: number): boolean {
    const q = this.#incoming.get(query);
    if (q === undefined || this.#answered.has(query) || nowMs > query.deadlineMs) return false;
    if (payload.length > this.config.queryResponseSizeLimitBytes) {
      throw invalidArgument('payload', `at most ${this.config.queryResponseSizeLimitBytes} bytes`, `${payload.length} bytes`);
    }
    this.#answered.add(query);
    this.#reply(q, 0, payload, nowMs);
    this.#pump(nowMs);
    return true;
  }

  #selfView(): MemberView {
    return this.gossip.members.view(this.#selfSlot());
  }

  /** Our slot in the gossip member table (present from construction). */
  #selfSlot(): number {
    return this.gossip.members.slotOf(this.#name);
  }

  // ---- input, passed to the gossip machine ---------------------------------------------------

  handlePacket(from: Address, bytes: Uint8Array, nowMs: number): void {
    this.gossip.handlePacket(from, bytes, nowMs);
    this.#pump(nowMs);
  }

  handleStreamRequest(from: Address, message: StreamMessage, nowMs: number): Uint8Array | null {
    const reply = this.gossip.handleStreamRequest(from, message, nowMs);
    this.#pump(nowMs);
    return reply;
  }

  handleStreamReply(id: number, reply: StreamMessage | Error, nowMs: number): boolean {
    const ok = this.gossip.handleStreamReply(id, reply, nowMs);
    this.#pump(nowMs);
    if (this.#joins.delete(id) && ok) {
      // Serf's broadcastJoin: our join intent at the current time (§10.2).
      this.#broadcastJoin(nowMs);
    }
    return ok;
  }

  handleTimer(timer: SerfTimer, nowMs: number): void {
    switch (timer.kind) {
      case 'serfReap':
        if (timer.token !== this.#reapToken) return;
        this.#timer({ kind: 'serfReap', token: ++this.#reapToken }, nowMs + this.config.reapIntervalMs);
        for (const e of this.members.reap(nowMs, this.config.reconnectWindowMs, this.config.tombstoneTimeoutMs, this.config.recentIntentTimeoutMs)) {
          this.#emit({ type: 'member', ...e });
        }
        return;
      case 'queryTimeout':
        this.#finishQuery(timer.ltime);
        return;
      case 'coalesceFlush':
        if (timer.token !== this.#coalesceToken) return;
        this.#deliverCoalesced(nowMs);
        return;
      case 'leaveBroadcastTimeout':
        if (timer.token === this.#leaveToken && this.#state === 'leaving') this.#memberlistLeave(nowMs);
        return;
      default:
        this.gossip.handleTimer(timer, nowMs);
        this.#pump(nowMs);
    }
  }

  // ---- gossip effects ------------------------------------------------------------------------

  /** Takes the gossip machine's effects, consuming what belongs to Serf. */
  #pump(nowMs: number): void {
    for (let effects = this.gossip.drain(); effects.length > 0; effects = this.gossip.drain()) {
      for (const effect of effects) {
        switch (effect.type) {
          case 'member':
            this.#memberChange(effect.change, effect.member, nowMs);
            break;
          case 'user':
            this.#serfMessage(effect.payload, nowMs);
            break;
          case 'remoteState':
            this.#mergeRemoteState(effect.state, effect.join, nowMs);
            break;
          case 'conflict':
            this.#emit(effect);
            if (effect.known.name === this.#name) this.#resolveConflict(nowMs);
            break;
          default:
            this.#emit(effect);
        }
      }
    }
    // Our intent went out, or everyone we could tell is gone: on to memberlist's leave.
    if (this.#state === 'leaving' && (this.#leaveIntentSent || !this.gossip.hasGossipTargets(nowMs))) {
      this.#leaveIntentSent = false;
      this.#memberlistLeave(nowMs);
    }
  }

  #memberChange(change: 'join' | 'update' | 'leave', view: MemberView, nowMs: number): void {
    if (change === 'leave') {
      const event = this.members.nodeLeave(view.name, nowMs, view.status === 'left');
      if (event) this.#emit({ type: 'member', ...event });
      return;
    }
    const tags = this.#decodeTags(view.meta);
    const event = change === 'join' ? this.members.nodeJoin(view, tags) : this.members.nodeUpdate(view, tags);
    if (event) this.#emit({ type: 'member', ...event });
  }

  #decodeTags(meta: Uint8Array): Record<string, string> {
    try {
      return decodeTags(meta);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#drop('malformedTags');
      return {};
    }
  }

  /** A Serf message carried in a memberlist user message (§10.1). */
  #serfMessage(payload: Uint8Array, nowMs: number): void {
    if (payload.length === 0) return;
    const body = payload.subarray(1);
    try {
      let rebroadcast = false;
      switch (payload[0]) {
        case SerfType.leave: {
          const m = decodeLeaveIntent(body);
          rebroadcast = this.#leaveIntent(m.ltime, m.node, m.prune, nowMs);
          break;
        }
        case SerfType.join: {
          const m = decodeJoinIntent(body);
          this.clock.witness(m.ltime);
          rebroadcast = this.#joinIntent(m.node, m.ltime, nowMs);
          break;
        }
        case SerfType.userEvent:
          rebroadcast = this.#userEvent(decodeUserEvent(body), nowMs);
          break;
        case SerfType.query:
          rebroadcast = this.#handleQuery(decodeQuery(body), nowMs);
          break;
        case SerfType.queryResponse:
          this.#handleResponse(decodeQueryResponse(body));
          break;
        case SerfType.relay: {
          const relay = decodeRelay(body);
          const host = ipToString(relay.addr);
          if (host === '' || relay.inner[0] !== SerfType.queryResponse) throw new DecodeError('bad relay');
          this.gossip.sendUser({ host, port: relay.port }, relay.inner, false, nowMs);
          break;
        }
        default:
          this.#drop('unknownSerfType');
      }
      // Copy: the payload may be a view into a packet buffer.
      if (rebroadcast) this.gossip.broadcastUser(payload.slice());
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#drop('malformedSerfMessage');
    }
  }

  /** Serf's handleNodeLeaveIntent; returns whether to rebroadcast. */
  #leaveIntent(ltime: bigint, node: string, prune: boolean, nowMs: number): boolean {
    this.clock.witness(ltime);
    const { verdict, event } = this.members.leaveIntent(node, ltime, prune, this.#state === 'alive', nowMs);
    if (event) this.#emit({ type: 'member', ...event });
    if (verdict === 'refute') this.#broadcastJoin(nowMs);
    return verdict === 'rebroadcast';
  }

  /** Serf's handleNodeJoinIntent; returns whether to rebroadcast. */
  #joinIntent(node: string, ltime: bigint, nowMs: number): boolean {
    const { rebroadcast, event } = this.members.joinIntent(node, ltime, nowMs);
    if (event) this.#emit({ type: 'member', ...event });
    return rebroadcast;
  }

  #broadcastJoin(nowMs: number): void {
    const ltime = this.#intentTime();
    this.clock.witness(ltime);
    this.#joinIntent(this.#name, ltime, nowMs);
    this.gossip.broadcastUser(encodeJoinIntent({ ltime, node: this.#name }));
    this.#pump(nowMs);
  }

  /**
   * The time for our next join or leave intent: Serf's clock.Time(), which is past every intent
   * about us we hold, since we witnessed them. Not after a wrap: one witness of 2^64−1 (say, a
   * member held at that time, in each push/pull) sets the clock back to 0, and an intent older
   * than the one held for us is ignored everywhere. Then (a deliberate deviation) we move the
   * clock past the newest intent about us again, as Serf would have before the wrap.
   */
  #intentTime(): bigint {
    const ours = this.members.statusLTime(this.#name) ?? 0n;
    if (this.clock.time <= ours && ours < MAX_LTIME) this.clock.witness(ours);
    return this.clock.time;
  }

  /**
   * Moves the event clock (Serf's eventClock.Witness or Increment). When it wraps past 2^64−1,
   * the floor set at our join (Serf's eventMinTime, ignoreOldEvents) is cleared, a deliberate
   * deviation: every later event is newer than the join, yet its time is below the floor, and
   * Serf would drop the cluster's events until the clock climbs back up to it.
   */
  #advanceEventClock(move: () => void): void {
    const before = this.eventClock.time;
    move();
    if (this.eventClock.time < before) this.#eventMinTime = 0n;
  }

  #memberlistLeave(nowMs: number): void {
    this.#state = 'left';
    this.#leaveToken++;
    this.gossip.leave(nowMs);
    this.#pump(nowMs);
  }

  /** Serf's handleUserEvent; returns whether the event was new (then it is rebroadcast). */
  #userEvent(e: UserEvent, nowMs: number): boolean {
    this.#advanceEventClock(() => this.eventClock.witness(e.ltime));
    if (e.ltime < this.#eventMinTime) return false;
    const verdict = this.#events.admit(e.ltime, { name: e.name, payload: e.payload }, this.eventClock.time);
    if (verdict !== 'new') {
      if (verdict !== 'duplicate') this.#drop(verdict === 'tooOld' ? 'oldEvent' : 'eventSlotFull');
      return false;
    }
    this.#deliver(e, nowMs);
    return true;
  }

  /** Delivers a new event now, or holds it for coalescing when it allows it and coalescing is on. */
  #deliver(e: UserEvent, nowMs: number): void {
    const { userCoalescePeriodMs: coalesceMs, userQuiescentPeriodMs: quiescentMs } = this.config;
    if (!e.coalesce || coalesceMs === 0 || quiescentMs === 0) {
      this.#emit({ type: 'event', event: e });
      return;
    }
    for (const overflow of this.#coalescer.add(e, nowMs)) this.#emit({ type: 'event', event: overflow });
    this.#timer({ kind: 'coalesceFlush', token: ++this.#coalesceToken }, this.#coalescer.dueAtMs(coalesceMs, quiescentMs)!);
  }

  #deliverCoalesced(nowMs: number): void {
    const due = this.#coalescer.dueAtMs(this.config.userCoalescePeriodMs, this.config.userQuiescentPeriodMs);
    if (due === null) return;
    if (due > nowMs) {
      this.#timer({ kind: 'coalesceFlush', token: ++this.#coalesceToken }, due);
      return;
    }
    for (const e of this.#coalescer.flush()) this.#emit({ type: 'event', event: e });
  }

  // ---- queries -------------------------------------------------------------------------------

  #query(name: string, payload: Uint8Array, options: QueryOptions, conflict: RunningQuery['conflict'], nowMs: number): bigint {
    const self = this.gossip.members.endpoint(this.#selfSlot());
    const nodes = this.gossip.members.size;
    const timeoutMs = options.timeoutMs ?? this.config.gossipIntervalMs * this.config.queryTimeoutMult * Math.ceil(Math.log10(nodes + 1));
    const relayFactor = options.relayFactor ?? 0;
    if (!Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > MAX_RELAY_FACTOR) throw invalidArgument('relayFactor', `an integer in [0, ${MAX_RELAY_FACTOR}]`, relayFactor);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw invalidArgument('timeoutMs', 'a positive integer', timeoutMs);
    const query: Query = {
      ltime: this.queryClock.time,
      id: Math.floor(this.#random() * 2 ** 31),
      addr: self.addr,
      port: self.port,
      sourceNode: this.#name,
      filters: (options.filters ?? []).map(encodeFilter),
      flags: options.requestAck ? QueryFlag.ack : 0,
      relayFactor,
      timeoutNs: BigInt(Math.round(timeoutMs)) * 1_000_000n,
      name,
      payload,
    };
    const bytes = encodeQuery(query);
    if (bytes.length > this.config.querySizeLimitBytes) throw invalidArgument('query', `at most ${this.config.querySizeLimitBytes} bytes encoded`, `${bytes.length} bytes`);
    this.#running.set(query.ltime, { id: query.id, acks: new Set(), responses: new Set(), conflict });
    this.#timer({ kind: 'queryTimeout', ltime: query.ltime }, nowMs + timeoutMs);
    this.queryClock.increment();
    // We are a recipient too, as in Serf.
    if (this.#handleQuery(query, nowMs)) this.gossip.broadcastUser(bytes);
    this.#pump(nowMs);
    return query.ltime;
  }

  /** Serf's handleQuery; returns whether to rebroadcast. */
  #handleQuery(q: Query, nowMs: number): boolean {
    this.queryClock.witness(q.ltime);
    const verdict = this.#queries.admit(q.ltime, q.id, this.queryClock.time);
    if (verdict !== 'new') {
      if (verdict !== 'duplicate') this.#drop(verdict === 'tooOld' ? 'oldQuery' : 'querySlotFull');
      return false;
    }
    const rebroadcast = (q.flags & QueryFlag.noBroadcast) === 0;
    if (!this.#admits(q.filters)) return rebroadcast;
    if (q.flags & QueryFlag.ack) this.#reply(q, QueryFlag.ack, null, nowMs);
    const timeoutMs = Number(q.timeoutNs / 1_000_000n);
    const incoming: IncomingQuery = { ltime: q.ltime, id: q.id, name: q.name, payload: q.payload, from: q.sourceNode, deadlineMs: nowMs + timeoutMs };
    this.#incoming.set(incoming, q);
    if (q.name.startsWith(INTERNAL_QUERY_PREFIX)) this.#internalQuery(incoming, q, nowMs);
    else this.#emit({ type: 'query', query: incoming });
    return rebroadcast;
  }

  #admits(raw: readonly Uint8Array[]): boolean {
    const filters: QueryFilter[] = [];
    for (const r of raw) {
      const f = decodeFilter(r);
      if (f === null) return false; // an unknown filter: Serf does not process the query
      filters.push(f);
    }
    return filtersMatch(filters, this.#name, this.#tags);
  }

  /** An ack (flags 1, no payload) or a response, to the asker and through relays (§10.3). */
  #reply(q: Query, flags: number, payload: Uint8Array | null, nowMs: number): void {
    const response = encodeQueryResponse({ ltime: q.ltime, id: q.id, from: this.#name, flags, payload });
    const host = ipToString(q.addr);
    if (host === '') {
      this.#drop('badQueryAddress');
      return;
    }
    if (q.sourceNode === this.#name) {
      // Our own query: no need for the network.
      this.#handleResponse({ ltime: q.ltime, id: q.id, from: this.#name, flags, payload });
      return;
    }
    this.gossip.sendUser({ host, port: q.port }, response, false, nowMs);
    if (q.relayFactor === 0) return;
    const t = this.gossip.members;
    const self = this.#selfSlot();
    // The asker chose up to 255 relays; Serf's clients ask for at most 5, and each relay is a
    // datagram we send for one we received: more would make us an amplifier.
    const relays = t.pick(Math.min(q.relayFactor, MAX_RELAY_FACTOR), (slot) => slot !== self && t.status(slot) === 0 && t.name(slot) !== q.sourceNode, this.#random);
    for (const slot of relays) {
      const e = t.endpoint(slot);
      this.gossip.sendUser({ host: e.host, port: e.port }, encodeRelay(q.addr, q.port, q.sourceNode, response), false, nowMs);
    }
  }

  #handleResponse(r: { ltime: bigint; id: number; from: string; flags: number; payload: Uint8Array | null }): void {
    const q = this.#running.get(r.ltime);
    if (q === undefined || q.id !== r.id) {
      this.#drop('staleQueryResponse');
      return;
    }
    if (r.flags & QueryFlag.ack) {
      if (q.acks.has(r.from)) return;
      q.acks.add(r.from);
      if (q.conflict === null) this.#emit({ type: 'queryAck', ltime: r.ltime, from: r.from });
      return;
    }
    if (q.responses.has(r.from)) return;
    q.responses.add(r.from);
    const payload = r.payload ?? new Uint8Array(0);
    if (q.conflict !== null) {
      this.#tallyConflict(q.conflict, payload);
      return;
    }
    this.#emit({ type: 'queryResponse', ltime: r.ltime, from: r.from, payload });
  }

  #finishQuery(ltime: bigint): void {
    const q = this.#running.get(ltime);
    if (q === undefined) return;
    this.#running.delete(ltime);
    if (q.conflict === null) {
      this.#emit({ type: 'queryDone', ltime });
      return;
    }
    // Serf: we live if a majority of the answers name our address.
    const { responses, matching } = q.conflict;
    if (matching < Math.floor(responses / 2) + 1) this.#emit({ type: 'nameConflictLost', responses, matching });
  }

  // ---- internal queries ----------------------------------------------------------------------

  #internalQuery(incoming: IncomingQuery, q: Query, nowMs: number): void {
    const answer = (payload: Uint8Array) => {
      this.#answered.add(incoming);
      this.#reply(q, 0, payload, nowMs);
    };
    switch (q.name.slice(INTERNAL_QUERY_PREFIX.length)) {
      case 'ping':
        return; // the ack is the answer
      case 'conflict': {
        const name = new TextDecoder().decode(q.payload);
        if (name === this.#name) return; // the vote is about us: others decide
        answer(encodeConflictResponse(this.#conflictMember(name)));
        return;
      }
      case 'install-key':
        answer(encodeKeyResponse(this.#keyOp((k, key) => k.install(key), q.payload)));
        return;
      case 'use-key':
        answer(encodeKeyResponse(this.#keyOp((k, key) => k.use(key), q.payload)));
        return;
      case 'remove-key':
        answer(encodeKeyResponse(this.#keyOp((k, key) => k.remove(key), q.payload)));
        return;
      case 'list-keys': {
        const fitted = this.#fittedKeyList(q, this.#keyOp(() => undefined, q.payload));
        if (fitted === null) this.#drop('keyListTooLarge');
        else answer(fitted);
        return;
      }
      default:
        this.#drop('unknownInternalQuery');
    }
  }

  #keyOp(apply: (k: KeyringControl, key: Uint8Array) => void, payload: Uint8Array): KeyResponse {
    const response: KeyResponse = { result: false, message: '', keys: [], primaryKey: '' };
    if (this.#keyring === undefined) {
      response.message = 'No keyring to modify (encryption not enabled)';
      return response;
    }
    try {
      apply(this.#keyring, decodeKeyRequest(payload));
      const { keys, primary } = this.#keyring.list();
      response.keys = keys;
      response.primaryKey = primary;
      response.result = true;
    } catch (err) {
      if (err instanceof DecodeError) this.#drop('malformedKeyRequest');
      response.message = err instanceof Error ? err.message : String(err);
    }
    return response;
  }

  /**
   * A key list whose response exceeds the response size limit is cut, saying so, as Serf does
   * (keyListResponseWithCorrectSize): most keys that fit, first ones first.
   */
  #fittedKeyList(q: Query, response: KeyResponse): Uint8Array | null {
    const all = response.keys;
    for (let n = all.length; n >= 0; n--) {
      const cut = n === all.length ? response : { ...response, keys: all.slice(0, n), message: `truncated key list response, showing first ${n} of ${all.length} keys` };
      const payload = encodeKeyResponse(cut);
      const size = encodeQueryResponse({ ltime: q.ltime, id: q.id, from: this.#name, flags: 0, payload }).length;
      if (size <= this.config.queryResponseSizeLimitBytes) return payload;
    }
    return null;
  }

  #conflictMember(name: string): ConflictMember | null {
    const m = this.members.get(name);
    const t = this.gossip.members;
    const slot = t.slotOf(name);
    if (m === undefined || slot < 0) return null;
    const e = t.endpoint(slot);
    return { name, addr: e.addr, port: e.port, tags: m.tags, status: SerfStatusCode[m.status], vsn: e.vsn };
  }

  /** Another node claims our name: ask everyone which address they know for it (§10.10). */
  #resolveConflict(nowMs: number): void {
    for (const q of this.#running.values()) if (q.conflict !== null) return; // one vote at a time
    if (this.#running.size >= MAX_RUNNING_QUERIES) return;
    this.#query(`${INTERNAL_QUERY_PREFIX}conflict`, new TextEncoder().encode(this.#name), {}, { responses: 0, matching: 0 }, nowMs);
  }

  #tallyConflict(tally: { responses: number; matching: number }, payload: Uint8Array): void {
    let vouched;
    try {
      vouched = decodeConflictResponseSafe(payload);
    } catch {
      this.#drop('malformedConflictResponse');
      return;
    }
    if (vouched === undefined) return;
    tally.responses++;
    const self = this.gossip.members.endpoint(this.#selfSlot());
    if (vouched !== null && vouched.port === self.port && bytesEqual(vouched.addr, self.addr)) tally.matching++;
  }

  // ---- push/pull -----------------------------------------------------------------------------

  #localState(): Uint8Array {
    const state: SerfState = {
      ltime: this.clock.time,
      eventLTime: this.eventClock.time,
      queryLTime: this.queryClock.time,
      statusLTimes: this.members.statusLTimes(),
      leftMembers: this.members.leftNames(),
      events: this.#recentEvents(),
    };
    return encodeSerfState(state);
  }

  /**
   * The recent events for push/pull, the newest up to MAX_STATE_EVENT_BYTES (Serf sends its
   * whole ring, which a burst of large events could make megabytes long), newest by distance
   * from our clock in uint64 arithmetic, so across a wrap too. They go in the ring's order, as
   * Serf's eventBuffer: the receiver witnesses their times in that order, and across a wrap
   * (2^64−2 then 2^64−1 then 0) the order decides where its clock ends.
   */
  #recentEvents(): EventsAt[] {
    const now = this.eventClock.time;
    const age = (ltime: bigint) => BigInt.asUintN(64, now - ltime);
    const ring = this.#events.entries();
    const chosen = new Map<bigint, RecentEvent[]>();
    let budget = MAX_STATE_EVENT_BYTES;
    for (const { ltime, items } of [...ring].sort((a, b) => (age(a.ltime) < age(b.ltime) ? -1 : age(a.ltime) > age(b.ltime) ? 1 : 0))) {
      const events: RecentEvent[] = [];
      for (const e of items) {
        budget -= e.name.length + e.payload.length + 16;
        if (budget < 0) break;
        events.push(e);
      }
      if (events.length > 0) chosen.set(ltime, events);
      if (budget < 0) break;
    }
    return ring.flatMap(({ ltime }) => {
      const events = chosen.get(ltime);
      return events === undefined ? [] : [{ ltime, events }];
    });
  }

  /** Serf's MergeRemoteState (§10.4). */
  #mergeRemoteState(bytes: Uint8Array, join: boolean, nowMs: number): void {
    if (bytes[0] !== SerfType.pushPull) {
      this.#drop('badRemoteState');
      return;
    }
    let state: SerfState;
    try {
      state = decodeSerfState(bytes.subarray(1));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#drop('malformedRemoteState');
      return;
    }
    if (state.ltime > 0n) this.clock.witness(state.ltime - 1n);
    if (state.eventLTime > 0n) this.eventClock.witness(state.eventLTime - 1n);
    if (state.queryLTime > 0n) this.queryClock.witness(state.queryLTime - 1n);
    const left = new Set(state.leftMembers);
    for (const name of left) this.#leaveIntent(nextLTime(state.statusLTimes.get(name) ?? 0n), name, false, nowMs);
    for (const [name, ltime] of state.statusLTimes) {
      if (left.has(name)) continue;
      // The peer holds an intent about us newer than any we know: a leave intent we never saw
      // (gossip missed us) or one from a former life. Serf's MergeRemoteState only records
      // its time; we also refute it as handleNodeLeaveIntent would (a deliberate deviation),
      // else a leave that missed us would hold us leaving for good. A join push/pull needs
      // none: Serf's Join announces us right after it.
      const stale = !join && name === this.#name && this.#state === 'alive' && ltime > (this.members.statusLTime(name) ?? 0n);
      this.clock.witness(ltime);
      this.#joinIntent(name, ltime, nowMs);
      if (stale) this.#broadcastJoin(nowMs);
    }
    if (join && this.#ignoreOldEvents && state.eventLTime > this.#eventMinTime) this.#eventMinTime = state.eventLTime;
    for (const at of state.events) {
      for (const e of at.events) this.#userEvent({ ltime: at.ltime, name: e.name, payload: e.payload, coalesce: false }, nowMs);
    }
  }

  // ---- output --------------------------------------------------------------------------------

  #timer(timer: SerfTimer, atMs: number): void {
    this.#emit({ type: 'timer', timer, atMs });
  }

  #emit(effect: SerfEffect): void {
    this.#outbox.push(effect);
  }

  #drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}

function decodeConflictResponseSafe(payload: Uint8Array): { addr: Uint8Array; port: number } | null | undefined {
  if (payload.length === 0 || payload[0] !== SerfType.conflictResponse) return undefined;
  return decodeConflictResponse(payload);
}

