import fc from 'fast-check';

/** Member name sets: realistic host names mixed with odd Unicode, unique, of the given size range. */
export function memberNames(minLength = 0, maxLength = 24): fc.Arbitrary<string[]> {
  const name = fc.oneof(
    fc.nat({ max: 9999 }).map((i) => `node-${i}`),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  );
  return fc.uniqueArray(name, { minLength, maxLength });
}

/** Deterministic pseudo-random names for scenario tests and benches (xorshift32 from a seed). */
export function seededNames(count: number, seed: number): string[] {
  let x = seed >>> 0 || 1;
  const names = new Set<string>();
  while (names.size < count) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    names.add(`host-${x.toString(16).padStart(8, '0')}`);
  }
  return [...names];
}
