/**
 * The agent's event handlers (`--event-handler [filter=]script`), run as Serf's agent runs them
 * (cmd/serf/command/agent/event_handler.go and invoke.go):
 *
 * - Filters: `member-join`, `member-leave`, `member-failed`, `member-update`, `member-reap`,
 *   `user`, `user:NAME`, `query`, `query:NAME`, `*`, or a comma-separated list of them; no
 *   filter (no `=`) is `*`. A list is one handler per entry, as Serf expands it, so an event
 *   that two entries match runs the script twice (`member-join,*=x`). Anything else is refused.
 * - The script runs as `/bin/sh -c script` with the inherited environment plus SERF_EVENT,
 *   SERF_SELF_NAME, SERF_SELF_ROLE (our `role` tag), SERF_TAG_<KEY> per tag of ours (the key
 *   upper-cased, every character outside [A-Z0-9_] then replaced by `_`), and SERF_USER_EVENT /
 *   SERF_USER_LTIME or SERF_QUERY_NAME / SERF_QUERY_LTIME.
 * - stdin: for member events one line per member, `name\taddress\trole\ttags` (address without
 *   port; tags `k=v,k2=v2`, sorted here, in map order in Serf; tabs and newlines in the name,
 *   role and tags written as `\t` and `\n`); for user events and queries the payload, with a
 *   newline appended when it does not end in one.
 * - Output: stdout and stderr are one stream (the script's fd 2 is its fd 1, as Go's exec does
 *   when both are the same writer). For a query, when the script exits 0 with some output, that
 *   output is the response; one whose encoded message exceeds the node's
 *   queryResponseSizeLimitBytes (1024 by default) is refused, not truncated, as Serf refuses it.
 *
 * - Events: our own member-join at start (as Serf's agent), then the node's events. Serf's agent
 *   coalesces member events (3 s / 1 s) and so may pass several members in one run; here each
 *   run has one member (a script reading lines handles both).
 *
 * Beyond Serf, which waits on a handler for ever: events wait in a bounded queue (the oldest
 * dropped, counted, past MAX_QUEUED_EVENTS) and run one at a time in order; a handler still
 * running at its timeout is killed with its process group (a query's at the query's deadline,
 * others after `timeoutMs`, default 5 minutes); a background process the script left holding
 * its output is not waited for (OUTPUT_GRACE_MS); captured output is bounded (the last
 * MAX_OUTPUT_BYTES kept); a failure is logged and never reaches gossip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { GossipNode } from '../io/gossip-node.js';
import { monotonicNowMs } from '../io/random.js';
import { encodeQueryResponse } from '../serf/messages.js';
import { parseDuration } from './duration.js';
import { UsageError } from './usage.js';

export const MEMBER_EVENT_TYPES = ['member-join', 'member-leave', 'member-failed', 'member-update', 'member-reap'] as const;
export type MemberEventType = (typeof MEMBER_EVENT_TYPES)[number];
/** SERF_EVENT's values. */
export type HandlerEventType = MemberEventType | 'user' | 'query';

/** Events waiting for their handlers; past this the oldest is dropped (and counted). */
export const MAX_QUEUED_EVENTS = 1024;
/** Output (stdout and stderr together) kept per run: the last 64 KiB; the rest is discarded. */
export const MAX_OUTPUT_BYTES = 64 * 1024;
/** Default timeout of a handler for a member or user event (a query's is its deadline). */
export const DEFAULT_HANDLER_TIMEOUT_MS = 5 * 60_000;
/** Serf warns about a handler still running after this long. */
export const SLOW_HANDLER_MS = 1000;
/** Once the script has exited, how long its output may stay open (held by a background process). */
const OUTPUT_GRACE_MS = 1000;
/** Output quoted in a log line. */
const LOG_EXCERPT_BYTES = 1024;
const SHELL = '/bin/sh';

export interface EventFilter {
  /** '*' matches every event. */
  readonly event: HandlerEventType | '*';
  /** For `user` and `query`: only this name; '' is any name. */
  readonly name: string;
}

export interface EventScript {
  readonly filter: EventFilter;
  readonly script: string;
}

const FILTER_EVENTS: ReadonlySet<string> = new Set([...MEMBER_EVENT_TYPES, 'user', 'query', '*']);

/** One `--event-handler` value, `[filter=]script`: one EventScript per filter in the list. */
export function parseEventHandler(value: string): EventScript[] {
  const eq = value.indexOf('=');
  const filters = eq < 0 ? '' : value.slice(0, eq);
  const script = eq < 0 ? value : value.slice(eq + 1);
  return (filters === '' ? '*' : filters).split(',').map((entry) => {
    let event = entry;
    let name = '';
    if (entry.startsWith('user:')) [event, name] = ['user', entry.slice('user:'.length)];
    else if (entry.startsWith('query:')) [event, name] = ['query', entry.slice('query:'.length)];
    if (!FILTER_EVENTS.has(event)) {
      throw new UsageError(
        `--event-handler has an invalid event filter ${JSON.stringify(entry)} in ${JSON.stringify(value)}: use ` +
          'member-join, member-leave, member-failed, member-update, member-reap, user, user:NAME, query, query:NAME, * or a comma-separated list',
      );
    }
    return { filter: { event: event as EventFilter['event'], name }, script };
  });
}

/** A member as a handler sees it. */
export interface HandlerMember {
  readonly name: string;
  readonly host: string;
  readonly tags: Readonly<Record<string, string>>;
}

export type HandlerEvent =
  | { readonly type: MemberEventType; readonly members: readonly HandlerMember[] }
  | { readonly type: 'user'; readonly name: string; readonly ltime: bigint; readonly payload: Uint8Array }
  | {
      readonly type: 'query';
      readonly name: string;
      readonly ltime: bigint;
      readonly id: number;
      readonly payload: Uint8Array;
      /** On monotonicNowMs's clock. */
      readonly deadlineMs: number;
      respond(payload: Uint8Array): boolean;
    };

export function filterMatches(filter: EventFilter, event: HandlerEvent): boolean {
  if (filter.event === '*') return true;
  if (filter.event !== event.type) return false;
  if ((event.type === 'user' || event.type === 'query') && filter.name !== '') return filter.name === event.name;
  return true;
}

/**
 * A tag key as Serf names its variable: upper-cased (Go's one-rune-to-one-rune mapping, so `ı`
 * becomes `I` but `ß` stays), then every character outside [A-Z0-9_] is one `_`.
 */
export function tagEnvName(key: string): string {
  let out = '';
  for (const ch of key) {
    const upper = ch.toUpperCase();
    const mapped = [...upper].length === 1 ? upper : ch;
    out += /^[A-Z0-9_]$/.test(mapped) ? mapped : '_';
  }
  return out;
}

export interface HandlerSelf {
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
}

function sortedEntries(tags: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The script's environment: the inherited one, then Serf's variables (which win over inherited
 * ones of the same name). Two keys that name the same variable (`a-b`, `a_b`): the later in
 * sorted order wins (in Serf, whichever its map yields last).
 */
export function handlerEnv(self: HandlerSelf, event: HandlerEvent, inherited: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(inherited)) if (v !== undefined) env[k] = v;
  env['SERF_EVENT'] = event.type;
  env['SERF_SELF_NAME'] = self.name;
  env['SERF_SELF_ROLE'] = self.tags['role'] ?? '';
  for (const [k, v] of sortedEntries(self.tags)) env[`SERF_TAG_${tagEnvName(k)}`] = v;
  if (event.type === 'user') {
    env['SERF_USER_EVENT'] = event.name;
    env['SERF_USER_LTIME'] = event.ltime.toString();
  } else if (event.type === 'query') {
    env['SERF_QUERY_NAME'] = event.name;
    env['SERF_QUERY_LTIME'] = event.ltime.toString();
  }
  return env;
}

function clean(text: string): string {
  return text.replaceAll('\t', '\\t').replaceAll('\n', '\\n');
}

/** One stdin line of a member event: `name\taddress\trole\ttags\n`. */
export function memberLine(m: HandlerMember): string {
  const tags = sortedEntries(m.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${clean(m.name)}\t${m.host}\t${clean(m.tags['role'] ?? '')}\t${clean(tags)}\n`;
}

/** What the script reads on stdin. */
export function handlerStdin(event: HandlerEvent): Buffer {
  if (event.type === 'user' || event.type === 'query') {
    const p = event.payload;
    return p.length > 0 && p[p.length - 1] !== 0x0a ? Buffer.concat([p, Buffer.from('\n')]) : Buffer.from(p);
  }
  return Buffer.from(event.members.map(memberLine).join(''), 'utf8');
}

function describeEvent(event: HandlerEvent): string {
  if (event.type === 'user' || event.type === 'query') return `${event.type}:${event.name}`;
  return `${event.type}:${event.members.map((m) => m.name).join(',')}`;
}

function excerpt(output: Buffer): string {
  return output.subarray(Math.max(0, output.length - LOG_EXCERPT_BYTES)).toString('utf8');
}

export interface EventHandlerRunnerOptions {
  readonly scripts: readonly EventScript[];
  readonly logger: Logger;
  /** Who runs the handlers (SERF_SELF_NAME, SERF_TAG_*); `attach` sets it to the node. */
  readonly self?: () => HandlerSelf;
  /** Kill a member or user event's handler after this long (default 5 minutes). */
  readonly timeoutMs?: number;
  readonly maxQueuedEvents?: number;
  readonly maxOutputBytes?: number;
  /** Largest encoded query response; `attach` takes the node's queryResponseSizeLimitBytes. */
  readonly responseLimitBytes?: number;
  /** The environment handlers inherit (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Handlers do not keep the process alive: when the agent is done (left, closed), it exits,
   * leaving a running handler running and discarding queued events, as Serf's agent does.
   */
  readonly unref?: boolean;
}

export interface EventHandlerStats {
  /** Handler runs finished (whatever their outcome). */
  runs: number;
  /** Exited non-zero, killed by a signal, or could not start. */
  failed: number;
  /** Killed at their timeout (not counted in `failed`). */
  timedOut: number;
  /** Query answers sent. */
  responses: number;
  /** Events dropped from a full queue. */
  dropped: number;
  /** Query handlers not started because the query's deadline had passed in the queue. */
  expired: number;
}

/** Runs the handlers for each event, one at a time, in the order the events came. */
export class EventHandlerRunner {
  readonly stats: EventHandlerStats = { runs: 0, failed: 0, timedOut: 0, responses: 0, dropped: 0, expired: 0 };
  readonly #scripts: readonly EventScript[];

  /** The handlers, one per filter (what `serf info` lists). */
  get scripts(): readonly EventScript[] {
    return this.#scripts;
  }
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #maxQueued: number;
  readonly #maxOutput: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #unref: boolean;
  #self: () => HandlerSelf;
  #responseLimit: number;
  readonly #queue: HandlerEvent[] = [];
  #running = false;
  #current: string | undefined;
  #idleWaiters: (() => void)[] = [];
  #lastDropWarnMs = -Infinity;

  constructor(options: EventHandlerRunnerOptions) {
    this.#scripts = options.scripts;
    this.#log = options.logger;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
    this.#maxQueued = options.maxQueuedEvents ?? MAX_QUEUED_EVENTS;
    this.#maxOutput = options.maxOutputBytes ?? MAX_OUTPUT_BYTES;
    this.#responseLimit = options.responseLimitBytes ?? 1024;
    this.#env = options.env ?? process.env;
    this.#unref = options.unref ?? false;
    this.#self = options.self ?? (() => ({ name: '', tags: {} }));
    if (this.#unref) {
      process.once('exit', () => {
        if (this.#queue.length > 0 || this.#current !== undefined) {
          this.#log.warn(
            { queued: this.#queue.length, running: this.#current },
            'exiting: queued events are not handled; a running handler is left running',
          );
        }
      });
    }
  }

  /** Events waiting (not counting the one being handled). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Feeds the node's events to the handlers: first our own member-join (Serf's agent sees its
   * own join at start), then the member events, user events and queries. A member-update that
   * changed neither address nor tags is not passed on: the node reports a member's alive ⇄
   * leaving status too, which Serf changes silently (its member-update is memberlist's, for a
   * new address or tags).
   */
  attach(node: GossipNode): this {
    this.#self = () => ({ name: node.name, tags: node.tags });
    this.#responseLimit = node.config.queryResponseSizeLimitBytes;
    const self = node.members().find((m) => m.name === node.name);
    if (self) this.push({ type: 'member-join', members: [self] });
    const fingerprint = (m: { host: string; port: number; tags: Readonly<Record<string, string>> }) =>
      JSON.stringify([m.host, m.port, sortedEntries(m.tags)]);
    const seen = new Map(node.members().map((m) => [m.name, fingerprint(m)]));
    for (const type of MEMBER_EVENT_TYPES) {
      node.on(type, (m) => {
        const before = seen.get(m.name);
        if (type === 'member-reap') seen.delete(m.name);
        else seen.set(m.name, fingerprint(m));
        if (type === 'member-update' && before === fingerprint(m)) return;
        this.push({ type, members: [m] });
      });
    }
    node.on('event', (e) => this.push({ type: 'user', name: e.name, ltime: e.ltime, payload: e.payload }));
    node.on('query', (q) =>
      this.push({
        type: 'query',
        name: q.name,
        ltime: q.ltime,
        id: q.id,
        payload: q.payload,
        deadlineMs: q.deadlineMs,
        respond: (p) => q.respond(p),
      }),
    );
    return this;
  }

  /** Queues an event for the handlers that match it (none match: ignored). */
  push(event: HandlerEvent): void {
    if (!this.#scripts.some((s) => filterMatches(s.filter, event))) return;
    if (this.#queue.length >= this.#maxQueued) {
      const dropped = this.#queue.shift()!;
      this.stats.dropped++;
      const now = monotonicNowMs();
      if (now - this.#lastDropWarnMs >= 1000) {
        this.#lastDropWarnMs = now;
        this.#log.warn(
          { event: describeEvent(dropped), droppedTotal: this.stats.dropped, maxQueued: this.#maxQueued },
          'event handler queue full: dropped the oldest event',
        );
      }
    }
    this.#queue.push(event);
    if (!this.#running) void this.#drain();
  }

  /** Resolves once the queue is empty and no handler runs. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    this.#running = true;
    for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) {
      for (const s of this.#scripts) {
        if (!filterMatches(s.filter, event)) continue;
        this.#current = s.script;
        await this.#invoke(s.script, event);
        this.#current = undefined;
      }
    }
    this.#running = false;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #invoke(script: string, event: HandlerEvent): Promise<void> {
    const what = describeEvent(event);
    let timeoutMs = this.#timeoutMs;
    if (event.type === 'query') {
      const left = Math.floor(event.deadlineMs - monotonicNowMs());
      if (left <= 0) {
        this.stats.expired++;
        this.#log.warn({ script, event: what }, 'query deadline passed while queued: handler not run');
        return Promise.resolve();
      }
      timeoutMs = Math.min(timeoutMs, left);
    }
    return new Promise<void>((resolve) => {
      let child: ChildProcess;
      try {
        const env = handlerEnv(this.#self(), event, this.#env);
        // `sh -c 'exec sh -c "$1" 2>&1'`: the script runs as `/bin/sh -c script` (argv[0] and
        // $0 /bin/sh, as Serf's), its stderr on its stdout pipe, so output keeps its order.
        child = spawn(SHELL, ['-c', 'exec "$0" -c "$1" 2>&1', SHELL, script], { env, stdio: ['pipe', 'pipe', 'ignore'], detached: true });
      } catch (err) {
        // An environment or script with a NUL byte (Go's exec refuses those too).
        this.stats.runs++;
        this.stats.failed++;
        this.#log.error({ script, event: what, err: (err as Error).message }, 'event handler could not start');
        resolve();
        return;
      }
      const stdout = child.stdout!;
      const stdin = child.stdin!;
      if (this.#unref) {
        child.unref();
        (stdout as { unref?: () => void }).unref?.();
        (stdin as { unref?: () => void }).unref?.();
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      let total = 0;
      stdout.on('data', (d: Buffer) => {
        total += d.length;
        chunks.push(d);
        kept += d.length;
        while (kept > this.#maxOutput) {
          const excess = kept - this.#maxOutput;
          const first = chunks[0]!;
          if (first.length <= excess) {
            chunks.shift();
            kept -= first.length;
          } else {
            chunks[0] = first.subarray(excess);
            kept -= excess;
          }
        }
      });
      stdin.on('error', () => undefined); // a script that does not read its stdin: EPIPE
      stdin.end(handlerStdin(event));

      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let spawnError: Error | undefined;
      let outputClosed = false;
      let timedOut = false;
      let done = false;
      const slow = setTimeout(
        () => this.#log.warn({ script, event: what, afterMs: SLOW_HANDLER_MS }, 'event handler slow: still running'),
        SLOW_HANDLER_MS,
      );
      const kill = setTimeout(() => {
        timedOut = true;
        killGroup(child);
      }, timeoutMs);
      let grace: NodeJS.Timeout | undefined;
      for (const t of [slow, kill]) t.unref();

      const finish = () => {
        if (done) return;
        done = true;
        for (const t of [slow, kill, grace]) if (t) clearTimeout(t);
        this.stats.runs++;
        const output = Buffer.concat(chunks);
        if (total > output.length) {
          this.#log.warn({ script, event: what, bytes: total, kept: output.length }, 'event handler output truncated');
        }
        if (spawnError) {
          this.stats.failed++;
          this.#log.error({ script, event: what, err: spawnError.message }, 'event handler could not start');
        } else if (timedOut) {
          this.stats.timedOut++;
          this.#log.warn({ script, event: what, timeoutMs, output: excerpt(output) }, 'event handler killed after its timeout');
        } else if (exit?.code !== 0) {
          this.stats.failed++;
          this.#log.warn(
            { script, event: what, exitCode: exit?.code ?? null, signal: exit?.signal ?? null, output: excerpt(output) },
            'event handler failed',
          );
        } else {
          this.#log.debug({ script, event: what, output: excerpt(output) }, 'event handler done');
          if (event.type === 'query' && total > 0) this.#respond(script, event, output, total);
        }
        resolve();
      };
      child.on('error', (err) => {
        spawnError = err;
        finish();
      });
      stdout.on('close', () => {
        outputClosed = true;
        if (exit) finish();
      });
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        if (outputClosed) return finish();
        // A background process still holds the output: stop reading it, do not wait for it.
        grace = setTimeout(() => {
          this.#log.debug({ script, event: what }, 'event handler exited; its output is still open (a background process): no longer read');
          stdout.destroy();
          finish();
        }, OUTPUT_GRACE_MS);
        if (this.#unref) grace.unref();
      });
    });
  }

  #respond(script: string, event: Extract<HandlerEvent, { type: 'query' }>, output: Buffer, total: number): void {
    const size = encodeQueryResponse({ ltime: event.ltime, id: event.id, from: this.#self().name, flags: 0, payload: output }).length;
    if (total > output.length || size > this.#responseLimit) {
      this.#log.warn(
        { script, query: event.name, bytes: total },
        `query response not sent: response exceeds limit of ${this.#responseLimit} bytes`,
      );
      return;
    }
    try {
      if (event.respond(output)) this.stats.responses++;
      else this.#log.warn({ script, query: event.name }, 'query response not sent: past the deadline or already answered');
    } catch (err) {
      this.#log.warn({ script, query: event.name, err: (err as Error).message }, 'query response not sent');
    }
  }
}

/** Kills the handler and whatever it started in its process group. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** The agent's flags: the runner, or undefined without --event-handler. Bad values are usage errors. */
export function eventHandlersFromFlags(
  handlers: readonly string[],
  timeout: string | undefined,
  logger: Logger,
): EventHandlerRunner | undefined {
  const scripts = handlers.flatMap(parseEventHandler);
  const timeoutMs = timeout === undefined ? undefined : parseDuration('event-handler-timeout', timeout);
  if (timeoutMs !== undefined && timeoutMs <= 0)
    throw new UsageError(`--event-handler-timeout must be positive, got ${JSON.stringify(timeout)}`);
  if (scripts.length === 0) {
    if (timeoutMs !== undefined) throw new UsageError('--event-handler-timeout needs --event-handler');
    return undefined;
  }
  return new EventHandlerRunner({ scripts, logger, unref: true, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}
