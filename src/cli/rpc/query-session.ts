/**
 * The queries of one RPC client: those it starts (`query`, replies streamed back as records) and
 * those its event streams receive, which it answers with `respond`.
 */
import { INTERNAL_QUERY_PREFIX } from '../../serf/queries.js';
import type { RpcServer } from './server.js';
import { asMap, bool, bytes, str, u64 } from '../../gossip/codec/fields.js';
import { DecodeError, text, type MsgMap } from '../../gossip/codec/msgpack.js';
import type { QueryReply, ReceivedQuery } from '../../io/gossip-node.js';
import type { QueryFilter } from '../../serf/query-filters.js';
import type { GoRpcWriter } from './codec.js';
import { Errors, writeQueryRecord } from './protocol.js';

/** What the session needs of its connection. */
export interface QueryClient {
  readonly name: string;
  closed(): boolean;
  /** The connection's cancellable work (queries and key operations): bounded together, aborted on close. */
  readonly running: Set<AbortController>;
  /** A response: the header, then the body if any. */
  send(seq: bigint, error: string, body?: (w: GoRpcWriter) => void): void;
  /** A query record; false once the client is gone or dropped for not reading. */
  record(seq: bigint, body: (w: GoRpcWriter) => void): boolean;
}

export class QuerySession {
  readonly #rpc: RpcServer;
  readonly #client: QueryClient;
  /** Queries delivered to this client's streams, by the ID `respond` names. */
  readonly #pending = new Map<bigint, ReceivedQuery>();
  #nextId = 0n;

  constructor(rpc: RpcServer, client: QueryClient) {
    this.#rpc = rpc;
    this.#client = client;
  }

  /** Serf's RegisterQuery: a new ID under which `respond` answers `q`. */
  register(q: ReceivedQuery): bigint {
    const id = ++this.#nextId;
    const now = performance.now();
    for (const [key, pending] of this.#pending) {
      if (pending.deadlineMs >= now && this.#pending.size < this.#rpc.budgets.maxPendingQueries) break;
      this.#pending.delete(key);
    }
    if (q.deadlineMs >= now) this.#pending.set(id, q);
    return id;
  }

  clear(): void {
    this.#pending.clear();
  }

  async query(seq: bigint, body: MsgMap): Promise<void> {
    const client = this.#client;
    const name = str(body, 'Name');
    const payloadField = bytes(body, 'Payload');
    const filters: QueryFilter[] = [];
    const nodes = body.get('FilterNodes');
    if (nodes !== undefined && nodes !== null) {
      if (!Array.isArray(nodes)) throw new DecodeError('FilterNodes is not an array', 'field');
      const names = nodes.map((n) => {
        if (!(n instanceof Uint8Array)) throw new DecodeError('a FilterNodes entry is not a string', 'field');
        return text(n);
      });
      if (names.length > 0) filters.push({ type: 'node', names });
    }
    const tags = body.get('FilterTags');
    if (tags !== undefined && tags !== null) {
      for (const [tag, expr] of asMap(tags, 'FilterTags')) {
        if (!(expr instanceof Uint8Array)) throw new DecodeError('a FilterTags value is not a string', 'field');
        filters.push({ type: 'tag', tag, expr: text(expr) });
      }
    }
    const requestAck = bool(body, 'RequestAck');
    const relayFactor = Number(u64(body, 'RelayFactor'));
    const timeoutNs = body.get('Timeout');
    if (timeoutNs !== undefined && timeoutNs !== null && typeof timeoutNs !== 'number' && typeof timeoutNs !== 'bigint')
      throw new DecodeError('Timeout is not an integer', 'field');
    const ns = timeoutNs === undefined || timeoutNs === null ? 0 : Number(timeoutNs);
    // Serf's Agent.Query refuses its internal prefix, except `_serf_ping` without a payload (reachability).
    if (name.startsWith(INTERNAL_QUERY_PREFIX) && (name !== `${INTERNAL_QUERY_PREFIX}ping` || payloadField !== null)) {
      return client.send(seq, `Queries cannot contain the '${INTERNAL_QUERY_PREFIX}' prefix`);
    }
    if (client.running.size >= this.#rpc.budgets.maxRunningQueries)
      return client.send(seq, `Too many queries running on this connection (at most ${this.#rpc.budgets.maxRunningQueries})`);
    const controller = new AbortController();
    let replies: AsyncGenerator<QueryReply, void, undefined>;
    let first: Promise<IteratorResult<QueryReply, void>>;
    try {
      replies = this.#rpc.node.query(name, payloadField ?? new Uint8Array(0), {
        filters,
        requestAck,
        relayFactor,
        ...(ns > 0 ? { timeoutMs: Math.max(1, Math.ceil(ns / 1e6)) } : {}),
        signal: controller.signal,
      });
      // The generator checks its arguments and starts the query on its first step.
      first = replies.next();
    } catch (err) {
      return client.send(seq, message(err));
    }
    let outcome: { value: IteratorResult<QueryReply, void> } | { error: unknown } | null = null;
    first.then(
      (value) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    const settled = outcome as { value: IteratorResult<QueryReply, void> } | { error: unknown } | null;
    if (settled !== null && 'error' in settled) return client.send(seq, message(settled.error));
    client.send(seq, '');
    client.running.add(controller);
    if (client.closed()) controller.abort(); // the client left while the query started
    void (async () => {
      try {
        let step = settled ?? { value: await first };
        while (!client.closed() && 'value' in step && !step.value.done) {
          if (!client.record(seq, (w) => writeQueryRecord(w, step.value.value as QueryReply))) return;
          step = { value: await replies.next() };
        }
        client.record(seq, (w) => writeQueryRecord(w, null));
      } catch (err) {
        if (!client.closed()) this.#rpc.log.warn({ err, client: client.name, query: name }, 'RPC query stream failed');
      } finally {
        client.running.delete(controller);
        controller.abort();
        void replies.return();
      }
    })();
  }

  respond(seq: bigint, body: MsgMap): void {
    const id = u64(body, 'ID');
    const payload = bytes(body, 'Payload') ?? new Uint8Array(0);
    const q = this.#pending.get(id);
    if (q === undefined || performance.now() > q.deadlineMs) {
      this.#pending.delete(id);
      return this.#client.send(seq, Errors.invalidQueryID);
    }
    let error = '';
    try {
      if (!q.respond(payload)) error = performance.now() > q.deadlineMs ? 'response is past the deadline' : 'response already sent';
    } catch (err) {
      error = message(err);
    }
    this.#client.send(seq, error);
  }
}

/** An error's message, as a response's Error carries it. */
export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
