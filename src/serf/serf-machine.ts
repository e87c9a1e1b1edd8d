/**
 * The Serf layer (docs/protocol.md#serf-layer) over the gossip machine: member status from intents,
 * user events, queries and Serf's internal queries. Pure and synchronous like the machine it
 * wraps: every call passes the time, answers come out of `drain()` as effects. Gossip effects
 * that concern members, user messages and push/pull state are consumed here and turned into
 * Serf's; the rest (sends, streams, timers) pass through.
 */
import { invalidArgument } from '../errors.js';
import { type Address, ipToString } from '../gossip/address.js';
import { DecodeError } from '../gossip/codec/msgpack.js';
import type { StreamMessage } from '../gossip/codec/stream.js';
import type { GossipConfig } from '../gossip/config.js';
import { GossipMachine, type LocalNode } from '../gossip/machine.js';
import type { MemberView } from '../gossip/members.js';
import { Outbox } from '../gossip/outbox.js';
import type { StreamOutcome } from '../gossip/stream-outcome.js';
import { TimerTokens } from '../gossip/timer-tokens.js';
import type { SerfContext, SerfEffect, SerfTimer } from './effects.js';
import { decodeRelay } from './internal-messages.js';
import { InternalQueries, type KeyringControl } from './internal-queries.js';
import { LamportClock, MAX_LTIME, nextLTime } from './lamport.js';
import {
  SerfType,
  decodeJoinIntent,
  decodeLeaveIntent,
  decodeQuery,
  decodeQueryResponse,
  decodeUserEvent,
  encodeJoinIntent,
  encodeLeaveIntent,
  encodeUserEvent,
} from './messages.js';
import { type SerfState, decodeSerfState, encodeSerfState } from './push-pull.js';
import { MAX_RUNNING_QUERIES, Queries, type IncomingQuery, type QueryOptions } from './queries.js';
import { SerfMembers } from './serf-members.js';
import { type Tags, decodeTags, encodeTags } from './tags.js';
import { UserEvents } from './user-events.js';

export type { SerfContext, SerfEffect, SerfTimer } from './effects.js';
export { type KeyringControl } from './internal-queries.js';
export { INTERNAL_QUERY_PREFIX, MAX_RELAY_FACTOR, MAX_RUNNING_QUERIES, type IncomingQuery, type QueryOptions } from './queries.js';
export { MAX_STATE_EVENT_BYTES, type UserEvent } from './user-events.js';

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

export class SerfMachine {
  readonly gossip: GossipMachine;
  readonly config: GossipConfig;
  readonly members: SerfMembers;
  readonly clock = new LamportClock();
  readonly eventClock = new LamportClock();
  readonly queryClock = new LamportClock();

  readonly #name: string;
  readonly #ignoreOldEvents: boolean;
  readonly #userEvents: UserEvents;
  readonly #queries: Queries;
  readonly #internal: InternalQueries;
  readonly #joins = new Set<number>();
  #tags: Tags;
  readonly #outbox = new Outbox<SerfEffect>();
  readonly #tokens = new TimerTokens<'serfReap' | 'leaveBroadcastTimeout'>();
  #state: 'alive' | 'leaving' | 'left' = 'alive';
  #leaveIntentSent = false;

  constructor(options: SerfMachineOptions) {
    this.config = options.config;
    this.#name = options.local.name;
    this.#ignoreOldEvents = options.ignoreOldEvents ?? true;
    this.#tags = options.tags ?? {};
    this.members = new SerfMembers(this.#name);
    this.gossip = new GossipMachine({
      config: options.config,
      local: { ...options.local, meta: encodeTags(this.#tags) },
      random: options.random,
      ...(options.packetOverheadBytes !== undefined ? { packetOverheadBytes: options.packetOverheadBytes } : {}),
      localState: () => this.#localState(),
      // Serf's reconnect tries failed members only: not those forced to leave, nor pruned ones.
      mayReconnect: (name) => this.members.get(name)?.status === 'failed',
    });
    const ctx: SerfContext = {
      config: this.config,
      gossip: this.gossip,
      name: this.#name,
      random: options.random,
      tags: () => this.#tags,
      emit: (effect) => this.#outbox.emit(effect),
      timer: (timer, atMs) => this.#outbox.timer(timer, atMs),
      drop: (reason) => this.#outbox.drop(reason),
    };
    this.#userEvents = new UserEvents(ctx, this.eventClock);
    this.#queries = new Queries(ctx, this.queryClock, (incoming, q, nowMs) => this.#internal.handle(incoming, q, nowMs));
    this.#internal = new InternalQueries(ctx, this.members, options.keyring, this.#queries);
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

  /** Serf-level drops by reason (gossip drops live in gossip.counters). */
  get drops(): Readonly<Record<string, number>> {
    return this.#outbox.drops;
  }

  drain(): SerfEffect[] {
    return this.#outbox.drain();
  }

  start(nowMs: number): void {
    this.gossip.start(nowMs);
    // memberlist announces the local node to Serf like any other (no event for it here).
    this.members.nodeJoin(this.#selfView(), this.#tags);
    this.#pump(nowMs);
    this.#outbox.timer({ kind: 'serfReap', token: this.#tokens.next('serfReap') }, nowMs + this.config.reapIntervalMs);
  }

  /**
   * A push/pull join with one seed; on success we announce our join intent, as Serf's Join
   * (docs/protocol.md#join-and-leave-intents).
   */
  join(seed: Address, nowMs: number): number {
    const id = this.gossip.join(seed, nowMs);
    this.#joins.add(id);
    this.#pump(nowMs);
    return id;
  }

  /** Forgets a stream we opened (an aborted join): a reply that comes later is not merged. */
  forgetStream(id: number): void {
    this.#joins.delete(id);
    this.gossip.forgetStream(id);
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
   * Serf's RemoveFailedNodePrune: a leave intent about another member, so a failed member goes
   * to `left` everywhere (and is no longer reconnected); with `prune`, it is erased at once.
   * An alive member refutes it. Returns whether the member was known here.
   */
  forceLeave(node: string, prune: boolean, nowMs: number): boolean {
    const known = this.members.get(node) !== undefined;
    const ltime = this.clock.time;
    this.clock.increment();
    this.#leaveIntent(ltime, node, prune, nowMs);
    if (this.gossip.hasGossipTargets(nowMs)) this.gossip.broadcastUser(encodeLeaveIntent({ ltime, node, prune }));
    this.#pump(nowMs);
    return known;
  }

  /**
   * Graceful leave in the order of Serf's Leave (docs/protocol.md#leaving-failure-reaping-and-reconnect):
   * our leave intent first, and once it has gone out (or after broadcastTimeoutMs) memberlist's
   * dead{From = self}. Effect 'left' at the end.
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
    const token = this.#tokens.next('leaveBroadcastTimeout');
    this.gossip.broadcastUser(encodeLeaveIntent({ ltime, node: this.#name, prune: false }), () => {
      this.#leaveIntentSent = true;
    });
    this.#outbox.timer({ kind: 'leaveBroadcastTimeout', token }, nowMs + this.config.broadcastTimeoutMs);
    this.#pump(nowMs);
  }

  /** Sends a user event to the cluster, us included, as Serf's UserEvent (docs/protocol.md#user-events). */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean, nowMs: number): void {
    const size = new TextEncoder().encode(name).length + payload.length;
    if (size > this.config.userEventSizeLimitBytes) {
      throw invalidArgument('user event', `at most ${this.config.userEventSizeLimitBytes} bytes of name and payload`, `${size} bytes`);
    }
    const event = this.#userEvents.create(name, payload, coalesce, nowMs);
    this.gossip.broadcastUser(encodeUserEvent(event));
    this.#pump(nowMs);
  }

  /**
   * Starts a query, as Serf's Query (docs/protocol.md#queries); acks and responses come out as
   * effects until 'queryDone'. Returns the query's Lamport time, which names it in those effects.
   */
  query(name: string, payload: Uint8Array, options: QueryOptions, nowMs: number): bigint {
    const running = this.#queries.running;
    if (running >= MAX_RUNNING_QUERIES)
      throw invalidArgument('query', `one of at most ${MAX_RUNNING_QUERIES} running queries`, `query ${running + 1}`);
    const started = this.#queries.start(name, payload, options, null, nowMs);
    if (started.broadcast) this.gossip.broadcastUser(started.bytes);
    this.#pump(nowMs);
    return started.ltime;
  }

  /**
   * Stops collecting answers for a query started with `query` (its asker went away): frees its
   * running slot at once, without 'queryDone'. Internal votes are not cancelled. Returns whether
   * it was running.
   */
  cancelQuery(ltime: bigint): boolean {
    return this.#queries.cancel(ltime);
  }

  /** Answers a query delivered to us, once, before its deadline. Returns whether it was sent. */
  respond(query: IncomingQuery, payload: Uint8Array, nowMs: number): boolean {
    if (!this.#queries.respond(query, payload, nowMs)) return false;
    this.#pump(nowMs);
    return true;
  }

  /** The local member as the gossip layer holds it (present from construction). */
  #selfView(): MemberView {
    return this.gossip.member(this.#name)!;
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

  handleStreamReply(id: number, reply: StreamMessage | Error, nowMs: number): StreamOutcome {
    const outcome = this.gossip.handleStreamReply(id, reply, nowMs);
    this.#pump(nowMs);
    if (this.#joins.delete(id) && outcome.ok) {
      // Serf's broadcastJoin: our join intent at the current time.
      this.#broadcastJoin(nowMs);
    }
    return outcome;
  }

  handleTimer(timer: SerfTimer, nowMs: number): void {
    switch (timer.kind) {
      case 'serfReap':
        if (!this.#tokens.isCurrent('serfReap', timer.token)) return;
        this.#outbox.timer({ kind: 'serfReap', token: this.#tokens.next('serfReap') }, nowMs + this.config.reapIntervalMs);
        for (const e of this.members.reap(
          nowMs,
          this.config.reconnectWindowMs,
          this.config.tombstoneTimeoutMs,
          this.config.recentIntentTimeoutMs,
        )) {
          this.#outbox.emit({ type: 'member', ...e });
        }
        return;
      case 'queryTimeout':
        this.#queries.finish(timer.ltime);
        return;
      case 'coalesceFlush':
        this.#userEvents.handleFlush(timer.token, nowMs);
        return;
      case 'leaveBroadcastTimeout':
        if (this.#tokens.isCurrent('leaveBroadcastTimeout', timer.token) && this.#state === 'leaving') this.#memberlistLeave(nowMs);
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
            this.#outbox.emit(effect);
            if (effect.known.name === this.#name) this.#resolveConflict(nowMs);
            break;
          default:
            this.#outbox.emit(effect);
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
      if (event) this.#outbox.emit({ type: 'member', ...event });
      return;
    }
    const tags = this.#decodeTags(view.meta);
    const event = change === 'join' ? this.members.nodeJoin(view, tags) : this.members.nodeUpdate(view, tags);
    if (event) this.#outbox.emit({ type: 'member', ...event });
  }

  #decodeTags(meta: Uint8Array): Record<string, string> {
    try {
      return decodeTags(meta);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#outbox.drop('malformedTags');
      return {};
    }
  }

  /**
   * A Serf message carried in a memberlist user message (Serf's NotifyMsg:
   * docs/protocol.md#serf-message-types).
   */
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
          rebroadcast = this.#userEvents.receive(decodeUserEvent(body), nowMs);
          break;
        case SerfType.query:
          rebroadcast = this.#queries.receive(decodeQuery(body), nowMs);
          break;
        case SerfType.queryResponse:
          this.#queries.receiveResponse(decodeQueryResponse(body));
          break;
        case SerfType.relay: {
          const relay = decodeRelay(body);
          const host = ipToString(relay.addr);
          if (host === '' || relay.inner[0] !== SerfType.queryResponse) throw new DecodeError('bad relay', 'malformed');
          this.gossip.sendUser({ host, port: relay.port }, relay.inner, false, nowMs);
          break;
        }
        default:
          this.#outbox.drop('unknownSerfType');
      }
      // Copy: the payload may be a view into a packet buffer.
      if (rebroadcast) this.gossip.broadcastUser(payload.slice());
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#outbox.drop('malformedSerfMessage');
    }
  }

  /** Serf's handleNodeLeaveIntent; returns whether to rebroadcast. */
  #leaveIntent(ltime: bigint, node: string, prune: boolean, nowMs: number): boolean {
    this.clock.witness(ltime);
    const { verdict, event } = this.members.leaveIntent(node, ltime, prune, this.#state === 'alive', nowMs);
    if (event) this.#outbox.emit({ type: 'member', ...event });
    if (verdict === 'refute') this.#broadcastJoin(nowMs);
    return verdict === 'rebroadcast';
  }

  /** Serf's handleNodeJoinIntent; returns whether to rebroadcast. */
  #joinIntent(node: string, ltime: bigint, nowMs: number): boolean {
    const { rebroadcast, event } = this.members.joinIntent(node, ltime, nowMs);
    if (event) this.#outbox.emit({ type: 'member', ...event });
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

  /** Another node claims our name: start the vote, if one may start now. */
  #resolveConflict(nowMs: number): void {
    const vote = this.#internal.resolveConflict(nowMs);
    if (vote === null) return;
    if (vote.broadcast) this.gossip.broadcastUser(vote.bytes);
    this.#pump(nowMs);
  }

  #memberlistLeave(nowMs: number): void {
    this.#state = 'left';
    this.#tokens.next('leaveBroadcastTimeout'); // a pending broadcast timeout is stale now
    this.gossip.leave(nowMs);
    this.#pump(nowMs);
  }

  // ---- push/pull -----------------------------------------------------------------------------

  #localState(): Uint8Array {
    const state: SerfState = {
      ltime: this.clock.time,
      eventLTime: this.eventClock.time,
      queryLTime: this.queryClock.time,
      statusLTimes: this.members.statusLTimes(),
      leftMembers: this.members.leftNames(),
      events: this.#userEvents.recent(),
    };
    return encodeSerfState(state);
  }

  /** Serf's MergeRemoteState (docs/protocol.md#serf-state-exchange). */
  #mergeRemoteState(bytes: Uint8Array, join: boolean, nowMs: number): void {
    if (bytes[0] !== SerfType.pushPull) {
      this.#outbox.drop('badRemoteState');
      return;
    }
    let state: SerfState;
    try {
      state = decodeSerfState(bytes.subarray(1));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#outbox.drop('malformedRemoteState');
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
    if (join && this.#ignoreOldEvents) this.#userEvents.raiseFloor(state.eventLTime);
    for (const at of state.events) {
      for (const e of at.events) this.#userEvents.receive({ ltime: at.ltime, name: e.name, payload: e.payload, coalesce: false }, nowMs);
    }
  }
}
