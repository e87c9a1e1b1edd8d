/**
 * npm run demo:partition: the partitioner on its own, no network. Routes a few keys over five
 * members, then lets a sixth join and shows, for both placements, how much data moves and the
 * exact ownership events one member sees.
 */
import { createPartitionTable, diffOwnership, type Placement } from '../src/index.js';

const members = ['cache-a', 'cache-b', 'cache-c', 'cache-d', 'cache-e'];
const partitions = 2056;
const replicas = 3;
const slots = partitions * replicas;

console.log(`The partitioner on its own (no network): ${members.join(', ')}; ${partitions} partitions, ${replicas} owners each.`);
console.log("A key hashes to one partition; the partition's owners are listed primary first, then its replicas:\n");
const table = createPartitionTable({ members, partitions, replicas });
for (const key of ['user:1001', 'user:1002', 'cart:77', 'session:abc']) {
  console.log(`  ${key.padEnd(12)} → partition ${String(table.partitionForKey(key)).padStart(4)} → ${table.membersForKey(key).join(', ')}`);
}

console.log(`
cache-f joins. Each (partition, owner) pair is a slot: ${partitions} × ${replicas} = ${slots} slots, each a copy of the
partition's data. A slot that gets a new owner means a copy to make. Ideally only cache-f's fair share
moves, 1/${members.length + 1} of the slots; the placement, jump (the default, as Go libring) or rendezvous,
decides how close it gets. cache-c's events say what it must do: acquire (copy a partition in),
release (drop one), promote / demote (same data, its rank among the owners changes).
`);
for (const placement of ['jump', 'rendezvous'] as Placement[]) {
  const before = createPartitionTable({ members, partitions, replicas, placement });
  const after = createPartitionTable({ members: [...members, 'cache-f'], partitions, replicas, placement });
  let copies = 0;
  for (let p = 0; p < partitions; p++) {
    const old = before.membersForPartition(p);
    copies += after.membersForPartition(p).filter((m) => !old.includes(m)).length;
  }
  const share = copies / slots;
  const counts = { acquire: 0, release: 0, promote: 0, demote: 0 };
  const changes = diffOwnership(before, after, 'cache-c');
  for (const c of changes) counts[c.type]++;
  const seen = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([type, n]) => `${n} ${type}`)
    .join(', ');
  console.log(
    `  ${placement.padEnd(10)} copies ${(share * 100).toFixed(1)}% of slots (${(share * (members.length + 1)).toFixed(2)}× ideal); cache-c sees ${seen || 'no events'}`,
  );
  const first = changes.find((c) => c.type === 'release');
  if (first) console.log(`             e.g. ${JSON.stringify(first)}`);
}

console.log(
  '\nThe same members in another order give the same table: that membership "change" emits',
  diffOwnership(table, createPartitionTable({ members: [...members].reverse(), partitions, replicas }), 'cache-c').length,
  'events.',
);
console.log('\nRoute your own keys (after npm ci, which builds dist/):');
console.log('  node dist/cli/main.js route --members a,b,c --partitions 2056 --replicas 3 KEY ...');
