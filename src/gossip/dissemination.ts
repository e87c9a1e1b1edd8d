/**
 * How news spreads (memberlist's broadcast queue, gossip and the piggy-backing in its sendMsg):
 * queued broadcasts ride on the datagrams we send anyway and go out in gossip rounds to
 * gossipNodes random members, each at most the retransmit limit times. Every datagram the
 * machine sends goes out through here.
 */
import { type Address, addressKey } from './address.js';
import { type Broadcast, BroadcastQueue, type Recipient } from './broadcast-queue.js';
import { packPacket } from './codec/packet.js';
import { retransmitLimit } from './config.js';
import type { PartContext } from './effects.js';
import { DEAD, addressOf, protocolMax } from './members.js';

/** compound header (type + count) */
const COMPOUND_HEADER_BYTES = 2;
/** per message in a compound: its u16 length */
const COMPOUND_ENTRY_BYTES = 2;

/** What dissemination is given by the machine that owns it. */
export interface DisseminationContext extends PartContext {
  /** Bytes the I/O layer adds per datagram (encryption), taken off the gossip budget. */
  readonly overheadBytes: number;
  /** Whether the machine has started: before that, news waits for the first gossip round. */
  started(): boolean;
  /** The latest time any call brought: when an eager gossip round is due. */
  nowMs(): number;
  leaving(): boolean;
  /** Our leave has nobody left to reach. */
  left(): void;
}

export class Dissemination {
  /**
   * The member whose packet or push/pull reply is being handled: news we pass on from it is not
   * sent back to it (see BroadcastQueue). Its key is made only when news is queued.
   */
  source: Address | undefined;
  readonly #ctx: DisseminationContext;
  readonly #broadcasts: BroadcastQueue;
  /** A gossipNow timer is on its way. */
  #eagerPending = false;

  constructor(ctx: DisseminationContext) {
    this.#ctx = ctx;
    this.#broadcasts = new BroadcastQueue(ctx.config.broadcastQueueDepth);
  }

  /**
   * Queues a broadcast. News that finds nothing untried in the queue starts spreading at once,
   * in an extra gossip round, rather than at the next tick (up to gossipIntervalMs later):
   * invisible on the wire, it takes most of a gossip interval off every hop of a join, leave,
   * failure or event. The transmit limit per message is unchanged, and news arriving while other
   * news still waits for its first round rides along with it (one extra round per burst).
   */
  queue(b: Broadcast): void {
    const nothingUntried = this.#broadcasts.untried === 0;
    this.#broadcasts.queue(b);
    if (nothingUntried && this.#ctx.started() && !this.#eagerPending) {
      this.#eagerPending = true;
      this.#ctx.outbox.timer({ kind: 'gossipNow' }, this.#ctx.nowMs());
    }
  }

  /** For news about another member that came in a packet or push/pull: who told us. */
  passedOn(): { source?: string } {
    return this.source === undefined ? {} : { source: addressKey(this.source) };
  }

  /** The gossip timer: schedules the next tick, then runs a round. */
  tick(nowMs: number): void {
    this.#ctx.outbox.timer({ kind: 'gossip', token: this.#ctx.tokens.next('gossip') }, nowMs + this.#ctx.config.gossipIntervalMs);
    this.#round(nowMs);
  }

  /** The gossipNow timer that queue() asked for. */
  eagerRound(nowMs: number): void {
    this.#eagerPending = false;
    this.#round(nowMs);
  }

  /** Whether a gossip round has anyone to send to: another member alive, suspect or recently dead. */
  hasTargets(nowMs: number): boolean {
    for (const slot of this.#ctx.members.slots()) if (this.#isTarget(slot, nowMs)) return true;
    return false;
  }

  /**
   * Sends messages in one datagram, piggy-backing broadcasts when `piggyback` says whether the
   * recipient is a member we gossip to (up) or not.
   */
  send(to: Address, messages: Uint8Array[], crc: boolean, piggyback: false | { up: boolean }): void {
    const c = this.#ctx.config;
    if (piggyback) {
      const used = messages.reduce((n, m) => n + m.length + COMPOUND_ENTRY_BYTES, 0);
      const budget = c.udpBufferBytes - COMPOUND_HEADER_BYTES - this.#ctx.overheadBytes - used;
      if (budget > 0 && this.#broadcasts.length > 0)
        messages = [...messages, ...this.#take(budget, { key: addressKey(to), up: piggyback.up })];
    }
    this.#sendPacket(to, messages, crc);
  }

  /** Sends queued broadcasts to gossipNodes random members (memberlist's gossip). */
  #round(nowMs: number): void {
    if (this.#broadcasts.length === 0) return;
    const { config: c, members: t } = this.#ctx;
    const targets = t.pick(c.gossipNodes, (slot) => this.#isTarget(slot, nowMs), this.#ctx.random);
    // Everyone we could tell is gone: our leave has nobody left to reach.
    if (targets.length === 0 && this.#ctx.leaving() && !this.hasTargets(nowMs)) this.#ctx.left();
    const budget = c.udpBufferBytes - COMPOUND_HEADER_BYTES - this.#ctx.overheadBytes;
    for (const target of targets) {
      const e = t.endpoint(target);
      const messages = this.#take(budget, { key: addressKey(e), up: t.isUp(target) });
      // Nothing for this one: the queue is empty, or it has everything that is queued.
      if (messages.length === 0) {
        if (this.#broadcasts.length === 0) return;
        continue;
      }
      this.#sendPacket(addressOf(e), messages, protocolMax(e) >= 5);
    }
  }

  #isTarget(slot: number, nowMs: number): boolean {
    const { config: c, members: t } = this.#ctx;
    return slot !== this.#ctx.self && (t.isUp(slot) || (t.status(slot) === DEAD && nowMs - t.changeMs(slot) < c.gossipToTheDeadMs));
  }

  #take(budgetBytes: number, to: Recipient): Uint8Array[] {
    return this.#broadcasts.take(COMPOUND_ENTRY_BYTES, budgetBytes, retransmitLimit(this.#ctx.config, this.#ctx.members.size), to);
  }

  #sendPacket(to: Address, messages: readonly Uint8Array[], crc: boolean): void {
    const bytes = packPacket(messages, { compress: this.#ctx.config.compression, crc });
    this.#ctx.counters.packetsOut++;
    this.#ctx.counters.bytesOut += bytes.length;
    this.#ctx.outbox.emit({ type: 'send', to, bytes });
  }
}
