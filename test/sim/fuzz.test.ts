// Fuzzing a live node in the simulator: the real machine and codec, so mutated addresses never
// reach a real network. 100 000 packets and streams, then health and convergence are checked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStream } from '../../src/gossip/codec/stream.js';
import { seededRandom } from '../../src/sim/prng.js';
import { garbage, mutate, validPackets, validStreams } from '../helpers/corpus.js';
import { cluster, converged, withSeed, world } from '../helpers/sim.js';

describe('fuzzing a live node (simulator)', () => {
  it('100 000 random and mutated-valid packets and streams: never throws, stays a healthy member, the cluster converges', () =>
    withSeed(21, (seed) => {
      const w = world(seed);
      const names = cluster(w, 5);
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 30_000),
        null,
      );
      const target = w.nodes.get('n0')!;
      const random = seededRandom(seed * 7919);
      const packets = validPackets(names);
      const streams = validStreams(names);
      const attacker = { host: '10.9.9.9', port: 7946 };
      let sent = 0;
      let undecodableStreams = 0;
      const membersBefore = target.machine.members.size;
      for (let round = 0; sent < 100_000; round++) {
        for (let i = 0; i < 500; i++, sent++) {
          const r = random();
          const bytes =
            r < 0.15
              ? garbage(random, 1500)
              : r < 0.2
                ? garbage(random, 70_000)
                : mutate(packets[Math.floor(random() * packets.length)]!, random);
          target.machine.handlePacket(attacker, bytes, w.nowMs);
        }
        for (let i = 0; i < 20; i++, sent++) {
          const bytes = random() < 0.3 ? garbage(random, 3000) : mutate(streams[Math.floor(random() * streams.length)]!, random);
          try {
            const parsed = parseStream(bytes, w.config.maxStreamBytes);
            if (parsed.status === 'complete') target.machine.handleStreamRequest(attacker, parsed.message, w.nowMs);
          } catch {
            undecodableStreams++; // the I/O layer drops these; the machine never sees them
          }
        }
        // Let the cluster run between bursts, so the node has to keep probing and answering.
        w.runFor(50);
      }
      const drops = target.machine.counters.drops;
      assert.ok(Object.values(drops).reduce((a, b) => a + b, 0) > 10_000, `most garbage is dropped and counted: ${JSON.stringify(drops)}`);
      assert.ok(undecodableStreams > 0);
      assert.ok(target.machine.members.size >= membersBefore);
      // Still a healthy member: itself alive, alive in every peer's view.
      assert.equal(target.machine.members.get('n0')!.status, 'alive');
      // After the storm, mutated-valid strangers are found dead and everyone agrees again.
      assert.notEqual(
        w.runUntilTrue(() => converged(w), 180_000),
        null,
        'the cluster converges after the fuzzing',
      );
      assert.ok(w.liveNodes().every((n) => w.statusOf(n.name, 'n0') === 'alive'));
    }));
});
