// xoshiro128**, written over BigInts and independent of src/sandbox/random.ts:
// the reference the tests check the sandbox's Math.random against
// (docs/sandbox.md documents the generator and its seed).

import fc from 'fast-check';

/** A seed as the journal holds it: four 32-bit words, not all zero. */
export const xoshiroSeed = fc
  .tuple(...Array.from({ length: 4 }, () => fc.integer({ min: 0, max: 0xffffffff })))
  .filter((s) => s.some((w) => w !== 0));

/** The generator's first `count` 32-bit outputs from `seed` (four 32-bit words). */
export function xoshiroWords(seed: readonly number[], count: number): number[] {
  const M = (1n << 32n) - 1n;
  const s = seed.map((w) => BigInt(w));
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const result = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    out.push(Number(result));
  }
  return out;
}

/** The first `count` Math.random() values: each output / 2^32. */
export function xoshiroDraws(seed: readonly number[], count: number): number[] {
  return xoshiroWords(seed, count).map((w) => w / 2 ** 32);
}
