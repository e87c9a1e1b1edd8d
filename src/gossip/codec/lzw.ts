/**
 * LZW exactly as Go's compress/lzw with order LSB and literal width 8
 * (docs/protocol.md#compression): codes LSB-first, clear = 256, EOF = 257, first entry 258, widths
 * 9..12, a leading clear code, a clear and reset when the next code would be 4095, EOF always
 * written.
 *
 * `hi` is the code implied by the next emission (encoder) or the next entry to define (decoder);
 * the width grows when `hi` reaches 2^width, as in Go.
 */
import { BudgetExceededError, DecodeError, TruncatedError } from './decode-error.js';

const CLEAR = 256;
const EOF = 257;
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1;

/*
 * Encoder dictionary: (prefix code << 8 | byte), a 20-bit key, indexes a flat table whose
 * entries are (generation << 12 | code). Bumping the generation empties it in O(1), on every
 * call and every reset, without clearing 4 MiB.
 */
const dictionary = new Int32Array(1 << 20);
let generation = 0;

function nextGeneration(): number {
  generation++;
  if (generation >= 1 << 19) {
    dictionary.fill(0);
    generation = 1;
  }
  return generation << 12;
}

export function lzwCompress(input: Uint8Array): Uint8Array {
  let out = new Uint8Array(Math.max(16, (input.length * 3) >> 1));
  let n = 0;
  let bits = 0;
  let count = 0;
  let width = 9;
  const write = (code: number) => {
    bits |= code << count;
    count += width;
    while (count >= 8) {
      if (n === out.length) {
        const next = new Uint8Array(n * 2);
        next.set(out);
        out = next;
      }
      out[n++] = bits & 0xff;
      bits >>>= 8;
      count -= 8;
    }
  };
  let hi = EOF;
  let overflow = 1 << width;
  let tag = nextGeneration();
  /** Advances hi; on running out of codes emits clear and resets. Returns false after a reset. */
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      write(CLEAR);
      width = 9;
      hi = EOF;
      overflow = 1 << width;
      tag = nextGeneration();
      return false;
    }
    return true;
  };

  write(CLEAR);
  if (input.length > 0) {
    let code = input[0]!;
    for (let i = 1; i < input.length; i++) {
      const byte = input[i]!;
      const key = (code << 8) | byte;
      const entry = dictionary[key]!;
      if ((entry & ~0xfff) === tag) {
        code = entry & 0xfff;
        continue;
      }
      write(code);
      code = byte;
      if (incHi()) dictionary[key] = tag | hi;
    }
    write(code);
    incHi();
  }
  write(EOF);
  if (count > 0) {
    if (n === out.length) {
      const next = new Uint8Array(n + 1);
      next.set(out);
      out = next;
    }
    out[n++] = bits & 0xff;
  }
  return out.slice(0, n);
}

/**
 * Decompresses Go LZW. `maxOutputBytes` bounds the result (a small input can expand a lot);
 * exceeding it, an invalid code or a missing EOF is a DecodeError.
 */
export function lzwDecompress(input: Uint8Array, maxOutputBytes: number): Uint8Array {
  let out = new Uint8Array(Math.min(Math.max(input.length * 4, 64), maxOutputBytes));
  let n = 0;
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  /** Length of each entry's expansion, so it can be written back to front in place. */
  const length = new Uint16Array(1 << MAX_WIDTH);
  let width = 9;
  let hi = EOF;
  let overflow = 1 << width;
  let last = -1;
  let bits = 0;
  let count = 0;
  let pos = 0;
  for (;;) {
    while (count < width) {
      if (pos >= input.length) throw new TruncatedError('LZW input ends without EOF');
      bits |= input[pos++]! << count;
      count += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    count -= width;
    if (code === CLEAR) {
      width = 9;
      hi = EOF;
      overflow = 1 << width;
      last = -1;
      continue;
    }
    if (code === EOF) return out.slice(0, n);
    // code === hi is the KwKwK case: the last expansion followed by its own first byte.
    const kwk = code === hi;
    if (!(code < CLEAR || (code > EOF && code < hi) || (kwk && last >= 0))) throw new DecodeError('LZW code out of range', 'malformed');
    const source = kwk ? last : code;
    const len = (source < CLEAR ? 1 : length[source]!) + (kwk ? 1 : 0);
    if (n + len > out.length) {
      if (n + len > maxOutputBytes) throw new BudgetExceededError('LZW output exceeds the limit');
      const next = new Uint8Array(Math.min(Math.max(out.length * 2, n + len), maxOutputBytes));
      next.set(out.subarray(0, n));
      out = next;
    }
    let c = source;
    let i = n + (source < CLEAR ? 1 : length[source]!) - 1;
    while (c >= CLEAR) {
      out[i--] = suffix[c]!;
      c = prefix[c]!;
    }
    out[i] = c;
    const head = c;
    if (kwk) out[n + len - 1] = head;
    n += len;
    if (last >= 0) {
      suffix[hi] = head;
      prefix[hi] = last;
      length[hi] = (last < CLEAR ? 1 : length[last]!) + 1;
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        // Table full: stop defining entries until a clear arrives.
        last = -1;
        hi--;
      } else {
        width++;
        overflow = 1 << width;
      }
    }
  }
}
