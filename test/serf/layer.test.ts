// The Serf layer's parts: push/pull state, query filters, internal payloads, duplicate rings,
// recent intents, member status rules, coalescing, and the machine's queries and key operations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAlive, encodeUser } from '../../src/gossip/codec/messages.js';
import { DecodeError, Writer } from '../../src/gossip/codec/msgpack.js';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { packPacket } from '../../src/gossip/codec/packet.js';
import { UserEventCoalescer } from '../../src/serf/coalesce.js';
import {
  decodeConflictResponse,
  decodeKeyRequest,
  decodeKeyResponse,
  decodeRelay,
  encodeConflictResponse,
  encodeKeyRequest,
  encodeKeyResponse,
  encodeRelay,
} from '../../src/serf/internal-messages.js';
import { decodeQueryResponse, encodeQueryResponse } from '../../src/serf/messages.js';
import { decodeSerfState, encodeSerfState } from '../../src/serf/push-pull.js';
import { compileTagExpr, decodeFilter, encodeFilter, filtersMatch } from '../../src/serf/query-filters.js';
import { RecentIntents } from '../../src/serf/recent-intents.js';
import { SEEN_RING_SLOTS, SeenRing } from '../../src/serf/seen-ring.js';
import { type KeyringControl, type SerfEffect, SerfMachine } from '../../src/serf/serf-machine.js';
import { SerfMembers } from '../../src/serf/serf-members.js';
import { encodeTags } from '../../src/serf/tags.js';
import type { MemberView } from '../../src/gossip/members.js';

const text = (s: string) => new TextEncoder().encode(s);
const view = (name: string, status: MemberView['status'] = 'alive'): MemberView => ({
  name,
  host: '10.0.0.2',
  port: 7946,
  meta: encodeTags({}),
  vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
  incarnation: 1,
  status,
});

describe('Serf push/pull state (§10.4)', () => {
  it('round-trips, and reads a Go ring of 512 slots that are mostly nil', () => {
    const state = {
      ltime: 7n,
      eventLTime: 3n,
      queryLTime: 2n,
      statusLTimes: new Map([
        ['a', 5n],
        ['b', 2n],
      ]),
      leftMembers: ['b'],
      events: [{ ltime: 2n, events: [{ name: 'deploy', payload: text('v1') }] }],
    };
    const bytes = encodeSerfState(state);
    assert.equal(bytes[0], 2);
    assert.deepEqual(decodeSerfState(bytes.subarray(1)), state);
    // As Go sends it: the whole ring, nil where nothing happened.
    const w = new Writer().mapHeader(6).key('EventLTime').int(4).key('Events').arrayHeader(SEEN_RING_SLOTS);
    for (let i = 0; i < SEEN_RING_SLOTS; i++) {
      if (i === 3) w.mapHeader(2).key('Events').arrayHeader(1).mapHeader(2).key('Name').str('x').key('Payload').nil().key('LTime').int(3);
      else w.nil();
    }
    w.key('LTime').int(9).key('LeftMembers').nil().key('QueryLTime').int(1).key('StatusLTimes').mapHeader(0);
    const go = decodeSerfState(w.finish());
    assert.deepEqual(go.events, [{ ltime: 3n, events: [{ name: 'x', payload: new Uint8Array(0) }] }]);
    assert.equal(go.ltime, 9n);
    assert.deepEqual(go.leftMembers, []);
  });

  it('malformed state is a DecodeError, never another exception', () => {
    for (const bad of [
      Uint8Array.from([0x90]),
      Uint8Array.from([0x81, 0xac, ...text('StatusLTimes'), 0x05]),
      Uint8Array.from([0x81, 0xa6, ...text('Events'), 0x91, 0x05]),
    ]) {
      assert.throws(() => decodeSerfState(bad), DecodeError);
    }
  });
});

describe('query filters (§10.3)', () => {
  it('encode and decode node and tag filters; unknown filter types are reported as null', () => {
    const node = { type: 'node', names: ['a', 'b'] } as const;
    const tag = { type: 'tag', tag: 'role', expr: '^web' } as const;
    assert.deepEqual(decodeFilter(encodeFilter(node)), node);
    assert.deepEqual(decodeFilter(encodeFilter(tag)), tag);
    assert.equal(decodeFilter(Uint8Array.from([7, 0x90])), null);
    assert.throws(() => decodeFilter(new Uint8Array(0)), DecodeError);
  });

  it('all filters must match: node list, tag present and matching (unanchored, as Go)', () => {
    const tags = { role: 'web-frontend', dc: 'eu' };
    assert.ok(filtersMatch([{ type: 'node', names: ['a', 'me'] }], 'me', tags));
    assert.ok(!filtersMatch([{ type: 'node', names: ['a'] }], 'me', tags));
    assert.ok(filtersMatch([{ type: 'tag', tag: 'role', expr: 'web' }], 'me', tags));
    assert.ok(!filtersMatch([{ type: 'tag', tag: 'role', expr: '^web$' }], 'me', tags));
    assert.ok(!filtersMatch([{ type: 'tag', tag: 'zone', expr: '.*' }], 'me', tags), 'a missing tag never matches');
    assert.ok(
      !filtersMatch(
        [
          { type: 'tag', tag: 'dc', expr: 'eu' },
          { type: 'node', names: ['x'] },
        ],
        'me',
        tags,
      ),
    );
  });

  it('refuses expressions a backtracking engine could take exponential time on', () => {
    for (const safe of ['^web-\\d+$', 'a|b', '(eu|us)-west', '[a-z]+', '^(prod)$', 'x{2,3}']) assert.ok(compileTagExpr(safe), safe);
    for (const unsafe of ['(a+)+$', '(a|aa)*', '(x*)*y', '(\\w+\\s?)+$', '(a)\\1', '(?=a)b', 'a'.repeat(300), '(unclosed'])
      assert.equal(compileTagExpr(unsafe), null, unsafe);
    // Refused, not run (running it on this value would not finish in our lifetime).
    assert.ok(!filtersMatch([{ type: 'tag', tag: 'v', expr: '(a+)+$' }], 'me', { v: `${'a'.repeat(60)}!` }));
  });
});

describe('internal query payloads', () => {
  it('conflict answers, key requests and responses, relays round-trip', () => {
    const member = {
      name: 'x',
      addr: Uint8Array.from([10, 0, 0, 9]),
      port: 7000,
      tags: { a: 'b' },
      status: 1,
      vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
    };
    assert.deepEqual(decodeConflictResponse(encodeConflictResponse(member)), { addr: member.addr, port: 7000 });
    assert.equal(decodeConflictResponse(encodeConflictResponse(null)), null);
    assert.deepEqual(decodeKeyRequest(encodeKeyRequest(Uint8Array.from([1, 2, 3]))), Uint8Array.from([1, 2, 3]));
    assert.deepEqual(decodeKeyRequest(new Uint8Array(0)), new Uint8Array(0));
    const response = { result: true, message: '', keys: ['k1', 'k2'], primaryKey: 'k1' };
    assert.deepEqual(decodeKeyResponse(encodeKeyResponse(response)), response);
    const inner = encodeQueryResponse({ ltime: 4n, id: 9, from: 'r', flags: 0, payload: text('hi') });
    const relay = decodeRelay(encodeRelay(Uint8Array.from([127, 0, 0, 1]), 7946, 'asker', inner).subarray(1));
    assert.deepEqual(
      { ...relay, inner: decodeQueryResponse(relay.inner.subarray(1)) },
      { addr: Uint8Array.from([127, 0, 0, 1]), port: 7946, inner: { ltime: 4n, id: 9, from: 'r', flags: 0, payload: text('hi') } },
    );
  });
});

describe('duplicate rings and recent intents', () => {
  it('a seen ring admits once per LTime and item, refuses what is older than its reach, bounds a slot', () => {
    const ring = new SeenRing<number>((a, b) => a === b);
    assert.equal(ring.admit(5n, 1, 6n), 'new');
    assert.equal(ring.admit(5n, 1, 6n), 'duplicate');
    assert.equal(ring.admit(5n, 2, 6n), 'new');
    assert.equal(ring.admit(5n + BigInt(SEEN_RING_SLOTS), 1, 600n), 'new', 'the slot is reused by a later LTime');
    assert.equal(ring.admit(5n, 3, 600n), 'tooOld');
    for (let i = 0; i < 64; i++) ring.admit(700n, 100 + i, 701n);
    assert.equal(ring.admit(700n, 999, 701n), 'full');
  });

  it('recent intents keep the newest per node, evict the oldest when full, expire after their timeout', () => {
    const r = new RecentIntents(2);
    assert.deepEqual(r.upsert('a', { kind: 'join', ltime: 3n, atMs: 0 }), { kept: true, evicted: false });
    assert.deepEqual(r.upsert('a', { kind: 'leave', ltime: 2n, atMs: 1 }), { kept: false, evicted: false }, 'older: ignored');
    assert.deepEqual(r.upsert('a', { kind: 'leave', ltime: 4n, atMs: 2 }), { kept: true, evicted: false });
    r.upsert('b', { kind: 'join', ltime: 1n, atMs: 3 });
    assert.deepEqual(r.upsert('c', { kind: 'join', ltime: 1n, atMs: 4 }), { kept: true, evicted: true });
    assert.equal(r.get('a'), undefined, 'the oldest entry went');
    r.expire(1000, 500);
    assert.equal(r.size, 0);
  });
});

describe('Serf member status rules (§10.2, §10.6)', () => {
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
});

describe('user event coalescing', () => {
  it('keeps the newest of each name (all events at that time) and is due at first + period or last + quiet', () => {
    const c = new UserEventCoalescer();
    const e = (name: string, ltime: bigint, p: string) => ({ name, ltime, payload: text(p), coalesce: true });
    c.add(e('a', 1n, 'old'), 0);
    c.add(e('a', 2n, 'new'), 100);
    c.add(e('a', 2n, 'new too'), 150);
    c.add(e('b', 1n, 'b'), 200);
    c.add(e('a', 1n, 'stale'), 250);
    assert.equal(c.dueAtMs(1000, 100), 350);
    assert.equal(c.dueAtMs(300, 1000), 300);
    assert.deepEqual(
      c.flush().map((x) => `${x.name}:${Buffer.from(x.payload).toString()}`),
      ['a:new', 'a:new too', 'b:b'],
    );
    assert.equal(c.dueAtMs(1, 1), null);
  });
});

describe('SerfMachine', () => {
  const config = resolveGossipConfig('lan', { userCoalescePeriodMs: 1000, userQuiescentPeriodMs: 200 });
  const machine = (keyring?: KeyringControl) => {
    const m = new SerfMachine({
      config,
      local: { name: 'me', host: '10.0.0.1', port: 7946 },
      tags: { role: 'web' },
      random: () => 0.5,
      ...(keyring ? { keyring } : {}),
    });
    m.start(0);
    m.drain();
    return m;
  };
  const of = <T extends SerfEffect['type']>(effects: SerfEffect[], type: T) =>
    effects.filter((e): e is Extract<SerfEffect, { type: T }> => e.type === type);

  it('a query reaches ourselves; filters decide; a response goes once, before the deadline; limits are SwimringErrors', () => {
    const m = machine();
    const ltime = m.query('q', text('x'), { requestAck: true, timeoutMs: 1000 }, 0);
    let effects = m.drain();
    const incoming = of(effects, 'query')[0]!.query;
    assert.deepEqual(
      of(effects, 'queryAck').map((e) => e.from),
      ['me'],
    );
    assert.equal(m.respond(incoming, text('answer'), 10), true);
    assert.equal(m.respond(incoming, text('again'), 20), false, 'once');
    effects = m.drain();
    assert.deepEqual(
      of(effects, 'queryResponse').map((e) => [e.ltime, e.from, Buffer.from(e.payload).toString()]),
      [[ltime, 'me', 'answer']],
    );
    m.handleTimer({ kind: 'queryTimeout', ltime }, 1000);
    assert.equal(of(m.drain(), 'queryDone').length, 1);
    // A tag filter that does not match us: no delivery.
    m.query('q', text('x'), { filters: [{ type: 'tag', tag: 'role', expr: '^db$' }] }, 0);
    assert.equal(of(m.drain(), 'query').length, 0);
    const late = m.query('q2', text('x'), { timeoutMs: 100 }, 0);
    const q2 = of(m.drain(), 'query')[0]!.query;
    assert.equal(m.respond(q2, text('late'), 500), false, 'past the deadline');
    assert.ok(late > ltime);
    assert.throws(() => m.respond(q2, new Uint8Array(2000), 0), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => m.userEvent('e', new Uint8Array(600), false, 0), { code: 'ERR_INVALID_ARGUMENT', message: /user event/ });
    assert.throws(() => m.query('q', new Uint8Array(2000), {}, 0), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => m.query('q', text('x'), { relayFactor: 9 }, 0), { code: 'ERR_INVALID_ARGUMENT', message: /relayFactor/ });
  });

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

  it('key-management queries drive the keyring and answer as Serf does', () => {
    const keys = ['k1'];
    const keyring: KeyringControl = {
      install: (k) => void keys.push(Buffer.from(k).toString()),
      use: (k) => {
        const i = keys.indexOf(Buffer.from(k).toString());
        if (i < 0) throw new Error('not installed');
        keys.unshift(...keys.splice(i, 1));
      },
      remove: () => undefined,
      list: () => ({ keys: [...keys], primary: keys[0]! }),
    };
    const answer = (m: SerfMachine, name: string, key: string) => {
      const ltime = m.query(name, encodeKeyRequest(text(key)), {}, 0);
      return decodeKeyResponse(of(m.drain(), 'queryResponse').find((r) => r.ltime === ltime)!.payload);
    };
    const m = machine(keyring);
    assert.deepEqual(answer(m, '_serf_install-key', 'k2'), { result: true, message: '', keys: ['k1', 'k2'], primaryKey: 'k1' });
    assert.deepEqual(answer(m, '_serf_use-key', 'k2').primaryKey, 'k2');
    assert.deepEqual(answer(m, '_serf_use-key', 'nope'), { result: false, message: 'not installed', keys: [], primaryKey: '' });
    assert.equal(answer(machine(), '_serf_list-keys', '').message, 'No keyring to modify (encryption not enabled)');
    // 60 keys of 44 base64 characters do not fit a 1 024-byte response: cut, and said so.
    keys.splice(0, keys.length, ...Array.from({ length: 60 }, (_, i) => Buffer.alloc(32, i).toString('base64')));
    const listed = answer(m, '_serf_list-keys', '');
    assert.ok(listed.keys.length > 10 && listed.keys.length < 60, `${listed.keys.length} keys`);
    assert.deepEqual(listed.keys, keys.slice(0, listed.keys.length), 'the first ones');
    assert.equal(listed.message, `truncated key list response, showing first ${listed.keys.length} of 60 keys`);
    assert.equal(listed.result, true);
  });

  it('another node claiming our name starts a _serf_conflict vote; losing it asks the node to shut down', () => {
    const m = machine();
    const alive = (name: string, ip: number) =>
      packPacket(
        [
          encodeAlive({
            incarnation: 1,
            node: name,
            addr: Uint8Array.from([10, 0, 0, ip]),
            port: 7946,
            meta: encodeTags({}),
            vsn: Uint8Array.from([1, 5, 2, 2, 5, 5]),
          }),
        ],
        { compress: false, crc: false },
      );
    m.handlePacket({ host: '10.0.0.2', port: 7946 }, alive('b', 2), 0);
    m.handlePacket({ host: '10.0.0.3', port: 7946 }, alive('c', 3), 0);
    m.drain();
    const started = m.queryClock.time;
    m.handlePacket({ host: '10.0.0.9', port: 7946 }, alive('me', 9), 0);
    const effects = m.drain();
    assert.equal(of(effects, 'conflict').length, 1);
    assert.equal(m.queryClock.time, started + 1n, 'a query went out');
    const id = Math.floor(0.5 * 2 ** 31);
    // Both peers vouch for the other address.
    for (const [from, ip] of [
      ['b', 2],
      ['c', 3],
    ] as const) {
      const payload = encodeConflictResponse({
        name: 'me',
        addr: Uint8Array.from([10, 0, 0, 9]),
        port: 7946,
        tags: {},
        status: 1,
        vsn: new Uint8Array(6),
      });
      const response = encodeQueryResponse({ ltime: started, id, from, flags: 0, payload });
      m.handlePacket({ host: `10.0.0.${ip}`, port: 7946 }, packPacket([encodeUser(response)], { compress: false, crc: false }), 10);
    }
    m.handleTimer({ kind: 'queryTimeout', ltime: started }, 5000);
    assert.deepEqual(
      of(m.drain(), 'nameConflictLost').map((e) => [e.responses, e.matching]),
      [[2, 0]],
    );
  });
});
