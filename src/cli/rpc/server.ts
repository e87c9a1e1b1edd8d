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
import { RpcConnection } from './connection.js';
import { type Server, type Socket, createServer } from 'node:net';
import type { Logger } from 'pino';
import type { EventScript } from '../event-handlers.js';
import { DEFAULT_ELEMENT_BUDGET } from '../../gossip/codec/msgpack.js';
import type { GossipNode, Member, ReceivedQuery } from '../../io/gossip-node.js';
import { type LogHub } from './log-hub.js';
import { type DropKind, DropLogLimit } from '../drop-log-limit.js';

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
  /** The agent's event handlers, as `serf info` lists them. */
  eventScripts?: readonly EventScript[];
  budgets?: Partial<RpcBudgets>;
}

/** Dropped clients of one kind logged per second at most. */
const DROP_LOGS_PER_SECOND = 10;

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
  readonly #dropLogLimit = new DropLogLimit(DROP_LOGS_PER_SECOND);

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

  get eventScripts(): readonly EventScript[] {
    return this.#options.eventScripts ?? [];
  }

  leave(): Promise<void> {
    return this.#options.leave ? this.#options.leave() : this.node.leave();
  }

  forgetConnection(c: RpcConnection): void {
    this.#connections.delete(c);
  }

  /**
   * Logs a dropped client: at most DROP_LOGS_PER_SECOND lines a second per kind (the rest counted
   * in the next line of that kind), and deferred, since a drop can happen while the log hub
   * delivers a line to it.
   */
  logDrop(client: string, kind: DropKind, reason: string, level: 'debug' | 'warn'): void {
    const admitted = this.#dropLogLimit.admit(kind, performance.now());
    if (admitted === null) return;
    const unlogged = admitted.unloggedBefore;
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
