export { SwimringError, type SwimringErrorCode } from './errors.js';
export * from './partition/index.js';
export { Ring, createRing, type RingEvents, type RingOptions } from './ring/ring.js';
export type { WatchTags } from './ring/tag-filter.js';
export {
  GossipNode,
  type GossipNodeEvents,
  type GossipNodeOptions,
  type JoinOptions,
  type Member,
  type QueryReply,
  type ReceivedQuery,
} from './io/gossip-node.js';
export type { SerfStatus, SerfMember } from './serf/serf-members.js';
export type { UserEvent } from './serf/serf-machine.js';
export type { QueryFilter } from './serf/query-filters.js';
export { type Tags, decodeTags, encodeTags } from './serf/tags.js';
export { PROFILES, type GossipConfig, type MemberlistConfig, type ProfileName, type SerfConfig } from './gossip/config.js';
export type { Counters } from './gossip/machine.js';
export type { StreamFailureReason } from './gossip/stream-outcome.js';
export { JoinError, type JoinFailure } from './io/join-error.js';
