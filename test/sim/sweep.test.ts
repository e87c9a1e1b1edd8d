// A seed sweep: loss, delay, duplication, crashes, restarts, leaves and partitions, with the
// invariants checked after every simulation step and agreement checked after healing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SimWorld } from '../../src/sim/world.js';
import { cluster, converged, seeds, withSeed, world } from '../helpers/sim.js';

function checkInvariants(w: SimWorld, seen: Map<string, number>): void {
  for (const node of w.nodes.values()) {
    if (!node.up) continue;
    const self = node.machine.members.get(node.name);
    // A live node never believes itself dead (it may have left, gracefully).
    if (self && !node.machine.leaving && self.status !== 'alive') {
      throw new Error(`${node.name} believes itself ${self.status} at ${w.nowMs}`);
    }
    // Incarnations never go back, in any node's view of any member, within one life.
    for (const m of node.machine.members.views()) {
      const key = `${node.name}#${node.life}→${m.name}`;
      const before = seen.get(key) ?? 0;
      if (m.incarnation < before) throw new Error(`${key}: incarnation went back from ${before} to ${m.incarnation} at ${w.nowMs}`);
      if (m.incarnation > before) seen.set(key, m.incarnation);
    }
  }
}

function chaos(seed: number): void {
  const w = world(seed);
  const rnd = w.random;
  w.network.link = { delayMs: 1 + rnd() * 20, jitterMs: rnd() * 10, loss: rnd() * 0.05, duplicate: rnd() * 0.05 };
  const names = cluster(w, 5 + Math.floor(rnd() * 4));
  const seen = new Map<string, number>();
  const step = () => checkInvariants(w, seen);
  assert.notEqual(
    w.runUntilTrue(() => converged(w), 60_000, step),
    null,
    'initial convergence',
  );
  const address = (n: string) => `${w.nodes.get(n)!.address.host}:7946`;
  for (let t = 0; t < 12; t++) {
    const live = w.liveNodes().map((n) => n.name);
    const down = names.filter((n) => !w.nodes.get(n)!.up);
    const action = rnd();
    if (action < 0.25 && live.length > 3) w.crash(live[Math.floor(rnd() * live.length)]!);
    else if (action < 0.45 && down.length > 0) w.restart(down[Math.floor(rnd() * down.length)]!, live[Math.floor(rnd() * live.length)]!);
    else if (action < 0.55 && live.length > 3) w.leave(live[Math.floor(rnd() * live.length)]!);
    else if (action < 0.75) {
      const cut = names.filter(() => rnd() < 0.5);
      w.network.partition(cut.map(address), names.filter((n) => !cut.includes(n)).map(address), rnd() < 0.3);
    } else w.network.heal();
    w.runFor(2_000 + rnd() * 8_000, step);
  }
  // Heal everything and bring crashed nodes back: all live nodes must agree again.
  w.network.heal();
  w.network.link = { delayMs: 2, jitterMs: 2, loss: 0, duplicate: 0 };
  const anchor = w.liveNodes()[0]!.name;
  for (const n of names) if (!w.nodes.get(n)!.up) w.restart(n, anchor);
  assert.notEqual(
    w.runUntilTrue(() => converged(w), 180_000, step),
    null,
    'all live nodes agree after healing',
  );
}

describe('simulated chaos sweep', () => {
  const list = seeds(Number(process.env['SIM_SEEDS'] ?? 200));
  it(`${list.length} seeds: invariants hold at every step and live nodes agree after healing`, () => {
    for (const seed of list) withSeed(seed, chaos);
  });
});
