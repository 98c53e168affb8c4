// Math.random inside a session: xoshiro128** seeded lazily from one
// 'random-seed' value; deterministic per seed; draws counted.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { toSeed, xoshiro128ss } from '../../src/sandbox/random.js';
import { xoshiroWords as referenceXoshiro, xoshiroSeed } from '../helpers/xoshiro.js';
import { FakeBridge, drawingRealm, runSession, type Realm } from './harness.js';

const seedArb = xoshiroSeed;

let realm: Realm;
let factory: Function;
beforeAll(() => {
  ({ realm, factory } = drawingRealm());
});

function draw(seed: readonly number[], n: number): { values: number[]; bridge: FakeBridge; draws: number } {
  const bridge = new FakeBridge({ values: { 'random-seed': [seed] } });
  const { scope, exports } = runSession(realm, factory, bridge);
  const values = (exports as unknown as (n: number) => number[])(n);
  return { values: [...values], bridge, draws: scope.randomDraws() };
}

describe('the session PRNG', () => {
  it('matches an independent BigInt xoshiro128** for any seed', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 64 }), (seed, n) => {
        const next = xoshiro128ss(toSeed(seed));
        const ours = Array.from({ length: n }, next);
        expect(ours).toEqual(referenceXoshiro(seed, n));
      }),
    );
  });

  it('gives the same sequence to two sessions with the same seed, in [0, 1)', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 50 }), (seed, n) => {
        const a = draw(seed, n);
        const b = draw(seed, n);
        expect(a.values).toEqual(b.values);
        expect(a.values).toEqual(referenceXoshiro(seed, n).map((x) => x / 2 ** 32));
        for (const v of a.values) expect(v >= 0 && v < 1).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('gives different sequences for different seeds', () => {
    const a = draw([1, 2, 3, 4], 8).values;
    const b = draw([1, 2, 3, 5], 8).values;
    expect(a).not.toEqual(b);
  });

  it('asks for the seed once, on the first draw, and counts draws', () => {
    const bridge = new FakeBridge({ values: { 'random-seed': [[9, 8, 7, 6]] } });
    const { scope, exports } = runSession(realm, factory, bridge);
    expect(bridge.events).toEqual([]);
    expect(scope.randomDraws()).toBe(0);
    (exports as unknown as (n: number) => number[])(5);
    (exports as unknown as (n: number) => number[])(7);
    expect(bridge.valueSources).toEqual(['random-seed']);
    expect(scope.randomDraws()).toBe(12);
  });

  it('never asks for a seed in a session that does not draw', () => {
    const bridge = new FakeBridge();
    const { scope } = runSession(realm, realm.load(`module.exports = Math.max(1, 2) + Math.floor(2.5);`), bridge);
    expect(bridge.events).toEqual([]);
    expect(scope.randomDraws()).toBe(0);
  });

  it('replaces an all-zero seed (xoshiro would emit zeros forever)', () => {
    const { values } = draw([0, 0, 0, 0], 4);
    expect(values.some((v) => v !== 0)).toBe(true);
  });

  it('keeps every other Math function', () => {
    const { exports } = runSession(
      realm,
      realm.load(`module.exports = [Math.PI, Math.sqrt(16), Math.hypot(3, 4), Math.sign(-2), Math.imul(3, 4), typeof Math.random, Object.prototype.toString.call(Math)];`),
      new FakeBridge(),
    );
    expect([...(exports as unknown as unknown[])]).toEqual([Math.PI, 4, 5, -1, 12, 'function', '[object Math]']);
  });
});
