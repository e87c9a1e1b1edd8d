import fc from 'fast-check';

/**
 * Property runs are deterministic: a fixed seed unless FC_SEED is set. On failure fast-check
 * prints the seed and the shrunk counterexample; rerun with FC_SEED=<seed> to reproduce.
 */
export const propertySeed = Number(process.env['FC_SEED'] ?? 20261121);

export function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, numRuns = 200): void {
  fc.assert(property, { seed: propertySeed, numRuns });
}

/** Any UTF-16 string, rich in surrogates (paired and lone): the cases UTF-8 encoders get wrong. */
export function anyUtf16String(maxLength = 40): fc.Arbitrary<string> {
  const unit = fc
    .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff }))
    .map((c) => String.fromCharCode(c));
  return fc.oneof(fc.string({ unit, maxLength }), fc.string({ unit: 'grapheme', maxLength }));
}
