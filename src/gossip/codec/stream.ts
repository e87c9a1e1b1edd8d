/**
 * TCP stream messages (wire reference §2.3, §8). Unencrypted streams have no length prefix, so
 * the parser is incremental: it says whether the bytes so far hold one whole message. The
 * encryption frame ([10][len][blob]) is removed by the I/O layer before this runs.
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
import { DecodeError, Reader, TruncatedError } from './msgpack.js';

export type StreamMessage =
  | { type: 'pushPull'; header: PushPullHeader; states: PushNodeState[]; userState: Uint8Array }
  | { type: 'ping'; ping: Ping }
  | { type: 'ack'; ack: Ack }
  | { type: 'user'; payload: Uint8Array }
  | { type: 'err'; error: string };

export type StreamParse =
  | { status: 'incomplete' }
  | { status: 'complete'; message: StreamMessage; compressed: boolean; length: number };

/**
 * Parses one message from the start of `bytes`. Throws DecodeError when the bytes can never
 * become a valid message (malformed, unknown type, or larger than `maxBytes`).
 */
export function parseStream(bytes: Uint8Array, maxBytes: number): StreamParse {
  try {
    return complete(bytes, maxBytes);
  } catch (err) {
    if (err instanceof TruncatedError) {
      if (bytes.length >= maxBytes) throw new DecodeError(`stream message exceeds ${maxBytes} bytes`);
      return { status: 'incomplete' };
    }
    throw err;
  }
}

function complete(bytes: Uint8Array, maxBytes: number): StreamParse {
  if (bytes.length === 0) throw new TruncatedError('empty stream');
  if (bytes[0] === MessageType.compress) {
    const c = decodeCompress(bytes.subarray(1));
    if (c.algo !== 0) throw new DecodeError(`unknown compression algorithm ${c.algo}`);
    const plain = lzwDecompress(c.buf, maxBytes);
    try {
      const inner = complete(plain, maxBytes);
      if (inner.status === 'complete' && inner.compressed) throw new DecodeError('nested compression on a stream');
      return { ...(inner as Extract<StreamParse, { status: 'complete' }>), compressed: true, length: 1 + c.end };
    } catch (err) {
      // Inside a complete compress envelope, a short message can never grow.
      if (err instanceof TruncatedError) throw new DecodeError(`compressed stream message is truncated: ${err.message}`);
      throw err;
    }
  }
  const r = new Reader(bytes, 1);
  const message = ((): StreamMessage => {
    switch (bytes[0]) {
      case MessageType.pushPull: {
        const header = decodePushPullHeader(asMap(r.value(), 'push/pull header'));
        if (header.nodes < 0 || header.userStateLen < 0) throw new DecodeError('negative push/pull count');
        // Each node state takes at least one byte: a larger count is a lie, not a wait.
        if (header.nodes > maxBytes || header.userStateLen > maxBytes) throw new DecodeError('push/pull counts exceed the stream limit');
        const states: PushNodeState[] = [];
        for (let i = 0; i < header.nodes; i++) states.push(decodePushNodeState(asMap(r.value(), 'push/pull node state')));
        const userState = r.raw(header.userStateLen);
        return { type: 'pushPull', header, states, userState };
      }
      case MessageType.ping:
        return { type: 'ping', ping: decodePing(nextValue(r)) };
      case MessageType.ack:
        return { type: 'ack', ack: decodeAck(nextValue(r)) };
      case MessageType.user: {
        const m = asMap(r.value(), 'user message header');
        const len = m.get('UserMsgLen');
        if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > maxBytes) throw new DecodeError('bad user message length');
        return { type: 'user', payload: r.raw(len) };
      }
      case MessageType.err:
        return { type: 'err', error: decodeErr(nextValue(r)) };
      default:
        throw new DecodeError(`unexpected stream message type ${bytes[0]}`);
    }
  })();
  return { status: 'complete', message, compressed: false, length: r.offset };
}

/** The bytes of the next msgpack value (the message decoders take a body). */
function nextValue(r: Reader): Uint8Array {
  const start = r.offset;
  r.value();
  return r.bytes.subarray(start, r.offset);
}
