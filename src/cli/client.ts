/**
 * `swimring members`, `swimring event` and `swimring query`: talk to a running agent's --http
 * endpoint, as `serf members`, `serf event` and `serf query` talk to a Serf agent's RPC address.
 */
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { READY_TAG } from '../ring/readiness.js';
import { DRAIN_TAG, withoutRingTags } from '../ring/ring-view.js';
import { MAX_HTTP_QUERY_TIMEOUT_MS } from './agent-http.js';
import { parseDuration } from './duration.js';
import { httpToken, parseHttpAddress } from './http-flags.js';
import { UsageError } from './usage.js';

/** An agent's answer line is a member list or one reply; 64 MiB is far beyond any real one and still bounded. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** How much of a failed answer we read to report it. */
const MAX_ERROR_BYTES = 64 * 1024;
/** The agent answers members and event at once: one silent this long is stuck or not an agent. */
const DEFAULT_HTTP_TIMEOUT = '30s';

/** Flags every client command takes: where the agent is and how to talk to it. */
const agentOptions = {
  http: { type: 'string' },
  'http-token': { type: 'string' },
  'http-token-file': { type: 'string' },
  'http-timeout': { type: 'string', default: DEFAULT_HTTP_TIMEOUT },
} as const;
const agentOptionsHelp = `  --http [HOST:]PORT   the agent's --http address (required; PORT alone is 127.0.0.1)
  --http-token TOKEN   the agent's --http-token (default: $SWIMRING_HTTP_TOKEN)
  --http-token-file F  the same, read from file F
  --http-timeout D     give up when the agent sends nothing for D (default ${DEFAULT_HTTP_TIMEOUT})`;

const exitCodesHelp = `Exit codes: 0 ok; 1 the agent could not be reached, sent nothing for --http-timeout,
refused the request or is not a swimring agent (one line on stderr); 2 bad arguments, or a
request the agent rejected as bad (HTTP 400).`;

export const eventHelp = `Usage: swimring event --http HOST:PORT [--no-coalesce] NAME [PAYLOAD]

Sends a Serf user event to the whole cluster through the agent listening at --http (its POST
/event).

Options:
${agentOptionsHelp}
  --no-coalesce        ask receivers not to coalesce this event with others of its name
  -h, --help           show this help

Output, as 'serf event': Event 'NAME' dispatched! Coalescing enabled: true (or false)

${exitCodesHelp}`;

export const queryHelp = `Usage: swimring query --http HOST:PORT [options] NAME [PAYLOAD]

Runs a Serf query through the agent listening at --http (its POST /query) and prints acks and
responses as they arrive, like 'serf query'.

Options:
${agentOptionsHelp}
                       (after the query's --timeout, or 5m without one, for the last answer)
  --node NAME          only this node answers; repeatable
  --tag KEY=REGEXP     only nodes whose tag matches answer; repeatable
  --timeout DURATION   how long to collect answers, at most 5m (default: Serf's, about 3 s
                       on a LAN)
  --no-ack             do not ask for acks
  --relay-factor N     responders also answer through N random members (0-5)
  --format text|json   text (default) or one JSON object per line
  -h, --help           show this help

Output (text, as 'serf query'), one line each:
  Query 'NAME' dispatched
  Ack from 'NODE'
  Response from 'NODE': PAYLOAD      (a payload that is not UTF-8: (base64) DATA)
  Total Acks: N
  Total Responses: N
With --format json, one object per line as the agent streams them: {"type":"ack","from":NODE},
{"type":"response","from":NODE,"payload":TEXT} ("payloadBase64" if not UTF-8), and last
{"type":"done","acks":N,"responses":N}.

${exitCodesHelp}`;

export const membersHelp = `Usage: swimring members --http HOST:PORT [--status STATUS] [--detailed] [--format text|json]

Lists the members a running agent knows (its GET /members), like 'serf members'.

Options:
${agentOptionsHelp}
  --status STATUS      only members with this status (alive, leaving, left, failed)
  --detailed           also the ring's own tags (handoff readiness, draining)
  --format text|json   text (default) or the agent's JSON
  -h, --help           show this help

Output (text): one line per member, sorted by name, columns aligned: NAME  ADDRESS  STATUS  TAGS,
TAGS as KEY=VALUE,... without the ring's own tags (${READY_TAG}, ${DRAIN_TAG}) unless --detailed.
With --format json, one JSON array of {"name","address","status","incarnation","tags","protocol"}
objects, filtered and sorted the same way.

${exitCodesHelp}`;

export async function membersCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...agentOptions,
      status: { type: 'string' },
      detailed: { type: 'boolean', default: false },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${membersHelp}\n`);
  if (values.format !== 'text' && values.format !== 'json')
    throw new UsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
  // Reads need no token; one given is sent anyway (harmless, and the same flags work everywhere).
  const { agent, token, timeoutMs } = connection(values);
  type MemberLine = { name: string; address: string; status: string; tags: Record<string, string> };
  let list: MemberLine[] | undefined;
  await call(agent, { method: 'GET', path: '/members', token, idleTimeoutMs: timeoutMs }, (value) => {
    const isMember = (m: unknown): m is MemberLine => {
      const r = m as MemberLine | null;
      return (
        typeof r === 'object' &&
        r !== null &&
        typeof r.name === 'string' &&
        typeof r.address === 'string' &&
        typeof r.status === 'string' &&
        typeof r.tags === 'object' &&
        r.tags !== null
      );
    };
    if (list !== undefined || !Array.isArray(value) || !value.every(isMember)) throw notAnAgent(agent, 'its answer is not a member list');
    list = value;
  });
  if (list === undefined) throw notAnAgent(agent, 'its answer was empty');
  const members = list
    .filter((m) => values.status === undefined || m.status === values.status)
    .map((m) => (values.detailed ? m : { ...m, tags: withoutRingTags(m.tags) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (values.format === 'json') return void process.stdout.write(`${JSON.stringify(members)}\n`);
  const rows = members.map((m) => [
    m.name,
    m.address,
    m.status,
    Object.entries(m.tags)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c))
        .join('  ')
        .trimEnd()}\n`,
    );
}

export async function eventCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      ...agentOptions,
      'no-coalesce': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${eventHelp}\n`);
  const { agent, token, timeoutMs } = connection(values);
  const [name, payload] = nameAndPayload(positionals);
  const params = new URLSearchParams({ name, ...(values['no-coalesce'] ? { coalesce: 'false' } : {}) });
  let sent = false;
  await call(agent, { method: 'POST', path: `/event?${params}`, body: payload, token, idleTimeoutMs: timeoutMs }, (value) => {
    const r = value as { ok?: unknown; name?: unknown } | null;
    if (sent || r === null || typeof r !== 'object' || r.ok !== true || r.name !== name)
      throw notAnAgent(agent, 'its answer does not confirm the event');
    sent = true;
  });
  if (!sent) throw notAnAgent(agent, 'its answer was empty');
  process.stdout.write(`Event '${name}' dispatched! Coalescing enabled: ${!values['no-coalesce']}\n`);
}

export async function queryCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      ...agentOptions,
      node: { type: 'string', multiple: true, default: [] },
      tag: { type: 'string', multiple: true, default: [] },
      timeout: { type: 'string' },
      'no-ack': { type: 'boolean', default: false },
      'relay-factor': { type: 'string' },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${queryHelp}\n`);
  if (values.format !== 'text' && values.format !== 'json')
    throw new UsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
  const { agent, token, timeoutMs } = connection(values);
  const [name, payload] = nameAndPayload(positionals);
  for (const tag of values.tag) if (tag.indexOf('=') <= 0) throw new UsageError(`--tag must be KEY=REGEXP, got ${JSON.stringify(tag)}`);
  const queryTimeoutMs = values.timeout === undefined ? undefined : parseDuration('timeout', values.timeout);
  if (queryTimeoutMs !== undefined && !(queryTimeoutMs > 0 && queryTimeoutMs <= MAX_HTTP_QUERY_TIMEOUT_MS))
    throw new UsageError(`--timeout must be at most 5m and more than 0, got ${JSON.stringify(values.timeout)}`);
  const relay = values['relay-factor'];
  if (relay !== undefined && !/^[0-5]$/.test(relay.trim()))
    throw new UsageError(`--relay-factor must be an integer in [0, 5], got ${JSON.stringify(relay)}`);
  const params = new URLSearchParams({ name });
  for (const n of values.node) params.append('node', n);
  for (const t of values.tag) params.append('tag', t);
  if (values.timeout) params.set('timeout', values.timeout);
  if (values['no-ack']) params.set('ack', 'false');
  if (relay !== undefined) params.set('relay', relay.trim());
  let dispatched = false;
  let done = false;
  type Reply = { type: string; from?: string; payload?: string; payloadBase64?: string; acks?: number; responses?: number };
  // The agent may say nothing until the query ends (no acks asked, nobody answers): allow its
  // whole timeout (the longest, without --timeout: Serf's default grows with the cluster).
  const idleTimeoutMs = (queryTimeoutMs ?? MAX_HTTP_QUERY_TIMEOUT_MS) + timeoutMs;
  await call(agent, { method: 'POST', path: `/query?${params}`, body: payload, token, idleTimeoutMs }, (value) => {
    const r = value as Reply | null;
    if (done || r === null || typeof r !== 'object' || !['ack', 'response', 'done'].includes(r.type))
      throw notAnAgent(agent, 'its answer is not a query reply');
    if (!dispatched && values.format === 'text') process.stdout.write(`Query '${name}' dispatched\n`);
    dispatched = true;
    if (values.format === 'json') return void process.stdout.write(`${JSON.stringify(r)}\n`);
    if (r.type === 'ack') process.stdout.write(`Ack from '${r.from}'\n`);
    else if (r.type === 'response') process.stdout.write(`Response from '${r.from}': ${r.payload ?? `(base64) ${r.payloadBase64}`}\n`);
    else process.stdout.write(`Total Acks: ${r.acks}\nTotal Responses: ${r.responses}\n`);
    if (r.type === 'done') done = true;
  });
  if (!done)
    throw dispatched
      ? new Error(`the agent at ${hostPort(agent)} ended its answer before the query finished`)
      : notAnAgent(agent, 'its answer was empty');
}

interface Agent {
  host: string;
  port: number;
}

/** The agent's address, token and --http-timeout, checked before anything is sent. */
function connection(values: {
  http?: string | undefined;
  'http-token'?: string | undefined;
  'http-token-file'?: string | undefined;
  'http-timeout': string;
}): { agent: Agent; token: string | undefined; timeoutMs: number } {
  if (values.http === undefined) throw new UsageError("--http is required (the agent's --http address)");
  const agent = parseHttpAddress(values.http);
  // Port 0 is "any port" to a listener; a client would connect to port 80 instead.
  if (agent.port === 0) throw new UsageError(`--http must name the agent's port, got ${JSON.stringify(values.http)}`);
  const timeoutMs = parseDuration('http-timeout', values['http-timeout']);
  if (timeoutMs <= 0) throw new UsageError(`--http-timeout must be more than 0, got ${JSON.stringify(values['http-timeout'])}`);
  const token = httpToken(values['http-token'], values['http-token-file'], process.env['SWIMRING_HTTP_TOKEN']);
  return { agent, token, timeoutMs };
}

function hostPort(agent: Agent): string {
  return agent.host.includes(':') ? `[${agent.host}]:${agent.port}` : `${agent.host}:${agent.port}`;
}

function nameAndPayload(positionals: string[]): [string, Uint8Array] {
  if (positionals.length === 0 || positionals.length > 2) throw new UsageError('expected NAME and an optional PAYLOAD');
  const [name, payload = ''] = positionals as [string, string?];
  if (name === '') throw new UsageError('NAME must not be empty');
  return [name, new TextEncoder().encode(payload)];
}

function notAnAgent(agent: Agent, why: string): Error {
  return new Error(`the server at ${hostPort(agent)} is not a swimring agent: ${why}`);
}

/**
 * One request to the agent; each line of a 200 answer (JSON or JSON lines) is parsed and handed
 * to `onValue`, which may throw to stop. Anything else becomes one Error whose message is one
 * line: the agent's own message for its refusals (400 is a UsageError), "not a swimring agent"
 * for foreign answers, and what went wrong for a connection that failed or fell silent.
 */
function call(
  agent: Agent,
  options: { method: 'GET' | 'POST'; path: string; body?: Uint8Array; token?: string | undefined; idleTimeoutMs: number },
  onValue: (value: unknown) => void,
): Promise<void> {
  const where = hostPort(agent);
  return new Promise((resolve, reject) => {
    const body = options.body ?? new Uint8Array(0);
    const headers: Record<string, string | number> = { 'content-length': body.length };
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    // A silent agent is reported as such, whichever of the request's and the answer's handlers
    // sees the connection end first.
    let silent = false;
    const stop = (err: Error) => {
      reject(silent ? new Error(`the agent at ${where} sent nothing for ${seconds(options.idleTimeoutMs)} (--http-timeout)`) : err);
      req.destroy();
    };
    const req = request(
      { host: agent.host, port: agent.port, path: options.path, method: options.method, headers, timeout: options.idleTimeoutMs },
      (res) => {
        const status = res.statusCode ?? 0;
        const type = String(res.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim();
        res.on('error', (err) => stop(new Error(`the answer from ${where} broke off: ${oneLine(err)}`)));
        res.on('close', () => res.complete || stop(new Error(`the answer from ${where} broke off`)));
        if (status !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < MAX_ERROR_BYTES) text += chunk;
          });
          res.on('end', () => {
            let message: unknown;
            try {
              message = type === 'application/json' ? (JSON.parse(text) as { error?: unknown } | null)?.error : undefined;
            } catch {
              message = undefined;
            }
            if (typeof message !== 'string') return stop(notAnAgent(agent, `it answered ${status} ${type || 'without a content type'}`));
            const line = message.split('\n')[0]!;
            stop(status === 400 ? new UsageError(line) : new Error(`agent answered ${status}: ${line}`));
          });
          return;
        }
        if (type !== 'application/json' && type !== 'application/x-ndjson')
          return stop(notAnAgent(agent, `it answered ${type || 'without a content type'}`));
        let pending = '';
        const take = (line: string) => {
          if (line.trim() === '') return;
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch {
            throw notAnAgent(agent, 'its answer is not JSON');
          }
          onValue(value);
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          try {
            let nl;
            while ((nl = pending.indexOf('\n')) >= 0) {
              const line = pending.slice(0, nl);
              pending = pending.slice(nl + 1);
              take(line);
            }
            if (pending.length > MAX_ANSWER_BYTES) throw notAnAgent(agent, `an answer line is over ${MAX_ANSWER_BYTES} bytes`);
          } catch (err) {
            stop(err as Error);
          }
        });
        res.on('end', () => {
          try {
            take(pending);
            resolve();
          } catch (err) {
            stop(err as Error);
          }
        });
      },
    );
    req.on('timeout', () => {
      silent = true;
      stop(new Error('timeout'));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Node's HTTP parser refused the bytes: something else listens there.
      if (err.code?.startsWith('HPE_')) return stop(notAnAgent(agent, 'it does not answer in HTTP'));
      // A hang-up ("socket hang up"), or a reset while the request was still being sent.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE')
        return stop(new Error(`the server at ${where} closed the connection without answering`));
      stop(new Error(`cannot reach the agent at ${where}: ${oneLine(err)}`));
    });
    req.end(body);
  });
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(3))} s`;
}

/** Node's messages are one line, but an error from elsewhere need not be. */
function oneLine(err: Error): string {
  return err.message.split('\n')[0]!;
}
