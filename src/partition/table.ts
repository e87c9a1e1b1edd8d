/**
 * An immutable partition table: (members, P, R, hash, placement) → owners of every partition.
 * Lookups are a key hash, a modulo and two array reads, with no allocation: every distinct owner
 * list is built once, frozen, and shared by all partitions that have it.
 */
import { invalidArgument } from '../errors.js';
import { fnv1a32, fnv1a64Partition, type Key } from './fnv.js';
import { jumpHashParts } from './jump.js';
import {
  MAX_MATERIALIZED_PARTITIONS,
  resolvePartitionOptions,
  sortMemberNames,
  type KeyHash,
  type PartitionOptions,
  type Placement,
} from './options.js';
import { memberHashes, rendezvousOwners } from './rendezvous.js';
import { xxh64 } from './xxhash.js';

export interface PartitionTableOptions extends PartitionOptions {
  /** Member names, in any order; unique and non-empty. An empty list is valid: no owners. */
  members: readonly string[];
}

const NO_OWNERS: readonly string[] = Object.freeze([]);

export class PartitionTable {
  readonly partitions: number;
  readonly replicas: number;
  readonly hash: KeyHash;
  readonly placement: Placement;
  /** Member names sorted byte-wise by UTF-8. */
  readonly members: readonly string[];
  /** xxHash64 (16 hex digits) of everything that determines the table; equal tables, equal checksums. */
  readonly checksum: string;

  /** Distinct owner lists (frozen), indexed by id. */
  readonly #ownerLists: readonly (readonly string[])[];
  /** Partition → owner-list id; null for jump tables too large to materialize. */
  readonly #listOf: Uint16Array | Uint32Array | null;
  readonly #fnv64: boolean;
  #memberSet: ReadonlySet<string> | undefined;

  constructor(options: PartitionTableOptions) {
    const { partitions, replicas, hash, placement } = resolvePartitionOptions(options);
    this.partitions = partitions;
    this.replicas = replicas;
    this.hash = hash;
    this.placement = placement;
    this.members = Object.freeze(sortMemberNames(options.members));
    this.#fnv64 = hash === 'fnv1a64';
    const n = this.members.length;
    if (n === 0) {
      this.#ownerLists = [NO_OWNERS];
      this.#listOf = null;
    } else if (placement === 'jump') {
      // Owners of p are the sorted members rotated by jump(p, n): only n distinct lists exist,
      // and list id = rotation.
      const width = Math.min(replicas, n);
      this.#ownerLists = this.members.map((_, rotation) =>
        Object.freeze(Array.from({ length: width }, (_, r) => this.members[(rotation + r) % n]!)),
      );
      this.#listOf = partitions <= MAX_MATERIALIZED_PARTITIONS ? buildJumpIndex(partitions, n) : null;
    } else {
      const built = buildRendezvousIndex(this.members, partitions, replicas);
      this.#ownerLists = built.lists;
      this.#listOf = built.listOf;
    }
    this.checksum = tableChecksum(this);
    Object.freeze(this);
  }

  /** The partition of a key: hash(key) mod P. */
  partitionForKey(key: Key): number {
    if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
      throw invalidArgument('key', 'a string or a Uint8Array', key);
    }
    // Direct calls (not a stored function) so the hash inlines into the lookup.
    return this.#fnv64 ? fnv1a64Partition(key, this.partitions) : fnv1a32(key) % this.partitions;
  }

  /** Owners of a partition, primary first: min(R, n) distinct members. Do not mutate (frozen). */
  membersForPartition(partition: number): readonly string[] {
    const listOf = this.#listOf;
    if (listOf !== null) {
      const id = listOf[partition];
      if (id === undefined) throw invalidArgument('partition', `an integer in [0, ${this.partitions - 1}]`, partition);
      return this.#ownerLists[id]!;
    }
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw invalidArgument('partition', `an integer in [0, ${this.partitions - 1}]`, partition);
    }
    const n = this.members.length;
    return n === 0 ? NO_OWNERS : this.#ownerLists[jumpHashParts(0, partition, n)]!;
  }

  /** Owners of the key's partition, primary first. */
  membersForKey(key: Key): readonly string[] {
    const partition = this.partitionForKey(key);
    const listOf = this.#listOf;
    return listOf !== null ? this.#ownerLists[listOf[partition]!]! : this.membersForPartition(partition);
  }

  /** The primary owner of the key's partition, or undefined when the table has no members. */
  primaryForKey(key: Key): string | undefined {
    return this.membersForKey(key)[0];
  }

  /** Whether `name` is a member of this table (owner of something or not). */
  hasMember(name: string): boolean {
    this.#memberSet ??= new Set(this.members);
    return this.#memberSet.has(name);
  }
}

/** Builds a partition table; throws SwimringError(ERR_INVALID_OPTION) on a bad option. */
export function createPartitionTable(options: PartitionTableOptions): PartitionTable {
  return new PartitionTable(options);
}

function buildJumpIndex(partitions: number, n: number): Uint16Array | Uint32Array {
  const listOf = n <= 0x10000 ? new Uint16Array(partitions) : new Uint32Array(partitions);
  for (let p = 0; p < partitions; p++) listOf[p] = jumpHashParts(0, p, n);
  return listOf;
}

function buildRendezvousIndex(
  members: readonly string[],
  partitions: number,
  replicas: number,
): { lists: (readonly string[])[]; listOf: Uint16Array | Uint32Array } {
  const hashes = memberHashes(members);
  const width = Math.min(replicas, members.length);
  const owners = new Int32Array(width);
  const weightHi = new Uint32Array(width);
  const weightLo = new Uint32Array(width);
  const lists: (readonly string[])[] = [];
  const ids = new Map<string, number>();
  const idOf = new Uint32Array(partitions);
  for (let p = 0; p < partitions; p++) {
    rendezvousOwners(hashes, p, width, owners, weightHi, weightLo);
    const signature = width === 1 ? String(owners[0]) : owners.join(',');
    let id = ids.get(signature);
    if (id === undefined) {
      id = lists.length;
      ids.set(signature, id);
      lists.push(Object.freeze(Array.from(owners, (m) => members[m]!)));
    }
    idOf[p] = id;
  }
  return { lists, listOf: lists.length <= 0x10000 ? Uint16Array.from(idOf) : idOf };
}

const HASH_IDS: Record<KeyHash, number> = { fnv1a32: 1, fnv1a64: 2 };
const PLACEMENT_IDS: Record<Placement, number> = { jump: 1, rendezvous: 2 };

/**
 * The owners are a pure function of (format version, P, R, hash, placement, sorted names), so
 * hashing those identifies the content exactly at O(n) cost, even for tables too large to
 * materialize. Layout (little-endian): u32 version=1, u32 P, u32 R, u8 hash, u8 placement,
 * u32 n, then per member u32 byte length + UTF-8 bytes.
 */
function tableChecksum(table: PartitionTable): string {
  let size = 18;
  const utf8 = new TextEncoder();
  const names = table.members.map((name) => utf8.encode(name));
  for (const bytes of names) size += 4 + bytes.length;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  view.setUint32(0, 1, true);
  view.setUint32(4, table.partitions, true);
  view.setUint32(8, table.replicas, true);
  view.setUint8(12, HASH_IDS[table.hash]);
  view.setUint8(13, PLACEMENT_IDS[table.placement]);
  view.setUint32(14, names.length, true);
  let at = 18;
  for (const bytes of names) {
    view.setUint32(at, bytes.length, true);
    buf.set(bytes, at + 4);
    at += 4 + bytes.length;
  }
  return xxh64(buf).toString(16).padStart(16, '0');
}
