/** The member table and the probe order (wire reference §9.2, §9.5). */
import { ipToString } from './address.js';
import type { NodeStateValue } from './codec/messages.js';

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

export const STATUS_TO_WIRE: Record<MemberStatus, NodeStateValue> = { alive: 0, suspect: 1, dead: 2, left: 3 };
export const WIRE_TO_STATUS: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

export interface Member {
  readonly name: string;
  addr: Uint8Array;
  host: string;
  port: number;
  meta: Uint8Array;
  /** [pmin, pmax, pcur, dmin, dmax, dcur]; empty if the peer sent none. */
  vsn: Uint8Array;
  incarnation: number;
  status: MemberStatus;
  statusChangeMs: number;
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

export function viewOf(m: Member): MemberView {
  return { name: m.name, host: m.host, port: m.port, meta: m.meta, vsn: m.vsn, incarnation: m.incarnation, status: m.status };
}

export function newMember(name: string, addr: Uint8Array, port: number, nowMs: number): Member {
  return { name, addr, host: ipToString(addr), port, meta: new Uint8Array(0), vsn: new Uint8Array(0), incarnation: 0, status: 'dead', statusChangeMs: nowMs };
}

/** Protocol max of a peer (Vsn[1]); 0 when unknown. */
export function protocolMax(m: Member): number {
  return m.vsn.length >= 6 ? m.vsn[1]! : 0;
}

/** Members by name plus a shuffled round-robin probe order. */
export class MemberTable {
  readonly byName = new Map<string, Member>();
  #order: string[] = [];
  #next = 0;

  get size(): number {
    return this.byName.size;
  }

  get(name: string): Member | undefined {
    return this.byName.get(name);
  }

  add(member: Member, random: () => number): void {
    this.byName.set(member.name, member);
    // Append, then swap with a random slot (memberlist's way): O(1), and the newcomer lands
    // anywhere in the walk, so nodes do not all probe it at once.
    const order = this.#order;
    order.push(member.name);
    const at = Math.floor(random() * order.length);
    order[order.length - 1] = order[at]!;
    order[at] = member.name;
  }

  delete(name: string): void {
    this.byName.delete(name);
    const i = this.#order.indexOf(name);
    if (i >= 0) {
      this.#order.splice(i, 1);
      if (i < this.#next) this.#next--;
    }
  }

  /**
   * The next member to probe (skipping `self` and members that are dead or left), or undefined
   * when there is none. `onWrap` runs each time the walk starts over (reap, then reshuffle).
   */
  nextProbeTarget(self: string, onWrap: () => void, random: () => number): Member | undefined {
    for (let checked = 0; checked <= this.#order.length; checked++) {
      if (this.#next >= this.#order.length) {
        onWrap();
        shuffle(this.#order, random);
        this.#next = 0;
        if (this.#order.length === 0) return undefined;
      }
      const m = this.byName.get(this.#order[this.#next++]!);
      if (m && m.name !== self && (m.status === 'alive' || m.status === 'suspect')) return m;
    }
    return undefined;
  }

  /**
   * Up to `k` distinct random members passing `accept`: random draws, at most 3·n of them (as
   * memberlist does), so the cost is O(k) when most members qualify.
   */
  pick(k: number, accept: (m: Member) => boolean, random: () => number): Member[] {
    const out: Member[] = [];
    const n = this.#order.length;
    for (let tries = 0; tries < 3 * n && out.length < k; tries++) {
      const m = this.byName.get(this.#order[Math.floor(random() * n)]!);
      if (m && accept(m) && !out.includes(m)) out.push(m);
    }
    return out;
  }
}

export function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
}
