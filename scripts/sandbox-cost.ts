// What the sandbox costs: installRealm per context, createSession per
// session, and what the installed realm does to ordinary code.
// Not a test: run it with `npx tsx scripts/sandbox-cost.ts`; docs/sandbox.md
// quotes its output.
//
// The "ordinary code" section runs every mode in fresh child processes: V8's
// protectors (the switches behind its fast paths) are isolate-wide, so a
// realm installed in one context can slow down every other context in the
// process, the host included. Timing modes side by side in one process would
// hide that.

import { execFileSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import vm from 'node:vm';
import { SANDBOX_GLOBAL, wrapAppFactory } from '../src/sandbox/factory.js';
import type { SandboxApi, SessionBridge } from '../src/sandbox/index.js';

const bundle = buildSync({ entryPoints: ['src/sandbox/entry.ts'], bundle: true, format: 'iife', platform: 'neutral', target: 'es2022', write: false })
  .outputFiles[0].text;
const script = new vm.Script(bundle, { filename: 'windback-sandbox.js' });
const intrinsics = { URL, URLSearchParams, TextDecoder, AbortController, AbortSignal, EventTarget, Event, DOMException, Headers, Request, Response };
const processZone = new Intl.DateTimeFormat().resolvedOptions().timeZone;

function sandboxContext(timeZone = processZone, locale = 'en-US'): { context: vm.Context; api: SandboxApi } {
  const context = vm.createContext({});
  script.runInContext(context);
  const api = vm.runInContext(`globalThis.${SANDBOX_GLOBAL}`, context) as SandboxApi;
  api.installRealm({ intrinsics, timeZone, locale });
  return { context, api };
}

function bridge(timeZone: string): SessionBridge {
  let t = 1_700_000_000_000;
  return {
    timeZone,
    locale: 'en-US',
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    value: ((source: string) => (source === 'random-seed' ? [1, 2, 3, 4] : source === 'uuid' ? '123e4567-e89b-42d3-a456-426614174000' : t++)) as any,
    setTimer: () => {},
    clearTimer: () => {},
    call: () => Promise.reject(new Error('no calls')),
    log: () => {},
  };
}

/** Median over `rounds` of the mean time per call, in µs. */
function timePerCall(iterations: number, fn: () => unknown, rounds = 9): number {
  for (let i = 0; i < iterations; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1000 / iterations);
  }
  return samples.sort((a, b) => a - b)[Math.floor(rounds / 2)];
}

function measure(label: string, iterations: number, fn: () => unknown): void {
  console.log(`  ${label.padEnd(58)} ${timePerCall(iterations, fn).toFixed(3).padStart(10)} µs`);
}

/** Ordinary code, timed in a context and in the host by `--workloads <mode>` children. */
const WORKLOADS: Record<string, string> = {
  'array push/map/filter/reduce (1000)':
    'const a = []; for (let i = 0; i < 1000; i++) a.push(i); return a.map((x) => x * 2).filter((x) => x % 3).reduce((s, x) => s + x, 0);',
  'holey array reads (new Array(200))': 'const a = new Array(200); for (let i = 0; i < 200; i++) a[i] = i; let s = 0; for (let i = 0; i < 200; i++) s += a[i]; return s;',
  'for-of over an array (500 items)': 'const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; let s = 0; for (let i = 0; i < 50; i++) for (const x of a) s += x; return s;',
  'Map entries destructured (300)': 'const m = new Map([[1, 1], [2, 2], [3, 3]]); let s = 0; for (let i = 0; i < 100; i++) for (const [, v] of m) s += v; return s;',
  'spread + Math.max(...a) (50)': 'const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; let s = 0; for (let i = 0; i < 50; i++) s += [...a].length + Math.max(...a); return s;',
  'regexp replace/test/split (100)':
    "let s = 0; for (let i = 0; i < 100; i++) s += 'a-b-c'.replace(/-/g, '+').length + (/b/.test('abc') ? 1 : 0) + 'a,b'.split(/,/).length; return s;",
  'object literals + property reads (1000)': 'let s = 0; for (let i = 0; i < 1000; i++) { const o = { a: i, b: i + 1 }; s += o.a + o.b; } return s;',
  'hasOwnProperty.call (1000, tamed)': "let s = 0; const o = { a: 1 }; const has = Object.prototype.hasOwnProperty; for (let i = 0; i < 1000; i++) if (has.call(o, 'a')) s++; return s;",
  'obj.toString() (1000, tamed)': 'let s = 0; const o = {}; for (let i = 0; i < 1000; i++) s += o.toString().length; return s;',
  'new Error + err.name = (100)': "for (let i = 0; i < 100; i++) { const e = new Error('x'); e.name = 'AppError'; } return 0;",
  'JSON round trip (100)': "let s = 0; for (let i = 0; i < 100; i++) s += JSON.parse(JSON.stringify({ a: [1, 2, 3], b: 'x' })).a.length; return s;",
  'class instances + method calls (1000)': 'class P { constructor(x) { this.x = x; } get() { return this.x; } } let s = 0; for (let i = 0; i < 1000; i++) s += new P(i).get(); return s;',
  'string split/join/localeCompare (100)': "let s = 0; for (let i = 0; i < 100; i++) s += ('a,b,' + i).split(',').join('-').length + 'a'.localeCompare('b'); return s;",
  'typed array slice/subarray (100)': 'const t = new Uint8Array(16); let s = 0; for (let i = 0; i < 100; i++) s += t.slice(1).length + t.subarray(2).length; return s;',
  'promise then-chain (100)': 'let p = Promise.resolve(0); for (let i = 0; i < 100; i++) p = p.then((x) => x + 1); return p;',
};

if (process.argv[2] === '--workloads') {
  const mode = process.argv[3];
  const context = mode === 'plain' ? vm.createContext({}) : sandboxContext(processZone, mode === 'sandbox-de-DE' ? 'de-DE' : 'en-US').context;
  const out: Record<string, [number, number]> = {};
  for (const [name, body] of Object.entries(WORKLOADS)) {
    const inContext = new vm.Script(`(function () { 'use strict'; ${body} })`).runInContext(context) as () => unknown;
    const inHost = new Function(`'use strict'; ${body}`) as () => unknown;
    out[name] = [timePerCall(300, inContext), timePerCall(300, inHost)];
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

console.log(`node ${process.version}, process time zone ${processZone}\n`);
console.log('once per context');
measure('vm.createContext + evaluate bundle', 20, () => script.runInContext(vm.createContext({})));
measure('vm.createContext + evaluate bundle + installRealm', 20, () => sandboxContext());
measure('  ... with an emulated realm time zone (Pacific/Chatham)', 20, () => sandboxContext('Pacific/Chatham'));

const { context, api } = sandboxContext();
const sameZone = bridge(processZone);
const otherZone = bridge('Asia/Kolkata');
api.createSession(otherZone); // builds and caches that zone's kit
const tiny = new vm.Script(wrapAppFactory('module.exports = { ok: true };')).runInContext(context) as Function;
const typical = new vm.Script(
  wrapAppFactory(`
  const { defineApp } = require('windback');
  function handler(input, ctx) { return Promise.resolve(input); }
  module.exports = defineApp({ name: 'bench', migrations: [{ name: 'm1', sql: 'create table t (x)' }], kinds: { a: handler, b: handler, c: handler } });
`),
).runInContext(context) as Function;

console.log('\nonce per session');
measure('createSession (session zone = realm zone)', 200_000, () => api.createSession(sameZone));
measure('createSession (another zone, its kit cached)', 200_000, () => api.createSession(otherZone));
measure('createSession + runFactory (one-line module)', 200_000, () => api.runFactory(tiny, api.createSession(sameZone)));
measure('createSession + runFactory (defineApp, 3 kinds)', 100_000, () => api.runFactory(typical, api.createSession(sameZone)));
measure('realmChanges(), global object scanned', 20_000, () => api.realmChanges());
{
  // The executor's alternative: a context object that refuses new globals (RealmHost.sealedGlobals).
  let sealed = false;
  const contextObject = new Proxy({} as Record<PropertyKey, unknown>, {
    defineProperty: (t, k, d) => {
      if (sealed && !(k in t)) throw new TypeError(`no new globals (${String(k)})`);
      return Reflect.defineProperty(t, k, d);
    },
    set: (t, k, v, r) => {
      if (sealed && !(k in t)) throw new TypeError(`no new globals (${String(k)})`);
      return Reflect.set(t, k, v, r);
    },
  });
  const sealedContext = vm.createContext(contextObject);
  script.runInContext(sealedContext);
  const sealedApi = vm.runInContext(`globalThis.${SANDBOX_GLOBAL}`, sealedContext) as SandboxApi;
  sealedApi.installRealm({ intrinsics, sealedGlobals: true });
  sealed = true;
  measure('realmChanges(), global object sealed by the executor', 100_000, () => sealedApi.realmChanges());
}

console.log('\nlocal time: V8 native vs emulated through Intl');
const dateFactory = new vm.Script(
  wrapAppFactory('module.exports = (t) => { const d = new Date(t); return d.getHours() + d.getMinutes() + d.getDate(); };'),
).runInContext(context) as Function;
const nativeDates = api.runFactory(dateFactory, api.createSession(sameZone)) as (t: number) => number;
const emulatedDates = api.runFactory(dateFactory, api.createSession(otherZone)) as (t: number) => number;
let t0 = 1_700_000_000_000;
measure('new Date(t) + 3 local getters, native zone', 100_000, () => nativeDates((t0 += 1000)));
measure('new Date(t) + 3 local getters, emulated zone (new second)', 20_000, () => emulatedDates((t0 += 1000)));
measure('new Date(t) + 3 local getters, emulated zone (same second)', 100_000, () => emulatedDates(t0));

console.log('\nordinary code: plain context vs installed realm, each mode in its own processes (median of 3)');
const modes = ['plain', 'sandbox', 'sandbox-de-DE'];
const results: Record<string, Record<string, [number, number]>> = {};
for (const mode of modes) {
  const runs = [0, 1, 2].map(
    () =>
      JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'scripts/sandbox-cost.ts', '--workloads', mode], { encoding: 'utf8' })) as Record<
        string,
        [number, number]
      >,
  );
  results[mode] = Object.fromEntries(
    Object.keys(WORKLOADS).map((name) => [name, [0, 1].map((i) => runs.map((r) => r[name][i]).sort((a, b) => a - b)[1]) as [number, number]]),
  );
}
console.log(`  ${'µs per call'.padEnd(40)} ${'plain'.padStart(8)} ${'realm'.padStart(8)} ${'ratio'.padStart(6)}  ${'host'.padStart(5)}  ${'de-DE'.padStart(5)}`);
for (const name of Object.keys(WORKLOADS)) {
  const [plain, plainHost] = results.plain[name];
  const [realm, realmHost] = results.sandbox[name];
  const [german] = results['sandbox-de-DE'][name];
  const ratio = (x: number): string => `${x.toFixed(1)}x`.padStart(5);
  console.log(`  ${name.padEnd(40)} ${plain.toFixed(2).padStart(8)} ${realm.toFixed(2).padStart(8)} ${ratio(realm / plain).padStart(6)}  ${ratio(realmHost / plainHost)}  ${ratio(german / plain)}`);
}
console.log('  (ratio: the context with the realm installed vs a plain one; host: the host realm of the same processes;');
console.log('   de-DE: a realm whose locale differs from the process, so String/Number locale methods are pinned)');
