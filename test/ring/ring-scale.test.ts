// Rings at scale (docs/budgets.md#ring): events() hands out the initial holdings in bounded slices
// with turns of the event loop between them, in order; rings take P up to 4 194 304 and refuse more.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { MAX_RING_PARTITIONS } from '../../src/ring/event-queue.js';
import { EVENTS_PER_TURN, createRing } from '../../src/ring/ring.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const base = { bind: '127.0.0.1:0', profile: 'local' as const };

/** Drains `count` events of a ring alone, recording how many had come out at each event-loop turn. */
async function drainWithTurns(partitions: number): Promise<{ partitions: number[]; turns: number[]; timerAt: number }> {
  const ring = await createRing({ ...base, name: 'solo', partitions });
  const seen: number[] = [];
  const turns: number[] = [];
  let done = false;
  let timerAt = -1;
  const tick = () => {
    turns.push(seen.length);
    if (!done) setImmediate(tick);
  };
  try {
    setTimeout(() => (timerAt = seen.length), 0);
    const stop = new AbortController();
    setImmediate(tick);
    for await (const e of ring.events({ signal: stop.signal })) {
      if (e.type !== 'acquire' || e.replica !== 0) assert.fail(`unexpected ${JSON.stringify(e)}`);
      seen.push(e.partition);
      if (seen.length === partitions) break;
    }
    done = true;
    return { partitions: seen, turns, timerAt };
  } finally {
    await ring.close();
  }
}

describe('ring events at scale', () => {
  it('the initial drain yields to the event loop between bounded slices: setImmediate and timers run during it', async () => {
    const P = 16_384;
    const { partitions, turns, timerAt } = await drainWithTurns(P);
    assert.deepEqual(
      partitions,
      Array.from({ length: P }, (_, p) => p),
      'every partition once, ascending',
    );
    const during = turns.filter((n) => n < P);
    assert.ok(during.length >= P / EVENTS_PER_TURN - 1, `setImmediate ran ${during.length} times during the drain`);
    for (let i = 1; i < turns.length; i++)
      assert.ok(turns[i]! - turns[i - 1]! <= EVENTS_PER_TURN, `a slice of ${turns[i]! - turns[i - 1]!} events`);
    assert.ok(timerAt >= 0 && timerAt < P, `a 0 ms timer ran after ${timerAt} of ${P} events`);
  });

  it(`a ring of ${MAX_RING_PARTITIONS} partitions drains all of them in order, in slices`, async () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/ring-drain.ts', String(MAX_RING_PARTITIONS)], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    const r = JSON.parse(child.stdout) as { count: number; ascending: boolean; widest: number; turns: number };
    assert.equal(r.count, MAX_RING_PARTITIONS);
    assert.ok(r.ascending, 'all partitions, ascending');
    assert.ok(r.widest <= EVENTS_PER_TURN, `widest slice ${r.widest}`);
    assert.ok(r.turns >= MAX_RING_PARTITIONS / EVENTS_PER_TURN, `${r.turns} turns`);
  });

  it('rings refuse P above the largest materialized table, naming partitions and the range', async () => {
    for (const partitions of [MAX_RING_PARTITIONS + 1, 20_000_000, 2 ** 31 - 1, 0, 1.5]) {
      await assert.rejects(createRing({ ...base, name: 'x', partitions }), {
        code: 'ERR_INVALID_OPTION',
        message: /^partitions must be an integer in \[1, 4194304\]/,
      });
    }
  });
});
