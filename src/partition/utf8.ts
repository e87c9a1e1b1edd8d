/**
 * UTF-8 encoding of keys without a per-call allocation. Keys are hashed over their UTF-8 bytes;
 * lone surrogates become U+FFFD, exactly as TextEncoder does, because a JS string cannot hold
 * the invalid bytes a Go string could.
 */

/** Keys up to this many UTF-16 units reuse one scratch buffer; longer keys get their own. */
const SCRATCH_MAX_UNITS = 16_384;
let scratch = new Uint8Array(256);
const encoder = new TextEncoder();

/**
 * Encodes `s` and returns the byte count; the bytes are in `encoded.bytes` until the next call.
 */
export const encoded = { bytes: scratch };

export function encodeUtf8(s: string): number {
  const units = s.length;
  if (units > SCRATCH_MAX_UNITS) {
    const bytes = encoder.encode(s);
    encoded.bytes = bytes;
    return bytes.length;
  }
  if (units * 3 > scratch.length) scratch = new Uint8Array(Math.max(units * 3, scratch.length * 2));
  const out = scratch;
  encoded.bytes = out;
  let n = 0;
  for (let i = 0; i < units; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < units ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        out[n++] = 0xf0 | (cp >> 18);
        out[n++] = 0x80 | ((cp >> 12) & 0x3f);
        out[n++] = 0x80 | ((cp >> 6) & 0x3f);
        out[n++] = 0x80 | (cp & 0x3f);
        continue;
      }
      c = 0xfffd;
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

/** Byte-wise comparison of two UTF-8 strings, like Go's sort.Strings (code point order). */
export function compareUtf8(a: string, b: string): number {
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 order equals code point order except that surrogates (D800–DFFF) encode code points
    // above every BMP unit; lift them above E000–FFFF before comparing.
    return liftSurrogate(x) - liftSurrogate(y);
  }
  return a.length - b.length;
}

function liftSurrogate(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x2000 : unit >= 0xe000 ? unit - 0x800 : unit;
}
