// Serf's force-leave (RemoveFailedNodePrune), in the simulator: a failed member goes to `left`
// everywhere and is no longer reconnected; with prune it is erased. An alive member refutes it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveGossipConfig } from '../../src/gossip/config.js';
import { SimWorld } from '../../src/sim/world.js';
import { seeds, withSeed } from '../helpers/sim.js';

function serfCluster(seed: number, n: number): { w: SimWorld; names: string[] } {
  const w = new SimWorld(seed, resolveGossipConfig('lan'), { serf: true });
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  w.addNode(names[0]!);
  for (let i = 1; i < n; i++) w.addNode(names[i]!, names[0]!);
  const all = (status: string, subject?: string) => (o: string) =>
    (subject ? [subject] : names).every((x) => w.serfStatusOf(o, x) === status);
  assert.notEqual(
    w.runUntilTrue(() => names.every(all('alive')), 60_000),
    null,
    'the cluster forms',
  );
  return { w, names };
}

describe('force-leave (simulator)', () => {
  for (const forced of [false, true]) {
    it(
      forced
        ? 'a failed member forced to leave is left everywhere and never reconnected'
        : 'without force-leave, a failed member that comes back is reconnected',
      () => {
        for (const seed of seeds(3)) {
          withSeed(seed, (s) => {
            const { w, names } = serfCluster(s, 5);
            const survivors = names.slice(0, 4);
            w.crash('n4');
            assert.notEqual(
              w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n4') === 'failed'), 120_000),
              null,
              'n4 is seen failed',
            );
            if (forced) {
              w.forceLeave('n0', 'n4');
              assert.notEqual(
                w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n4') === 'left'), 30_000),
                null,
                'n4 is left everywhere',
              );
            }
            // Past the window in which memberlist still gossips to the dead, n4 comes back alone at
            // the same address: only a reconnect can bring it in.
            w.runFor(resolveGossipConfig('lan').gossipToTheDeadMs + 1000);
            w.restartAlone('n4');
            const rejoined = w.runUntilTrue(() => w.serfStatusOf('n4', 'n0') === 'alive', 10 * 60_000);
            if (forced) {
              assert.equal(rejoined, null, 'no one reconnected to n4');
              assert.ok(survivors.every((o) => w.serfStatusOf(o, 'n4') === 'left'));
            } else {
              assert.notEqual(rejoined, null, 'a survivor reconnected to n4');
            }
          });
        }
      },
    );
  }

  it('with prune the member is erased everywhere; an alive member refutes a force-leave', () => {
    withSeed(seeds(1)[0]!, (s) => {
      const { w, names } = serfCluster(s, 4);
      w.crash('n3');
      const survivors = names.slice(0, 3);
      assert.notEqual(
        w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n3') === 'failed'), 120_000),
        null,
      );
      w.forceLeave('n1', 'n3', true);
      assert.notEqual(
        w.runUntilTrue(() => survivors.every((o) => w.serfStatusOf(o, 'n3') === undefined), 30_000),
        null,
        'n3 is erased everywhere',
      );
      w.forceLeave('n0', 'n2');
      w.runFor(30_000);
      assert.ok(
        survivors.every((o) => w.serfStatusOf(o, 'n2') === 'alive'),
        'n2 refuted and is alive everywhere',
      );
    });
  });
});
