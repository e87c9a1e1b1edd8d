// The machine's output pieces: the generic outbox (effects, timers, drops) and the timer tokens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Effect } from '../../src/gossip/machine.js';
import { Outbox } from '../../src/gossip/outbox.js';
import { TimerTokens } from '../../src/gossip/timer-tokens.js';

type TestEffect =
  | { readonly type: 'say'; readonly text: string }
  | { readonly type: 'timer'; readonly timer: { kind: 'tick'; n: number }; readonly atMs: number };

describe('Outbox', () => {
  it('drains effects and timers in the order they were emitted, then is empty', () => {
    const out = new Outbox<TestEffect>();
    out.emit({ type: 'say', text: 'a' });
    out.timer({ kind: 'tick', n: 1 }, 50);
    out.emit({ type: 'say', text: 'b' });
    assert.deepEqual(out.drain(), [
      { type: 'say', text: 'a' },
      { type: 'timer', timer: { kind: 'tick', n: 1 }, atMs: 50 },
      { type: 'say', text: 'b' },
    ]);
    assert.deepEqual(out.drain(), []);
  });

  it('a drained batch is not touched by later effects', () => {
    const out = new Outbox<TestEffect>();
    out.emit({ type: 'say', text: 'a' });
    const first = out.drain();
    out.emit({ type: 'say', text: 'b' });
    assert.deepEqual(first, [{ type: 'say', text: 'a' }]);
    assert.deepEqual(out.drain(), [{ type: 'say', text: 'b' }]);
  });

  it('counts drops by reason into the record it was given, emitting nothing', () => {
    const counters = { drops: {} as Record<string, number> };
    const out = new Outbox<TestEffect>(counters.drops);
    out.drop('crc');
    out.drop('crc');
    out.drop('malformed');
    assert.equal(out.drops, counters.drops);
    assert.deepEqual(counters.drops, { crc: 2, malformed: 1 });
    assert.deepEqual(out.drain(), []);
  });

  it('takes the gossip Effect type, its timers typed from it', () => {
    const out = new Outbox<Effect>();
    out.timer({ kind: 'probe', token: 3 }, 10);
    out.timer({ kind: 'gossipNow' }, 11);
    assert.deepEqual(
      out.drain().map((e) => (e.type === 'timer' ? `${e.timer.kind}@${e.atMs}` : e.type)),
      ['probe@10', 'gossipNow@11'],
    );
  });
});

describe('TimerTokens', () => {
  it('0 is current before any token is taken', () => {
    const tokens = new TimerTokens<'probe' | 'gossip'>();
    assert.equal(tokens.isCurrent('probe', 0), true);
    assert.equal(tokens.isCurrent('probe', 1), false);
  });

  it('each kind counts from 1 on its own, and only its latest token is current', () => {
    const tokens = new TimerTokens<'probe' | 'gossip'>();
    assert.equal(tokens.next('probe'), 1);
    assert.equal(tokens.next('probe'), 2);
    assert.equal(tokens.next('gossip'), 1);
    assert.equal(tokens.isCurrent('probe', 1), false, 'superseded by 2');
    assert.equal(tokens.isCurrent('probe', 2), true);
    assert.equal(tokens.isCurrent('gossip', 1), true, 'kinds do not share a counter');
    assert.equal(tokens.isCurrent('gossip', 2), false);
    assert.equal(tokens.current('probe'), 2);
  });
});
