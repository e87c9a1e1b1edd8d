// `swimring agent --config-file` / `--config-dir`: serf agent's JSON configuration files, turned
// into the agent's flags (before the command line's), with Serf's merge order; bad files are one
// line and exit code 1; an agent runs from a config directory alone, and serf agent accepts the
// same Serf-style file.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { after, describe, it } from 'node:test';
import {
  ConfigFileError,
  MAX_CONFIG_FILE_BYTES,
  MAX_CONFIG_FILES,
  configFileArgs,
  configToArgs,
  readConfigPaths,
} from '../../src/cli/config-file.js';
import { type CliResult, runCli as runCliFromSource } from '../helpers/cli.js';
import { missingBinary } from '../helpers/binaries.js';
import { Processes, freePort, kill, waitFor } from '../helpers/processes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** A CLI still running after this has hung (code null), which fails the test. */
const HUNG_AFTER_MS = 20_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'swimring-config-'));
}

function write(dir: string, name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const runCli = (args: string[]): Promise<CliResult> => runCliFromSource(args, undefined, { hungAfterMs: HUNG_AFTER_MS });

describe('config files: keys to flags', () => {
  it("turns every Serf key swimring shares into the agent's flag", () => {
    const args = configToArgs('f.json', {
      node_name: 'web-1',
      bind: '127.0.0.1',
      advertise: '10.0.0.1:8000',
      tags: { role: 'web', dc: 'east' },
      encrypt_key: 'S0VZS0VZS0VZS0VZS0VZSw==',
      start_join: ['10.0.0.2', '10.0.0.3:7000'],
      retry_join: ['10.0.0.4:7946'],
      retry_interval: '15s',
      retry_max_attempts: 3,
      event_handlers: ['member-join=./join.sh', 'query:ping=echo pong'],
      rpc_addr: '127.0.0.1:7373',
      rpc_auth: 'secret',
      profile: 'wan',
      log_level: 'ERR',
      reconnect_timeout: '1h',
      tombstone_timeout: '30m',
      replay_on_join: true,
      leave_on_terminate: true,
      role: 'db',
    });
    assert.deepEqual(args, [
      '--name=web-1',
      // Serf's AddrParts: no port is 7946.
      '--bind=127.0.0.1:7946',
      '--advertise=10.0.0.1:8000',
      '--tag=role=web',
      '--tag=dc=east',
      '--encrypt=S0VZS0VZS0VZS0VZS0VZSw==',
      '--join=10.0.0.2',
      '--join=10.0.0.3:7000',
      '--retry-join=10.0.0.4:7946',
      '--retry-interval=15s',
      '--retry-max=3',
      '--event-handler=member-join=./join.sh',
      '--event-handler=query:ping=echo pong',
      '--rpc-addr=127.0.0.1:7373',
      '--rpc-auth=secret',
      '--profile=wan',
      // Serf's level names, in any case.
      '--log-level=error',
      '--reconnect-timeout=1h',
      '--tombstone-timeout=30m',
      '--replay',
      '--tag=role=db',
    ]);
  });

  it("turns swimring's own keys into their flags", () => {
    const args = configToArgs('f.json', {
      http: '127.0.0.1:8080',
      dns_servers: ['127.0.0.1:8600'],
      http_token_file: '/etc/token',
      dead_node_reclaim_time: '10m',
      event_handler_timeout: '30s',
      partitions: 256,
      replicas: 3,
      hash: 'fnv1a64',
      placement: 'rendezvous',
      zone_tag: 'zone',
      weight_tag: 'weight',
      watch_tags: { role: '^db$' },
      handoff: true,
      ready_after: '2s',
    });
    assert.deepEqual(args, [
      '--http=127.0.0.1:8080',
      '--dns-server=127.0.0.1:8600',
      '--http-token-file=/etc/token',
      '--dead-node-reclaim-time=10m',
      '--event-handler-timeout=30s',
      '--partitions=256',
      '--replicas=3',
      '--hash=fnv1a64',
      '--placement=rendezvous',
      '--zone-tag=zone',
      '--weight-tag=weight',
      '--watch-tag=role=^db$',
      '--handoff',
      '--ready-after=2s',
    ]);
  });

  it('what Serf treats as not set gives no flag: null, "", 0 for its integers and durations, false; keys match in any case', () => {
    const args = configToArgs('f.json', {
      node_name: '',
      bind: null,
      retry_max_attempts: 0,
      reconnect_timeout: '0',
      tombstone_timeout: '0s',
      replay_on_join: false,
      handoff: false,
      rpc_addr: '',
      Node_Name: 'mixed',
    });
    assert.deepEqual(args, ['--name=mixed']);
  });

  it('a value starting with a dash stays a value (--flag=value)', () => {
    const args = configToArgs('f.json', { node_name: '-x', event_handlers: ['--weird'] });
    const { values } = parseArgs({
      args,
      strict: true,
      options: { name: { type: 'string' }, 'event-handler': { type: 'string', multiple: true } },
    });
    assert.equal(values.name, '-x');
    assert.deepEqual(values['event-handler'], ['--weird']);
  });

  it("node's parseArgs keeps the last value of a single-valued flag and every value of a repeatable one", () => {
    // What the agent relies on for "the command line wins" and "lists append".
    const { values } = parseArgs({
      args: ['--name=file', '--tag=a=1', '--name', 'cli', '--tag', 'b=2'],
      strict: true,
      options: { name: { type: 'string' }, tag: { type: 'string', multiple: true } },
    });
    assert.equal(values.name, 'cli');
    assert.deepEqual(values.tag, ['a=1', 'b=2']);
  });

  const bad: [string, Record<string, unknown> | unknown[], string | undefined, RegExp][] = [
    ['an unknown key', { nodename: 'x' }, undefined, /unknown key "nodename"/],
    ['a Serf option swimring lacks', { snapshot_path: '/tmp/s' }, 'snapshot_path', /serf agent option swimring agent does not support/],
    ['reconnect_interval', { reconnect_interval: '30s' }, 'reconnect_interval', /does not support/],
    ['a Serf switch against swimring', { leave_on_terminate: false }, 'leave_on_terminate', /can only be true: .*SIGTERM/],
    ['a number for a string', { node_name: 5 }, 'node_name', /"node_name" must be a string, got 5/],
    ['a string for an integer', { partitions: '16' }, 'partitions', /must be an integer, got "16"/],
    ['a fraction for an integer', { retry_max_attempts: 1.5 }, 'retry_max_attempts', /must be an integer/],
    ['a string for a boolean', { replay_on_join: 'yes' }, 'replay_on_join', /must be true or false/],
    ['a string for a list', { start_join: '10.0.0.1' }, 'start_join', /must be an array of strings/],
    ['a number in a list', { event_handlers: [1] }, 'event_handlers', /must be an array of strings/],
    ['a number as a tag value', { tags: { weight: 2 } }, 'tags', /must be an object of strings, got 2 for "weight"/],
    ['a tag key with =', { tags: { 'a=b': 'c' } }, 'tags', /empty or contains '='/],
    ['a number for a duration', { reconnect_timeout: 30 }, 'reconnect_timeout', /must be a duration string/],
    ['a duration without a unit', { tombstone_timeout: '30' }, 'tombstone_timeout', /must have a unit/],
    ['a bad duration', { retry_interval: '5 minutes' }, 'retry_interval', /must be a duration like/],
    ['a bind that is not an IP', { bind: 'example.com:7946' }, 'bind', /must be an IP address and port/],
    ['a port out of range', { advertise: '10.0.0.1:70000' }, 'advertise', /port in \[0, 65535\]/],
    ['a bad seed', { retry_join: ['a:b:c'] }, 'retry_join', /must be host:port/],
    ['a bad rpc_addr', { rpc_addr: 'nowhere' }, 'rpc_addr', /must be host:port/],
    ['a bad profile', { profile: 'moon' }, 'profile', /must be one of lan, wan, local, got "moon"/],
    ['a bad log level', { log_level: 'LOUD' }, 'log_level', /must be one of fatal, error/],
    ['a bad hash', { hash: 'md5' }, 'hash', /must be one of fnv1a32, fnv1a64/],
    ['a bad event filter', { event_handlers: ['member-joined=x'] }, 'event_handlers', /invalid event filter "member-joined"/],
    ['a bad watch regexp', { watch_tags: { role: '(' } }, 'watch_tags', /invalid regular expression for "role"/],
    ['an array at the top', [], undefined, /not a JSON object/],
  ];
  for (const [label, config, key, message] of bad) {
    it(`refuses ${label}, naming the file and the key`, () => {
      assert.throws(
        () => configToArgs('/etc/serf/a.json', config),
        (err: unknown) => {
          assert.ok(err instanceof ConfigFileError, String(err));
          assert.equal(err.file, '/etc/serf/a.json');
          assert.equal(err.key, key);
          assert.match(err.message, /^config file \/etc\/serf\/a\.json: /);
          if (key !== undefined) assert.ok(err.message.includes(`"${key}"`), err.message);
          assert.match(err.message, message);
          assert.doesNotMatch(err.message, /\n/);
          return true;
        },
      );
    });
  }
});

describe('config files: reading and merge order', () => {
  it("a directory's *.json files in lexical order, subdirectories and other files skipped; paths in command-line order", () => {
    const dir = tempDir();
    write(dir, '20-b.json', { node_name: 'b', tags: { dc: 'west' }, start_join: ['10.0.0.2'] });
    write(dir, '10-a.json', { node_name: 'a', tags: { dc: 'east', role: 'web' }, start_join: ['10.0.0.1'] });
    write(dir, 'notes.txt', 'not json at all');
    mkdirSync(join(dir, '30-sub.json'));
    write(join(dir, '30-sub.json'), 'inner.json', { bogus: true });
    const extra = write(tempDir(), 'extra.json', { node_name: 'c' });
    const args = configFileArgs(['--name', 'x', '--config-dir', dir, `--config-file=${extra}`, '--', '--config-file', '/nonexistent']);
    assert.deepEqual(args, [
      '--name=a',
      '--tag=dc=east',
      '--tag=role=web',
      '--join=10.0.0.1',
      '--name=b',
      '--tag=dc=west',
      '--join=10.0.0.2',
      '--name=c',
    ]);
    // A path is a file or a directory whichever flag names it, as in Serf.
    assert.deepEqual(configFileArgs(['--config-file', dir]), args.slice(0, 7));
    assert.deepEqual(configFileArgs(['--name', 'x', '--tag', 'a=b']), []);
  });

  it('refuses a missing file, a FIFO, a file over 1 MiB, invalid JSON, and more files than the bound', () => {
    const dir = tempDir();
    const expect = (paths: string[], message: RegExp) =>
      assert.throws(
        () => readConfigPaths(paths),
        (err: unknown) => err instanceof ConfigFileError && message.test(err.message),
      );
    expect([join(dir, 'missing.json')], /missing\.json: cannot be read: ENOENT/);
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    // Opening it would block until a writer came: it is refused before.
    expect([fifo], /fifo\.json: not a regular file/);
    const big = write(dir, 'big.json', `{"node_name":"${'x'.repeat(MAX_CONFIG_FILE_BYTES)}"}`);
    expect([big], new RegExp(`big\\.json: larger than ${MAX_CONFIG_FILE_BYTES} bytes`));
    expect([write(dir, 'broken.json', '{"node_name": "x",')], /broken\.json: not valid JSON( \(at character \d+\))?$/);
    const many = tempDir();
    for (let i = 0; i <= MAX_CONFIG_FILES; i++) write(many, `${String(i).padStart(3, '0')}.json`, {});
    expect([many], new RegExp(`more than ${MAX_CONFIG_FILES} \\.json files`));
  });
});

describe('swimring agent with bad config files: one line, exit code 1', () => {
  const dir = tempDir();
  const cases: [string, string, RegExp][] = [
    ['not JSON', write(dir, 'notjson.json', 'node_name = "x"'), /notjson\.json: not valid JSON/],
    ['a wrong type', write(dir, 'type.json', { node_name: 'x', tags: ['role=web'] }), /type\.json: "tags" must be an object of strings/],
    ['an unknown key', write(dir, 'unknown.json', { node_name: 'x', bind_addr: '127.0.0.1' }), /unknown\.json: unknown key "bind_addr"/],
    ['too large', write(dir, 'large.json', ' '.repeat(MAX_CONFIG_FILE_BYTES + 1)), /large\.json: larger than 1048576 bytes/],
    ['missing', join(dir, 'missing.json'), /missing\.json: cannot be read: ENOENT/],
  ];
  for (const [label, file, message] of cases) {
    it(label, async () => {
      const r = await runCli(['agent', '--config-file', file, '--bind', '127.0.0.1:0', '--rpc-addr', 'off', '--log-level', 'silent']);
      assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^swimring agent: config file /);
      assert.match(lines[0]!, message);
      assert.equal(r.stdout, '');
    });
  }
});

interface Running {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  started: Record<string, unknown>;
}

/** `swimring agent ARGS` from source, without the name or bind startAgent adds; resolves at its started line. */
async function agentFrom(procs: Processes, args: string[]): Promise<Running> {
  const child = procs.track(
    spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'agent', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-65_536)));
  const started = await waitFor(
    'the started line',
    () =>
      lines.find((l) => l['event'] === 'started') ??
      (child.exitCode !== null ? Promise.reject(new Error(`agent exited ${child.exitCode}: ${stderr}`)) : undefined),
    20_000,
  );
  return { child, lines, started };
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return res.json();
}

interface SerfMember {
  name: string;
  addr: string;
  status: string;
  tags: Record<string, string>;
}

function serfMembers(rpc: string): Promise<SerfMember[] | undefined> {
  return new Promise((resolve) =>
    execFile('serf', ['members', `-rpc-addr=${rpc}`, '-format=json'], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        resolve((JSON.parse(stdout) as { members: SerfMember[] }).members);
      } catch {
        resolve(undefined);
      }
    }),
  );
}

describe('swimring agent from a config directory alone', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  // Needs serf (for its half that checks Serf reads the same file): skipped, and so counted, without it.
  it(
    'comes up with the files’ name, tags, ports and ring; serf agent accepts the same Serf-style file',
    { skip: missingBinary('serf') },
    async () => {
      const [port, rpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
      const dir = tempDir();
      // Only Serf's own keys: serf agent reads this file too.
      const serfFile = write(dir, '10-serf.json', {
        node_name: 'cfg-node',
        bind: `127.0.0.1:${port}`,
        tags: { role: 'web', dc: 'east' },
        rpc_addr: `127.0.0.1:${rpcPort}`,
        log_level: 'WARN',
      });
      write(dir, '20-swimring.json', { partitions: 16, replicas: 2, http: `127.0.0.1:${httpPort}` });

      const agent = await agentFrom(procs, ['--config-dir', dir]);
      assert.deepEqual(agent.started, {
        event: 'started',
        name: 'cfg-node',
        address: `127.0.0.1:${port}`,
        http: `127.0.0.1:${httpPort}`,
        rpc: `127.0.0.1:${rpcPort}`,
      });
      const members = (await getJson(`http://127.0.0.1:${httpPort}/members`)) as {
        name: string;
        address: string;
        tags: Record<string, string>;
      }[];
      assert.equal(members.length, 1);
      assert.equal(members[0]!.name, 'cfg-node');
      assert.equal(members[0]!.address, `127.0.0.1:${port}`);
      assert.equal(members[0]!.tags['role'], 'web');
      assert.equal(members[0]!.tags['dc'], 'east');
      // The second file's keys: the ring is on, with its partitions and replicas.
      const ring = (await getJson(`http://127.0.0.1:${httpPort}/ring`)) as { partitions: number; replicas: number; owners: unknown[] };
      assert.equal(ring.partitions, 16);
      assert.equal(ring.replicas, 2);
      assert.equal(ring.owners.length, 16);

      // Serf's own CLI over the rpc_addr the file set.
      const viaRpc = await waitFor('serf members against swimring', () => serfMembers(`127.0.0.1:${rpcPort}`), 20_000);
      assert.deepEqual(
        viaRpc.map((m) => [m.name, m.tags['role']]),
        [['cfg-node', 'web']],
      );
      await kill(agent.child, 'SIGKILL');

      const serf = procs.track(spawn('serf', ['agent', `-config-file=${serfFile}`], { stdio: 'ignore' }));
      const fromSerf = await waitFor(
        'serf agent started from the file',
        () =>
          serf.exitCode !== null ? Promise.reject(new Error(`serf agent exited ${serf.exitCode}`)) : serfMembers(`127.0.0.1:${rpcPort}`),
        20_000,
      );
      assert.equal(fromSerf.length, 1);
      assert.equal(fromSerf[0]!.name, 'cfg-node');
      assert.equal(fromSerf[0]!.addr, `127.0.0.1:${port}`);
      assert.deepEqual(fromSerf[0]!.tags, { role: 'web', dc: 'east' });
      await kill(serf, 'SIGKILL');
    },
  );

  it('the command line wins over the files: single-valued flags replace, tags merge key by key', async () => {
    const dir = tempDir();
    write(dir, 'a.json', { node_name: 'from-file', bind: '127.0.0.1:1', tags: { role: 'web', dc: 'east' }, rpc_addr: '127.0.0.1:1' });
    write(dir, 'b.json', { http: '127.0.0.1:1', log_level: 'warn' });
    const agent = await agentFrom(procs, [
      '--config-dir',
      dir,
      '--name',
      'from-cli',
      '--bind',
      '127.0.0.1:0',
      '--tag',
      'dc=west',
      '--rpc-addr',
      'off',
      '--http',
      '0',
    ]);
    assert.equal(agent.started['name'], 'from-cli');
    assert.match(String(agent.started['address']), /^127\.0\.0\.1:\d+$/);
    assert.notEqual(agent.started['address'], '127.0.0.1:1');
    assert.equal(agent.started['rpc'], undefined);
    const http = String(agent.started['http']);
    assert.notEqual(http, '127.0.0.1:1');
    const members = (await getJson(`http://${http}/members`)) as { name: string; tags: Record<string, string> }[];
    assert.deepEqual(
      members.map((m) => [m.name, m.tags]),
      [['from-cli', { role: 'web', dc: 'west' }]],
    );
    await kill(agent.child, 'SIGKILL');
  });
});
