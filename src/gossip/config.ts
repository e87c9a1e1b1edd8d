/**
 * Gossip parameters, grouped by the layer whose Go configuration each one mirrors: memberlist's
 * (`MemberlistConfig`: probing, suspicion, dissemination, push/pull, streams) and Serf's
 * (`SerfConfig`: reconnect and reaping, intents, user events, queries, leave). The user still
 * sets them all in one place, `GossipNode.create`'s `gossip` option, as one `GossipConfig`.
 * Profiles carry memberlist's DefaultLANConfig / WAN / Local numbers as a Serf agent sets them,
 * and Serf's DefaultConfig but for a shorter reconnect interval
 * (docs/protocol.md#timers-and-parameters), so timings compare with Serf on equal terms.
 *
 * `SerfConfig` is declared here, beside memberlist's settings, rather than in src/serf: a layer
 * imports only the layers below it (src/gossip imports nothing above it:
 * test/architecture.test.ts), and the combined type, the profiles and `resolveGossipConfig` are
 * needed by every layer from the gossip layer up. The gossip layer itself carries out Serf's
 * reconnect (`reconnectWindowMs`, `reconnectIntervalMs`: `GossipMachine`'s reconnect timer,
 * `ProbeRound`'s reaping), and the I/O layer resolves the whole configuration; the rest of
 * `SerfConfig` is read by src/serf.
 */
import { invalidOption } from '../errors.js';

/** memberlist's settings (memberlist 0.2.2's Config), plus swimring's bounds on what it holds. */
export interface MemberlistConfig {
  /** One probe per interval (× the local health score + 1): memberlist's ProbeInterval. */
  probeIntervalMs: number;
  /** Wait for a direct ack before indirect probes; at most probeIntervalMs: memberlist's ProbeTimeout. */
  probeTimeoutMs: number;
  /** Helpers asked to probe for us: memberlist's IndirectChecks. */
  indirectChecks: number;
  /** Each broadcast is sent this × ceil(log10(n + 1)) times: memberlist's RetransmitMult. */
  retransmitMult: number;
  /** Suspicion min = this × max(1, log10 n) × probe interval: memberlist's SuspicionMult. */
  suspicionMult: number;
  /** Suspicion starts at min × this, shrinks with confirmations: memberlist's SuspicionMaxTimeoutMult. */
  suspicionMaxTimeoutMult: number;
  /** Full state sync (scaled up past 32 nodes; 0 = off): memberlist's PushPullInterval. */
  pushPullIntervalMs: number;
  /** Gossip rounds: memberlist's GossipInterval. */
  gossipIntervalMs: number;
  /** Gossip fanout: memberlist's GossipNodes. */
  gossipNodes: number;
  /** Keep gossiping to the newly dead this long: memberlist's GossipToTheDeadTime. */
  gossipToTheDeadMs: number;
  /** Local health stretches intervals up to this factor: memberlist's AwarenessMaxMultiplier. */
  awarenessMaxMultiplier: number;
  /** Stream deadline: memberlist's TCPTimeout. */
  tcpTimeoutMs: number;
  /** UDP send budget for one packet of gossip and piggy-backed broadcasts: memberlist's UDPBufferSize. */
  udpBufferBytes: number;
  /** LZW as Go's compress/lzw (streams always, datagrams when smaller): memberlist's EnableCompression. */
  compression: boolean;
  /**
   * Fall back to a TCP ping when UDP probes fail (peers with protocol ≥ 3): memberlist's
   * DisableTcpPings, inverted.
   */
  tcpPings: boolean;
  /**
   * A member failed for longer than this may come back at another address (memberlist's
   * DeadNodeReclaimTime); 0 keeps a failed name bound to its address until it is reaped.
   */
  deadNodeReclaimTimeMs: number;
  /**
   * Broadcasts waiting to be sent; beyond it the most transmitted are dropped (counted). memberlist
   * has no such setting (its queue is unbounded); the bound and its default are Serf's
   * MaxQueueDepth, which Serf applies to its own queues: swimring has one queue for memberlist's
   * and Serf's broadcasts, in the gossip layer.
   */
  broadcastQueueDepth: number;
  /**
   * Largest TCP stream message accepted. swimring's bound: memberlist has no such setting (it
   * refuses encrypted frames above 20 MiB).
   */
  maxStreamBytes: number;
  /**
   * Most members held, failed and left ones included: an alive message about one more unknown
   * member is dropped (counted as memberLimit). Bounds what forged members can make a node hold
   * (docs/budgets.md "Members"). swimring's bound: memberlist has no such setting.
   */
  maxMembers: number;
  /**
   * Lifeguard (local health awareness, dynamic suspicion with confirmations, nacks, buddy
   * system). Switch it off only to measure what it buys. memberlist always runs Lifeguard.
   */
  lifeguard: boolean;
}

/**
 * Serf's settings (Serf 0.9.4's Config; docs/protocol.md#serf-layer). src/serf reads them,
 * except Serf's reconnect (`reconnectWindowMs`, `reconnectIntervalMs`), which the gossip layer
 * runs.
 */
export interface SerfConfig {
  /**
   * How long a failed member is kept and retried with push/pull (healing partitions), then
   * reaped: Serf's ReconnectTimeout.
   */
  reconnectWindowMs: number;
  /**
   * How often each node considers a push/pull with a failed member, with probability
   * failed / alive (Serf's ReconnectInterval, 30 s in Serf); scaled past 32 nodes like
   * push/pull; 0 = never. This is what merges the halves of a healed network partition.
   */
  reconnectIntervalMs: number;
  /** How often failed and left members past their timeouts are reaped: Serf's ReapInterval. */
  reapIntervalMs: number;
  /** How long a member that left is remembered: Serf's TombstoneTimeout. */
  tombstoneTimeoutMs: number;
  /** How long an intent about a member we do not know yet is kept: Serf's RecentIntentTimeout. */
  recentIntentTimeoutMs: number;
  /** Largest user event, name plus payload: Serf's UserEventSizeLimit. */
  userEventSizeLimitBytes: number;
  /** Largest encoded query: Serf's QuerySizeLimit. */
  querySizeLimitBytes: number;
  /** Largest query response payload: Serf's QueryResponseSizeLimit. */
  queryResponseSizeLimitBytes: number;
  /** Default query timeout = gossipIntervalMs × this × ceil(log10(n + 1)): Serf's QueryTimeoutMult. */
  queryTimeoutMult: number;
  /** How long a graceful leave waits for its leave intent to go out: Serf's BroadcastTimeout. */
  broadcastTimeoutMs: number;
  /**
   * User-event coalescing (both must be > 0 to turn it on; off by default, as in Serf): events
   * sent with coalescing allowed are held, and of each name only the newest is delivered, at
   * most this long after the first one held (Serf's UserCoalescePeriod)...
   */
  userCoalescePeriodMs: number;
  /** ...or as soon as no event has arrived for this long (Serf's UserQuiescentPeriod). */
  userQuiescentPeriodMs: number;
}

/** Every gossip option, as the user sets them: memberlist's and Serf's together. */
export type GossipConfig = MemberlistConfig & SerfConfig;

export type ProfileName = 'lan' | 'wan' | 'local';

/** memberlist's DefaultLANConfig, as a Serf agent sets it. */
const MEMBERLIST_LAN: MemberlistConfig = {
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
  deadNodeReclaimTimeMs: 0,
  broadcastQueueDepth: 4096,
  maxStreamBytes: 16 * 1024 * 1024,
  maxMembers: 16_384,
  lifeguard: true,
};

/** memberlist's settings per profile: DefaultLANConfig, DefaultWANConfig, DefaultLocalConfig. */
const MEMBERLIST_PROFILES: Readonly<Record<ProfileName, Readonly<MemberlistConfig>>> = {
  lan: MEMBERLIST_LAN,
  wan: {
    ...MEMBERLIST_LAN,
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3000,
    probeIntervalMs: 5000,
    gossipNodes: 4,
    gossipIntervalMs: 500,
    gossipToTheDeadMs: 60_000,
  },
  local: {
    ...MEMBERLIST_LAN,
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

/** Serf's DefaultConfig, but for the reconnect interval (5 s here, 30 s in Serf). */
const SERF_LAN: SerfConfig = {
  reconnectWindowMs: 24 * 3600 * 1000,
  reconnectIntervalMs: 5000,
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

/** Serf's settings per profile: the same everywhere, but for a slower reconnect on WAN. */
const SERF_PROFILES: Readonly<Record<ProfileName, Readonly<SerfConfig>>> = {
  lan: SERF_LAN,
  wan: { ...SERF_LAN, reconnectIntervalMs: 10_000 },
  local: SERF_LAN,
};

export const PROFILES: Readonly<Record<ProfileName, Readonly<GossipConfig>>> = {
  lan: { ...MEMBERLIST_PROFILES.lan, ...SERF_PROFILES.lan },
  wan: { ...MEMBERLIST_PROFILES.wan, ...SERF_PROFILES.wan },
  local: { ...MEMBERLIST_PROFILES.local, ...SERF_PROFILES.local },
};

type Range = [min: number, max: number];
const MEMBERLIST_RANGES: Partial<Record<keyof MemberlistConfig, Range>> = {
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
  deadNodeReclaimTimeMs: [0, 30 * 86_400_000],
  broadcastQueueDepth: [16, 1_000_000],
  maxStreamBytes: [1024, 1 << 30],
  maxMembers: [1, 1 << 20],
};
const SERF_RANGES: Record<keyof SerfConfig, Range> = {
  reconnectWindowMs: [0, 30 * 86_400_000],
  reconnectIntervalMs: [0, 86_400_000],
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
/** The integer options' ranges; the options without one are booleans. */
const INTEGER_RANGES: Partial<Record<keyof GossipConfig, Range>> = { ...MEMBERLIST_RANGES, ...SERF_RANGES };

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
