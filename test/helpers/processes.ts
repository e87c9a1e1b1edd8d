import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingBinary } from './binaries.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Whether the serf binary is here, for a test that also has a way without it. A test that needs
 * serf skips through `{ skip: missingBinary('serf') }` or `requireBinary(t, 'serf')` (binaries.ts)
 * so the runner counts it skipped. Under CI=true a missing serf throws.
 */
export function serfAvailable(): boolean {
  return missingBinary('serf') === false;
}

/** A port free for both UDP and TCP on 127.0.0.1 (the OS picks; we release it for the child). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Processes started by a test; `stopAll` kills each by its PID (never by name). */
export class Processes {
  readonly #children = new Set<ChildProcess>();

  track(child: ChildProcess): ChildProcess {
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    return child;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#children].map((c) => kill(c, 'SIGKILL')));
  }
}

export function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export interface SerfAgent {
  name: string;
  /**
   * Runs a serf CLI command against this agent's RPC address; resolves with stdout. Async, so
   * swimring nodes in this process keep running meanwhile.
   */
  cli(args: string[]): Promise<string>;
  port: number;
  rpc: string;
  child: ChildProcess;
  logFile: string;
  log(): string;
  members(): { name: string; addr: string; status: string; tags: Record<string, string> }[];
}

export interface SerfOptions {
  join?: number;
  encrypt?: string;
  tags?: Record<string, string>;
  /** `-event-handler` values, e.g. 'query:whoami=echo me'. */
  eventHandlers?: string[];
  /** Agent configuration file contents (reconnect_timeout, tombstone_timeout, ...). */
  config?: Record<string, unknown>;
}

export async function startSerf(procs: Processes, name: string, options: SerfOptions = {}): Promise<SerfAgent> {
  const port = await freePort();
  const rpcPort = await freePort();
  const rpc = `127.0.0.1:${rpcPort}`;
  const dir = mkdtempSync(join(tmpdir(), `serf-${name}-`));
  const logFile = join(dir, 'agent.log');
  const args = ['agent', `-node=${name}`, `-bind=127.0.0.1:${port}`, `-rpc-addr=${rpc}`, '-log-level=debug'];
  if (options.join) args.push(`-join=127.0.0.1:${options.join}`);
  if (options.encrypt) args.push(`-encrypt=${options.encrypt}`);
  for (const [k, v] of Object.entries(options.tags ?? {})) args.push('-tag', `${k}=${v}`);
  for (const h of options.eventHandlers ?? []) args.push('-event-handler', h);
  if (options.config) {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(options.config));
    args.push(`-config-file=${file}`);
  }
  const child = procs.track(spawn('sh', ['-c', `exec serf "$@" > "${logFile}" 2>&1`, 'serf', ...args], { stdio: 'ignore' }));
  const agent: SerfAgent = {
    name,
    cli: (cmd) =>
      new Promise((resolve, reject) =>
        execFile('serf', [cmd[0]!, `-rpc-addr=${rpc}`, ...cmd.slice(1)], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`serf ${cmd.join(' ')}: ${err.message} ${stdout} ${stderr}`)) : resolve(stdout),
        ),
      ),
    port,
    rpc,
    child,
    logFile,
    log: () => readFileSync(logFile, 'utf8'),
    members: () => {
      const out = execFileSync('serf', ['members', `-rpc-addr=${rpc}`, '-format=json'], { encoding: 'utf8' });
      return (JSON.parse(out) as { members: SerfAgent['members'] extends () => infer R ? R : never }).members;
    },
  };
  await waitFor(
    `serf agent ${name} RPC`,
    () => {
      try {
        return agent.members().length > 0;
      } catch {
        return false;
      }
    },
    20_000,
  );
  return agent;
}

export interface Agent {
  name: string;
  port: number;
  child: ChildProcess;
  /** JSON lines printed so far. */
  lines: Record<string, unknown>[];
  stderr: () => string;
}

/** Starts `swimring agent` from source as its own process (one node process: node --import tsx). */
export async function startAgent(procs: Processes, name: string, args: string[] = [], options: { port?: number } = {}): Promise<Agent> {
  const port = options.port ?? (await freePort());
  const child = procs.track(
    spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'agent', '--name', name, '--bind', `127.0.0.1:${port}`, '--log-level', 'debug', ...args],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  const lines: Record<string, unknown>[] = [];
  let err = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 1 << 20) err = err.slice(-(1 << 19));
  });
  const agent = { name, port, child, lines, stderr: () => err };
  await waitFor(
    `swimring agent ${name} started`,
    () =>
      lines.some((l) => l['event'] === 'started') ||
      (child.exitCode !== null ? Promise.reject(new Error(`agent ${name} exited: ${err}`)) : false),
    20_000,
  );
  return agent;
}

/** The agent's HTTP address, `host:port`, from its `started` line. */
export function httpOf(agent: Agent): string {
  const http = agent.lines.find((l) => l['event'] === 'started')?.['http'];
  if (typeof http !== 'string') throw new Error(`agent ${agent.name} serves no HTTP`);
  return http;
}
