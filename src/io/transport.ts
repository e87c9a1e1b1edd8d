/**
 * The transport: the node's sockets, as memberlist's transport.go / net_transport.go. One UDP
 * socket and one TCP server on the same port (docs/protocol.md#scope-and-versions), encryption
 * with the keyring (docs/protocol.md#encryption-and-the-keyring), admission and deadlines of
 * inbound streams (InboundStreams), framing of stream messages (StreamReader), datagrams out and
 * outbound streams. It knows nothing of the protocol: what arrives goes to a TransportHandler,
 * and the node tells it what to send.
 */
import { type Socket as UdpSocket, createSocket } from 'node:dgram';
import { type Server, type Socket, createConnection, createServer, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { SwimringError } from '../errors.js';
import type { Address } from '../gossip/address.js';
import { MessageType, encodeErr } from '../gossip/codec/messages.js';
import { MAX_PACKET_BYTES } from '../gossip/codec/packet.js';
import type { StreamMessage } from '../gossip/codec/stream.js';
import { StreamFailure } from '../gossip/stream-outcome.js';
import { HEADER_DEADLINE_MS, InboundStreams, MAX_INBOUND_STREAMS, MAX_INBOUND_STREAMS_PER_SOURCE } from './inbound-streams.js';
import { ENCRYPTION_OVERHEAD_BYTES, type Keyring } from './keyring.js';
import { monotonicNowMs } from './random.js';
import { StreamReadError, StreamReader } from './stream-reader.js';

/** All inbound streams together buffer at most this many largest messages (docs/budgets.md). */
const INBOUND_BUFFER_BUDGET_STREAMS = 2;
/** Longest error text written back on a stream whose request could not be read. */
const MAX_ERROR_REPLY_CHARS = 200;

/** What the transport hands up: whole, decrypted inputs, and what it dropped on the way. */
export interface TransportHandler {
  /** One datagram, decrypted. */
  packet(from: Address, bytes: Uint8Array): void;
  /** One whole, authenticated stream request: returns the reply message to write back (unframed), or null for none. */
  streamRequest(from: Address, message: StreamMessage): Uint8Array | null;
  /** Input or output given up at the I/O edge, counted by reason. */
  drop(reason: string): void;
}

/** What the node asks of its sockets. */
export interface Transport {
  /** The port bound (the one the OS picked when asked for port 0). */
  readonly port: number;
  /** Inbound TCP streams open now and the bytes they buffer (bounded: docs/budgets.md). */
  readonly inboundStreams: { open: number; bufferedBytes: number };
  /** Starts delivering what arrives to `handler`. */
  listen(handler: TransportHandler): void;
  /** Sends one datagram (encrypted with the keyring); oversized ones and send errors are dropped. */
  sendPacket(to: Address, bytes: Uint8Array): void;
  /**
   * Opens a stream, writes one message and reads one back. `done` gets the reply or the error
   * (refused, closed, malformed, past `deadlineMs` on the monotonic clock), once, unless the
   * transport closed first.
   */
  request(to: Address, bytes: Uint8Array, deadlineMs: number, done: (reply: StreamMessage | Error) => void): void;
  /** Opens a stream, writes one message and closes it; no reply is read. */
  sendStream(to: Address, bytes: Uint8Array, deadlineMs: number): void;
  /** Closes every socket and stream. Idempotent. */
  close(): Promise<void>;
}

export interface NetTransportOptions {
  host: string;
  port: number;
  keyring: Keyring | null;
  /** Largest stream message read (in or out). */
  maxStreamBytes: number;
  /** Deadline of a whole inbound request. */
  tcpTimeoutMs: number;
  logger: Logger;
}

/** The Transport on real UDP and TCP sockets. */
export class NetTransport implements Transport {
  readonly port: number;
  readonly #udp: UdpSocket;
  readonly #tcp: Server;
  readonly #keyring: Keyring | null;
  readonly #maxStreamBytes: number;
  readonly #tcpTimeoutMs: number;
  readonly #log: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sockets = new Set<Socket>();
  #inbound: InboundStreams | undefined;
  #handler: TransportHandler | undefined;
  #closed = false;

  private constructor(options: NetTransportOptions, udp: UdpSocket, tcp: Server, port: number) {
    this.port = port;
    this.#udp = udp;
    this.#tcp = tcp;
    this.#keyring = options.keyring;
    this.#maxStreamBytes = options.maxStreamBytes;
    this.#tcpTimeoutMs = options.tcpTimeoutMs;
    this.#log = options.logger;
  }

  /** Binds UDP and TCP on one port; a bind failure throws SwimringError (ERR_INVALID_OPTION, subject `bind`). */
  static async bind(options: NetTransportOptions): Promise<NetTransport> {
    const { udp, tcp, port } = await bindBoth(options.host, options.port);
    return new NetTransport(options, udp, tcp, port);
  }

  get inboundStreams(): { open: number; bufferedBytes: number } {
    return { open: this.#inbound?.size ?? 0, bufferedBytes: this.#inbound?.bufferedBytes ?? 0 };
  }

  listen(handler: TransportHandler): void {
    if (this.#handler) throw new Error('the transport is already listening');
    this.#handler = handler;
    const limits = {
      maxStreams: MAX_INBOUND_STREAMS,
      maxPerSource: MAX_INBOUND_STREAMS_PER_SOURCE,
      headerDeadlineMs: HEADER_DEADLINE_MS,
      deadlineMs: this.#tcpTimeoutMs,
      maxStreamBytes: this.#maxStreamBytes,
      bufferBudgetBytes: INBOUND_BUFFER_BUDGET_STREAMS * this.#maxStreamBytes,
    };
    const inbound = new InboundStreams(limits, this.#keyring, {
      request: (from, message) => {
        const reply = handler.streamRequest(from, message);
        return reply === null ? null : this.#frame(reply);
      },
      failed: (err) => this.#frame(encodeErr(err.message.slice(0, MAX_ERROR_REPLY_CHARS))),
      drop: (reason) => handler.drop(reason),
    });
    this.#inbound = inbound;
    this.#udp.on('message', (msg, rinfo) => {
      if (this.#closed) return;
      let bytes: Uint8Array = msg;
      if (this.#keyring) {
        const plain = this.#keyring.decrypt(msg);
        if (plain === null) return handler.drop('decrypt');
        bytes = plain;
      }
      handler.packet({ host: rinfo.address, port: rinfo.port }, bytes);
    });
    this.#udp.on('error', (err) => this.#log.error({ err }, 'udp socket error'));
    this.#tcp.on('connection', (socket) => inbound.accept(socket));
    this.#tcp.on('error', (err) => this.#log.error({ err }, 'tcp server error'));
  }

  sendPacket(to: Address, bytes: Uint8Array): void {
    if (this.#closed) return;
    const sealed = this.#keyring ? this.#keyring.encrypt(bytes) : bytes;
    if (sealed.length > MAX_PACKET_BYTES) return this.#drop('oversizedSend');
    this.#udp.send(sealed, to.port, to.host, (err) => {
      if (err) this.#drop('sendError');
    });
  }

  request(to: Address, bytes: Uint8Array, deadlineMs: number, done: (reply: StreamMessage | Error) => void): void {
    if (this.#closed) return;
    const socket = createConnection({ host: to.host, port: to.port });
    this.#sockets.add(socket);
    let settled = false;
    const settle = (reply: StreamMessage | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#timers.delete(timer);
      socket.destroy();
      this.#sockets.delete(socket);
      if (this.#closed) return;
      done(reply);
    };
    const waitMs = Math.max(1, Math.ceil(deadlineMs - monotonicNowMs()));
    const timer = setTimeout(() => settle(new StreamFailure('timeout', `no reply within ${waitMs} ms`)), waitMs);
    this.#timers.add(timer);
    socket.on('error', (err: NodeJS.ErrnoException) => settle(socketFailure(err)));
    socket.on('connect', () => socket.write(this.#frame(bytes)));
    this.#readReply(socket, settle);
  }

  sendStream(to: Address, bytes: Uint8Array, deadlineMs: number): void {
    if (this.#closed) return;
    const socket = createConnection({ host: to.host, port: to.port });
    this.#sockets.add(socket);
    socket.setTimeout(Math.max(1, deadlineMs - monotonicNowMs()), () => socket.destroy());
    socket.on('connect', () => socket.end(this.#frame(bytes)));
    socket.on('error', () => this.#drop('userStreamError'));
    socket.on('close', () => this.#sockets.delete(socket));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#sockets) s.destroy();
    this.#inbound?.closeAll();
    await Promise.all([
      new Promise<void>((resolve) => this.#udp.close(() => resolve())),
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
    ]);
  }

  /** One message from a stream we opened (the peer's reply), through the same reader as inbound ones. */
  #readReply(socket: Socket, done: (message: StreamMessage | StreamFailure) => void): void {
    const reader = new StreamReader(this.#keyring, this.#maxStreamBytes);
    let finished = false;
    const finish = (m: StreamMessage | StreamFailure) => {
      if (finished) return;
      finished = true;
      socket.removeAllListeners('data');
      done(m);
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        const message = reader.push(chunk);
        if (message !== null) finish(message);
      } catch (err) {
        if (!(err instanceof StreamReadError)) throw err;
        this.#drop(err.reason);
        finish(this.#replyFailure(err, reader));
      }
    });
    const closed = () => finish(new StreamFailure('closed', 'the peer closed the connection without replying'));
    socket.on('end', closed);
    socket.on('close', closed);
  }

  /** Why a reply could not be read, in the terms of the side that opened the stream. */
  #replyFailure(err: StreamReadError, reader: StreamReader): StreamFailure {
    if (err.reason !== 'streamEncryption') return new StreamFailure('malformed', `the peer's reply: ${err.message}`);
    if (this.#keyring === null) return new StreamFailure('encryption', 'the peer encrypts and this node has no keyring');
    if (!reader.started) return new StreamFailure('encryption', 'this node encrypts and the peer does not');
    return new StreamFailure('encryption', "no key in this node's keyring opens the peer's reply: the peer uses another key");
  }

  /**
   * Streams: [10][len u32][blob] with the 5-byte header as GCM additional data
   * (docs/protocol.md#encryption-and-the-keyring).
   */
  #frame(bytes: Uint8Array): Uint8Array {
    if (!this.#keyring) return bytes;
    const header = Buffer.alloc(5);
    header[0] = MessageType.encrypt;
    header.writeUInt32BE(bytes.length + ENCRYPTION_OVERHEAD_BYTES, 1);
    return Buffer.concat([header, this.#keyring.encrypt(bytes, header)]);
  }

  #drop(reason: string): void {
    this.#handler?.drop(reason);
  }
}

/** A socket error of a stream we opened, by its errno code. */
function socketFailure(err: NodeJS.ErrnoException): StreamFailure {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new StreamFailure('refused', 'connection refused: nothing listens there');
    case 'ETIMEDOUT':
      return new StreamFailure('timeout', 'the connection timed out');
    case 'ECONNRESET':
    case 'EPIPE':
      return new StreamFailure('closed', 'the peer reset the connection without replying');
    default:
      return new StreamFailure('unreachable', err.code ? `${err.code}: ${err.message}` : err.message);
  }
}

/** A local non-internal IPv4 address to advertise when bound to every interface (127.0.0.1 if none). */
export function localIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

async function bindBoth(host: string, port: number): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  // With port 0 the OS picks the UDP port, which may be taken for TCP: try a few times.
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 2 * 1024 * 1024 });
    const bound = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.off('error', reject);
        resolve(udp.address().port);
      });
    }).catch((err: NodeJS.ErrnoException) => {
      udp.close();
      throw new SwimringError('ERR_INVALID_OPTION', ` ${host}:${port} failed: ${err.code ?? err.message}`, 'bind');
    });
    const tcp = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(bound, host, 511, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp, port: bound };
    } catch (err) {
      udp.close();
      if (port !== 0 || attempt >= 5)
        throw new SwimringError(
          'ERR_INVALID_OPTION',
          ` ${host}:${bound} (tcp) failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          'bind',
        );
    }
  }
}
