// Serf's queries through the SerfMachine (src/serf/queries.ts): delivery, filters, acks,
// responses, the deadline, and the size limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { machine, of, text } from './helpers.js';

describe('SerfMachine', () => {
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
});
