/**
 * A gossip node on real sockets: UDP and TCP on one port (wire reference §1), the system clock
 * and random source, and the keyring. A thin adapter: bytes in → machine → effects out. The
 * protocol path is synchronous; async lives only in bind, join, leave and close.
 */
import { type Socket as UdpSocket, createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { EventEmitter } from 'eventemitter3';
import { type Logger, pino } from 'pino';
import { SwimringError, invalidArgument, invalidOption } from '../errors.js';
import type { Address } from '../gossip/address.js';
import { MessageType, encodeErr } from '../gossip/codec/messages.js';
import { MAX_PACKET_BYTES } from '../gossip/codec/packet.js';
import type { StreamMessage } from '../gossip/codec/stream.js';
import { type GossipConfig, type ProfileName, resolveGossipConfig } from '../gossip/config.js';
import { type Counters, MAX_NAME_CHARS } from '../gossip/machine.js';
import type { QueryFilter } from '../serf/query-filters.js';
import { type IncomingQuery, type KeyringControl, type SerfEffect, SerfMachine, type SerfTimer, type UserEvent } from '../serf/serf-machine.js';
import type { SerfMember } from '../serf/serf-members.js';
import { type Tags, encodeTags } from '../serf/tags.js';
import { HEADER_DEADLINE_MS, InboundStreams, MAX_INBOUND_STREAMS, MAX_INBOUND_STREAMS_PER_SOURCE } from './inbound-streams.js';
import { ENCRYPTION_OVERHEAD_BYTES, Keyring } from './keyring.js';
import { monotonicNowMs, systemRandom } from './random.js';
import { StreamReadError, StreamReader } from './stream-reader.js';

/** The longest delay setTimeout honours (a longer one fires at once); also the longest query timeout. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
/** All inbound streams together buffer at most this many largest messages (docs/budgets.md). */
const INBOUND_BUFFER_BUDGET_STREAMS = 2;

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
  logger?: Logger;
}

/** A member as Serf sees it: status alive / leaving / left / failed, tags, versions. */
export interface Member extends SerfMember {
  /** memberlist's incarnation number for it (0 once forgotten by the gossip layer). */
  readonly incarnation: number;
}

/** A query that reached us; `respond` answers it once, before its deadline. */
export interface ReceivedQuery extends IncomingQuery {
  respond(payload: Uint8Array): boolean;
}

export type QueryReply = { readonly type: 'ack'; readonly from: string } | { readonly type: 'response'; readonly from: string; readonly payload: Uint8Array };

export interface GossipNodeEvents {
  'member-join': [Member];
  'member-update': [Member];
  'member-leave': [Member];
  'member-failed': [Member];
  'member-reap': [Member];
  event: [UserEvent];
  query: [ReceivedQuery];
  /** Another node holds our name and the cluster sided with it (§10.10): we have closed. */
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
  readonly #udp: UdpSocket;
  readonly #tcp: Server;
  readonly #log: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sockets = new Set<Socket>();
  readonly #ioDrops: Record<string, number> = {};
  readonly #joinWaiters = new Map<number, (ok: boolean) => void>();
  readonly #queries = new Map<bigint, QueryStream>();
  readonly #inbound: InboundStreams;
  #closed = false;
  #leftWaiters: (() => void)[] = [];
  #hasLeft = false;

  private constructor(machine: SerfMachine, config: GossipConfig, keyring: Keyring | null, udp: UdpSocket, tcp: Server, address: Address, log: Logger) {
    super();
    this.machine = machine;
    this.#config = config;
    this.keyring = keyring;
    this.#udp = udp;
    this.#tcp = tcp;
    this.address = address;
    this.#log = log;
    const limits = {
      maxStreams: MAX_INBOUND_STREAMS,
      maxPerSource: MAX_INBOUND_STREAMS_PER_SOURCE,
      headerDeadlineMs: HEADER_DEADLINE_MS,
      deadlineMs: config.tcpTimeoutMs,
      maxStreamBytes: config.maxStreamBytes,
      bufferBudgetBytes: INBOUND_BUFFER_BUDGET_STREAMS * config.maxStreamBytes,
    };
    this.#inbound = new InboundStreams(limits, keyring, {
      request: (from, message) => {
        let reply: Uint8Array | null = null;
        try {
          reply = this.machine.handleStreamRequest(from, message, monotonicNowMs());
        } catch (err) {
          this.#internalError(err);
        }
        this.#flush();
        return reply === null ? null : this.#frame(reply);
      },
      failed: (err) => this.#frame(encodeErr(err.message.slice(0, 200))),
      drop: (reason) => this.#drop(reason),
    });
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
    const log = options.logger ?? pino({ level: 'silent' });
    const { udp, tcp, port } = await bindBoth(bind.host, bind.port);
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
    const node = new GossipNode(machine, config, keyring, udp, tcp, advertise, log);
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
    const t = this.machine.gossip.members;
    const slot = t.slotOf(m.name);
    return { ...m, incarnation: slot < 0 ? 0 : t.incarnation(slot) };
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

  /** Protocol counters, with drops of the Serf layer and of the I/O edge included. */
  get counters(): Counters {
    const c = this.machine.gossip.counters;
    return { ...c, drops: { ...c.drops, ...this.machine.drops, ...this.#ioDrops } };
  }

  /** Inbound TCP streams open now and the bytes they buffer (bounded: docs/budgets.md). */
  get inboundStreams(): { open: number; bufferedBytes: number } {
    return { open: this.#inbound.size, bufferedBytes: this.#inbound.bufferedBytes };
  }

  /**
   * Joins through one or more seeds (`host:port`, names resolved), retrying with a doubling
   * backoff (1 s to 30 s) until at least one push/pull succeeds or the signal aborts.
   * Resolves with the number of seeds that answered in the successful round.
   */
  async join(seeds: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number> {
    if (!Array.isArray(seeds) || seeds.length === 0) throw invalidOption('join', 'at least one host:port', seeds);
    const parsed = seeds.map((s) => parseHostPort('join', s, 7946));
    for (let backoffMs = 1000; ; backoffMs = Math.min(backoffMs * 2, 30_000)) {
      options.signal?.throwIfAborted();
      const results = await Promise.all(parsed.map((seed) => this.#joinOnce(seed)));
      const ok = results.filter(Boolean).length;
      if (ok > 0) return ok;
      this.#log.warn({ seeds, retryInMs: backoffMs }, 'join failed, retrying');
      await abortableSleep(backoffMs, options.signal);
    }
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
    options: { filters?: readonly QueryFilter[]; requestAck?: boolean; timeoutMs?: number; relayFactor?: number; signal?: AbortSignal } = {},
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
    for (const s of this.#sockets) s.destroy();
    this.#inbound.closeAll();
    await Promise.all([
      new Promise<void>((resolve) => this.#udp.close(() => resolve())),
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
    ]);
    for (const w of this.#leftWaiters) w();
    for (const q of this.#queries.values()) {
      q.done = true;
      q.wake?.();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  #listen(): void {
    this.#udp.on('message', (msg, rinfo) => {
      if (this.#closed) return;
      let bytes: Uint8Array = msg;
      if (this.keyring) {
        const plain = this.keyring.decrypt(msg);
        if (plain === null) return this.#drop('decrypt');
        bytes = plain;
      }
      try {
        this.machine.handlePacket({ host: rinfo.address, port: rinfo.port }, bytes, monotonicNowMs());
      } catch (err) {
        this.#internalError(err);
      }
      this.#flush();
    });
    this.#udp.on('error', (err) => this.#log.error({ err }, 'udp socket error'));
    this.#tcp.on('connection', (socket) => this.#inbound.accept(socket));
    this.#tcp.on('error', (err) => this.#log.error({ err }, 'tcp server error'));
  }

  /** One message from a stream we opened (the peer's reply), through the same reader as inbound ones. */
  #readReply(socket: Socket, done: (message: StreamMessage | Error) => void): void {
    const reader = new StreamReader(this.keyring, this.#config.maxStreamBytes);
    let finished = false;
    const finish = (m: StreamMessage | Error) => {
      if (finished) return;
      finished = true;
      socket.removeAllListeners('data');
      done(m);
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        const message = reader.push(chunk);
        if (message !== null) finish(message);
      } catch (err) {
        if (!(err instanceof StreamReadError)) throw err;
        this.#drop(err.reason);
        finish(err);
      }
    });
    socket.on('end', () => finish(new Error('stream ended early')));
    socket.on('close', () => finish(new Error('stream closed')));
  }

  /** Streams: [10][len u32][blob] with the 5-byte header as GCM additional data (§6.4). */
  #frame(bytes: Uint8Array): Uint8Array {
    if (!this.keyring) return bytes;
    const header = Buffer.alloc(5);
    header[0] = MessageType.encrypt;
    header.writeUInt32BE(bytes.length + ENCRYPTION_OVERHEAD_BYTES, 1);
    return Buffer.concat([header, this.keyring.encrypt(bytes, header)]);
  }

  async #joinOnce(seed: { host: string; port: number }): Promise<boolean> {
    let host = seed.host;
    if (!isIPv4(host) && !isIPv6(host)) {
      try {
        host = (await lookup(host, { family: 4 })).address;
      } catch {
        this.#drop('joinResolve');
        return false;
      }
    }
    if (this.#closed) return false;
    return new Promise((resolve) => {
      const id = this.machine.join({ host, port: seed.port }, monotonicNowMs());
      this.#joinWaiters.set(id, resolve);
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#closed) return;
    for (const effect of this.machine.drain()) this.#execute(effect);
  }

  #execute(effect: SerfEffect): void {
    switch (effect.type) {
      case 'send': {
        const bytes = this.keyring ? this.keyring.encrypt(effect.bytes) : effect.bytes;
        if (bytes.length > MAX_PACKET_BYTES) return this.#drop('oversizedSend');
        this.#udp.send(bytes, effect.to.port, effect.to.host, (err) => {
          if (err) this.#drop('sendError');
        });
        return;
      }
      case 'stream':
        this.#openStream(effect.id, effect.to, effect.bytes, effect.deadlineMs);
        return;
      case 'streamSend': {
        const socket = createConnection({ host: effect.to.host, port: effect.to.port });
        this.#sockets.add(socket);
        socket.setTimeout(Math.max(1, effect.deadlineMs - monotonicNowMs()), () => socket.destroy());
        socket.on('connect', () => socket.end(this.#frame(effect.bytes)));
        socket.on('error', () => this.#drop('userStreamError'));
        socket.on('close', () => this.#sockets.delete(socket));
        return;
      }
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
        stream.replies.push(effect.type === 'queryAck' ? { type: 'ack', from: effect.from } : { type: 'response', from: effect.from, payload: effect.payload });
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
        this.#log.warn({ member: effect.known.name, known: `${effect.known.host}:${effect.known.port}`, claimed: `${effect.claimed.host}:${effect.claimed.port}` }, 'conflicting address for a member name');
        return;
      case 'nameConflictLost':
        this.#log.error({ responses: effect.responses, matching: effect.matching }, 'another node holds our name and the cluster sides with it: shutting down');
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

  #openStream(id: number, to: Address, bytes: Uint8Array, deadlineMs: number): void {
    const socket = createConnection({ host: to.host, port: to.port });
    this.#sockets.add(socket);
    let settled = false;
    const settle = (reply: StreamMessage | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#timers.delete(timer);
      socket.destroy();
      this.#sockets.delete(socket);
      if (this.#closed) return;
      const ok = this.machine.handleStreamReply(id, reply, monotonicNowMs());
      const waiter = this.#joinWaiters.get(id);
      if (waiter) {
        this.#joinWaiters.delete(id);
        waiter(ok);
      }
      this.#flush();
    };
    const timer = setTimeout(() => settle(new Error('timeout')), Math.max(1, deadlineMs - monotonicNowMs()));
    this.#timers.add(timer);
    socket.on('error', (err) => settle(err));
    socket.on('connect', () => socket.write(this.#frame(bytes)));
    this.#readReply(socket, settle);
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
  if (!m || port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) throw invalidOption(option, 'host:port with a port in [0, 65535]', value);
  return { host: m[1]!, port };
}

function localIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

async function bindBoth(host: string, port: number): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  // With port 0 the OS picks the UDP port, which may be taken for TCP: try a few times.
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 2 * 1024 * 1024 });
    const bound = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.off('error', reject);
        resolve(udp.address().port);
      });
    }).catch((err: NodeJS.ErrnoException) => {
      udp.close();
      throw new SwimringError('ERR_INVALID_OPTION', `bind ${host}:${port} failed: ${err.code ?? err.message}`);
    });
    const tcp = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(bound, host, 511, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp, port: bound };
    } catch (err) {
      udp.close();
      if (port !== 0 || attempt >= 5) throw new SwimringError('ERR_INVALID_OPTION', `bind ${host}:${bound} (tcp) failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
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
