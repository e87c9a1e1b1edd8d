export { fnv1a32, fnv1a64, fnv1a32Partition, fnv1a64Partition, type Key } from './fnv.js';
export { jumpHash } from './jump.js';
export { rendezvousWeight } from './rendezvous.js';
export {
  KEY_HASHES,
  MAX_MATERIALIZED_PARTITIONS,
  MAX_PARTITIONS,
  PLACEMENTS,
  type KeyHash,
  type PartitionOptions,
  type Placement,
} from './options.js';
export { MAX_WEIGHT, MAX_ZONE_LENGTH, PartitionTable, createPartitionTable, type PartitionTableOptions } from './table.js';
export { diffOwnership, ownershipOf, type OwnershipChange } from './diff.js';
