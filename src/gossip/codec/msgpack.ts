/**
 * The msgpack dialect of go-msgpack 0.5.5 with a zero-valued MsgpackHandle
 * (docs/protocol.md#the-msgpack-dialect): strings and []byte share the raw str family (fixstr,
 * str16, str32; never str8 or bin on encode), integers take their smallest encoding, structs are
 * maps keyed by field name.
 *
 * Decoding is total: any input yields a value or a DecodeError, never an exception of another
 * kind, never an allocation larger than the input justifies. Raw values come back as bytes;
 * a caller turns them into text only for fields that are Go strings.
 */

import { BudgetExceededError, DecodeError, TruncatedError } from './decode-error.js';

// The decode errors' home is decode-error.ts; re-exported here for the codec's callers.
export { BudgetExceededError, DecodeError, type DecodeErrorReason, TruncatedError } from './decode-error.js';

export type MsgValue = null | boolean | number | bigint | Uint8Array | MsgValue[] | MsgMap;
/** A decoded map: keys are raw strings turned into text (Go field names, tag names). */
export type MsgMap = Map<string, MsgValue>;

const MAX_DEPTH = 32;
/**
 * Most elements one decode may produce unless the caller gives another budget: each array or map
 * counts 1, plus 1 per item, key and value inside it. Every element costs at least one input byte, but a JS Map or
 * array costs far more memory than its byte: the budget bounds what a small input can make us
 * hold (docs/budgets.md).
 */
export const DEFAULT_ELEMENT_BUDGET = 65_536;
const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();
const fieldNames = new Map<string, Uint8Array>();

export class Reader {
  readonly bytes: Uint8Array;
  offset: number;
  readonly #view: DataView;
  /** Elements this reader may still produce, over all the values it decodes. */
  #elements: number;

  constructor(bytes: Uint8Array, offset = 0, elementBudget = DEFAULT_ELEMENT_BUDGET) {
    this.bytes = bytes;
    this.offset = offset;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#elements = elementBudget;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  #need(n: number): void {
    if (n > this.bytes.length - this.offset) throw new TruncatedError('truncated msgpack value');
  }

  u8(): number {
    this.#need(1);
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  raw(n: number): Uint8Array {
    this.#need(n);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** Decodes one value. */
  value(depth = 0): MsgValue {
    if (depth > MAX_DEPTH) throw new DecodeError('msgpack nesting too deep', 'too-deep');
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0xa0 && b <= 0xbf) return this.raw(b & 0x1f);
    if (b >= 0x90 && b <= 0x9f) return this.#array(b & 0x0f, depth);
    if (b >= 0x80 && b <= 0x8f) return this.#map(b & 0x0f, depth);
    const view = this.#view;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return this.raw(this.u8());
      case 0xc5:
      case 0xda:
        return this.raw(this.u16());
      case 0xc6:
      case 0xdb:
        return this.raw(this.u32());
      case 0xca: {
        this.#need(4);
        const v = view.getFloat32(this.offset);
        this.offset += 4;
        return v;
      }
      case 0xcb: {
        this.#need(8);
        const v = view.getFloat64(this.offset);
        this.offset += 8;
        return v;
      }
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        this.#need(8);
        const v = view.getBigUint64(this.offset);
        this.offset += 8;
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 0xd0: {
        this.#need(1);
        return view.getInt8(this.offset++);
      }
      case 0xd1: {
        this.#need(2);
        const v = view.getInt16(this.offset);
        this.offset += 2;
        return v;
      }
      case 0xd2: {
        this.#need(4);
        const v = view.getInt32(this.offset);
        this.offset += 4;
        return v;
      }
      case 0xd3: {
        this.#need(8);
        const v = view.getBigInt64(this.offset);
        this.offset += 8;
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 0xdc:
        return this.#array(this.u16(), depth);
      case 0xdd:
        return this.#array(this.u32(), depth);
      case 0xde:
        return this.#map(this.u16(), depth);
      case 0xdf:
        return this.#map(this.u32(), depth);
      default:
        // 0xc1 (never used) and the ext family (go-msgpack with WriteExt=false never sends them).
        throw new DecodeError(`unsupported msgpack type 0x${b.toString(16)}`, 'unknown-type');
    }
  }

  /** Gives the values decoded from now on a fresh element budget. */
  setElementBudget(n: number): void {
    this.#elements = n;
  }

  /** Spends `n` elements of the budget, before anything is allocated for them. */
  #spend(n: number): void {
    if (n > this.#elements) throw new BudgetExceededError('msgpack value exceeds its element budget');
    this.#elements -= n;
  }

  #array(n: number, depth: number): MsgValue[] {
    // Every element takes at least one byte: a declared length beyond that is a lie.
    // Over budget is final; short of bytes may only mean more are coming.
    this.#spend(1 + n);
    if (n > this.remaining) throw new TruncatedError('truncated msgpack array');
    const out: MsgValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
    return out;
  }

  #map(n: number, depth: number): MsgMap {
    this.#spend(1 + n * 2);
    if (n * 2 > this.remaining) throw new TruncatedError('truncated msgpack map');
    const out: MsgMap = new Map();
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      if (!(key instanceof Uint8Array)) throw new DecodeError('msgpack map key is not a string', 'malformed');
      out.set(keyText(key), this.value(depth + 1));
    }
    return out;
  }
}

/** Map keys are short ASCII field names: decoded without TextDecoder's per-call cost. */
function keyText(key: Uint8Array): string {
  if (key.length > 24) return textDecoder.decode(key);
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    if (c >= 0x80) return textDecoder.decode(key);
    out += String.fromCharCode(c);
  }
  return out;
}

/** Decodes exactly one value from `bytes` starting at `offset`; returns it and the end offset. */
export function decodeValue(bytes: Uint8Array, offset = 0, elementBudget = DEFAULT_ELEMENT_BUDGET): { value: MsgValue; end: number } {
  const reader = new Reader(bytes, offset, elementBudget);
  const value = reader.value();
  return { value, end: reader.offset };
}

/** Appends Go-dialect msgpack to a growable buffer. */
export class Writer {
  #buf: Uint8Array;
  #view: DataView;
  length = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
    this.#view = new DataView(this.#buf.buffer);
  }

  #ensure(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf[this.length++] = v;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    this.#view.setUint16(this.length, v);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    this.#view.setUint32(this.length, v);
    this.length += 4;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.#ensure(v.length);
    this.#buf.set(v, this.length);
    this.length += v.length;
    return this;
  }

  nil(): this {
    return this.u8(0xc0);
  }

  bool(v: boolean): this {
    return this.u8(v ? 0xc3 : 0xc2);
  }

  /** An integer in its smallest encoding, as go-msgpack writes any Go integer type. */
  int(v: number | bigint): this {
    if (typeof v === 'bigint') {
      if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return this.int(Number(v));
      this.#ensure(9);
      if (v >= 0n) {
        this.#buf[this.length] = 0xcf;
        this.#view.setBigUint64(this.length + 1, v);
      } else {
        this.#buf[this.length] = 0xd3;
        this.#view.setBigInt64(this.length + 1, v);
      }
      this.length += 9;
      return this;
    }
    if (v >= 0) {
      if (v <= 0x7f) return this.u8(v);
      if (v <= 0xff) return this.u8(0xcc).u8(v);
      if (v <= 0xffff) return this.u8(0xcd).u16(v);
      if (v <= 0xffffffff) return this.u8(0xce).u32(v);
      this.#ensure(9);
      this.#buf[this.length] = 0xcf;
      this.#view.setBigUint64(this.length + 1, BigInt(v));
      this.length += 9;
      return this;
    }
    if (v >= -32) return this.u8(v + 0x100);
    this.#ensure(9);
    if (v >= -0x80) {
      this.#buf[this.length] = 0xd0;
      this.#view.setInt8(this.length + 1, v);
      this.length += 2;
    } else if (v >= -0x8000) {
      this.#buf[this.length] = 0xd1;
      this.#view.setInt16(this.length + 1, v);
      this.length += 3;
    } else if (v >= -0x80000000) {
      this.#buf[this.length] = 0xd2;
      this.#view.setInt32(this.length + 1, v);
      this.length += 5;
    } else {
      this.#buf[this.length] = 0xd3;
      this.#view.setBigInt64(this.length + 1, BigInt(v));
      this.length += 9;
    }
    return this;
  }

  float64(v: number): this {
    this.#ensure(9);
    this.#buf[this.length] = 0xcb;
    this.#view.setFloat64(this.length + 1, v);
    this.length += 9;
    return this;
  }

  /** A raw string: fixstr, str16 or str32 (go-msgpack never writes str8). */
  raw(v: Uint8Array): this {
    const n = v.length;
    if (n < 32) this.u8(0xa0 | n);
    else if (n <= 0xffff) this.u8(0xda).u16(n);
    else this.u8(0xdb).u32(n);
    return this.bytes(v);
  }

  /** A Go string field or map key: its UTF-8 bytes as a raw string. */
  str(v: string): this {
    return this.raw(textEncoder.encode(v));
  }

  /** A struct field name: a small fixed set, so their encodings are kept. */
  key(name: string): this {
    let bytes = fieldNames.get(name);
    if (bytes === undefined) {
      bytes = textEncoder.encode(name);
      if (fieldNames.size < 256) fieldNames.set(name, bytes);
    }
    return this.raw(bytes);
  }

  /** A []byte field: nil slices are msgpack nil, others raw strings. */
  rawOrNil(v: Uint8Array | null): this {
    return v === null ? this.nil() : this.raw(v);
  }

  mapHeader(n: number): this {
    if (n < 16) return this.u8(0x80 | n);
    if (n <= 0xffff) return this.u8(0xde).u16(n);
    return this.u8(0xdf).u32(n);
  }

  arrayHeader(n: number): this {
    if (n < 16) return this.u8(0x90 | n);
    if (n <= 0xffff) return this.u8(0xdc).u16(n);
    return this.u8(0xdd).u32(n);
  }

  /** The encoded bytes (a copy, so the writer can be reused). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

export function text(raw: Uint8Array): string {
  return textDecoder.decode(raw);
}
