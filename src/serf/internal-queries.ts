/**
 * Serf's internal queries (internal_query.go and keymanager.go): `_serf_ping` (the ack is the
 * answer), `_serf_conflict` (which address do you know for this name? and our own vote when
 * another node claims our name), and the key operations `_serf_install-key`, `use-key`,
 * `remove-key`, `list-keys`, applied to the keyring the I/O layer owns.
 */
import { bytesEqual } from '../gossip/address.js';
import { DecodeError } from '../gossip/codec/msgpack.js';
import type { SerfContext } from './effects.js';
import {
  type ConflictMember,
  SerfStatusCode,
  decodeConflictResponse,
  decodeKeyRequest,
  encodeConflictResponse,
  encodeKeyResponse,
  type KeyResponse,
} from './internal-messages.js';
import { SerfType, encodeQueryResponse, type Query } from './messages.js';
import { INTERNAL_QUERY_PREFIX, MAX_RUNNING_QUERIES, type IncomingQuery, type Queries } from './queries.js';
import type { SerfMembers } from './serf-members.js';

/** Key management as Serf's internal queries drive it; the I/O layer owns the real keyring. */
export interface KeyringControl {
  install(key: Uint8Array): void;
  use(key: Uint8Array): void;
  remove(key: Uint8Array): void;
  /** Keys as base64, and the primary key as base64. */
  list(): { keys: string[]; primary: string };
}

export class InternalQueries {
  readonly #ctx: SerfContext;
  readonly #members: SerfMembers;
  readonly #keyring: KeyringControl | undefined;
  /** The queries these are answered and asked through (they hand internal queries to `handle`). */
  readonly #queries: Queries;
  #voting = false;

  constructor(ctx: SerfContext, members: SerfMembers, keyring: KeyringControl | undefined, queries: Queries) {
    this.#ctx = ctx;
    this.#members = members;
    this.#keyring = keyring;
    this.#queries = queries;
  }

  /** Serf's handleQuery for a `_serf_` query that passed the filters. */
  handle(incoming: IncomingQuery, q: Query, nowMs: number): void {
    const answer = (payload: Uint8Array) => this.#queries.answerInternal(incoming, q, payload, nowMs);
    switch (q.name.slice(INTERNAL_QUERY_PREFIX.length)) {
      case 'ping':
        return; // the ack is the answer
      case 'conflict': {
        const name = new TextDecoder().decode(q.payload);
        if (name === this.#ctx.name) return; // the vote is about us: others decide
        answer(encodeConflictResponse(this.#conflictMember(name)));
        return;
      }
      case 'install-key':
        answer(encodeKeyResponse(this.#keyOp((k, key) => k.install(key), q.payload)));
        return;
      case 'use-key':
        answer(encodeKeyResponse(this.#keyOp((k, key) => k.use(key), q.payload)));
        return;
      case 'remove-key':
        answer(encodeKeyResponse(this.#keyOp((k, key) => k.remove(key), q.payload)));
        return;
      case 'list-keys': {
        const fitted = this.#fittedKeyList(
          q,
          this.#keyOp(() => undefined, q.payload),
        );
        if (fitted === null) this.#ctx.drop('keyListTooLarge');
        else answer(fitted);
        return;
      }
      default:
        this.#ctx.drop('unknownInternalQuery');
    }
  }

  /**
   * Another node claims our name (Serf's resolveNodeConflict): ask everyone which address they
   * know for it; we live if a majority of the answers name ours. One vote at a time. Returns
   * the vote's query, if one started: the caller broadcasts it.
   */
  resolveConflict(nowMs: number): ReturnType<Queries['start']> | null {
    if (this.#voting || this.#queries.running >= MAX_RUNNING_QUERIES) return null;
    const gossip = this.#ctx.gossip;
    let responses = 0;
    let matching = 0;
    const vote = this.#queries.start(
      `${INTERNAL_QUERY_PREFIX}conflict`,
      new TextEncoder().encode(this.#ctx.name),
      {},
      {
        response: (payload) => {
          let vouched;
          try {
            vouched = decodeConflictResponseSafe(payload);
          } catch {
            this.#ctx.drop('malformedConflictResponse');
            return;
          }
          if (vouched === undefined) return;
          responses++;
          const self = gossip.endpointOf(this.#ctx.name)!;
          if (vouched !== null && vouched.port === self.port && bytesEqual(vouched.addr, self.addr)) matching++;
        },
        done: () => {
          this.#voting = false;
          if (matching < Math.floor(responses / 2) + 1) this.#ctx.emit({ type: 'nameConflictLost', responses, matching });
        },
      },
      nowMs,
    );
    this.#voting = true;
    return vote;
  }

  #keyOp(apply: (k: KeyringControl, key: Uint8Array) => void, payload: Uint8Array): KeyResponse {
    const response: KeyResponse = { result: false, message: '', keys: [], primaryKey: '' };
    if (this.#keyring === undefined) {
      response.message = 'No keyring to modify (encryption not enabled)';
      return response;
    }
    try {
      apply(this.#keyring, decodeKeyRequest(payload));
      const { keys, primary } = this.#keyring.list();
      response.keys = keys;
      response.primaryKey = primary;
      response.result = true;
    } catch (err) {
      if (err instanceof DecodeError) this.#ctx.drop('malformedKeyRequest');
      response.message = err instanceof Error ? err.message : String(err);
    }
    return response;
  }

  /**
   * A key list whose response exceeds the response size limit is cut, saying so, as Serf does
   * (keyListResponseWithCorrectSize): most keys that fit, first ones first.
   */
  #fittedKeyList(q: Query, response: KeyResponse): Uint8Array | null {
    const all = response.keys;
    for (let n = all.length; n >= 0; n--) {
      const cut =
        n === all.length
          ? response
          : { ...response, keys: all.slice(0, n), message: `truncated key list response, showing first ${n} of ${all.length} keys` };
      const payload = encodeKeyResponse(cut);
      const size = encodeQueryResponse({ ltime: q.ltime, id: q.id, from: this.#ctx.name, flags: 0, payload }).length;
      if (size <= this.#ctx.config.queryResponseSizeLimitBytes) return payload;
    }
    return null;
  }

  #conflictMember(name: string): ConflictMember | null {
    const m = this.#members.get(name);
    const e = this.#ctx.gossip.endpointOf(name);
    if (m === undefined || e === undefined) return null;
    return { name, addr: e.addr, port: e.port, tags: m.tags, status: SerfStatusCode[m.status], vsn: e.vsn };
  }
}

function decodeConflictResponseSafe(payload: Uint8Array): { addr: Uint8Array; port: number } | null | undefined {
  if (payload.length === 0 || payload[0] !== SerfType.conflictResponse) return undefined;
  return decodeConflictResponse(payload);
}
