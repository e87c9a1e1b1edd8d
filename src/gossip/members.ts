/**
 * The member table and the probe order (docs/protocol.md#member-states-and-incarnations,
 * docs/protocol.md#probing).
 *
 * Every node holds a record for every member, so a simulated cluster of N nodes holds N² of
 * them: the table is laid out as columns (typed arrays plus two reference columns) rather than
 * an object per member, about 70 bytes a record instead of 160, which is what lets the
 * simulator run 10 000 nodes in one process. Records are addressed by slot; a slot is reused
 * after its member is reaped, so a slot kept across calls must be checked against its name.
 */
import { type Address, ipToString } from './address.js';
import type { NodeStateValue } from './codec/messages.js';

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** Status codes, equal to the wire's NodeStateType (docs/protocol.md#member-states-and-incarnations). */
export const ALIVE = 0;
export const SUSPECT = 1;
export const DEAD = 2;
export const LEFT = 3;
export type StatusCode = NodeStateValue;

export const WIRE_TO_STATUS: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

/**
 * Where a member is and what it says of itself. Immutable and replaced whole on change, so one
 * object can be shared by many tables (the simulator's converged clusters share them all).
 */
export interface Endpoint {
  readonly addr: Uint8Array;
  readonly host: string;
  readonly port: number;
  readonly meta: Uint8Array;
  /** [pmin, pmax, pcur, dmin, dmax, dcur]; empty if the peer sent none. */
  readonly vsn: Uint8Array;
}

/** A read-only snapshot of a member, as notifications carry it. */
export interface MemberView {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly vsn: Uint8Array;
  readonly incarnation: number;
  readonly status: MemberStatus;
}

const EMPTY = new Uint8Array(0);

export function endpointOf(addr: Uint8Array, port: number, meta: Uint8Array = EMPTY, vsn: Uint8Array = EMPTY): Endpoint {
  return { addr, host: ipToString(addr), port, meta, vsn };
}

/** Where a member is reached. */
export function addressOf(e: Endpoint): Address {
  return { host: e.host, port: e.port };
}

/** Protocol max of a peer (Vsn[1]); 0 when unknown. */
export function protocolMax(e: Endpoint): number {
  return e.vsn.length >= 6 ? e.vsn[1]! : 0;
}

const INITIAL_CAPACITY = 8;

export class MemberTable {
  readonly #slots = new Map<string, number>();
  readonly #names: string[] = [];
  readonly #endpoints: (Endpoint | undefined)[] = [];
  #incarnation = new Uint32Array(INITIAL_CAPACITY);
  #status = new Uint8Array(INITIAL_CAPACITY);
  #changeMs = new Float64Array(INITIAL_CAPACITY);
  readonly #free: number[] = [];
  /** The probe walk: slots in a shuffled order. */
  #order = new Int32Array(INITIAL_CAPACITY);
  #orderLength = 0;
  #next = 0;

  get size(): number {
    return this.#slots.size;
  }

  /** The slot of `name`, or -1. */
  slotOf(name: string): number {
    return this.#slots.get(name) ?? -1;
  }

  name(slot: number): string {
    return this.#names[slot]!;
  }

  endpoint(slot: number): Endpoint {
    return this.#endpoints[slot]!;
  }

  incarnation(slot: number): number {
    return this.#incarnation[slot]!;
  }

  status(slot: number): StatusCode {
    return this.#status[slot]! as StatusCode;
  }

  changeMs(slot: number): number {
    return this.#changeMs[slot]!;
  }

  /** alive or suspect: a member we probe and gossip to. */
  isUp(slot: number): boolean {
    return this.#status[slot]! <= SUSPECT;
  }

  /** The status of `name` without allocating, or undefined if unknown. */
  statusOf(name: string): MemberStatus | undefined {
    const slot = this.#slots.get(name);
    return slot === undefined ? undefined : WIRE_TO_STATUS[this.#status[slot]!];
  }

  get(name: string): MemberView | undefined {
    const slot = this.#slots.get(name);
    return slot === undefined ? undefined : this.view(slot);
  }

  view(slot: number): MemberView {
    const e = this.#endpoints[slot]!;
    return {
      name: this.#names[slot]!,
      host: e.host,
      port: e.port,
      meta: e.meta,
      vsn: e.vsn,
      incarnation: this.#incarnation[slot]!,
      status: WIRE_TO_STATUS[this.#status[slot]!]!,
    };
  }

  /** Every slot in use, in no particular order. */
  slots(): IterableIterator<number> {
    return this.#slots.values();
  }

  views(): MemberView[] {
    return [...this.#slots.values()].map((slot) => this.view(slot));
  }

  setEndpoint(slot: number, endpoint: Endpoint): void {
    this.#endpoints[slot] = endpoint;
  }

  setState(slot: number, status: StatusCode, incarnation: number, nowMs: number): void {
    this.#status[slot] = status;
    this.#incarnation[slot] = incarnation;
    this.#changeMs[slot] = nowMs;
  }

  setIncarnation(slot: number, incarnation: number): void {
    this.#incarnation[slot] = incarnation;
  }

  /** Room for `extra` more members without growing again (restoring a large snapshot). */
  reserve(extra: number): void {
    this.#grow(this.#names.length - this.#free.length + extra);
  }

  /** A new record (dead, incarnation 0), not yet in the probe walk: see enlist. */
  insert(name: string, endpoint: Endpoint, nowMs: number): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#names.length;
      this.#grow(slot + 1);
      this.#names.push(name);
      this.#endpoints.push(endpoint);
    } else {
      this.#names[slot] = name;
      this.#endpoints[slot] = endpoint;
    }
    this.#slots.set(name, slot);
    this.setState(slot, DEAD, 0, nowMs);
    return slot;
  }

  /**
   * Puts a slot into the probe walk: appended, then swapped with a random position (memberlist's
   * way): O(1), and the newcomer lands anywhere in the walk, so nodes do not all probe it at once.
   */
  enlist(slot: number, random: () => number): void {
    const order = this.#order;
    const at = Math.floor(random() * (this.#orderLength + 1));
    order[this.#orderLength++] = order[at]!;
    order[at] = slot;
  }

  add(name: string, endpoint: Endpoint, nowMs: number, random: () => number): number {
    const slot = this.insert(name, endpoint, nowMs);
    this.enlist(slot, random);
    return slot;
  }

  /** Forgets every member for which `doomed(slot)` holds, in one pass. */
  removeWhere(doomed: (slot: number) => boolean): void {
    let removedBeforeNext = 0;
    let kept = 0;
    for (let i = 0; i < this.#orderLength; i++) {
      const slot = this.#order[i]!;
      if (!doomed(slot)) {
        this.#order[kept++] = slot;
        continue;
      }
      if (i < this.#next) removedBeforeNext++;
      this.#slots.delete(this.#names[slot]!);
      this.#names[slot] = '';
      this.#endpoints[slot] = undefined;
      this.#free.push(slot);
    }
    this.#orderLength = kept;
    this.#next -= removedBeforeNext;
  }

  /**
   * The next member to probe (skipping `self` and members that are dead or left), or -1 when
   * there is none. `onWrap` runs each time the walk starts over (reap, then reshuffle).
   */
  nextProbeTarget(self: number, onWrap: () => void, random: () => number): number {
    for (let checked = 0; checked <= this.#orderLength; checked++) {
      if (this.#next >= this.#orderLength) {
        onWrap();
        shuffle(this.#order, this.#orderLength, random);
        this.#next = 0;
        if (this.#orderLength === 0) return -1;
      }
      const slot = this.#order[this.#next++]!;
      if (slot !== self && this.isUp(slot)) return slot;
    }
    return -1;
  }

  /**
   * Up to `k` distinct random members passing `accept`: random draws, at most 3·n of them (as
   * memberlist does), so the cost is O(k) when most members qualify.
   */
  pick(k: number, accept: (slot: number) => boolean, random: () => number): number[] {
    const out: number[] = [];
    const n = this.#orderLength;
    for (let tries = 0; tries < 3 * n && out.length < k; tries++) {
      const slot = this.#order[Math.floor(random() * n)]!;
      if (accept(slot) && !out.includes(slot)) out.push(slot);
    }
    return out;
  }

  #grow(needed: number): void {
    if (needed <= this.#status.length) return;
    const capacity = Math.max(needed, this.#status.length * 2);
    this.#incarnation = resized(this.#incarnation, new Uint32Array(capacity));
    this.#status = resized(this.#status, new Uint8Array(capacity));
    this.#changeMs = resized(this.#changeMs, new Float64Array(capacity));
    this.#order = resized(this.#order, new Int32Array(capacity));
  }
}

function resized<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}

/** Fisher–Yates over the first `length` items. */
function shuffle(items: Int32Array, length: number, random: () => number): void {
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
}
