/**
 * What the Serf layer's parts emit and how they reach the machine's output: the effect and timer
 * types, and the context every part is given (its configuration, the gossip machine below it,
 * the local member's name and tags, and the outbox).
 */
import type { GossipConfig } from '../gossip/config.js';
import type { Effect as GossipEffect, GossipMachine, Timer as GossipTimer } from '../gossip/machine.js';
import type { IncomingQuery } from './queries.js';
import type { SerfMemberEvent } from './serf-members.js';
import type { Tags } from './tags.js';
import type { UserEvent } from './user-events.js';

export type SerfTimer =
  | GossipTimer
  | { readonly kind: 'serfReap'; readonly token: number }
  | { readonly kind: 'queryTimeout'; readonly ltime: bigint }
  | { readonly kind: 'leaveBroadcastTimeout'; readonly token: number }
  | { readonly kind: 'coalesceFlush'; readonly token: number };

export type SerfEffect =
  | Exclude<GossipEffect, { type: 'member' | 'user' | 'remoteState' | 'timer' }>
  | { readonly type: 'timer'; readonly timer: SerfTimer; readonly atMs: number }
  | ({ readonly type: 'member' } & SerfMemberEvent)
  | { readonly type: 'event'; readonly event: UserEvent }
  | { readonly type: 'query'; readonly query: IncomingQuery }
  | { readonly type: 'queryAck'; readonly ltime: bigint; readonly from: string }
  | { readonly type: 'queryResponse'; readonly ltime: bigint; readonly from: string; readonly payload: Uint8Array }
  | { readonly type: 'queryDone'; readonly ltime: bigint }
  /** We lost a name-conflict vote (docs/protocol.md#name-conflicts): the node must shut down. */
  | { readonly type: 'nameConflictLost'; readonly responses: number; readonly matching: number };

/** What each part of the Serf layer is given by the machine that owns it. */
export interface SerfContext {
  readonly config: GossipConfig;
  readonly gossip: GossipMachine;
  readonly name: string;
  readonly random: () => number;
  /** The local member's current tags (they change with setTags). */
  tags(): Tags;
  emit(effect: SerfEffect): void;
  timer(timer: SerfTimer, atMs: number): void;
  /** Counts one input dropped for `reason`. */
  drop(reason: string): void;
}
