// scope.advanceRandom: the executor serves a transaction whose body drew
// Math.random without running it, and brings the session's generator to the
// draw count the journal holds for it. The draws after must be the ones the
// session would have seen had the body run.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { xoshiroDraws as reference, xoshiroSeed } from '../helpers/xoshiro.js';
import { FakeBridge, drawingRealm, runSession, thrown, type Realm } from './harness.js';

const seedArb = xoshiroSeed;

let realm: Realm;
let factory: Function;
beforeAll(() => {
  ({ realm, factory } = drawingRealm());
});

function session(bridge: FakeBridge): { draw: (n: number) => number[]; scope: ReturnType<typeof runSession>['scope'] } {
  const { scope, exports } = runSession(realm, factory, bridge);
  return { draw: (n) => [...(exports as unknown as (n: number) => number[])(n)], scope };
}

describe('advancing a session’s Math.random (a served body’s draws)', () => {
  it('continues exactly where the skipped draws would have left it, seeded or not yet', () => {
    fc.assert(
      fc.property(seedArb, fc.nat(5), fc.nat(20), fc.integer({ min: 1, max: 5 }), (seed, first, skipped, then) => {
        const bridge = new FakeBridge({ values: { 'random-seed': [seed] } });
        const { draw, scope } = session(bridge);
        const ref = reference(seed, first + skipped + then);
        expect(draw(first)).toEqual(ref.slice(0, first));
        // Before the first draw the seed is given (the journaled one), not asked for.
        scope.advanceRandom(first + skipped, first === 0 ? seed : undefined);
        expect(scope.randomDraws()).toBe(first + skipped);
        expect(draw(then)).toEqual(ref.slice(first + skipped));
        // Asked once, by a draw, unless the advance seeded the generator first.
        expect(bridge.valueSources).toEqual(first === 0 && skipped > 0 ? [] : ['random-seed']);
      }),
      { numRuns: 200 },
    );
  });

  it('asks the bridge for the seed, as a draw would, when none is given before the first draw', () => {
    const bridge = new FakeBridge({ values: { 'random-seed': [[5, 6, 7, 8]] } });
    const { draw, scope } = session(bridge);
    scope.advanceRandom(3);
    expect(bridge.valueSources).toEqual(['random-seed']);
    expect(draw(2)).toEqual(reference([5, 6, 7, 8], 5).slice(3));
    expect(bridge.valueSources).toEqual(['random-seed']);
  });

  it('does nothing for a count at or below the draws made, and ignores a seed once seeded', () => {
    const bridge = new FakeBridge({ values: { 'random-seed': [[1, 2, 3, 4]] } });
    const { draw, scope } = session(bridge);
    draw(4);
    scope.advanceRandom(2, [9, 9, 9, 9]);
    scope.advanceRandom(4);
    scope.advanceRandom(0);
    expect(scope.randomDraws()).toBe(4);
    expect(draw(1)).toEqual(reference([1, 2, 3, 4], 5).slice(4));
    const fresh = new FakeBridge();
    session(fresh).scope.advanceRandom(0);
    expect(fresh.events).toEqual([]); // no draw: no seed
  });

  it('refuses a count that is not a safe integer', () => {
    const { scope } = session(new FakeBridge({ values: { 'random-seed': [[1, 2, 3, 4]] } }));
    for (const bad of [1.5, Number.NaN, Infinity, -Infinity, 2 ** 53]) {
      expect(thrown(() => scope.advanceRandom(bad, [1, 2, 3, 4])).name, String(bad)).toBe('TypeError');
    }
    expect(scope.randomDraws()).toBe(0);
  });
});
