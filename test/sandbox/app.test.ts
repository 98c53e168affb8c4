// The app API module ('windback' inside the sandbox): defineApp,
// RetryableError, DeterminismError; and how the host finds the definition.

import { beforeAll, describe, expect, it } from 'vitest';
import { isRetryableError } from '../../src/sandbox/errors.js';
import { FakeBridge, createRealm, runApp, type Realm } from './harness.js';

let realm: Realm;
beforeAll(() => {
  realm = createRealm();
});

const VALID = `{
  name: 'bank',
  config: { currency: 'EUR' },
  secretFields: ['apiKey'],
  migrations: [{ name: '001-accounts', sql: 'create table accounts (id integer primary key, balance integer)' }],
  kinds: { transfer: async (input, ctx) => ({ ok: true }), balance: async () => 0 },
  routes: { '/transfer': 'transfer', '/balance': { kind: 'balance', method: 'GET' } },
}`;

describe('defineApp', () => {
  it('returns the definition, and the host finds it whether exported as default or as module.exports', () => {
    for (const exporting of [`module.exports = defineApp(${VALID});`, `exports.default = defineApp(${VALID}); exports.other = 1;`]) {
      const { exports } = runApp(realm, `const { defineApp } = require('windback'); ${exporting}`);
      const app = realm.api.appDefinitionOf(exports) as { name: string; kinds: Record<string, unknown>; migrations: unknown[] };
      expect(app.name).toBe('bank');
      expect(Object.keys(app.kinds)).toEqual(['transfer', 'balance']);
      expect(app.migrations).toHaveLength(1);
    }
  });

  it('works through esbuild’s ESM interop (import { defineApp } from "windback")', () => {
    const { exports } = runApp(
      realm,
      `
      var __defProp = Object.defineProperty;
      var import_windback = require("windback");
      var app_default = (0, import_windback.defineApp)(${VALID});
      __defProp(exports, "__esModule", { value: true });
      exports.default = app_default;
      `,
    );
    expect((realm.api.appDefinitionOf(exports) as { name: string }).name).toBe('bank');
  });

  it('refuses an export that did not go through defineApp', () => {
    const { exports } = runApp(realm, `module.exports = ${VALID};`);
    expect(() => realm.api.appDefinitionOf(exports)).toThrow(/export the result of defineApp/);
  });

  const INVALID: Array<[string, string, RegExp]> = [
    ['not an object', `defineApp(42)`, /expected an object/],
    ['no name', `defineApp({ migrations: [], kinds: { a: async () => 1 } })`, /"name" must be a non-empty string/],
    ['unknown field', `defineApp({ name: 'x', migrations: [], kinds: { a: async () => 1 }, kind: {} })`, /unknown field "kind"/],
    ['migrations missing', `defineApp({ name: 'x', kinds: { a: async () => 1 } })`, /"migrations" must be an array/],
    ['migration without sql', `defineApp({ name: 'x', migrations: [{ name: 'm1' }], kinds: { a: async () => 1 } })`, /migrations\[0\] \("m1"\) needs its sql/],
    [
      'duplicate migration',
      `defineApp({ name: 'x', migrations: [{ name: 'm', sql: 'select 1' }, { name: 'm', sql: 'select 2' }], kinds: { a: async () => 1 } })`,
      /migrations\[1\]: the name "m" is used twice/,
    ],
    ['no kinds', `defineApp({ name: 'x', migrations: [], kinds: {} })`, /at least one kind/],
    ['kind not a function', `defineApp({ name: 'x', migrations: [], kinds: { a: 1 } })`, /kinds\.a must be a function/],
    ['bad secret field', `defineApp({ name: 'x', migrations: [], kinds: { a: async () => 1 }, secretFields: [''] })`, /secretFields\[0\]/],
    ['route to unknown kind', `defineApp({ name: 'x', migrations: [], kinds: { a: async () => 1 }, routes: { '/b': 'b' } })`, /routes\["\/b"\] names the kind "b"/],
    ['malformed route', `defineApp({ name: 'x', migrations: [], kinds: { a: async () => 1 }, routes: { '/b': 3 } })`, /routes\["\/b"\] must be a kind name/],
  ];

  it.each(INVALID)('rejects %s with a TypeError naming the field', (_, call, message) => {
    const { exports } = runApp(realm, `const { defineApp } = require('windback'); try { ${call}; module.exports = 'accepted'; } catch (e) { module.exports = [e.name, e.message]; }`);
    const [name, text] = exports as unknown as [string, string];
    expect(name).toBe('TypeError');
    expect(text).toMatch(/^defineApp: /);
    expect(text).toMatch(message);
  });
});

describe('RetryableError', () => {
  it('is an Error the host recognizes as retryable, with its message and cause', () => {
    const { exports } = runApp(
      realm,
      `const { RetryableError } = require('windback');
       const e = new RetryableError('conflict', { cause: 'busy' });
       module.exports = { e, isError: e instanceof Error, name: e.name, text: String(e), cause: e.cause };`,
      new FakeBridge(),
    );
    const out = exports as unknown as { e: unknown; isError: boolean; name: string; text: string; cause: string };
    expect(isRetryableError(out.e)).toBe(true);
    expect(isRetryableError(new Error('plain'))).toBe(false);
    expect([out.isError, out.name, out.text, out.cause]).toEqual([true, 'RetryableError', 'RetryableError: conflict', 'busy']);
  });
});
