/**
 * Ring benchmarks (the budgets of docs/budgets.md#ring, and the ring's own benchmark): prints
 * markdown and writes
 * bench/results/ring.md. `--quick`: one repeat, fewer trials, no file.
 *
 * 1. A ring alone at P partitions: createRing and draining its initial events, with the longest
 *    the event loop went without a turn meanwhile.
 * 2. `ring.membersForKey` (plain and `{ ready: true }`) on live three-member rings (real sockets
 *    on 127.0.0.1, in this process), beside a bare partition table over the same members.
 * 3. A membership change (one member joins) at N = 10, 100, 1000 and P = 2056, 65536, for jump,
 *    rendezvous, zones and weights: the ring's table rebuild (RingCore.apply) and its event
 *    computation for the local member (diffOwnership, the call RingView makes).
 * 4. Data moved per join / leave / zone loss against the minimum, for jump, rendezvous,
 *    zone-aware and weighted placement side by side, counted from the ring's own events.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { SerfMember } from '../src/serf/serf-members.js';
import { diffOwnership } from '../src/partition/diff.js';
import { type Placement, resolvePartitionOptions } from '../src/partition/options.js';
import { type PartitionTable, createPartitionTable } from '../src/partition/table.js';
import { RingCore } from '../src/ring/ring-core.js';
import { type RingPartitionOptions, RingView } from '../src/ring/ring-view.js';
import { MAX_RING_PARTITIONS, type Ring, createRing } from '../src/ring/ring.js';
import { countGcs, machineLine, median, settleGcs, table } from './machine.js';
import { type Layout, holdings, keys16, layout, moved } from './placement-helpers.js';

const startedAt = performance.now();
let lapAt = startedAt;
/** Progress on stderr: how long each section took. */
const lap = (section: string) => {
  console.error(`[${section}: ${((performance.now() - lapAt) / 1000).toFixed(1)} s]`);
  lapAt = performance.now();
};
const gcCount = countGcs();
const quick = process.argv.includes('--quick');
const REPEATS = quick ? 1 : 5;
const SIZES = [16_384, 65_536, 1_048_576, MAX_RING_PARTITIONS];

interface Run {
  createMs: number;
  drainMs: number;
  maxDelayMs: number;
}

async function once(partitions: number): Promise<Run> {
  const t0 = performance.now();
  const ring = await createRing({ name: 'bench', bind: '127.0.0.1:0', profile: 'local', partitions });
  const t1 = performance.now();
  let last = performance.now();
  let maxDelayMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxDelayMs = Math.max(maxDelayMs, now - last);
    last = now;
  }, 1);
  let n = 0;
  for await (const _ of ring.events()) if (++n === partitions) break;
  const t2 = performance.now();
  clearInterval(timer);
  maxDelayMs = Math.max(maxDelayMs, t2 - last);
  await ring.close();
  return { createMs: t1 - t0, drainMs: t2 - t1, maxDelayMs };
}

const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  console.log(line);
};
say('# Ring benchmarks');
say('');
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
say(`Machine: ${machineLine()}. Load average (1 / 5 / 15 min) at the start: ${load()}.`);
say('');
say('## A ring alone: createRing and the initial drain');
say('');
say(
  `${REPEATS} repeats per size (the first iterator of each process is cold, so one warm-up run is discarded), median. A ring alone (it holds every partition): \`createRing\` time, then the time to take all P initial \`acquire\` events from \`ring.events()\`, and the largest gap between two runs of a 1 ms interval timer during the drain (how long the event loop was kept from timers and sockets).`,
);
say('');
const rows: (string | number)[][] = [];
await once(16_384); // warm-up
for (const partitions of SIZES) {
  const runs: Run[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await once(partitions));
  const perEventUs = (median(runs.map((r) => r.drainMs)) * 1000) / partitions;
  rows.push([
    partitions.toLocaleString('en-US'),
    median(runs.map((r) => r.createMs)).toFixed(0),
    median(runs.map((r) => r.drainMs)).toFixed(0),
    perEventUs.toFixed(2),
    median(runs.map((r) => r.maxDelayMs)).toFixed(1),
  ]);
}
say(table(['P', 'createRing (ms)', 'initial drain (ms)', 'per event (µs)', 'event-loop max delay (ms)'], rows));
say('');
lap('ring alone');

// ---------------------------------------------------------------------------------------------
// membersForKey on live rings.
// ---------------------------------------------------------------------------------------------

const LIVE_PARTITIONS = 2056;
const LIVE_REPLICAS = 3;
const LOOKUPS = quick ? 500_000 : 1_000_000;
const KEYS = keys16(4096, 42);
const KEY_MASK = KEYS.length - 1;

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`bench/ring.ts: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every partition's ready holders are exactly its owners, in replica order (nothing handing over). */
function allReady(ring: Ring): boolean {
  for (let p = 0; p < ring.table.partitions; p++) {
    const owners = ring.table.membersForPartition(p);
    const ready = ring.membersForPartition(p, { ready: true });
    if (ready.length !== owners.length || ready.some((m, i) => m.name !== owners[i])) return false;
  }
  return true;
}

/** Three rings in this process on 127.0.0.1, the second and third joining the first; resolves once they agree. */
async function liveCluster(label: string, handoff: boolean): Promise<{ rings: Ring[]; stop: AbortController }> {
  const options = { bind: '127.0.0.1:0', profile: 'local' as const, partitions: LIVE_PARTITIONS, replicas: LIVE_REPLICAS, handoff };
  const stop = new AbortController();
  // With handoff, each member's application "loads" every partition it acquires at once. Its
  // consumer is attached before the member joins (`joining`, then `ring.join`), as an
  // application that must not miss its first acquires does.
  const consume = (ring: Ring): Ring => {
    if (handoff) {
      void (async () => {
        for await (const e of ring.events({ signal: stop.signal })) if (e.type === 'acquire') ring.ready(e.partition);
      })();
    }
    return ring;
  };
  // The same names in both clusters (separate, on their own ports): the same partition table.
  const first = consume(await createRing({ ...options, name: 'member-a' }));
  const seeds = [`127.0.0.1:${first.node.address.port}`];
  const rings = [first];
  for (const name of ['member-b', 'member-c']) {
    const ring = consume(await createRing({ ...options, name, joining: true }));
    await ring.join(seeds);
    rings.push(ring);
  }
  await waitUntil(
    `${label}: three members and one checksum`,
    () => rings.every((r) => r.table.members.length === 3) && new Set(rings.map((r) => r.checksum)).size === 1,
  );
  if (handoff) await waitUntil(`${label}: every owner ready, as every member sees it`, () => rings.every(allReady));
  return { rings, stop };
}

{
  const plain = await liveCluster('live', false);
  const handoff = await liveCluster('handoff', true);
  const ring = plain.rings[0]!;
  const handoffRing = handoff.rings[0]!;
  const ideal = createPartitionTable({ members: ring.table.members, partitions: LIVE_PARTITIONS, replicas: LIVE_REPLICAS });
  if (ideal.checksum !== ring.checksum || ideal.checksum !== handoffRing.checksum)
    throw new Error('bench/ring.ts: the bare table differs from the live rings');
  // One function literal per target, so that each loop's call site stays monomorphic.
  const targets: [string, () => number][] = [
    [
      '`table.membersForKey(key)`: bare partition table, same members (the ideal)',
      () => {
        let sink = 0;
        for (let i = 0; i < LOOKUPS; i++) sink += ideal.membersForKey(KEYS[i & KEY_MASK]!).length;
        return sink;
      },
    ],
    [
      '`ring.membersForKey(key)`',
      () => {
        let sink = 0;
        for (let i = 0; i < LOOKUPS; i++) sink += ring.membersForKey(KEYS[i & KEY_MASK]!).length;
        return sink;
      },
    ],
    [
      '`ring.membersForKey(key, { ready: true })`',
      () => {
        let sink = 0;
        for (let i = 0; i < LOOKUPS; i++) sink += ring.membersForKey(KEYS[i & KEY_MASK]!, { ready: true }).length;
        return sink;
      },
    ],
    [
      '`ring.membersForKey(key)`, handoff ring',
      () => {
        let sink = 0;
        for (let i = 0; i < LOOKUPS; i++) sink += handoffRing.membersForKey(KEYS[i & KEY_MASK]!).length;
        return sink;
      },
    ],
    [
      '`ring.membersForKey(key, { ready: true })`, handoff ring, all ready',
      () => {
        let sink = 0;
        for (let i = 0; i < LOOKUPS; i++) sink += handoffRing.membersForKey(KEYS[i & KEY_MASK]!, { ready: true }).length;
        return sink;
      },
    ],
  ];
  const repeats = quick ? 1 : 5;
  const ns = targets.map(() => [] as number[]);
  const gcs = targets.map(() => 0);
  for (const [, run] of targets) run(); // warm-up
  // Repeats interleaved across targets (a background load hits them alike); a pause after each
  // loop serves the gossip and delivers the GC entries.
  for (let r = 0; r < repeats; r++) {
    for (const [i, [, run]] of targets.entries()) {
      const start = performance.now();
      const sink = run();
      const end = performance.now();
      ns[i]!.push(((end - start) * 1e6) / LOOKUPS);
      if (sink !== LOOKUPS * LIVE_REPLICAS) throw new Error(`bench/ring.ts: ${targets[i]![0]} returned ${sink / LOOKUPS} owners per key`);
      await settleGcs();
      gcs[i]! += gcCount(start, end);
    }
  }
  // The ready path without its cache: the first { ready: true } lookup of each partition after a
  // change (ring.ready() of a partition already ready clears the cache and changes nothing else).
  const held = [...handoffRing.holdings().keys()][0]!;
  const cold: number[] = [];
  for (let r = 0; r < Math.max(repeats, 3); r++) {
    handoffRing.ready(held);
    const start = performance.now();
    let sink = 0;
    for (let p = 0; p < LIVE_PARTITIONS; p++) sink += handoffRing.membersForPartition(p, { ready: true }).length;
    cold.push(((performance.now() - start) * 1e6) / LIVE_PARTITIONS);
    if (sink !== LIVE_PARTITIONS * LIVE_REPLICAS) throw new Error('bench/ring.ts: the handoff ring is not all ready');
    await settleGcs();
  }
  const unchanged = [...plain.rings, ...handoff.rings].every((r) => r.checksum === ideal.checksum) && handoff.rings.every(allReady);
  if (!unchanged) throw new Error('bench/ring.ts: the rings changed while they were measured');
  const idealNs = median(ns[0]!);
  const rows: (string | number)[][] = targets.map(([label], i) => [
    label,
    median(ns[i]!).toFixed(1),
    (median(ns[i]!) / idealNs).toFixed(2),
    gcs[i]!,
  ]);
  rows.push([
    'first `{ ready: true }` lookup of each partition after a change (cache cold), handoff ring, per partition',
    median(cold).toFixed(0),
    (median(cold) / idealNs).toFixed(1),
    '-',
  ]);
  say('## membersForKey on a live ring');
  say('');
  say(
    `Three rings in this process on 127.0.0.1 (\`createRing\`, profile \`local\`, P = ${LIVE_PARTITIONS}, R = ${LIVE_REPLICAS}, jump placement, FNV-1a 32), the second and third started with \`joining\` and joined to the first with \`ring.join\`; measured on the first once all three agree on the checksum. In the handoff cluster every member's event consumer (attached before its join) calls \`ready()\` on each acquire, and the measure starts once every member sees every owner ready. ${LOOKUPS.toLocaleString('en-US')} lookups of 4 096 pre-generated 16-byte ASCII keys per loop, ${repeats} loops per target interleaved across targets, median. GCs: garbage collections that started during the measured loops (none: no allocation per call). Afterwards the checksums were unchanged and the bare table equal to the rings' (same checksum).`,
  );
  say('');
  say(table(['what', 'ns/op', 'vs the bare table', 'GCs during the loops'], rows));
  say('');
  say(
    "`{ ready: true }` reads a per-partition cache of ready holders (cleared on any ring or readiness change), then maps the names to members through the same shared, frozen arrays as the plain lookup. The last row is the uncached cost: the owners filtered by readiness (decoding the other members' readiness tags, locating the partition in their held lists) and, with handoff, the other members scanned for retainers.",
  );
  say('');
  plain.stop.abort();
  handoff.stop.abort();
  await Promise.all([...plain.rings, ...handoff.rings].map((r) => r.close()));
  lap('live rings');
}

// ---------------------------------------------------------------------------------------------
// Table rebuild and event computation on a membership change.
// ---------------------------------------------------------------------------------------------

interface Variant {
  label: string;
  placement: Placement;
  zoneTag?: string;
  weightTag?: string;
}
const VARIANTS: Variant[] = [
  { label: 'jump', placement: 'jump' },
  { label: 'rendezvous', placement: 'rendezvous' },
  { label: 'zone-aware (3 zones)', placement: 'rendezvous', zoneTag: 'zone' },
  { label: 'weighted {1,2,4}', placement: 'rendezvous', weightTag: 'weight' },
  { label: 'zones + weights', placement: 'rendezvous', zoneTag: 'zone', weightTag: 'weight' },
];
const REPLICAS = 3;
const VERSIONS = { min: 2, max: 5, cur: 5 };

function ringOptions(v: Variant, partitions: number): RingPartitionOptions {
  return {
    ...resolvePartitionOptions({ partitions, replicas: REPLICAS, placement: v.placement }),
    ...(v.zoneTag ? { zoneTag: v.zoneTag } : {}),
    ...(v.weightTag ? { weightTag: v.weightTag } : {}),
  };
}

/** The layout's members as gossip reports them: alive, each with its zone and weight tags (the placement uses them or not). */
function gossiped(l: Layout): SerfMember[] {
  return l.members.map((name, i) => ({
    name,
    host: '10.0.0.1',
    port: 7946 + i,
    tags: { zone: l.zones![name]!, weight: String(l.weights![name]!) },
    status: 'alive' as const,
    protocol: VERSIONS,
    delegate: VERSIONS,
  }));
}

interface ChangeRun {
  rebuildMs: number[];
  eventsMs: number[];
  events: number[];
}

/**
 * A RingCore (what createRing runs) whose view holds n members, then `repeats` joins, each one
 * more member (n → n+1, n+1 → n+2, ...): the ring's rebuild (core.apply with no consumer, so no
 * diff) and then the local member's events from the old and new tables (diffOwnership, which the
 * view calls right after the rebuild when there is a consumer).
 */
function membershipChange(n: number, partitions: number, v: Variant, repeats: number): ChangeRun {
  const members = gossiped(layout(n + repeats, 3, n * 131 + partitions, true));
  const local = members[0]!.name;
  // The watch filter stays closed while the n members are added, so that the view builds one
  // table over all of them instead of n growing ones.
  let open = false;
  const core = new RingCore({
    local,
    partitions: ringOptions(v, partitions),
    filter: () => open,
    handoff: false,
    handoffTimeoutMs: 60_000,
    retryDelayMs: 5000,
  });
  for (const m of members.slice(0, n)) core.apply(m, false, 0, false);
  open = true;
  core.apply(members[0]!, false, 0, false);
  if (core.table.members.length !== n) throw new Error(`bench/ring.ts: ${core.table.members.length} members, not ${n}`);
  const run: ChangeRun = { rebuildMs: [], eventsMs: [], events: [] };
  for (let r = 0; r < repeats; r++) {
    const before = core.table;
    const t0 = performance.now();
    core.apply(members[n + r]!, false, t0, false);
    const t1 = performance.now();
    const after = core.table;
    const changes = diffOwnership(before, after, local);
    const t2 = performance.now();
    if (after.members.length !== before.members.length + 1) throw new Error('bench/ring.ts: the join did not change the table');
    run.rebuildMs.push(t1 - t0);
    run.eventsMs.push(t2 - t1);
    run.events.push(changes.length);
  }
  return run;
}

{
  const full = quick ? 1 : 7;
  const repeatsFor = (v: Variant, n: number, partitions: number): number => {
    if (quick || v.placement === 'jump') return full;
    const work = n * partitions; // rendezvous: a hash per (member, partition)
    return work <= 1e6 ? full : work <= 1e7 ? 3 : 1;
  };
  for (const v of VARIANTS) membershipChange(10, 2056, v, 3); // warm-up
  const rows: (string | number)[][] = [];
  for (const partitions of [2056, 65_536]) {
    for (const n of [10, 100, 1000]) {
      for (const v of VARIANTS) {
        const repeats = repeatsFor(v, n, partitions);
        const run = membershipChange(n, partitions, v, repeats);
        const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
        rows.push([
          partitions.toLocaleString('en-US'),
          `${n} → ${n + 1}`,
          v.label,
          repeats,
          fmt(median(run.rebuildMs)),
          fmt(median(run.eventsMs)),
          median(run.events),
        ]);
      }
    }
  }
  say('## Table rebuild and event computation on a membership change');
  say('');
  say(
    `One member joins (N → N+1), R = ${REPLICAS}. The ring's own code, without sockets: a \`RingCore\` (what \`createRing\` runs) holding N gossiped members, each tagged with a zone (3, round-robin) and a weight (from {1, 2, 4}); zone-aware and weighted rings read them through \`zoneTag\` / \`weightTag\`, the others ignore them. **rebuild**: \`core.apply(joiner)\` with no consumer: the view's owner set, zones and weights from the tags, the new \`PartitionTable\`, its checksum. **events**: \`diffOwnership(old, new, local)\` for one of the N (the call the view makes right after the rebuild when events are consumed; each join of a repeat adds one more member). ${quick ? 'One join each (--quick).' : `Median over the repeats shown: ${full} joins for jump and for N·P up to 10⁶, 3 up to 10⁷, and a single join for N = 1 000 at P = 65 536 with rendezvous placement (each such build takes seconds, and the N-member table has to be built first).`} A build does not depend on the table before it.`,
  );
  say('');
  say(table(['P', 'N', 'placement', 'repeats', 'rebuild (ms)', 'events (ms)', 'local member events'], rows));
  say('');
  lap('membership change');
}

// ---------------------------------------------------------------------------------------------
// Data moved per join / leave / zone loss, counted from the ring's events.
// ---------------------------------------------------------------------------------------------

interface Movement {
  /** Acquire events, summed over every member of the new table: copies to make. */
  copies: number;
  /** Partitions acquired from no one (every previous holder gone): copies lost. */
  sourceless: number;
}

/** What every member's ring emits between two tables: each member of the new table diffs them as its RingView does. */
function ringMovement(before: PartitionTable, after: PartitionTable): Movement {
  let copies = 0;
  const sourceless = new Set<number>();
  for (const m of after.members) {
    for (const change of diffOwnership(before, after, m)) {
      if (change.type !== 'acquire') continue;
      copies++;
      if (change.from === null) sourceless.add(change.partition);
    }
  }
  // The events must account for exactly the slots the tables say changed hands.
  if (copies !== moved(before, after)) throw new Error(`bench/ring.ts: ${copies} acquires, ${moved(before, after)} slots moved`);
  return { copies, sourceless: sourceless.size };
}

{
  const partitions = 2056;
  const trials = quick ? 5 : 20;
  const kinds = ['join', 'leave', 'zone loss, at once', 'zone loss, one member at a time'] as const;
  const rows: (string | number)[][] = [];
  for (const n of [12, 30]) {
    const sums = VARIANTS.map(() => ({ moved: kinds.map(() => 0), minimum: kinds.map(() => 0), sourceless: 0 }));
    for (let trial = 1; trial <= trials; trial++) {
      const l = layout(n + 1, 3, trial * 7919 + n, true);
      const joiner = l.members[n]!;
      const base = l.members.slice(0, n);
      const leaver = base[trial % n]!;
      const lost = base.filter((m) => l.zones![m] === `zone-${trial % 3}`);
      for (const [i, v] of VARIANTS.entries()) {
        // The tables every member's ring builds: an observer's view (owning nothing) knows the
        // gossiped members and builds them with the ring's options from their tags.
        const view = new RingView('observer', ringOptions(v, partitions), () => false);
        for (const m of gossiped(l)) view.apply(m, false, false);
        const before = view.tableOf(base);
        const joined = view.tableOf(l.members);
        const left = view.tableOf(base.filter((m) => m !== leaver));
        const zoneGone = view.tableOf(base.filter((m) => !lost.includes(m)));
        const s = sums[i]!;
        s.moved[0]! += ringMovement(before, joined).copies;
        s.minimum[0]! += holdings(joined, joiner);
        s.moved[1]! += ringMovement(before, left).copies;
        s.minimum[1]! += holdings(before, leaver);
        const atOnce = ringMovement(before, zoneGone);
        const zoneSlots = lost.reduce((a, m) => a + holdings(before, m), 0);
        s.moved[2]! += atOnce.copies;
        s.minimum[2]! += zoneSlots;
        s.sourceless += atOnce.sourceless;
        // As failures are usually detected: one member after another, each a ring change.
        let step = before;
        for (let k = 1; k <= lost.length; k++) {
          const next = view.tableOf(base.filter((m) => !lost.slice(0, k).includes(m)));
          s.moved[3]! += ringMovement(step, next).copies;
          step = next;
        }
        s.minimum[3]! += zoneSlots;
      }
    }
    const slots = trials * partitions * REPLICAS;
    for (const [k, kind] of kinds.entries()) {
      rows.push([n, kind, ...sums.map((s) => `${(s.moved[k]! / slots).toFixed(4)} (${(s.moved[k]! / s.minimum[k]!).toFixed(2)}×)`)]);
    }
    rows.push([n, 'zone loss: partitions left with no copy (sum over trials)', ...sums.map((s) => s.sourceless)]);
  }
  say(`## Data moved per join / leave / zone loss, through the ring (P = ${partitions}, R = ${REPLICAS}, mean over ${trials} trials)`);
  say('');
  say(
    "The same members for every placement: random host names in 3 zones (round-robin, so N = 12 is 3 × 4 and N = 30 is 3 × 10) with weights drawn from {1, 2, 4}; jump and rendezvous ignore the zones and weights, zone-aware uses the zones, weighted the weights. Each table is built by a `RingView` from the members' tags (`view.tableOf`), and the data moved is counted from the ring's events: the `acquire` events of every member (each member's `diffOwnership(old, new, itself)`, as its own ring computes it), i.e. copies to make; the count was checked equal to the slots whose new owner did not hold the partition. Each cell: fraction of the P·R slots, and in parentheses its ratio to the minimum: the newcomer's holdings after a join, the leaver's holdings before a leave, the slots the lost zone held. Zone loss at once: one table change; one member at a time: one ring change per failed member, the data moved summed over them. Last row per N: partitions whose `acquire` events have no `from` (every copy was in the lost zone).",
  );
  say('');
  say(table(['N', 'change', ...VARIANTS.map((v) => v.label)], rows));
  say('');
  lap('data moved');
}

say(`Run time: ${((performance.now() - startedAt) / 1000).toFixed(0)} s. Load average at the end: ${load()}.`);
if (!quick) writeFileSync(new URL('./results/ring.md', import.meta.url), `${out.join('\n')}\n`);
process.exit(0);
