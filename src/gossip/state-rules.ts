/**
 * The state rules, as memberlist's aliveNode, suspectNode, deadNode and refute: how news
 * about a member (from a packet, a push/pull, or our own probes) changes what we hold of it, and
 * the suspicions under way, each ending in a verdict unless the suspect refutes in time.
 */
import { type Address, bytesEqual, ipToString } from './address.js';
import type { Awareness } from './awareness.js';
import { type Alive, type Dead, type Suspect, encodeAlive, encodeDead, encodeSuspect } from './codec/messages.js';
import { DecodeError } from './codec/msgpack.js';
import type { Dissemination } from './dissemination.js';
import type { PartContext } from './effects.js';
import { atLeast, newer, next as nextIncarnation } from './incarnation.js';
import { ALIVE, DEAD, type Endpoint, LEFT, SUSPECT } from './members.js';
import { sensibleVersions } from './protocol-versions.js';
import { Suspicion, confirmationsWanted, suspicionMinMs } from './suspicion.js';

/** Largest node meta accepted (memberlist's MetaMaxSize: Go peers never send more). */
export const MAX_META_BYTES = 512;
/** Longest member name accepted, in UTF-16 units (host names are at most 253 characters). */
export const MAX_NAME_CHARS = 512;

/** What the state rules are given by the machine that owns them. */
export interface StateRulesContext extends PartContext {
  readonly awareness: Awareness;
  /** Where news we accept is queued, and corrections are sent. */
  readonly gossip: Dissemination;
  leaving(): boolean;
  /** Our leave has gone out as many times as it will. */
  left(): void;
}

export class StateRules {
  readonly #ctx: StateRulesContext;
  /** Suspicions under way, by member name. */
  readonly #suspicions = new Map<string, Suspicion>();

  constructor(ctx: StateRulesContext) {
    this.#ctx = ctx;
  }

  get #incarnation(): number {
    return this.#ctx.members.incarnation(this.#ctx.self);
  }

  /** A suspect message from the network: answered first when its sender missed newer news. */
  handleSuspect(s: Suspect, from: Address, nowMs: number): void {
    if (this.#answerSuspicionOfDead(s, from)) return;
    this.#answerStaleAccusation(s, from);
    this.suspectNode(s, nowMs);
  }

  /** A dead message from the network. */
  handleDead(d: Dead, from: Address, nowMs: number): void {
    this.#answerStaleAccusation(d, from);
    this.deadNode(d, nowMs, true);
  }

  aliveNode(a: Alive, nowMs: number): void {
    if (a.vsn.length > 0 && a.vsn.length < 6) throw new DecodeError('short Vsn', 'field');
    const { outbox, members: t } = this.#ctx;
    if (a.vsn.length >= 6 && !sensibleVersions(a.vsn)) {
      outbox.drop('badVersion');
      return;
    }
    if (a.node === '') throw new DecodeError('alive without a node name', 'field');
    // memberlist's MetaMaxSize; names get a like bound (what one member may make us hold).
    if (a.meta.length > MAX_META_BYTES) return outbox.drop('metaTooLarge');
    if (a.node.length > MAX_NAME_CHARS) return outbox.drop('nameTooLong');
    if (a.node === this.#ctx.name) {
      const self = t.endpoint(this.#ctx.self);
      if (a.port !== self.port || !bytesEqual(a.addr, self.addr)) {
        // Someone else claims our name (memberlist keeps the first and reports it; Serf may
        // then run its _serf_conflict vote, docs/protocol.md#name-conflicts). Refuting would
        // only make us flap.
        outbox.drop('conflictingAddress');
        outbox.emit({ type: 'conflict', known: t.view(this.#ctx.self), claimed: { host: ipToString(a.addr), port: a.port } });
        return;
      }
      if (this.#ctx.leaving() || newer(this.#incarnation, a.incarnation)) return;
      if (a.incarnation === this.#incarnation && bytesEqual(a.meta, self.meta) && bytesEqual(a.vsn, self.vsn)) return;
      this.#refute(a.incarnation);
      return;
    }
    let slot = t.slotOf(a.node);
    // Most alive messages repeat what we know: settle those before any other work.
    const known = slot >= 0 ? t.endpoint(slot) : undefined;
    const sameAddress = known !== undefined && known.port === a.port && bytesEqual(known.addr, a.addr);
    if (sameAddress && !newer(a.incarnation, t.incarnation(slot))) return;
    const host = ipToString(a.addr);
    if (host === '') throw new DecodeError('alive address is not an IP', 'field');
    const endpoint: Endpoint = { addr: a.addr.slice(), host, port: a.port, meta: a.meta.slice(), vsn: a.vsn.slice() };
    let joined = false;
    if (known === undefined) {
      if (t.size >= this.#ctx.config.maxMembers) return outbox.drop('memberLimit');
      slot = t.add(a.node, endpoint, nowMs, this.#ctx.random);
      joined = true;
    } else if (!sameAddress && !this.#mayMove(slot, nowMs)) {
      outbox.drop('conflictingAddress');
      outbox.emit({ type: 'conflict', known: t.view(slot), claimed: { host, port: a.port } });
      return;
    }
    this.#suspicions.delete(a.node);
    const wasDown = !t.isUp(slot);
    const metaChanged = known !== undefined && !bytesEqual(known.meta, a.meta);
    t.setEndpoint(slot, endpoint);
    t.setState(slot, ALIVE, a.incarnation, nowMs);
    this.queueAlive(slot);
    if (joined || wasDown) outbox.emit({ type: 'member', change: 'join', member: t.view(slot) });
    else if (metaChanged) outbox.emit({ type: 'member', change: 'update', member: t.view(slot) });
  }

  suspectNode(s: Suspect, nowMs: number): void {
    const { config: c, members: t, outbox, tokens } = this.#ctx;
    const slot = t.slotOf(s.node);
    if (slot < 0 || newer(t.incarnation(slot), s.incarnation)) return;
    const existing = this.#suspicions.get(s.node);
    if (existing) {
      if (existing.confirm(s.from)) {
        existing.token = tokens.next('suspicion');
        this.#ctx.gossip.queue({ key: s.node, bytes: encodeSuspect(s), ...this.#ctx.gossip.passedOn() });
        outbox.timer({ kind: 'suspicion', node: s.node, token: existing.token }, existing.deadlineMs);
      }
      return;
    }
    if (t.status(slot) !== ALIVE) return;
    if (slot === this.#ctx.self) {
      this.#refute(s.incarnation);
      return;
    }
    this.#ctx.counters.suspicions++;
    this.#ctx.gossip.queue({ key: s.node, bytes: encodeSuspect(s), ...this.#ctx.gossip.passedOn() });
    t.setState(slot, SUSPECT, s.incarnation, nowMs);
    const n = t.size;
    const minMs = suspicionMinMs(c.suspicionMult, n, c.probeIntervalMs);
    // Without Lifeguard, plain SWIM: a fixed timeout, no confirmations.
    const k = c.lifeguard ? confirmationsWanted(c.suspicionMult, n) : 0;
    const suspicion = new Suspicion(tokens.next('suspicion'), nowMs, minMs, minMs * c.suspicionMaxTimeoutMult, k, s.from);
    this.#suspicions.set(s.node, suspicion);
    outbox.timer({ kind: 'suspicion', node: s.node, token: suspicion.token }, suspicion.deadlineMs);
  }

  /** The suspicion timer: the suspect did not refute in time, unless the timer is stale. */
  suspicionExpired(node: string, token: number, nowMs: number): void {
    const suspicion = this.#suspicions.get(node);
    if (!suspicion || suspicion.token !== token) return;
    this.#suspicions.delete(node);
    const t = this.#ctx.members;
    const slot = t.slotOf(node);
    if (slot >= 0 && t.status(slot) === SUSPECT && t.changeMs(slot) === suspicion.startMs) {
      this.deadNode({ incarnation: t.incarnation(slot), node, from: this.#ctx.name }, nowMs, true);
    }
  }

  /** Dead, or left when the member says so itself; `gossip`: pass the news on. */
  deadNode(d: Dead, nowMs: number, gossip: boolean): void {
    const t = this.#ctx.members;
    const slot = t.slotOf(d.node);
    if (slot < 0 || newer(t.incarnation(slot), d.incarnation)) return;
    this.#suspicions.delete(d.node);
    if (!t.isUp(slot)) return;
    const self = slot === this.#ctx.self;
    if (self && !this.#ctx.leaving()) {
      this.#refute(d.incarnation);
      return;
    }
    if (gossip) {
      const done = self ? () => this.#ctx.left() : undefined;
      this.#ctx.gossip.queue({ key: d.node, bytes: encodeDead(d), ...(done ? { done } : this.#ctx.gossip.passedOn()) });
    }
    const status = d.from === d.node ? LEFT : DEAD;
    t.setState(slot, status, d.incarnation, nowMs);
    if (status === DEAD) this.#ctx.counters.deaths++;
    if (!self) this.#ctx.outbox.emit({ type: 'member', change: 'leave', member: t.view(slot) });
  }

  /** Queues a member's alive for gossip, as we hold it. */
  queueAlive(slot: number): void {
    const self = slot === this.#ctx.self;
    this.#ctx.gossip.queue({
      key: this.#ctx.members.name(slot),
      bytes: this.#aliveMessage(slot),
      ...(self ? {} : this.#ctx.gossip.passedOn()),
    });
  }

  /** Our alive straight to a member that holds older news of us. */
  tellAlive(to: Address): void {
    this.#correct(to, this.#aliveMessage(this.#ctx.self));
  }

  /**
   * Another address claims a known name, as in memberlist's aliveNode
   * (docs/protocol.md#the-alive-rule): only a member that left, or one failed for longer than
   * deadNodeReclaimTimeMs, may come back elsewhere; anything else is a conflict.
   */
  #mayMove(slot: number, nowMs: number): boolean {
    const t = this.#ctx.members;
    if (t.status(slot) === LEFT) return true;
    const reclaimMs = this.#ctx.config.deadNodeReclaimTimeMs;
    return t.status(slot) === DEAD && reclaimMs > 0 && nowMs - t.changeMs(slot) > reclaimMs;
  }

  /** Someone accuses us: outbid the accusation and say we are alive (docs/protocol.md#refutation). */
  #refute(accusedIncarnation: number): void {
    // memberlist's refute: past our own and past the accusation (serial order, src/gossip/incarnation.ts).
    const ours = nextIncarnation(this.#incarnation);
    this.#ctx.members.setIncarnation(this.#ctx.self, atLeast(accusedIncarnation, ours) ? nextIncarnation(accusedIncarnation) : ours);
    this.#ctx.counters.refutations++;
    if (this.#ctx.config.lifeguard) this.#ctx.awareness.apply(1);
    this.queueAlive(this.#ctx.self);
  }

  /**
   * A suspicion of a member we already hold dead: its sender missed the verdict and would
   * otherwise wait out its own suspicion alone (nobody confirms a suspicion of the dead), so we
   * tell it directly. Returns whether it was one (then there is nothing else to do with it).
   */
  #answerSuspicionOfDead(s: Suspect, from: Address): boolean {
    const t = this.#ctx.members;
    const slot = t.slotOf(s.node);
    if (slot < 0 || slot === this.#ctx.self || t.status(slot) !== DEAD || newer(s.incarnation, t.incarnation(slot))) return false;
    this.#correct(from, encodeDead({ incarnation: t.incarnation(slot), node: s.node, from: this.#ctx.name }));
    return true;
  }

  /**
   * An accusation of us older than our incarnation needs no refutation, but its sender may still
   * believe it (a buddy-system ack says so outright): after a healed partition, a member the
   * refutation missed would hold us dead until the next push/pull. Our alive goes straight back.
   */
  #answerStaleAccusation(accusation: Suspect | Dead, from: Address): void {
    if (accusation.node !== this.#ctx.name || atLeast(accusation.incarnation, this.#incarnation) || this.#ctx.leaving()) return;
    this.tellAlive(from);
  }

  /** Newer news straight to a member that showed it lacks it, outside the gossip budget. */
  #correct(to: Address, message: Uint8Array): void {
    this.#ctx.counters.corrections++;
    this.#ctx.gossip.send(to, [message], false, false);
  }

  #aliveMessage(slot: number): Uint8Array {
    const e = this.#ctx.members.endpoint(slot);
    return encodeAlive({
      incarnation: this.#ctx.members.incarnation(slot),
      node: this.#ctx.members.name(slot),
      addr: e.addr,
      port: e.port,
      meta: e.meta,
      vsn: e.vsn,
    });
  }
}
