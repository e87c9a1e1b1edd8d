/**
 * What the gossip machine answers with: its effects, the timers it asks for, and the counters it
 * keeps; and what each of its parts (probe round, dissemination, state rules) is given. Timers
 * are data carrying a token or a sequence number; a timer that is no longer current does nothing
 * when it fires, so nothing is ever cancelled.
 */
import type { Address } from './address.js';
import type { GossipConfig } from './config.js';
import type { MemberTable, MemberView } from './members.js';
import type { Outbox } from './outbox.js';
import type { TimerTokens } from './timer-tokens.js';

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

/** The timers told apart by a token: only the latest token of each kind is current. */
export type TokenTimerKind = Extract<Timer, { token: number }>['kind'];

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
  /** A member claims a name we know at another address (docs/protocol.md#name-conflicts). */
  | { readonly type: 'conflict'; readonly known: MemberView; readonly claimed: Address }
  /** A user message (Serf's layer lives on these). */
  | { readonly type: 'user'; readonly payload: Uint8Array }
  /** A remote node's push/pull user state (Serf's layer); `join`: it answers our own join. */
  | { readonly type: 'remoteState'; readonly state: Uint8Array; readonly join: boolean }
  /** Our graceful-leave broadcast has gone out as many times as it will. */
  | { readonly type: 'left' };

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

/** What every part of the gossip machine shares with the machine that owns it. */
export interface PartContext {
  readonly config: GossipConfig;
  readonly members: MemberTable;
  /** Our own slot in the member table, and our name. */
  readonly self: number;
  readonly name: string;
  readonly random: () => number;
  readonly counters: Counters;
  readonly outbox: Outbox<Effect>;
  readonly tokens: TimerTokens<TokenTimerKind>;
}
