/**
 * Serf's user events: delivery at most once (a duplicate filter over Lamport time, Serf's
 * handleUserEvent), the floor below which a joiner ignores the cluster's old events
 * (eventMinTime), coalescing, and the recent events a push/pull carries.
 */
import { bytesEqual } from '../gossip/address.js';
import { TimerTokens } from '../gossip/timer-tokens.js';
import { UserEventCoalescer } from './coalesce.js';
import type { SerfContext } from './effects.js';
import type { LamportClock } from './lamport.js';
import type { EventsAt, RecentEvent } from './push-pull.js';
import { SeenRing } from './seen-ring.js';

/** Bytes of recent user events carried in one push/pull. */
export const MAX_STATE_EVENT_BYTES = 256 * 1024;

export interface UserEvent {
  readonly ltime: bigint;
  readonly name: string;
  readonly payload: Uint8Array;
  readonly coalesce: boolean;
}

export class UserEvents {
  readonly #ctx: SerfContext;
  readonly #clock: LamportClock;
  readonly #seen = new SeenRing<RecentEvent>((a, b) => a.name === b.name && bytesEqual(a.payload, b.payload));
  readonly #coalescer = new UserEventCoalescer();
  readonly #tokens = new TimerTokens<'coalesceFlush'>();
  #minTime = 0n;

  constructor(ctx: SerfContext, clock: LamportClock) {
    this.#ctx = ctx;
    this.#clock = clock;
  }

  /** Our own event: takes the clock's time, moves the clock on, and delivers it to us. */
  create(name: string, payload: Uint8Array, coalesce: boolean, nowMs: number): UserEvent {
    const event = { ltime: this.#clock.time, name, payload, coalesce };
    this.#advanceClock(() => this.#clock.increment());
    this.receive(event, nowMs);
    return event;
  }

  /** Serf's handleUserEvent; returns whether the event was new (then it is rebroadcast). */
  receive(e: UserEvent, nowMs: number): boolean {
    this.#advanceClock(() => this.#clock.witness(e.ltime));
    if (e.ltime < this.#minTime) return false;
    const verdict = this.#seen.admit(e.ltime, { name: e.name, payload: e.payload }, this.#clock.time);
    if (verdict !== 'new') {
      if (verdict !== 'duplicate') this.#ctx.drop(verdict === 'tooOld' ? 'oldEvent' : 'eventSlotFull');
      return false;
    }
    this.#deliver(e, nowMs);
    return true;
  }

  /** A join's push/pull: events before the cluster's event time are not delivered (ignoreOldEvents). */
  raiseFloor(eventLTime: bigint): void {
    if (eventLTime > this.#minTime) this.#minTime = eventLTime;
  }

  /** The coalescing timer fired. */
  handleFlush(token: number, nowMs: number): void {
    if (!this.#tokens.isCurrent('coalesceFlush', token)) return;
    const { userCoalescePeriodMs, userQuiescentPeriodMs } = this.#ctx.config;
    const due = this.#coalescer.dueAtMs(userCoalescePeriodMs, userQuiescentPeriodMs);
    if (due === null) return;
    if (due > nowMs) {
      this.#ctx.timer({ kind: 'coalesceFlush', token: this.#tokens.next('coalesceFlush') }, due);
      return;
    }
    for (const e of this.#coalescer.flush()) this.#ctx.emit({ type: 'event', event: e });
  }

  /**
   * The recent events for push/pull, the newest up to MAX_STATE_EVENT_BYTES (Serf sends its
   * whole ring, which a burst of large events could make megabytes long), newest by distance
   * from our clock in uint64 arithmetic, so across a wrap too. They go in the ring's order, as
   * Serf's eventBuffer: the receiver witnesses their times in that order, and across a wrap
   * (2^64−2 then 2^64−1 then 0) the order decides where its clock ends.
   */
  recent(): EventsAt[] {
    const now = this.#clock.time;
    const age = (ltime: bigint) => BigInt.asUintN(64, now - ltime);
    const ring = this.#seen.entries();
    const chosen = new Map<bigint, RecentEvent[]>();
    let budget = MAX_STATE_EVENT_BYTES;
    for (const { ltime, items } of [...ring].sort((a, b) => (age(a.ltime) < age(b.ltime) ? -1 : age(a.ltime) > age(b.ltime) ? 1 : 0))) {
      const events: RecentEvent[] = [];
      for (const e of items) {
        budget -= e.name.length + e.payload.length + 16;
        if (budget < 0) break;
        events.push(e);
      }
      if (events.length > 0) chosen.set(ltime, events);
      if (budget < 0) break;
    }
    return ring.flatMap(({ ltime }) => {
      const events = chosen.get(ltime);
      return events === undefined ? [] : [{ ltime, events }];
    });
  }

  /**
   * Moves the event clock (Serf's eventClock.Witness or Increment). When it wraps past 2^64−1,
   * the floor set at our join (Serf's eventMinTime, ignoreOldEvents) is cleared, a deliberate
   * deviation: every later event is newer than the join, yet its time is below the floor, and
   * Serf would drop the cluster's events until the clock climbs back up to it.
   */
  #advanceClock(move: () => void): void {
    const before = this.#clock.time;
    move();
    if (this.#clock.time < before) this.#minTime = 0n;
  }

  /** Delivers a new event now, or holds it for coalescing when it allows it and coalescing is on. */
  #deliver(e: UserEvent, nowMs: number): void {
    const { userCoalescePeriodMs: coalesceMs, userQuiescentPeriodMs: quiescentMs } = this.#ctx.config;
    if (!e.coalesce || coalesceMs === 0 || quiescentMs === 0) {
      this.#ctx.emit({ type: 'event', event: e });
      return;
    }
    for (const overflow of this.#coalescer.add(e, nowMs)) this.#ctx.emit({ type: 'event', event: overflow });
    this.#ctx.timer(
      { kind: 'coalesceFlush', token: this.#tokens.next('coalesceFlush') },
      this.#coalescer.dueAtMs(coalesceMs, quiescentMs)!,
    );
  }
}
