/**
 * A small client of Serf's RPC protocol for tests and bench/vs-serf.ts: it speaks to a real
 * serf agent as it speaks to a swimring agent (what client/rpc_client.go does), and also sends
 * raw bytes for the hostile cases. Responses of commands with a body are read whole; streams
 * deliver records.
 */
import { type Socket, connect } from 'node:net';
import { type MsgValue } from '../../src/gossip/codec/msgpack.js';
import { GoRpcWriter, decodeObject, objectEnd } from '../../src/cli/rpc/codec.js';

/** A JS view of a msgpack value: raw strings as text, maps as objects. */
export type Plain = null | boolean | number | bigint | string | Plain[] | { [key: string]: Plain };

export function plain(v: MsgValue): Plain {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/** What a request body may hold: `{ bin: Uint8Array }` is a Go []byte. */
export type Body = null | boolean | number | bigint | string | { bin: Uint8Array } | Body[] | { [key: string]: Body };

export function encode(w: GoRpcWriter, v: Body): GoRpcWriter {
  if (v === null) w.nil();
  else if (typeof v === 'string') w.text(v);
  else if (typeof v === 'number' || typeof v === 'bigint') w.int(v);
  else if (typeof v === 'boolean') w.bool(v);
  else if (Array.isArray(v)) {
    w.arrayHeader(v.length);
    for (const x of v) encode(w, x);
  } else if (v.bin instanceof Uint8Array) w.bin(v.bin);
  else {
    const entries = Object.entries(v as Record<string, Body>);
    w.mapHeader(entries.length);
    for (const [k, x] of entries) encode(w.text(k), x);
  }
  return w;
}

const WITH_RESPONSE_BODY = new Set([
  'members',
  'members-filtered',
  'join',
  'install-key',
  'use-key',
  'remove-key',
  'list-keys',
  'stats',
  'get-coordinate',
]);
const NO_BODY_ERRORS = new Set(['Authentication required', 'Handshake required', 'Unsupported command']);

export interface Response {
  error: string;
  body?: Plain;
}

interface Handler {
  command: string;
  resolve: (r: Response) => void;
  /** For stream, monitor and query: records after the first response. */
  record?: (r: Plain) => void;
  started: boolean;
}

export class SerfRpcClient {
  readonly socket: Socket;
  readonly #handlers = new Map<bigint, Handler>();
  #seq = 0n;
  #buffer = Buffer.alloc(0);
  /** Whose body the next object is: a response or a record. */
  #bodyFor: ((v: Plain) => void) | null = null;
  /** Headers that arrived for no handler (seq, error). */
  readonly stray: Response[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        // Whatever is still waiting learns that no answer is coming.
        for (const h of this.#handlers.values()) if (!h.started) h.resolve({ error: 'connection closed' });
        this.#handlers.clear();
        resolve();
      }),
    );
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (;;) {
        const end = objectEnd(this.#buffer, 0, 64 << 20, 1 << 20);
        if (end === null) break;
        const value = plain(decodeObject(this.#buffer.subarray(0, end), 1 << 20));
        this.#buffer = this.#buffer.subarray(end);
        this.#onObject(value);
      }
    });
  }

  /** Connects; by default performs the handshake (and auth, with a key), as the serf CLI does. */
  static async connect(addr: string, options: { handshake?: boolean; authKey?: string } = {}): Promise<SerfRpcClient> {
    const i = addr.lastIndexOf(':');
    const socket = connect(Number(addr.slice(i + 1)), addr.slice(0, i));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    // Request and answer are small writes; the bench times round trips through them.
    socket.setNoDelay(true);
    const client = new SerfRpcClient(socket);
    if (options.handshake ?? true) {
      const r = await client.request('handshake', { Version: 1 });
      if (r.error) throw new Error(`handshake: ${r.error}`);
      if (options.authKey !== undefined) {
        const a = await client.request('auth', { AuthKey: options.authKey });
        if (a.error) throw new Error(`auth: ${a.error}`);
      }
    }
    return client;
  }

  /** Sends a request; resolves with the response header's Error and the body, if the command has one. */
  request(command: string, body?: Body, seq?: bigint): Promise<Response> {
    const s = seq ?? ++this.#seq;
    const done = new Promise<Response>((resolve) => this.#handlers.set(s, { command, resolve, started: false }));
    this.send(command, s, body);
    return done;
  }

  /** A stream, monitor or query: resolves with the first response; records go to `onRecord`. */
  subscribe(
    command: 'stream' | 'monitor' | 'query',
    body: Body,
    onRecord: (r: Plain) => void,
    seq?: bigint,
  ): Promise<Response & { seq: bigint }> {
    const s = seq ?? ++this.#seq;
    const done = new Promise<Response & { seq: bigint }>((resolve) =>
      this.#handlers.set(s, { command, resolve: (r) => resolve({ ...r, seq: s }), record: onRecord, started: false }),
    );
    this.send(command, s, body);
    return done;
  }

  /** Writes a header (and a body) without waiting for anything. */
  send(command: string, seq: bigint, body?: Body): void {
    const w = encode(new GoRpcWriter(), { Command: command, Seq: seq });
    if (body !== undefined) encode(w, body);
    this.socket.write(w.finish());
  }

  nextSeq(): bigint {
    return ++this.#seq;
  }

  close(): void {
    this.socket.destroy();
  }

  #onObject(value: Plain): void {
    const bodyFor = this.#bodyFor;
    if (bodyFor !== null) {
      this.#bodyFor = null;
      bodyFor(value);
      return;
    }
    const header = value as { Seq: number | bigint; Error: string };
    const seq = BigInt(header.Seq);
    const error = header.Error;
    const h = this.#handlers.get(seq);
    if (h === undefined) {
      this.stray.push({ error });
      return;
    }
    if (h.record !== undefined) {
      if (!h.started) {
        h.started = true;
        if (error) this.#handlers.delete(seq);
        h.resolve({ error });
        return;
      }
      const record = h.record;
      this.#bodyFor = (r) => {
        record(r);
        if (h.command === 'query' && (r as { Type?: string }).Type === 'done') this.#handlers.delete(seq);
      };
      return;
    }
    this.#handlers.delete(seq);
    if (WITH_RESPONSE_BODY.has(h.command) && !NO_BODY_ERRORS.has(error)) this.#bodyFor = (body) => h.resolve({ error, body });
    else h.resolve({ error });
  }
}
