/**
 * `swimring event` and `swimring query`: talk to a running agent's --http endpoint, as `serf
 * event` and `serf query` talk to a Serf agent's RPC address.
 */
import { get, request } from 'node:http';
import { parseArgs } from 'node:util';
import { parseHostPort } from '../io/gossip-node.js';
import { UsageError } from './usage.js';

export const eventHelp = `Usage: swimring event --http HOST:PORT [--no-coalesce] NAME [PAYLOAD]

Sends a Serf user event to the whole cluster through the agent listening at --http.

Options:
  --http HOST:PORT     the agent's --http address (required)
  --no-coalesce        ask receivers not to coalesce this event with others of its name
  -h, --help           show this help`;

export const queryHelp = `Usage: swimring query --http HOST:PORT [options] NAME [PAYLOAD]

Runs a Serf query through the agent listening at --http and prints acks and responses as they
arrive, like 'serf query'.

Options:
  --http HOST:PORT     the agent's --http address (required)
  --node NAME          only this node answers; repeatable
  --tag KEY=REGEXP     only nodes whose tag matches answer; repeatable
  --timeout DURATION   how long to collect answers (default: Serf's, about 3 s on a LAN)
  --no-ack             do not ask for acks
  --relay-factor N     responders also answer through N random members (0-5)
  --format text|json   text (default) or one JSON object per line
  -h, --help           show this help`;

export const membersHelp = `Usage: swimring members --http HOST:PORT [--status STATUS] [--format text|json]

Lists the members a running agent knows, like 'serf members': name, address, status, tags.

Options:
  --http HOST:PORT     the agent's --http address (required)
  --status STATUS      only members with this status (alive, leaving, left, failed)
  --format text|json   text (default) or the agent's JSON
  -h, --help           show this help`;

export async function membersCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { http: { type: 'string' }, status: { type: 'string' }, format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(`${membersHelp}\n`);
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
  const agent = agentAddress(values.http);
  const body = await new Promise<string>((resolve, reject) => {
    get({ host: agent.host, port: agent.port, path: '/members' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`agent answered ${res.statusCode}: ${text.trim()}`))));
    }).on('error', (err) => reject(new Error(`cannot reach the agent at ${agent.host}:${agent.port}: ${err.message}`)));
  });
  const members = (JSON.parse(body) as { name: string; address: string; status: string; tags: Record<string, string> }[])
    .filter((m) => values.status === undefined || m.status === values.status)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (values.format === 'json') return void process.stdout.write(`${JSON.stringify(members)}\n`);
  const rows = members.map((m) => [m.name, m.address, m.status, Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(',')]);
  const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd()}\n`);
}

export async function eventCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { http: { type: 'string' }, 'no-coalesce': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(`${eventHelp}\n`);
  const agent = agentAddress(values.http);
  const [name, payload] = nameAndPayload(positionals);
  const params = new URLSearchParams({ name, ...(values['no-coalesce'] ? { coalesce: 'false' } : {}) });
  await call(agent, `/event?${params}`, payload, () => undefined);
  process.stdout.write(`Event '${name}' dispatched! Coalescing enabled: ${!values['no-coalesce']}\n`);
}

export async function queryCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      http: { type: 'string' },
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
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
  const agent = agentAddress(values.http);
  const [name, payload] = nameAndPayload(positionals);
  for (const tag of values.tag) if (tag.indexOf('=') <= 0) throw new UsageError(`--tag must be KEY=REGEXP, got ${JSON.stringify(tag)}`);
  const params = new URLSearchParams({ name });
  for (const n of values.node) params.append('node', n);
  for (const t of values.tag) params.append('tag', t);
  if (values.timeout) params.set('timeout', values.timeout);
  if (values['no-ack']) params.set('ack', 'false');
  if (values['relay-factor']) params.set('relay', values['relay-factor']);
  if (values.format === 'text') process.stdout.write(`Query '${name}' dispatched\n`);
  await call(agent, `/query?${params}`, payload, (line) => {
    if (values.format === 'json') return void process.stdout.write(`${line}\n`);
    const r = JSON.parse(line) as { type: string; from?: string; payload?: string; payloadBase64?: string; acks?: number; responses?: number };
    if (r.type === 'ack') process.stdout.write(`Ack from '${r.from}'\n`);
    else if (r.type === 'response') process.stdout.write(`Response from '${r.from}': ${r.payload ?? `(base64) ${r.payloadBase64}`}\n`);
    else if (r.type === 'done') process.stdout.write(`Total Acks: ${r.acks}\nTotal Responses: ${r.responses}\n`);
  });
}

function agentAddress(http: string | undefined): { host: string; port: number } {
  if (http === undefined) throw new UsageError('--http is required (the agent\'s --http address)');
  return parseHostPort('http', http);
}

function nameAndPayload(positionals: string[]): [string, Uint8Array] {
  if (positionals.length === 0 || positionals.length > 2) throw new UsageError('expected NAME and an optional PAYLOAD');
  const [name, payload = ''] = positionals as [string, string?];
  if (name === '') throw new UsageError('NAME must not be empty');
  return [name, new TextEncoder().encode(payload)];
}

/** POSTs `body`, hands each response line to `onLine`; an HTTP error becomes an Error with the agent's message. */
function call(agent: { host: string; port: number }, path: string, body: Uint8Array, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: agent.host, port: agent.port, path, method: 'POST', headers: { 'content-length': body.length } }, (res) => {
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (res.statusCode === 200 && line.trim() !== '') onLine(line);
          else if (res.statusCode !== 200) {
            const message = (JSON.parse(line) as { error?: string }).error ?? line;
            reject(res.statusCode === 400 ? new UsageError(message) : new Error(`agent answered ${res.statusCode}: ${message}`));
          }
        }
      });
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', (err) => reject(new Error(`cannot reach the agent at ${agent.host}:${agent.port}: ${err.message}`)));
    req.end(body);
  });
}
