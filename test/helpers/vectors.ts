import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Golden vectors produced by the real, unmodified libring code (see the file's metadata).
 * SWIMRING_VECTORS points the tests at another file of the same format (e.g. the held-out half).
 */
export const vectorsPath = process.env['SWIMRING_VECTORS'] ?? fileURLToPath(new URL('../vectors/libring-vectors.json', import.meta.url));

export interface KeyVector {
  key: string;
  key_utf8_hex: string;
  fnv1a64_hex: string;
  fnv1a64_dec: string;
  partition: Record<string, number>;
  partition_if_uint_is_32bit: Record<string, number>;
  fnv1a32_hex_NOT_USED_BY_LIBRING: string;
}

export interface MemberSetVector {
  set: string;
  input_order: string[];
  sorted_ring: string[];
  partition_count: number;
  rows: {
    partition: number;
    jump_bucket: number;
    replicas: Record<string, (string | null)[]>;
    preference?: string[];
  }[];
}

export interface JumpVector {
  key_dec: string;
  key_hex: string;
  buckets: number;
  bucket: number;
}

export interface EventVector {
  scenario: string;
  local: string;
  old_ring: string[] | null;
  new_ring: string[];
  partitions: number;
  redundancy: number;
  emitted_acquisitions: number;
  emitted_releases: number;
  slot_changes_gaining_local: number;
  slot_changes_losing_local: number;
  slot_owners: { partition: number; old: (string | null)[]; new: (string | null)[] }[];
}

export interface Vectors {
  keys: KeyVector[];
  member_sets: MemberSetVector[];
  jump: JumpVector[];
  events: EventVector[];
}

export const vectors: Vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as Vectors;
