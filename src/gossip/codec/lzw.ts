/**
 * LZW exactly as Go's compress/lzw with order LSB and literal width 8 (wire reference §6.3):
 * codes LSB-first, clear = 256, EOF = 257, first entry 258, widths 9..12, a leading clear code,
 * a clear and reset when the next code would be 4095, EOF always written.
 *
 * `hi` is the code implied by the next emission (encoder) or the next entry to define (decoder);
 * the width grows when `hi` reaches 2^width, as in Go.
 */
import { DecodeError } from './msgpack.js';

const CLEAR = 256;
const EOF = 257;
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1;

export function lzwCompress(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let count = 0;
  let width = 9;
  const write = (code: number) => {
    bits |= code << count;
    count += width;
    while (count >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      count -= 8;
    }
  };
  let hi = EOF;
  let overflow = 1 << width;
  let table = new Map<number, number>(); // (prefix code << 8 | byte) → code
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
      table = new Map();
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
      const found = table.get(key);
      if (found !== undefined) {
        code = found;
        continue;
      }
      write(code);
      code = byte;
      if (incHi()) table.set(key, hi);
    }
    write(code);
    incHi();
  }
  write(EOF);
  if (count > 0) out.push(bits & 0xff);
  return Uint8Array.from(out);
}

/**
 * Decompresses Go LZW. `maxOutputBytes` bounds the result (a small input can expand a lot);
 * exceeding it, an invalid code or a missing EOF is a DecodeError.
 */
export function lzwDecompress(input: Uint8Array, maxOutputBytes: number): Uint8Array {
  let out = new Uint8Array(Math.min(Math.max(input.length * 4, 64), maxOutputBytes));
  let n = 0;
  const push = (byte: number) => {
    if (n === out.length) {
      if (n >= maxOutputBytes) throw new DecodeError('LZW output exceeds the limit');
      const next = new Uint8Array(Math.min(n * 2, maxOutputBytes));
      next.set(out);
      out = next;
    }
    out[n++] = byte;
  };
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const chain = new Uint8Array(1 << MAX_WIDTH);
  let width = 9;
  let hi = EOF;
  let overflow = 1 << width;
  let last = -1;
  let bits = 0;
  let count = 0;
  let pos = 0;
  for (;;) {
    while (count < width) {
      if (pos >= input.length) throw new DecodeError('LZW input ends without EOF');
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
    let head: number;
    if (code < CLEAR) {
      head = code;
      push(code);
    } else if (code <= hi && !(code === hi && last < 0)) {
      // Walk the chain backwards into `chain`, then emit it forwards. code === hi is the KwKwK
      // case: the last expansion followed by its own first byte.
      let c = code === hi ? last : code;
      let depth = 0;
      while (c >= CLEAR) {
        chain[depth++] = suffix[c]!;
        c = prefix[c]!;
      }
      head = c;
      push(head);
      for (let i = depth - 1; i >= 0; i--) push(chain[i]!);
      if (code === hi) push(head);
    } else {
      throw new DecodeError('LZW code out of range');
    }
    if (last >= 0) {
      suffix[hi] = head;
      prefix[hi] = last;
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
