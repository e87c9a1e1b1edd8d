import { type GossipConfig, resolveGossipConfig } from '../../src/gossip/config.js';
import { SimWorld } from '../../src/sim/world.js';

/** Runs a seeded scenario; a failure names the seed (rerun it alone with SIM_SEED=<seed>). */
export function withSeed<T>(seed: number, scenario: (seed: number) => T): T {
  try {
    return scenario(seed);
  } catch (err) {
    throw new Error(`[seed ${seed}] ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Seeds for a sweep: SIM_SEED pins one, otherwise 1..count. */
export function seeds(count: number): number[] {
  const pinned = process.env['SIM_SEED'];
  return pinned ? [Number(pinned)] : Array.from({ length: count }, (_, i) => i + 1);
}

export function world(seed: number, overrides: Partial<GossipConfig> = {}): SimWorld {
  return new SimWorld(seed, resolveGossipConfig('lan', overrides));
}

/** Starts n nodes named n0.., each joining a random earlier one. */
export function cluster(w: SimWorld, n: number): string[] {
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  w.addNode(names[0]!);
  for (let i = 1; i < n; i++) w.addNode(names[i]!, names[Math.floor(w.random() * i)]!);
  return names;
}

/** Every live node sees every live node alive (and nothing else alive). */
export function converged(w: SimWorld): boolean {
  const live = w.liveNodes();
  const liveNames = new Set(live.map((n) => n.name));
  return live.every((observer) => {
    for (const m of observer.machine.members.views()) {
      const shouldBeAlive = liveNames.has(m.name);
      if (shouldBeAlive !== (m.status === 'alive')) return false;
    }
    return [...liveNames].every((name) => observer.machine.members.slotOf(name) >= 0);
  });
}
