/** Serf's key manager over RPC: tallying the cluster's answers to a key query, and Go's base64 errors. */
import { INTERNAL_QUERY_PREFIX } from '../../serf/queries.js';
import type { GossipNode } from '../../io/gossip-node.js';
import { decodeKeyResponse, encodeKeyRequest } from '../../serf/internal-messages.js';
import { SerfType } from '../../serf/messages.js';
import { type KeyResult } from './protocol.js';

/**
 * Serf's keyManager.handleKeyRequest: asks every member through `_serf_<op>` and tallies the
 * answers until all have answered or the query ends. Returns the error `serf keys` prints ('' on
 * success) with the tally.
 */
export async function keyQuery(
  node: GossipNode,
  op: string,
  key: Uint8Array,
  signal: AbortSignal,
): Promise<{ error: string; result: KeyResult }> {
  const result = emptyKeyResult(op);
  const replies = node.query(`${INTERNAL_QUERY_PREFIX}${op}`, encodeKeyRequest(key), { signal });
  // memberlist's NumMembers: the members not dead or left.
  result.numNodes = node.members().filter((m) => m.status === 'alive' || m.status === 'leaving').length;
  for await (const reply of replies) {
    if (reply.type !== 'response') continue;
    result.numResp++;
    tallyKeyResponse(result, reply.from, reply.payload);
    if (result.numResp === result.numNodes) break;
  }
  if (result.numErr !== 0) return { error: `${result.numErr}/${result.numNodes} nodes reported failure`, result };
  if (result.numResp !== result.numNodes) return { error: `${result.numResp}/${result.numNodes} nodes reported success`, result };
  return { error: '', result };
}

/** A tally with nothing counted yet; key counts only for list-keys. */
export function emptyKeyResult(op: string): KeyResult {
  return { messages: new Map(), keys: op === 'list-keys' ? new Map() : null, numNodes: 0, numResp: 0, numErr: 0 };
}

/** Serf's streamKeyResp for one answer. */
function tallyKeyResponse(result: KeyResult, from: string, payload: Uint8Array): void {
  const goBytes = `[${[...payload].join(' ')}]`;
  if (payload.length < 1 || payload[0] !== SerfType.keyResponse) {
    result.messages.set(from, `Invalid key query response type: ${goBytes}`);
    result.numErr++;
    return;
  }
  let r;
  try {
    r = decodeKeyResponse(payload);
  } catch {
    result.messages.set(from, `Failed to decode key query response: ${goBytes}`);
    result.numErr++;
    return;
  }
  if (!r.result) {
    result.messages.set(from, r.message);
    result.numErr++;
  }
  if (result.keys !== null) for (const k of r.keys) result.keys.set(k, (result.keys.get(k) ?? 0) + 1);
}

/**
 * Go's base64.StdEncoding.DecodeString: the bytes, or Go's error text (its CorruptInputError
 * offsets, quantum by quantum, newlines skipped), which `serf keys` prints.
 */
export function decodeBase64(s: string): Uint8Array | string {
  const src = Buffer.from(s, 'latin1');
  const alphabet = /[A-Za-z0-9+/]/;
  const isNewline = (c: number) => c === 0x0a || c === 0x0d;
  const corrupt = (at: number) => `illegal base64 data at input byte ${at}`;
  let si = 0;
  while (si < src.length) {
    let j = 0;
    for (; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) break;
        return corrupt(si - j);
      }
      const c = src[si++]!;
      if (alphabet.test(String.fromCharCode(c))) continue;
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== 0x3d) return corrupt(si - 1);
      // Padding: only after two or three symbols, "==" after two; then nothing but newlines.
      if (j < 2) return corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && isNewline(src[si]!)) si++;
        if (si === src.length) return corrupt(src.length);
        if (src[si] !== 0x3d) return corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si]!)) si++;
      if (si < src.length) return corrupt(si);
      break;
    }
  }
  return new Uint8Array(Buffer.from(s, 'base64'));
}
