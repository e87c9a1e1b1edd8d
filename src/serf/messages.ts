/**
 * Serf messages (docs/protocol.md#serf-message-types), carried as memberlist user messages:
 * [serf type][msgpack map with Go's sorted keys]. Decoders take the bytes after the Serf type byte
 * and apply Go's rules (missing keys are zero values, wrong types are DecodeErrors).
 */
import { bool, bytes, decodeStruct, encodeTyped, str, u16, u32, u64, u8 } from '../gossip/codec/fields.js';
import { DecodeError } from '../gossip/codec/msgpack.js';

export const SerfType = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9,
} as const;

export interface JoinIntent {
  ltime: bigint;
  node: string;
}
export interface LeaveIntent extends JoinIntent {
  prune: boolean;
}
export interface UserEvent {
  ltime: bigint;
  name: string;
  payload: Uint8Array;
  coalesce: boolean;
}
export interface Query {
  ltime: bigint;
  id: number;
  addr: Uint8Array;
  port: number;
  sourceNode: string;
  filters: Uint8Array[];
  flags: number;
  relayFactor: number;
  /** Nanoseconds, as Go's time.Duration. */
  timeoutNs: bigint;
  name: string;
  payload: Uint8Array;
}
export interface QueryResponse {
  ltime: bigint;
  id: number;
  from: string;
  flags: number;
  payload: Uint8Array | null;
}

/** Query flags: bit 0 asks for acks, bit 1 forbids rebroadcast. */
export const QueryFlag = { ack: 1, noBroadcast: 2 } as const;

const EMPTY = new Uint8Array(0);

export function encodeJoinIntent(m: JoinIntent): Uint8Array {
  return encodeTyped(SerfType.join, (w) => w.mapHeader(2).key('LTime').int(m.ltime).key('Node').str(m.node));
}

export function encodeLeaveIntent(m: LeaveIntent): Uint8Array {
  return encodeTyped(SerfType.leave, (w) => w.mapHeader(3).key('LTime').int(m.ltime).key('Node').str(m.node).key('Prune').bool(m.prune));
}

export function encodeUserEvent(m: UserEvent): Uint8Array {
  return encodeTyped(SerfType.userEvent, (w) =>
    w.mapHeader(4).key('CC').bool(m.coalesce).key('LTime').int(m.ltime).key('Name').str(m.name).key('Payload').raw(m.payload),
  );
}

export function encodeQuery(m: Query): Uint8Array {
  return encodeTyped(SerfType.query, (w) => {
    w.mapHeader(11).key('Addr').raw(m.addr).key('Filters').arrayHeader(m.filters.length);
    for (const f of m.filters) w.raw(f);
    w.key('Flags')
      .int(m.flags)
      .key('ID')
      .int(m.id)
      .key('LTime')
      .int(m.ltime)
      .key('Name')
      .str(m.name)
      .key('Payload')
      .raw(m.payload)
      .key('Port')
      .int(m.port)
      .key('RelayFactor')
      .int(m.relayFactor)
      .key('SourceNode')
      .str(m.sourceNode)
      .key('Timeout')
      .int(m.timeoutNs);
  });
}

export function encodeQueryResponse(m: QueryResponse): Uint8Array {
  return encodeTyped(SerfType.queryResponse, (w) =>
    w
      .mapHeader(5)
      .key('Flags')
      .int(m.flags)
      .key('From')
      .str(m.from)
      .key('ID')
      .int(m.id)
      .key('LTime')
      .int(m.ltime)
      .key('Payload')
      .rawOrNil(m.payload),
  );
}

export function decodeJoinIntent(b: Uint8Array): JoinIntent {
  const m = decodeStruct(b, 'join intent');
  return { ltime: u64(m, 'LTime'), node: str(m, 'Node') };
}

export function decodeLeaveIntent(b: Uint8Array): LeaveIntent {
  const m = decodeStruct(b, 'leave intent');
  return { ltime: u64(m, 'LTime'), node: str(m, 'Node'), prune: bool(m, 'Prune') };
}

export function decodeUserEvent(b: Uint8Array): UserEvent {
  const m = decodeStruct(b, 'user event');
  return { ltime: u64(m, 'LTime'), name: str(m, 'Name'), payload: bytes(m, 'Payload') ?? EMPTY, coalesce: bool(m, 'CC') };
}

export function decodeQuery(b: Uint8Array): Query {
  const m = decodeStruct(b, 'query');
  const filters = m.get('Filters');
  if (filters !== undefined && filters !== null && !Array.isArray(filters))
    throw new DecodeError('query filters are not an array', 'field');
  const list = (filters ?? []).map((f) => {
    if (!(f instanceof Uint8Array)) throw new DecodeError('a query filter is not bytes', 'field');
    return f;
  });
  // A Go time.Duration: an int64 of nanoseconds (a float, NaN included, is malformed).
  const timeout = m.get('Timeout');
  const int64 = (v: unknown) =>
    (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'bigint' && v >= -(2n ** 63n) && v < 2n ** 63n);
  if (timeout !== undefined && timeout !== null && !int64(timeout)) throw new DecodeError('query timeout is not a 64-bit integer', 'field');
  return {
    ltime: u64(m, 'LTime'),
    id: u32(m, 'ID'),
    addr: bytes(m, 'Addr') ?? EMPTY,
    port: u16(m, 'Port'),
    sourceNode: str(m, 'SourceNode'),
    filters: list,
    flags: u32(m, 'Flags'),
    relayFactor: u8(m, 'RelayFactor'),
    timeoutNs: timeout === undefined || timeout === null ? 0n : BigInt(timeout as number | bigint),
    name: str(m, 'Name'),
    payload: bytes(m, 'Payload') ?? EMPTY,
  };
}

export function decodeQueryResponse(b: Uint8Array): QueryResponse {
  const m = decodeStruct(b, 'query response');
  return { ltime: u64(m, 'LTime'), id: u32(m, 'ID'), from: str(m, 'From'), flags: u32(m, 'Flags'), payload: bytes(m, 'Payload') };
}
