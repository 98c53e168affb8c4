// The standard globals a bare context lacks work inside a session, and give
// back objects of the context's realm where that matters.

import fc from 'fast-check';
import v8 from 'node:v8';
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeBridge, createRealm, plain, runApp, type Realm } from './harness.js';

let realm: Realm;
beforeAll(() => {
  realm = createRealm();
});

function inApp<T>(body: string): T {
  return runApp(realm, `module.exports = (() => { ${body} })();`, new FakeBridge()).exports as unknown as T;
}

describe('standard globals', () => {
  it('has URL and URLSearchParams, with instanceof across the host classes', () => {
    const out = inApp<unknown[]>(`
      const u = new URL('../b?x=1&y=2#h', 'https://example.com/a/c');
      u.searchParams.append('z', '3');
      return [u.href, u.searchParams.get('y'), u instanceof URL, u.searchParams instanceof URLSearchParams, String(new URLSearchParams({ a: '1 2' })), URL.canParse('nope'), JSON.stringify({ u })];
    `);
    expect(plain(out)).toEqual([
      'https://example.com/b?x=1&y=2&z=3#h',
      '2',
      true,
      true,
      'a=1+2',
      false,
      '{"u":"https://example.com/b?x=1&y=2&z=3#h"}',
    ]);
  });

  it('turns errors thrown by host classes into errors of the context', () => {
    const out = inApp<unknown[]>(`
      const caught = [];
      for (const attempt of [() => new URL('not a url'), () => new TextDecoder('no-such-encoding'), () => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])), () => new Headers([['bad name', 'x']])]) {
        try { attempt(); caught.push('no error'); } catch (e) { caught.push([e.name, e instanceof TypeError || e instanceof RangeError, e instanceof Error]); }
      }
      let code; try { new URL('nope'); } catch (e) { code = e.code; }
      caught.push(code);
      return caught;
    `);
    expect(plain(out)).toEqual([
      ['TypeError', true, true],
      ['RangeError', true, true],
      ['TypeError', true, true],
      ['TypeError', true, true],
      'ERR_INVALID_URL',
    ]);
  });

  it('has TextEncoder/TextDecoder producing context Uint8Arrays and matching the host (property)', () => {
    const factory = realm.load(`
      module.exports = (s) => {
        const bytes = new TextEncoder().encode(s);
        const into = new Uint8Array(bytes.length + 2);
        const r = new TextEncoder().encodeInto(s, into);
        return { bytes: Array.from(bytes), isU8: bytes instanceof Uint8Array, round: new TextDecoder().decode(bytes), read: r.read, written: r.written };
      };
    `);
    const encode = realm.api.runFactory(factory, realm.api.createSession(new FakeBridge())) as (s: string) => Record<string, unknown>;
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = encode(s);
        const host = new TextEncoder().encode(s);
        expect(out.bytes).toEqual(Array.from(host));
        expect(out.isU8).toBe(true);
        expect(out.round).toBe(new TextDecoder().decode(host));
        expect([out.read, out.written]).toEqual([s.length, host.length]);
      }),
      { numRuns: 300 },
    );
  });

  it('has atob and btoa matching the host (property)', () => {
    const factory = realm.load(`module.exports = { atob: (s) => { try { return atob(s); } catch (e) { return e.name; } }, btoa: (s) => { try { return btoa(s); } catch (e) { return e.name; } } };`);
    const fns = realm.api.runFactory(factory, realm.api.createSession(new FakeBridge())) as { atob: (s: string) => string; btoa: (s: string) => string };
    const hostCall = (f: (s: string) => string, s: string): string => {
      try {
        return f(s);
      } catch (e) {
        return (e as Error).name;
      }
    };
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 300 }).map((c) => String.fromCharCode(c)) }), (s) => {
        expect(fns.btoa(s)).toBe(hostCall(btoa, s));
        const encoded = hostCall(btoa, s);
        expect(fns.atob(encoded)).toBe(hostCall(atob, encoded));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'AB+/=\t \n-_a0é'.split('')) }), (s) => {
        expect(fns.atob(s)).toBe(hostCall(atob, s));
      }),
      { numRuns: 500 },
    );
  });

  it('has structuredClone giving context objects equal to the host clone (v8.serialize)', () => {
    // proto: the clone's prototype chain ends at the context's Object.prototype (it is a context object).
    const factory = realm.load(`
      const ours = (x) => { if (x === null || typeof x !== 'object') return true; let p = x; while (Object.getPrototypeOf(p) !== null) p = Object.getPrototypeOf(p); return p === Object.prototype; };
      module.exports = (v) => { const c = structuredClone(v); return { c, proto: ours(c) }; };
    `);
    const clone = realm.api.runFactory(factory, realm.api.createSession(new FakeBridge())) as (v: unknown) => { c: unknown; proto: boolean };
    const valueArb = fc.letrec((tie) => ({
      leaf: fc.oneof(
        fc.integer(),
        fc.double(),
        fc.string(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.bigInt(),
        fc.date({ noInvalidDate: false }),
        fc.constantFrom(/a+b/gi, /x/y),
        fc.uint8Array({ maxLength: 8 }),
        fc.float64Array({ maxLength: 4 }),
      ),
      node: fc.oneof(
        { depthSize: 'small' },
        tie('leaf'),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 4 }), tie('node'), { maxKeys: 4 }),
        fc.array(fc.tuple(tie('leaf'), tie('node')), { maxLength: 3 }).map((e) => new Map(e)),
        fc.array(tie('leaf'), { maxLength: 3 }).map((e) => new Set(e)),
      ),
    })).node;
    fc.assert(
      fc.property(valueArb, (value) => {
        const out = clone(value);
        // Round-tripping normalizes number representations (Smi versus heap number), nothing else.
        const canonical = (v: unknown): Buffer => v8.serialize(v8.deserialize(v8.serialize(v)));
        expect(canonical(out.c)).toEqual(canonical(structuredClone(value)));
        expect(out.proto).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('clones cycles, shared references, errors and refuses functions like the host', () => {
    const out = inApp<Record<string, unknown>>(`
      const shared = { n: 1 };
      const a = { shared, again: shared, list: [shared] };
      a.self = a;
      const c = structuredClone(a);
      const buf = new ArrayBuffer(8);
      const views = structuredClone([new Uint8Array(buf, 2, 2), new DataView(buf)]);
      const err = structuredClone(new RangeError('r', { cause: { x: 1 } }));
      const refused = [];
      for (const bad of [() => 1, Symbol('s'), Promise.resolve(), new WeakMap()]) {
        try { structuredClone(bad); refused.push('cloned'); } catch (e) { refused.push(e.name); }
      }
      class Point { constructor() { this.x = 1; } get y() { return 2; } }
      const p = structuredClone(new Point());
      return {
        cycle: c.self === c, shared: c.shared === c.again && c.list[0] === c.shared, copy: c.shared !== shared,
        sameBuffer: views[0].buffer === views[1].buffer, offset: views[0].byteOffset,
        err: [err instanceof RangeError, err.message, err.cause.x], refused,
        point: [p instanceof Point, p.x, p.y, Object.getPrototypeOf(p) === Object.prototype],
      };
    `);
    expect(plain(out)).toEqual({
      cycle: true,
      shared: true,
      copy: true,
      sameBuffer: true,
      offset: 2,
      err: [true, 'r', 1],
      refused: ['DataCloneError', 'DataCloneError', 'DataCloneError', 'DataCloneError'],
      point: [false, 1, null, true],
    });
  });

  it('has AbortController, AbortSignal, EventTarget, Event and DOMException', () => {
    const out = inApp<unknown[]>(`
      const c = new AbortController();
      const seen = [];
      c.signal.addEventListener('abort', (e) => seen.push(e.type));
      c.abort(new Error('stop'));
      const target = new EventTarget();
      target.addEventListener('ping', (e) => seen.push(e instanceof Event ? 'event' : 'not event'));
      target.dispatchEvent(new Event('ping'));
      const already = AbortSignal.abort();
      return [seen, c.signal.aborted, c.signal.reason.message, c.signal instanceof AbortSignal, c.signal instanceof EventTarget, already.reason instanceof DOMException, already.reason.name];
    `);
    expect(plain(out)).toEqual([['abort', 'event'], true, 'stop', true, true, true, 'AbortError']);
  });

  it('has Headers, Request and Response for apps that build them', async () => {
    const { exports } = runApp(
      realm,
      `
      module.exports = async () => {
        const h = new Headers({ 'Content-Type': 'text/plain' });
        const r = new Response('hello', { status: 201, headers: h });
        const q = new Request('https://x.test/', { method: 'POST', body: 'b' });
        return [h.get('content-type'), r.status, await r.text(), q.method, await q.text(), r instanceof Response];
      };
      `,
      new FakeBridge(),
    );
    expect(plain(await (exports as unknown as () => Promise<unknown>)())).toEqual(['text/plain', 201, 'hello', 'POST', 'b', true]);
  });

  it('has queueMicrotask on the context queue, and a global alias', async () => {
    const { exports } = runApp(
      realm,
      `
      const order = [];
      queueMicrotask(() => order.push('micro'));
      Promise.resolve().then(() => order.push('then'));
      order.push('sync');
      module.exports = { order, global: global === globalThis };
      `,
      new FakeBridge(),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(plain(exports)).toEqual({ order: ['sync', 'micro', 'then'], global: true });
  });

  it('defaults Intl and toLocaleString to the session locale', () => {
    const bridge = new FakeBridge({ locale: 'de-DE' });
    const { exports } = runApp(
      realm,
      `module.exports = [new Intl.NumberFormat().format(1234.5), new Intl.NumberFormat().resolvedOptions().locale, new Date(0).toLocaleDateString(), new Intl.NumberFormat('en-US').format(1234.5), Intl.DateTimeFormat().resolvedOptions().locale];`,
      bridge,
    );
    expect([...(exports as unknown as string[])]).toEqual(['1.234,5', 'de-DE', '1.1.1970', '1,234.5', 'de-DE']);
  });
});

describe('the realm locale', () => {
  it('pins localeCompare, toLocaleString and toLocaleUpperCase to the realm locale (property)', () => {
    const turkish = createRealm({ locale: 'tr-TR' });
    expect(turkish.info.locale).toBe('tr-TR');
    const factory = turkish.load(`
      module.exports = (words, n) => ({
        sorted: [...words].sort((a, b) => a.localeCompare(b)),
        number: n.toLocaleString(),
        big: BigInt(Math.trunc(n)).toLocaleString(),
        upper: words.map((w) => w.toLocaleUpperCase()),
        explicit: n.toLocaleString('en-US'),
        intl: new Intl.NumberFormat().format(n),
      });
    `);
    const fn = turkish.api.runFactory(factory, turkish.api.createSession(new FakeBridge({ locale: 'tr-TR' }))) as (w: string[], n: number) => Record<string, unknown>;
    fc.assert(
      fc.property(fc.array(fc.constantFrom('ılık', 'istanbul', 'Çay', 'çiçek', 'zeytin', 'Ölçü', 'apple', 'İzmir', 'ihlamur'), { maxLength: 8 }), fc.double({ min: -1e9, max: 1e9, noNaN: true }), (words, n) => {
        const out = plain(fn(words, n));
        expect(out).toEqual({
          sorted: [...words].sort((a, b) => a.localeCompare(b, 'tr-TR')),
          number: n.toLocaleString('tr-TR'),
          big: BigInt(Math.trunc(n)).toLocaleString('tr-TR'),
          upper: words.map((w) => w.toLocaleUpperCase('tr-TR')),
          explicit: n.toLocaleString('en-US'),
          intl: new Intl.NumberFormat('tr-TR').format(n),
        });
      }),
      { numRuns: 100 },
    );
  });
});
