/**
 * Reads the one message a TCP stream carries: with a keyring, the frame [10][len u32][AES-GCM
 * blob] is collected and opened once whole; without, StreamFramer finds the message's end as
 * bytes arrive. Either way the message is decoded once, so a message of n bytes costs O(n) work
 * however the peer splits it (docs/budgets.md "TCP streams").
 */
import { MessageType } from '../gossip/codec/messages.js';
import { DecodeError } from '../gossip/codec/decode-error.js';
import { StreamFramer } from '../gossip/codec/stream-framer.js';
import { type StreamMessage, decodeStreamMessage } from '../gossip/codec/stream.js';
import type { Keyring } from './keyring.js';

/** Why a stream was given up, as counted in the node's drops. */
export type StreamDropReason = 'streamEncryption' | 'malformedStream' | 'streamTooLarge';

export class StreamReadError extends Error {
  override readonly name = 'StreamReadError';
  readonly reason: StreamDropReason;

  constructor(reason: StreamDropReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

const FRAME_HEADER_BYTES = 5;

export class StreamReader {
  readonly #keyring: Keyring | null;
  readonly #maxBytes: number;
  /** Encrypted: the frame's chunks until it is whole. */
  readonly #chunks: Buffer[] = [];
  #chunkBytes = 0;
  #frameBytes = -1;
  /** Plain: the framer that finds the message's end. */
  readonly #framer: StreamFramer;

  constructor(keyring: Keyring | null, maxBytes: number) {
    this.#keyring = keyring;
    this.#maxBytes = maxBytes;
    this.#framer = new StreamFramer(maxBytes);
  }

  /** Bytes this stream holds in memory now. */
  get bufferedBytes(): number {
    return this.#keyring ? this.#chunkBytes : this.#framer.bufferedBytes;
  }

  /** Whether the first bytes formed a valid frame header (encrypted) or message start (plain). */
  get started(): boolean {
    return this.#started;
  }

  #started = false;

  /** Takes the next chunk; returns the message once it is whole, else null. Throws StreamReadError. */
  push(chunk: Buffer): StreamMessage | null {
    if (chunk.length === 0) return null;
    if (this.#chunkBytes === 0 && this.#framer.length === 0) {
      const encrypted = chunk[0] === MessageType.encrypt;
      if (encrypted !== (this.#keyring !== null)) {
        throw new StreamReadError(
          'streamEncryption',
          encrypted
            ? 'remote state is encrypted and encryption is not configured'
            : 'encryption is configured but remote state is not encrypted',
        );
      }
    }
    try {
      return this.#keyring ? this.#pushEncrypted(this.#keyring, chunk) : this.#pushPlain(chunk);
    } catch (err) {
      if (err instanceof DecodeError)
        throw new StreamReadError(err.reason === 'budget' ? 'streamTooLarge' : 'malformedStream', err.message);
      throw err;
    }
  }

  #pushPlain(chunk: Buffer): StreamMessage | null {
    const whole = this.#framer.push(chunk);
    this.#started = true;
    return whole === null ? null : decodeStreamMessage(whole, this.#maxBytes).message;
  }

  #pushEncrypted(keyring: Keyring, chunk: Buffer): StreamMessage | null {
    // Keep only what the frame needs: a peer's bytes after it are not ours to hold.
    if (this.#frameBytes >= 0) chunk = chunk.subarray(0, Math.max(0, this.#frameBytes - this.#chunkBytes));
    this.#chunks.push(chunk);
    this.#chunkBytes += chunk.length;
    if (this.#frameBytes < 0) {
      if (this.#chunkBytes < FRAME_HEADER_BYTES) return null;
      const head = Buffer.concat(this.#chunks);
      const len = head.readUInt32BE(1);
      if (len > this.#maxBytes)
        throw new StreamReadError('streamTooLarge', `encrypted stream frame of ${len} bytes exceeds ${this.#maxBytes}`);
      this.#frameBytes = FRAME_HEADER_BYTES + len;
      this.#started = true;
      this.#chunks.length = 0;
      this.#chunks.push(head.subarray(0, this.#frameBytes));
      this.#chunkBytes = Math.min(head.length, this.#frameBytes);
    }
    if (this.#chunkBytes < this.#frameBytes) return null;
    const frame = Buffer.concat(this.#chunks, this.#frameBytes);
    this.#chunks.length = 0;
    const plain = keyring.decrypt(frame.subarray(FRAME_HEADER_BYTES), frame.subarray(0, FRAME_HEADER_BYTES));
    if (plain === null) throw new StreamReadError('streamEncryption', 'no key decrypts the stream');
    const whole = new StreamFramer(Math.max(1, plain.length)).push(plain);
    if (whole === null) throw new StreamReadError('malformedStream', 'truncated encrypted stream');
    return decodeStreamMessage(whole, this.#maxBytes).message;
  }
}
