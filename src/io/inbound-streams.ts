/**
 * Admission and budgets for inbound TCP streams (docs/budgets.md "TCP streams"). Each inbound
 * stream carries one request. Until that request has been read whole and, with a keyring,
 * authenticated, the stream is unauthenticated: anyone can open one. So that such streams
 * cannot crowd out real peers, or hold memory without bound:
 *
 * - at most `maxStreams` at once and `maxPerSource` from one IP; at either limit the oldest
 *   unauthenticated stream (of that source, for the per-source limit) is closed to make room,
 *   and only when none is left is the newcomer refused;
 * - the frame header (the first bytes) must arrive within `headerDeadlineMs`, the whole request
 *   within `deadlineMs` (absolute deadlines: trickling bytes does not extend them);
 * - all streams together buffer at most `bufferBudgetBytes`: a stream that needs more closes the
 *   largest other unauthenticated streams first, and is closed itself if that is not enough.
 */
import type { Socket } from 'node:net';
import type { StreamMessage } from '../gossip/codec/stream.js';
import type { Keyring } from './keyring.js';
import { StreamReadError, StreamReader } from './stream-reader.js';

export interface InboundLimits {
  readonly maxStreams: number;
  readonly maxPerSource: number;
  readonly headerDeadlineMs: number;
  readonly deadlineMs: number;
  readonly maxStreamBytes: number;
  readonly bufferBudgetBytes: number;
}

/** Most concurrent inbound streams (memberlist allows 128 concurrent push/pulls). */
export const MAX_INBOUND_STREAMS = 128;
/** Most from one IP: a peer opens one or two at a time; a few dozen leave room for hosts running many nodes. */
export const MAX_INBOUND_STREAMS_PER_SOURCE = 32;
/** A peer writes its request as soon as it connects: its first bytes within this, or it is closed. */
export const HEADER_DEADLINE_MS = 2000;

export type InboundDropReason =
  | 'tooManyStreams'
  | 'tooManyStreamsFromSource'
  | 'streamEvicted'
  | 'streamTimeout'
  | 'streamHeaderTimeout'
  | 'streamBufferBudget'
  | StreamReadError['reason'];

export interface InboundHandler {
  /** A whole, authenticated request: returns the reply to write, or null for none. */
  request(from: { host: string; port: number }, message: StreamMessage): Uint8Array | null;
  /** A request that could not be read: the error reply to write, or null. */
  failed(error: StreamReadError): Uint8Array | null;
  drop(reason: InboundDropReason): void;
}

interface Inbound {
  readonly socket: Socket;
  readonly source: string;
  readonly reader: StreamReader;
  /** Its request was read (or failed): nothing more is read or buffered. */
  done: boolean;
  /** Its request was read whole and authenticated: it is never evicted for a newcomer. */
  authenticated: boolean;
  buffered: number;
  timers: NodeJS.Timeout[];
}

export class InboundStreams {
  readonly #limits: InboundLimits;
  readonly #keyring: Keyring | null;
  readonly #handler: InboundHandler;
  /** In arrival order: the first unauthenticated one is the oldest. */
  readonly #streams = new Set<Inbound>();
  readonly #perSource = new Map<string, number>();
  #buffered = 0;

  constructor(limits: InboundLimits, keyring: Keyring | null, handler: InboundHandler) {
    this.#limits = limits;
    this.#keyring = keyring;
    this.#handler = handler;
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Bytes all inbound streams hold now. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  accept(socket: Socket): void {
    const source = socket.remoteAddress ?? '';
    if ((this.#perSource.get(source) ?? 0) >= this.#limits.maxPerSource && !this.#evictOldest(source)) {
      this.#handler.drop('tooManyStreamsFromSource');
      socket.destroy();
      return;
    }
    if (this.#streams.size >= this.#limits.maxStreams && !this.#evictOldest(undefined)) {
      this.#handler.drop('tooManyStreams');
      socket.destroy();
      return;
    }
    const s: Inbound = {
      socket,
      source,
      reader: new StreamReader(this.#keyring, this.#limits.maxStreamBytes),
      done: false,
      authenticated: false,
      buffered: 0,
      timers: [],
    };
    this.#streams.add(s);
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
    const from = { host: source, port: socket.remotePort ?? 0 };
    s.timers.push(
      setTimeout(
        () => {
          if (!s.reader.started) this.#close(s, 'streamHeaderTimeout');
        },
        Math.min(this.#limits.headerDeadlineMs, this.#limits.deadlineMs),
      ),
      setTimeout(() => this.#close(s, 'streamTimeout'), this.#limits.deadlineMs),
    );
    socket.on('close', () => this.#forget(s));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.#data(s, from, chunk));
    socket.on('end', () => {
      if (!s.done) this.#close(s, 'malformedStream');
    });
  }

  /** Closes every stream (the node is shutting down). */
  closeAll(): void {
    for (const s of this.#streams) s.socket.destroy();
  }

  #data(s: Inbound, from: { host: string; port: number }, chunk: Buffer): void {
    if (s.done || !this.#streams.has(s)) return;
    if (!this.#reserve(s, chunk.length)) return;
    let message: StreamMessage | null;
    try {
      message = s.reader.push(chunk);
    } catch (err) {
      if (!(err instanceof StreamReadError)) throw err;
      this.#handler.drop(err.reason);
      this.#settle(s);
      const reply = this.#handler.failed(err);
      if (reply) s.socket.end(reply);
      else s.socket.destroy();
      return;
    } finally {
      this.#account(s);
    }
    if (message === null) return;
    this.#settle(s);
    s.authenticated = true;
    const reply = this.#handler.request(from, message);
    if (reply) s.socket.end(reply);
    else s.socket.end();
  }

  /** Makes room in the shared budget for `more` bytes of `s`; false if `s` was closed instead. */
  #reserve(s: Inbound, more: number): boolean {
    const budget = this.#limits.bufferBudgetBytes;
    // A stream grows by at most its chunk (encrypted) or doubles its buffer (plain).
    const need = Math.max(more, s.buffered);
    if (this.#buffered + need <= budget) return true;
    const others = [...this.#streams].filter((o) => o !== s && o.buffered > 0).sort((a, b) => b.buffered - a.buffered);
    for (const o of others) {
      if (this.#buffered + need <= budget) break;
      this.#close(o, 'streamBufferBudget');
    }
    if (this.#buffered + need <= budget) return true;
    this.#close(s, 'streamBufferBudget');
    return false;
  }

  #account(s: Inbound): void {
    const now = s.done ? 0 : s.reader.bufferedBytes;
    this.#buffered += now - s.buffered;
    s.buffered = now;
  }

  /** Closes the oldest unauthenticated stream (of `source`, if given); false if there is none. */
  #evictOldest(source: string | undefined): boolean {
    for (const s of this.#streams) {
      if (s.authenticated || (source !== undefined && s.source !== source)) continue;
      this.#close(s, 'streamEvicted');
      return true;
    }
    return false;
  }

  #close(s: Inbound, reason: InboundDropReason): void {
    if (!this.#streams.has(s)) return;
    this.#handler.drop(reason);
    this.#forget(s);
    s.socket.destroy();
  }

  /** The request is read (or failed): its buffer is released; the absolute deadline still bounds the reply. */
  #settle(s: Inbound): void {
    s.done = true;
    this.#account(s);
  }

  #forget(s: Inbound): void {
    if (!this.#streams.delete(s)) return;
    for (const t of s.timers) clearTimeout(t);
    this.#buffered -= s.buffered;
    s.buffered = 0;
    const n = (this.#perSource.get(s.source) ?? 1) - 1;
    if (n === 0) this.#perSource.delete(s.source);
    else this.#perSource.set(s.source, n);
  }
}
