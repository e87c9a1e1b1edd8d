/** The agent's GET /metrics: Prometheus text exposition of membership, ring and protocol counters. */
import type { GossipNode } from '../io/gossip-node.js';
import type { Ring } from '../ring/ring.js';
import type { HttpStats } from './agent-http.js';

export function metricsText(node: GossipNode, ring: Ring | undefined, http?: HttpStats): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
      lines.push(`${name}${l.length ? `{${l.join(',')}}` : ''} ${value}`);
    }
  };
  const byStatus = new Map<string, number>([
    ['alive', 0],
    ['leaving', 0],
    ['left', 0],
    ['failed', 0],
  ]);
  for (const m of node.members()) byStatus.set(m.status, (byStatus.get(m.status) ?? 0) + 1);
  metric(
    'swimring_members',
    'gauge',
    'Members known, by Serf status.',
    [...byStatus].map(([status, n]) => [{ status }, n]),
  );
  const c = node.counters;
  metric('swimring_health_score', 'gauge', 'Lifeguard local health score (0 is healthy).', [[{}, node.healthScore]]);
  metric('swimring_packets_sent_total', 'counter', 'UDP datagrams sent.', [[{}, c.packetsOut]]);
  metric('swimring_packets_received_total', 'counter', 'UDP datagrams received.', [[{}, c.packetsIn]]);
  metric('swimring_bytes_sent_total', 'counter', 'UDP payload bytes sent.', [[{}, c.bytesOut]]);
  metric('swimring_bytes_received_total', 'counter', 'UDP payload bytes received.', [[{}, c.bytesIn]]);
  metric('swimring_streams_opened_total', 'counter', 'TCP streams opened (push/pull, fallback pings, large messages).', [
    [{}, c.streamsOut],
  ]);
  metric('swimring_probes_total', 'counter', 'Failure-detector probes.', [[{}, c.probes]]);
  metric('swimring_probe_failures_total', 'counter', 'Probes that got no ack.', [[{}, c.probeFailures]]);
  metric('swimring_suspicions_total', 'counter', 'Members suspected.', [[{}, c.suspicions]]);
  metric('swimring_refutations_total', 'counter', 'Accusations about us refuted.', [[{}, c.refutations]]);
  metric('swimring_corrections_total', 'counter', 'Verdicts and refutations sent straight to a member holding older news.', [
    [{}, c.corrections],
  ]);
  metric(
    'swimring_dropped_total',
    'counter',
    'Input dropped, by reason.',
    Object.entries(c.drops).map(([reason, n]) => [{ reason }, n]),
  );
  if (http) {
    metric('swimring_http_connections', 'gauge', 'HTTP connections open.', [[{}, http.connections]]);
    metric('swimring_http_body_bytes_buffered', 'gauge', 'Request body bytes buffered across all HTTP requests.', [
      [{}, http.bufferedBodyBytes],
    ]);
    metric('swimring_http_queries_running', 'gauge', 'Queries running through HTTP.', [[{}, http.runningQueries]]);
    metric(
      'swimring_http_drops_total',
      'counter',
      'HTTP connections and requests refused, by reason.',
      Object.entries(http.drops).map(([reason, n]) => [{ reason }, n]),
    );
  }
  if (ring) {
    const t = ring.table;
    metric('swimring_ring_members', 'gauge', 'Members that own partitions.', [[{}, t.members.length]]);
    metric('swimring_partitions', 'gauge', 'Partitions in the ring.', [[{}, t.partitions]]);
    const held = new Map<number, number>();
    for (const r of ring.holdings().values()) held.set(r, (held.get(r) ?? 0) + 1);
    metric(
      'swimring_partitions_held',
      'gauge',
      'Partitions this member holds, by replica index (0 = primary).',
      [...held].sort(([a], [b]) => a - b).map(([r, n]) => [{ replica: String(r) }, n]),
    );
  }
  return `${lines.join('\n')}\n`;
}
