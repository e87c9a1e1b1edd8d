/**
 * An immutable partition table: (members, P, R, hash, placement) → owners of every partition.
 * Lookups are a key hash, a modulo and two array reads, with no allocation: every distinct owner
 * list is built once, frozen, and shared by all partitions that have it.
 */
import { invalidArgument, invalidOption } from '../errors.js';
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
import { constrainedOwners, memberHashes, rankScratch, rendezvousOwners } from './rendezvous.js';
import { compareUtf8 } from './utf8.js';
import { xxh64 } from './xxhash.js';

export interface PartitionTableOptions extends PartitionOptions {
  /** Member names, in any order; unique and non-empty. An empty list is valid: no owners. */
  members: readonly string[];
  /**
   * Zone of each member: the replicas of a partition go to distinct zones while unused zones
   * remain. A member not listed is alone in a zone of its own (named zones never equal it).
   * Keys that are not members are ignored. Implies placement 'rendezvous'.
   */
  zones?: Readonly<Record<string, string>>;
  /**
   * Capacity weight of each member, a finite number in (0, 1e6]; not listed: 1. A member's share
   * of partitions is proportional to its weight (weighted rendezvous). Keys that are not
   * members are ignored. Implies placement 'rendezvous'.
   */
  weights?: Readonly<Record<string, number>>;
}

/** Largest weight accepted: bounds the ratio between members so scores stay well inside float64. */
export const MAX_WEIGHT = 1e6;
/** Longest zone name accepted, in UTF-16 code units (tags are short anyway). */
export const MAX_ZONE_LENGTH = 256;

const NO_OWNERS: readonly string[] = Object.freeze([]);

export class PartitionTable {
  readonly partitions: number;
  readonly replicas: number;
  readonly hash: KeyHash;
  readonly placement: Placement;
  /** Member names sorted byte-wise by UTF-8. */
  readonly members: readonly string[];
  /**
   * Zone of each member that has one and shares it with another member (null when no two members
   * share a zone: then zones change nothing). Frozen, null-prototype.
   */
  readonly zones: Readonly<Record<string, string>> | null;
  /** Weight of every member, or null when all weights are equal (then weights change nothing). */
  readonly weights: Readonly<Record<string, number>> | null;
  /** xxHash64 (16 hex digits) of everything that determines the table; equal tables, equal checksums. */
  readonly checksum: string;

  /** Distinct owner lists (frozen), indexed by id. */
  readonly #ownerLists: readonly (readonly string[])[];
  /** Partition → owner-list id; null for jump tables too large to materialize. */
  readonly #listOf: Uint16Array | Uint32Array | null;
  readonly #fnv64: boolean;
  #memberSet: ReadonlySet<string> | undefined;

  constructor(options: PartitionTableOptions) {
    const ranked = options !== null && typeof options === 'object' && (options.zones !== undefined || options.weights !== undefined);
    if (ranked && options.placement === 'jump')
      throw invalidOption('placement', "'rendezvous' (or unset) when zones or weights are given", 'jump');
    const { partitions, replicas, hash, placement } = resolvePartitionOptions(ranked ? { ...options, placement: 'rendezvous' } : options);
    this.partitions = partitions;
    this.replicas = replicas;
    this.hash = hash;
    this.placement = placement;
    this.members = Object.freeze(sortMemberNames(options.members));
    this.zones = effectiveZones(this.members, options.zones);
    this.weights = effectiveWeights(this.members, options.weights);
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
    } else if (this.zones !== null || this.weights !== null) {
      const built = buildConstrainedIndex(this.members, partitions, replicas, this.zones, this.weights);
      this.#ownerLists = built.lists;
      this.#listOf = built.listOf;
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
  return internOwnerLists(members, partitions, owners, (p) => rendezvousOwners(hashes, p, width, owners, weightHi, weightLo));
}

/**
 * Runs `fill(p)` (which writes partition p's owners, as member indexes, into `owners`) for every
 * partition and keeps one frozen name list per distinct owner list, with a 2- or 4-byte list id
 * per partition.
 */
function internOwnerLists(
  members: readonly string[],
  partitions: number,
  owners: Int32Array,
  fill: (partition: number) => void,
): { lists: (readonly string[])[]; listOf: Uint16Array | Uint32Array } {
  const lists: (readonly string[])[] = [];
  const ids = new Map<string, number>();
  const idOf = new Uint32Array(partitions);
  for (let p = 0; p < partitions; p++) {
    fill(p);
    const signature = owners.length === 1 ? String(owners[0]) : owners.join(',');
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

/** Validates `zones` and keeps only what changes the table: zones of members sharing one. */
function effectiveZones(members: readonly string[], zones: PartitionTableOptions['zones']): Readonly<Record<string, string>> | null {
  if (zones === undefined) return null;
  if (zones === null || typeof zones !== 'object' || Array.isArray(zones))
    throw invalidOption('zones', 'an object mapping member names to zone names', zones);
  const count = new Map<string, number>();
  for (const name of members) {
    if (!Object.hasOwn(zones, name)) continue;
    const zone = zones[name];
    if (typeof zone !== 'string' || zone.length === 0 || zone.length > MAX_ZONE_LENGTH || !zone.isWellFormed()) {
      throw invalidOption(
        'zones',
        `non-empty, well-formed strings of at most ${MAX_ZONE_LENGTH} characters (member ${JSON.stringify(name)})`,
        zone,
      );
    }
    count.set(zone, (count.get(zone) ?? 0) + 1);
  }
  // A zone with one member constrains nothing: the same as that member having no zone.
  const kept = members.filter((name) => Object.hasOwn(zones, name) && count.get(zones[name]!)! > 1);
  if (kept.length === 0) return null;
  const out: Record<string, string> = Object.create(null);
  for (const name of kept) out[name] = zones[name]!;
  return Object.freeze(out);
}

/** Validates `weights`; null when every member's weight is the same (plain rendezvous order). */
function effectiveWeights(members: readonly string[], weights: PartitionTableOptions['weights']): Readonly<Record<string, number>> | null {
  if (weights === undefined) return null;
  if (weights === null || typeof weights !== 'object' || Array.isArray(weights))
    throw invalidOption('weights', 'an object mapping member names to weights', weights);
  const out: Record<string, number> = Object.create(null);
  let first: number | undefined;
  let varied = false;
  for (const name of members) {
    const w = Object.hasOwn(weights, name) ? weights[name] : 1;
    if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0 || w > MAX_WEIGHT) {
      throw invalidOption('weights', `finite numbers in (0, ${MAX_WEIGHT}] (member ${JSON.stringify(name)})`, w);
    }
    out[name] = w;
    first ??= w;
    if (w !== first) varied = true;
  }
  return varied ? Object.freeze(out) : null;
}

function buildConstrainedIndex(
  members: readonly string[],
  partitions: number,
  replicas: number,
  zones: Readonly<Record<string, string>> | null,
  weights: Readonly<Record<string, number>> | null,
): { lists: (readonly string[])[]; listOf: Uint16Array | Uint32Array } {
  const n = members.length;
  // Zone ids: named zones first (sorted, so ids never depend on input order), then one id per
  // member without a zone.
  const zoneOf = new Int32Array(n);
  const named = zones === null ? [] : [...new Set(Object.values(zones))].sort(compareUtf8);
  const idOfZone = new Map(named.map((z, i) => [z, i]));
  let next = named.length;
  members.forEach((name, m) => {
    const zone = zones?.[name];
    zoneOf[m] = zone === undefined ? next++ : idOfZone.get(zone)!;
  });
  const w = weights === null ? null : Float64Array.from(members, (name) => weights[name]!);
  const hashes = memberHashes(members);
  const scratch = rankScratch(zoneOf, w, replicas);
  const owners = new Int32Array(Math.min(replicas, n));
  return internOwnerLists(members, partitions, owners, (p) => constrainedOwners(hashes, p, replicas, owners, scratch));
}

const HASH_IDS: Record<KeyHash, number> = { fnv1a32: 1, fnv1a64: 2 };
const PLACEMENT_IDS: Record<Placement, number> = { jump: 1, rendezvous: 2 };

/**
 * The owners are a pure function of (format version, P, R, hash, placement, sorted names, and
 * the effective zones and weights), so hashing those identifies the content exactly at O(n)
 * cost, even for tables too large to materialize. Layout (little-endian): u32 version, u32 P,
 * u32 R, u8 hash, u8 placement, u32 n, then per member u32 byte length + UTF-8 bytes. Version 1
 * (no effective zones or weights) ends there, so plain tables keep their checksums. Version 2
 * then has, per member in the same order, u32 zone byte length + UTF-8 bytes (0xffffffff: no
 * zone), then per member a float64 weight.
 */
function tableChecksum(table: PartitionTable): string {
  const utf8 = new TextEncoder();
  const names = table.members.map((name) => utf8.encode(name));
  const { zones, weights } = table;
  const v2 = zones !== null || weights !== null;
  const zoneBytes = v2 ? table.members.map((name) => (zones?.[name] === undefined ? null : utf8.encode(zones[name]!))) : [];
  let size = 18;
  for (const bytes of names) size += 4 + bytes.length;
  for (const bytes of zoneBytes) size += 4 + (bytes?.length ?? 0);
  if (v2) size += 8 * names.length;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  view.setUint32(0, v2 ? 2 : 1, true);
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
  for (const bytes of zoneBytes) {
    view.setUint32(at, bytes === null ? 0xffffffff : bytes.length, true);
    if (bytes !== null) buf.set(bytes, at + 4);
    at += 4 + (bytes?.length ?? 0);
  }
  if (v2) {
    for (const name of table.members) {
      view.setFloat64(at, weights?.[name] ?? 1, true);
      at += 8;
    }
  }
  return xxh64(buf).toString(16).padStart(16, '0');
}
