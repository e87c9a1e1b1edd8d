/**
 * Serf's view of members (docs/protocol.md#member-status): memberlist says who is reachable, the
 * join and leave intents (ordered by the member Lamport clock) say who means to be here.
 * Together they give alive / leaving / left / failed. Failed members are reaped after the
 * reconnect timeout, left ones after the tombstone timeout.
 */
import { MAX_NAME_CHARS } from '../gossip/machine.js';
import type { MemberView } from '../gossip/members.js';
import { MAX_LTIME } from './lamport.js';
import { RecentIntents } from './recent-intents.js';

export type SerfStatus = 'alive' | 'leaving' | 'left' | 'failed';

export interface VersionRange {
  readonly min: number;
  readonly max: number;
  readonly cur: number;
}

export interface SerfMember {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly status: SerfStatus;
  /** memberlist protocol versions */
  readonly protocol: VersionRange;
  /** Serf (delegate) protocol versions: what `serf members -detailed` shows */
  readonly delegate: VersionRange;
}

export type SerfChange = 'join' | 'update' | 'leave' | 'failed' | 'reap';

export interface SerfMemberEvent {
  readonly change: SerfChange;
  readonly member: SerfMember;
}

interface Entry {
  member: SerfMember;
  /** The Lamport time of the newest intent applied. */
  statusLTime: bigint;
  /** When it became failed or left, for reaping. */
  sinceMs: number;
}

/** What to do after a leave intent. */
export type LeaveVerdict = 'rebroadcast' | 'ignore' | 'refute';

/** Unknown-member intents held at once (Serf holds them in an unbounded map for 5 minutes). */
export const MAX_RECENT_INTENTS = 4096;

function versions(vsn: Uint8Array, offset: number): VersionRange {
  return vsn.length >= 6 ? { min: vsn[offset]!, max: vsn[offset + 1]!, cur: vsn[offset + 2]! } : { min: 0, max: 0, cur: 0 };
}

export class SerfMembers {
  readonly #entries = new Map<string, Entry>();
  readonly intents = new RecentIntents(MAX_RECENT_INTENTS);
  readonly #self: string;
  /** Intents dropped from the full buffer. */
  evictedIntents = 0;

  constructor(self: string) {
    this.#self = self;
  }

  get(name: string): SerfMember | undefined {
    return this.#entries.get(name)?.member;
  }

  statusLTime(name: string): bigint | undefined {
    return this.#entries.get(name)?.statusLTime;
  }

  list(): SerfMember[] {
    return [...this.#entries.values()].map((e) => e.member);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** memberlist says the node is alive (new, or back from dead / left). */
  nodeJoin(view: MemberView, tags: Readonly<Record<string, string>>): SerfMemberEvent {
    const existing = this.#entries.get(view.name);
    const base = {
      name: view.name,
      host: view.host,
      port: view.port,
      tags,
      protocol: versions(view.vsn, 0),
      delegate: versions(view.vsn, 3),
    };
    if (existing === undefined) {
      // An intent may have arrived before the member did (Serf holds the newest one per node).
      const intent = this.intents.get(view.name);
      this.intents.delete(view.name);
      const status: SerfStatus = intent?.kind === 'leave' ? 'leaving' : 'alive';
      const entry: Entry = { member: { ...base, status }, statusLTime: intent?.ltime ?? 0n, sinceMs: 0 };
      this.#entries.set(view.name, entry);
      return { change: 'join', member: entry.member };
    }
    // Serf's handleNodeJoin: alive, whatever it announced. A late refutation racing its own
    // graceful leave still ends `left`: its dead{From = self} reads so (nodeLeave).
    existing.member = { ...base, status: 'alive' };
    existing.sinceMs = 0;
    return { change: 'join', member: existing.member };
  }

  /** memberlist says the node's meta changed. */
  nodeUpdate(view: MemberView, tags: Readonly<Record<string, string>>): SerfMemberEvent | null {
    const e = this.#entries.get(view.name);
    if (e === undefined) return null;
    e.member = { ...e.member, host: view.host, port: view.port, tags };
    return { change: 'update', member: e.member };
  }

  /**
   * memberlist says the node is dead or left: left if it announced a leave, else failed.
   * `graceful`: memberlist's dead{From = self}, the node's own leave. Serf's handleNodeLeave
   * reads that as failed unless a leave intent came first; we read it as left (a deliberate
   * deviation), since a leave intent can lose against the time held for the member: one at
   * 2^64−1 is newer than any, and a wrapped clock can issue one older than it.
   */
  nodeLeave(name: string, nowMs: number, graceful = false): SerfMemberEvent | null {
    const e = this.#entries.get(name);
    if (e === undefined) return null;
    const from = e.member.status;
    if (from !== 'leaving' && from !== 'alive') return null;
    const left = from === 'leaving' || graceful;
    e.member = { ...e.member, status: left ? 'left' : 'failed' };
    e.sinceMs = nowMs;
    return { change: left ? 'leave' : 'failed', member: e.member };
  }

  /**
   * A join intent; returns whether to rebroadcast it, and an update when it takes back a
   * leave (leaving → alive: Serf changes the status silently; we tell, so the ring and the
   * application see it).
   */
  joinIntent(node: string, ltime: bigint, nowMs: number): { rebroadcast: boolean; event: SerfMemberEvent | null } {
    const e = this.#entries.get(node);
    if (e === undefined) return { rebroadcast: this.#remember(node, 'join', ltime, nowMs), event: null };
    if (ltime <= e.statusLTime) return { rebroadcast: false, event: null };
    e.statusLTime = ltime;
    // The leave it answers must have been older.
    if (e.member.status !== 'leaving') return { rebroadcast: true, event: null };
    e.member = { ...e.member, status: 'alive' };
    return { rebroadcast: true, event: { change: 'update', member: e.member } };
  }

  /**
   * A leave intent. `selfAlive`: we are not leaving ourselves, so a leave about us is stale and
   * must be refuted. A prune erases a failed or left member at once.
   *
   * A leave at 2^64−1 about a live (or unknown) member is ignored, a deliberate deviation from
   * Serf's handleNodeLeaveIntent: the member refutes a leave with a join intent at a newer time
   * (Serf's broadcastJoin), and no time is newer than 2^64−1 (its clock wraps to 0), so one such
   * datagram would hold the member leaving everywhere for good. A real member's own leave never
   * needs that time to end `left`: its dead{From = self} reads so (nodeLeave).
   */
  leaveIntent(
    node: string,
    ltime: bigint,
    prune: boolean,
    selfAlive: boolean,
    nowMs: number,
  ): { verdict: LeaveVerdict; event: SerfMemberEvent | null } {
    const e = this.#entries.get(node);
    const unrefutable = ltime === MAX_LTIME;
    if (e === undefined) {
      if (unrefutable) return { verdict: 'ignore', event: null };
      return { verdict: this.#remember(node, 'leave', ltime, nowMs) ? 'rebroadcast' : 'ignore', event: null };
    }
    if (ltime <= e.statusLTime) return { verdict: 'ignore', event: null };
    const status = e.member.status;
    if (unrefutable && status === 'alive') return { verdict: 'ignore', event: null };
    if (node === this.#self && selfAlive) return { verdict: 'refute', event: null };
    if (status === 'alive') {
      // Serf changes the status silently; we tell (an update), so a leaving member's partitions
      // move while it is still up.
      e.member = { ...e.member, status: 'leaving' };
      e.statusLTime = ltime;
      return { verdict: 'rebroadcast', event: { change: 'update', member: e.member } };
    }
    if (status === 'failed' || status === 'left') {
      e.statusLTime = ltime;
      if (prune) {
        this.#entries.delete(node);
        return { verdict: 'rebroadcast', event: { change: 'reap', member: e.member } };
      }
      if (status === 'left') return { verdict: 'ignore', event: null };
      // Force-leave: a failed member is declared left.
      e.member = { ...e.member, status: 'left' };
      e.sinceMs = nowMs;
      return { verdict: 'rebroadcast', event: { change: 'leave', member: e.member } };
    }
    return { verdict: 'ignore', event: null };
  }

  /** Erases failed members older than `reconnectMs` and left ones older than `tombstoneMs`. */
  reap(nowMs: number, reconnectMs: number, tombstoneMs: number, intentMs: number): SerfMemberEvent[] {
    const reaped: SerfMemberEvent[] = [];
    for (const [name, e] of this.#entries) {
      const s = e.member.status;
      if ((s === 'failed' && nowMs - e.sinceMs > reconnectMs) || (s === 'left' && nowMs - e.sinceMs > tombstoneMs)) {
        this.#entries.delete(name);
        reaped.push({ change: 'reap', member: e.member });
      }
    }
    this.intents.expire(nowMs, intentMs);
    return reaped;
  }

  /** Push/pull: every member's status time, and the names of those that left. */
  statusLTimes(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const [name, e] of this.#entries) out.set(name, e.statusLTime);
    return out;
  }

  leftNames(): string[] {
    const out: string[] = [];
    for (const [name, e] of this.#entries) if (e.member.status === 'left') out.push(name);
    return out;
  }

  #remember(node: string, kind: 'join' | 'leave', ltime: bigint, nowMs: number): boolean {
    // No member can have a longer name (memberlist's layer drops it): 4 096 such intents would
    // otherwise hold hundreds of MB for their 5 minutes.
    if (node.length > MAX_NAME_CHARS) return false;
    const { kept, evicted } = this.intents.upsert(node, { kind, ltime, atMs: nowMs });
    if (evicted) this.evictedIntents++;
    return kept;
  }
}
