/**
 * Shared plumbing of bench/attack.ts and bench/soak.ts: swimring agents run from dist/ as their
 * own processes (stopped by PID, never by name), their RSS from /proc, HTTP probes of /health,
 * /members and /metrics, and membership checks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/processes.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface AgentSpec {
  name: string;
  port?: number;
  httpPort?: number;
  join?: number[];
  encrypt?: string;
  partitions?: number;
  extra?: string[];
}

export interface AgentProc {
  name: string;
  port: number;
  httpPort: number;
  child: ChildProcess;
  pid: number;
  /** JSON lines printed so far (membership events only are kept: ring lines are counted). */
  events: Record<string, unknown>[];
  ringLines: number;
  /** user-event and query lines printed. */
  serfLines: number;
  /** Names of user events called check-* seen (the harness's own, to test delivery). */
  checkEvents: Set<string>;
  stderrTail: () => string;
  exited: () => boolean;
  spec: AgentSpec;
}

/** Every agent this process started, so an exit handler can kill them all by PID. */
export const started = new Set<ChildProcess>();

export async function startAgent(spec: AgentSpec): Promise<AgentProc> {
  const port = spec.port ?? (await freePort());
  const httpPort = spec.httpPort ?? (await freePort());
  const args = [
    'dist/cli/main.js',
    'agent',
    '--name',
    spec.name,
    '--bind',
    `127.0.0.1:${port}`,
    '--http',
    `127.0.0.1:${httpPort}`,
    '--profile',
    'lan',
    '--log-level',
    'warn',
  ];
  // Retried until a seed answers: agents restart while others are under attack.
  for (const j of spec.join ?? []) args.push('--retry-join', `127.0.0.1:${j}`);
  if (spec.join?.length) args.push('--retry-interval', '1s');
  if (spec.encrypt) args.push('--encrypt', spec.encrypt);
  if (spec.partitions) args.push('--partitions', String(spec.partitions));
  args.push(...(spec.extra ?? []));
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  child.on('exit', () => started.delete(child));
  const events: Record<string, unknown>[] = [];
  let err = '';
  let partial = '';
  const agent: AgentProc = {
    name: spec.name,
    port,
    httpPort,
    child,
    pid: child.pid!,
    events,
    ringLines: 0,
    serfLines: 0,
    checkEvents: new Set(),
    stderrTail: () => err.slice(-4000),
    exited: () => child.exitCode !== null || child.signalCode !== null,
    spec: { ...spec, port, httpPort },
  };
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (!p.trim()) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(p) as Record<string, unknown>;
      } catch {
        continue;
      }
      const ev = String(line['event']);
      if (ev === 'acquire' || ev === 'release' || ev === 'promote' || ev === 'demote') agent.ringLines++;
      // counted, not kept: an attack makes thousands
      else if (ev === 'query' || ev === 'user-event') {
        agent.serfLines++;
        if (ev === 'user-event' && String(line['name']).startsWith('check-')) agent.checkEvents.add(String(line['name']));
      } else events.push({ ...line, t: Date.now() });
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 1 << 18) err = err.slice(-(1 << 17));
  });
  const deadline = Date.now() + 20_000;
  while (!events.some((l) => l['event'] === 'started')) {
    if (agent.exited()) throw new Error(`agent ${spec.name} exited: ${err}`);
    if (Date.now() > deadline) throw new Error(`agent ${spec.name} did not start: ${err}`);
    await sleep(50);
  }
  return agent;
}

export function killAgent(a: AgentProc, signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<void> {
  if (a.exited()) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      if (!a.exited()) a.child.kill('SIGKILL');
    }, graceMs);
    a.child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    a.child.kill(signal);
  });
}

export function killAllStarted(): void {
  for (const c of started) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Resident set size of a process in MiB (VmRSS), or NaN once it is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export interface HttpResult {
  ok: boolean;
  status: number;
  body: string;
  ms: number;
  error?: string;
}

/** One GET with a hard timeout; never throws. `agent` undefined means a fresh connection. */
export function httpGet(port: number, path: string, timeoutMs: number, agent?: HttpAgent): Promise<HttpResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Omit<HttpResult, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        finish({ ok: res.statusCode === 200, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (e) => finish({ ok: false, status: res.statusCode ?? 0, body: '', error: e.message }));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
      finish({ ok: false, status: 0, body: '', error: 'timeout' });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, status: 0, body: '', error: e.code ?? e.message }));
    req.end();
  });
}

/** GET /members as [name, status] pairs, or undefined when the agent does not answer. */
export async function members(
  port: number,
  timeoutMs = 2000,
  agent?: HttpAgent,
): Promise<{ name: string; status: string; address: string }[] | undefined> {
  const r = await httpGet(port, '/members', timeoutMs, agent);
  if (!r.ok) return undefined;
  try {
    return JSON.parse(r.body) as { name: string; status: string; address: string }[];
  } catch {
    return undefined;
  }
}

/**
 * Whether `a` lists `names` alive and no other member alive. Without encryption anyone may claim
 * a member (an alive for a new name): such a forged member may be listed, but not as alive once
 * its probes fail (the Security model's trusted network).
 */
export async function listsExactly(port: number, names: readonly string[], agent?: HttpAgent): Promise<boolean | undefined> {
  const list = await members(port, 2000, agent);
  if (!list) return undefined;
  const alive = list
    .filter((m) => m.status === 'alive')
    .map((m) => m.name)
    .sort();
  const want = [...names].sort();
  return alive.length === want.length && alive.every((n, i) => n === want[i]);
}

/** All `agents` list exactly each other alive. */
export async function converged(agents: readonly AgentProc[]): Promise<boolean> {
  const names = agents.map((a) => a.name);
  const r = await Promise.all(agents.map((a) => listsExactly(a.httpPort, names)));
  return r.every((x) => x === true);
}

/** Drop counters from GET /metrics: swimring_dropped_total and swimring_http_drops_total by reason. */
export async function dropCounters(port: number): Promise<Map<string, number> | undefined> {
  const r = await httpGet(port, '/metrics', 5000);
  if (!r.ok) return undefined;
  const out = new Map<string, number>();
  for (const line of r.body.split('\n')) {
    const m = /^swimring_(dropped_total|http_drops_total)\{reason="([^"]+)"\} (\d+)/.exec(line);
    if (m) out.set(`${m[1] === 'http_drops_total' ? 'http.' : ''}${m[2]}`, Number(m[3]));
  }
  return out;
}

export function dropDelta(before: Map<string, number> | undefined, after: Map<string, number> | undefined): string {
  if (!before || !after) return 'n/a';
  const parts: string[] = [];
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) parts.push(`${k} ${d}`);
  }
  return parts.length ? parts.sort((a, b) => Number(b.split(' ')[1]) - Number(a.split(' ')[1])).join(', ') : '—';
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Probes GET /health back to back (one at a time, one every `everyMs`), over one keep-alive
 * connection (an event-loop delay proxy) or a fresh connection per probe (availability). A
 * probe that fails or takes longer than `timeoutMs` counts as `timeoutMs`.
 */
export class HealthProber {
  readonly latencies: number[] = [];
  failures = 0;
  /** Longest time between two successful answers. */
  longestGapMs = 0;
  readonly errors = new Map<string, number>();
  #lastOk = performance.now();
  #running = true;
  #loop: Promise<void>;
  readonly #agent: HttpAgent | undefined;

  constructor(
    readonly port: number,
    readonly everyMs: number,
    readonly timeoutMs: number,
    keepAlive: boolean,
  ) {
    this.#agent = keepAlive ? new HttpAgent({ keepAlive: true, maxSockets: 1 }) : undefined;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const t0 = performance.now();
      const r = await httpGet(this.port, '/health', this.timeoutMs, this.#agent);
      if (!this.#running) break;
      const now = performance.now();
      if (r.ok) {
        this.latencies.push(r.ms);
        this.longestGapMs = Math.max(this.longestGapMs, now - this.#lastOk);
        this.#lastOk = now;
      } else {
        this.latencies.push(this.timeoutMs);
        this.failures++;
        const key = r.error ?? `HTTP ${r.status}`;
        this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
      }
      const wait = this.everyMs - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  }

  /** Resets the figures (the measured window starts now). */
  reset(): void {
    this.latencies.length = 0;
    this.failures = 0;
    this.longestGapMs = 0;
    this.errors.clear();
    this.#lastOk = performance.now();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.longestGapMs = Math.max(this.longestGapMs, performance.now() - this.#lastOk);
    this.#agent?.destroy();
  }

  summary(): { n: number; p50: number; p99: number; max: number; failures: number; gap: number; errors: string } {
    return {
      n: this.latencies.length,
      p50: percentile(this.latencies, 50),
      p99: percentile(this.latencies, 99),
      max: this.latencies.length ? Math.max(...this.latencies) : Number.NaN,
      failures: this.failures,
      gap: this.longestGapMs,
      errors: [...this.errors].map(([k, v]) => `${k}×${v}`).join(' '),
    };
  }
}

/** Samples a process's RSS every `everyMs`. */
export class RssSampler {
  readonly samples: number[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    everyMs: number,
  ) {
    this.#timer = setInterval(() => {
      const r = rssMiB(pid);
      if (!Number.isNaN(r)) this.samples.push(r);
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  get max(): number {
    return this.samples.length ? Math.max(...this.samples) : Number.NaN;
  }
}

export function randomKey(): string {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return Buffer.from(b).toString('base64');
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

/** POSTs a user event through `from` and waits until every agent in `to` printed it; false after `timeoutMs`. */
export async function eventDelivered(from: AgentProc, to: readonly AgentProc[], name: string, timeoutMs = 5000): Promise<boolean> {
  const ok = await new Promise<boolean>((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: from.httpPort,
        path: `/event?name=${encodeURIComponent(name)}`,
        method: 'POST',
        agent: false,
        timeout: 2000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end('x');
  });
  if (!ok) return false;
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (to.every((a) => a.checkEvents.has(name))) return true;
    await sleep(50);
  }
  return false;
}
