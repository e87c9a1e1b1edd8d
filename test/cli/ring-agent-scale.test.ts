// `swimring agent --partitions` at the largest ring (docs/budgets.md#ring): it answers /health
// while its initial events are still being printed, prints every one of them, and refuses a larger
// P with one usage line and exit 2.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { Processes, waitFor } from '../helpers/processes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAX = 4_194_304;

describe('swimring agent at the largest ring', () => {
  const procs = new Processes();
  after(() => procs.stopAll());

  it(`--partitions ${MAX}: /health answers while the initial acquires are printed; all of them come out`, async () => {
    const child = procs.track(
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'agent',
          '--name',
          'big',
          '--bind',
          '127.0.0.1:0',
          '--profile',
          'local',
          '--log-level',
          'silent',
          '--partitions',
          String(MAX),
          '--http',
          '127.0.0.1:0',
        ],
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    let acquires = 0;
    let http: string | undefined;
    let partial = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('{"event":"acquire"')) acquires++;
        else if (line.startsWith('{"event":"started"')) http = (JSON.parse(line) as { http: string }).http;
      }
    });
    await waitFor(
      'the agent started',
      () => http !== undefined || (child.exitCode !== null ? Promise.reject(new Error(stderr)) : false),
      60_000,
      20,
    );
    const res = await fetch(`http://${http}/health`, { signal: AbortSignal.timeout(30_000) });
    const printedByThen = acquires;
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
    assert.ok(printedByThen < MAX, `/health answered after ${printedByThen} of ${MAX} acquires`);
    await waitFor('every acquire printed', () => acquires === MAX, 120_000, 100);
  });

  it('--partitions above the maximum: one usage line, exit 2', async () => {
    for (const p of ['20000000', String(MAX + 1)]) {
      const r = await runCli(['agent', '--name', 'x', '--bind', '127.0.0.1:0', '--log-level', 'silent', '--partitions', p]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `swimring agent: --partitions must be an integer in [1, ${MAX}], got ${p}\n`);
    }
  });
});
