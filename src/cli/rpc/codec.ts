/**
 * The msgpack of Serf's RPC (IPC) protocol: go-msgpack with `WriteExt: true`, which differs from
 * the gossip dialect (src/gossip/codec/msgpack.ts) in two ways: strings of 32 to 255 bytes take
 * str8, and Go []byte values (payloads, net.IP) are msgpack bin, not raw strings. Integers still
 * take their smallest encoding (a Go uint16 port of 7946 is 0xcd 0x1f 0x0a), time.Duration is an
 * int64 of nanoseconds, a nil slice or map is nil, and a struct is a map of its fields in
 * declaration order, every field present.
 *
 * The stream carries bare msgpack objects, one after another, with no length prefix.
 * `objectEnd` finds where the next object ends without building it, so a connection can wait for
 * the rest of an object and refuse one that declares more bytes or elements than its budget
 * before anything is allocated for it.
 */
import { BudgetExceededError, DecodeError, Reader, Writer, type MsgValue } from '../../gossip/codec/msgpack.js';

const encoder = new TextEncoder();

export class GoRpcWriter extends Writer {
  /** A Go string: fixstr, str8, str16 or str32. */
  text(v: string): this {
    const b = encoder.encode(v);
    const n = b.length;
    if (n < 32) this.u8(0xa0 | n);
    else if (n < 256) this.u8(0xd9).u8(n);
    else if (n < 65_536) this.u8(0xda).u16(n);
    else this.u8(0xdb).u32(n);
    return this.bytes(b);
  }

  /** A Go []byte: bin8, bin16 or bin32; a nil slice is nil. */
  bin(v: Uint8Array | null): this {
    if (v === null) return this.nil();
    const n = v.length;
    if (n < 256) this.u8(0xc4).u8(n);
    else if (n < 65_536) this.u8(0xc5).u16(n);
    else this.u8(0xc6).u32(n);
    return this.bytes(v);
  }

  /** A Go map[string]string; null is a nil map. */
  stringMap(m: Readonly<Record<string, string>> | null): this {
    if (m === null) return this.nil();
    const entries = Object.entries(m);
    this.mapHeader(entries.length);
    for (const [k, v] of entries) this.text(k).text(v);
    return this;
  }

  /** A Go map[string]int. */
  intMap(m: ReadonlyMap<string, number> | null): this {
    if (m === null) return this.nil();
    this.mapHeader(m.size);
    for (const [k, v] of m) this.text(k).int(v);
    return this;
  }
}

/** The result of scanning for one object: its end offset, or null when more bytes are needed. */
export type Extent = number | null;

/**
 * Where the msgpack object starting at `start` ends, or null if `buf` holds only part of it.
 * Throws BudgetExceededError as soon as a declared length would take the object past
 * `maxBytes`, or its containers declare more than `maxElements` elements in all, and
 * DecodeError for a byte that starts no value we accept (0xc1, the ext family).
 */
export function objectEnd(buf: Uint8Array, start: number, maxBytes: number, maxElements: number): Extent {
  const limit = start + maxBytes;
  let pos = start;
  let pending = 1; // values still to skip
  let elements = 0;
  const need = (n: number): boolean => {
    if (pos + n > limit) throw new BudgetExceededError(`an RPC object is larger than ${maxBytes} bytes`);
    return pos + n <= buf.length;
  };
  const count = (n: number): void => {
    elements += n;
    if (elements > maxElements) throw new BudgetExceededError(`an RPC object has more than ${maxElements} elements`);
    pending += n;
  };
  const len = (width: 1 | 2 | 4): number | null => {
    if (!need(1 + width)) return null;
    const v =
      width === 1
        ? buf[pos + 1]!
        : width === 2
          ? (buf[pos + 1]! << 8) | buf[pos + 2]!
          : ((buf[pos + 1]! << 24) >>> 0) + (buf[pos + 2]! << 16) + (buf[pos + 3]! << 8) + buf[pos + 4]!;
    return v;
  };
  while (pending > 0) {
    if (!need(1)) return null;
    const b = buf[pos]!;
    pending--;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      pos += 1;
    } else if (b >= 0xa0 && b <= 0xbf) {
      if (!need(1 + (b & 0x1f))) return null;
      pos += 1 + (b & 0x1f);
    } else if (b >= 0x90 && b <= 0x9f) {
      count(b & 0x0f);
      pos += 1;
    } else if (b >= 0x80 && b <= 0x8f) {
      count(2 * (b & 0x0f));
      pos += 1;
    } else {
      switch (b) {
        case 0xc4:
        case 0xd9:
        case 0xc5:
        case 0xda:
        case 0xc6:
        case 0xdb: {
          const width = b === 0xc4 || b === 0xd9 ? 1 : b === 0xc5 || b === 0xda ? 2 : 4;
          const n = len(width);
          if (n === null) return null;
          if (!need(1 + width + n)) return null;
          pos += 1 + width + n;
          break;
        }
        case 0xcc:
        case 0xd0:
          if (!need(2)) return null;
          pos += 2;
          break;
        case 0xcd:
        case 0xd1:
          if (!need(3)) return null;
          pos += 3;
          break;
        case 0xce:
        case 0xd2:
        case 0xca:
          if (!need(5)) return null;
          pos += 5;
          break;
        case 0xcf:
        case 0xd3:
        case 0xcb:
          if (!need(9)) return null;
          pos += 9;
          break;
        case 0xdc:
        case 0xdd: {
          const n = len(b === 0xdc ? 2 : 4);
          if (n === null) return null;
          count(n);
          pos += b === 0xdc ? 3 : 5;
          break;
        }
        case 0xde:
        case 0xdf: {
          const n = len(b === 0xde ? 2 : 4);
          if (n === null) return null;
          count(2 * n);
          pos += b === 0xde ? 3 : 5;
          break;
        }
        default:
          throw new DecodeError(`unsupported msgpack type 0x${b.toString(16)}`, 'unknown-type');
      }
    }
  }
  return pos;
}

/** Decodes a complete object found by `objectEnd`. */
export function decodeObject(bytes: Uint8Array, elementBudget: number): MsgValue {
  const reader = new Reader(bytes, 0, elementBudget);
  const value = reader.value();
  if (reader.offset !== bytes.length) throw new DecodeError('trailing bytes after an RPC object', 'malformed');
  return value;
}
