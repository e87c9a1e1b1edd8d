import { converged } from '../test/helpers/sim.js';
// replicate chaos(1) but print state at the end
import { cluster, world } from '../test/helpers/sim.js';
const seed = Number(process.argv[2]);
const w = world(seed);
const rnd = w.random;
w.network.link = { delayMs: 1 + rnd() * 20, jitterMs: rnd() * 10, loss: rnd() * 0.05, duplicate: rnd() * 0.05 };
const names = cluster(w, 5 + Math.floor(rnd() * 4));
console.log('initial', w.runUntilTrue(() => converged(w), 60_000));
const address = (n: string) => `${w.nodes.get(n)!.address.host}:7946`;
for (let t = 0; t < 12; t++) {
  const live = w.liveNodes().map((n) => n.name);
  const down = names.filter((n) => !w.nodes.get(n)!.up);
  const action = rnd();
  if (action < 0.25 && live.length > 3) { const x = live[Math.floor(rnd() * live.length)]!; console.log(w.nowMs|0, 'crash', x); w.crash(x); }
  else if (action < 0.45 && down.length > 0) { const x = down[Math.floor(rnd() * down.length)]!; console.log(w.nowMs|0, 'restart', x); w.restart(x, live[Math.floor(rnd() * live.length)]!); }
  else if (action < 0.55 && live.length > 3) { const x = live[Math.floor(rnd() * live.length)]!; console.log(w.nowMs|0, 'leave', x); w.leave(x); }
  else if (action < 0.75) { const cut = names.filter(() => rnd() < 0.5); const one = rnd() < 0.3; console.log(w.nowMs|0, 'partition', cut, one); w.network.partition(cut.map(address), names.filter((n) => !cut.includes(n)).map(address), one); }
  else { console.log(w.nowMs|0, 'heal'); w.network.heal(); }
  w.runFor(2_000 + rnd() * 8_000);
}
w.network.heal();
w.network.link = { delayMs: 2, jitterMs: 2, loss: 0, duplicate: 0 };
const anchor = w.liveNodes()[0]!.name;
for (const n of names) if (!w.nodes.get(n)!.up) { console.log('final restart', n); w.restart(n, anchor); }
console.log('final', w.runUntilTrue(() => converged(w), 180_000));
for (const node of w.nodes.values()) console.log(node.name, node.up, node.left, [...node.machine.members.byName.values()].map((m) => `${m.name}:${m.status}:${m.incarnation}`).join(' '));
