/**
 * A gossip node: the public API (create, join, leave, close, events, queries, user events, tags)
 * over the protocol machines, and the interpreter of their effects. Bytes the transport hands up
 * go into the machine; the machine's effects become transport calls (datagrams, streams), timers
 * and events. The sockets, encryption and stream framing live in the transport (transport.ts).
 * The protocol path is synchronous; async lives only in bind, join, leave and close.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { type Logger, pino } from 'pino';
import { invalidArgument, invalidOption } from '../errors.js';
import type { Address } from '../gossip/address.js';
import type { StreamMessage } from '../gossip/codec/stream.js';
import { type GossipConfig, type ProfileName, resolveGossipConfig } from '../gossip/config.js';
import { type Counters, MAX_NAME_CHARS } from '../gossip/machine.js';
import { type StreamOutcome, streamFailed } from '../gossip/stream-outcome.js';
import type { QueryFilter } from '../serf/query-filters.js';
import {
  type IncomingQuery,
  type KeyringControl,
  type SerfEffect,
  SerfMachine,
  type SerfTimer,
  type UserEvent,
} from '../serf/serf-machine.js';
import type { SerfMember } from '../serf/serf-members.js';
import { type Tags, encodeTags } from '../serf/tags.js';
import { ENCRYPTION_OVERHEAD_BYTES, Keyring } from './keyring.js';
import { monotonicNowMs, systemRandom } from './random.js';
import { type JoinFailure, JoinError } from './join-error.js';
import { SeedResolver } from './seed-resolver.js';
import { NetTransport, type Transport, localIPv4 } from './transport.js';

/** The longest delay setTimeout honours (a longer one fires at once); also the longest query timeout. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export interface GossipNodeOptions {
  /** Unique node name. */
  name: string;
  /** host:port to listen on (UDP and TCP). Default 0.0.0.0:7946; port 0 picks a free port. */
  bind?: string;
  /** host:port peers should use; default the bind address (a local IPv4 if bound to 0.0.0.0). */
  advertise?: string;
  profile?: ProfileName;
  /** Overrides of the profile's gossip and Serf parameters. */
  gossip?: Partial<GossipConfig>;
  /** Base64 encryption keys, primary first (`serf keygen` makes them). */
  encrypt?: string | readonly string[];
  /** Serf tags (in node meta as 0xFF + a msgpack map, at most 512 bytes encoded). */
  tags?: Tags;
  /** Deliver user events older than our join (Serf's -replay); default false. */
  replayEvents?: boolean;
  /**
   * DNS servers (`host[:port]`) that resolve seed names, instead of the system's resolver; for
   * example Consul's DNS interface, `127.0.0.1:8600`.
   */
  dnsServers?: readonly string[];
  logger?: Logger;
}

export interface JoinOptions {
  /**
   * Aborts the join: it rejects at once with the signal's reason, and the replies still on their
   * way are ignored when they come (nothing of them is merged).
   */
  signal?: AbortSignal;
  /**
   * Retry until a seed answers, as `serf agent -retry-join`: a round over every seed each
   * `intervalMs` (default 30 000), at most `max` rounds (default 0: no limit). Without it the
   * join is one round, as memberlist's Join, and rejects with a JoinError saying why.
   */
  retry?: { intervalMs?: number; max?: number };
}

/** Serf's retry_interval. */
export const DEFAULT_RETRY_INTERVAL_MS = 30_000;
/** Push/pulls of one join round at once (memberlist's Join does one at a time). */
const MAX_JOINS_IN_FLIGHT = 8;
/** Serf's port, for seeds given without one. */
const DEFAULT_PORT = 7946;
const DEFAULT_DNS_PORT = 53;

/** A member as Serf sees it: status alive / leaving / left / failed, tags, versions. */
export interface Member extends SerfMember {
  /** memberlist's incarnation number for it (0 once forgotten by the gossip layer). */
  readonly incarnation: number;
  /**
   * The failure detector suspects it (memberlist's suspect state): it missed its probes and is
   * declared failed unless it refutes in time. Serf's status says `alive` meanwhile.
   */
  readonly suspect: boolean;
}

/** A query that reached us; `respond` answers it once, before its deadline. */
export interface ReceivedQuery extends IncomingQuery {
  respond(payload: Uint8Array): boolean;
}

export type QueryReply =
  { readonly type: 'ack'; readonly from: string } | { readonly type: 'response'; readonly from: string; readonly payload: Uint8Array };

export interface GossipNodeEvents {
  'member-join': [Member];
  'member-update': [Member];
  'member-leave': [Member];
  'member-failed': [Member];
  'member-reap': [Member];
  event: [UserEvent];
  query: [ReceivedQuery];
  /**
   * Another node holds our name and the cluster sided with it (docs/protocol.md#name-conflicts): we
   * have closed.
   */
  'name-conflict': [{ responses: number; matching: number }];
}

/** Replies buffered for a query nobody reads yet; more are dropped (counted). */
export const MAX_BUFFERED_REPLIES = 4096;
/** How long a graceful leave lingers after its broadcasts so peers' probes still get answers (Serf's LeavePropagateDelay). */
const LEAVE_PROPAGATE_DELAY_MS = 1000;

interface QueryStream {
  readonly replies: QueryReply[];
  done: boolean;
  wake: (() => void) | undefined;
}

export class GossipNode extends EventEmitter<GossipNodeEvents> {
  readonly machine: SerfMachine;
  readonly keyring: Keyring | null;
  /** The address peers reach this member at (the advertised one; the bound port when bound to port 0). */
  readonly address: Address;
  readonly #config: GossipConfig;
  readonly #transport: Transport;
  readonly #log: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #ioDrops: Record<string, number> = {};
  readonly #joinWaiters = new Map<number, (outcome: StreamOutcome) => void>();
  readonly #seeds: SeedResolver;
  readonly #queries = new Map<bigint, QueryStream>();
  #closed = false;
  #leftWaiters: (() => void)[] = [];
  #hasLeft = false;

  private constructor(
    machine: SerfMachine,
    config: GossipConfig,
    keyring: Keyring | null,
    transport: Transport,
    address: Address,
    log: Logger,
    seeds: SeedResolver,
  ) {
    super();
    this.#seeds = seeds;
    this.machine = machine;
    this.#config = config;
    this.keyring = keyring;
    this.#transport = transport;
    this.address = address;
    this.#log = log;
  }

  /** Binds the port, starts gossiping (alone until `join`). Bad options throw SwimringError. */
  static async create(options: GossipNodeOptions): Promise<GossipNode> {
    if (typeof options?.name !== 'string' || options.name === '' || !options.name.isWellFormed() || options.name.length > MAX_NAME_CHARS) {
      throw invalidOption('name', `a non-empty string of at most ${MAX_NAME_CHARS} characters`, options?.name);
    }
    const config = resolveGossipConfig(options.profile ?? 'lan', options.gossip ?? {});
    const bind = parseHostPort('bind', options.bind ?? '0.0.0.0:7946');
    if (!isIPv4(bind.host) && !isIPv6(bind.host)) throw invalidOption('bind', 'an IP address and port', options.bind);
    const keys = options.encrypt === undefined ? [] : typeof options.encrypt === 'string' ? [options.encrypt] : [...options.encrypt];
    const keyring = keys.length > 0 ? new Keyring(keys) : null;
    const tags = options.tags ?? {};
    encodeTags(tags); // validates (size, types) before we bind anything
    const seeds = new SeedResolver(dnsServersOption(options.dnsServers));
    const log = options.logger ?? pino({ level: 'silent' });
    const transport = await NetTransport.bind({
      host: bind.host,
      port: bind.port,
      keyring,
      maxStreamBytes: config.maxStreamBytes,
      tcpTimeoutMs: config.tcpTimeoutMs,
      logger: log,
    });
    const port = transport.port;
    const advertise = options.advertise ? parseHostPort('advertise', options.advertise) : { host: bind.host, port };
    if (advertise.host === '0.0.0.0' || advertise.host === '::') advertise.host = localIPv4();
    if (advertise.port === 0) advertise.port = port;
    const machine = new SerfMachine({
      config,
      local: { name: options.name, host: advertise.host, port: advertise.port },
      tags,
      random: systemRandom(),
      packetOverheadBytes: keyring ? ENCRYPTION_OVERHEAD_BYTES : 0,
      ignoreOldEvents: !(options.replayEvents ?? false),
      ...(keyring ? { keyring: keyringControl(keyring) } : {}),
    });
    const node = new GossipNode(machine, config, keyring, transport, advertise, log, seeds);
    node.#listen();
    machine.start(monotonicNowMs());
    node.#flush();
    log.info({ name: options.name, address: `${advertise.host}:${advertise.port}` }, 'gossip node started');
    return node;
  }

  /** This member's name. */
  get name(): string {
    return this.machine.name;
  }

  /** Every member known, ourselves included, as Serf sees them. */
  members(): Member[] {
    return this.machine.members.list().map((m) => this.#member(m));
  }

  #member(m: SerfMember): Member {
    const g = this.machine.gossip.member(m.name);
    return { ...m, incarnation: g?.incarnation ?? 0, suspect: g?.status === 'suspect' };
  }

  get tags(): Tags {
    return this.machine.tags;
  }

  /** Replaces our tags at runtime: gossiped with a new incarnation; peers see member-update. */
  setTags(tags: Tags): void {
    encodeTags(tags);
    if (this.#closed) return;
    this.machine.setTags(tags, monotonicNowMs());
    this.#flush();
  }

  /**
   * Protocol counters, with drops (by reason) of the Serf layer and of the I/O edge included. A
   * snapshot: a fresh copy on every read, which changing does not touch the node's counts.
   */
  get counters(): Counters {
    const c = this.machine.gossip.counters;
    return { ...c, drops: { ...c.drops, ...this.machine.drops, ...this.#ioDrops } };
  }

  /** Lifeguard's local health score (awareness): 0 is healthy; higher means our probes time out more, as if we were slow. */
  get healthScore(): number {
    return this.machine.gossip.healthScore;
  }

  /** Whether a graceful `leave` has begun (and has not yet closed the node). */
  get leaving(): boolean {
    return this.machine.leaving;
  }

  /** The gossip and Serf parameters this node runs with (its profile with the overrides applied). */
  get config(): Readonly<GossipConfig> {
    return this.#config;
  }

  /** Serf's three Lamport clocks now (`serf info`'s member_time, event_time, query_time). */
  get lamportTimes(): { readonly member: bigint; readonly event: bigint; readonly query: bigint } {
    return { member: this.machine.clock.time, event: this.machine.eventClock.time, query: this.machine.queryClock.time };
  }

  /** Inbound TCP streams open now and the bytes they buffer (bounded: docs/budgets.md). */
  get inboundStreams(): { open: number; bufferedBytes: number } {
    return this.#transport.inboundStreams;
  }

  /**
   * Joins through one or more seeds (`host[:port]`, port 7946 by default; a name joins every
   * address it resolves to): a push/pull with each, as memberlist's Join. Resolves with the number
   * of addresses that answered; when none did, rejects with a JoinError (ERR_JOIN_FAILED) giving
   * each one's reason (refused, timeout, encryption, protocol, name conflict, ...), unless
   * `retry` asks for more rounds.
   */
  async join(seeds: readonly string[], options: JoinOptions = {}): Promise<number> {
    if (!Array.isArray(seeds) || seeds.length === 0) throw invalidOption('join', 'at least one host:port', seeds);
    const parsed = seeds.map((seed) => ({ seed, ...parseHostPort('join', seed, DEFAULT_PORT) }));
    const retry = options.retry;
    if (retry !== undefined && (retry === null || typeof retry !== 'object')) throw invalidOption('retry', 'an object', retry);
    const intervalMs = retry?.intervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
    const max = retry?.max ?? 0;
    if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_DELAY_MS)
      throw invalidOption('retry.intervalMs', `an integer in [1, ${MAX_TIMER_DELAY_MS}]`, intervalMs);
    if (!Number.isInteger(max) || max < 0) throw invalidOption('retry.max', 'a non-negative integer', max);
    for (let round = 1; ; round++) {
      options.signal?.throwIfAborted();
      const { answered, failures } = await this.#joinRound(parsed, options.signal);
      if (answered > 0) return answered;
      const error = new JoinError(failures, round);
      if (retry === undefined || (max > 0 && round >= max) || this.#closed) throw error;
      this.#log.warn({ failures, round, retryInMs: intervalMs }, `join failed, retrying: ${error.message}`);
      await abortableSleep(intervalMs, options.signal);
    }
  }

  /**
   * One push/pull with every address of every seed, MAX_JOINS_IN_FLIGHT at a time (each reply may
   * hold up to maxStreamBytes), each address once. An abort rejects at once: the resolution is not
   * waited for, and the streams still open are forgotten, so a reply that comes later is not merged.
   */
  async #joinRound(
    seeds: readonly { seed: string; host: string; port: number }[],
    signal: AbortSignal | undefined,
  ): Promise<{ answered: number; failures: JoinFailure[] }> {
    const resolved = await abortable(Promise.all(seeds.map((s) => this.#seeds.resolve(s.seed, s.host, s.port))), signal);
    const failures: JoinFailure[] = [];
    const queue: { seed: string; address: string; host: string; port: number }[] = [];
    const listed = new Set<string>();
    for (const r of resolved) {
      if (r.error !== undefined) failures.push({ seed: r.seed, address: null, reason: 'resolve', detail: r.error });
      for (const a of r.addresses) {
        const address = isIPv6(a.host) ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
        if (listed.has(address)) continue;
        listed.add(address);
        // A name listing every member (a headless Service) lists us too: a push/pull with
        // ourselves would count as joined while we are still alone.
        if (a.host === this.address.host && a.port === this.address.port) {
          failures.push({ seed: r.seed, address, reason: 'self', detail: "this node's own address" });
          continue;
        }
        queue.push({ seed: r.seed, address, ...a });
      }
    }
    let answered = 0;
    const open = new Set<number>();
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined && !signal?.aborted; next = queue.shift()) {
        const outcome = await this.#joinOnce(next, open);
        if (outcome.ok) answered++;
        else failures.push({ seed: next.seed, address: next.address, reason: outcome.reason, detail: outcome.detail });
      }
    };
    const forget = () => {
      for (const id of open) {
        this.machine.forgetStream(id);
        const waiter = this.#joinWaiters.get(id);
        this.#joinWaiters.delete(id);
        waiter?.(streamFailed('closed', 'the join was aborted'));
      }
    };
    signal?.addEventListener('abort', forget, { once: true });
    try {
      await Promise.all(Array.from({ length: Math.min(MAX_JOINS_IN_FLIGHT, queue.length) }, worker));
    } finally {
      signal?.removeEventListener('abort', forget);
    }
    signal?.throwIfAborted();
    const order = new Map(seeds.map((s, i) => [s.seed, i]));
    failures.sort((x, y) => order.get(x.seed)! - order.get(y.seed)!);
    return { answered, failures };
  }

  /**
   * Sends a Serf user event to every member, this one included (`event`). Name plus payload
   * must fit userEventSizeLimitBytes (512 by default, as Serf). With `coalesce`, receivers that
   * coalesce may deliver only the newest event of that name.
   */
  userEvent(name: string, payload: Uint8Array = new Uint8Array(0), options: { coalesce?: boolean } = {}): void {
    if (typeof name !== 'string' || name === '' || !name.isWellFormed()) throw invalidArgument('name', 'a non-empty string', name);
    if (!(payload instanceof Uint8Array)) throw invalidArgument('payload', 'a Uint8Array', payload);
    if (this.#closed) return;
    this.machine.userEvent(name, payload, options.coalesce ?? true, monotonicNowMs());
    this.#flush();
  }

  /**
   * Runs a Serf query: every matching member (this one included) may answer. Yields acks (with
   * `requestAck`) and responses as they arrive, and ends at the timeout or when `signal` aborts.
   */
  async *query(
    name: string,
    payload: Uint8Array = new Uint8Array(0),
    options: {
      filters?: readonly QueryFilter[];
      requestAck?: boolean;
      timeoutMs?: number;
      relayFactor?: number;
      signal?: AbortSignal;
    } = {},
  ): AsyncGenerator<QueryReply, void, undefined> {
    if (typeof name !== 'string' || name === '' || !name.isWellFormed()) throw invalidArgument('name', 'a non-empty string', name);
    if (!(payload instanceof Uint8Array)) throw invalidArgument('payload', 'a Uint8Array', payload);
    if (this.#closed) return;
    const { signal, ...rest } = options;
    if (rest.timeoutMs !== undefined && (!Number.isInteger(rest.timeoutMs) || rest.timeoutMs <= 0 || rest.timeoutMs > MAX_TIMER_DELAY_MS)) {
      throw invalidArgument('timeoutMs', `an integer in [1, ${MAX_TIMER_DELAY_MS}] (ms)`, rest.timeoutMs);
    }
    signal?.throwIfAborted();
    const stream: QueryStream = { replies: [], done: false, wake: undefined };
    const ltime = this.machine.query(name, payload, rest, monotonicNowMs());
    this.#queries.set(ltime, stream);
    const onAbort = () => {
      stream.done = true;
      stream.wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.#flush();
      for (;;) {
        const next = stream.replies.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (stream.done) return;
        await new Promise<void>((resolve) => (stream.wake = resolve));
        stream.wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#queries.delete(ltime);
      // Stopped before the timeout (abort, break, throw): free the machine's running slot now.
      this.machine.cancelQuery(ltime);
    }
  }

  /**
   * Serf's force-leave (RemoveFailedNodePrune): tells the cluster that member `name` left, so a
   * failed member goes to `left` everywhere and is no longer reconnected; with `prune` it is
   * erased at once. A member that is alive refutes it. Resolves with whether `name` was known
   * here; the intent is gossiped either way, as Serf does.
   */
  async forceLeave(name: string, options: { prune?: boolean } = {}): Promise<boolean> {
    if (typeof name !== 'string' || name === '') throw invalidArgument('name', 'a non-empty member name', name);
    if (this.#closed) return false;
    const known = this.machine.forceLeave(name, options.prune === true, monotonicNowMs());
    this.#flush();
    return known;
  }

  /**
   * Graceful leave in Serf's order: our leave intent, then memberlist's dead{From = self}, then
   * a short linger; bounded by 2 × broadcastTimeoutMs or the signal. Then close.
   */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) return;
    const done = new Promise<void>((resolve) => {
      if (this.#hasLeft) resolve();
      else this.#leftWaiters.push(resolve);
    });
    this.machine.leave(monotonicNowMs());
    this.#flush();
    // Whichever ends first cancels the other's timer, so nothing keeps the process alive.
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const bound = abortableSleep(2 * this.#config.broadcastTimeoutMs + LEAVE_PROPAGATE_DELAY_MS, signal).catch(() => undefined);
    await Promise.race([done.then(() => abortableSleep(LEAVE_PROPAGATE_DELAY_MS, signal).catch(() => undefined)), bound]);
    stop.abort();
    await this.close();
  }

  /** Stops at once (peers will see a failure unless `leave` ran first). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#transport.close();
    for (const w of this.#leftWaiters) w();
    // Joins under way end: the transport no longer reports their streams.
    for (const [id, waiter] of this.#joinWaiters) {
      this.#joinWaiters.delete(id);
      waiter(streamFailed('closed', 'the node closed'));
    }
    for (const q of this.#queries.values()) {
      q.done = true;
      q.wake?.();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Inputs from the transport go into the machine; whatever it decides is then executed. */
  #listen(): void {
    this.#transport.listen({
      packet: (from, bytes) => {
        if (this.#closed) return;
        try {
          this.machine.handlePacket(from, bytes, monotonicNowMs());
        } catch (err) {
          this.#internalError(err);
        }
        this.#flush();
      },
      streamRequest: (from, message) => {
        let reply: Uint8Array | null = null;
        try {
          reply = this.machine.handleStreamRequest(from, message, monotonicNowMs());
        } catch (err) {
          this.#internalError(err);
        }
        this.#flush();
        return reply;
      },
      drop: (reason) => this.#drop(reason),
    });
  }

  /** A push/pull with one address; its stream id is in `open` until it settles. */
  #joinOnce(address: { host: string; port: number }, open: Set<number>): Promise<StreamOutcome> {
    if (this.#closed) return Promise.resolve(streamFailed('closed', 'the node is closed'));
    return new Promise((resolve) => {
      const id = this.machine.join({ host: address.host, port: address.port }, monotonicNowMs());
      open.add(id);
      this.#joinWaiters.set(id, (outcome) => {
        open.delete(id);
        resolve(outcome);
      });
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#closed) return;
    for (const effect of this.machine.drain()) this.#execute(effect);
  }

  #execute(effect: SerfEffect): void {
    switch (effect.type) {
      case 'send':
        this.#transport.sendPacket(effect.to, effect.bytes);
        return;
      case 'stream': {
        const id = effect.id;
        this.#transport.request(effect.to, effect.bytes, effect.deadlineMs, (reply) => this.#streamReply(id, reply));
        return;
      }
      case 'streamSend':
        this.#transport.sendStream(effect.to, effect.bytes, effect.deadlineMs);
        return;
      case 'timer':
        this.#schedule(effect.timer, effect.atMs);
        return;
      case 'member': {
        const m = this.#member(effect.member);
        const event = `member-${effect.change}` as const;
        this.#log.info({ member: m.name, status: m.status, address: `${m.host}:${m.port}` }, event);
        this.emit(event, m);
        return;
      }
      case 'event':
        this.emit('event', effect.event);
        return;
      case 'query': {
        const q = effect.query;
        const respond = (payload: Uint8Array): boolean => {
          if (!(payload instanceof Uint8Array)) throw invalidArgument('payload', 'a Uint8Array', payload);
          if (this.#closed) return false;
          const sent = this.machine.respond(q, payload, monotonicNowMs());
          this.#flush();
          return sent;
        };
        this.emit('query', { ...q, respond });
        return;
      }
      case 'queryAck':
      case 'queryResponse': {
        const stream = this.#queries.get(effect.ltime);
        if (!stream) return;
        if (stream.replies.length >= MAX_BUFFERED_REPLIES) return this.#drop('queryReplyOverflow');
        stream.replies.push(
          effect.type === 'queryAck'
            ? { type: 'ack', from: effect.from }
            : { type: 'response', from: effect.from, payload: effect.payload },
        );
        stream.wake?.();
        return;
      }
      case 'queryDone': {
        const stream = this.#queries.get(effect.ltime);
        if (!stream) return;
        stream.done = true;
        stream.wake?.();
        return;
      }
      case 'conflict':
        this.#log.warn(
          {
            member: effect.known.name,
            known: `${effect.known.host}:${effect.known.port}`,
            claimed: `${effect.claimed.host}:${effect.claimed.port}`,
          },
          'conflicting address for a member name',
        );
        return;
      case 'nameConflictLost':
        this.#log.error(
          { responses: effect.responses, matching: effect.matching },
          'another node holds our name and the cluster sides with it: shutting down',
        );
        void this.close().then(() => this.emit('name-conflict', { responses: effect.responses, matching: effect.matching }));
        return;
      case 'left':
        this.#hasLeft = true;
        for (const w of this.#leftWaiters.splice(0)) w();
        return;
    }
  }

  #schedule(timer: SerfTimer, atMs: number): void {
    // setTimeout fires at once for delays past 2^31 − 1 ms: a far timer waits in such steps.
    const delayMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, atMs - monotonicNowMs()));
    const handle = setTimeout(() => {
      this.#timers.delete(handle);
      if (this.#closed) return;
      if (monotonicNowMs() < atMs) return this.#schedule(timer, atMs);
      this.machine.handleTimer(timer, monotonicNowMs());
      this.#flush();
    }, delayMs);
    this.#timers.add(handle);
  }

  /** The reply (or failure) of a stream the machine opened; a join waiting on it learns whether it worked. */
  #streamReply(id: number, reply: StreamMessage | Error): void {
    if (this.#closed) return;
    const outcome = this.machine.handleStreamReply(id, reply, monotonicNowMs());
    const waiter = this.#joinWaiters.get(id);
    if (waiter) {
      this.#joinWaiters.delete(id);
      waiter(outcome);
    }
    this.#flush();
  }

  /**
   * An exception out of the machine on one input. Decoding is total, so this is a defect of ours:
   * it is logged and counted (internalError) and the input dropped, and the node keeps running
   * rather than one datagram taking the process down.
   */
  #internalError(err: unknown): void {
    this.#drop('internalError');
    this.#log.error({ err }, 'an input raised an exception: dropped');
  }

  #drop(reason: string): void {
    this.#ioDrops[reason] = (this.#ioDrops[reason] ?? 0) + 1;
  }
}

/** "host:port" (IPv6 as "[::1]:port"); names are allowed where resolution happens later. */
export function parseHostPort(option: string, value: string, defaultPort?: number): { host: string; port: number } {
  if (typeof value !== 'string') throw invalidOption(option, 'host:port', value);
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ?? /^([^:]+)(?::(\d+))?$/.exec(value);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || port === undefined || !Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidOption(option, 'host:port with a port in [0, 65535]', value);
  return { host: m[1]!, port };
}

/** DNS servers as c-ares takes them: IP addresses, each with an optional port. */
function dnsServersOption(servers: readonly string[] | undefined): string[] {
  if (servers === undefined) return [];
  if (!Array.isArray(servers)) throw invalidOption('dnsServers', 'an array of IP[:port] strings', servers);
  return servers.map((server: unknown, i) => {
    const { host, port } = parseHostPort(`dnsServers[${i}]`, server as string, DEFAULT_DNS_PORT);
    if (!isIPv4(host) && !isIPv6(host)) throw invalidOption(`dnsServers[${i}]`, 'an IP address with an optional port', server);
    return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  });
}

/** `work`, or the signal's reason as soon as it aborts (the work itself runs on, bounded by its deadlines). */
function abortable<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return work;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The keyring as Serf's key-management queries drive it (install, use, remove, list). */
function keyringControl(keyring: Keyring): KeyringControl {
  return {
    install: (key) => keyring.add(key),
    use: (key) => keyring.use(key),
    remove: (key) => keyring.remove(key),
    list: () => ({ keys: keyring.keys, primary: keyring.primary }),
  };
}
