// Sessions share one context but cannot leave state for each other: the
// intrinsics and the global object's properties are frozen, and module-level
// state is fresh per session because the bundle runs as a factory.

import { beforeAll, describe, expect, it } from 'vitest';
import { FakeBridge, createRealm, plain, runSession, sealableContextObject, thrown, type Realm } from './harness.js';

let realm: Realm;
beforeAll(() => {
  realm = createRealm();
});

const ATTEMPTS = [
  'Array.prototype.leak = 1',
  'Object.prototype.leak = 1',
  'Function.prototype.leak = 1',
  'Array.prototype.push = function () {}',
  'Object.prototype.toString = () => "pwned"',
  'JSON.parse = () => 1',
  'Math.max = () => 1',
  'Promise.prototype.then = null',
  'Date.prototype.getTime = () => 1',
  'Error.prototype.name = "X"',
  'String.prototype.trim = null',
  'Object.getPrototypeOf(function* () {}).leak = 1',
  'Object.getPrototypeOf([][Symbol.iterator]()).next = null',
  'globalThis.JSON = null',
  'globalThis.URL = null',
  'globalThis.Array = null',
  'URL.prototype.leak = 1',
  'TextEncoder.prototype.encode = null',
  'Intl.DateTimeFormat = null',
  "require('windback').defineApp = null",
  'Object.defineProperty(Object.prototype, "leak", { value: 1 })',
  'Object.setPrototypeOf(Array.prototype, null)',
  'Error.captureStackTrace = null',
];

describe('isolation between sessions', () => {
  it.each(ATTEMPTS)('`%s` throws in strict code', (attempt) => {
    const factory = realm.load(`module.exports = () => { ${attempt}; };`);
    const { exports } = runSession(realm, factory, new FakeBridge());
    const error = thrown(() => (exports as unknown as () => void)());
    expect(error.name).toBe('TypeError');
    expect(error.message).toMatch(/read only|not extensible|Cannot (assign|add|redefine|define)|prototype/);
  });

  it('cannot delete a global (a vm global answers false instead of throwing)', () => {
    const { exports } = runSession(realm, realm.load(`module.exports = [delete globalThis.Map, typeof Map, typeof globalThis.Map];`), new FakeBridge());
    expect([...(exports as unknown as unknown[])]).toEqual([false, 'function', 'function']);
  });

  it('leaves nothing for the next session to see, strict or not', () => {
    const probe = realm.load(`
      module.exports = [
        typeof Map, [].leak, ({}).leak, (function () {}).leak, typeof JSON.parse, typeof Math.max, typeof URL,
        ({}).toString(), Array.prototype.push.length, new Error('x').name, ' a '.trim(),
      ];
    `);
    const before = plain(runSession(realm, probe, new FakeBridge()).exports);
    for (const strict of [true, false]) {
      const attacker = realm.load(`
        for (const attempt of ${JSON.stringify([...ATTEMPTS, 'delete globalThis.Map'])}) { try { (0, eval)(attempt); } catch {} try { eval(attempt); } catch {} }
      `, { strict });
      runSession(realm, attacker, new FakeBridge());
    }
    expect(plain(runSession(realm, probe, new FakeBridge()).exports)).toEqual(before);
    expect(before).toEqual(['function', null, null, null, 'function', 'function', 'function', '[object Object]', 1, 'Error', 'a']);
  });

  it('gives each session fresh module-level state', () => {
    const factory = realm.load(`
      let hits = 0;
      const cache = new Map();
      module.exports = (key) => { hits++; cache.set(key, (cache.get(key) ?? 0) + 1); return [hits, cache.get(key)]; };
    `);
    const a = runSession(realm, factory, new FakeBridge()).exports as unknown as (k: string) => number[];
    expect([...a('x')]).toEqual([1, 1]);
    expect([...a('x')]).toEqual([2, 2]);
    const b = runSession(realm, factory, new FakeBridge()).exports as unknown as (k: string) => number[];
    expect([...b('x')]).toEqual([1, 1]);
    expect([...a('x')]).toEqual([3, 3]);
  });

  it('keeps the common override patterns working on frozen prototypes', () => {
    const factory = realm.load(`
      class AppError extends Error { constructor(m) { super(m); this.name = 'AppError'; } }
      const e = new Error('x'); e.message = 'changed'; e.name = 'Renamed';
      const o = { a: 1 }; o.toString = () => 'custom'; o.valueOf = () => 42;
      function Legacy() {} Legacy.prototype.toString = function () { return 'legacy'; };
      const f = function () {}; f.toString = () => 'src';
      module.exports = [String(new AppError('boom')), String(e), String(o), o + 0, String(new Legacy()), f.toString(), Object.assign({}, { toString: 1 }).toString];
    `);
    const { exports } = runSession(realm, factory, new FakeBridge());
    expect([...(exports as unknown as unknown[])]).toEqual(['AppError: boom', 'Renamed: changed', 'custom', 42, 'legacy', 'src', 1]);
  });

  it('keeps Error.stackTraceLimit writable (V8 reads it; libraries set it)', () => {
    const { exports } = runSession(
      realm,
      realm.load(`const old = Error.stackTraceLimit; Error.stackTraceLimit = 1; const lines = new Error('x').stack.split('\\n').length; Error.stackTraceLimit = old; module.exports = lines;`),
      new FakeBridge(),
    );
    expect(exports).toBe(2);
  });

  it('reports globals a session added by hand (a vm global cannot be made non-extensible)', () => {
    expect(realm.api.realmChanges()).toEqual([]);
    runSession(realm, realm.load(`globalThis.sneaky = 1;`), new FakeBridge());
    expect(realm.api.realmChanges()).toEqual(['globalThis.sneaky was added']);
    realm.run('delete globalThis.sneaky');
    expect(realm.api.realmChanges()).toEqual([]);
  });

  it('closes the stray-globals channel when the executor seals the context object (and then skips the scan)', () => {
    const { object, seal } = sealableContextObject();
    const sealedRealm = createRealm({ sealedGlobals: true }, object);
    seal();
    const { exports } = runSession(sealedRealm, sealedRealm.load(`try { globalThis.sneaky = 1; module.exports = 'added'; } catch (e) { module.exports = e.message; }`), new FakeBridge());
    expect(exports).toBe("Windback: app code may not add the global 'sneaky'");
    expect(sealedRealm.run('typeof sneaky')).toBe('undefined');
    expect(sealedRealm.api.realmChanges()).toEqual([]);
    // The sandbox still works behind the proxy.
    const bridge = new FakeBridge({ values: { date: [5] } });
    expect(runSession(sealedRealm, sealedRealm.load(`module.exports = [Date.now(), new URL('https://a.test/x').pathname];`), bridge).exports).toEqual([5, '/x']);
  });

  it('leaves RegExp.prototype unfrozen for speed, and reports any change to it', () => {
    const fresh = createRealm();
    expect(fresh.run('Object.isFrozen(RegExp.prototype) || !Object.isExtensible(RegExp.prototype)')).toBe(false);
    expect(fresh.run('Object.isFrozen(RegExp.prototype.exec) && Object.isFrozen(RegExp)')).toBe(true);
    runSession(fresh, fresh.load(`RegExp.prototype.extra = 1; const exec = RegExp.prototype.exec; RegExp.prototype.exec = function (s) { return exec.call(this, s); }; delete RegExp.prototype.compile;`), new FakeBridge());
    expect(fresh.api.realmChanges().sort()).toEqual(['RegExp.prototype.compile was deleted', 'RegExp.prototype.exec was redefined', 'RegExp.prototype.extra was added']);
  });

  it('freezes Object.prototype and Array.prototype in place (Object.isFrozen, without Object.freeze)', () => {
    expect(realm.run('[Object.isFrozen(Object.prototype), Object.isFrozen(Array.prototype), Object.isFrozen(Map.prototype)]')).toEqual([true, true, true]);
  });

  it('keeps undeclared assignments from creating globals in strict code', () => {
    const { exports } = runSession(realm, realm.load(`try { leaked = 1; module.exports = 'assigned'; } catch (e) { module.exports = e.name; }`), new FakeBridge());
    expect(exports).toBe('ReferenceError');
  });

  it('removes the sandbox API from the global object once the realm is installed', () => {
    expect(realm.run(`typeof globalThis.__windback_sandbox`)).toBe('undefined');
  });
});
