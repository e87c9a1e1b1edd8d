/**
 * Serf tags in memberlist node meta (docs/protocol.md#tags): 0xFF, then a msgpack map of
 * string → string, at most 512 bytes in all. Meta that does not start with 0xFF is what Serf
 * protocol < 3 sent, a bare role: Serf reads it as { role: <meta as text> }, and so do we.
 */
import { SwimringError, describeValue } from '../errors.js';
import { DecodeError, Writer, decodeValue, text } from '../gossip/codec/msgpack.js';

export const TAGS_MAGIC = 0xff;
export const MAX_META_BYTES = 512;

export type Tags = Readonly<Record<string, string>>;

/** Encodes tags (keys sorted, so equal tags give equal bytes); more than 512 bytes is refused. */
export function encodeTags(tags: Tags): Uint8Array {
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) {
    throw new SwimringError('ERR_INVALID_OPTION', ` must be an object of strings, got ${describeValue(tags)}`, 'tags');
  }
  const entries = Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const w = new Writer().u8(TAGS_MAGIC).mapHeader(entries.length);
  for (const [key, value] of entries) {
    if (typeof value !== 'string')
      throw new SwimringError('ERR_INVALID_OPTION', ` must be a string, got ${describeValue(value)}`, `tags.${key}`);
    w.str(key).str(value);
  }
  const meta = w.finish();
  if (meta.length > MAX_META_BYTES) {
    throw new SwimringError('ERR_INVALID_OPTION', ` must encode to at most ${MAX_META_BYTES} bytes, got ${meta.length}`, 'tags');
  }
  return meta;
}

/** Tags from meta; malformed tag maps throw DecodeError (the caller counts and ignores them). */
export function decodeTags(meta: Uint8Array): Record<string, string> {
  if (meta.length === 0 || meta[0] !== TAGS_MAGIC) return { role: text(meta) };
  const { value } = decodeValue(meta, 1);
  if (!(value instanceof Map)) throw new DecodeError('tags are not a msgpack map', 'field');
  const entries: [string, string][] = [];
  for (const [key, v] of value) {
    if (!(v instanceof Uint8Array)) throw new DecodeError(`tag ${key} is not a string`, 'field');
    entries.push([key, text(v)]);
  }
  // fromEntries defines own properties: a tag named __proto__ is a tag, not the object's prototype.
  return Object.fromEntries(entries);
}
