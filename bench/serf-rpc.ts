/**
 * A minimal client of the serf agent's RPC protocol (msgpack over TCP: a header
 * {Command, Seq} and an optional body per request; a header {Seq, Error} and an optional body
 * per response), enough for the side-by-side bench: members, join, leave, user events, and the
 * user-event stream. Uses our own msgpack codec.
 */
import { type Socket, createConnection } from 'node:net';
import { DecodeError, type MsgMap, type MsgValue, TruncatedError, Writer, decodeValue, text } from '../src/gossip/codec/msgpack.js';

export interface RpcMember {
  name: string;
  status: string;
}

type Waiter = { withBody: boolean; resolve: (body: MsgMap | null) => void; reject: (err: Error) => void };

export class SerfRpc {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #seq = 0;
  readonly #waiting = new Map<number, Waiter>();
  /** Seq of the user-event stream, and what to do with each event. */
  #stream: { seq: number; onEvent: (name: string) => void } | undefined;
  /** A response header whose body has not arrived yet. */
  #pendingBody: Waiter | undefined;
  #streamBodyNext = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#drain();
    });
  }

  static async connect(address: string): Promise<SerfRpc> {
    const [host, port] = address.split(':') as [string, string];
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ host, port: Number(port) }, () => resolve(s));
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    const rpc = new SerfRpc(socket);
    await rpc.#call('handshake', (w) => w.mapHeader(1).key('Version').int(1), false);
    return rpc;
  }

  async members(): Promise<RpcMember[]> {
    const body = await this.#call('members', null, true);
    const list = body?.get('Members');
    if (!Array.isArray(list)) throw new DecodeError('members: no list', 'field');
    return list.map((m) => {
      const map = m as MsgMap;
      return { name: text(map.get('Name') as Uint8Array), status: text(map.get('Status') as Uint8Array) };
    });
  }

  async join(address: string): Promise<void> {
    await this.#call('join', (w) => w.mapHeader(2).key('Existing').arrayHeader(1).str(address).key('Replay').bool(false), true);
  }

  async leave(): Promise<void> {
    await this.#call('leave', null, false);
  }

  async userEvent(name: string, payload: Uint8Array): Promise<void> {
    await this.#call('event', (w) => w.mapHeader(3).key('Name').str(name).key('Payload').raw(payload).key('Coalesce').bool(false), false);
  }

  /** Subscribes to user events (Serf's RPC stream, type "user"). */
  async streamUserEvents(onEvent: (name: string) => void): Promise<void> {
    const seq = this.#seq++;
    this.#stream = { seq, onEvent };
    const done = new Promise<void>((resolve, reject) => this.#waiting.set(seq, { withBody: false, resolve: () => resolve(), reject }));
    this.#write('stream', seq, (w) => w.mapHeader(1).key('Type').str('user'));
    await done;
  }

  close(): void {
    this.#socket.destroy();
  }

  #call(command: string, body: ((w: Writer) => void) | null, withBody: boolean): Promise<MsgMap | null> {
    const seq = this.#seq++;
    const result = new Promise<MsgMap | null>((resolve, reject) => this.#waiting.set(seq, { withBody, resolve, reject }));
    this.#write(command, seq, body);
    return result;
  }

  #write(command: string, seq: number, body: ((w: Writer) => void) | null): void {
    const w = new Writer().mapHeader(2).key('Command').str(command).key('Seq').int(seq);
    body?.(w);
    this.#socket.write(w.finish());
  }

  #drain(): void {
    for (;;) {
      let decoded: { value: MsgValue; end: number };
      try {
        decoded = decodeValue(this.#buffer);
      } catch (err) {
        if (err instanceof TruncatedError) return;
        throw err;
      }
      this.#buffer = this.#buffer.subarray(decoded.end);
      this.#handle(decoded.value as MsgMap);
    }
  }

  #handle(value: MsgMap): void {
    if (this.#pendingBody) {
      const w = this.#pendingBody;
      this.#pendingBody = undefined;
      w.resolve(value);
      return;
    }
    if (this.#streamBodyNext) {
      this.#streamBodyNext = false;
      this.#stream?.onEvent(text(value.get('Name') as Uint8Array));
      return;
    }
    const seq = Number(value.get('Seq'));
    const error = value.get('Error');
    const message = error instanceof Uint8Array ? text(error) : '';
    const waiter = this.#waiting.get(seq);
    if (waiter) {
      this.#waiting.delete(seq);
      if (message !== '') return waiter.reject(new Error(message));
      if (waiter.withBody) this.#pendingBody = waiter;
      else waiter.resolve(null);
      return;
    }
    // A later header on the stream's seq announces one event body.
    if (this.#stream && seq === this.#stream.seq) this.#streamBodyNext = true;
  }
}
