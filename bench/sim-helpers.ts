import { type GossipConfig, resolveGossipConfig } from '../src/gossip/config.js';
import { SimWorld } from '../src/sim/world.js';

/** A converged cluster of n nodes (LAN profile with overrides), settled for 5 simulated seconds. */
export function convergedWorld(seed: number, n: number, overrides: Partial<GossipConfig> = {}): { w: SimWorld; names: string[] } {
  const w = new SimWorld(seed, resolveGossipConfig('lan', overrides));
  w.maxEvents = 0;
  const names = w.addConvergedCluster(n);
  w.runFor(5_000);
  return { w, names };
}

/**
 * Times (ms from now) when the share of observers for which `knows` holds reaches 99.99 % and
 * 100 %, or null if not within `limitMs`. Checked at most once per simulated millisecond.
 */
export function spread(
  w: SimWorld,
  observers: () => string[],
  knows: (observer: string) => boolean,
  limitMs: number,
): [number | null, number | null] {
  const start = w.nowMs;
  let p9999: number | null = null;
  let checkedAt = -1;
  const check = () => {
    if (w.nowMs - checkedAt < 1) return false;
    checkedAt = w.nowMs;
    const list = observers();
    const known = list.filter(knows).length;
    if (p9999 === null && known >= 0.9999 * list.length) p9999 = w.nowMs - start;
    return known === list.length;
  };
  const all = w.runUntilTrue(check, limitMs);
  return [p9999, all === null ? null : all - start];
}

/** One join through a random member, then one crash: the four convergence times. */
export function joinAndFailure(
  w: SimWorld,
  names: string[],
): { join: [number | null, number | null]; failure: [number | null, number | null] } {
  w.addNode('newcomer', names[Math.floor(w.random() * names.length)]!);
  const join = spread(
    w,
    () => names,
    (o) => w.statusOf(o, 'newcomer') === 'alive',
    60_000,
  );
  const victim = names[1 + Math.floor(w.random() * (names.length - 1))]!;
  w.crash(victim);
  const failure = spread(
    w,
    () => names.filter((x) => x !== victim),
    (o) => w.statusOf(o, victim) === 'dead',
    120_000,
  );
  return { join, failure };
}
