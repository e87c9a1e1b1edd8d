/**
 * memberlist 0.2.2 message types and schemas (docs/protocol.md#message-types,
 * docs/protocol.md#memberlist-messages). Encoders write keys in the byte-wise sorted order Go
 * emits, so our bytes equal a Go member's for the same message.
 */
import { asMap, bool, bytes, decodeStruct, encodeTyped, int, str, u16, u32, u8 } from './fields.js';
import { DecodeError } from './decode-error.js';
import { Writer, decodeValue, type MsgMap } from './msgpack.js';

export const MessageType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
} as const;
export type MessageTypeName = keyof typeof MessageType;

export interface Ping {
  seqNo: number;
  node: string;
  sourceAddr: Uint8Array | null;
  sourcePort: number;
  sourceNode: string;
}
export interface IndirectPing extends Ping {
  target: Uint8Array;
  port: number;
  nack: boolean;
}
export interface Ack {
  seqNo: number;
  payload: Uint8Array | null;
}
export interface Nack {
  seqNo: number;
}
export interface Suspect {
  incarnation: number;
  node: string;
  from: string;
}
export type Dead = Suspect;
export interface Alive {
  incarnation: number;
  node: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  vsn: Uint8Array;
}
export interface PushPullHeader {
  nodes: number;
  userStateLen: number;
  join: boolean;
}
export const NodeState = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type NodeStateValue = (typeof NodeState)[keyof typeof NodeState];
export interface PushNodeState {
  name: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: NodeStateValue;
  vsn: Uint8Array;
}
export interface Compress {
  algo: number;
  buf: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Writes the omitempty Source* fields of ping / indirect ping (sorted with the others by the caller). */
function sourceFieldCount(m: Ping): number {
  return (m.sourceAddr && m.sourceAddr.length > 0 ? 1 : 0) + (m.sourceNode !== '' ? 1 : 0) + (m.sourcePort !== 0 ? 1 : 0);
}

function writeSourceFields(w: Writer, m: Ping): void {
  if (m.sourceAddr && m.sourceAddr.length > 0) w.key('SourceAddr').raw(m.sourceAddr);
  if (m.sourceNode !== '') w.key('SourceNode').str(m.sourceNode);
  if (m.sourcePort !== 0) w.key('SourcePort').int(m.sourcePort);
}

export function encodePing(m: Ping): Uint8Array {
  return encodeTyped(MessageType.ping, (w) => {
    w.mapHeader(2 + sourceFieldCount(m));
    w.key('Node').str(m.node).key('SeqNo').int(m.seqNo);
    writeSourceFields(w, m);
  });
}

export function encodeIndirectPing(m: IndirectPing): Uint8Array {
  return encodeTyped(MessageType.indirectPing, (w) => {
    w.mapHeader(5 + sourceFieldCount(m));
    w.key('Nack').bool(m.nack).key('Node').str(m.node).key('Port').int(m.port).key('SeqNo').int(m.seqNo);
    writeSourceFields(w, m);
    w.key('Target').raw(m.target);
  });
}

export function encodeAck(m: Ack): Uint8Array {
  return encodeTyped(MessageType.ack, (w) => w.mapHeader(2).key('Payload').rawOrNil(m.payload).key('SeqNo').int(m.seqNo));
}

export function encodeNack(m: Nack): Uint8Array {
  return encodeTyped(MessageType.nack, (w) => w.mapHeader(1).key('SeqNo').int(m.seqNo));
}

function encodeAccusation(type: number, m: Suspect): Uint8Array {
  return encodeTyped(type, (w) => w.mapHeader(3).key('From').str(m.from).key('Incarnation').int(m.incarnation).key('Node').str(m.node));
}

export const encodeSuspect = (m: Suspect) => encodeAccusation(MessageType.suspect, m);
export const encodeDead = (m: Dead) => encodeAccusation(MessageType.dead, m);

export function encodeAlive(m: Alive): Uint8Array {
  return encodeTyped(MessageType.alive, (w) =>
    w
      .mapHeader(6)
      .key('Addr')
      .raw(m.addr)
      .key('Incarnation')
      .int(m.incarnation)
      .key('Meta')
      .raw(m.meta)
      .key('Node')
      .str(m.node)
      .key('Port')
      .int(m.port)
      .key('Vsn')
      .raw(m.vsn),
  );
}

export function encodeErr(message: string): Uint8Array {
  return encodeTyped(MessageType.err, (w) => w.mapHeader(1).key('Error').str(message));
}

export function encodeCompress(m: Compress): Uint8Array {
  return encodeTyped(MessageType.compress, (w) => w.mapHeader(2).key('Algo').int(m.algo).key('Buf').raw(m.buf));
}

/** [8][user bytes] on UDP: the rest of the packet is the user message. */
export function encodeUser(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = MessageType.user;
  out.set(payload, 1);
  return out;
}

/** [8][userMsgHeader{UserMsgLen}][bytes] on a TCP stream (docs/protocol.md#tcp-streams). */
export function encodeUserStream(payload: Uint8Array): Uint8Array {
  return encodeTyped(MessageType.user, (w) => w.mapHeader(1).key('UserMsgLen').int(payload.length).bytes(payload));
}

export function encodePushPull(header: PushPullHeader, states: readonly PushNodeState[], userState: Uint8Array): Uint8Array {
  return encodeTyped(MessageType.pushPull, (w) => {
    w.mapHeader(3).key('Join').bool(header.join).key('Nodes').int(states.length).key('UserStateLen').int(userState.length);
    for (const s of states) {
      w.mapHeader(7)
        .key('Addr')
        .raw(s.addr)
        .key('Incarnation')
        .int(s.incarnation)
        .key('Meta')
        .raw(s.meta)
        .key('Name')
        .str(s.name)
        .key('Port')
        .int(s.port)
        .key('State')
        .int(s.state)
        .key('Vsn')
        .raw(s.vsn);
    }
    w.bytes(userState);
  });
}

// Decoders: `bytes` is the message body, after the type byte.

function decodeSource(m: MsgMap): Pick<Ping, 'sourceAddr' | 'sourceNode' | 'sourcePort'> {
  return { sourceAddr: bytes(m, 'SourceAddr'), sourceNode: str(m, 'SourceNode'), sourcePort: u16(m, 'SourcePort') };
}

export function decodePing(b: Uint8Array): Ping {
  const m = decodeStruct(b, 'ping');
  return { seqNo: u32(m, 'SeqNo'), node: str(m, 'Node'), ...decodeSource(m) };
}

export function decodeIndirectPing(b: Uint8Array): IndirectPing {
  const m = decodeStruct(b, 'indirect ping');
  return {
    seqNo: u32(m, 'SeqNo'),
    node: str(m, 'Node'),
    target: bytes(m, 'Target') ?? EMPTY,
    port: u16(m, 'Port'),
    nack: bool(m, 'Nack'),
    ...decodeSource(m),
  };
}

export function decodeAck(b: Uint8Array): Ack {
  const m = decodeStruct(b, 'ack');
  return { seqNo: u32(m, 'SeqNo'), payload: bytes(m, 'Payload') };
}

export function decodeNack(b: Uint8Array): Nack {
  return { seqNo: u32(decodeStruct(b, 'nack'), 'SeqNo') };
}

export function decodeSuspect(b: Uint8Array): Suspect {
  const m = decodeStruct(b, 'suspect');
  return { incarnation: u32(m, 'Incarnation'), node: str(m, 'Node'), from: str(m, 'From') };
}
export const decodeDead = decodeSuspect;

export function decodeAlive(b: Uint8Array): Alive {
  const m = decodeStruct(b, 'alive');
  return {
    incarnation: u32(m, 'Incarnation'),
    node: str(m, 'Node'),
    addr: bytes(m, 'Addr') ?? EMPTY,
    port: u16(m, 'Port'),
    meta: bytes(m, 'Meta') ?? EMPTY,
    vsn: bytes(m, 'Vsn') ?? EMPTY,
  };
}

export function decodeErr(b: Uint8Array): string {
  return str(decodeStruct(b, 'error'), 'Error');
}

export function decodeCompress(b: Uint8Array): Compress & { end: number } {
  const { value, end } = decodeValue(b);
  const m = asMap(value, 'compress');
  return { algo: u8(m, 'Algo'), buf: bytes(m, 'Buf') ?? EMPTY, end };
}

export function decodePushNodeState(m: MsgMap): PushNodeState {
  const state = int(m, 'State');
  if (state < 0 || state > 3) throw new DecodeError(`push/pull node state ${state} is unknown`, 'unknown-type');
  return {
    name: str(m, 'Name'),
    addr: bytes(m, 'Addr') ?? EMPTY,
    port: u16(m, 'Port'),
    meta: bytes(m, 'Meta') ?? EMPTY,
    incarnation: u32(m, 'Incarnation'),
    state: state as NodeStateValue,
    vsn: bytes(m, 'Vsn') ?? EMPTY,
  };
}

export function decodePushPullHeader(m: MsgMap): PushPullHeader {
  return { nodes: int(m, 'Nodes'), userStateLen: int(m, 'UserStateLen'), join: bool(m, 'Join') };
}
