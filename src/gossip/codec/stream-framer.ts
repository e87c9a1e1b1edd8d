/**
 * Finds where one TCP stream message ends as its bytes arrive, without decoding it.
 * Unencrypted streams carry no length prefix, so the end is known only by walking the msgpack
 * structure. The walk resumes where the previous chunk stopped and allocates nothing per value,
 * so a message of n bytes costs O(n) however it is split (docs/budgets.md "TCP streams").
 */
import { asMap } from './fields.js';
import { MessageType, decodePushPullHeader } from './messages.js';
import { BudgetExceededError, DecodeError } from './decode-error.js';
import { Reader } from './msgpack.js';

/** Most node states one push/pull may carry (memberlist has no limit; 65 536 members is far past any real cluster). */
export const MAX_PUSH_PULL_NODES = 65_536;
/** A push/pull or user-message header is a small struct: a longer one is not a header. */
const MAX_HEADER_BYTES = 1024;
/** Elements a header may hold (three fields, plus slack for unknown ones). */
const HEADER_ELEMENT_BUDGET = 64;
/** Deepest msgpack nesting walked (the decoder refuses deeper values anyway). */
const MAX_DEPTH = 33;

type Phase = 'type' | 'header' | 'values' | 'done';

export class StreamFramer {
  readonly maxBytes: number;
  #buf = new Uint8Array(256);
  #length = 0;
  #phase: Phase = 'type';
  #type = -1;
  /** Where the walk resumes. */
  #at = 0;
  /** Items still to walk at each open nesting level (outermost first). */
  readonly #stack: number[] = [];
  /** Bytes of a raw string the walk is inside of. */
  #rawLeft = 0;
  /** Whether the outermost values must be maps (push/pull node states). */
  #mapsOnly = false;
  /** Raw bytes after the values (push/pull user state, user message payload). */
  #tail = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes of the message received so far. */
  get length(): number {
    return this.#length;
  }

  /** Bytes held so far (what this stream costs in memory). */
  get bufferedBytes(): number {
    return this.#buf.length;
  }

  /**
   * Adds the next bytes. Returns the whole message once its last byte is in (bytes after it are
   * ignored: one request per stream), or null while it is incomplete. Throws DecodeError when the
   * bytes can never become a message of at most `maxBytes`.
   */
  push(chunk: Uint8Array): Uint8Array | null {
    if (this.#phase === 'done') return null;
    if (this.#length + chunk.length > this.maxBytes) {
      // Only the bytes the message still needs count: a peer may send more after it.
      chunk = chunk.subarray(0, Math.max(0, this.maxBytes - this.#length));
      if (chunk.length === 0) throw new BudgetExceededError(`stream message exceeds ${this.maxBytes} bytes`);
    }
    this.#append(chunk);
    const end = this.#advance();
    if (end < 0) {
      if (this.#length >= this.maxBytes) throw new BudgetExceededError(`stream message exceeds ${this.maxBytes} bytes`);
      return null;
    }
    this.#phase = 'done';
    return this.#buf.subarray(0, end);
  }

  #append(chunk: Uint8Array): void {
    if (this.#length + chunk.length > this.#buf.length) {
      const grown = new Uint8Array(Math.min(this.maxBytes, Math.max(this.#buf.length * 2, this.#length + chunk.length)));
      grown.set(this.#buf.subarray(0, this.#length));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#length);
    this.#length += chunk.length;
  }

  /** The message's end offset once it is complete, else -1. */
  #advance(): number {
    if (this.#phase === 'type') {
      if (this.#length === 0) return -1;
      this.#type = this.#buf[0]!;
      this.#at = 1;
      switch (this.#type) {
        case MessageType.pushPull:
        case MessageType.user:
          this.#phase = 'header';
          break;
        case MessageType.ping:
        case MessageType.ack:
        case MessageType.err:
        case MessageType.compress:
          this.#stack.push(1);
          this.#phase = 'values';
          break;
        default:
          throw new DecodeError(`unexpected stream message type ${this.#type}`, 'unknown-type');
      }
    }
    if (this.#phase === 'header' && !this.#header()) return -1;
    if (!this.#walk()) return -1;
    const end = this.#at + this.#tail;
    return end <= this.#length ? end : -1;
  }

  /** Decodes the small header that says how many values and raw bytes follow. */
  #header(): boolean {
    const r = new Reader(this.#buf.subarray(0, this.#length), 1, HEADER_ELEMENT_BUDGET);
    let header;
    try {
      header = asMap(r.value(), 'stream message header');
    } catch (err) {
      if (!(err instanceof DecodeError && err.reason === 'truncated')) throw err;
      if (this.#length - 1 > MAX_HEADER_BYTES) throw new BudgetExceededError('stream message header is too long');
      return false;
    }
    if (this.#type === MessageType.pushPull) {
      const { nodes, userStateLen } = decodePushPullHeader(header);
      if (nodes < 0 || nodes > MAX_PUSH_PULL_NODES)
        throw new BudgetExceededError(`push/pull declares ${nodes} nodes (at most ${MAX_PUSH_PULL_NODES})`);
      if (userStateLen < 0 || userStateLen > this.maxBytes) throw new BudgetExceededError('push/pull user state exceeds the stream limit');
      if (nodes > 0) this.#stack.push(nodes);
      this.#mapsOnly = true;
      this.#tail = userStateLen;
    } else {
      const len = header.get('UserMsgLen');
      if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > this.maxBytes)
        throw new DecodeError('bad user message length', 'field');
      this.#tail = len;
    }
    this.#at = r.offset;
    this.#phase = 'values';
    return true;
  }

  /** Walks value headers from where it stopped; true once every value is complete. */
  #walk(): boolean {
    const b = this.#buf;
    const end = this.#length;
    const stack = this.#stack;
    let at = this.#at;
    if (this.#rawLeft > 0) {
      const n = Math.min(this.#rawLeft, end - at);
      at += n;
      this.#rawLeft -= n;
    }
    while (this.#rawLeft === 0 && stack.length > 0) {
      const top = stack.length - 1;
      if (stack[top] === 0) {
        stack.pop();
        continue;
      }
      const size = valueHeader(b, at, end);
      if (size < 0) break;
      if (top === 0 && this.#mapsOnly && !headerIsMap) throw new DecodeError('a push/pull node state is not a map', 'field');
      stack[top]!--;
      at += size;
      if (headerItems > 0) {
        // Each item takes at least a byte: more than the limit leaves room for can never arrive.
        if (headerItems > this.maxBytes - at) throw new BudgetExceededError('msgpack length exceeds the stream limit');
        if (stack.length >= MAX_DEPTH) throw new DecodeError('msgpack nesting too deep', 'too-deep');
        stack.push(headerItems);
      }
      if (headerRaw > 0) {
        if (headerRaw > this.maxBytes - at) throw new BudgetExceededError('msgpack length exceeds the stream limit');
        const n = Math.min(headerRaw, end - at);
        at += n;
        this.#rawLeft = headerRaw - n;
      }
    }
    this.#at = at;
    return this.#rawLeft === 0 && stack.length === 0;
  }
}

// What valueHeader read last (module state: the walk allocates nothing per value).
let headerItems = 0;
let headerRaw = 0;
let headerIsMap = false;

/** The size of the value header at `at` (or -1 if it is not all in yet); sets its items and raw length. */
function valueHeader(b: Uint8Array, at: number, end: number): number {
  if (at >= end) return -1;
  const t = b[at]!;
  headerItems = 0;
  headerRaw = 0;
  headerIsMap = false;
  if (t <= 0x7f || t >= 0xe0) return 1;
  if (t <= 0x8f) {
    headerIsMap = true;
    headerItems = (t & 0x0f) * 2;
    return 1;
  }
  if (t <= 0x9f) {
    headerItems = t & 0x0f;
    return 1;
  }
  if (t <= 0xbf) {
    headerRaw = t & 0x1f;
    return 1;
  }
  switch (t) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return 1;
    case 0xc4:
    case 0xd9:
    case 0xc5:
    case 0xda:
    case 0xc6:
    case 0xdb: {
      const n = t === 0xc4 || t === 0xd9 ? 1 : t === 0xc5 || t === 0xda ? 2 : 4;
      if (at + 1 + n > end) return -1;
      headerRaw = bigEndian(b, at + 1, n);
      return 1 + n;
    }
    case 0xcc:
    case 0xd0:
      return at + 2 <= end ? 2 : -1;
    case 0xcd:
    case 0xd1:
      return at + 3 <= end ? 3 : -1;
    case 0xca:
    case 0xce:
    case 0xd2:
      return at + 5 <= end ? 5 : -1;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return at + 9 <= end ? 9 : -1;
    case 0xdc:
    case 0xdd: {
      const n = t === 0xdc ? 2 : 4;
      if (at + 1 + n > end) return -1;
      headerItems = bigEndian(b, at + 1, n);
      return 1 + n;
    }
    case 0xde:
    case 0xdf: {
      const n = t === 0xde ? 2 : 4;
      if (at + 1 + n > end) return -1;
      headerIsMap = true;
      headerItems = bigEndian(b, at + 1, n) * 2;
      return 1 + n;
    }
    default:
      throw new DecodeError(`unsupported msgpack type 0x${t.toString(16)}`, 'unknown-type');
  }
}

function bigEndian(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + b[at + i]!;
  return v;
}
