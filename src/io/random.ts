import { randomFillSync } from 'node:crypto';

/** Uniform numbers in [0, 1) from the system CSPRNG, drawn 256 at a time. */
export function systemRandom(): () => number {
  const pool = new Uint32Array(256);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    return pool[next++]! / 4294967296;
  };
}

/** Monotonic milliseconds: the machine never sees wall-clock jumps. */
export function monotonicNowMs(): number {
  return performance.now();
}
