/**
 * Payloads of Serf's internal queries (docs/protocol.md#internal-queries,
 * docs/protocol.md#responses-acks-and-relays): the `_serf_conflict` answer ([6] + Member),
 * key-management requests ([7] + {Key}) and answers ([8] + {Keys, Message, PrimaryKey, Result}),
 * and the relay wrapper ([9] + header + [5] + response).
 */
import { bool, bytes, decodeStruct, encodeTyped, str } from '../gossip/codec/fields.js';
import { DecodeError, Writer, decodeValue, text } from '../gossip/codec/msgpack.js';
import { SerfType } from './messages.js';

/** Serf's MemberStatus numbers, as `_serf_conflict` answers carry them. */
export const SerfStatusCode = { none: 0, alive: 1, leaving: 2, left: 3, failed: 4 } as const;

export interface ConflictMember {
  name: string;
  addr: Uint8Array;
  port: number;
  tags: Readonly<Record<string, string>>;
  status: number;
  /** [pmin, pmax, pcur, dmin, dmax, dcur] */
  vsn: Uint8Array;
}

export function encodeConflictResponse(m: ConflictMember | null): Uint8Array {
  return encodeTyped(SerfType.conflictResponse, (w) => {
    if (m === null) {
      w.nil();
      return;
    }
    const v = (i: number) => m.vsn[i] ?? 0;
    w.mapHeader(11)
      .key('Addr')
      .raw(m.addr)
      .key('DelegateCur')
      .int(v(5))
      .key('DelegateMax')
      .int(v(4))
      .key('DelegateMin')
      .int(v(3))
      .key('Name')
      .str(m.name)
      .key('Port')
      .int(m.port)
      .key('ProtocolCur')
      .int(v(2))
      .key('ProtocolMax')
      .int(v(1))
      .key('ProtocolMin')
      .int(v(0))
      .key('Status')
      .int(m.status);
    const tags = Object.entries(m.tags);
    w.key('Tags').mapHeader(tags.length);
    for (const [k, value] of tags) w.str(k).str(value);
  });
}

/** The address a `_serf_conflict` answer vouches for (Addr, Port), or null for a nil answer. */
export function decodeConflictResponse(payload: Uint8Array): { addr: Uint8Array; port: number } | null {
  if (payload[0] !== SerfType.conflictResponse) throw new DecodeError('not a conflict response', 'unknown-type');
  const { value } = decodeValue(payload, 1);
  if (value === null) return null;
  if (!(value instanceof Map)) throw new DecodeError('conflict response is not a map', 'field');
  const port = value.get('Port');
  return { addr: bytes(value, 'Addr') ?? new Uint8Array(0), port: typeof port === 'number' ? port : 0 };
}

export function encodeKeyRequest(key: Uint8Array | null): Uint8Array {
  return encodeTyped(SerfType.keyRequest, (w) => w.mapHeader(1).key('Key').rawOrNil(key));
}

/** The key of a key-management query payload (empty for `_serf_list-keys`, which sends none). */
export function decodeKeyRequest(payload: Uint8Array): Uint8Array {
  if (payload.length === 0) return new Uint8Array(0);
  if (payload[0] !== SerfType.keyRequest) throw new DecodeError('not a key request', 'unknown-type');
  return bytes(decodeStruct(payload.subarray(1), 'key request'), 'Key') ?? new Uint8Array(0);
}

export interface KeyResponse {
  result: boolean;
  message: string;
  /** base64 */
  keys: string[];
  primaryKey: string;
}

export function encodeKeyResponse(r: KeyResponse): Uint8Array {
  return encodeTyped(SerfType.keyResponse, (w) => {
    w.mapHeader(4).key('Keys').arrayHeader(r.keys.length);
    for (const k of r.keys) w.str(k);
    w.key('Message').str(r.message).key('PrimaryKey').str(r.primaryKey).key('Result').bool(r.result);
  });
}

export function decodeKeyResponse(payload: Uint8Array): KeyResponse {
  if (payload[0] !== SerfType.keyResponse) throw new DecodeError('not a key response', 'unknown-type');
  const m = decodeStruct(payload.subarray(1), 'key response');
  const keys = m.get('Keys');
  if (keys !== undefined && keys !== null && !Array.isArray(keys)) throw new DecodeError('Keys is not an array', 'field');
  return {
    result: bool(m, 'Result'),
    message: str(m, 'Message'),
    primaryKey: str(m, 'PrimaryKey'),
    keys: (keys ?? []).map((k) => {
      if (!(k instanceof Uint8Array)) throw new DecodeError('a key is not a string', 'field');
      return text(k);
    }),
  };
}

/** [9] + {DestAddr: {IP, Port, Zone}, DestName} + the message to forward ([5] + response). */
export function encodeRelay(destAddr: Uint8Array, destPort: number, destName: string, inner: Uint8Array): Uint8Array {
  const w = new Writer().u8(SerfType.relay);
  w.mapHeader(2).key('DestAddr').mapHeader(3).key('IP').raw(destAddr).key('Port').int(destPort).key('Zone').str('');
  w.key('DestName').str(destName).bytes(inner);
  return w.finish();
}

export function decodeRelay(body: Uint8Array): { addr: Uint8Array; port: number; inner: Uint8Array } {
  const { value, end } = decodeValue(body);
  if (!(value instanceof Map)) throw new DecodeError('relay header is not a map', 'field');
  const dest = value.get('DestAddr');
  if (!(dest instanceof Map)) throw new DecodeError('relay DestAddr is not a map', 'field');
  const port = dest.get('Port');
  if (typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 0xffff)
    throw new DecodeError('relay port is not a port', 'field');
  return { addr: bytes(dest, 'IP') ?? new Uint8Array(0), port, inner: body.subarray(end) };
}
