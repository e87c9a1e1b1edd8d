// The agent's --event-handler (src/cli/event-handlers.ts): Serf's filter syntax, environment and
// stdin formats, and the runner (one handler at a time, in order, a bounded queue, bounded
// output, timeouts) with real /bin/sh scripts; then the agent's flags and a query answered by a
// handler end to end.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  EventHandlerRunner,
  type EventHandlerRunnerOptions,
  type EventScript,
  type HandlerEvent,
  filterMatches,
  handlerEnv,
  handlerStdin,
  memberLine,
  parseEventHandler,
  tagEnvName,
} from '../../src/cli/event-handlers.js';
import { GossipNode } from '../../src/io/gossip-node.js';
import { encodeQueryResponse } from '../../src/serf/messages.js';
import { runCli } from '../helpers/cli.js';
import { Processes, httpOf, startAgent, waitFor } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'swimring-handlers-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
/** A fresh file path in the temp dir. */
const file = (name: string) => join(dir, `${++seq}-${name}`);

/** Whether a process has ended (a zombie counts: an orphan's reaper may be slow, or absent in a container). */
function dead(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .startsWith('Z');
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
}

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

const self = { name: 'me', tags: { role: 'web', 'dc-name': 'east' } };
const member = (name: string, tags: Record<string, string> = {}) => ({ name, host: '10.0.0.7', tags });
const user = (ltime: number, name = 'deploy', payload = ''): HandlerEvent => ({
  type: 'user',
  name,
  ltime: BigInt(ltime),
  payload: Buffer.from(payload),
});

interface FakeQuery {
  event: HandlerEvent;
  responses: Buffer[];
}
function query(name: string, payload = '', deadlineInMs = 30_000): FakeQuery {
  const responses: Buffer[] = [];
  const event: HandlerEvent = {
    type: 'query',
    name,
    ltime: 42n,
    id: 1234567,
    payload: Buffer.from(payload),
    deadlineMs: performance.now() + deadlineInMs,
    respond: (p) => {
      responses.push(Buffer.from(p));
      return true;
    },
  };
  return { event, responses };
}

function runner(scripts: string[], options: Partial<EventHandlerRunnerOptions> = {}) {
  const { logger, lines } = capture();
  const r = new EventHandlerRunner({ scripts: scripts.flatMap(parseEventHandler), logger, self: () => self, ...options });
  return { r, lines };
}

describe('--event-handler filters (Serf syntax)', () => {
  const f = (value: string) => parseEventHandler(value).map((s: EventScript) => [s.filter.event, s.filter.name, s.script]);

  it('parses what Serf parses', () => {
    assert.deepEqual(f('foo.sh'), [['*', '', 'foo.sh']]);
    assert.deepEqual(f('=foo.sh'), [['*', '', 'foo.sh']]);
    assert.deepEqual(f('*=foo.sh'), [['*', '', 'foo.sh']]);
    assert.deepEqual(f('member-join=foo.sh'), [['member-join', '', 'foo.sh']]);
    assert.deepEqual(f('member-leave,member-failed=x'), [
      ['member-leave', '', 'x'],
      ['member-failed', '', 'x'],
    ]);
    for (const e of ['member-update', 'member-reap', 'user', 'query']) assert.deepEqual(f(`${e}=x`), [[e, '', 'x']]);
    assert.deepEqual(f('user:deploy=./deploy.sh'), [['user', 'deploy', './deploy.sh']]);
    assert.deepEqual(f('query:load=uptime'), [['query', 'load', 'uptime']]);
    assert.deepEqual(f('user:=x'), [['user', '', 'x']], 'an empty name is any name');
    assert.deepEqual(f('query:a:b=x'), [['query', 'a:b', 'x']]);
    assert.deepEqual(f('member-join=A=1 ./x.sh'), [['member-join', '', 'A=1 ./x.sh']], 'split at the first =');
    assert.deepEqual(f('member-join='), [['member-join', '', '']]);
  });

  it('refuses what Serf refuses, naming the bad filter', () => {
    for (const [value, entry] of [
      ['bogus=x', 'bogus'],
      ['member-join,=x', ''],
      ['FOO=bar ./x.sh', 'FOO'],
      ['member-join,member-joined=x', 'member-joined'],
      ['User:deploy=x', 'User:deploy'],
      ['*:x=y', '*:x'],
      ['member-*=x', 'member-*'],
      [' member-join=x', ' member-join'],
    ] as const) {
      assert.throws(
        () => parseEventHandler(value),
        (err: Error) =>
          err.name === 'UsageError' && err.message.includes(`invalid event filter ${JSON.stringify(entry)}`) && !err.message.includes('\n'),
        value,
      );
    }
  });

  it('matches events as Serf does', () => {
    const [any] = parseEventHandler('x');
    const [join] = parseEventHandler('member-join=x');
    const [users] = parseEventHandler('user=x');
    const [deploy] = parseEventHandler('user:deploy=x');
    const [ping] = parseEventHandler('query:ping=x');
    const joinEvent: HandlerEvent = { type: 'member-join', members: [member('a')] };
    const leaveEvent: HandlerEvent = { type: 'member-leave', members: [member('a')] };
    assert.ok(
      filterMatches(any!.filter, joinEvent) && filterMatches(any!.filter, user(1)) && filterMatches(any!.filter, query('ping').event),
    );
    assert.ok(filterMatches(join!.filter, joinEvent) && !filterMatches(join!.filter, leaveEvent) && !filterMatches(join!.filter, user(1)));
    assert.ok(filterMatches(users!.filter, user(1, 'x')) && !filterMatches(users!.filter, query('x').event));
    assert.ok(
      filterMatches(deploy!.filter, user(1, 'deploy')) &&
        !filterMatches(deploy!.filter, user(1, 'deploy2')) &&
        !filterMatches(deploy!.filter, user(1, 'Deploy')),
    );
    assert.ok(
      filterMatches(ping!.filter, query('ping').event) &&
        !filterMatches(ping!.filter, query('pong').event) &&
        !filterMatches(ping!.filter, user(1, 'ping')),
    );
  });
});

describe('the handler environment and stdin (Serf invoke.go formats)', () => {
  it('names tag variables as Serf: upper-cased, then anything outside [A-Z0-9_] is one _', () => {
    assert.equal(tagEnvName('role'), 'ROLE');
    assert.equal(tagEnvName('dc-name'), 'DC_NAME');
    assert.equal(tagEnvName('app.version'), 'APP_VERSION');
    assert.equal(tagEnvName('a b=c'), 'A_B_C');
    assert.equal(tagEnvName('9lives_X'), '9LIVES_X');
    // Go upper-cases rune by rune: é → É (then _), ı → I, ſ → S, ß stays ß (then _).
    assert.equal(tagEnvName('zoné'), 'ZON_');
    assert.equal(tagEnvName('ıd'), 'ID');
    assert.equal(tagEnvName('ſ'), 'S');
    assert.equal(tagEnvName('straße'), 'STRA_E');
    assert.equal(tagEnvName('日本'), '__');
    assert.equal(tagEnvName('😀x'), '_X', 'one _ per character, not per UTF-16 unit or byte');
    assert.equal(tagEnvName(''), '');
  });

  it('builds the environment: inherited, then SERF_* (which win)', () => {
    const tags = { role: 'db', 'dc-name': 'east', 'a-b': 'dash', a_b: 'underscore', ıd: 'x', note: 'a\tb,c=d' };
    const inherited = { PATH: '/usr/bin', SERF_EVENT: 'stale', SERF_USER_EVENT: 'inherited', KEEP: 'yes', UNSET: undefined };
    const env = handlerEnv({ name: 'node-1', tags }, { type: 'member-join', members: [] }, inherited);
    assert.deepEqual(Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('SERF_'))), {
      SERF_EVENT: 'member-join',
      SERF_SELF_NAME: 'node-1',
      SERF_SELF_ROLE: 'db',
      SERF_TAG_ROLE: 'db',
      SERF_TAG_DC_NAME: 'east',
      SERF_TAG_A_B: 'underscore', // a-b and a_b collide: the later key in sorted order wins
      SERF_TAG_ID: 'x',
      SERF_TAG_NOTE: 'a\tb,c=d',
      SERF_USER_EVENT: 'inherited', // not a user event: the inherited value stays, as in Serf
    });
    assert.equal(env['PATH'], '/usr/bin');
    assert.equal(env['KEEP'], 'yes');
    assert.ok(!('UNSET' in env));

    const noRole = handlerEnv({ name: 'n', tags: {} }, user(77, 'deploy'), {});
    assert.deepEqual(noRole, {
      SERF_EVENT: 'user',
      SERF_SELF_NAME: 'n',
      SERF_SELF_ROLE: '',
      SERF_USER_EVENT: 'deploy',
      SERF_USER_LTIME: '77',
    });
    const q = handlerEnv(
      { name: 'n', tags: {} },
      { ...(query('ping').event as Extract<HandlerEvent, { type: 'query' }>), ltime: 18446744073709551615n },
      {},
    );
    assert.deepEqual(q, {
      SERF_EVENT: 'query',
      SERF_SELF_NAME: 'n',
      SERF_SELF_ROLE: '',
      SERF_QUERY_NAME: 'ping',
      SERF_QUERY_LTIME: '18446744073709551615',
    });
  });

  it('writes member lines as Serf: name, address, role, tags (tabs and newlines escaped)', () => {
    assert.equal(
      memberLine(member('web-1', { role: 'web', zone: 'b', 'dc-name': 'east' })),
      'web-1\t10.0.0.7\tweb\tdc-name=east,role=web,zone=b\n',
    );
    assert.equal(memberLine(member('bare')), 'bare\t10.0.0.7\t\t\n');
    assert.equal(
      memberLine({ name: 'odd\tname\n', host: '::1', tags: { role: 'a\tb', k: 'v,w=x\ny' } }),
      'odd\\tname\\n\t::1\ta\\tb\tk=v,w=x\\ny,role=a\\tb\n',
    );
    const event: HandlerEvent = { type: 'member-failed', members: [member('a'), member('b', { role: 'r' })] };
    assert.equal(handlerStdin(event).toString(), 'a\t10.0.0.7\t\t\nb\t10.0.0.7\tr\trole=r\n', 'one line per member');
  });

  it('gives user events and queries their payload, with a newline appended when missing', () => {
    assert.equal(handlerStdin(user(1, 'x', 'v42')).toString(), 'v42\n');
    assert.equal(handlerStdin(user(1, 'x', 'a\n')).toString(), 'a\n');
    assert.equal(handlerStdin(user(1, 'x', '')).length, 0);
    assert.deepEqual(handlerStdin({ ...user(1), payload: Uint8Array.of(0, 255) } as HandlerEvent), Buffer.from([0, 255, 0x0a]));
    assert.equal(handlerStdin(query('q', 'hello').event).toString(), 'hello\n');
  });
});

describe('the handler runner (real /bin/sh scripts)', () => {
  it('runs the script with that environment and stdin, for the events its filter takes', async () => {
    const env = file('env');
    const stdin = file('stdin');
    const { r } = runner([`member-join=env > ${env}.tmp; cat > ${stdin}.tmp; mv ${env}.tmp ${env}; mv ${stdin}.tmp ${stdin}`], {
      env: { PATH: process.env['PATH'], INHERITED: 'yes' },
    });
    r.push({ type: 'member-leave', members: [member('ignored')] });
    r.push({ type: 'member-join', members: [member('web-1', { role: 'web' })] });
    await r.whenIdle();
    const vars = Object.fromEntries(
      readFileSync(env, 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(vars['SERF_EVENT'], 'member-join');
    assert.equal(vars['SERF_SELF_NAME'], 'me');
    assert.equal(vars['SERF_SELF_ROLE'], 'web');
    assert.equal(vars['SERF_TAG_DC_NAME'], 'east');
    assert.equal(vars['INHERITED'], 'yes');
    assert.equal(readFileSync(stdin, 'utf8'), 'web-1\t10.0.0.7\tweb\trole=web\n');
    assert.equal(r.stats.runs, 1, 'the member-leave matched no handler');
  });

  it('runs handlers one at a time, in event order, each matching script in flag order', async () => {
    const log = file('order');
    const { r } = runner([
      `user=echo "start $SERF_USER_LTIME" >> ${log}; sleep 0.05; echo "end $SERF_USER_LTIME" >> ${log}`,
      `user:deploy=echo "deploy $SERF_USER_LTIME" >> ${log}`,
    ]);
    for (let i = 1; i <= 4; i++) r.push(user(i, i % 2 === 0 ? 'deploy' : 'other'));
    await r.whenIdle();
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
      'start 1',
      'end 1',
      'start 2',
      'end 2',
      'deploy 2',
      'start 3',
      'end 3',
      'start 4',
      'end 4',
      'deploy 4',
    ]);
  });

  it('bounds the queue: past the bound the oldest waiting event is dropped, counted and logged', async () => {
    const go = file('go');
    const log = file('log');
    const started = file('started');
    const { r, lines } = runner([`user=touch ${started}; while [ ! -e ${go} ]; do sleep 0.02; done; echo $SERF_USER_LTIME >> ${log}`], {
      maxQueuedEvents: 2,
    });
    r.push(user(1));
    await waitFor('the first handler runs', () => existsSync(started), 20_000, 20);
    for (let i = 2; i <= 5; i++) r.push(user(i));
    assert.equal(r.queued, 2);
    writeFileSync(go, '');
    await r.whenIdle();
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['1', '4', '5']);
    assert.equal(r.stats.dropped, 2);
    assert.ok(lines.some((l) => l['level'] === 40 && /queue full/.test(String(l['msg'])) && l['droppedTotal'] === 1));
  });

  it('logs a failing handler with its exit code and output, and goes on', async () => {
    const after = file('after');
    const { r, lines } = runner([`user:bad=echo "it broke" >&2; exit 3`, `user:good=touch ${after}`]);
    r.push(user(1, 'bad'));
    r.push(user(2, 'good'));
    await r.whenIdle();
    const warn = lines.find((l) => l['msg'] === 'event handler failed');
    assert.ok(warn, JSON.stringify(lines));
    assert.equal(warn['level'], 40);
    assert.equal(warn['exitCode'], 3);
    assert.equal(warn['output'], 'it broke\n');
    assert.equal(warn['event'], 'user:bad');
    assert.ok(existsSync(after));
    assert.deepEqual({ failed: r.stats.failed, runs: r.stats.runs }, { failed: 1, runs: 2 });
  });

  it('kills a hanging handler (and what it started) at its timeout; the next event still runs', async () => {
    const bgPid = file('bgpid');
    const next = file('next');
    const { r, lines } = runner([`user:hang=sleep 600 & echo $! > ${bgPid}; echo partial; wait`, `user:next=touch ${next}`], {
      timeoutMs: 300,
    });
    r.push(user(1, 'hang'));
    r.push(user(2, 'next'));
    await r.whenIdle();
    assert.ok(existsSync(next), 'the next event ran');
    assert.equal(r.stats.timedOut, 1);
    const warn = lines.find((l) => l['msg'] === 'event handler killed after its timeout');
    assert.ok(warn);
    assert.equal(warn['timeoutMs'], 300);
    assert.equal(warn['output'], 'partial\n');
    const pid = Number(readFileSync(bgPid, 'utf8'));
    await waitFor('the handler’s background sleep was killed too', () => dead(pid), 20_000, 20);
  });

  it('does not wait on a background process that keeps the output open after the script exits', async () => {
    const bgPid = file('bgpid');
    const next = file('next');
    const { r } = runner([`user:bg=sleep 600 & echo $! > ${bgPid}`, `user:next=touch ${next}`]);
    r.push(user(1, 'bg'));
    r.push(user(2, 'next'));
    await r.whenIdle();
    assert.ok(existsSync(next));
    assert.deepEqual({ failed: r.stats.failed, timedOut: r.stats.timedOut }, { failed: 0, timedOut: 0 });
    process.kill(Number(readFileSync(bgPid, 'utf8')), 'SIGKILL');
  });

  it('bounds captured output: the last maxOutputBytes are kept and the truncation logged', async () => {
    const { r, lines } = runner([`user=head -c 5000 /dev/zero | tr '\\0' a; echo; echo END; exit 1`], { maxOutputBytes: 100 });
    r.push(user(1));
    await r.whenIdle();
    const truncated = lines.find((l) => l['msg'] === 'event handler output truncated');
    assert.deepEqual([truncated?.['bytes'], truncated?.['kept']], [5005, 100]);
    const failed = lines.find((l) => l['msg'] === 'event handler failed');
    assert.equal(String(failed?.['output']).length, 100);
    assert.ok(String(failed?.['output']).endsWith('aaa\nEND\n'));
  });

  describe('queries', () => {
    it('answers with the output (stdout and stderr in order) of a handler that exits 0', async () => {
      const stdin = file('stdin');
      const { r } = runner([`query:ping=cat > ${stdin}; echo pong; echo warn >&2; echo pong2`]);
      const q = query('ping', 'hello');
      r.push(q.event);
      await r.whenIdle();
      assert.deepEqual(q.responses.map(String), ['pong\nwarn\npong2\n']);
      assert.equal(readFileSync(stdin, 'utf8'), 'hello\n');
      assert.equal(r.stats.responses, 1);
    });

    it('sends no answer for empty output or a failing handler', async () => {
      const { r } = runner(['query:empty=true', 'query:fail=echo nope; exit 1']);
      const empty = query('empty');
      const fail = query('fail');
      r.push(empty.event);
      r.push(fail.event);
      await r.whenIdle();
      assert.deepEqual([empty.responses.length, fail.responses.length], [0, 0]);
    });

    it('refuses (does not truncate) an answer whose encoded message passes the size limit, as Serf', async () => {
      // The largest payload whose query response message fits 1024 bytes, for this query and name.
      const fits = (n: number) =>
        encodeQueryResponse({ ltime: 42n, id: 1234567, from: 'me', flags: 0, payload: new Uint8Array(n) }).length <= 1024;
      let max = 0;
      while (fits(max + 1)) max++;
      assert.ok(max > 900 && max < 1024);
      const { r, lines } = runner([`query=head -c $(cat) /dev/zero | tr '\\0' x`]);
      const ok = query('fit', String(max));
      const big = query('big', String(max + 1));
      r.push(ok.event);
      r.push(big.event);
      await r.whenIdle();
      assert.deepEqual(
        ok.responses.map((b) => b.length),
        [max],
      );
      assert.equal(big.responses.length, 0);
      assert.ok(lines.some((l) => l['level'] === 40 && String(l['msg']).includes('response exceeds limit of 1024 bytes')));
    });

    it("kills a query's handler at the query's deadline, and skips one whose deadline passed in the queue", async () => {
      const { r, lines } = runner(['query=sleep 600; echo late']);
      const slow = query('slow', '', 300);
      const expired = query('expired', '', 250);
      r.push(slow.event);
      r.push(expired.event);
      await r.whenIdle();
      assert.deepEqual([slow.responses.length, expired.responses.length], [0, 0]);
      assert.deepEqual([r.stats.timedOut, r.stats.expired], [1, 1]);
      assert.ok(lines.some((l) => l['msg'] === 'query deadline passed while queued: handler not run'));
    });

    it('logs an answer the node would not send (already answered)', async () => {
      const { r, lines } = runner(['query=echo one', 'query=echo two']);
      let answered = false;
      const responses: string[] = [];
      const event: HandlerEvent = {
        ...(query('q').event as Extract<HandlerEvent, { type: 'query' }>),
        respond: (p) => {
          if (answered) return false;
          answered = true;
          responses.push(Buffer.from(p).toString());
          return true;
        },
      };
      r.push(event);
      await r.whenIdle();
      assert.deepEqual(responses, ['one\n']);
      assert.ok(lines.some((l) => l['msg'] === 'query response not sent: past the deadline or already answered'));
    });
  });
});

describe("attach: a node's events to its handlers", () => {
  it('runs them for our own join, members, user events and queries; a leaving status is no member-update', async () => {
    const log = file('attach');
    const a = await GossipNode.create({ name: 'att-a', bind: '127.0.0.1:0', profile: 'local', tags: { role: 'api' } });
    const b = await GossipNode.create({ name: 'att-b', bind: '127.0.0.1:0', profile: 'local' });
    try {
      const { logger } = capture();
      const scripts = [
        `member-join,member-update,member-leave,member-failed=echo "$SERF_EVENT $(tr '\\t' '|')" >> ${log}`,
        `user:deploy=echo "user $SERF_USER_EVENT $(cat)" >> ${log}`,
        'query:ping=echo pong',
      ];
      const r = new EventHandlerRunner({ scripts: scripts.flatMap(parseEventHandler), logger }).attach(a);
      const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
      await b.join([`127.0.0.1:${a.address.port}`]);
      await waitFor('att-b joined', () => lines().includes('member-join att-b|127.0.0.1||'), 20_000, 20);
      b.setTags({ zone: 'c' });
      await waitFor('att-b updated', () => lines().includes('member-update att-b|127.0.0.1||zone=c'), 20_000, 20);
      b.userEvent('deploy', Buffer.from('v1'));
      await waitFor('the user event', () => lines().includes('user deploy v1'), 20_000, 20);
      const replies = [];
      for await (const reply of b.query('ping', new Uint8Array(0), { timeoutMs: 5000 })) replies.push(reply);
      assert.deepEqual(
        replies.map((x) => (x.type === 'response' ? [x.from, Buffer.from(x.payload).toString()] : [x.from])),
        [['att-a', 'pong\n']],
      );
      await b.leave();
      await waitFor('att-b left', () => lines().includes('member-leave att-b|127.0.0.1||zone=c'), 20_000, 20);
      await r.whenIdle();
      assert.deepEqual(lines(), [
        'member-join att-a|127.0.0.1|api|role=api',
        'member-join att-b|127.0.0.1||',
        'member-update att-b|127.0.0.1||zone=c',
        'user deploy v1',
        'member-leave att-b|127.0.0.1||zone=c',
      ]);
      assert.equal(r.stats.responses, 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('swimring agent --event-handler', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  it('refuses a bad filter or timeout before binding anything: one line, exit 2', async () => {
    for (const [args, message] of [
      [
        ['--event-handler', 'member-join,bogus=./x.sh'],
        /^swimring agent: --event-handler has an invalid event filter "bogus" in "member-join,bogus=\.\/x\.sh"/,
      ],
      [['--event-handler', 'x', '--event-handler-timeout', '0s'], /^swimring agent: --event-handler-timeout must be positive/],
      [['--event-handler-timeout', '5s'], /^swimring agent: --event-handler-timeout needs --event-handler/],
    ] as const) {
      const r = await runCli(['agent', '--name', 'x', '--bind', '127.0.0.1:0', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
  });

  it("answers a query through its handler (the README's query:ping example), and sees its own join", async () => {
    const joins = file('joins');
    const agent = await startAgent(procs, 'eh-1', [
      '--http',
      '127.0.0.1:0',
      '--tag',
      'role=web',
      '--event-handler',
      'query:ping=echo pong',
      '--event-handler',
      `member-join=cat >> ${joins}`,
    ]);
    const res = await fetch(`http://${httpOf(agent)}/query?name=ping&timeout=3s`, { method: 'POST' });
    const replies = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      replies.filter((l) => l['type'] === 'response'),
      [{ type: 'response', from: 'eh-1', payload: 'pong\n' }],
    );
    await waitFor(
      'the handler saw its own member-join',
      () => existsSync(joins) && readFileSync(joins, 'utf8') === 'eh-1\t127.0.0.1\tweb\trole=web\n',
      20_000,
    );
  });
});
