// Serf's member statuses from memberlist's events and the intents, and reaping (src/serf/serf-members.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SerfMembers } from '../../src/serf/serf-members.js';
import { view } from './helpers.js';

// docs/protocol.md#join-and-leave-intents, docs/protocol.md#member-status
describe('Serf member status rules', () => {
  it('memberlist events and intents give alive / leaving / left / failed as Serf does', () => {
    const m = new SerfMembers('me');
    m.nodeJoin(view('a'), {});
    assert.equal(m.leaveIntent('a', 5n, false, true, 0).verdict, 'rebroadcast');
    assert.equal(m.get('a')?.status, 'leaving');
    assert.equal(m.leaveIntent('a', 5n, false, true, 0).verdict, 'ignore', 'not newer');
    assert.deepEqual(m.nodeLeave('a', 10)?.change, 'leave');
    assert.equal(m.get('a')?.status, 'left');
    m.nodeJoin(view('b'), {});
    assert.deepEqual(m.nodeLeave('b', 10)?.change, 'failed', 'dead without a leave intent is a failure');
    assert.deepEqual(m.leaveIntent('b', 3n, false, true, 11).event?.change, 'leave', 'force-leave: failed becomes left');
    assert.equal(m.get('b')?.status, 'left');
    // A join intent before the member: held, then applied when it shows up.
    assert.equal(m.joinIntent('c', 8n, 0).rebroadcast, true);
    assert.equal(m.joinIntent('c', 8n, 0).rebroadcast, false, 'seen already: not rebroadcast');
    m.nodeJoin(view('c'), {});
    assert.equal(m.statusLTime('c'), 8n);
    // A leave intent before the member: it arrives leaving.
    m.leaveIntent('d', 4n, false, true, 0);
    assert.equal(m.nodeJoin(view('d'), {}).member.status, 'leaving');
    assert.equal(m.joinIntent('d', 9n, 0).rebroadcast, true);
    assert.equal(m.get('d')?.status, 'alive', 'a newer join intent makes it alive');
    // A stale leave about ourselves is refuted.
    m.nodeJoin(view('me'), {});
    assert.equal(m.leaveIntent('me', 20n, false, true, 0).verdict, 'refute');
    // Prune erases a failed member at once.
    m.nodeJoin(view('e'), {});
    m.nodeLeave('e', 0);
    assert.equal(m.leaveIntent('e', 30n, true, true, 0).event?.change, 'reap');
    assert.equal(m.get('e'), undefined);
  });

  it('a member revived by memberlist after a leave intent is alive (Serf), and its dead{From = self} reads as left', () => {
    const m = new SerfMembers('me');
    m.nodeJoin(view('x'), {});
    m.nodeLeave('x', 0); // failed
    m.leaveIntent('x', 6n, false, true, 1); // left (force)
    assert.equal(m.nodeJoin(view('x'), {}).member.status, 'alive', 'a late refutation racing its leave');
    assert.equal(m.nodeLeave('x', 2, true)?.change, 'leave', 'its dead{From = self} reads as left');
  });

  it('reaps failed members after the reconnect timeout and left ones after the tombstone timeout', () => {
    const m = new SerfMembers('me');
    m.nodeJoin(view('f'), {});
    m.nodeJoin(view('l'), {});
    m.nodeLeave('f', 1000);
    m.leaveIntent('l', 2n, false, true, 0);
    m.nodeLeave('l', 1000);
    assert.deepEqual(
      m.reap(5000, 10_000, 3000, 1000).map((e) => e.member.name),
      ['l'],
    );
    assert.deepEqual(
      m.reap(20_000, 10_000, 3000, 1000).map((e) => e.member.name),
      ['f'],
    );
  });

  it('memberlist’s dead{From = self} is a graceful leave even if the member was not leaving', () => {
    const m = new SerfMembers('me');
    m.nodeJoin(view('a'), {});
    assert.equal(m.nodeLeave('a', 10, true)?.change, 'leave');
    assert.equal(m.get('a')?.status, 'left');
    m.nodeJoin(view('b'), {});
    assert.equal(m.nodeLeave('b', 10, false)?.change, 'failed');
  });
});
