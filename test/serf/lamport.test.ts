// Serf's Lamport clocks (src/serf/lamport.ts) are Go uint64s: they wrap past 2^64−1 to 0. How the
// Serf layer's parts keep working across the wrap is tested with each part.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LamportClock } from '../../src/serf/lamport.js';
import { MAX } from './helpers.js';

// docs/protocol.md#lamport-clocks
describe('Serf Lamport clocks', () => {
  it('start at 1; increment moves on and returns the new time (Go); witness jumps past what it sees', () => {
    const c = new LamportClock();
    assert.equal(c.time, 1n);
    assert.equal(c.increment(), 2n);
    assert.equal(c.time, 2n);
    c.witness(1n);
    assert.equal(c.time, 2n, 'the past changes nothing');
    c.witness(2n);
    assert.equal(c.time, 3n, 'the present moves us just beyond it');
    c.witness(0xfffffffffffn);
    assert.equal(c.time, 0x100000000000n);
  });
});

describe('LamportClock as Go uint64', () => {
  it('Increment returns the new time (Go) and wraps from 2^64−1 to 0', () => {
    const c = new LamportClock();
    assert.equal(c.time, 1n);
    assert.equal(c.increment(), 2n);
    c.witness(MAX - 1n);
    assert.equal(c.time, MAX);
    assert.equal(c.increment(), 0n);
    assert.equal(c.time, 0n);
    assert.equal(c.increment(), 1n);
  });

  it('witnessing 2^64−1 wraps to 0, whatever the time; after the wrap it counts on from there', () => {
    const c = new LamportClock();
    c.witness(MAX);
    assert.equal(c.time, 0n);
    c.witness(MAX);
    assert.equal(c.time, 0n, 'again: 2^64−1 is never older than the time');
    c.witness(5n);
    assert.equal(c.time, 6n);
    c.witness(3n);
    assert.equal(c.time, 6n, 'the past changes nothing');
    c.witness(MAX - 2n);
    assert.equal(c.time, MAX - 1n);
    c.witness(MAX - 1n);
    assert.equal(c.time, MAX);
  });
});
