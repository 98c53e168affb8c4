// Accidental nondeterminism throws a DeterminismError that names the
// construct, says what to use instead, and points at the app's line.

import { beforeAll, describe, expect, it } from 'vitest';
import { isDeterminismError } from '../../src/sandbox/errors.js';
import { FakeBridge, createRealm, runApp, type Realm } from './harness.js';

let realm: Realm;
beforeAll(() => {
  realm = createRealm();
});

/** Runs `expression` inside a session and returns what it threw. */
function refusal(expression: string): { name: string; construct: string; message: string; instead: string; stack: string } {
  const bridge = new FakeBridge({ values: { date: [0], performance: [0], uuid: ['123e4567-e89b-42d3-a456-426614174000'], 'random-seed': [[1, 2, 3, 4]] } });
  const { exports } = runApp(realm, `module.exports = () => { ${expression}; };`, bridge);
  try {
    (exports as unknown as () => void)();
  } catch (error) {
    return error as never;
  }
  throw new Error(`${expression} did not throw`);
}

const CASES: Array<[expression: string, construct: string]> = [
  ["require('node:fs')", "require('node:fs')"],
  ["require('fs')", "require('fs')"],
  ["require('net')", "require('net')"],
  ["require('node:child_process')", "require('node:child_process')"],
  ["require('http')", "require('http')"],
  ["require('worker_threads')", "require('worker_threads')"],
  ["require('os')", "require('os')"],
  ["require('crypto')", "require('crypto')"],
  ["require('events')", "require('events')"],
  ["require('left-pad')", "require('left-pad')"],
  ['new WeakRef({})', 'WeakRef'],
  ['new FinalizationRegistry(() => {})', 'FinalizationRegistry'],
  ['new SharedArrayBuffer(8)', 'SharedArrayBuffer'],
  ['Atomics.add(new Int32Array(1), 0, 1)', 'Atomics.add'],
  ['Atomics.wait(new Int32Array(1), 0, 0)', 'Atomics.wait'],
  ['crypto.subtle', 'crypto.subtle'],
  ['performance.timeOrigin', 'performance.timeOrigin'],
  ['globalThis.Date.now()', 'Date.now outside a session'],
  ['new globalThis.Date()', 'new Date() outside a session'],
  ['globalThis.Date()', 'Date() outside a session'],
  ['new (new Date(0).constructor)()', 'new Date() outside a session'],
  ['globalThis.Math.random()', 'Math.random outside a session'],
  ['globalThis.performance.now()', 'performance.now outside a session'],
  ['globalThis.crypto.randomUUID()', 'crypto.randomUUID outside a session'],
  ['globalThis.crypto.getRandomValues(new Uint8Array(1))', 'crypto.getRandomValues outside a session'],
  ['globalThis.crypto.subtle', 'crypto.subtle'],
  ['globalThis.setTimeout(() => {}, 1)', 'setTimeout outside a session'],
  ['global.setInterval(() => {}, 1)', 'setInterval outside a session'],
  ['globalThis.setImmediate(() => {})', 'setImmediate outside a session'],
  ["globalThis.fetch('https://x.test/')", 'fetch outside a session'],
  ['AbortSignal.timeout(10)', 'AbortSignal.timeout'],
  ['URL.createObjectURL({})', 'URL.createObjectURL'],
  ['new Intl.DateTimeFormat().format()', 'Intl.DateTimeFormat format() without a date'],
  ['new Intl.DateTimeFormat().formatToParts()', 'Intl.DateTimeFormat formatToParts() without a date'],
  ["/(a)/.exec('a'); RegExp.$1", 'RegExp.$1'],
  ['RegExp.lastMatch', 'RegExp.lastMatch'],
];

describe('DeterminismError', () => {
  it.each(CASES)('%s throws, naming %s', (expression, construct) => {
    const error = refusal(expression);
    expect(error.name).toBe('DeterminismError');
    expect(error.construct).toBe(construct);
    expect(error.message).toBe(`${construct} is not deterministic: ${error.instead}`);
    expect(error.instead.length).toBeGreaterThan(20);
    expect(isDeterminismError(error)).toBe(true);
  });

  it('is the class the app API exports, and an Error of the context', () => {
    const { exports } = runApp(
      realm,
      `
      const { DeterminismError } = require('windback');
      try { new WeakRef({}); } catch (e) { module.exports = [e instanceof DeterminismError, e instanceof Error, String(e).startsWith('DeterminismError: WeakRef is not deterministic: ')]; }
      `,
    );
    expect([...(exports as unknown as boolean[])]).toEqual([true, true, true]);
  });

  it('has a V8 stack captured in the context whose first frame is the app line, not the sandbox', () => {
    const bridge = new FakeBridge();
    const factory = realm.load(['const a = 1;', 'function lookup() {', "  return require('node:fs');", '}', 'module.exports = lookup;'].join('\n'), {
      filename: 'my-app.js',
    });
    const { exports } = { exports: realm.api.runFactory(factory, realm.api.createSession(bridge)) as () => unknown };
    let stack = '';
    try {
      exports();
    } catch (error) {
      stack = (error as Error).stack ?? '';
    }
    const lines = stack.split('\n');
    expect(lines[0]).toBe(
      "DeterminismError: require('node:fs') is not deterministic: the file system is outside the journal: keep data in the database (ctx.tx / ctx.read) or pass it in config",
    );
    expect(lines[1]).toMatch(/^ {4}at lookup \(my-app\.js:3:10\)$/);
    expect(stack).not.toContain('windback-sandbox.js');
  });

  it('lets the deterministic uses through: new Date(ms), WeakMap, Atomics-free typed arrays, require of windback', () => {
    const { exports } = runApp(
      realm,
      `
      const w = new WeakMap(); const k = {}; w.set(k, 1);
      module.exports = [new globalThis.Date(0).getTime(), new globalThis.Date(2020, 0).getFullYear(), globalThis.Date.UTC(2020, 0), w.get(k), typeof require('windback').defineApp, globalThis.Math.max(1, 3)];
      `,
    );
    expect([...(exports as unknown as unknown[])]).toEqual([0, 2020, Date.UTC(2020, 0), 1, 'function', 3]);
  });
});
