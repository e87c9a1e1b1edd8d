/**
 * Serf's RPC (IPC) protocol on the agent's --rpc-addr, so the `serf` CLI (members, join, event,
 * query, tags, force-leave, keys, monitor, info, rtt, reachability, leave) and Serf's RPC client
 * libraries drive a swimring agent as they drive a Serf agent. Framing (ipc.go): msgpack objects
 * back to back over TCP; a request is a header {Command, Seq} and, for most commands, a body; a
 * response is a header {Seq, Error} and a body for the commands that have one (sent even with an
 * Error, as Serf does). The first request must be a handshake {Version: 1}; with --rpc-auth the
 * second must be auth {AuthKey}. `stream`, `monitor` and `query` go on sending records under
 * their request's Seq (a header, then the record) until `stop` (or, for a query, its end).
 *
 * Budgets (for docs/budgets.md):
 * - connections: at most 64 open at once; more are closed as soon as accepted.
 * - one request object (a header or a body): at most 1 MiB and 65,536 msgpack elements, judged
 *   from the lengths and counts it declares before anything is allocated; more, malformed
 *   msgpack, or a header or body of the wrong shape closes the connection.
 * - bytes buffered from a client: reading pauses past 2 MiB (while a request is handled).
 * - deadlines: handshake (and auth, when required) within 10 s of connecting; a request, once
 *   begun, must arrive whole within 10 s; a connection with no stream, monitor or query running
 *   and no request for 5 min is closed. Auth failures: 3 per connection, then it is closed.
 * - bytes sent and not yet read by a client: 1 MiB. A client over it is dropped (logged) when a
 *   stream, monitor or query record is due; for plain responses reading from it pauses until it
 *   drains, and it is dropped if it does not drain within 30 s.
 * - per connection: at most 16 event streams and 1 monitor (Serf's rule), at most 1,024 streamed
 *   queries awaiting `respond` (the oldest forgotten first; each until its deadline), and 16
 *   queries of its own running at once.
 * - `join` gives up after 10 s without a seed answering; the monitor replays 256 log lines of at
 *   most 4 KiB each.
 * - log lines about it: dropped clients at most 10 a second, refused connections once a minute.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { type Server, type Socket, createServer } from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import type { Logger } from 'pino';
import { asMap, bool, bytes, str, u64 } from '../../gossip/codec/fields.js';
import { BudgetExceededError, DEFAULT_ELEMENT_BUDGET, DecodeError, text, type MsgMap, type MsgValue } from '../../gossip/codec/msgpack.js';
import type { GossipNode, Member, QueryReply, ReceivedQuery } from '../../io/gossip-node.js';
import { decodeKeyResponse, encodeKeyRequest } from '../../serf/internal-messages.js';
import { type QueryFilter, compileTagExpr } from '../../serf/query-filters.js';
import { SerfType } from '../../serf/messages.js';
import { GoRpcWriter, decodeObject, objectEnd } from './codec.js';
import { type LogHub, SERF_LOG_LEVELS, type SerfLogLevel } from './log-hub.js';
import {
  COMMANDS_WITH_BODY,
  COMMANDS_WITHOUT_BODY,
  Errors,
  type EventFilter,
  IPC_VERSION,
  type KeyResult,
  type MemberEventName,
  filterAdmits,
  parseEventFilter,
  writeHeader,
  writeKeyResponse,
  writeLogRecord,
  writeMemberEvent,
  writeMembers,
  writeNoCoordinate,
  writeQueryEvent,
  writeQueryRecord,
  writeStats,
  writeUserEvent,
} from './protocol.js';

export const DEFAULT_RPC_ADDR = '127.0.0.1:7373';

export interface RpcBudgets {
  maxConnections: number;
  maxObjectBytes: number;
  maxObjectElements: number;
  maxBufferedInBytes: number;
  maxBufferedOutBytes: number;
  handshakeTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  drainTimeoutMs: number;
  maxAuthFailures: number;
  maxStreams: number;
  maxPendingQueries: number;
  maxRunningQueries: number;
  joinTimeoutMs: number;
}

export const RPC_BUDGETS: Readonly<RpcBudgets> = {
  maxConnections: 64,
  maxObjectBytes: 1 << 20,
  maxObjectElements: DEFAULT_ELEMENT_BUDGET,
  maxBufferedInBytes: 2 << 20,
  maxBufferedOutBytes: 1 << 20,
  handshakeTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  drainTimeoutMs: 30_000,
  maxAuthFailures: 3,
  maxStreams: 16,
  maxPendingQueries: 1024,
  maxRunningQueries: 16,
  joinTimeoutMs: 10_000,
};

export interface RpcServerOptions {
  node: GossipNode;
  host: string;
  port: number;
  /** Clients must send this in `auth` before any other command (Serf's -rpc-auth). */
  authKey?: string;
  logger: Logger;
  /** Where `monitor` gets its lines; without it monitors get none. */
  logs?: LogHub;
  /** Joins through seeds (the agent's ring or node). Default node.join. */
  join?: (seeds: string[], options: { signal: AbortSignal }) => Promise<number>;
  /** The agent's graceful leave; the agent exits after it. Default node.leave. */
  leave?: () => Promise<void>;
  budgets?: Partial<RpcBudgets>;
}

/** Dropped clients logged per second at most. */
const DROP_LOGS_PER_SECOND = 10;
/** How long a connection busy with a request may delay the agent's shutdown. */
const SHUTDOWN_GRACE_MS = 5000;
/** Serf's Agent.Query refuses its internal prefix, except `_serf_ping` without a payload (reachability). */
const INTERNAL_PREFIX = '_serf_';
const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export class RpcServer {
  readonly #options: RpcServerOptions;
  readonly #budgets: RpcBudgets;
  readonly #server: Server;
  readonly #connections = new Set<RpcConnection>();
  readonly #log: Logger;
  readonly #unlisten: (() => void)[] = [];
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  #refusedLoggedAt = -Infinity;
  #dropSecond = -1;
  #dropLogs = 0;
  #dropsUnlogged = 0;

  private constructor(options: RpcServerOptions) {
    this.#options = options;
    this.#budgets = { ...RPC_BUDGETS, ...options.budgets };
    this.#log = options.logger;
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server.maxConnections = this.#budgets.maxConnections;
    this.#server.on('drop', (data) => {
      const now = performance.now();
      if (now - this.#refusedLoggedAt < 60_000) return;
      this.#refusedLoggedAt = now;
      this.#log.warn(
        { client: `${data?.remoteAddress}:${data?.remotePort}`, max: this.#budgets.maxConnections },
        'RPC connection refused: too many connections',
      );
    });
  }

  /** Listens on host:port; rejects (with the listen error) if the address cannot be bound. */
  static async listen(options: RpcServerOptions): Promise<RpcServer> {
    const rpc = new RpcServer(options);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      rpc.#server.once('error', onError);
      rpc.#server.listen(options.port, options.host, () => {
        rpc.#server.off('error', onError);
        rpc.#server.on('error', (err) => rpc.#log.error({ err }, 'RPC server error'));
        resolve();
      });
    });
    rpc.#subscribe();
    rpc.#sweeper = setInterval(() => rpc.#sweep(), 1000);
    rpc.#sweeper.unref();
    return rpc;
  }

  /** host:port actually bound. */
  get address(): string {
    const a = this.#server.address();
    if (a === null || typeof a === 'string') return String(a);
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** Stops accepting; each connection ends once its current request is answered. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const off of this.#unlisten.splice(0)) off();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const c of this.#connections) c.shutdown();
    await closed;
  }

  // ---- what connections call back into ---------------------------------------------------------

  get node(): GossipNode {
    return this.#options.node;
  }

  get budgets(): Readonly<RpcBudgets> {
    return this.#budgets;
  }

  get log(): Logger {
    return this.#log;
  }

  get logs(): LogHub | undefined {
    return this.#options.logs;
  }

  get authKey(): string | undefined {
    return this.#options.authKey;
  }

  join(seeds: string[], signal: AbortSignal): Promise<number> {
    return this.#options.join ? this.#options.join(seeds, { signal }) : this.node.join(seeds, { signal });
  }

  leave(): Promise<void> {
    return this.#options.leave ? this.#options.leave() : this.node.leave();
  }

  forgetConnection(c: RpcConnection): void {
    this.#connections.delete(c);
  }

  /**
   * Logs a dropped client: at most DROP_LOGS_PER_SECOND lines a second (the rest counted in the
   * next line), and deferred, since a drop can happen while the log hub delivers a line to it.
   */
  logDrop(client: string, reason: string, level: 'debug' | 'warn'): void {
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.#dropSecond) {
      this.#dropSecond = second;
      this.#dropLogs = 0;
    }
    if (++this.#dropLogs > DROP_LOGS_PER_SECOND) {
      this.#dropsUnlogged++;
      return;
    }
    const unlogged = this.#dropsUnlogged;
    this.#dropsUnlogged = 0;
    const log = this.#log;
    setImmediate(() => log[level]({ client, reason, ...(unlogged > 0 ? { alsoDroppedUnlogged: unlogged } : {}) }, 'RPC client dropped'));
  }

  // ---- internals -------------------------------------------------------------------------------

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const c = new RpcConnection(this, socket);
    this.#connections.add(c);
    this.#log.debug({ client: c.name }, 'RPC client accepted');
  }

  /** Node events fan out to the streams that asked for them. */
  #subscribe(): void {
    const node = this.#options.node;
    for (const event of ['member-join', 'member-update', 'member-leave', 'member-failed', 'member-reap'] as const) {
      const handler = (m: Member) => {
        for (const c of this.#connections) c.memberEvent(event, m);
      };
      node.on(event, handler);
      this.#unlisten.push(() => node.off(event, handler));
    }
    const onEvent = (e: { ltime: bigint; name: string; payload: Uint8Array; coalesce: boolean }) => {
      for (const c of this.#connections) c.userEvent(e);
    };
    node.on('event', onEvent);
    this.#unlisten.push(() => node.off('event', onEvent));
    const onQuery = (q: ReceivedQuery) => {
      for (const c of this.#connections) c.queryEvent(q);
    };
    node.on('query', onQuery);
    this.#unlisten.push(() => node.off('query', onQuery));
  }

  #sweep(): void {
    const now = performance.now();
    for (const c of this.#connections) c.checkDeadlines(now);
  }
}

interface Request {
  readonly command: string;
  readonly seq: bigint;
}

class ClientGone extends Error {}

class RpcConnection {
  readonly name: string;
  readonly #rpc: RpcServer;
  readonly #socket: Socket;
  readonly #connectedAt = performance.now();
  #lastActivity = performance.now();
  #buffer: Buffer = Buffer.alloc(0);
  /** A header whose body has not arrived yet. */
  #awaitingBody: Request | null = null;
  #partialSince: number | null = null;
  #busy = false;
  #paused = false;
  #closed = false;
  #endAfterRequest = false;
  #version = 0;
  #authed = false;
  #authFailures = 0;
  readonly #streams = new Map<bigint, readonly EventFilter[]>();
  #monitor: { seq: bigint; stop: () => void } | null = null;
  readonly #pendingQueries = new Map<bigint, ReceivedQuery>();
  #nextQueryId = 0n;
  readonly #running = new Set<AbortController>();
  #drainSince: number | null = null;
  #shutdownTimer: NodeJS.Timeout | undefined;

  constructor(rpc: RpcServer, socket: Socket) {
    this.#rpc = rpc;
    this.#socket = socket;
    this.name = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.#teardown());
    socket.on('close', () => this.#teardown());
    socket.on('drain', () => {
      this.#drainSince = null;
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /**
   * The server is closing: end once the request in hand (if any) is answered, and at the latest
   * after SHUTDOWN_GRACE_MS, so no client keeps the agent's process alive.
   */
  shutdown(): void {
    this.#endAfterRequest = true;
    if (!this.#busy) return this.#end();
    this.#shutdownTimer = setTimeout(() => this.#drop('agent shutting down', 'debug'), SHUTDOWN_GRACE_MS);
  }

  checkDeadlines(now: number): void {
    if (this.#closed) return;
    const b = this.#rpc.budgets;
    if (!this.#ready && now - this.#connectedAt > b.handshakeTimeoutMs) return this.#drop('no handshake in time');
    if (!this.#busy && this.#partialSince !== null && now - this.#partialSince > b.requestTimeoutMs)
      return this.#drop('request not completed in time');
    if (this.#drainSince !== null && now - this.#drainSince > b.drainTimeoutMs) return this.#drop('not reading its responses');
    const active = this.#busy || this.#streams.size > 0 || this.#monitor !== null || this.#running.size > 0;
    if (!active && now - this.#lastActivity > b.idleTimeoutMs) this.#drop('idle');
  }

  get #ready(): boolean {
    return this.#version !== 0 && (this.#rpc.authKey === undefined || this.#authed);
  }

  /** Ends the connection once what was written to it is flushed. */
  #end(): void {
    if (this.#closed) return;
    this.#socket.destroySoon();
    this.#teardown();
  }

  /** Closes the connection, with a log line saying why. */
  #drop(reason: string, level: 'debug' | 'warn' = 'warn'): void {
    if (this.#closed) return;
    this.#rpc.logDrop(this.name, reason, level);
    this.#socket.destroy();
    this.#teardown();
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#shutdownTimer);
    this.#monitor?.stop();
    this.#monitor = null;
    this.#streams.clear();
    this.#pendingQueries.clear();
    for (const c of this.#running) c.abort();
    this.#running.clear();
    this.#buffer = Buffer.alloc(0);
    this.#rpc.forgetConnection(this);
  }

  // ---- reading ---------------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#lastActivity = performance.now();
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (this.#buffer.length > this.#rpc.budgets.maxBufferedInBytes && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    void this.#pump();
  }

  /** Takes requests off the buffer one at a time; each is answered before the next is read. */
  async #pump(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      for (;;) {
        if (this.#closed) return;
        if (this.#endAfterRequest) return this.#end();
        const object = this.#nextObject();
        if (object === undefined) break;
        await this.#onObject(object);
        this.#lastActivity = performance.now();
        if (this.#socket.writableLength > this.#rpc.budgets.maxBufferedOutBytes) await this.#drained();
      }
    } catch (err) {
      if (err instanceof ClientGone) return;
      if (err instanceof BudgetExceededError) this.#drop(err.message);
      else if (err instanceof DecodeError) this.#drop(`malformed request: ${err.message}`);
      else {
        this.#rpc.log.error({ err, client: this.name }, 'RPC request failed');
        this.#drop('internal error');
      }
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#closed) return;
    if (this.#endAfterRequest) return this.#end();
    // A request begun (bytes of it, or a header awaiting its body) must arrive whole in time,
    // however slowly its bytes trickle in.
    if (this.#buffer.length > 0 || this.#awaitingBody !== null) this.#partialSince ??= performance.now();
    if (this.#paused && this.#buffer.length <= this.#rpc.budgets.maxBufferedInBytes) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  /** The next complete msgpack object, or undefined until more bytes arrive. */
  #nextObject(): MsgValue | undefined {
    const b = this.#rpc.budgets;
    const end = objectEnd(this.#buffer, 0, b.maxObjectBytes, b.maxObjectElements);
    if (end === null) return undefined;
    const bytes = this.#buffer.subarray(0, end);
    this.#buffer = this.#buffer.subarray(end);
    if (this.#buffer.length === 0) this.#buffer = Buffer.alloc(0);
    return decodeObject(bytes, b.maxObjectElements);
  }

  #drained(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#drainSince = performance.now();
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  async #onObject(object: MsgValue): Promise<void> {
    const pending = this.#awaitingBody;
    if (pending !== null) {
      this.#awaitingBody = null;
      return this.#dispatch(pending, asMap(object, `${pending.command} request`));
    }
    const header = asMap(object, 'request header');
    const request: Request = { command: str(header, 'Command'), seq: u64(header, 'Seq') };
    const { command, seq } = request;
    // Serf answers these from the header alone, before reading any body.
    if (command !== 'handshake' && this.#version === 0) {
      this.#send(seq, Errors.handshakeRequired);
      return this.#end();
    }
    if (!COMMANDS_WITH_BODY.has(command) && !COMMANDS_WITHOUT_BODY.has(command)) {
      // Serf checks auth before the command; either way we cannot tell where a body would end.
      const unauthenticated = this.#rpc.authKey !== undefined && !this.#authed && command !== 'auth';
      this.#send(seq, unauthenticated ? Errors.authRequired : Errors.unsupportedCommand);
      return this.#end();
    }
    if (COMMANDS_WITH_BODY.has(command)) {
      this.#awaitingBody = request;
      return;
    }
    return this.#dispatch(request, null);
  }

  // ---- writing ---------------------------------------------------------------------------------

  /** A response: the header, then the body if the command has one. */
  #send(seq: bigint, error: string, body?: (w: GoRpcWriter) => void): void {
    if (this.#closed) return;
    const w = writeHeader(new GoRpcWriter(), seq, error);
    body?.(w);
    this.#socket.write(w.finish());
  }

  /** A stream, monitor or query record; a client that has stopped reading is dropped instead. */
  #record(seq: bigint, body: (w: GoRpcWriter) => void): boolean {
    if (this.#closed) return false;
    if (this.#socket.writableLength > this.#rpc.budgets.maxBufferedOutBytes) {
      this.#drop(`too slow: over ${this.#rpc.budgets.maxBufferedOutBytes} bytes unread`);
      return false;
    }
    this.#send(seq, '', body);
    return true;
  }

  // ---- events from the node --------------------------------------------------------------------

  memberEvent(event: MemberEventName, m: Member): void {
    for (const [seq, filters] of this.#streams)
      if (filterAdmits(filters, event, '')) this.#record(seq, (w) => writeMemberEvent(w, event, [m]));
  }

  userEvent(e: { ltime: bigint; name: string; payload: Uint8Array; coalesce: boolean }): void {
    for (const [seq, filters] of this.#streams) if (filterAdmits(filters, 'user', e.name)) this.#record(seq, (w) => writeUserEvent(w, e));
  }

  /** Each stream that takes it gets the query under a new ID that `respond` answers (Serf's RegisterQuery). */
  queryEvent(q: ReceivedQuery): void {
    for (const [seq, filters] of this.#streams) {
      if (!filterAdmits(filters, 'query', q.name)) continue;
      const id = ++this.#nextQueryId;
      this.#registerQuery(id, q);
      this.#record(seq, (w) => writeQueryEvent(w, id, q));
    }
  }

  #registerQuery(id: bigint, q: ReceivedQuery): void {
    const now = performance.now();
    for (const [key, pending] of this.#pendingQueries) {
      if (pending.deadlineMs >= now && this.#pendingQueries.size < this.#rpc.budgets.maxPendingQueries) break;
      this.#pendingQueries.delete(key);
    }
    if (q.deadlineMs >= now) this.#pendingQueries.set(id, q);
  }

  // ---- commands --------------------------------------------------------------------------------

  async #dispatch(req: Request, body: MsgMap | null): Promise<void> {
    const { command, seq } = req;
    this.#partialSince = null;
    if (command === 'handshake') return this.#handshake(seq, body!);
    if (command === 'auth') return this.#auth(seq, body!);
    if (this.#rpc.authKey !== undefined && !this.#authed) {
      this.#rpc.log.warn({ client: this.name, command }, 'RPC client sending commands before auth');
      return this.#send(seq, Errors.authRequired);
    }
    const node = this.#rpc.node;
    switch (command) {
      case 'members':
        return this.#send(seq, '', (w) => writeMembers(w, node.members()));
      case 'members-filtered':
        return this.#membersFiltered(seq, body!);
      case 'event': {
        const [name, payload, coalesce] = [str(body!, 'Name'), bytes(body!, 'Payload') ?? new Uint8Array(0), bool(body!, 'Coalesce')];
        return this.#send(
          seq,
          attempt(() => node.userEvent(name, payload, { coalesce })),
        );
      }
      case 'tags':
        return this.#tags(seq, body!);
      case 'force-leave':
        return this.#forceLeave(seq, body!);
      case 'join':
        return this.#join(seq, body!);
      case 'leave':
        return this.#leave(seq);
      case 'stream':
        return this.#stream(seq, body!);
      case 'monitor':
        return this.#startMonitor(seq, body!);
      case 'stop':
        return this.#stop(seq, body!);
      case 'query':
        return this.#query(seq, body!);
      case 'respond':
        return this.#respond(seq, body!);
      case 'install-key':
      case 'use-key':
      case 'remove-key': {
        const key = str(body!, 'Key');
        const { error, result } = await this.#keyOp(command, key);
        return this.#send(seq, error, (w) => writeKeyResponse(w, result));
      }
      case 'list-keys': {
        const { error, result } = await this.#keyOp('list-keys', '');
        return this.#send(seq, error, (w) => writeKeyResponse(w, result));
      }
      case 'stats':
        return this.#send(seq, '', (w) => writeStats(w, stats(node)));
      case 'get-coordinate':
        str(body!, 'Node');
        return this.#send(seq, '', writeNoCoordinate);
    }
  }

  #handshake(seq: bigint, body: MsgMap): void {
    const version = body.get('Version');
    if (typeof version !== 'number' && typeof version !== 'bigint' && version !== undefined && version !== null)
      throw new DecodeError('Version is not an integer', 'field');
    if (version !== IPC_VERSION) return this.#send(seq, Errors.unsupportedIPCVersion);
    if (this.#version !== 0) return this.#send(seq, Errors.duplicateHandshake);
    this.#version = IPC_VERSION;
    this.#send(seq, '');
  }

  #auth(seq: bigint, body: MsgMap): void {
    const given = str(body, 'AuthKey');
    const key = this.#rpc.authKey;
    // Serf compares to its key even when it has none: only '' passes then.
    if (sameSecret(given, key ?? '')) {
      this.#authed = true;
      return this.#send(seq, '');
    }
    this.#send(seq, Errors.invalidAuthToken);
    if (++this.#authFailures >= this.#rpc.budgets.maxAuthFailures) this.#drop('too many failed auth attempts');
  }

  #membersFiltered(seq: bigint, body: MsgMap): void {
    const tagsValue = body.get('Tags');
    const tagExprs = tagsValue === undefined || tagsValue === null ? new Map<string, MsgValue>() : asMap(tagsValue, 'Tags');
    const compile = (expr: string): RegExp => {
      const re = compileTagExpr(`^${expr}$`);
      if (re === null) throw new Error(`Failed to compile regex: ${JSON.stringify(expr)} is not a regular expression swimring runs`);
      return re;
    };
    let members: Member[];
    try {
      const tags = [...tagExprs].map(([tag, expr]) => {
        if (!(expr instanceof Uint8Array)) throw new DecodeError('a tag filter is not a string', 'field');
        return [tag, compile(text(expr))] as const;
      });
      const status = str(body, 'Status');
      const name = str(body, 'Name');
      const statusRe = compile(status);
      const nameRe = compile(name);
      members = this.#rpc.node
        .members()
        .filter(
          (m) =>
            tags.every(([tag, re]) => re.test(m.tags[tag] ?? '')) &&
            (status === '' || statusRe.test(m.status)) &&
            (name === '' || nameRe.test(m.name)),
        );
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      return this.#send(seq, (err as Error).message, (w) => writeMembers(w, []));
    }
    this.#send(seq, '', (w) => writeMembers(w, members));
  }

  /** Serf's handleTags: our tags, less DeleteTags, plus Tags. */
  #tags(seq: bigint, body: MsgMap): void {
    const add = body.get('Tags');
    const del = body.get('DeleteTags');
    const next: Record<string, string> = {};
    const deleting = new Set<string>();
    if (del !== undefined && del !== null) {
      if (!Array.isArray(del)) throw new DecodeError('DeleteTags is not an array', 'field');
      for (const d of del) {
        if (!(d instanceof Uint8Array)) throw new DecodeError('a DeleteTags entry is not a string', 'field');
        deleting.add(text(d));
      }
    }
    for (const [k, v] of Object.entries(this.#rpc.node.tags)) if (!deleting.has(k)) next[k] = v;
    if (add !== undefined && add !== null) {
      for (const [k, v] of asMap(add, 'Tags')) {
        if (!(v instanceof Uint8Array)) throw new DecodeError('a tag value is not a string', 'field');
        next[k] = text(v);
      }
    }
    this.#send(
      seq,
      attempt(() => this.#rpc.node.setTags(next)),
    );
  }

  async #forceLeave(seq: bigint, body: MsgMap): Promise<void> {
    const name = str(body, 'Node');
    const prune = bool(body, 'Prune');
    this.#rpc.log.info({ member: name, prune }, 'force leaving a member (RPC)');
    let error = '';
    try {
      await this.#rpc.node.forceLeave(name, { prune });
    } catch (err) {
      error = message(err);
    }
    this.#send(seq, error);
  }

  async #join(seq: bigint, body: MsgMap): Promise<void> {
    const existing = body.get('Existing');
    const seeds: string[] = [];
    if (existing !== undefined && existing !== null) {
      if (!Array.isArray(existing)) throw new DecodeError('Existing is not an array', 'field');
      for (const s of existing) {
        if (!(s instanceof Uint8Array)) throw new DecodeError('an Existing entry is not a string', 'field');
        seeds.push(text(s));
      }
    }
    const replay = bool(body, 'Replay');
    this.#rpc.log.info({ seeds, replay }, 'joining (RPC)');
    const timeoutMs = this.#rpc.budgets.joinTimeoutMs;
    // As in Serf, a join runs to its end even if the client goes away meanwhile.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let num = 0;
    let error = '';
    try {
      num = await this.#rpc.join(seeds, controller.signal);
    } catch (err) {
      error = controller.signal.aborted
        ? `Failed to join ${seeds.join(', ')}: no seed answered within ${timeoutMs / 1000} s`
        : message(err);
      this.#rpc.log.warn({ seeds, error }, 'RPC join failed');
    } finally {
      clearTimeout(timer);
    }
    this.#send(seq, error, (w) => w.mapHeader(1).text('Num').int(num));
  }

  /** Serf's handleLeave: leave gracefully, answer, then the agent shuts down. */
  async #leave(seq: bigint): Promise<void> {
    this.#rpc.log.info({ client: this.name }, 'graceful leave triggered (RPC)');
    let error = '';
    try {
      await this.#rpc.leave();
    } catch (err) {
      error = message(err);
    }
    this.#send(seq, error);
    this.#endAfterRequest = true;
  }

  #stream(seq: bigint, body: MsgMap): void {
    const filters = parseEventFilter(str(body, 'Type'));
    if (filters === null) return this.#send(seq, Errors.invalidFilter);
    if (this.#streams.has(seq)) return this.#send(seq, Errors.streamExists);
    if (this.#streams.size >= this.#rpc.budgets.maxStreams)
      return this.#send(seq, `Too many streams on this connection (at most ${this.#rpc.budgets.maxStreams})`);
    this.#send(seq, '');
    this.#streams.set(seq, filters);
  }

  #startMonitor(seq: bigint, body: MsgMap): void {
    const level = str(body, 'LogLevel').toUpperCase();
    if (!Object.hasOwn(SERF_LOG_LEVELS, level)) return this.#send(seq, `Unknown log level: ${level}`);
    if (this.#monitor !== null) return this.#send(seq, Errors.monitorExists);
    this.#send(seq, '');
    const monitor = { seq, stop: () => {} };
    this.#monitor = monitor;
    const logs = this.#rpc.logs;
    if (logs !== undefined) {
      const unsubscribe = logs.subscribe(level as SerfLogLevel, (line) => {
        if (this.#monitor === monitor) this.#record(seq, (w) => writeLogRecord(w, line));
      });
      monitor.stop = unsubscribe;
      if (this.#closed || this.#monitor !== monitor) unsubscribe();
    }
  }

  #stop(seq: bigint, body: MsgMap): void {
    const target = u64(body, 'Stop');
    if (this.#monitor !== null && this.#monitor.seq === target) {
      this.#monitor.stop();
      this.#monitor = null;
    }
    this.#streams.delete(target);
    this.#send(seq, '');
  }

  async #query(seq: bigint, body: MsgMap): Promise<void> {
    const name = str(body, 'Name');
    const payloadField = bytes(body, 'Payload');
    const filters: QueryFilter[] = [];
    const nodes = body.get('FilterNodes');
    if (nodes !== undefined && nodes !== null) {
      if (!Array.isArray(nodes)) throw new DecodeError('FilterNodes is not an array', 'field');
      const names = nodes.map((n) => {
        if (!(n instanceof Uint8Array)) throw new DecodeError('a FilterNodes entry is not a string', 'field');
        return text(n);
      });
      if (names.length > 0) filters.push({ type: 'node', names });
    }
    const tags = body.get('FilterTags');
    if (tags !== undefined && tags !== null) {
      for (const [tag, expr] of asMap(tags, 'FilterTags')) {
        if (!(expr instanceof Uint8Array)) throw new DecodeError('a FilterTags value is not a string', 'field');
        filters.push({ type: 'tag', tag, expr: text(expr) });
      }
    }
    const requestAck = bool(body, 'RequestAck');
    const relayFactor = Number(u64(body, 'RelayFactor'));
    const timeoutNs = body.get('Timeout');
    if (timeoutNs !== undefined && timeoutNs !== null && typeof timeoutNs !== 'number' && typeof timeoutNs !== 'bigint')
      throw new DecodeError('Timeout is not an integer', 'field');
    const ns = timeoutNs === undefined || timeoutNs === null ? 0 : Number(timeoutNs);
    if (name.startsWith(INTERNAL_PREFIX) && (name !== `${INTERNAL_PREFIX}ping` || payloadField !== null)) {
      return this.#send(seq, `Queries cannot contain the '${INTERNAL_PREFIX}' prefix`);
    }
    if (this.#running.size >= this.#rpc.budgets.maxRunningQueries)
      return this.#send(seq, `Too many queries running on this connection (at most ${this.#rpc.budgets.maxRunningQueries})`);
    const controller = new AbortController();
    let replies: AsyncGenerator<QueryReply, void, undefined>;
    let first: Promise<IteratorResult<QueryReply, void>>;
    try {
      replies = this.#rpc.node.query(name, payloadField ?? new Uint8Array(0), {
        filters,
        requestAck,
        relayFactor,
        ...(ns > 0 ? { timeoutMs: Math.max(1, Math.ceil(ns / 1e6)) } : {}),
        signal: controller.signal,
      });
      // The generator checks its arguments and starts the query on its first step.
      first = replies.next();
    } catch (err) {
      return this.#send(seq, message(err));
    }
    let outcome: { value: IteratorResult<QueryReply, void> } | { error: unknown } | null = null;
    first.then(
      (value) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    const settled = outcome as { value: IteratorResult<QueryReply, void> } | { error: unknown } | null;
    if (settled !== null && 'error' in settled) return this.#send(seq, message(settled.error));
    this.#send(seq, '');
    this.#running.add(controller);
    if (this.#closed) controller.abort(); // the client left while the query started
    void (async () => {
      try {
        let step = settled ?? { value: await first };
        while (!this.#closed && 'value' in step && !step.value.done) {
          if (!this.#record(seq, (w) => writeQueryRecord(w, step.value.value as QueryReply))) return;
          step = { value: await replies.next() };
        }
        this.#record(seq, (w) => writeQueryRecord(w, null));
      } catch (err) {
        if (!this.#closed) this.#rpc.log.warn({ err, client: this.name, query: name }, 'RPC query stream failed');
      } finally {
        this.#running.delete(controller);
        controller.abort();
        void replies.return();
      }
    })();
  }

  #respond(seq: bigint, body: MsgMap): void {
    const id = u64(body, 'ID');
    const payload = bytes(body, 'Payload') ?? new Uint8Array(0);
    const q = this.#pendingQueries.get(id);
    if (q === undefined || performance.now() > q.deadlineMs) {
      this.#pendingQueries.delete(id);
      return this.#send(seq, Errors.invalidQueryID);
    }
    let error = '';
    try {
      if (!q.respond(payload)) error = performance.now() > q.deadlineMs ? 'response is past the deadline' : 'response already sent';
    } catch (err) {
      error = message(err);
    }
    this.#send(seq, error);
  }

  /** Serf's keyManager.handleKeyRequest: ask everyone through `_serf_<op>` and tally the answers. */
  async #keyOp(op: string, keyBase64: string): Promise<{ error: string; result: KeyResult }> {
    const result: KeyResult = { messages: new Map(), keys: op === 'list-keys' ? new Map() : null, numNodes: 0, numResp: 0, numErr: 0 };
    const raw = decodeBase64(keyBase64);
    if (typeof raw === 'string') return { error: raw, result };
    const node = this.#rpc.node;
    this.#rpc.log.info({ op }, 'key operation (RPC)');
    const controller = new AbortController();
    this.#running.add(controller);
    try {
      const replies = node.query(`${INTERNAL_PREFIX}${op}`, encodeKeyRequest(raw), { signal: controller.signal });
      // memberlist's NumMembers: the members not dead or left.
      result.numNodes = node.members().filter((m) => m.status === 'alive' || m.status === 'leaving').length;
      for await (const reply of replies) {
        if (reply.type !== 'response') continue;
        result.numResp++;
        tallyKeyResponse(result, reply.from, reply.payload);
        if (result.numResp === result.numNodes) break;
      }
    } catch (err) {
      if (this.#closed) throw new ClientGone();
      return { error: message(err), result };
    } finally {
      this.#running.delete(controller);
      controller.abort();
    }
    if (this.#closed) throw new ClientGone();
    if (result.numErr !== 0) return { error: `${result.numErr}/${result.numNodes} nodes reported failure`, result };
    if (result.numResp !== result.numNodes) return { error: `${result.numResp}/${result.numNodes} nodes reported success`, result };
    return { error: '', result };
  }
}

/** Serf's streamKeyResp for one answer. */
function tallyKeyResponse(result: KeyResult, from: string, payload: Uint8Array): void {
  const goBytes = `[${[...payload].join(' ')}]`;
  if (payload.length < 1 || payload[0] !== SerfType.keyResponse) {
    result.messages.set(from, `Invalid key query response type: ${goBytes}`);
    result.numErr++;
    return;
  }
  let r;
  try {
    r = decodeKeyResponse(payload);
  } catch {
    result.messages.set(from, `Failed to decode key query response: ${goBytes}`);
    result.numErr++;
    return;
  }
  if (!r.result) {
    result.messages.set(from, r.message);
    result.numErr++;
  }
  if (result.keys !== null) for (const k of r.keys) result.keys.set(k, (result.keys.get(k) ?? 0) + 1);
}

/**
 * Go's base64.StdEncoding.DecodeString: the bytes, or Go's error text (its CorruptInputError
 * offsets, quantum by quantum, newlines skipped), which `serf keys` prints.
 */
export function decodeBase64(s: string): Uint8Array | string {
  const src = Buffer.from(s, 'latin1');
  const alphabet = /[A-Za-z0-9+/]/;
  const isNewline = (c: number) => c === 0x0a || c === 0x0d;
  const corrupt = (at: number) => `illegal base64 data at input byte ${at}`;
  let si = 0;
  while (si < src.length) {
    let j = 0;
    for (; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) break;
        return corrupt(si - j);
      }
      const c = src[si++]!;
      if (alphabet.test(String.fromCharCode(c))) continue;
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== 0x3d) return corrupt(si - 1);
      // Padding: only after two or three symbols, "==" after two; then nothing but newlines.
      if (j < 2) return corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && isNewline(src[si]!)) si++;
        if (si === src.length) return corrupt(src.length);
        if (src[si] !== 0x3d) return corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si]!)) si++;
      if (si < src.length) return corrupt(si);
      break;
    }
  }
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function stats(node: GossipNode): Record<string, Record<string, string>> {
  const members = node.members();
  const count = (status: string) => String(members.filter((m) => m.status === status).length);
  const clocks = node.lamportTimes;
  return {
    agent: { name: node.name },
    runtime: {
      os: process.platform,
      arch: GO_ARCH[process.arch] ?? process.arch,
      version: `node${process.versions.node}`,
      max_procs: String(availableParallelism()),
      cpu_count: String(cpus().length),
    },
    serf: {
      members: String(members.length),
      failed: count('failed'),
      left: count('left'),
      health_score: String(node.healthScore),
      member_time: String(clocks.member),
      event_time: String(clocks.event),
      query_time: String(clocks.query),
      encrypted: String(node.keyring !== null),
    },
    tags: { ...node.tags },
    event_handlers: {},
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given === expected;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** '' when `fn` succeeds, else its error's message (a response's Error). */
function attempt(fn: () => void): string {
  try {
    fn();
    return '';
  } catch (err) {
    return message(err);
  }
}
