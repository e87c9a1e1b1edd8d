/** What `serf info` prints, from the node's public getters (Serf's agent Stats). */
import { availableParallelism, cpus } from 'node:os';
import type { GossipNode } from '../../io/gossip-node.js';
import type { EventScript } from '../event-handlers.js';

const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export function stats(node: GossipNode, scripts: readonly EventScript[] = []): Record<string, Record<string, string>> {
  const members = node.members();
  const count = (status: string) => String(members.filter((m) => m.status === status).length);
  const clocks = node.lamportTimes;
  return {
    agent: { name: node.name },
    runtime: {
      os: process.platform,
      arch: GO_ARCH[process.arch] ?? process.arch,
      version: `node${process.versions.node}`,
      max_procs: String(availableParallelism()),
      cpu_count: String(cpus().length),
    },
    serf: {
      members: String(members.length),
      failed: count('failed'),
      left: count('left'),
      health_score: String(node.healthScore),
      member_time: String(clocks.member),
      event_time: String(clocks.event),
      query_time: String(clocks.query),
      encrypted: String(node.keyring !== null),
    },
    tags: { ...node.tags },
    // Serf's Agent.Stats: "event:name" → script, so one filter per handler (the last wins).
    event_handlers: Object.fromEntries(scripts.map((s) => [`${s.filter.event}:${s.filter.name}`, s.script])),
  };
}
