/**
 * Typed reads of Go struct fields from a decoded msgpack map, with Go's decoder rules
 * (docs/protocol.md#decoding-rules): a missing key or nil is the zero value, unknown keys are
 * ignored, a value of the wrong type or out of the Go type's range is an error.
 */
import { DecodeError } from './decode-error.js';
import { Writer, decodeValue, text, type MsgMap, type MsgValue } from './msgpack.js';

export function asMap(value: MsgValue, what: string): MsgMap {
  if (!(value instanceof Map)) throw new DecodeError(`${what} is not a msgpack map`, 'field');
  return value;
}

/** A message: its type byte, then what `write` adds (a struct, usually). */
export function encodeTyped(type: number, write: (w: Writer) => void): Uint8Array {
  const w = new Writer().u8(type);
  write(w);
  return w.finish();
}

/** The struct (msgpack map) at the start of a message body. */
export function decodeStruct(body: Uint8Array, what: string, elementBudget?: number): MsgMap {
  return asMap(decodeValue(body, 0, elementBudget).value, what);
}

function uint(m: MsgMap, key: string, max: number): number {
  const v = m.get(key);
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw new DecodeError(`field ${key} is not an integer in [0, ${max}]`, 'field');
  return v;
}

export const u8 = (m: MsgMap, key: string) => uint(m, key, 0xff);
export const u16 = (m: MsgMap, key: string) => uint(m, key, 0xffff);
export const u32 = (m: MsgMap, key: string) => uint(m, key, 0xffffffff);
/** A Go int (64-bit); we accept only values that are safe as a JS number. */
export const int = (m: MsgMap, key: string) => {
  const v = m.get(key);
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new DecodeError(`field ${key} is not an integer`, 'field');
  return v;
};

/** A Go uint64 (Lamport times): bigint always, so comparisons never mix types. */
export function u64(m: MsgMap, key: string): bigint {
  const v = m.get(key);
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n && v <= 0xffffffffffffffffn) return v;
  throw new DecodeError(`field ${key} is not an unsigned 64-bit integer`, 'field');
}

export function bool(m: MsgMap, key: string): boolean {
  const v = m.get(key);
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw new DecodeError(`field ${key} is not a bool`, 'field');
}

export function str(m: MsgMap, key: string): string {
  const v = m.get(key);
  if (v === undefined || v === null) return '';
  if (!(v instanceof Uint8Array)) throw new DecodeError(`field ${key} is not a string`, 'field');
  return text(v);
}

/** A []byte field; nil stays null (Go distinguishes nil from empty on the wire). */
export function bytes(m: MsgMap, key: string): Uint8Array | null {
  const v = m.get(key);
  if (v === undefined || v === null) return null;
  if (!(v instanceof Uint8Array)) throw new DecodeError(`field ${key} is not bytes`, 'field');
  return v;
}
