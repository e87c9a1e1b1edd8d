import { parseStream } from '../src/gossip/codec/stream.js';
import { seededRandom } from '../src/sim/prng.js';
import { garbage, mutate, validPackets, validStreams } from '../test/helpers/corpus.js';
import { cluster, converged, world } from '../test/helpers/sim.js';
const seed = 21;
const w = world(seed);
const names = cluster(w, 5);
w.runUntilTrue(() => converged(w), 30_000);
const target = w.nodes.get('n0')!;
const random = seededRandom(seed * 7919);
const packets = validPackets(names);
const streams = validStreams(names);
const attacker = { host: '10.9.9.9', port: 7946 };
let sent = 0;
for (let round = 0; sent < 100_000; round++) {
  for (let i = 0; i < 500; i++, sent++) {
    const r = random();
    const bytes = r < 0.15 ? garbage(random, 1500) : r < 0.2 ? garbage(random, 70_000) : mutate(packets[Math.floor(random() * packets.length)]!, random);
    target.machine.handlePacket(attacker, bytes, w.nowMs);
  }
  for (let i = 0; i < 20; i++, sent++) {
    const bytes = random() < 0.3 ? garbage(random, 3000) : mutate(streams[Math.floor(random() * streams.length)]!, random);
    try { const parsed = parseStream(bytes, w.config.maxStreamBytes); if (parsed.status === 'complete') target.machine.handleStreamRequest(attacker, parsed.message, w.nowMs); } catch {}
  }
  w.runFor(50);
}
w.runFor(180_000);
for (const n of w.nodes.values()) {
  const ms = [...n.machine.members.byName.values()];
  console.log(n.name, 'members', ms.length, 'alive', ms.filter((m) => m.status === 'alive').map((m) => JSON.stringify(m.name) + '@' + m.host + ':' + m.port).slice(0, 12).join(' '));
}
console.log(JSON.stringify(target.machine.counters.drops));
for (const n of ['n1', 'n2', 'n3', 'n4']) { const m = target.machine.members.get(n)!; console.log('n0 sees', n, m.status, m.incarnation, m.host, m.port, 'self-inc', w.nodes.get(n)!.machine.incarnation); }
