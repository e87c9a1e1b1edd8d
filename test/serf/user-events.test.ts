// Serf's user events through the SerfMachine (src/serf/user-events.ts): delivery of our own,
// coalescing, and the event clock across a wrap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeUserEvent } from '../../src/serf/messages.js';
import { MAX, events, machine, machineKnowingB, of, serfPacket, text } from './helpers.js';

describe('SerfMachine', () => {
  it('our own events are delivered; coalescing delivers only the newest of a name when the period ends', () => {
    const m = machine();
    m.userEvent('plain', text('1'), false, 0);
    assert.deepEqual(
      of(m.drain(), 'event').map((e) => e.event.name),
      ['plain'],
    );
    m.userEvent('deploy', text('v1'), true, 0);
    m.userEvent('deploy', text('v2'), true, 50);
    const timers = of(m.drain(), 'timer').filter((t) => t.timer.kind === 'coalesceFlush');
    assert.equal(of(m.drain(), 'event').length, 0, 'held');
    m.handleTimer(timers.at(-1)!.timer, timers.at(-1)!.atMs);
    assert.deepEqual(
      of(m.drain(), 'event').map((e) => Buffer.from(e.event.payload).toString()),
      ['v2'],
    );
  });
});

describe('the Serf layer across a wrap', () => {
  it('a user event at 2^64−1 wraps the event clock to 0; our next event is at 0 and is delivered', () => {
    const m = machineKnowingB();
    m.handlePacket(
      { host: '10.9.9.9', port: 7946 },
      serfPacket(encodeUserEvent({ ltime: MAX, name: 'forged', payload: text('!'), coalesce: false })),
      1,
    );
    assert.deepEqual(
      events(m.drain()).map((e) => e.ltime),
      [MAX],
    );
    assert.equal(m.eventClock.time, 0n);
    m.userEvent('deploy', text('v1'), false, 2);
    assert.deepEqual(
      events(m.drain()).map((e) => [e.name, e.ltime]),
      [['deploy', 0n]],
    );
    assert.equal(m.eventClock.time, 1n);
    // A peer's next event, at 1, is delivered too.
    m.handlePacket(
      { host: '10.0.0.2', port: 7946 },
      serfPacket(encodeUserEvent({ ltime: 1n, name: 'next', payload: text(''), coalesce: false })),
      3,
    );
    assert.deepEqual(
      events(m.drain()).map((e) => [e.name, e.ltime]),
      [['next', 1n]],
    );
  });
});
