import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BroadcastQueue } from '../../src/gossip/broadcast-queue.js';

const msg = (n: number) => Uint8Array.of(n);
const to = (key: string, up = true) => ({ key, up });

describe('broadcast queue', () => {
  it('sends the least transmitted first and retires a message after `limit` transmits', () => {
    const q = new BroadcastQueue(16);
    const done: string[] = [];
    q.queue({ key: 'a', bytes: msg(1), done: (r) => done.push(`a:${r}`) });
    assert.deepEqual(q.take(1, 100, 2), [msg(1)]);
    q.queue({ key: 'b', bytes: msg(2) });
    assert.deepEqual(q.take(1, 2, 2), [msg(2)], 'the unsent one first when only one fits');
    assert.deepEqual(q.take(1, 100, 2), [msg(2), msg(1)], 'equals: the newest first');
    assert.deepEqual(done, ['a:sent']);
    assert.equal(q.length, 0);
  });

  it('newer news about a member replaces the queued one', () => {
    const q = new BroadcastQueue(16);
    const done: string[] = [];
    q.queue({ key: 'a', bytes: msg(1), done: (r) => done.push(r) });
    q.queue({ key: 'a', bytes: msg(2) });
    assert.deepEqual(done, ['replaced']);
    assert.deepEqual(q.take(1, 100, 4), [msg(2)]);
  });

  it('never sends a message to the member that told us, nor twice to the same member', () => {
    const q = new BroadcastQueue(16);
    q.queue({ key: 'x', bytes: msg(1), source: 'A' });
    assert.deepEqual(q.take(1, 100, 3, to('A')), [], 'the source has it');
    assert.deepEqual(q.take(1, 100, 3, to('B')), [msg(1)]);
    assert.deepEqual(q.take(1, 100, 3, to('B')), [], 'B has it now');
    assert.deepEqual(q.take(1, 100, 3, to('C')), [msg(1)]);
    assert.equal(q.length, 1, 'two of three transmits used, each on a new member');
  });

  it('a member that was not up when told may be told again', () => {
    const q = new BroadcastQueue(16);
    q.queue({ key: 'x', bytes: msg(1) });
    assert.deepEqual(q.take(1, 100, 4, to('D', false)), [msg(1)]);
    assert.deepEqual(q.take(1, 100, 4, to('D', true)), [msg(1)]);
    assert.deepEqual(q.take(1, 100, 4, to('D', true)), []);
  });

  it('skips cost no transmit, but `limit` of them end a message that everyone around has', () => {
    const q = new BroadcastQueue(16);
    const done: string[] = [];
    q.queue({ key: 'x', bytes: msg(1), source: 'A', done: (r) => done.push(r) });
    q.take(1, 100, 3, to('B'));
    // Only A and B are left to gossip to, and both have it.
    assert.deepEqual(q.take(1, 100, 3, to('A')), []);
    assert.deepEqual(q.take(1, 100, 3, to('B')), []);
    assert.deepEqual(done, []);
    assert.deepEqual(q.take(1, 100, 3, to('A')), []);
    assert.deepEqual(done, ['sent']);
    assert.equal(q.length, 0);
  });

  it('counts the untried: a message leaves that count once a packet was filled for it, sent or skipped', () => {
    const q = new BroadcastQueue(16);
    q.queue({ key: 'x', bytes: msg(1), source: 'A' });
    q.queue({ key: 'y', bytes: msg(2) });
    assert.equal(q.untried, 2);
    q.take(1, 100, 4, to('A'));
    assert.equal(q.untried, 0, 'y went to A; x was skipped for A, which told us');
    q.queue({ key: 'y', bytes: msg(3) });
    assert.equal(q.untried, 1, 'newer news replaces y and is untried');
  });

  it('is bounded: past its depth the most transmitted message is dropped and counted', () => {
    const q = new BroadcastQueue(16);
    const done: string[] = [];
    q.queue({ key: null, bytes: msg(0), done: (r) => done.push(r) });
    q.take(1, 100, 8);
    for (let i = 1; i <= 16; i++) q.queue({ key: null, bytes: msg(i) });
    assert.equal(q.length, 16);
    assert.equal(q.dropped, 1);
    assert.deepEqual(done, ['dropped']);
  });
});
