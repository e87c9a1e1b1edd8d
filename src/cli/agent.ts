/**
 * swimring agent: a gossip node. One JSON line per membership change on stdout, pino logs on
 * stderr, optional HTTP (GET /members, GET /health). SIGINT or SIGTERM leaves gracefully; a
 * second signal exits at once.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import type { ProfileName } from '../gossip/config.js';
import { DEFAULT_RETRY_INTERVAL_MS, GossipNode, type GossipNodeOptions, parseHostPort } from '../io/gossip-node.js';
import { KEY_HASHES, type KeyHash, PLACEMENTS, type Placement } from '../partition/options.js';
import { Ring } from '../ring/ring.js';
import { agentHttpServer, memberJson, payloadJson } from './agent-http.js';
import { configFileArgs } from './config-file.js';
import { parseDuration } from './duration.js';
import { eventHandlersFromFlags } from './event-handlers.js';
import { httpToken, isLoopback, parseHttpAddress } from './http-flags.js';
import { rpcFlags, startAgentRpc } from './rpc/agent-rpc.js';
import { createAgentLogger } from './rpc/log-hub.js';
import type { RpcServer } from './rpc/server.js';
import { UsageError, integerFlag } from './usage.js';

export const agentHelp = `Usage: swimring agent --name NAME [options]

Runs a gossip node (SWIM + Lifeguard and the Serf layer, on Serf 0.9.4's wire protocol). Prints
one JSON line per event on stdout (see Output below); logs go to stderr. SIGINT or SIGTERM leaves
gracefully; a second signal exits at once.

Options:
  --name NAME          unique node name (required)
  --bind HOST:PORT     address to listen on, UDP and TCP (default 0.0.0.0:7946)
  --advertise H:P      address peers should use (default: the bind address, or a local
                       IPv4 when bound to 0.0.0.0)
  --join HOST[:PORT]   a seed to join at start, as serf agent -join; repeatable. Port 7946
                       if left out; a DNS name joins every address it resolves to (A and
                       AAAA). If no seed answers, the agent exits 1 saying why for each
                       (refused, timeout, encryption, protocol, name conflict, ...). A ring
                       member owns nothing until a seed answers
  --retry-join HOST[:PORT]  a seed joined in the background, as serf agent -retry-join;
                       repeatable. A round tries them all; until one answers, a round every
                       --retry-interval, at most --retry-max rounds
  --retry-interval D   time between --retry-join rounds (default 30s)
  --retry-max N        --retry-join rounds at most, then exit 1 (default 0: retry forever)
  --dns-server IP[:PORT]  resolve seed names with this DNS server instead of the system's
                       resolver (e.g. Consul's 127.0.0.1:8600); repeatable
  --profile NAME       lan (default), wan or local: memberlist's timing profiles
  --encrypt KEY        base64 AES key (16, 24 or 32 bytes, as 'serf keygen' makes)
  --tag KEY=VALUE      a Serf tag; repeatable (at most 512 bytes of tags in all)
  --http [HOST:]PORT   serve HTTP (see HTTP below; what 'swimring members', 'swimring event'
                       and 'swimring query' talk to); PORT or :PORT listens on 127.0.0.1
                       only, another host must be named
  --http-token TOKEN   POST /event, /query, /ready, /failed and /proxy/* then need
                       'Authorization: Bearer TOKEN' (reads stay open)
  --http-token-file F  the same, the token read from file F (safer than the command line)
  --reconnect-timeout D  how long a failed member is kept and retried (default 24h)
  --tombstone-timeout D  how long a member that left is remembered (default 24h)
  --dead-node-reclaim-time D  a member failed this long may rejoin from another
                       address (default 0: not until it is reaped)
  --replay             deliver user events sent before we joined
  --event-handler [FILTER=]SCRIPT  run SCRIPT with /bin/sh for events, as serf agent's
                       -event-handler: FILTER is member-join, member-leave, member-failed,
                       member-update, member-reap, user, user:NAME, query, query:NAME, * or a
                       comma-separated list (none: every event); repeatable. Serf's SERF_*
                       environment and stdin; a query's answer is the script's output. One
                       at a time, in order; e.g. --event-handler 'query:ping=echo pong'
  --event-handler-timeout D  kill a member or user event's handler after D (default 5m; a
                       query's handler is killed at the query's deadline)
  --rpc-addr H:P       Serf's RPC protocol (what the 'serf' CLI and Serf's RPC clients
                       speak: serf members -rpc-addr=H:P, ...); default 127.0.0.1:7373, as
                       serf agent; if that default is taken the agent warns and runs without
                       RPC. '' or off turns it off
  --rpc-auth KEY       RPC clients must authenticate with KEY (serf -rpc-auth=KEY)
  --log-level LEVEL    fatal, error, warn, info (default), debug, trace or silent
  --config-file F      read options from a file in serf agent's JSON configuration format;
                       repeatable
  --config-dir D       the same for every *.json file in D, in lexical order. Files apply in
                       order and the command line last: its flags override the files' (and
                       repeatable flags add up)
  -h, --help           show this help

Ring (on with --partitions; prints acquire/release/promote/demote lines for this member):
  --partitions P       fixed number of partitions (turns the ring on)
  --replicas R         owners per partition (default 1)
  --hash NAME          fnv1a32 (default) or fnv1a64 (routes like Go libring)
  --placement NAME     jump (default, libring's) or rendezvous (moves the least data)
  --zone-tag K         replicas go to distinct zones, read from tag K (implies rendezvous;
                       a member without the tag is a zone of its own)
  --weight-tag K       partitions shared in proportion to the weight in tag K, a decimal in
                       (0, 1e6] (implies rendezvous; missing or invalid: 1)
  --watch-tag K=REGEXP only members whose tag K matches own partitions; repeatable (all must match)
  --handoff            keep serving a lost partition until its new holder is ready; a gained
                       partition is ready after POST /ready?partition=P (or --ready-after)
  --ready-after D      with --handoff: consider a gained partition loaded after this long

Output: one JSON line per event on stdout, {"event":TYPE, ...}, TYPE one of:
  started        {name, address, http?, rpc?}: listening (HTTP and RPC too, when on)
  joined         {seeds, answered}: a --join or --retry-join round reached a seed
  member-join, member-update, member-leave, member-failed, member-reap
                 {name, address, status, incarnation, tags, protocol}: a member changed
  user-event     {name, ltime, coalesce, payload | payloadBase64}: a Serf user event
  query          {name, from, ltime, id, payload | payloadBase64}: a Serf query arrived
  name-conflict  {name, responses, matching}: the cluster gave our name to another node;
                 the agent exits 1
  left           {name}: the graceful leave finished
  acquire        {partition, replica, from}: this member now holds the partition (ring)
  release        {partition, replica, to}: it no longer does (ring)
  promote, demote  {partition, replica, previousReplica}: same partition, another replica
                 index (0 is the primary) (ring)
  Payloads are text when they are UTF-8, else base64 under payloadBase64.

HTTP (with --http):
  GET /                the dashboard (a page, and the GET /dashboard.js and /dashboard.css it
                       loads; HEAD too)
  GET /events          server-sent events (text/event-stream): the member, user-event and ring
                       lines above, each with a time, and hello, health, dropped and closing
  GET /members         the members as JSON (?since=true adds when each entered its status)
  GET /health          {status, name, alive, healthScore}
  GET /metrics         Prometheus text: gossip, ring and HTTP counters
  POST /event?name=N   send a user event, the body its payload (?coalesce=false)
  POST /query?name=N   run a query, the body its payload (?node=, ?tag=K=RE, ?timeout=,
                       ?ack=false, ?relay=); JSON lines: each ack and response, then a summary
  With the ring:
  GET /ring            the partition table: owners of every partition, members, settings
  GET /route?key=K     the partition of key K, its owners and those ready
  POST /ready?partition=P, POST /failed?partition=P  with --handoff: a gained partition is
                       loaded, or failed to load
  ANY /proxy/KEY/...   forward the request to /... under the URL in the http tag of the
                       partition's owners, ready ones first, failing over to the next

Exit codes: 0 after a graceful leave; 1 a failure (no --join seed answered, --retry-max rounds
used up, a name conflict, a failed leave); 2 bad arguments or an address that cannot be bound;
130 a second signal.`;

export async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    // The files' flags first: the command line's come later and win (Serf merges it last).
    args: [...configFileArgs(argv), ...argv],
    strict: true,
    allowPositionals: false,
    options: {
      name: { type: 'string' },
      bind: { type: 'string', default: '0.0.0.0:7946' },
      advertise: { type: 'string' },
      join: { type: 'string', multiple: true, default: [] },
      'retry-join': { type: 'string', multiple: true, default: [] },
      'retry-interval': { type: 'string' },
      'retry-max': { type: 'string' },
      'dns-server': { type: 'string', multiple: true, default: [] },
      profile: { type: 'string', default: 'lan' },
      encrypt: { type: 'string' },
      tag: { type: 'string', multiple: true, default: [] },
      http: { type: 'string' },
      'http-token': { type: 'string' },
      'http-token-file': { type: 'string' },
      'reconnect-timeout': { type: 'string' },
      'tombstone-timeout': { type: 'string' },
      'dead-node-reclaim-time': { type: 'string' },
      replay: { type: 'boolean', default: false },
      'event-handler': { type: 'string', multiple: true, default: [] },
      'event-handler-timeout': { type: 'string' },
      partitions: { type: 'string' },
      replicas: { type: 'string' },
      hash: { type: 'string' },
      placement: { type: 'string' },
      'zone-tag': { type: 'string' },
      'weight-tag': { type: 'string' },
      'watch-tag': { type: 'string', multiple: true, default: [] },
      handoff: { type: 'boolean', default: false },
      'ready-after': { type: 'string' },
      'rpc-addr': { type: 'string' },
      'rpc-auth': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'config-file': { type: 'string', multiple: true, default: [] },
      'config-dir': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${agentHelp}\n`);
    return;
  }
  if (values.name === undefined) throw new UsageError('--name is required');
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(values['log-level'])) throw new UsageError(`--log-level must be one of ${levels.join(', ')}`);
  // stderr at --log-level; every line also to the RPC monitors (src/cli/rpc/log-hub.ts).
  const { logger, logs } = createAgentLogger(values['log-level'] as LevelWithSilent);
  const rpcAddr = rpcFlags(values['rpc-addr'], values['rpc-auth']);
  const http = values.http === undefined ? undefined : parseHttpAddress(values.http);
  const token = httpToken(values['http-token'], values['http-token-file']);
  if (token !== undefined && http === undefined) throw new UsageError('--http-token needs --http');
  // Checked before anything binds: a bad address must not leave a half-started agent.
  if (values.advertise !== undefined) {
    const advertise = parseHostPort('advertise', values.advertise);
    if (isIP(advertise.host) === 0)
      throw new UsageError(`--advertise must be an IP address and port, got ${JSON.stringify(values.advertise)}`);
  }
  for (const seed of values.join) parseHostPort('join', seed, 7946);
  for (const seed of values['retry-join']) parseHostPort('retry-join', seed, 7946);
  if (values['retry-join'].length === 0 && (values['retry-interval'] !== undefined || values['retry-max'] !== undefined))
    throw new UsageError('--retry-interval and --retry-max need --retry-join');
  const retry = {
    intervalMs:
      values['retry-interval'] === undefined ? DEFAULT_RETRY_INTERVAL_MS : parseDuration('retry-interval', values['retry-interval']),
    max: integerFlag('retry-max', values['retry-max'], 0),
  };
  if (retry.intervalMs < 1) throw new UsageError(`--retry-interval must be positive, got ${JSON.stringify(values['retry-interval'])}`);
  if (retry.max < 0) throw new UsageError(`--retry-max must be 0 or more, got ${JSON.stringify(values['retry-max'])}`);
  const seeded = values.join.length > 0 || values['retry-join'].length > 0;
  // Checked before anything binds, too; attached to the node once it exists.
  const eventHandlers = eventHandlersFromFlags(values['event-handler'], values['event-handler-timeout'], logger);
  // Built with fromEntries, so a key named __proto__ is a key like any other (the last one wins).
  const tags: Record<string, string> = Object.fromEntries(
    values.tag.map((tag) => {
      const eq = tag.indexOf('=');
      if (eq <= 0) throw new UsageError(`--tag must be KEY=VALUE, got ${JSON.stringify(tag)}`);
      return [tag.slice(0, eq), tag.slice(eq + 1)];
    }),
  );
  const watchTags: Record<string, RegExp> = Object.fromEntries(
    values['watch-tag'].map((w) => {
      const eq = w.indexOf('=');
      if (eq <= 0) throw new UsageError(`--watch-tag must be KEY=REGEXP, got ${JSON.stringify(w)}`);
      try {
        return [w.slice(0, eq), new RegExp(w.slice(eq + 1))];
      } catch {
        throw new UsageError(`--watch-tag has an invalid regular expression: ${JSON.stringify(w.slice(eq + 1))}`);
      }
    }),
  );
  const ringFlags = ['replicas', 'hash', 'placement', 'zone-tag', 'weight-tag'] as const;
  if (
    values.partitions === undefined &&
    (ringFlags.some((f) => values[f] !== undefined) || values['watch-tag'].length > 0 || values.handoff)
  ) {
    throw new UsageError(
      '--replicas, --hash, --placement, --zone-tag, --weight-tag, --watch-tag and --handoff need --partitions (the ring)',
    );
  }
  if (values['ready-after'] !== undefined && !values.handoff) throw new UsageError('--ready-after needs --handoff');
  const readyAfterMs = values['ready-after'] === undefined ? undefined : parseDuration('ready-after', values['ready-after']);
  if (values.hash !== undefined && !KEY_HASHES.includes(values.hash as KeyHash))
    throw new UsageError(`--hash must be one of ${KEY_HASHES.join(', ')}, got ${JSON.stringify(values.hash)}`);
  if (values.placement !== undefined && !PLACEMENTS.includes(values.placement as Placement))
    throw new UsageError(`--placement must be one of ${PLACEMENTS.join(', ')}, got ${JSON.stringify(values.placement)}`);
  const nodeOptions: GossipNodeOptions = {
    name: values.name,
    bind: values.bind,
    ...(values.advertise ? { advertise: values.advertise } : {}),
    profile: values.profile as ProfileName,
    ...(values.encrypt ? { encrypt: values.encrypt } : {}),
    tags,
    replayEvents: values.replay,
    ...(values['dns-server'].length > 0 ? { dnsServers: values['dns-server'] } : {}),
    gossip: {
      ...(values['reconnect-timeout'] ? { reconnectWindowMs: parseDuration('reconnect-timeout', values['reconnect-timeout']) } : {}),
      ...(values['tombstone-timeout'] ? { tombstoneTimeoutMs: parseDuration('tombstone-timeout', values['tombstone-timeout']) } : {}),
      ...(values['dead-node-reclaim-time']
        ? { deadNodeReclaimTimeMs: parseDuration('dead-node-reclaim-time', values['dead-node-reclaim-time']) }
        : {}),
    },
    logger,
  };
  const ring =
    values.partitions === undefined
      ? undefined
      : await Ring.create({
          ...nodeOptions,
          partitions: integerFlag('partitions', values.partitions),
          ...(values.replicas !== undefined ? { replicas: integerFlag('replicas', values.replicas) } : {}),
          ...(values.hash !== undefined ? { hash: values.hash as KeyHash } : {}),
          ...(values.placement !== undefined ? { placement: values.placement as Placement } : {}),
          ...(values['zone-tag'] !== undefined ? { zoneTag: values['zone-tag'] } : {}),
          ...(values['weight-tag'] !== undefined ? { weightTag: values['weight-tag'] } : {}),
          watchTags,
          handoff: values.handoff,
          // With seeds it owns nothing until its join completes (ring.join below).
          joining: seeded,
        });
  const node = ring ? ring.node : await GossipNode.create(nodeOptions);
  // A member given seeds that never got in has nothing to leave: it closes without a leave
  // broadcast and prints no `left`. It got in once a join succeeded or someone joined it.
  let inCluster = !seeded;
  node.once('member-join', () => (inCluster = true));
  // --event-handler: the node's events to the handler scripts (src/cli/event-handlers.ts).
  eventHandlers?.attach(node);
  const print = (event: string, fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
  for (const event of ['member-join', 'member-update', 'member-leave', 'member-failed', 'member-reap'] as const)
    node.on(event, (m) => print(event, memberJson(m)));
  node.on('event', (e) => print('user-event', { name: e.name, ltime: String(e.ltime), coalesce: e.coalesce, ...payloadJson(e.payload) }));
  node.on('query', (q) => print('query', { name: q.name, from: q.from, ltime: String(q.ltime), id: q.id, ...payloadJson(q.payload) }));
  node.on('name-conflict', (vote) => {
    print('name-conflict', { name: values.name, ...vote });
    process.exit(1);
  });
  if (ring) {
    // Lines are written in batches (one write per 64 KiB, or per turn of the event loop); a
    // reader slower than the ring is waited for, so memory does not grow with it.
    let batch = '';
    let flushing = false;
    const flush = () => {
      flushing = false;
      if (batch !== '') process.stdout.write(batch);
      batch = '';
    };
    void (async () => {
      for await (const { type, ...change } of ring.events()) {
        batch += `${JSON.stringify({ event: type, ...change })}\n`;
        if (batch.length >= 65_536) flush();
        else if (!flushing) {
          flushing = true;
          setImmediate(flush);
        }
        if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
        if (type === 'acquire' && readyAfterMs !== undefined) {
          const t = setTimeout(
            () => ring.table.membersForPartition(change.partition).includes(values.name!) && ring.ready(change.partition),
            readyAfterMs,
          );
          t.unref();
        }
      }
    })();
  }
  let server: Server | undefined;
  if (http) {
    server = agentHttpServer(node, ring, { ...(token === undefined ? {} : { token }), logger });
    try {
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(http.port, http.host, () => {
          server!.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await (ring ?? node).close();
      throw new UsageError(`--http ${http.host}:${http.port} failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    server.on('error', (err) => logger.error({ err }, 'HTTP server error'));
    if (!isLoopback(http.host) && token === undefined) {
      logger.warn(
        { http: `${http.host}:${http.port}` },
        '--http listens beyond loopback with no --http-token: anyone who can reach it can send events, run queries and use the proxy',
      );
    }
  }
  // --rpc-addr: Serf's RPC protocol (src/cli/rpc/); its `leave` is the graceful leave below.
  let rpc: RpcServer | null = null;
  if (rpcAddr) {
    try {
      rpc = await startAgentRpc(rpcAddr, {
        node,
        logger,
        logs,
        join: (seeds, o) => (ring ?? node).join(seeds, o),
        leave: () => stopping ?? stop('RPC leave'),
        ...(eventHandlers ? { eventScripts: eventHandlers.scripts } : {}),
      });
    } catch (err) {
      server?.close();
      await (ring ?? node).close();
      throw err;
    }
  }
  const httpAddress = server?.address();
  const httpField = httpAddress && typeof httpAddress === 'object' ? { http: `${httpAddress.address}:${httpAddress.port}` } : {};
  print('started', {
    name: values.name,
    address: `${node.address.host}:${node.address.port}`,
    ...httpField,
    ...(rpc ? { rpc: rpc.address } : {}),
  });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    const closeEndpoints = () => {
      server?.close();
      server?.closeAllConnections();
      void rpc?.close();
    };
    if (!inCluster) {
      logger.info({ signal }, 'stopping: never joined a cluster, so nothing to leave');
      stopping = (ring ?? node).close().then(closeEndpoints);
      return stopping;
    }
    logger.info({ signal }, 'leaving the cluster');
    stopping = (ring ?? node)
      .leave()
      .then(() => {
        print('left', { name: values.name });
        closeEndpoints();
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'leave failed');
        process.exitCode = 1;
      });
    return stopping;
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const joined = (seeds: string[], answered: number) => {
    inCluster = true;
    print('joined', { seeds, answered });
  };
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  const retrySeeds = values['retry-join'];
  if (values.join.length > 0) {
    try {
      // serf agent -join: one round; no seed answering ends the agent, saying why (exit 1).
      joined(values.join, await (ring ?? node).join(values.join, { signal: controller.signal }));
    } catch (err) {
      if (controller.signal.aborted) return;
      await (ring ?? node).close();
      throw err;
    }
  }
  if (retrySeeds.length > 0) {
    // serf agent -retry-join: in the background, a round every --retry-interval; after
    // --retry-max rounds the agent exits 1, as Serf's "max join retry exhausted".
    (ring ?? node)
      .join(retrySeeds, { signal: controller.signal, retry })
      .then((answered) => joined(retrySeeds, answered))
      .catch(async (err: unknown) => {
        if (controller.signal.aborted) return;
        logger.error({ err }, 'retry-join: giving up');
        await (ring ?? node).close();
        process.stderr.write(`swimring agent: ${(err as Error).message}\n`);
        process.exit(1);
      });
  }
}
