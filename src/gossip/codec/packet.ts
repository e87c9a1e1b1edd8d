/**
 * UDP packet layering (docs/protocol.md#udp-datagrams). Encryption is outside: the I/O layer
 * decrypts before unpacking and encrypts after packing.
 */
import { crc32 } from './crc32.js';
import { lzwCompress, lzwDecompress } from './lzw.js';
import { MessageType, decodeCompress, encodeCompress } from './messages.js';
import { DecodeError, TruncatedError } from './decode-error.js';

/** One message from a packet: its type byte and the bytes after it. */
export interface PacketMessage {
  type: number;
  body: Uint8Array;
}

/**
 * Largest datagram we read (Go reads 65536), and the most all the compress envelopes of one
 * datagram may expand to together (docs/budgets.md "UDP datagrams"): nesting compound inside
 * compress would otherwise multiply it (255 parts × 64 KiB per level).
 */
export const MAX_PACKET_BYTES = 65536;
const MAX_NESTING = 4;

/**
 * Unpacks a datagram into its messages, in order. Verifies a top-level CRC. Throws
 * DecodeError for a bad CRC (reason `crc`), a malformed compound or compress, or nesting deeper
 * than 4 (`too-deep`); a compound whose lengths overrun the packet keeps its complete parts and
 * reports `truncated`.
 */
export function unpackPacket(bytes: Uint8Array): { messages: PacketMessage[]; truncated: boolean } {
  let payload = bytes;
  if (payload.length >= 5 && payload[0] === MessageType.hasCrc) {
    const expected = ((payload[1]! << 24) | (payload[2]! << 16) | (payload[3]! << 8) | payload[4]!) >>> 0;
    payload = payload.subarray(5);
    if (crc32(payload) !== expected) throw new DecodeError('CRC mismatch', 'crc');
  }
  const messages: PacketMessage[] = [];
  const state = { truncated: false, expandedBytes: 0 };
  unpack(payload, 0, messages, state);
  return { messages, truncated: state.truncated };
}

function unpack(bytes: Uint8Array, depth: number, out: PacketMessage[], state: { truncated: boolean; expandedBytes: number }): void {
  if (bytes.length === 0) throw new DecodeError('empty message', 'malformed');
  if (depth > MAX_NESTING) throw new DecodeError('messages nested too deep', 'too-deep');
  const type = bytes[0]!;
  if (type === MessageType.compound) {
    if (bytes.length < 2) throw new TruncatedError('truncated compound header');
    const count = bytes[1]!;
    let offset = 2 + count * 2;
    if (offset > bytes.length) throw new TruncatedError('truncated compound lengths');
    for (let i = 0; i < count; i++) {
      const len = (bytes[2 + i * 2]! << 8) | bytes[3 + i * 2]!;
      if (offset + len > bytes.length) {
        state.truncated = true;
        return;
      }
      unpack(bytes.subarray(offset, offset + len), depth + 1, out, state);
      offset += len;
    }
    return;
  }
  if (type === MessageType.compress) {
    const c = decodeCompress(bytes.subarray(1));
    if (c.algo !== 0) throw new DecodeError(`unknown compression algorithm ${c.algo}`, 'unknown-type');
    const plain = lzwDecompress(c.buf, MAX_PACKET_BYTES - state.expandedBytes);
    state.expandedBytes += plain.length;
    unpack(plain, depth + 1, out, state);
    return;
  }
  if (type === MessageType.hasCrc) throw new DecodeError('CRC header below the top level', 'malformed');
  out.push({ type, body: bytes.subarray(1) });
}

/** [7][n][len u16 BE]×n[parts]: at most 255 parts of at most 65535 bytes each. */
export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length > 255) throw new RangeError('a compound holds at most 255 messages');
  let size = 2 + parts.length * 2;
  for (const p of parts) {
    if (p.length > 0xffff) throw new RangeError('a compound part holds at most 65535 bytes');
    size += p.length;
  }
  const out = new Uint8Array(size);
  out[0] = MessageType.compound;
  out[1] = parts.length;
  let at = 2 + parts.length * 2;
  parts.forEach((p, i) => {
    out[2 + i * 2] = p.length >> 8;
    out[3 + i * 2] = p.length & 0xff;
    out.set(p, at);
    at += p.length;
  });
  return out;
}

export interface PackOptions {
  /** Compress when the result is strictly smaller (Go's UDP rule). */
  compress: boolean;
  /** Prefix a CRC: only when the receiver is known to speak protocol 5 (docs/protocol.md#crc). */
  crc: boolean;
}

/** One datagram from one or more messages. */
export function packPacket(messages: readonly Uint8Array[], options: PackOptions): Uint8Array {
  let payload = messages.length === 1 ? messages[0]! : encodeCompound(messages);
  if (options.compress) {
    const compressed = encodeCompress({ algo: 0, buf: lzwCompress(payload) });
    if (compressed.length < payload.length) payload = compressed;
  }
  if (!options.crc) return payload;
  const out = new Uint8Array(payload.length + 5);
  const crc = crc32(payload);
  out[0] = MessageType.hasCrc;
  out[1] = crc >>> 24;
  out[2] = (crc >>> 16) & 0xff;
  out[3] = (crc >>> 8) & 0xff;
  out[4] = crc & 0xff;
  out.set(payload, 5);
  return out;
}
