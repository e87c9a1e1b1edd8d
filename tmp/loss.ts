import { cluster, converged, world } from '../test/helpers/sim.js';
for (const lifeguard of [false, true]) for (const loss of [0.1, 0.2, 0.3]) {
  const w = world(14, { lifeguard });
  cluster(w, 100);
  w.runUntilTrue(() => converged(w), 120_000);
  w.network.link.loss = loss;
  const start = w.nowMs;
  w.runFor(600_000);
  const f = w.events.filter((e) => e.atMs >= start && e.change === 'leave');
  console.log('lifeguard', lifeguard, 'loss', loss, 'false failure events', f.length, 'distinct victims', new Set(f.map((e) => e.member.name)).size);
}
