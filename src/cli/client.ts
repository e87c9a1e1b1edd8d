/**
 * `swimring event` and `swimring query`: talk to a running agent's --http endpoint, as `serf
 * event` and `serf query` talk to a Serf agent's RPC address.
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
/** members and event answer at once; an agent silent this long is stuck. */
const IDLE_TIMEOUT_MS = 30_000;

const tokenHelp = `  --http-token TOKEN   the agent's --http-token (default: $SWIMRING_HTTP_TOKEN)
  --http-token-file F  the same, read from file F`;
const tokenOptions = { 'http-token': { type: 'string' }, 'http-token-file': { type: 'string' } } as const;

export const eventHelp = `Usage: swimring event --http HOST:PORT [--no-coalesce] NAME [PAYLOAD]

Sends a Serf user event to the whole cluster through the agent listening at --http.

Options:
  --http [HOST:]PORT   the agent's --http address (required; PORT alone is 127.0.0.1)
${tokenHelp}
  --no-coalesce        ask receivers not to coalesce this event with others of its name
  -h, --help           show this help`;

export const queryHelp = `Usage: swimring query --http HOST:PORT [options] NAME [PAYLOAD]

Runs a Serf query through the agent listening at --http and prints acks and responses as they
arrive, like 'serf query'.

Options:
  --http [HOST:]PORT   the agent's --http address (required; PORT alone is 127.0.0.1)
${tokenHelp}
  --node NAME          only this node answers; repeatable
  --tag KEY=REGEXP     only nodes whose tag matches answer; repeatable
  --timeout DURATION   how long to collect answers, at most 5m (default: Serf's, about 3 s
                       on a LAN)
  --no-ack             do not ask for acks
  --relay-factor N     responders also answer through N random members (0-5)
  --format text|json   text (default) or one JSON object per line
  -h, --help           show this help`;

export const membersHelp = `Usage: swimring members --http HOST:PORT [--status STATUS] [--detailed] [--format text|json]

Lists the members a running agent knows, like 'serf members': name, address, status, tags
(without the ring's own tags, ${READY_TAG} and ${DRAIN_TAG}, unless --detailed).

Options:
  --http [HOST:]PORT   the agent's --http address (required; PORT alone is 127.0.0.1)
${tokenHelp}
  --status STATUS      only members with this status (alive, leaving, left, failed)
  --detailed           also the ring's own tags (handoff readiness, draining)
  --format text|json   text (default) or the agent's JSON
  -h, --help           show this help`;

export async function membersCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      http: { type: 'string' },
      ...tokenOptions,
      status: { type: 'string' },
      detailed: { type: 'boolean', default: false },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${membersHelp}\n`);
  if (values.format !== 'text' && values.format !== 'json')
    throw new UsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
  const agent = agentAddress(values.http);
  // Reads need no token; one given is sent anyway (harmless, and the same flags work everywhere).
  const token = httpToken(values['http-token'], values['http-token-file'], process.env['SWIMRING_HTTP_TOKEN']);
  type MemberLine = { name: string; address: string; status: string; tags: Record<string, string> };
  let list: MemberLine[] | undefined;
  await call(agent, { method: 'GET', path: '/members', token, idleTimeoutMs: IDLE_TIMEOUT_MS }, (value) => {
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
      http: { type: 'string' },
      ...tokenOptions,
      'no-coalesce': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${eventHelp}\n`);
  const agent = agentAddress(values.http);
  const token = httpToken(values['http-token'], values['http-token-file'], process.env['SWIMRING_HTTP_TOKEN']);
  const [name, payload] = nameAndPayload(positionals);
  const params = new URLSearchParams({ name, ...(values['no-coalesce'] ? { coalesce: 'false' } : {}) });
  let sent = false;
  await call(agent, { method: 'POST', path: `/event?${params}`, body: payload, token, idleTimeoutMs: IDLE_TIMEOUT_MS }, (value) => {
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
      http: { type: 'string' },
      ...tokenOptions,
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
  const agent = agentAddress(values.http);
  const token = httpToken(values['http-token'], values['http-token-file'], process.env['SWIMRING_HTTP_TOKEN']);
  const [name, payload] = nameAndPayload(positionals);
  for (const tag of values.tag) if (tag.indexOf('=') <= 0) throw new UsageError(`--tag must be KEY=REGEXP, got ${JSON.stringify(tag)}`);
  if (values.timeout !== undefined) {
    const ms = parseDuration('timeout', values.timeout);
    if (!(ms > 0 && ms <= MAX_HTTP_QUERY_TIMEOUT_MS))
      throw new UsageError(`--timeout must be at most 5m and more than 0, got ${JSON.stringify(values.timeout)}`);
  }
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
  // Answers may be minutes apart (no acks asked, a long --timeout): allow the longest query.
  await call(
    agent,
    { method: 'POST', path: `/query?${params}`, body: payload, token, idleTimeoutMs: MAX_HTTP_QUERY_TIMEOUT_MS + IDLE_TIMEOUT_MS },
    (value) => {
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
    },
  );
  if (!done)
    throw dispatched
      ? new Error(`the agent at ${agent.host}:${agent.port} ended its answer before the query finished`)
      : notAnAgent(agent, 'its answer was empty');
}

function agentAddress(http: string | undefined): { host: string; port: number } {
  if (http === undefined) throw new UsageError("--http is required (the agent's --http address)");
  return parseHttpAddress(http);
}

function nameAndPayload(positionals: string[]): [string, Uint8Array] {
  if (positionals.length === 0 || positionals.length > 2) throw new UsageError('expected NAME and an optional PAYLOAD');
  const [name, payload = ''] = positionals as [string, string?];
  if (name === '') throw new UsageError('NAME must not be empty');
  return [name, new TextEncoder().encode(payload)];
}

function notAnAgent(agent: { host: string; port: number }, why: string): Error {
  return new Error(`the server at ${agent.host}:${agent.port} is not a swimring agent: ${why}`);
}

/**
 * One request to the agent; each line of a 200 answer (JSON or JSON lines) is parsed and handed
 * to `onValue`, which may throw to stop. Anything else becomes one Error: the agent's own
 * message for its refusals (400 is a UsageError), "not a swimring agent" for foreign answers.
 */
function call(
  agent: { host: string; port: number },
  options: { method: 'GET' | 'POST'; path: string; body?: Uint8Array; token?: string | undefined; idleTimeoutMs: number },
  onValue: (value: unknown) => void,
): Promise<void> {
  const where = `${agent.host}:${agent.port}`;
  return new Promise((resolve, reject) => {
    const body = options.body ?? new Uint8Array(0);
    const headers: Record<string, string | number> = { 'content-length': body.length };
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    const req = request(
      { host: agent.host, port: agent.port, path: options.path, method: options.method, headers, timeout: options.idleTimeoutMs },
      (res) => {
        const status = res.statusCode ?? 0;
        const type = String(res.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim();
        const stop = (err: Error) => {
          reject(err);
          req.destroy();
        };
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
          res.on('error', (err) => stop(new Error(`the answer from ${where} broke off: ${err.message}`)));
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
        res.on('error', (err) => stop(new Error(`the answer from ${where} broke off: ${err.message}`)));
        res.on('close', () => res.complete || stop(new Error(`the answer from ${where} broke off`)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer for ${options.idleTimeoutMs / 1000} s`)));
    req.on('error', (err) => reject(new Error(`cannot reach the agent at ${where}: ${err.message}`)));
    req.end(body);
  });
}
