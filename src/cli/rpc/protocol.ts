/**
 * Serf's RPC protocol, version 1 (cmd/serf/command/agent/ipc.go and client/const.go of Serf
 * 0.9.4): command names, the error strings clients compare against, the event filter syntax of
 * `stream`, and the shapes of responses and records as go-msgpack writes them (fields in
 * alphabetical order, as the real agent sends them).
 */
import { ipToBytes } from '../../gossip/address.js';
import type { Member, QueryReply } from '../../io/gossip-node.js';
import { GoRpcWriter } from './codec.js';

export const IPC_VERSION = 1;

/** Commands followed by a body (a msgpack object of their own); the rest have none. */
export const COMMANDS_WITH_BODY = new Set([
  'handshake',
  'auth',
  'event',
  'force-leave',
  'join',
  'members-filtered',
  'stream',
  'stop',
  'monitor',
  'install-key',
  'use-key',
  'remove-key',
  'tags',
  'query',
  'respond',
  'get-coordinate',
]);
export const COMMANDS_WITHOUT_BODY = new Set(['members', 'leave', 'list-keys', 'stats']);

export const Errors = {
  unsupportedCommand: 'Unsupported command',
  unsupportedIPCVersion: 'Unsupported IPC version',
  duplicateHandshake: 'Handshake already performed',
  handshakeRequired: 'Handshake required',
  monitorExists: 'Monitor already exists',
  invalidFilter: 'Invalid event filter',
  streamExists: 'Stream with given sequence exists',
  invalidQueryID: 'No pending queries matching ID',
  authRequired: 'Authentication required',
  invalidAuthToken: 'Invalid authentication token',
} as const;

export type MemberEventName = 'member-join' | 'member-leave' | 'member-failed' | 'member-update' | 'member-reap';

/** One part of a `stream` Type: an event type, and for user events and queries an exact name ('' for any). */
export interface EventFilter {
  readonly event: string;
  readonly name: string;
}

const FILTER_EVENTS = new Set(['member-join', 'member-leave', 'member-failed', 'member-update', 'member-reap', 'user', 'query', '*']);

/** Serf's ParseEventFilter: comma-separated; '' is '*'; `user:NAME` and `query:NAME`. Null if any part is invalid. */
export function parseEventFilter(type: string): EventFilter[] | null {
  const filters: EventFilter[] = [];
  for (const part of (type === '' ? '*' : type).split(',')) {
    let event = part;
    let name = '';
    if (part.startsWith('user:')) [event, name] = ['user', part.slice(5)];
    else if (part.startsWith('query:')) [event, name] = ['query', part.slice(6)];
    if (!FILTER_EVENTS.has(event)) return null;
    filters.push({ event, name });
  }
  return filters;
}

/** Serf's EventFilter.Invoke, for an event of `event` type ('user', 'query' or a member event) named `name`. */
export function filterAdmits(filters: readonly EventFilter[], event: string, name: string): boolean {
  return filters.some(
    (f) => f.event === '*' || (f.event === event && (f.name === '' || (event !== 'user' && event !== 'query') || f.name === name)),
  );
}

/** A response header: {Error, Seq}. */
export function writeHeader(w: GoRpcWriter, seq: bigint, error: string): GoRpcWriter {
  return w.mapHeader(2).text('Error').text(error).text('Seq').int(seq);
}

/** Serf's agent Member struct. */
export function writeMember(w: GoRpcWriter, m: Member): void {
  w.mapHeader(11)
    .text('Addr')
    .bin(ipToBytes(m.host) ?? new Uint8Array(0))
    .text('DelegateCur')
    .int(m.delegate.cur)
    .text('DelegateMax')
    .int(m.delegate.max)
    .text('DelegateMin')
    .int(m.delegate.min)
    .text('Name')
    .text(m.name)
    .text('Port')
    .int(m.port)
    .text('ProtocolCur')
    .int(m.protocol.cur)
    .text('ProtocolMax')
    .int(m.protocol.max)
    .text('ProtocolMin')
    .int(m.protocol.min)
    .text('Status')
    .text(m.status)
    .text('Tags')
    .stringMap(m.tags);
}

/** membersResponse {Members}. */
export function writeMembers(w: GoRpcWriter, members: readonly Member[]): void {
  w.mapHeader(1).text('Members').arrayHeader(members.length);
  for (const m of members) writeMember(w, m);
}

/** memberEventRecord {Event, Members}. */
export function writeMemberEvent(w: GoRpcWriter, event: MemberEventName, members: readonly Member[]): void {
  w.mapHeader(2).text('Event').text(event).text('Members').arrayHeader(members.length);
  for (const m of members) writeMember(w, m);
}

/** userEventRecord {Coalesce, Event, LTime, Name, Payload}. */
export function writeUserEvent(w: GoRpcWriter, e: { ltime: bigint; name: string; payload: Uint8Array; coalesce: boolean }): void {
  w.mapHeader(5)
    .text('Coalesce')
    .bool(e.coalesce)
    .text('Event')
    .text('user')
    .text('LTime')
    .int(e.ltime)
    .text('Name')
    .text(e.name)
    .text('Payload')
    .bin(e.payload);
}

/** queryEventRecord {Event, ID, LTime, Name, Payload}. */
export function writeQueryEvent(w: GoRpcWriter, id: bigint, q: { ltime: bigint; name: string; payload: Uint8Array }): void {
  w.mapHeader(5)
    .text('Event')
    .text('query')
    .text('ID')
    .int(id)
    .text('LTime')
    .int(q.ltime)
    .text('Name')
    .text(q.name)
    .text('Payload')
    .bin(q.payload);
}

/** queryRecord {From, Payload, Type}: an ack, a response, or the end ('done', From ''). */
export function writeQueryRecord(w: GoRpcWriter, reply: QueryReply | null): void {
  w.mapHeader(3);
  if (reply === null) w.text('From').text('').text('Payload').nil().text('Type').text('done');
  else if (reply.type === 'ack') w.text('From').text(reply.from).text('Payload').nil().text('Type').text('ack');
  else w.text('From').text(reply.from).text('Payload').bin(reply.payload).text('Type').text('response');
}

/** logRecord {Log}. */
export function writeLogRecord(w: GoRpcWriter, line: string): void {
  w.mapHeader(1).text('Log').text(line);
}

export interface KeyResult {
  readonly messages: Map<string, string>;
  readonly keys: Map<string, number> | null;
  numNodes: number;
  numResp: number;
  numErr: number;
}

/** keyResponse {Keys, Messages, NumErr, NumNodes, NumResp}; Keys is nil except for list-keys. */
export function writeKeyResponse(w: GoRpcWriter, r: KeyResult): void {
  w.mapHeader(5).text('Keys').intMap(r.keys).text('Messages').mapHeader(r.messages.size);
  for (const [node, message] of r.messages) w.text(node).text(message);
  w.text('NumErr').int(r.numErr).text('NumNodes').int(r.numNodes).text('NumResp').int(r.numResp);
}

/** coordinateResponse for a node without a coordinate (swimring keeps none): a zero Coordinate, Ok false. */
export function writeNoCoordinate(w: GoRpcWriter): void {
  w.mapHeader(2)
    .text('Coord')
    .mapHeader(4)
    .text('Adjustment')
    .float64(0)
    .text('Error')
    .float64(0)
    .text('Height')
    .float64(0)
    .text('Vec')
    .nil();
  w.text('Ok').bool(false);
}

/** A map[string]map[string]string (stats). */
export function writeStats(w: GoRpcWriter, stats: Record<string, Record<string, string>>): void {
  const sections = Object.entries(stats);
  w.mapHeader(sections.length);
  for (const [name, values] of sections) w.text(name).stringMap(values);
}
