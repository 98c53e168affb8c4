import { describe, expect, it } from 'vitest';
import { IdempotencyKeys } from '../../src/runtime/idempotency-keys.js';

// The server's table of Idempotency-Keys: earlier processes' keys loaded at
// start, this process's added as requests come.

describe('IdempotencyKeys', () => {
  const earlier = [
    { id: 3, idempotencyKey: 'a', route: '/deposit', lastPosition: 300 },
    { id: 5, idempotencyKey: 'b', route: '/transfer', lastPosition: 500 },
    // The same key again, in a later session (its first request failed before it was answered): the later one counts.
    { id: 9, idempotencyKey: 'a', route: '/deposit', lastPosition: 900 },
  ];

  it('answers for earlier keys with their latest session, where it ends, and its route', () => {
    const keys = new IdempotencyKeys(earlier);
    expect(keys.get('a')).toEqual({ session: 9, bodyHash: null, route: '/deposit', result: null, lastPosition: 900 });
    expect(keys.get('b')).toMatchObject({ session: 5, route: '/transfer', lastPosition: 500 });
    expect(keys.get('c')).toBeUndefined();
  });

  it('hands out one entry per key, which the server updates in place', () => {
    const keys = new IdempotencyKeys(earlier);
    const entry = keys.get('b')!;
    entry.bodyHash = 'h';
    expect(keys.get('b')).toBe(entry);
    keys.set('c', { session: 0, bodyHash: 'x', route: '/open', result: null, lastPosition: null });
    expect(keys.get('c')).toMatchObject({ bodyHash: 'x' });
  });

  it('forgets a key that is deleted, earlier or not (its first request failed)', () => {
    const keys = new IdempotencyKeys(earlier);
    keys.get('a');
    keys.delete('a');
    expect(keys.get('a')).toBeUndefined();
    keys.delete('b');
    expect(keys.get('b')).toBeUndefined();
  });
});
