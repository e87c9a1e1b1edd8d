/**
 * The gossip state machine: SWIM with Lifeguard on memberlist 0.2.2's wire protocol (wire
 * reference §9). Pure and synchronous: it is driven by packets, stream messages, timers and
 * commands, each with the current time, and answers only through its outbox of effects. Timers
 * are data carrying a token; a timer whose token is stale does nothing, so nothing is cancelled.
 */
import { type Address, addressKey, bytesEqual, ipToBytes, ipToString } from './address.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue, type Recipient } from './broadcast-queue.js';
import { lzwCompress } from './codec/lzw.js';
import {
  MessageType,
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodeSuspect,
  encodeAck,
  encodeAlive,
  encodeCompress,
  encodeDead,
  encodeErr,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodePushPull,
  encodeSuspect,
  encodeUser,
  encodeUserStream,
  type Alive,
  type Dead,
  type PushNodeState,
  type Suspect,
} from './codec/messages.js';
import { DecodeError } from './codec/msgpack.js';
import { packPacket, unpackPacket } from './codec/packet.js';
import type { StreamMessage } from './codec/stream.js';
import { type GossipConfig, pushPullIntervalMs, reconnectIntervalMs, retransmitLimit } from './config.js';
import { atLeast, newer, next as nextIncarnation } from './incarnation.js';
import { ALIVE, DEAD, type Endpoint, LEFT, MemberTable, type MemberView, SUSPECT, endpointOf, protocolMax } from './members.js';
import { Suspicion, confirmationsWanted, suspicionMinMs } from './suspicion.js';

/** The versions a Serf 0.9.4 agent advertises: memberlist 1..5 speaking 2, Serf 2..5 speaking 5 (§7). */
export const DEFAULT_VSN = Uint8Array.from([1, 5, 2, 2, 5, 5]);
/** Indirect probes we run for others at once; each lives one probe timeout. */
export const MAX_PENDING_RELAYS = 256;
/** Largest node meta accepted (memberlist's MetaMaxSize: Go peers never send more). */
export const MAX_META_BYTES = 512;
/** Longest member name accepted, in UTF-16 units (host names are at most 253 characters). */
export const MAX_NAME_CHARS = 512;
/** compound header (type + count) */
const COMPOUND_HEADER_BYTES = 2;
/** per message in a compound: its u16 length */
const COMPOUND_ENTRY_BYTES = 2;

export type Timer =
  | { readonly kind: 'probe'; readonly token: number }
  | { readonly kind: 'probeTimeout'; readonly seq: number }
  | { readonly kind: 'gossip'; readonly token: number }
  /** One extra gossip round at once, when news arrives while the queue was empty. */
  | { readonly kind: 'gossipNow' }
  | { readonly kind: 'pushPull'; readonly token: number }
  | { readonly kind: 'reconnect'; readonly token: number }
  | { readonly kind: 'suspicion'; readonly node: string; readonly token: number }
  | { readonly kind: 'relayTimeout'; readonly seq: number };

export type StreamPurpose = 'join' | 'pushPull' | 'ping';

export type Effect =
  /** Send one UDP datagram. */
  | { readonly type: 'send'; readonly to: Address; readonly bytes: Uint8Array }
  /** Open a TCP stream, write `bytes`, read one message back, report it with handleStreamReply(id). */
  | { readonly type: 'stream'; readonly id: number; readonly to: Address; readonly bytes: Uint8Array; readonly deadlineMs: number }
  /** Open a TCP stream, write `bytes` and close it: no reply is expected. */
  | { readonly type: 'streamSend'; readonly to: Address; readonly bytes: Uint8Array; readonly deadlineMs: number }
  /** Call handleTimer(timer) at `atMs`. */
  | { readonly type: 'timer'; readonly timer: Timer; readonly atMs: number }
  | { readonly type: 'member'; readonly change: 'join' | 'update' | 'leave'; readonly member: MemberView }
  /** A member claims a name we know at another address (name conflict, §10.10). */
  | { readonly type: 'conflict'; readonly known: MemberView; readonly claimed: Address }
  /** A user message (Serf's layer lives on these). */
  | { readonly type: 'user'; readonly payload: Uint8Array }
  /** A remote node's push/pull user state (Serf's layer); `join`: it answers our own join. */
  | { readonly type: 'remoteState'; readonly state: Uint8Array; readonly join: boolean }
  /** Our graceful-leave broadcast has gone out as many times as it will. */
  | { readonly type: 'left' };

export interface LocalNode {
  name: string;
  /** The address peers reach us at (advertised). */
  host: string;
  port: number;
  meta?: Uint8Array;
  vsn?: Uint8Array;
}

export interface MachineOptions {
  config: GossipConfig;
  local: LocalNode;
  /** Uniform random numbers in [0, 1): the system source in production, a seeded PRNG in simulation. */
  random: () => number;
  /** Bytes the I/O layer adds per datagram (encryption), taken off the gossip budget. */
  packetOverheadBytes?: number;
  /** The user state we send in push/pull (Serf's layer); empty by default. */
  localState?: () => Uint8Array;
}

export interface Counters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  streamsOut: number;
  /** Streams we opened that failed (refused, timed out, malformed reply). */
  streamFailures: number;
  probes: number;
  probeFailures: number;
  indirectProbes: number;
  suspicions: number;
  refutations: number;
  deaths: number;
  /** Verdicts and refutations sent straight to a member that showed it holds older news. */
  corrections: number;
  /** Dropped input by reason: nothing bad is lost silently. */
  drops: Record<string, number>;
}

interface Probe {
  seq: number;
  /** The target's slot, and its name to tell whether the slot still holds it. */
  target: number;
  targetName: string;
  startMs: number;
  acked: boolean;
  direct: boolean;
  fallbackContact: boolean;
  nacks: number;
  expectedNacks: number;
}

/** A relayed indirect probe: we pinged `target` on behalf of `requester`. */
interface Relay {
  requester: Address;
  originalSeq: number;
  nack: boolean;
}

export class GossipMachine {
  readonly config: GossipConfig;
  readonly members = new MemberTable();
  readonly counters: Counters = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    streamsOut: 0,
    streamFailures: 0,
    probes: 0,
    probeFailures: 0,
    indirectProbes: 0,
    suspicions: 0,
    refutations: 0,
    deaths: 0,
    corrections: 0,
    drops: {},
  };

  /** Our own slot in the member table: present from construction, in the probe walk from start. */
  readonly #self: number;
  readonly #name: string;
  readonly #random: () => number;
  readonly #overhead: number;
  readonly #localState: () => Uint8Array;
  readonly #awareness: Awareness;
  readonly #broadcasts: BroadcastQueue;
  readonly #suspicions = new Map<string, Suspicion>();
  readonly #relays = new Map<number, Relay>();
  readonly #streams = new Map<number, { purpose: StreamPurpose; seq: number; to: Address }>();
  /**
   * The member whose packet or push/pull reply is being handled: news we pass on from it is not
   * sent back to it (see BroadcastQueue). Its key is made only when news is queued.
   */
  #source: Address | undefined;
  #outbox: Effect[] = [];
  #seq = 0;
  #streamId = 0;
  #probe: Probe | undefined;
  #probeToken = 0;
  #gossipToken = 0;
  #pushPullToken = 0;
  #reconnectToken = 0;
  #suspicionToken = 0;
  #started = false;
  #leaving = false;
  /** The latest time any call brought: when an eager gossip round is due. */
  #nowMs = 0;
  #eagerPending = false;
  #leftSent = false;

  constructor(options: MachineOptions) {
    this.config = options.config;
    this.#random = options.random;
    this.#overhead = options.packetOverheadBytes ?? 0;
    this.#localState = options.localState ?? (() => new Uint8Array(0));
    this.#awareness = new Awareness(this.config.awarenessMaxMultiplier);
    this.#broadcasts = new BroadcastQueue(this.config.broadcastQueueDepth);
    const addr = ipToBytes(options.local.host);
    if (addr === null) throw new RangeError(`local host must be an IP address, got ${options.local.host}`);
    this.#name = options.local.name;
    const self = endpointOf(addr, options.local.port, options.local.meta ?? Uint8Array.from([0xff, 0x80]), options.local.vsn ?? DEFAULT_VSN);
    this.#self = this.members.insert(this.#name, self, 0);
  }

  get name(): string {
    return this.#name;
  }

  get incarnation(): number {
    return this.members.incarnation(this.#self);
  }

  get healthScore(): number {
    return this.#awareness.score;
  }

  get leaving(): boolean {
    return this.#leaving;
  }

  /** Takes the pending effects. */
  drain(): Effect[] {
    const out = this.#outbox;
    this.#outbox = [];
    return out;
  }

  /** Startup (§9.5 setAlive): incarnation 1, our own alive queued for gossip, timers staggered. */
  start(nowMs: number): void {
    if (this.#started) return;
    this.#started = true;
    this.#nowMs = nowMs;
    this.members.setState(this.#self, ALIVE, 1, nowMs);
    this.members.enlist(this.#self, this.#random);
    this.#queueAlive(this.#self);
    const c = this.config;
    this.#timer({ kind: 'probe', token: ++this.#probeToken }, nowMs + Math.floor(this.#random() * c.probeIntervalMs));
    this.#timer({ kind: 'gossip', token: ++this.#gossipToken }, nowMs + Math.floor(this.#random() * c.gossipIntervalMs));
    if (c.pushPullIntervalMs > 0) {
      this.#timer({ kind: 'pushPull', token: ++this.#pushPullToken }, nowMs + Math.floor(this.#random() * c.pushPullIntervalMs));
    }
    if (c.reconnectIntervalMs > 0) {
      this.#timer({ kind: 'reconnect', token: ++this.#reconnectToken }, nowMs + Math.floor(this.#random() * c.reconnectIntervalMs));
    }
  }

  /** Starts a push/pull join with one seed; handleStreamReply reports whether it worked. */
  join(seed: Address, nowMs: number): number {
    return this.#openStream('join', seed, this.#encodeStream(this.#pushPullMessage(true)), nowMs + this.config.tcpTimeoutMs, 0);
  }

  /**
   * Loads members known out of band (a snapshot of a member list, or a simulation that starts
   * from a converged cluster) without gossiping them: their news already went around. Only
   * unknown members are added; each fires a join. Peers are trusted here, so never feed it
   * network input: that goes through push/pull.
   */
  restore(members: readonly PushNodeState[], nowMs: number): void {
    this.#nowMs = nowMs;
    this.members.reserve(members.length);
    for (const s of members) {
      if (this.members.slotOf(s.name) >= 0 || s.state !== ALIVE) continue;
      const slot = this.members.add(s.name, endpointOf(s.addr, s.port, s.meta, s.vsn), nowMs, this.#random);
      this.members.setState(slot, ALIVE, s.incarnation, nowMs);
      this.#emit({ type: 'member', change: 'join', member: this.members.view(slot) });
    }
  }

  /** Replaces our meta (Serf tags): a new incarnation, gossiped as alive. */
  setMeta(meta: Uint8Array): void {
    const e = this.members.endpoint(this.#self);
    this.members.setEndpoint(this.#self, { ...e, meta });
    this.members.setIncarnation(this.#self, nextIncarnation(this.members.incarnation(this.#self)));
    this.#queueAlive(this.#self);
  }

  /**
   * Sends a user message to one node: a datagram when it fits the packet budget, else (or when
   * `reliable`) a TCP stream, as memberlist's SendBestEffort / SendReliable.
   */
  sendUser(to: Address, payload: Uint8Array, reliable: boolean, nowMs: number): void {
    const datagram = this.config.udpBufferBytes - this.#overhead - 1;
    if (!reliable && payload.length <= datagram) {
      this.#sendPacket(to, [encodeUser(payload)], false);
      return;
    }
    this.counters.streamsOut++;
    this.#emit({ type: 'streamSend', to, bytes: this.#encodeStream(encodeUserStream(payload)), deadlineMs: nowMs + this.config.tcpTimeoutMs });
  }

  /**
   * Gossips a user message (Serf broadcasts) with the transmit limit of membership news;
   * `done` runs once it has been sent as often as it will be (or was dropped).
   */
  broadcastUser(payload: Uint8Array, done?: () => void): void {
    this.#queueBroadcast({ key: null, bytes: encodeUser(payload), ...(done ? { done } : {}) });
  }

  /** Whether a gossip round has anyone to send to: another member alive, suspect or recently dead. */
  hasGossipTargets(nowMs: number): boolean {
    for (const slot of this.members.slots()) if (this.#gossipTarget(slot, nowMs)) return true;
    return false;
  }

  #gossipTarget(slot: number, nowMs: number): boolean {
    const t = this.members;
    return slot !== this.#self && (t.isUp(slot) || (t.status(slot) === DEAD && nowMs - t.changeMs(slot) < this.config.gossipToTheDeadMs));
  }

  /** Graceful leave (§9.5): dead{From = self}; effect 'left' once it has been gossiped out. */
  leave(nowMs: number): void {
    this.#nowMs = nowMs;
    if (this.#leaving) return;
    this.#leaving = true;
    const others = this.hasGossipTargets(nowMs);
    this.#deadNode({ incarnation: this.incarnation, node: this.#name, from: this.#name }, nowMs, others);
    if (!others) this.#left();
  }

  // ---- input -------------------------------------------------------------------------------

  handlePacket(from: Address, bytes: Uint8Array, nowMs: number): void {
    this.#nowMs = nowMs;
    this.counters.packetsIn++;
    this.counters.bytesIn += bytes.length;
    let unpacked;
    try {
      unpacked = unpackPacket(bytes);
    } catch (err) {
      this.#drop(err instanceof DecodeError && err.message === 'CRC mismatch' ? 'crc' : 'malformed');
      return;
    }
    if (unpacked.truncated) this.#drop('truncatedCompound');
    this.#source = from;
    try {
      for (const m of unpacked.messages) {
        try {
          this.#handleMessage(from, m.type, m.body, nowMs);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          this.#drop('malformed');
        }
      }
    } finally {
      this.#source = undefined;
    }
  }

  /**
   * A message that arrived on an incoming TCP stream; returns the reply to write back (already
   * compressed when compression is on), or null for none.
   */
  handleStreamRequest(from: Address, message: StreamMessage, nowMs: number): Uint8Array | null {
    this.#nowMs = nowMs;
    switch (message.type) {
      case 'pushPull': {
        // Reply first, then merge: the reply does not contain the requester unless known (§8).
        const reply = this.#encodeStream(this.#pushPullMessage(message.header.join));
        // Not our join, whatever its flag says: the Serf layer treats the state answering its
        // own join apart (events older than it are not delivered), and a forged flag must not
        // reach that.
        this.#mergeRemote(message.states, message.userState, false, nowMs);
        return reply;
      }
      case 'ping':
        if (message.ping.node !== '' && message.ping.node !== this.#name) {
          this.#drop('pingForOtherNode');
          return this.#encodeStream(encodeErr(`ping for ${message.ping.node}, this is ${this.#name}`));
        }
        return this.#encodeStream(encodeAck({ seqNo: message.ping.seqNo, payload: null }));
      case 'user':
        this.#emit({ type: 'user', payload: message.payload });
        return null;
      default:
        this.#drop('unexpectedStreamMessage');
        return this.#encodeStream(encodeErr(`unexpected ${message.type} message`));
    }
  }

  /** The outcome of a stream we opened. Returns whether it did what it was for. */
  handleStreamReply(id: number, reply: StreamMessage | Error, nowMs: number): boolean {
    this.#nowMs = nowMs;
    const stream = this.#streams.get(id);
    if (!stream) return false;
    this.#streams.delete(id);
    if (reply instanceof Error) {
      this.counters.streamFailures++;
      return false;
    }
    if (stream.purpose === 'ping') {
      if (reply.type === 'ack' && this.#probe?.seq === stream.seq && reply.ack.seqNo === stream.seq) this.#probe.fallbackContact = true;
      return reply.type === 'ack';
    }
    if (reply.type !== 'pushPull') {
      this.#drop(reply.type === 'err' ? 'remoteError' : 'unexpectedStreamMessage');
      return false;
    }
    const join = stream.purpose === 'join';
    const incarnation = this.incarnation;
    this.#source = stream.to;
    let merged: boolean;
    try {
      merged = this.#mergeRemote(reply.states, reply.userState, join, nowMs);
    } finally {
      this.#source = undefined;
    }
    // The peer holds us dead (a restarted node joining, or the other side of a healed network
    // partition) and we refuted. Gossip may never carry that to it (after a partition we hold
    // it dead too, and nobody gossips to the long dead), so we tell it directly.
    if (this.incarnation !== incarnation) this.#correct(stream.to, this.#aliveMessage(this.#self));
    return merged;
  }

  handleTimer(timer: Timer, nowMs: number): void {
    this.#nowMs = nowMs;
    switch (timer.kind) {
      case 'probe':
        if (timer.token === this.#probeToken) this.#probeTick(nowMs);
        return;
      case 'probeTimeout':
        this.#probeTimeout(timer.seq, nowMs);
        return;
      case 'gossip':
        if (timer.token === this.#gossipToken) this.#gossipTick(nowMs);
        return;
      case 'gossipNow':
        this.#eagerPending = false;
        this.#gossipRound(nowMs);
        return;
      case 'pushPull':
        if (timer.token === this.#pushPullToken) this.#pushPullTick(nowMs);
        return;
      case 'reconnect':
        if (timer.token === this.#reconnectToken) this.#reconnectTick(nowMs);
        return;
      case 'suspicion':
        this.#suspicionExpired(timer.node, timer.token, nowMs);
        return;
      case 'relayTimeout': {
        const relay = this.#relays.get(timer.seq);
        if (!relay) return;
        this.#relays.delete(timer.seq);
        if (relay.nack) this.#send(relay.requester, [encodeNack({ seqNo: relay.originalSeq })], false, false);
        return;
      }
    }
  }

  // ---- UDP messages ------------------------------------------------------------------------

  #handleMessage(from: Address, type: number, body: Uint8Array, nowMs: number): void {
    switch (type) {
      case MessageType.ping: {
        const ping = decodePing(body);
        if (ping.node !== '' && ping.node !== this.#name) {
          this.#drop('pingForOtherNode');
          return;
        }
        const messages = [encodeAck({ seqNo: ping.seqNo, payload: null })];
        // Buddy system, both ways: a member we hold suspect or dead is evidently probing us, so
        // the ack tells it what we believe and it can refute at once, instead of waiting for
        // gossip or a push/pull to carry the accusation to it.
        const sender = ping.sourceNode === '' ? -1 : this.members.slotOf(ping.sourceNode);
        const status = sender >= 0 ? this.members.status(sender) : ALIVE;
        if (sender !== this.#self && this.config.lifeguard && (status === SUSPECT || status === DEAD)) {
          const accusation = { incarnation: this.members.incarnation(sender), node: ping.sourceNode, from: this.#name };
          messages.push(status === SUSPECT ? encodeSuspect(accusation) : encodeDead(accusation));
        }
        this.#send(replyAddress(ping, from), messages, false, { up: sender >= 0 && this.members.isUp(sender) });
        return;
      }
      case MessageType.indirectPing: {
        const req = decodeIndirectPing(body);
        const target = ipToString(req.target);
        if (target === '') throw new DecodeError('indirect ping target is not an IP');
        // Bounded: a flood of requests must not grow memory or turn us into a ping reflector.
        if (this.#relays.size >= MAX_PENDING_RELAYS) {
          this.#drop('tooManyRelays');
          return;
        }
        const seq = this.#nextSeq();
        this.#relays.set(seq, { requester: replyAddress(req, from), originalSeq: req.seqNo, nack: req.nack });
        this.#send({ host: target, port: req.port }, [this.#pingMessage(seq, req.node)], false, false);
        this.#timer({ kind: 'relayTimeout', seq }, nowMs + this.config.probeTimeoutMs);
        return;
      }
      case MessageType.ack: {
        const ack = decodeAck(body);
        const probe = this.#probe;
        if (probe && probe.seq === ack.seqNo && !probe.acked) {
          probe.acked = true;
          probe.direct = nowMs - probe.startMs <= this.config.probeTimeoutMs;
          return;
        }
        const relay = this.#relays.get(ack.seqNo);
        if (relay) {
          this.#relays.delete(ack.seqNo);
          this.#send(relay.requester, [encodeAck({ seqNo: relay.originalSeq, payload: null })], false, false);
          return;
        }
        this.#drop('staleAck');
        return;
      }
      case MessageType.nack: {
        const nack = decodeNack(body);
        if (this.#probe?.seq === nack.seqNo) this.#probe.nacks++;
        return;
      }
      case MessageType.suspect: {
        const s = decodeSuspect(body);
        if (this.#answerSuspicionOfDead(s, from)) return;
        this.#answerStaleAccusation(s, from);
        this.#suspectNode(s, nowMs);
        return;
      }
      case MessageType.alive:
        this.#aliveNode(decodeAlive(body), nowMs);
        return;
      case MessageType.dead: {
        const d = decodeDead(body);
        this.#answerStaleAccusation(d, from);
        this.#deadNode(d, nowMs, true);
        return;
      }
      case MessageType.user:
        this.#emit({ type: 'user', payload: body });
        return;
      default:
        this.#drop('unknownType');
    }
  }

  /**
   * A suspicion of a member we already hold dead: its sender missed the verdict and would
   * otherwise wait out its own suspicion alone (nobody confirms a suspicion of the dead), so we
   * tell it directly. Returns whether it was one (then there is nothing else to do with it).
   */
  #answerSuspicionOfDead(s: Suspect, from: Address): boolean {
    const t = this.members;
    const slot = t.slotOf(s.node);
    if (slot < 0 || slot === this.#self || t.status(slot) !== DEAD || newer(s.incarnation, t.incarnation(slot))) return false;
    this.#correct(from, encodeDead({ incarnation: t.incarnation(slot), node: s.node, from: this.#name }));
    return true;
  }

  /**
   * An accusation of us older than our incarnation needs no refutation, but its sender may still
   * believe it (a buddy-system ack says so outright): after a healed partition, a member the
   * refutation missed would hold us dead until the next push/pull. Our alive goes straight back.
   */
  #answerStaleAccusation(accusation: Suspect | Dead, from: Address): void {
    if (accusation.node !== this.#name || atLeast(accusation.incarnation, this.incarnation) || this.#leaving) return;
    this.#correct(from, this.#aliveMessage(this.#self));
  }

  /** Newer news straight to a member that showed it lacks it, outside the gossip budget. */
  #correct(to: Address, message: Uint8Array): void {
    this.counters.corrections++;
    this.#sendPacket(to, [message], false);
  }

  // ---- state rules (§9.5) --------------------------------------------------------------------

  #aliveNode(a: Alive, nowMs: number): void {
    if (a.vsn.length > 0 && a.vsn.length < 6) throw new DecodeError('short Vsn');
    if (a.vsn.length >= 6 && !sensibleVersions(a.vsn)) {
      this.#drop('badVersion');
      return;
    }
    if (a.node === '') throw new DecodeError('alive without a node name');
    // memberlist's MetaMaxSize; names get a like bound (what one member may make us hold).
    if (a.meta.length > MAX_META_BYTES) return this.#drop('metaTooLarge');
    if (a.node.length > MAX_NAME_CHARS) return this.#drop('nameTooLong');
    const t = this.members;
    if (a.node === this.#name) {
      const self = t.endpoint(this.#self);
      if (a.port !== self.port || !bytesEqual(a.addr, self.addr)) {
        // Someone else claims our name (memberlist keeps the first and reports it; Serf may
        // then run its _serf_conflict vote, §10.10). Refuting would only make us flap.
        this.#drop('conflictingAddress');
        this.#emit({ type: 'conflict', known: t.view(this.#self), claimed: { host: ipToString(a.addr), port: a.port } });
        return;
      }
      if (this.#leaving || newer(this.incarnation, a.incarnation)) return;
      if (a.incarnation === this.incarnation && bytesEqual(a.meta, self.meta) && bytesEqual(a.vsn, self.vsn)) return;
      this.#refute(a.incarnation);
      return;
    }
    let slot = t.slotOf(a.node);
    // Most alive messages repeat what we know: settle those before any other work.
    const known = slot >= 0 ? t.endpoint(slot) : undefined;
    const sameAddress = known !== undefined && known.port === a.port && bytesEqual(known.addr, a.addr);
    if (sameAddress && !newer(a.incarnation, t.incarnation(slot))) return;
    const host = ipToString(a.addr);
    if (host === '') throw new DecodeError('alive address is not an IP');
    const endpoint: Endpoint = { addr: a.addr.slice(), host, port: a.port, meta: a.meta.slice(), vsn: a.vsn.slice() };
    let joined = false;
    if (known === undefined) {
      if (t.size >= this.config.maxMembers) return this.#drop('memberLimit');
      slot = t.add(a.node, endpoint, nowMs, this.#random);
      joined = true;
    } else if (!sameAddress && !this.#mayMove(slot, nowMs)) {
      this.#drop('conflictingAddress');
      this.#emit({ type: 'conflict', known: t.view(slot), claimed: { host, port: a.port } });
      return;
    }
    this.#clearSuspicion(a.node);
    const wasDown = !t.isUp(slot);
    const metaChanged = known !== undefined && !bytesEqual(known.meta, a.meta);
    t.setEndpoint(slot, endpoint);
    t.setState(slot, ALIVE, a.incarnation, nowMs);
    this.#queueAlive(slot);
    if (joined || wasDown) this.#emit({ type: 'member', change: 'join', member: t.view(slot) });
    else if (metaChanged) this.#emit({ type: 'member', change: 'update', member: t.view(slot) });
  }

  /**
   * Another address claims a known name (§9.5): only a member that left, or one failed for
   * longer than deadNodeReclaimTimeMs, may come back elsewhere; anything else is a conflict.
   */
  #mayMove(slot: number, nowMs: number): boolean {
    const t = this.members;
    if (t.status(slot) === LEFT) return true;
    const reclaimMs = this.config.deadNodeReclaimTimeMs;
    return t.status(slot) === DEAD && reclaimMs > 0 && nowMs - t.changeMs(slot) > reclaimMs;
  }

  #suspectNode(s: Suspect, nowMs: number): void {
    const t = this.members;
    const slot = t.slotOf(s.node);
    if (slot < 0 || newer(t.incarnation(slot), s.incarnation)) return;
    const existing = this.#suspicions.get(s.node);
    if (existing) {
      if (existing.confirm(s.from)) {
        existing.token = ++this.#suspicionToken;
        this.#queueBroadcast({ key: s.node, bytes: encodeSuspect(s), ...this.#passedOn() });
        this.#timer({ kind: 'suspicion', node: s.node, token: existing.token }, existing.deadlineMs);
      }
      return;
    }
    if (t.status(slot) !== ALIVE) return;
    if (slot === this.#self) {
      this.#refute(s.incarnation);
      return;
    }
    this.counters.suspicions++;
    this.#queueBroadcast({ key: s.node, bytes: encodeSuspect(s), ...this.#passedOn() });
    t.setState(slot, SUSPECT, s.incarnation, nowMs);
    const n = t.size;
    const minMs = suspicionMinMs(this.config.suspicionMult, n, this.config.probeIntervalMs);
    // Without Lifeguard, plain SWIM: a fixed timeout, no confirmations.
    const k = this.config.lifeguard ? confirmationsWanted(this.config.suspicionMult, n) : 0;
    const suspicion = new Suspicion(++this.#suspicionToken, nowMs, minMs, minMs * this.config.suspicionMaxTimeoutMult, k, s.from);
    this.#suspicions.set(s.node, suspicion);
    this.#timer({ kind: 'suspicion', node: s.node, token: suspicion.token }, suspicion.deadlineMs);
  }

  #suspicionExpired(node: string, token: number, nowMs: number): void {
    const suspicion = this.#suspicions.get(node);
    if (!suspicion || suspicion.token !== token) return;
    this.#suspicions.delete(node);
    const t = this.members;
    const slot = t.slotOf(node);
    if (slot >= 0 && t.status(slot) === SUSPECT && t.changeMs(slot) === suspicion.startMs) {
      this.#deadNode({ incarnation: t.incarnation(slot), node, from: this.#name }, nowMs, true);
    }
  }

  #deadNode(d: Dead, nowMs: number, gossip: boolean): void {
    const t = this.members;
    const slot = t.slotOf(d.node);
    if (slot < 0 || newer(t.incarnation(slot), d.incarnation)) return;
    this.#clearSuspicion(d.node);
    if (!t.isUp(slot)) return;
    const self = slot === this.#self;
    if (self && !this.#leaving) {
      this.#refute(d.incarnation);
      return;
    }
    if (gossip) {
      const done = self ? () => this.#left() : undefined;
      this.#queueBroadcast({ key: d.node, bytes: encodeDead(d), ...(done ? { done } : this.#passedOn()) });
    }
    const status = d.from === d.node ? LEFT : DEAD;
    t.setState(slot, status, d.incarnation, nowMs);
    if (status === DEAD) this.counters.deaths++;
    if (!self) this.#emit({ type: 'member', change: 'leave', member: t.view(slot) });
  }

  /** Someone accuses us: outbid the accusation and say we are alive (§9.5 refute). */
  #refute(accusedIncarnation: number): void {
    // memberlist's refute: past our own and past the accusation (serial order, src/gossip/incarnation.ts).
    const ours = nextIncarnation(this.incarnation);
    this.members.setIncarnation(this.#self, atLeast(accusedIncarnation, ours) ? nextIncarnation(accusedIncarnation) : ours);
    this.counters.refutations++;
    if (this.config.lifeguard) this.#awareness.apply(1);
    this.#queueAlive(this.#self);
  }

  #clearSuspicion(node: string): void {
    this.#suspicions.delete(node);
  }

  #queueAlive(slot: number): void {
    this.#queueBroadcast({ key: this.members.name(slot), bytes: this.#aliveMessage(slot), ...(slot === this.#self ? {} : this.#passedOn()) });
  }

  /** For news about another member that came in a packet or push/pull: who told us. */
  #passedOn(): { source?: string } {
    return this.#source === undefined ? {} : { source: addressKey(this.#source) };
  }

  #aliveMessage(slot: number): Uint8Array {
    const e = this.members.endpoint(slot);
    return encodeAlive({ incarnation: this.members.incarnation(slot), node: this.members.name(slot), addr: e.addr, port: e.port, meta: e.meta, vsn: e.vsn });
  }

  // ---- probing (§9.2) ------------------------------------------------------------------------

  #probeTick(nowMs: number): void {
    this.#finishProbe(nowMs);
    const interval = this.config.lifeguard ? this.#awareness.scale(this.config.probeIntervalMs) : this.config.probeIntervalMs;
    this.#timer({ kind: 'probe', token: ++this.#probeToken }, nowMs + interval);
    const t = this.members;
    const target = t.nextProbeTarget(this.#self, () => this.#reap(nowMs), this.#random);
    if (target < 0) return;
    const seq = this.#nextSeq();
    const targetName = t.name(target);
    this.counters.probes++;
    this.#probe = { seq, target, targetName, startMs: nowMs, acked: false, direct: false, fallbackContact: false, nacks: 0, expectedNacks: 0 };
    const messages = [this.#pingMessage(seq, targetName)];
    // Buddy system: tell a suspect first, so it can refute before others declare it dead.
    const buddy = t.status(target) === SUSPECT && this.config.lifeguard;
    if (buddy) messages.push(encodeSuspect({ incarnation: t.incarnation(target), node: targetName, from: this.#name }));
    const e = t.endpoint(target);
    this.#send(addressOf(e), messages, buddy && protocolMax(e) >= 5, { up: true });
    this.#timer({ kind: 'probeTimeout', seq }, nowMs + this.config.probeTimeoutMs);
  }

  #probeTimeout(seq: number, nowMs: number): void {
    const probe = this.#probe;
    if (!probe || probe.seq !== seq || probe.acked) return;
    const t = this.members;
    if (t.slotOf(probe.targetName) !== probe.target) return; // reaped meanwhile
    const target = t.endpoint(probe.target);
    const helpers = t.pick(this.config.indirectChecks, (slot) => slot !== this.#self && slot !== probe.target && t.status(slot) === ALIVE, this.#random);
    const self = t.endpoint(this.#self);
    for (const helper of helpers) {
      const via = t.endpoint(helper);
      const nack = this.config.lifeguard && protocolMax(via) >= 4;
      if (nack) probe.expectedNacks++;
      this.counters.indirectProbes++;
      this.#send(
        addressOf(via),
        [
          encodeIndirectPing({
            seqNo: seq,
            target: target.addr,
            port: target.port,
            node: probe.targetName,
            nack,
            sourceAddr: self.addr,
            sourcePort: self.port,
            sourceNode: this.#name,
          }),
        ],
        false,
        false,
      );
    }
    if (this.config.tcpPings && protocolMax(target) >= 3) {
      const deadline = Math.max(nowMs, probe.startMs + this.#awareness.scale(this.config.probeIntervalMs));
      this.#openStream('ping', addressOf(target), this.#encodeStream(this.#pingMessage(seq, probe.targetName)), deadline, seq);
    }
  }

  /** Settles the previous probe at the end of its (scaled) interval. */
  #finishProbe(nowMs: number): void {
    const probe = this.#probe;
    this.#probe = undefined;
    if (!probe) return;
    if (probe.acked) {
      if (probe.direct && this.config.lifeguard) this.#awareness.apply(-1);
      return;
    }
    if (probe.fallbackContact) return; // reachable over TCP only: do not suspect
    this.counters.probeFailures++;
    if (this.config.lifeguard) {
      this.#awareness.apply(probe.expectedNacks > 0 ? Math.max(0, probe.expectedNacks - probe.nacks) : 1);
    }
    const t = this.members;
    if (t.slotOf(probe.targetName) === probe.target && t.isUp(probe.target)) {
      this.#suspectNode({ incarnation: t.incarnation(probe.target), node: probe.targetName, from: this.#name }, nowMs);
    }
  }

  /** When the probe walk wraps: forget members that have been dead or left beyond the reconnect window. */
  #reap(nowMs: number): void {
    const t = this.members;
    t.removeWhere((slot) => slot !== this.#self && !t.isUp(slot) && nowMs - t.changeMs(slot) > this.config.reconnectWindowMs);
  }

  #pingMessage(seq: number, node: string): Uint8Array {
    const self = this.members.endpoint(this.#self);
    return encodePing({ seqNo: seq, node, sourceAddr: self.addr, sourcePort: self.port, sourceNode: this.#name });
  }

  // ---- gossip and anti-entropy -----------------------------------------------------------------

  #gossipTick(nowMs: number): void {
    this.#timer({ kind: 'gossip', token: ++this.#gossipToken }, nowMs + this.config.gossipIntervalMs);
    this.#gossipRound(nowMs);
  }

  /** Sends queued broadcasts to gossipNodes random members. */
  #gossipRound(nowMs: number): void {
    if (this.#broadcasts.length === 0) return;
    const t = this.members;
    const targets = t.pick(this.config.gossipNodes, (slot) => this.#gossipTarget(slot, nowMs), this.#random);
    // Everyone we could tell is gone: our leave has nobody left to reach.
    if (targets.length === 0 && this.#leaving && !this.hasGossipTargets(nowMs)) this.#left();
    const budget = this.config.udpBufferBytes - COMPOUND_HEADER_BYTES - this.#overhead;
    for (const target of targets) {
      const e = t.endpoint(target);
      const messages = this.#takeBroadcasts(budget, { key: addressKey(e), up: t.isUp(target) });
      // Nothing for this one: the queue is empty, or it has everything that is queued.
      if (messages.length === 0) {
        if (this.#broadcasts.length === 0) return;
        continue;
      }
      this.#sendPacket(addressOf(e), messages, protocolMax(e) >= 5);
    }
  }

  #pushPullTick(nowMs: number): void {
    const t = this.members;
    this.#timer({ kind: 'pushPull', token: ++this.#pushPullToken }, nowMs + pushPullIntervalMs(this.config, t.size));
    const [peer] = t.pick(1, (slot) => slot !== this.#self && t.status(slot) === ALIVE, this.#random);
    if (peer !== undefined) this.#pushPullWith(peer, nowMs);
  }

  /**
   * Reconnect (as Serf does): with probability failed / alive, sync with a failed member, so the
   * halves of a healed network partition find each other again. Cluster-wide that is about one
   * attempt per failed member per interval.
   */
  #reconnectTick(nowMs: number): void {
    const t = this.members;
    this.#timer({ kind: 'reconnect', token: ++this.#reconnectToken }, nowMs + reconnectIntervalMs(this.config, t.size));
    const reconnectable = (slot: number) => t.status(slot) === DEAD && nowMs - t.changeMs(slot) <= this.config.reconnectWindowMs;
    let failed = 0;
    let alive = 0;
    for (const slot of t.slots()) {
      if (reconnectable(slot)) failed++;
      else if (t.isUp(slot)) alive++;
    }
    if (failed === 0 || this.#random() > failed / Math.max(1, alive)) return;
    const [lost] = t.pick(1, reconnectable, this.#random);
    if (lost !== undefined) this.#pushPullWith(lost, nowMs);
  }

  #pushPullWith(slot: number, nowMs: number): void {
    const to = addressOf(this.members.endpoint(slot));
    this.#openStream('pushPull', to, this.#encodeStream(this.#pushPullMessage(false)), nowMs + this.config.tcpTimeoutMs, 0);
  }

  #pushPullMessage(join: boolean): Uint8Array {
    const states: PushNodeState[] = [];
    const t = this.members;
    for (const slot of t.slots()) {
      const e = t.endpoint(slot);
      states.push({ name: t.name(slot), addr: e.addr, port: e.port, meta: e.meta, incarnation: t.incarnation(slot), state: t.status(slot), vsn: e.vsn });
    }
    const userState = this.#localState();
    return encodePushPull({ join, nodes: states.length, userStateLen: userState.length }, states, userState);
  }

  /** Merges a remote push/pull (§9.5): remote dead or suspect is only suspicion. */
  #mergeRemote(states: readonly PushNodeState[], userState: Uint8Array, join: boolean, nowMs: number): boolean {
    if (!this.#versionsCompatible(states)) {
      this.#drop('incompatibleVersions');
      return false;
    }
    for (const s of states) {
      try {
        if (s.state === ALIVE) {
          this.#aliveNode({ incarnation: s.incarnation, node: s.name, addr: s.addr, port: s.port, meta: s.meta, vsn: s.vsn }, nowMs);
        } else if (s.state === LEFT) {
          this.#deadNode({ incarnation: s.incarnation, node: s.name, from: s.name }, nowMs, true);
        } else {
          this.#suspectNode({ incarnation: s.incarnation, node: s.name, from: this.#name }, nowMs);
        }
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        this.#drop('malformedNodeState');
      }
    }
    if (userState.length > 0) this.#emit({ type: 'remoteState', state: userState, join });
    return true;
  }

  /**
   * memberlist's verifyProtocol: every node, ours and theirs, must speak a protocol (and a
   * delegate protocol) inside the range all alive nodes understand.
   */
  #versionsCompatible(remote: readonly PushNodeState[]): boolean {
    // Two passes over the members, ours and theirs, with nothing allocated per member: a
    // push/pull may carry tens of thousands of states (docs/budgets.md).
    const range = { maxPMin: 0, minPMax: 255, maxDMin: 0, minDMax: 255 };
    const widen = (vsn: Uint8Array) => {
      range.maxPMin = Math.max(range.maxPMin, vsn[0]!);
      range.minPMax = Math.min(range.minPMax, vsn[1]!);
      range.maxDMin = Math.max(range.maxDMin, vsn[3]!);
      range.minDMax = Math.min(range.minDMax, vsn[4]!);
    };
    const fits = (vsn: Uint8Array) => vsn[2]! >= range.maxPMin && vsn[2]! <= range.minPMax && vsn[5]! >= range.maxDMin && vsn[5]! <= range.minDMax;
    const t = this.members;
    // memberlist skips members without a version; a short one cannot be checked, so it fails.
    const usable = (vsn: Uint8Array) => vsn.length >= 6 || vsn.length === 0;
    for (const s of remote) if (s.state === ALIVE && !usable(s.vsn)) return false;
    for (const s of remote) if (s.state === ALIVE && s.vsn.length > 0) widen(s.vsn);
    for (const slot of t.slots()) if (t.status(slot) === ALIVE && t.endpoint(slot).vsn.length > 0) widen(t.endpoint(slot).vsn);
    // memberlist checks dead members here too, so one odd record of a long-gone member blocks
    // anti-entropy until it is reaped; only the members that take part count for us.
    for (const s of remote) if (s.state === ALIVE && s.vsn.length > 0 && !fits(s.vsn)) return false;
    for (const slot of t.slots()) if (t.status(slot) === ALIVE && t.endpoint(slot).vsn.length > 0 && !fits(t.endpoint(slot).vsn)) return false;
    return true;
  }

  // ---- output --------------------------------------------------------------------------------

  #transmitLimit(): number {
    return retransmitLimit(this.config, this.members.size);
  }

  /**
   * Sends messages to an address, piggy-backing broadcasts when `piggyback` says whether the
   * recipient is a member we gossip to (up) or not.
   */
  #send(to: Address, messages: Uint8Array[], crc: boolean, piggyback: false | { up: boolean }): void {
    if (piggyback) {
      const used = messages.reduce((n, m) => n + m.length + COMPOUND_ENTRY_BYTES, 0);
      const budget = this.config.udpBufferBytes - COMPOUND_HEADER_BYTES - this.#overhead - used;
      if (budget > 0 && this.#broadcasts.length > 0) messages = [...messages, ...this.#takeBroadcasts(budget, { key: addressKey(to), up: piggyback.up })];
    }
    this.#sendPacket(to, messages, crc);
  }

  #takeBroadcasts(budgetBytes: number, to: Recipient): Uint8Array[] {
    return this.#broadcasts.take(COMPOUND_ENTRY_BYTES, budgetBytes, this.#transmitLimit(), to);
  }

  #sendPacket(to: Address, messages: readonly Uint8Array[], crc: boolean): void {
    const bytes = packPacket(messages, { compress: this.config.compression, crc });
    this.counters.packetsOut++;
    this.counters.bytesOut += bytes.length;
    this.#emit({ type: 'send', to, bytes });
  }

  /** Streams are always compressed when compression is on (§2.3). */
  #encodeStream(message: Uint8Array): Uint8Array {
    return this.config.compression ? encodeCompress({ algo: 0, buf: lzwCompress(message) }) : message;
  }

  #openStream(purpose: StreamPurpose, to: Address, bytes: Uint8Array, deadlineMs: number, seq: number): number {
    const id = ++this.#streamId;
    this.#streams.set(id, { purpose, seq, to });
    this.counters.streamsOut++;
    this.#emit({ type: 'stream', id, to, bytes, deadlineMs });
    return id;
  }

  /**
   * Queues a broadcast. News that finds nothing untried in the queue starts spreading at once,
   * in an extra gossip round, rather than at the next tick (up to gossipIntervalMs later):
   * invisible on the wire, it takes most of a gossip interval off every hop of a join, leave,
   * failure or event. The transmit limit per message is unchanged, and news arriving while other
   * news still waits for its first round rides along with it (one extra round per burst).
   */
  #queueBroadcast(b: Parameters<BroadcastQueue['queue']>[0]): void {
    const nothingUntried = this.#broadcasts.untried === 0;
    this.#broadcasts.queue(b);
    if (nothingUntried && this.#started && !this.#eagerPending) {
      this.#eagerPending = true;
      this.#timer({ kind: 'gossipNow' }, this.#nowMs);
    }
  }

  /** The 'left' effect, once. */
  #left(): void {
    if (this.#leftSent) return;
    this.#leftSent = true;
    this.#emit({ type: 'left' });
  }

  #timer(timer: Timer, atMs: number): void {
    this.#emit({ type: 'timer', timer, atMs });
  }

  #emit(effect: Effect): void {
    this.#outbox.push(effect);
  }

  #drop(reason: string): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }
}

function addressOf(e: Endpoint): Address {
  return { host: e.host, port: e.port };
}

/** Replies go to Source* when the sender gave both, else to the packet's source (§9.2). */
function replyAddress(m: { sourceAddr: Uint8Array | null; sourcePort: number }, from: Address): Address {
  if (m.sourceAddr && m.sourceAddr.length > 0 && m.sourcePort !== 0) {
    const host = ipToString(m.sourceAddr);
    if (host !== '') return { host, port: m.sourcePort };
  }
  return from;
}

/** [pmin, pmax, pcur, dmin, dmax, dcur]: non-zero ranges, each current version inside its range. */
function sensibleVersions(v: Uint8Array): boolean {
  const [pmin, pmax, pcur, dmin, dmax, dcur] = v as unknown as number[];
  return pmin! > 0 && pmin! <= pmax! && pcur! >= pmin! && pcur! <= pmax! && dmin! > 0 && dmin! <= dmax! && dcur! >= dmin! && dcur! <= dmax!;
}
