/**
 * Serf's push/pull user state (docs/protocol.md#serf-state-exchange): [2] + messagePushPull with
 * Go's sorted keys. It carries the three Lamport clocks, every member's status time, the names of
 * members that left, and the recent user events so a peer that missed one by gossip still gets it.
 */
import { decodeStruct, encodeTyped, str, u64 } from '../gossip/codec/fields.js';
import { DecodeError, text, type MsgMap, type MsgValue } from '../gossip/codec/msgpack.js';
import { MAX_PUSH_PULL_NODES } from '../gossip/codec/stream-framer.js';
import { SerfType } from './messages.js';

export interface RecentEvent {
  readonly name: string;
  readonly payload: Uint8Array;
}

/** The events seen at one event time. */
export interface EventsAt {
  readonly ltime: bigint;
  readonly events: readonly RecentEvent[];
}

export interface SerfState {
  ltime: bigint;
  eventLTime: bigint;
  queryLTime: bigint;
  statusLTimes: Map<string, bigint>;
  leftMembers: string[];
  events: EventsAt[];
}

const EMPTY = new Uint8Array(0);

export function encodeSerfState(s: SerfState): Uint8Array {
  return encodeTyped(SerfType.pushPull, (w) => {
    w.mapHeader(6).key('EventLTime').int(s.eventLTime).key('Events').arrayHeader(s.events.length);
    for (const at of s.events) {
      w.mapHeader(2).key('Events').arrayHeader(at.events.length);
      for (const e of at.events) w.mapHeader(2).key('Name').str(e.name).key('Payload').raw(e.payload);
      w.key('LTime').int(at.ltime);
    }
    w.key('LTime').int(s.ltime).key('LeftMembers').arrayHeader(s.leftMembers.length);
    for (const name of s.leftMembers) w.str(name);
    w.key('QueryLTime').int(s.queryLTime).key('StatusLTimes').mapHeader(s.statusLTimes.size);
    for (const [name, ltime] of s.statusLTimes) w.str(name).int(ltime);
  });
}

/**
 * Elements one Serf push/pull state may decode to (docs/budgets.md "Serf messages"): a status
 * time per member (two elements each) and a name per member that left, for as many members as a
 * push/pull may carry, plus Serf's 512-slot event ring.
 */
const SERF_STATE_ELEMENT_BUDGET = 8 * MAX_PUSH_PULL_NODES;

/** Decodes the bytes after the type byte; Go's zero values for what is missing. */
export function decodeSerfState(body: Uint8Array): SerfState {
  const m = decodeStruct(body, 'serf push/pull state', SERF_STATE_ELEMENT_BUDGET);
  const statusLTimes = new Map<string, bigint>();
  const statuses = m.get('StatusLTimes');
  if (statuses !== undefined && statuses !== null) {
    if (!(statuses instanceof Map)) throw new DecodeError('StatusLTimes is not a map', 'field');
    for (const [name, ltime] of statuses) statusLTimes.set(name, asU64(ltime, 'a status time'));
  }
  const leftMembers = list(m.get('LeftMembers'), 'LeftMembers').map((v) => {
    if (!(v instanceof Uint8Array)) throw new DecodeError('a left member is not a string', 'field');
    return text(v);
  });
  const events: EventsAt[] = [];
  for (const at of list(m.get('Events'), 'Events')) {
    if (at === null) continue; // Go sends its whole 512-slot ring, mostly nil
    if (!(at instanceof Map)) throw new DecodeError('an event slot is not a map', 'field');
    events.push({ ltime: u64(at, 'LTime'), events: list(at.get('Events'), 'Events').map(recentEvent) });
  }
  return { ltime: u64(m, 'LTime'), eventLTime: u64(m, 'EventLTime'), queryLTime: u64(m, 'QueryLTime'), statusLTimes, leftMembers, events };
}

function recentEvent(v: MsgValue): RecentEvent {
  if (!(v instanceof Map)) throw new DecodeError('an event is not a map', 'field');
  const payload = (v as MsgMap).get('Payload');
  if (payload !== undefined && payload !== null && !(payload instanceof Uint8Array))
    throw new DecodeError('an event payload is not bytes', 'field');
  return { name: str(v, 'Name'), payload: payload ?? EMPTY };
}

function list(v: MsgValue | undefined, what: string): MsgValue[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new DecodeError(`${what} is not an array`, 'field');
  return v;
}

function asU64(v: MsgValue, what: string): bigint {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n) return v;
  throw new DecodeError(`${what} is not an unsigned integer`, 'field');
}
