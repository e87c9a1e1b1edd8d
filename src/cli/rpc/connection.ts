/**
 * One client of the agent's Serf RPC (see server.ts for the protocol and its budgets): framing,
 * handshake and auth, deadlines, and one handler per command; its queries are in query-session.ts.
 */
import { decodeBase64, emptyKeyResult, keyQuery } from './keys.js';
import type { DropKind } from '../drop-log-limit.js';
import type { RpcServer } from './server.js';
import { stats } from './stats.js';
import { timingSafeEqual, createHash } from 'node:crypto';
import { type Socket } from 'node:net';
import { asMap, bool, bytes, str, u64 } from '../../gossip/codec/fields.js';
import { BudgetExceededError, DecodeError, text, type MsgMap, type MsgValue } from '../../gossip/codec/msgpack.js';
import type { Member, ReceivedQuery } from '../../io/gossip-node.js';
import { compileTagExpr } from '../../serf/query-filters.js';
import { GoRpcWriter, decodeObject, objectEnd } from './codec.js';
import { SERF_LOG_LEVELS, type SerfLogLevel } from './log-hub.js';
import { QuerySession, message } from './query-session.js';
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
  writeStats,
  writeUserEvent,
} from './protocol.js';

/** How long a connection busy with a request may delay the agent's shutdown. */
const SHUTDOWN_GRACE_MS = 5000;

interface Request {
  readonly command: string;
  readonly seq: bigint;
}

class ClientGone extends Error {}

export class RpcConnection {
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
  readonly #running = new Set<AbortController>();
  readonly #queries: QuerySession;
  #drainSince: number | null = null;
  #shutdownTimer: NodeJS.Timeout | undefined;

  constructor(rpc: RpcServer, socket: Socket) {
    this.#rpc = rpc;
    this.#socket = socket;
    this.name = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#queries = new QuerySession(rpc, {
      name: this.name,
      closed: () => this.#closed,
      running: this.#running,
      send: (seq, error, body) => this.#send(seq, error, body),
      record: (seq, body) => this.#record(seq, body),
    });
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
    this.#shutdownTimer = setTimeout(() => this.#drop('shutdown', 'agent shutting down', 'debug'), SHUTDOWN_GRACE_MS);
  }

  checkDeadlines(now: number): void {
    if (this.#closed) return;
    const b = this.#rpc.budgets;
    if (!this.#ready && now - this.#connectedAt > b.handshakeTimeoutMs) return this.#drop('deadline', 'no handshake in time');
    if (!this.#busy && this.#partialSince !== null && now - this.#partialSince > b.requestTimeoutMs)
      return this.#drop('deadline', 'request not completed in time');
    if (this.#drainSince !== null && now - this.#drainSince > b.drainTimeoutMs) return this.#drop('slow', 'not reading its responses');
    const active = this.#busy || this.#streams.size > 0 || this.#monitor !== null || this.#running.size > 0;
    if (!active && now - this.#lastActivity > b.idleTimeoutMs) this.#drop('deadline', 'idle');
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
  #drop(kind: DropKind, reason: string, level: 'debug' | 'warn' = 'warn'): void {
    if (this.#closed) return;
    this.#rpc.logDrop(this.name, kind, reason, level);
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
    this.#queries.clear();
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
      if (err instanceof BudgetExceededError) this.#drop('budget', err.message);
      else if (err instanceof DecodeError) this.#drop('malformed', `malformed request: ${err.message}`);
      else {
        this.#rpc.log.error({ err, client: this.name }, 'RPC request failed');
        this.#drop('internal', 'internal error');
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
      this.#drop('slow', `too slow: over ${this.#rpc.budgets.maxBufferedOutBytes} bytes unread`);
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
      const id = this.#queries.register(q);
      this.#record(seq, (w) => writeQueryEvent(w, id, q));
    }
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
        return this.#queries.query(seq, body!);
      case 'respond':
        return this.#queries.respond(seq, body!);
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
        return this.#send(seq, '', (w) => writeStats(w, stats(node, this.#rpc.eventScripts)));
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
    if (++this.#authFailures >= this.#rpc.budgets.maxAuthFailures) this.#drop('auth', 'too many failed auth attempts');
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

  /** A key operation across the cluster (keys.ts), cancelled if this client goes away. */
  async #keyOp(op: string, keyBase64: string): Promise<{ error: string; result: KeyResult }> {
    const raw = decodeBase64(keyBase64);
    if (typeof raw === 'string')
      return {
        error: raw,
        result: emptyKeyResult(op),
      };
    this.#rpc.log.info({ op }, 'key operation (RPC)');
    const controller = new AbortController();
    this.#running.add(controller);
    try {
      const answer = await keyQuery(this.#rpc.node, op, raw, controller.signal);
      if (this.#closed) throw new ClientGone();
      return answer;
    } catch (err) {
      if (this.#closed) throw new ClientGone();
      if (err instanceof ClientGone) throw err;
      return {
        error: message(err),
        result: emptyKeyResult(op),
      };
    } finally {
      this.#running.delete(controller);
      controller.abort();
    }
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given === expected;
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
