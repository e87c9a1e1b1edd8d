/**
 * Incarnation numbers are Go uint32s. memberlist compares them plainly, so one forged message at
 * 2^32 − 1 about a member leaves it nothing newer to refute with: it stays suspect or dead
 * everywhere for good. We compare them as serial numbers (RFC 1982, as TCP compares sequence
 * numbers): b is newer than a when it is ahead by less than 2^31, modulo 2^32. For the values
 * real clusters reach, far below 2^31, this is memberlist's order; at the top it wraps to 0 and
 * stays refutable, and a message claiming a jump of 2^31 or more reads as old news.
 */
const HALF = 2 ** 31;

/** Whether incarnation `a` is newer than `b`. */
export function newer(a: number, b: number): boolean {
  const ahead = (a - b) >>> 0;
  return ahead !== 0 && ahead < HALF;
}

/** Whether `a` is `b` or newer. */
export function atLeast(a: number, b: number): boolean {
  return a === b || newer(a, b);
}

/** The incarnation after `a` (2^32 − 1 is followed by 0). */
export function next(a: number): number {
  return (a + 1) >>> 0;
}
