/**
 * npm run demo:partition: the partitioner on its own. Routes a few keys over
 * five members, then lets a sixth join and shows, for both placements, how much data moves and
 * the exact events one member sees.
 */
import { createPartitionTable, diffOwnership, type Placement } from '../src/index.js';

const members = ['cache-a', 'cache-b', 'cache-c', 'cache-d', 'cache-e'];
const partitions = 2056;
const replicas = 3;

console.log(`Ring: ${members.join(', ')}; ${partitions} partitions, ${replicas} replicas\n`);
const table = createPartitionTable({ members, partitions, replicas });
for (const key of ['user:1001', 'user:1002', 'cart:77', 'session:abc']) {
  console.log(`  ${key.padEnd(12)} → partition ${String(table.partitionForKey(key)).padStart(4)} → ${table.membersForKey(key).join(', ')}`);
}

console.log(`\ncache-f joins. Data each placement must copy (ideal: 1/${members.length + 1} of all replica slots):\n`);
for (const placement of ['jump', 'rendezvous'] as Placement[]) {
  const before = createPartitionTable({ members, partitions, replicas, placement });
  const after = createPartitionTable({ members: [...members, 'cache-f'], partitions, replicas, placement });
  let copies = 0;
  for (let p = 0; p < partitions; p++) {
    const old = before.membersForPartition(p);
    copies += after.membersForPartition(p).filter((m) => !old.includes(m)).length;
  }
  const share = copies / (partitions * replicas);
  const counts = { acquire: 0, release: 0, promote: 0, demote: 0 };
  const changes = diffOwnership(before, after, 'cache-c');
  for (const c of changes) counts[c.type]++;
  console.log(
    `  ${placement.padEnd(10)} copies ${(share * 100).toFixed(1)}% of slots (${(share * (members.length + 1)).toFixed(2)}× ideal); cache-c sees ${JSON.stringify(counts)}`,
  );
  const first = changes.find((c) => c.type === 'release');
  if (first) console.log(`             e.g. ${JSON.stringify(first)}`);
}

console.log(
  '\nA no-op membership change (same members, any order) emits',
  diffOwnership(table, createPartitionTable({ members: [...members].reverse(), partitions, replicas }), 'cache-c').length,
  'events.',
);
console.log('\nRoute your own keys: node dist/cli/main.js route --members a,b,c --partitions 2056 --replicas 3 KEY ...');
