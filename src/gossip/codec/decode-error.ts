/**
 * The one error decoding raises: bytes from the network (or a tag value) that are not a valid
 * message. Callers branch on `reason`, never on the message text, which is for humans and logs.
 * Decoding is total: any input yields a value or a DecodeError, never another exception.
 */

/**
 * Why the input was refused:
 * - `truncated`: it ends inside a value or a structure. Only a reader of a stream, where more
 *   bytes may still come, takes this as "wait"; a datagram or a complete envelope is final.
 * - `budget`: over a size, count or expansion budget (docs/budgets.md); counted apart from
 *   malformed input.
 * - `crc`: the packet's CRC does not match its payload.
 * - `too-deep`: values or messages nested deeper than allowed.
 * - `unknown-type`: a message type, msgpack type, compression algorithm or enum value we do not know.
 * - `field`: well-formed msgpack whose value has the wrong type or range for its field (Go's
 *   decoder rules: docs/protocol.md#decoding-rules).
 * - `malformed`: any other violation of the format.
 */
export type DecodeErrorReason = 'truncated' | 'budget' | 'crc' | 'too-deep' | 'unknown-type' | 'field' | 'malformed';

/** Reasons a plain DecodeError may carry; `truncated` and `budget` have their own subclasses. */
export type DecodeErrorPlainReason = Exclude<DecodeErrorReason, 'truncated' | 'budget'>;

export class DecodeError extends Error {
  override readonly name: string = 'DecodeError';
  readonly reason: DecodeErrorReason;

  /**
   * Every throw site names its reason. The parameter stays optional for the two subclasses:
   * `truncated` and `budget` are theirs alone (outside DecodeErrorPlainReason, so a plain
   * DecodeError can never claim them), so they cannot pass their reason here and set `reason`
   * themselves instead.
   */
  constructor(message: string, reason: DecodeErrorPlainReason = 'malformed') {
    super(message);
    this.reason = reason;
  }
}

/** Over a budget (a size, a count, an expansion): `reason` is always `budget`. */
export class BudgetExceededError extends DecodeError {
  override readonly name = 'BudgetExceededError';
  override readonly reason = 'budget';

  constructor(message: string) {
    super(message);
  }
}

/** The input ended inside a value: `reason` is always `truncated`. On a stream, wait for more bytes; on a packet, drop it. */
export class TruncatedError extends DecodeError {
  override readonly name = 'TruncatedError';
  override readonly reason = 'truncated';

  constructor(message: string) {
    super(message);
  }
}
