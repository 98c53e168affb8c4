// The session's Math.random: xoshiro128** (Blackman and Vigna), a small,
// fast generator with a 128-bit state, seeded from one journaled value.
//
// Each draw advances the state once and yields a 32-bit integer, returned as
// n / 2^32, so every result is in [0, 1) with 32 bits of randomness (V8's own
// Math.random gives 52; nothing in an app should depend on the difference).

import { BridgeProtocolError } from './errors.js';

const imul = Math.imul;
const { isSafeInteger } = Number;

/** Replaces an all-zero seed, the one state xoshiro can never leave. */
const ZERO_SEED_REPLACEMENT = [0x9e3779b9, 0x243f6a88, 0xb7e15162, 0x85a308d3] as const;

/** Checks a 'random-seed' value: 4 unsigned 32-bit integers. */
export function toSeed(value: unknown): [number, number, number, number] {
  const words = value as ArrayLike<unknown> | null | undefined;
  if (words === null || typeof words !== 'object' || words.length !== 4) {
    throw new BridgeProtocolError(`bridge.value('random-seed') must return 4 unsigned 32-bit integers`);
  }
  const seed: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const w = words[i];
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 0xffffffff) {
      throw new BridgeProtocolError(`bridge.value('random-seed') word ${i} is not an unsigned 32-bit integer: ${String(w)}`);
    }
    seed[i] = w;
  }
  if (seed[0] === 0 && seed[1] === 0 && seed[2] === 0 && seed[3] === 0) return [...ZERO_SEED_REPLACEMENT];
  return seed;
}

/** A generator of uint32 values from a checked seed. */
export function xoshiro128ss(seed: readonly [number, number, number, number]): () => number {
  let s0 = seed[0] | 0;
  let s1 = seed[1] | 0;
  let s2 = seed[2] | 0;
  let s3 = seed[3] | 0;
  return function next(): number {
    const x = imul(s1, 5);
    const result = imul((x << 7) | (x >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result >>> 0;
  };
}

const TWO_TO_32 = 4294967296;

export interface SessionRandom {
  random: () => number;
  draws: () => number;
  /**
   * Bring the generator to `count` draws made, as if they had been (a served
   * transaction body's, which does not run). Before the first draw, `seed`
   * seeds it (the body's journaled 'random-seed' value); without one it is
   * asked for as a draw would. A count at or below the draws made does nothing.
   */
  advance: (count: number, seed?: unknown) => void;
}

/**
 * A session's Math.random with its draw counter. The seed is asked for on the
 * first draw only. While `inCall()` says so (code inside a ctx.call()
 * function, which does not run on replay), draws come from a second
 * generator, seeded on its own first draw, and are not counted: the
 * session's sequence goes on as if they had not been made.
 */
export function createSessionRandom(requestSeed: () => unknown, inCall?: () => boolean): SessionRandom {
  let next: (() => number) | null = null;
  let callNext: (() => number) | null = null;
  let draws = 0;
  return {
    random: function random(): number {
      if (inCall !== undefined && inCall()) {
        if (callNext === null) callNext = xoshiro128ss(toSeed(requestSeed()));
        return callNext() / TWO_TO_32;
      }
      if (next === null) next = xoshiro128ss(toSeed(requestSeed()));
      draws++;
      return next() / TWO_TO_32;
    },
    draws: () => draws,
    advance: (count: number, seed?: unknown): void => {
      if (!isSafeInteger(count)) throw new TypeError(`Math.random cannot advance to ${String(count)} draws`);
      if (count <= draws) return;
      if (next === null) next = xoshiro128ss(toSeed(seed === undefined ? requestSeed() : seed));
      while (draws < count) {
        next();
        draws++;
      }
    },
  };
}
