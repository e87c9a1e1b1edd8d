/**
 * What became of a stream we opened (a join, a push/pull, a TCP ping): done, or why not. The
 * reasons are stable codes a caller can branch on; `detail` is for people
 * (docs/protocol.md#state-exchange-and-join).
 */
export type StreamFailureReason =
  /** Nothing listens at the address (ECONNREFUSED). */
  | 'refused'
  /** No reply within the TCP timeout. */
  | 'timeout'
  /** No route to the address, or another socket error. */
  | 'unreachable'
  /** The peer closed or reset the connection without replying. */
  | 'closed'
  /** One side encrypts and the other does not, or no key we hold opens the reply. */
  | 'encryption'
  /** The reply could not be decoded, or was over budget. */
  | 'malformed'
  /** The peer replied with an error message of its own. */
  | 'remoteError'
  /** The peer's members speak protocol versions outside the range we support. */
  | 'protocol'
  /** The cluster already has a live member with our name at another address. */
  | 'nameConflict'
  /** The peer replied with a message that does not answer what we sent. */
  | 'unexpected';

export type StreamOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: StreamFailureReason; readonly detail: string };

/** A stream that failed below the machine (the socket, the framing, the keyring), with its reason. */
export class StreamFailure extends Error {
  override readonly name = 'StreamFailure';
  readonly reason: StreamFailureReason;

  constructor(reason: StreamFailureReason, detail: string) {
    super(detail);
    this.reason = reason;
  }
}

export const STREAM_OK: StreamOutcome = { ok: true };

export function streamFailed(reason: StreamFailureReason, detail: string): StreamOutcome {
  return { ok: false, reason, detail };
}
