/**
 * Serf's view of members (wire reference §10.2, §10.6): memberlist says who is reachable, the
 * join and leave intents (ordered by the member Lamport clock) say who means to be here.
 * Together they give alive / leaving / left / failed. Failed members are reaped after the
 * reconnect timeout, left ones after the tombstone timeout.
 */
import type { MemberView } from '../members.js';
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
  /** The kind of the newest intent applied. */
  lastIntent: 'join' | 'leave' | null;
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
    const base = { name: view.name, host: view.host, port: view.port, tags, protocol: versions(view.vsn, 0), delegate: versions(view.vsn, 3) };
    if (existing === undefined) {
      let status: SerfStatus = 'alive';
      let statusLTime = 0n;
      // An intent may have arrived before the member did.
      const intent = this.intents.get(view.name);
      if (intent?.kind === 'join') statusLTime = intent.ltime;
      if (intent?.kind === 'leave' && intent.ltime > statusLTime) {
        status = 'leaving';
        statusLTime = intent.ltime;
      }
      this.intents.delete(view.name);
      const entry: Entry = { member: { ...base, status }, statusLTime, sinceMs: 0, lastIntent: intent?.kind ?? null };
      this.#entries.set(view.name, entry);
      return { change: 'join', member: entry.member };
    }
    // Serf 0.9.4 makes it alive whatever it announced. A member whose newest intent is a leave
    // is leaving, though: its memberlist alive may be a late refutation that raced its leave
    // intent, and its coming dead{From = self} must then read as `left`, not `failed`. A real
    // comeback announces itself with a newer join intent, which makes it alive.
    existing.member = { ...base, status: existing.lastIntent === 'leave' ? 'leaving' : 'alive' };
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

  /** memberlist says the node is dead or left: left if it announced a leave, else failed. */
  nodeLeave(name: string, nowMs: number): SerfMemberEvent | null {
    const e = this.#entries.get(name);
    if (e === undefined) return null;
    const from = e.member.status;
    if (from !== 'leaving' && from !== 'alive') return null;
    e.member = { ...e.member, status: from === 'leaving' ? 'left' : 'failed' };
    e.sinceMs = nowMs;
    return { change: from === 'leaving' ? 'leave' : 'failed', member: e.member };
  }

  /** A join intent; returns whether to rebroadcast it. */
  joinIntent(node: string, ltime: bigint, nowMs: number): boolean {
    const e = this.#entries.get(node);
    if (e === undefined) return this.#remember(node, 'join', ltime, nowMs);
    if (ltime <= e.statusLTime) return false;
    e.statusLTime = ltime;
    e.lastIntent = 'join';
    // The leave it answers must have been older.
    if (e.member.status === 'leaving') e.member = { ...e.member, status: 'alive' };
    return true;
  }

  /**
   * A leave intent. `selfAlive`: we are not leaving ourselves, so a leave about us is stale and
   * must be refuted. A prune erases a failed or left member at once.
   */
  leaveIntent(node: string, ltime: bigint, prune: boolean, selfAlive: boolean, nowMs: number): { verdict: LeaveVerdict; event: SerfMemberEvent | null } {
    const e = this.#entries.get(node);
    if (e === undefined) return { verdict: this.#remember(node, 'leave', ltime, nowMs) ? 'rebroadcast' : 'ignore', event: null };
    if (ltime <= e.statusLTime) return { verdict: 'ignore', event: null };
    if (node === this.#self && selfAlive) return { verdict: 'refute', event: null };
    const status = e.member.status;
    if (status === 'alive') {
      e.member = { ...e.member, status: 'leaving' };
      e.statusLTime = ltime;
      e.lastIntent = 'leave';
      return { verdict: 'rebroadcast', event: null };
    }
    if (status === 'failed' || status === 'left') {
      e.statusLTime = ltime;
      e.lastIntent = 'leave';
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
    const { kept, evicted } = this.intents.upsert(node, { kind, ltime, atMs: nowMs });
    if (evicted) this.evictedIntents++;
    return kept;
  }
}
