/**
 * TCP stream messages. Unencrypted streams have no length prefix:
 * StreamFramer finds where a message ends as bytes arrive, then `decodeStreamMessage` decodes
 * it once. The encryption frame ([10][len][blob]) is removed by the I/O layer before this runs.
 * Budgets (docs/budgets.md "TCP streams"): a compressed message may expand to at most
 * MAX_COMPRESSION_RATIO times its size (and never past the stream limit); a push/pull carries
 * at most MAX_PUSH_PULL_NODES node states, each checked before the next is decoded.
 */
import { asMap } from './fields.js';
import { lzwDecompress } from './lzw.js';
import {
  MessageType,
  decodeAck,
  decodeCompress,
  decodeErr,
  decodePing,
  decodePushNodeState,
  decodePushPullHeader,
  type Ack,
  type Ping,
  type PushNodeState,
  type PushPullHeader,
} from './messages.js';
import { DecodeError, TruncatedError } from './decode-error.js';
import { Reader } from './msgpack.js';
import { MAX_PUSH_PULL_NODES, StreamFramer } from './stream-framer.js';

export type StreamMessage =
  | { type: 'pushPull'; header: PushPullHeader; states: PushNodeState[]; userState: Uint8Array }
  | { type: 'ping'; ping: Ping }
  | { type: 'ack'; ack: Ack }
  | { type: 'user'; payload: Uint8Array }
  | { type: 'err'; error: string };

export type StreamParse = { status: 'incomplete' } | { status: 'complete'; message: StreamMessage; compressed: boolean; length: number };

/**
 * Most a compressed stream message may expand, as a multiple of its compressed size. Real
 * push/pulls compress 5–10× (a 10 000-member state: 8×); LZW can reach ~2 700× (a 13 KB input
 * filling 16 MiB), which would let a small input cost seconds of work.
 */
export const MAX_COMPRESSION_RATIO = 64;
/** A compressed message may always expand to this much, whatever its ratio. */
const MIN_EXPANSION_BYTES = 64 * 1024;
/** Fewest bytes of one node state: a map with a non-empty Name (0x81 0xa4 "Name" 0xa1 x). */
const MIN_NODE_STATE_BYTES = 8;
/** A node state is a struct of seven fields: 64 elements leave room for unknown ones. */
const NODE_STATE_ELEMENT_BUDGET = 64;

/**
 * Parses one message from the start of `bytes` (all of a stream read so far). Throws
 * DecodeError when the bytes can never become a valid message of at most `maxBytes`.
 */
export function parseStream(bytes: Uint8Array, maxBytes: number): StreamParse {
  const whole = new StreamFramer(maxBytes).push(bytes);
  if (whole === null) return { status: 'incomplete' };
  return decodeStreamMessage(whole, maxBytes);
}

/** Decodes one complete stream message (exactly the bytes StreamFramer returned). */
export function decodeStreamMessage(bytes: Uint8Array, maxBytes: number): Extract<StreamParse, { status: 'complete' }> {
  if (bytes[0] === MessageType.compress) {
    const c = decodeCompress(bytes.subarray(1));
    if (c.algo !== 0) throw new DecodeError(`unknown compression algorithm ${c.algo}`, 'unknown-type');
    const limit = Math.min(maxBytes, Math.max(MIN_EXPANSION_BYTES, c.buf.length * MAX_COMPRESSION_RATIO));
    const plain = lzwDecompress(c.buf, limit);
    if (plain[0] === MessageType.compress) throw new DecodeError('nested compression on a stream', 'too-deep');
    // Inside a complete compress envelope the message must be whole: a short one can never grow.
    const inner = new StreamFramer(maxBytes).push(plain);
    if (inner === null) throw new TruncatedError('compressed stream message is truncated');
    return { message: decodePlain(inner), status: 'complete', compressed: true, length: 1 + c.end };
  }
  return { message: decodePlain(bytes), status: 'complete', compressed: false, length: bytes.length };
}

function decodePlain(bytes: Uint8Array): StreamMessage {
  const r = new Reader(bytes, 1);
  switch (bytes[0]) {
    case MessageType.pushPull: {
      const header = decodePushPullHeader(asMap(r.value(), 'push/pull header'));
      const remaining = r.remaining - header.userStateLen;
      if (header.nodes < 0 || header.nodes > MAX_PUSH_PULL_NODES || header.nodes * MIN_NODE_STATE_BYTES > remaining) {
        throw new DecodeError('push/pull declares more node states than its bytes hold', 'malformed');
      }
      const states: PushNodeState[] = [];
      for (let i = 0; i < header.nodes; i++) {
        // The element budget is per state, and a bad state stops the rest before they cost anything.
        r.setElementBudget(NODE_STATE_ELEMENT_BUDGET);
        const state = decodePushNodeState(asMap(r.value(), 'push/pull node state'));
        if (state.name === '') throw new DecodeError('push/pull node state without a name', 'field');
        states.push(state);
      }
      return { type: 'pushPull', header, states, userState: r.raw(header.userStateLen) };
    }
    case MessageType.ping:
      return { type: 'ping', ping: decodePing(bytes.subarray(1)) };
    case MessageType.ack:
      return { type: 'ack', ack: decodeAck(bytes.subarray(1)) };
    case MessageType.user: {
      const m = asMap(r.value(), 'user message header');
      const len = m.get('UserMsgLen');
      if (typeof len !== 'number' || !Number.isInteger(len) || len < 0) throw new DecodeError('bad user message length', 'field');
      return { type: 'user', payload: r.raw(len) };
    }
    case MessageType.err:
      return { type: 'err', error: decodeErr(bytes.subarray(1)) };
    default:
      throw new DecodeError(`unexpected stream message type ${bytes[0]}`, 'unknown-type');
  }
}
