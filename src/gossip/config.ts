/**
 * Gossip parameters. Profiles carry memberlist's DefaultLANConfig / WAN / Local numbers as a
 * Serf agent sets them (wire reference §9.1), so timings compare with Serf on equal terms.
 */
import { invalidOption } from '../errors.js';

export interface GossipConfig {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectChecks: number;
  retransmitMult: number;
  suspicionMult: number;
  suspicionMaxTimeoutMult: number;
  pushPullIntervalMs: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  gossipToTheDeadMs: number;
  awarenessMaxMultiplier: number;
  tcpTimeoutMs: number;
  /** UDP send budget for one packet of gossip and piggy-backed broadcasts. */
  udpBufferBytes: number;
  compression: boolean;
  /** Fall back to a TCP ping when UDP probes fail (peers with protocol ≥ 3). */
  tcpPings: boolean;
  /** Broadcasts waiting to be sent; beyond it the most transmitted are dropped (counted). */
  broadcastQueueDepth: number;
  /** Largest TCP stream message accepted. */
  maxStreamBytes: number;
  /**
   * Most members held, failed and left ones included: an alive message about one more unknown
   * member is dropped (counted as memberLimit). Bounds what forged members can make a node hold
   * (docs/budgets.md "Members").
   */
  maxMembers: number;
  /**
   * Lifeguard (local health awareness, dynamic suspicion with confirmations, nacks, buddy
   * system). Switch it off only to measure what it buys.
   */
  lifeguard: boolean;
  /**
   * How long a failed member is kept and retried with push/pull (healing partitions), then
   * reaped: Serf's ReconnectTimeout.
   */
  reconnectWindowMs: number;
  /**
   * How often each node considers a push/pull with a failed member, with probability
   * failed / alive (Serf's reconnect, whose interval is 30 s); scaled past 32 nodes like
   * push/pull; 0 = never. This is what merges the halves of a healed network partition.
   */
  reconnectIntervalMs: number;
  /**
   * A member failed for longer than this may come back at another address (memberlist's
   * DeadNodeReclaimTime); 0 keeps a failed name bound to its address until it is reaped.
   */
  deadNodeReclaimTimeMs: number;
  // ---- Serf layer (wire reference §10) ----
  /** How often failed and left members past their timeouts are reaped. */
  reapIntervalMs: number;
  /** How long a member that left is remembered (Serf's TombstoneTimeout). */
  tombstoneTimeoutMs: number;
  /** How long an intent about a member we do not know yet is kept. */
  recentIntentTimeoutMs: number;
  /** Largest user event, name plus payload (Serf's UserEventSizeLimit). */
  userEventSizeLimitBytes: number;
  /** Largest encoded query. */
  querySizeLimitBytes: number;
  /** Largest query response payload. */
  queryResponseSizeLimitBytes: number;
  /** Default query timeout = gossipIntervalMs × this × ceil(log10(n + 1)). */
  queryTimeoutMult: number;
  /** How long a graceful leave waits for its leave intent to go out. */
  broadcastTimeoutMs: number;
  /**
   * User-event coalescing (both must be > 0 to turn it on; off by default, as in Serf): events
   * sent with coalescing allowed are held, and of each name only the newest is delivered, at
   * most this long after the first one held...
   */
  userCoalescePeriodMs: number;
  /** ...or as soon as no event has arrived for this long. */
  userQuiescentPeriodMs: number;
}

export type ProfileName = 'lan' | 'wan' | 'local';

const LAN: GossipConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  pushPullIntervalMs: 30_000,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  awarenessMaxMultiplier: 8,
  tcpTimeoutMs: 10_000,
  udpBufferBytes: 1400,
  compression: true,
  tcpPings: true,
  broadcastQueueDepth: 4096,
  maxStreamBytes: 16 * 1024 * 1024,
  maxMembers: 16_384,
  lifeguard: true,
  reconnectWindowMs: 24 * 3600 * 1000,
  reconnectIntervalMs: 5000,
  deadNodeReclaimTimeMs: 0,
  reapIntervalMs: 15_000,
  tombstoneTimeoutMs: 24 * 3600 * 1000,
  recentIntentTimeoutMs: 5 * 60 * 1000,
  userEventSizeLimitBytes: 512,
  querySizeLimitBytes: 1024,
  queryResponseSizeLimitBytes: 1024,
  queryTimeoutMult: 16,
  broadcastTimeoutMs: 5000,
  userCoalescePeriodMs: 0,
  userQuiescentPeriodMs: 0,
};

export const PROFILES: Readonly<Record<ProfileName, Readonly<GossipConfig>>> = {
  lan: LAN,
  wan: {
    ...LAN,
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3000,
    probeIntervalMs: 5000,
    gossipNodes: 4,
    gossipIntervalMs: 500,
    gossipToTheDeadMs: 60_000,
    reconnectIntervalMs: 10_000,
  },
  local: {
    ...LAN,
    tcpTimeoutMs: 1000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    gossipIntervalMs: 100,
    gossipToTheDeadMs: 15_000,
  },
};

type Range = [min: number, max: number];
const INTEGER_RANGES: Partial<Record<keyof GossipConfig, Range>> = {
  probeIntervalMs: [1, 3_600_000],
  probeTimeoutMs: [1, 3_600_000],
  indirectChecks: [0, 64],
  retransmitMult: [1, 64],
  suspicionMult: [1, 64],
  suspicionMaxTimeoutMult: [1, 64],
  pushPullIntervalMs: [0, 86_400_000],
  gossipIntervalMs: [1, 3_600_000],
  gossipNodes: [1, 64],
  gossipToTheDeadMs: [0, 86_400_000],
  awarenessMaxMultiplier: [1, 64],
  tcpTimeoutMs: [1, 3_600_000],
  udpBufferBytes: [256, 65_000],
  broadcastQueueDepth: [16, 1_000_000],
  maxStreamBytes: [1024, 1 << 30],
  maxMembers: [1, 1 << 20],
  reconnectWindowMs: [0, 30 * 86_400_000],
  reconnectIntervalMs: [0, 86_400_000],
  deadNodeReclaimTimeMs: [0, 30 * 86_400_000],
  reapIntervalMs: [1, 86_400_000],
  tombstoneTimeoutMs: [0, 30 * 86_400_000],
  recentIntentTimeoutMs: [0, 86_400_000],
  userEventSizeLimitBytes: [16, 9 * 1024],
  querySizeLimitBytes: [64, 64 * 1024],
  queryResponseSizeLimitBytes: [64, 64 * 1024],
  queryTimeoutMult: [1, 1000],
  broadcastTimeoutMs: [0, 3_600_000],
  userCoalescePeriodMs: [0, 3_600_000],
  userQuiescentPeriodMs: [0, 3_600_000],
};

/** A profile with overrides, validated; a bad value throws ERR_INVALID_OPTION naming it. */
export function resolveGossipConfig(profile: ProfileName = 'lan', overrides: Partial<GossipConfig> = {}): GossipConfig {
  const base = PROFILES[profile];
  if (base === undefined) throw invalidOption('profile', `one of ${Object.keys(PROFILES).join(', ')}`, profile);
  const config: GossipConfig = { ...base };
  for (const [key, value] of Object.entries(overrides) as [keyof GossipConfig, unknown][]) {
    if (value === undefined) continue;
    if (!(key in base)) throw invalidOption(key, 'a known gossip option', value);
    const range = INTEGER_RANGES[key];
    if (range) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
        throw invalidOption(key, `an integer in [${range[0]}, ${range[1]}]`, value);
      }
    } else if (typeof value !== 'boolean') {
      throw invalidOption(key, 'a boolean', value);
    }
    (config as unknown as Record<string, unknown>)[key] = value;
  }
  if (config.probeTimeoutMs > config.probeIntervalMs) {
    throw invalidOption('probeTimeoutMs', `at most probeIntervalMs (${config.probeIntervalMs})`, config.probeTimeoutMs);
  }
  return config;
}

/** Retransmissions of one broadcast: RetransmitMult × ceil(log10(n + 1)). */
export function retransmitLimit(config: GossipConfig, nodes: number): number {
  return config.retransmitMult * Math.ceil(Math.log10(nodes + 1));
}

/** Push/pull interval grows past 32 nodes: × (ceil(log2(n) − log2(32)) + 1). */
export function pushPullIntervalMs(config: GossipConfig, nodes: number): number {
  return config.pushPullIntervalMs * pushPullScale(nodes);
}

/** The reconnect interval, scaled as push/pull is: full-state syncs stay rare in large clusters. */
export function reconnectIntervalMs(config: GossipConfig, nodes: number): number {
  return config.reconnectIntervalMs * pushPullScale(nodes);
}

function pushPullScale(nodes: number): number {
  return nodes <= 32 ? 1 : Math.ceil(Math.log2(nodes) - Math.log2(32)) + 1;
}
