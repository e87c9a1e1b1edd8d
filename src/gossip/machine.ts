/**
 * The gossip state machine: SWIM with Lifeguard on memberlist 0.2.2's wire protocol
 * (docs/protocol.md). Pure and synchronous (docs/architecture.md#purity-rules): it is driven by
 * packets, stream messages, timers and commands, each with the current time, and answers only
 * through its outbox of effects. Timers are data carrying a token; a timer whose token is stale
 * does nothing, so nothing is cancelled.
 *
 * The machine owns the node's life (start, leave), the member table, the streams it opened and
 * push/pull anti-entropy, and routes input to its parts: the probe round (probe-round.ts), the
 * state rules and suspicions (state-rules.ts) and dissemination (dissemination.ts), which share
 * its outbox, counters and timer tokens.
 */
import { type Address, bytesEqual, ipToBytes, ipToString } from './address.js';
import { Awareness } from './awareness.js';
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
  encodeCompress,
  encodeErr,
  encodePushPull,
  encodeUser,
  encodeUserStream,
  type PushNodeState,
} from './codec/messages.js';
import { DecodeError } from './codec/msgpack.js';
import { unpackPacket } from './codec/packet.js';
import type { StreamMessage } from './codec/stream.js';
import { type GossipConfig, pushPullIntervalMs, reconnectIntervalMs } from './config.js';
import { Dissemination } from './dissemination.js';
import type { Counters, Effect, PartContext, StreamPurpose, Timer, TokenTimerKind } from './effects.js';
import { next as nextIncarnation } from './incarnation.js';
import { ALIVE, DEAD, type Endpoint, LEFT, MemberTable, SUSPECT, type MemberView, addressOf, endpointOf } from './members.js';
import { Outbox } from './outbox.js';
import { ProbeRound } from './probe-round.js';
import { DEFAULT_VSN, versionsCompatible } from './protocol-versions.js';
import { StateRules } from './state-rules.js';
import { STREAM_OK, StreamFailure, type StreamOutcome, streamFailed } from './stream-outcome.js';
import { TimerTokens } from './timer-tokens.js';

export type { Counters, Effect, StreamPurpose, Timer } from './effects.js';
export { MAX_PENDING_RELAYS } from './probe-round.js';
export { DEFAULT_VSN } from './protocol-versions.js';
export { MAX_META_BYTES, MAX_NAME_CHARS } from './state-rules.js';

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
  /**
   * Whether a dead member is still worth reconnecting to (the layer above decides: Serf stops
   * for a member forced to leave). Default: every member dead within the reconnect window.
   */
  mayReconnect?: (name: string) => boolean;
}

export class GossipMachine {
  readonly config: GossipConfig;
  readonly members = new MemberTable();
  readonly #outbox = new Outbox<Effect>();
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
    drops: this.#outbox.drops,
  };

  /** Our own slot in the member table: present from construction, in the probe walk from start. */
  readonly #self: number;
  readonly #name: string;
  readonly #random: () => number;
  readonly #overhead: number;
  readonly #localState: () => Uint8Array;
  readonly #mayReconnect: ((name: string) => boolean) | undefined;
  readonly #awareness: Awareness;
  readonly #tokens = new TimerTokens<TokenTimerKind>();
  readonly #gossip: Dissemination;
  readonly #rules: StateRules;
  readonly #probes: ProbeRound;
  /** Streams we opened, awaiting their reply, by id. */
  readonly #streams = new Map<number, { purpose: StreamPurpose; seq: number; to: Address }>();
  #streamId = 0;
  #started = false;
  #leaving = false;
  /** The latest time any call brought: when an eager gossip round is due. */
  #nowMs = 0;
  #leftSent = false;

  constructor(options: MachineOptions) {
    this.config = options.config;
    this.#random = options.random;
    this.#overhead = options.packetOverheadBytes ?? 0;
    this.#localState = options.localState ?? (() => new Uint8Array(0));
    this.#mayReconnect = options.mayReconnect;
    this.#awareness = new Awareness(this.config.awarenessMaxMultiplier);
    const addr = ipToBytes(options.local.host);
    if (addr === null) throw new RangeError(`local host must be an IP address, got ${options.local.host}`);
    this.#name = options.local.name;
    const self = endpointOf(
      addr,
      options.local.port,
      options.local.meta ?? Uint8Array.from([0xff, 0x80]),
      options.local.vsn ?? DEFAULT_VSN,
    );
    this.#self = this.members.insert(this.#name, self, 0);
    const part: PartContext = {
      config: this.config,
      members: this.members,
      self: this.#self,
      name: this.#name,
      random: this.#random,
      counters: this.counters,
      outbox: this.#outbox,
      tokens: this.#tokens,
    };
    const leaving = () => this.#leaving;
    const left = () => this.#left();
    this.#gossip = new Dissemination({
      ...part,
      overheadBytes: this.#overhead,
      started: () => this.#started,
      nowMs: () => this.#nowMs,
      leaving,
      left,
    });
    const gossip = this.#gossip;
    this.#rules = new StateRules({ ...part, awareness: this.#awareness, gossip, leaving, left });
    this.#probes = new ProbeRound({
      ...part,
      awareness: this.#awareness,
      send: (to, messages, crc, piggyback) => gossip.send(to, messages, crc, piggyback),
      openStream: (purpose, to, message, deadlineMs, seq) => this.#openStream(purpose, to, message, deadlineMs, seq),
      suspect: (s, nowMs) => this.#rules.suspectNode(s, nowMs),
    });
  }

  get name(): string {
    return this.#name;
  }

  /** A member's current state by name (the local member included). */
  member(name: string): MemberView | undefined {
    return this.members.get(name);
  }

  /** A member's address, meta and protocol versions by name. */
  endpointOf(name: string): Endpoint | undefined {
    const slot = this.members.slotOf(name);
    return slot < 0 ? undefined : this.members.endpoint(slot);
  }

  /** Members known, in every state (memberlist's node list, which Serf sizes query timeouts by). */
  get memberCount(): number {
    return this.members.size;
  }

  /** Up to `k` distinct random alive members other than us that `accept` takes (memberlist's kRandomNodes). */
  randomAliveMembers(k: number, accept: (name: string) => boolean): Endpoint[] {
    const t = this.members;
    const self = this.#self;
    return t
      .pick(k, (slot) => slot !== self && t.status(slot) === ALIVE && accept(t.name(slot)), this.#random)
      .map((slot) => t.endpoint(slot));
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
    return this.#outbox.drain();
  }

  /**
   * Startup, as memberlist's setAlive (docs/protocol.md#startup-and-restart): incarnation 1, our
   * own alive queued for gossip, timers staggered.
   */
  start(nowMs: number): void {
    if (this.#started) return;
    this.#started = true;
    this.#nowMs = nowMs;
    this.members.setState(this.#self, ALIVE, 1, nowMs);
    this.members.enlist(this.#self, this.#random);
    this.#rules.queueAlive(this.#self);
    const c = this.config;
    const tokens = this.#tokens;
    this.#outbox.timer({ kind: 'probe', token: tokens.next('probe') }, nowMs + Math.floor(this.#random() * c.probeIntervalMs));
    this.#outbox.timer({ kind: 'gossip', token: tokens.next('gossip') }, nowMs + Math.floor(this.#random() * c.gossipIntervalMs));
    if (c.pushPullIntervalMs > 0) {
      this.#outbox.timer({ kind: 'pushPull', token: tokens.next('pushPull') }, nowMs + Math.floor(this.#random() * c.pushPullIntervalMs));
    }
    if (c.reconnectIntervalMs > 0) {
      this.#outbox.timer(
        { kind: 'reconnect', token: tokens.next('reconnect') },
        nowMs + Math.floor(this.#random() * c.reconnectIntervalMs),
      );
    }
  }

  /** Starts a push/pull join with one seed; handleStreamReply reports whether it worked. */
  join(seed: Address, nowMs: number): number {
    return this.#openStream('join', seed, this.#pushPullMessage(true), nowMs + this.config.tcpTimeoutMs, 0);
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
      this.#outbox.emit({ type: 'member', change: 'join', member: this.members.view(slot) });
    }
  }

  /** Replaces our meta (Serf tags): a new incarnation, gossiped as alive. */
  setMeta(meta: Uint8Array): void {
    const e = this.members.endpoint(this.#self);
    this.members.setEndpoint(this.#self, { ...e, meta });
    this.members.setIncarnation(this.#self, nextIncarnation(this.members.incarnation(this.#self)));
    this.#rules.queueAlive(this.#self);
  }

  /**
   * Sends a user message to one node: a datagram when it fits the packet budget, else (or when
   * `reliable`) a TCP stream, as memberlist's SendBestEffort / SendReliable.
   */
  sendUser(to: Address, payload: Uint8Array, reliable: boolean, nowMs: number): void {
    const datagram = this.config.udpBufferBytes - this.#overhead - 1;
    if (!reliable && payload.length <= datagram) {
      this.#gossip.send(to, [encodeUser(payload)], false, false);
      return;
    }
    this.counters.streamsOut++;
    this.#outbox.emit({
      type: 'streamSend',
      to,
      bytes: this.#encodeStream(encodeUserStream(payload)),
      deadlineMs: nowMs + this.config.tcpTimeoutMs,
    });
  }

  /**
   * Gossips a user message (Serf broadcasts) with the transmit limit of membership news;
   * `done` runs once it has been sent as often as it will be (or was dropped).
   */
  broadcastUser(payload: Uint8Array, done?: () => void): void {
    this.#gossip.queue({ key: null, bytes: encodeUser(payload), ...(done ? { done } : {}) });
  }

  /** Whether a gossip round has anyone to send to: another member alive, suspect or recently dead. */
  hasGossipTargets(nowMs: number): boolean {
    return this.#gossip.hasTargets(nowMs);
  }

  /**
   * Graceful leave, as memberlist's Leave (docs/protocol.md#leaving-failure-reaping-and-reconnect):
   * dead{From = self}; effect 'left' once it has been gossiped out.
   */
  leave(nowMs: number): void {
    this.#nowMs = nowMs;
    if (this.#leaving) return;
    this.#leaving = true;
    const others = this.hasGossipTargets(nowMs);
    this.#rules.deadNode({ incarnation: this.incarnation, node: this.#name, from: this.#name }, nowMs, others);
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
      this.#outbox.drop(err instanceof DecodeError && err.reason === 'crc' ? 'crc' : 'malformed');
      return;
    }
    if (unpacked.truncated) this.#outbox.drop('truncatedCompound');
    this.#gossip.source = from;
    try {
      for (const m of unpacked.messages) {
        try {
          this.#handleMessage(from, m.type, m.body, nowMs);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          this.#outbox.drop('malformed');
        }
      }
    } finally {
      this.#gossip.source = undefined;
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
        // Reply first, then merge, as memberlist's handleConn: the reply does not contain the
        // requester unless known (docs/protocol.md#state-exchange-and-join).
        const reply = this.#encodeStream(this.#pushPullMessage(message.header.join));
        // Not our join, whatever its flag says: the Serf layer treats the state answering its
        // own join apart (events older than it are not delivered), and a forged flag must not
        // reach that.
        this.#mergeRemote(message.states, message.userState, false, nowMs);
        return reply;
      }
      case 'ping':
        if (message.ping.node !== '' && message.ping.node !== this.#name) {
          this.#outbox.drop('pingForOtherNode');
          return this.#encodeStream(encodeErr(`ping for ${message.ping.node}, this is ${this.#name}`));
        }
        return this.#encodeStream(encodeAck({ seqNo: message.ping.seqNo, payload: null }));
      case 'user':
        this.#outbox.emit({ type: 'user', payload: message.payload });
        return null;
      default:
        this.#outbox.drop('unexpectedStreamMessage');
        return this.#encodeStream(encodeErr(`unexpected ${message.type} message`));
    }
  }

  /** Forgets a stream we opened (an aborted join): a reply that comes later is not merged. */
  forgetStream(id: number): void {
    this.#streams.delete(id);
  }

  /** The outcome of a stream we opened: whether it did what it was for, and if not, why. */
  handleStreamReply(id: number, reply: StreamMessage | Error, nowMs: number): StreamOutcome {
    this.#nowMs = nowMs;
    const stream = this.#streams.get(id);
    if (!stream) return streamFailed('unexpected', 'no such stream');
    this.#streams.delete(id);
    if (reply instanceof Error) {
      this.counters.streamFailures++;
      return reply instanceof StreamFailure ? streamFailed(reply.reason, reply.message) : streamFailed('unreachable', reply.message);
    }
    if (stream.purpose === 'ping') {
      if (reply.type === 'ack') this.#probes.handleStreamAck(stream.seq, reply.ack.seqNo);
      return reply.type === 'ack' ? STREAM_OK : streamFailed('unexpected', `a ${reply.type} message answered a ping`);
    }
    if (reply.type !== 'pushPull') {
      this.#outbox.drop(reply.type === 'err' ? 'remoteError' : 'unexpectedStreamMessage');
      return reply.type === 'err'
        ? streamFailed('remoteError', `the peer answered with an error: ${reply.error}`)
        : streamFailed('unexpected', `a ${reply.type} message answered a push/pull`);
    }
    const join = stream.purpose === 'join';
    if (join) {
      const conflict = this.#nameConflict(reply.states);
      if (conflict !== null) {
        this.#outbox.drop('joinNameConflict');
        return streamFailed('nameConflict', conflict);
      }
    }
    const incarnation = this.incarnation;
    this.#gossip.source = stream.to;
    let merged: StreamOutcome;
    try {
      merged = this.#mergeRemote(reply.states, reply.userState, join, nowMs);
    } finally {
      this.#gossip.source = undefined;
    }
    // The peer holds us dead (a restarted node joining, or the other side of a healed network
    // partition) and we refuted. Gossip may never carry that to it (after a partition we hold
    // it dead too, and nobody gossips to the long dead), so we tell it directly.
    if (this.incarnation !== incarnation) this.#rules.tellAlive(stream.to);
    return merged;
  }

  /**
   * A live member with our name at another address: memberlist's aliveNode would ignore our
   * alive message as a conflict, so the join could never take (it is not tried).
   */
  #nameConflict(states: readonly PushNodeState[]): string | null {
    const self = this.members.endpoint(this.#self);
    for (const s of states) {
      if (s.name !== this.#name || (s.state !== ALIVE && s.state !== SUSPECT)) continue;
      if (s.port === self.port && bytesEqual(s.addr, self.addr)) continue;
      return `the cluster already has a live member named ${JSON.stringify(this.#name)} at ${ipToString(s.addr)}:${s.port}`;
    }
    return null;
  }

  handleTimer(timer: Timer, nowMs: number): void {
    this.#nowMs = nowMs;
    switch (timer.kind) {
      case 'probe':
        if (this.#tokens.isCurrent('probe', timer.token)) this.#probes.tick(nowMs);
        return;
      case 'probeTimeout':
        this.#probes.timeout(timer.seq, nowMs);
        return;
      case 'gossip':
        if (this.#tokens.isCurrent('gossip', timer.token)) this.#gossip.tick(nowMs);
        return;
      case 'gossipNow':
        this.#gossip.eagerRound(nowMs);
        return;
      case 'pushPull':
        if (this.#tokens.isCurrent('pushPull', timer.token)) this.#pushPullTick(nowMs);
        return;
      case 'reconnect':
        if (this.#tokens.isCurrent('reconnect', timer.token)) this.#reconnectTick(nowMs);
        return;
      case 'suspicion':
        this.#rules.suspicionExpired(timer.node, timer.token, nowMs);
        return;
      case 'relayTimeout':
        this.#probes.relayTimeout(timer.seq);
        return;
    }
  }

  // ---- UDP messages ------------------------------------------------------------------------

  #handleMessage(from: Address, type: number, body: Uint8Array, nowMs: number): void {
    switch (type) {
      case MessageType.ping:
        this.#probes.handlePing(decodePing(body), from);
        return;
      case MessageType.indirectPing:
        this.#probes.handleIndirectPing(decodeIndirectPing(body), from, nowMs);
        return;
      case MessageType.ack:
        this.#probes.handleAck(decodeAck(body).seqNo, nowMs);
        return;
      case MessageType.nack:
        this.#probes.handleNack(decodeNack(body).seqNo);
        return;
      case MessageType.suspect:
        this.#rules.handleSuspect(decodeSuspect(body), from, nowMs);
        return;
      case MessageType.alive:
        this.#rules.aliveNode(decodeAlive(body), nowMs);
        return;
      case MessageType.dead:
        this.#rules.handleDead(decodeDead(body), from, nowMs);
        return;
      case MessageType.user:
        this.#outbox.emit({ type: 'user', payload: body });
        return;
      default:
        this.#outbox.drop('unknownType');
    }
  }

  // ---- anti-entropy ----------------------------------------------------------------------------

  #pushPullTick(nowMs: number): void {
    const t = this.members;
    this.#outbox.timer({ kind: 'pushPull', token: this.#tokens.next('pushPull') }, nowMs + pushPullIntervalMs(this.config, t.size));
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
    this.#outbox.timer({ kind: 'reconnect', token: this.#tokens.next('reconnect') }, nowMs + reconnectIntervalMs(this.config, t.size));
    const mayReconnect = this.#mayReconnect;
    const reconnectable = (slot: number) =>
      t.status(slot) === DEAD &&
      nowMs - t.changeMs(slot) <= this.config.reconnectWindowMs &&
      (mayReconnect === undefined || mayReconnect(t.name(slot)));
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
    this.#openStream('pushPull', to, this.#pushPullMessage(false), nowMs + this.config.tcpTimeoutMs, 0);
  }

  #pushPullMessage(join: boolean): Uint8Array {
    const states: PushNodeState[] = [];
    const t = this.members;
    for (const slot of t.slots()) {
      const e = t.endpoint(slot);
      states.push({
        name: t.name(slot),
        addr: e.addr,
        port: e.port,
        meta: e.meta,
        incarnation: t.incarnation(slot),
        state: t.status(slot),
        vsn: e.vsn,
      });
    }
    const userState = this.#localState();
    return encodePushPull({ join, nodes: states.length, userStateLen: userState.length }, states, userState);
  }

  /**
   * Merges a remote push/pull, as memberlist's mergeState (docs/protocol.md#merging-a-remote-state):
   * remote dead or suspect is only suspicion.
   */
  #mergeRemote(states: readonly PushNodeState[], userState: Uint8Array, join: boolean, nowMs: number): StreamOutcome {
    if (!versionsCompatible(states, this.members)) {
      this.#outbox.drop('incompatibleVersions');
      return streamFailed(
        'protocol',
        "the peer's members speak protocol versions outside the range ours support (memberlist's verifyProtocol)",
      );
    }
    for (const s of states) {
      try {
        if (s.state === ALIVE) {
          this.#rules.aliveNode({ incarnation: s.incarnation, node: s.name, addr: s.addr, port: s.port, meta: s.meta, vsn: s.vsn }, nowMs);
        } else if (s.state === LEFT) {
          this.#rules.deadNode({ incarnation: s.incarnation, node: s.name, from: s.name }, nowMs, true);
        } else {
          this.#rules.suspectNode({ incarnation: s.incarnation, node: s.name, from: this.#name }, nowMs);
        }
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        this.#outbox.drop('malformedNodeState');
      }
    }
    if (userState.length > 0) this.#outbox.emit({ type: 'remoteState', state: userState, join });
    return STREAM_OK;
  }

  // ---- output --------------------------------------------------------------------------------

  /** Streams are always compressed when compression is on (docs/protocol.md#tcp-streams). */
  #encodeStream(message: Uint8Array): Uint8Array {
    return this.config.compression ? encodeCompress({ algo: 0, buf: lzwCompress(message) }) : message;
  }

  /** Opens a TCP stream carrying `message` (encoded for the stream here) and expecting a reply. */
  #openStream(purpose: StreamPurpose, to: Address, message: Uint8Array, deadlineMs: number, seq: number): number {
    const bytes = this.#encodeStream(message);
    const id = ++this.#streamId;
    this.#streams.set(id, { purpose, seq, to });
    this.counters.streamsOut++;
    this.#outbox.emit({ type: 'stream', id, to, bytes, deadlineMs });
    return id;
  }

  /** The 'left' effect, once. */
  #left(): void {
    if (this.#leftSent) return;
    this.#leftSent = true;
    this.#outbox.emit({ type: 'left' });
  }
}
