import { describe, expect, it } from 'vitest';
import { formatStrayRejection } from '../../src/executor/stray-rejections.js';

// The warning line for an unhandled rejection in app code: where, what, how
// often, and which sessions were running when it surfaced.

const stray = { reason: 'Error: boom', location: { file: 'app.ts', line: 7, column: 3 }, count: 1 };

describe('formatStrayRejection', () => {
  it('names the one session running, or the first five of many and how many more', () => {
    expect(formatStrayRejection(stray, [41])).toBe(
      'app.ts:7:3: unhandled rejection in app code: Error: boom, surfaced while session 41 ran; reported, not fatal (handle the promise, or await it)',
    );
    expect(formatStrayRejection(stray, [3, 4])).toContain('Error: boom, surfaced while sessions 3, 4 ran;');
    expect(formatStrayRejection(stray, [1, 2, 3, 4, 5, 6, 7, 8])).toContain('Error: boom, surfaced while sessions 1, 2, 3, 4, 5 and 3 more ran;');
    expect(formatStrayRejection(stray, [])).toBe('app.ts:7:3: unhandled rejection in app code: Error: boom; reported, not fatal (handle the promise, or await it)');
  });

  it('reports a rejection once, then at its 10th, 100th... occurrence, with the count', () => {
    expect(formatStrayRejection({ ...stray, count: 2 }, [1])).toBeNull();
    expect(formatStrayRejection({ ...stray, count: 10 }, [9])).toContain('Error: boom (10 times so far), surfaced while session 9 ran;');
    expect(formatStrayRejection({ ...stray, count: 11 })).toBeNull();
    expect(formatStrayRejection({ ...stray, count: 100, location: null })).toBe(
      'unhandled rejection in app code: Error: boom (100 times so far); reported, not fatal (handle the promise, or await it)',
    );
  });
});
