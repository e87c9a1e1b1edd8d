/**
 * Failure detection (SWIM with Lifeguard): each probe interval we ping the next member of
 * the probe walk, ask others to ping it for us when no ack comes within the probe timeout, and
 * suspect it when the interval ends without an ack. The other end lives here too: we answer
 * pings, and ping members for others (relays) and pass their acks back.
 */
import { type Address, ipToString } from './address.js';
import type { Awareness } from './awareness.js';
import {
  type IndirectPing,
  type Ping,
  type Suspect,
  encodeAck,
  encodeDead,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodeSuspect,
} from './codec/messages.js';
import { DecodeError } from './codec/msgpack.js';
import type { PartContext, StreamPurpose } from './effects.js';
import { ALIVE, DEAD, SUSPECT, addressOf, protocolMax } from './members.js';

/** Indirect probes we run for others at once; each lives one probe timeout. */
export const MAX_PENDING_RELAYS = 256;

/** What the probe round is given by the machine that owns it. */
export interface ProbeContext extends PartContext {
  readonly awareness: Awareness;
  /**
   * Sends messages in one datagram, piggy-backing broadcasts when `piggyback` says whether the
   * recipient is a member we gossip to (up) or not.
   */
  send(to: Address, messages: Uint8Array[], crc: boolean, piggyback: false | { up: boolean }): void;
  /** Opens a TCP stream carrying `message`; its reply comes back through the machine. */
  openStream(purpose: StreamPurpose, to: Address, message: Uint8Array, deadlineMs: number, seq: number): void;
  /** A probe failed: the target becomes suspect (memberlist's suspectNode). */
  suspect(s: Suspect, nowMs: number): void;
}

/** Our probe of one member, from its ping to the end of its (scaled) interval. */
interface Probe {
  seq: number;
  /** The target's slot, and its name to tell whether the slot still holds it. */
  target: number;
  targetName: string;
  startMs: number;
  acked: boolean;
  /** Acked within the probe timeout, before any indirect probe went out. */
  direct: boolean;
  /** Reached over TCP when UDP failed: not suspected. */
  fallbackContact: boolean;
  nacks: number;
  expectedNacks: number;
}

/** A relayed indirect probe: we pinged a target on behalf of `requester`. */
interface Relay {
  requester: Address;
  originalSeq: number;
  nack: boolean;
}

export class ProbeRound {
  readonly #ctx: ProbeContext;
  /** Sequence numbers of our pings, ours and relayed (u32, wrapping). */
  #seq = 0;
  #probe: Probe | undefined;
  /** Relayed indirect probes by the sequence number of our ping. */
  readonly #relays = new Map<number, Relay>();

  constructor(ctx: ProbeContext) {
    this.#ctx = ctx;
  }

  /** Indirect probes we are running for others. */
  get pendingRelays(): number {
    return this.#relays.size;
  }

  /**
   * The probe timer (memberlist's probe and probeNode): settles the previous probe, schedules the
   * next tick (stretched by the health score under Lifeguard) and pings the next member.
   */
  tick(nowMs: number): void {
    const { config: c, members: t } = this.#ctx;
    this.#finish(nowMs);
    const interval = c.lifeguard ? this.#ctx.awareness.scale(c.probeIntervalMs) : c.probeIntervalMs;
    this.#ctx.outbox.timer({ kind: 'probe', token: this.#ctx.tokens.next('probe') }, nowMs + interval);
    const target = t.nextProbeTarget(this.#ctx.self, () => this.#reap(nowMs), this.#ctx.random);
    if (target < 0) return;
    const seq = this.#nextSeq();
    const targetName = t.name(target);
    this.#ctx.counters.probes++;
    this.#probe = {
      seq,
      target,
      targetName,
      startMs: nowMs,
      acked: false,
      direct: false,
      fallbackContact: false,
      nacks: 0,
      expectedNacks: 0,
    };
    const messages = [this.#pingMessage(seq, targetName)];
    // Buddy system: tell a suspect first, so it can refute before others declare it dead.
    const buddy = t.status(target) === SUSPECT && c.lifeguard;
    if (buddy) messages.push(encodeSuspect({ incarnation: t.incarnation(target), node: targetName, from: this.#ctx.name }));
    const e = t.endpoint(target);
    this.#ctx.send(addressOf(e), messages, buddy && protocolMax(e) >= 5, { up: true });
    this.#ctx.outbox.timer({ kind: 'probeTimeout', seq }, nowMs + c.probeTimeoutMs);
  }

  /** No ack within the probe timeout: ask up to indirectChecks members to ping, and try TCP. */
  timeout(seq: number, nowMs: number): void {
    const probe = this.#probe;
    if (!probe || probe.seq !== seq || probe.acked) return;
    const { config: c, members: t } = this.#ctx;
    if (t.slotOf(probe.targetName) !== probe.target) return; // reaped meanwhile
    const target = t.endpoint(probe.target);
    const helpers = t.pick(
      c.indirectChecks,
      (slot) => slot !== this.#ctx.self && slot !== probe.target && t.status(slot) === ALIVE,
      this.#ctx.random,
    );
    const self = t.endpoint(this.#ctx.self);
    for (const helper of helpers) {
      const via = t.endpoint(helper);
      const nack = c.lifeguard && protocolMax(via) >= 4;
      if (nack) probe.expectedNacks++;
      this.#ctx.counters.indirectProbes++;
      this.#ctx.send(
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
            sourceNode: this.#ctx.name,
          }),
        ],
        false,
        false,
      );
    }
    if (c.tcpPings && protocolMax(target) >= 3) {
      const deadline = Math.max(nowMs, probe.startMs + this.#ctx.awareness.scale(c.probeIntervalMs));
      this.#ctx.openStream('ping', addressOf(target), this.#pingMessage(seq, probe.targetName), deadline, seq);
    }
  }

  /**
   * A ping for us (memberlist's handlePing). Buddy system, both ways: a member we hold suspect or
   * dead is evidently probing us, so the ack tells it what we believe and it can refute at once,
   * instead of waiting for gossip or a push/pull to carry the accusation to it.
   */
  handlePing(ping: Ping, from: Address): void {
    const { config: c, members: t } = this.#ctx;
    if (ping.node !== '' && ping.node !== this.#ctx.name) {
      this.#ctx.outbox.drop('pingForOtherNode');
      return;
    }
    const messages = [encodeAck({ seqNo: ping.seqNo, payload: null })];
    const sender = ping.sourceNode === '' ? -1 : t.slotOf(ping.sourceNode);
    const status = sender >= 0 ? t.status(sender) : ALIVE;
    if (sender !== this.#ctx.self && c.lifeguard && (status === SUSPECT || status === DEAD)) {
      const accusation = { incarnation: t.incarnation(sender), node: ping.sourceNode, from: this.#ctx.name };
      messages.push(status === SUSPECT ? encodeSuspect(accusation) : encodeDead(accusation));
    }
    this.#ctx.send(replyAddress(ping, from), messages, false, { up: sender >= 0 && t.isUp(sender) });
  }

  /** Someone asks us to ping a member for them (memberlist's handleIndirectPing). */
  handleIndirectPing(req: IndirectPing, from: Address, nowMs: number): void {
    const target = ipToString(req.target);
    if (target === '') throw new DecodeError('indirect ping target is not an IP', 'field');
    // Bounded: a flood of requests must not grow memory or turn us into a ping reflector.
    if (this.#relays.size >= MAX_PENDING_RELAYS) {
      this.#ctx.outbox.drop('tooManyRelays');
      return;
    }
    const seq = this.#nextSeq();
    this.#relays.set(seq, { requester: replyAddress(req, from), originalSeq: req.seqNo, nack: req.nack });
    this.#ctx.send({ host: target, port: req.port }, [this.#pingMessage(seq, req.node)], false, false);
    this.#ctx.outbox.timer({ kind: 'relayTimeout', seq }, nowMs + this.#ctx.config.probeTimeoutMs);
  }

  /** An ack: for our probe, or for a relay, which passes it on to its requester. */
  handleAck(seqNo: number, nowMs: number): void {
    const probe = this.#probe;
    if (probe && probe.seq === seqNo && !probe.acked) {
      probe.acked = true;
      probe.direct = nowMs - probe.startMs <= this.#ctx.config.probeTimeoutMs;
      return;
    }
    const relay = this.#relays.get(seqNo);
    if (relay) {
      this.#relays.delete(seqNo);
      this.#ctx.send(relay.requester, [encodeAck({ seqNo: relay.originalSeq, payload: null })], false, false);
      return;
    }
    this.#ctx.outbox.drop('staleAck');
  }

  /** A helper could not reach our target: under Lifeguard, evidence that the fault may be ours. */
  handleNack(seqNo: number): void {
    if (this.#probe?.seq === seqNo) this.#probe.nacks++;
  }

  /** Our TCP ping `seq` was answered with an ack for `ackSeq`. */
  handleStreamAck(seq: number, ackSeq: number): void {
    if (this.#probe?.seq === seq && ackSeq === seq) this.#probe.fallbackContact = true;
  }

  /** A relay got no ack in time: its requester gets a nack if it asked for one. */
  relayTimeout(seq: number): void {
    const relay = this.#relays.get(seq);
    if (!relay) return;
    this.#relays.delete(seq);
    if (relay.nack) this.#ctx.send(relay.requester, [encodeNack({ seqNo: relay.originalSeq })], false, false);
  }

  /** Settles the previous probe at the end of its (scaled) interval. */
  #finish(nowMs: number): void {
    const probe = this.#probe;
    this.#probe = undefined;
    if (!probe) return;
    const { config: c, members: t } = this.#ctx;
    if (probe.acked) {
      if (probe.direct && c.lifeguard) this.#ctx.awareness.apply(-1);
      return;
    }
    if (probe.fallbackContact) return; // reachable over TCP only: do not suspect
    this.#ctx.counters.probeFailures++;
    if (c.lifeguard) {
      this.#ctx.awareness.apply(probe.expectedNacks > 0 ? Math.max(0, probe.expectedNacks - probe.nacks) : 1);
    }
    if (t.slotOf(probe.targetName) === probe.target && t.isUp(probe.target)) {
      this.#ctx.suspect({ incarnation: t.incarnation(probe.target), node: probe.targetName, from: this.#ctx.name }, nowMs);
    }
  }

  /** When the probe walk wraps: forget members that have been dead or left beyond the reconnect window. */
  #reap(nowMs: number): void {
    const { config: c, members: t, self } = this.#ctx;
    t.removeWhere((slot) => slot !== self && !t.isUp(slot) && nowMs - t.changeMs(slot) > c.reconnectWindowMs);
  }

  #pingMessage(seq: number, node: string): Uint8Array {
    const self = this.#ctx.members.endpoint(this.#ctx.self);
    return encodePing({ seqNo: seq, node, sourceAddr: self.addr, sourcePort: self.port, sourceNode: this.#ctx.name });
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }
}

/**
 * Replies go to Source* when the sender gave both, else to the packet's source, as memberlist's
 * handlePing (docs/protocol.md#probing).
 */
function replyAddress(m: { sourceAddr: Uint8Array | null; sourcePort: number }, from: Address): Address {
  if (m.sourceAddr && m.sourceAddr.length > 0 && m.sourcePort !== 0) {
    const host = ipToString(m.sourceAddr);
    if (host !== '') return { host, port: m.sourcePort };
  }
  return from;
}
