export { SwimringError, type SwimringErrorCode } from './errors.js';
export * from './partition/index.js';
export { GossipNode, type GossipNodeEvents, type GossipNodeOptions, type Member } from './io/gossip-node.js';
export { type Tags, decodeTags, encodeTags } from './gossip/serf/tags.js';
export { PROFILES, type GossipConfig, type ProfileName } from './gossip/config.js';
export type { MemberStatus, MemberView } from './gossip/members.js';
export type { Counters } from './gossip/machine.js';
