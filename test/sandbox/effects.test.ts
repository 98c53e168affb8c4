// Effects leave the session through the bridge: fetch as a journaled call,
// console as log lines, timers as armed/cleared ids that the host fires.

import { beforeAll, describe, expect, it } from 'vitest';
import { FakeBridge, createRealm, plain, runApp, type Realm } from './harness.js';

let realm: Realm;
beforeAll(() => {
  realm = createRealm();
});

type AsyncExport = () => Promise<unknown>;

describe('fetch', () => {
  it('round-trips a request and its response through bridge.call', async () => {
    const bridge = new FakeBridge();
    bridge.fetchResults.push({
      status: 201,
      statusText: 'Created',
      headers: { 'Content-Type': 'application/json', 'X-Id': '7' },
      body: '{"id":7,"name":"é"}',
    });
    const { exports } = runApp(
      realm,
      `
      module.exports = async () => {
        const res = await fetch('https://api.example.com/items?x=1', {
          method: 'post',
          headers: { 'X-Trace': 'abc', Accept: 'application/json' },
          body: JSON.stringify({ name: 'é' }),
        });
        const body = await res.json();
        return {
          status: res.status, ok: res.ok, statusText: res.statusText, url: res.url,
          type: res.headers.get('content-type'), id: res.headers.get('X-ID'), missing: res.headers.get('nope'),
          body, bodyIsObject: body instanceof Object, used: res.bodyUsed,
          promiseIsNative: fetch('x:') instanceof Promise,
        };
      };
      `,
      bridge,
    );
    bridge.fetchResults.push({ status: 200, statusText: 'OK', headers: {}, body: '' });
    const out = (await (exports as unknown as AsyncExport)()) as Record<string, unknown>;
    expect(plain(out)).toEqual({
      status: 201,
      ok: true,
      statusText: 'Created',
      url: 'https://api.example.com/items?x=1',
      type: 'application/json',
      id: '7',
      missing: null,
      body: { id: 7, name: 'é' },
      bodyIsObject: true,
      used: true,
      promiseIsNative: true,
    });
    expect(bridge.events[0]).toEqual({
      op: 'call',
      name: 'fetch',
      request: {
        url: 'https://api.example.com/items?x=1',
        method: 'POST',
        headers: { 'x-trace': 'abc', accept: 'application/json', 'content-type': 'text/plain;charset=UTF-8' },
        body: '{"name":"é"}',
      },
    });
  });

  it('sends bytes as base64 and reads text, bytes and arrayBuffer back', async () => {
    const bridge = new FakeBridge();
    bridge.fetchResults.push({ status: 200, statusText: 'OK', headers: {}, body: 'AAEC/w==', bodyEncoding: 'base64' });
    bridge.fetchResults.push({ status: 200, statusText: 'OK', headers: {}, body: 'héllo' });
    const { exports } = runApp(
      realm,
      `
      module.exports = async () => {
        const a = await fetch(new URL('https://x.test/up'), { method: 'PUT', body: new Uint8Array([104, 105]) });
        const bytes = await a.bytes();
        const b = await fetch('https://x.test/t', { method: 'PATCH', body: new URLSearchParams({ q: 'a b' }) });
        const copy = b.clone();
        const buffer = await b.arrayBuffer();
        return { bytes: Array.from(bytes), isU8: bytes instanceof Uint8Array, text: await copy.text(), bufferLength: buffer.byteLength, isAB: buffer instanceof ArrayBuffer };
      };
      `,
      bridge,
    );
    const out = await (exports as unknown as AsyncExport)();
    expect(plain(out)).toEqual({ bytes: [0, 1, 2, 255], isU8: true, text: 'héllo', bufferLength: 6, isAB: true });
    expect(bridge.requests).toEqual([
      { url: 'https://x.test/up', method: 'PUT', headers: {}, body: 'aGk=', bodyEncoding: 'base64' },
      {
        url: 'https://x.test/t',
        method: 'PATCH',
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: 'q=a+b',
      },
    ]);
  });

  it('accepts a Request and Headers, and refuses a body twice', async () => {
    const bridge = new FakeBridge();
    bridge.fetchResults.push({ status: 404, statusText: 'Not Found', headers: { a: '1' }, body: 'nope' });
    const { exports } = runApp(
      realm,
      `
      module.exports = async () => {
        const req = new Request('https://x.test/r', { method: 'POST', body: 'payload', headers: new Headers([['X-A', '1'], ['X-A', '2']]) });
        const res = await fetch(req);
        await res.text();
        let second;
        try { await res.text(); } catch (e) { second = e.name + ': ' + e.message; }
        return { ok: res.ok, status: res.status, second, entries: [...res.headers] };
      };
      `,
      bridge,
    );
    const out = await (exports as unknown as AsyncExport)();
    expect(plain(out)).toEqual({ ok: false, status: 404, second: 'TypeError: Body is unusable: Body has already been read', entries: [['a', '1']] });
    expect(bridge.requests[0]).toMatchObject({ url: 'https://x.test/r', method: 'POST', body: 'payload', headers: { 'x-a': '1, 2' } });
  });

  it('turns a failed call into TypeError("fetch failed") with the cause, and honours an aborted signal', async () => {
    const bridge = new FakeBridge();
    bridge.fetchResults.push(new Error('ECONNREFUSED'));
    const { exports } = runApp(
      realm,
      `
      module.exports = async () => {
        const errors = [];
        try { await fetch('https://down.test/'); } catch (e) { errors.push([e.name, e.message, e.cause && e.cause.message, e instanceof TypeError]); }
        const c = new AbortController();
        c.abort();
        try { await fetch('https://x.test/', { signal: c.signal }); } catch (e) { errors.push([e.name]); }
        try { await fetch('/relative'); } catch (e) { errors.push([e.name, e.message]); }
        try { await fetch('https://x.test/', { method: 'GET', body: 'x' }); } catch (e) { errors.push([e.message]); }
        return errors;
      };
      `,
      bridge,
    );
    const out = await (exports as unknown as AsyncExport)();
    expect(plain(out)).toEqual([
      ['TypeError', 'fetch failed', 'ECONNREFUSED', true],
      ['AbortError'],
      ['TypeError', 'Failed to parse URL from /relative'],
      ['Request with GET/HEAD method cannot have body.'],
    ]);
    expect(bridge.requests).toHaveLength(1);
  });

  it('rejects an in-flight fetch when its signal aborts', async () => {
    const bridge = new FakeBridge();
    bridge.hangCalls = true;
    const { exports } = runApp(
      realm,
      `
      const c = new AbortController();
      module.exports = { c, p: fetch('https://slow.test/', { signal: c.signal }).then(() => 'resolved', (e) => e.name) };
      `,
      bridge,
    );
    const { c, p } = exports as { c: AbortController; p: Promise<string> };
    expect(bridge.requests).toHaveLength(0);
    await Promise.resolve();
    c.abort();
    expect(await p).toBe('AbortError');
    expect(bridge.requests).toHaveLength(1);
  });
});

describe('console', () => {
  it('forwards each level with the app’s own arguments', () => {
    const bridge = new FakeBridge({ values: { performance: [10, 12.5] } });
    runApp(
      realm,
      `
      const obj = { a: 1 };
      console.log('hello', 42, obj);
      console.info('i'); console.warn('w'); console.error('e'); console.debug('d');
      console.assert(1 === 2, 'math is %s', 'broken'); console.assert(true, 'silent');
      console.count(); console.count();
      console.time('t'); console.timeEnd('t');
      const { log } = console; log('detached');
      `,
      bridge,
    );
    expect(bridge.logs.map((l) => [l.level, plain(l.args)])).toEqual([
      ['log', ['hello', 42, { a: 1 }]],
      ['info', ['i']],
      ['warn', ['w']],
      ['error', ['e']],
      ['debug', ['d']],
      ['warn', ['Assertion failed: math is %s', 'broken']],
      ['log', ['default: 1']],
      ['log', ['default: 2']],
      ['log', ['t: 2.500ms']],
      ['log', ['detached']],
    ]);
  });

  it('gives every method detached, lets the app replace one, and keeps counts per session', () => {
    const code = `
      const { count, timeLog, table } = console;
      count('x'); console.count('x'); count();
      console.countReset('x'); count('x');
      timeLog('none');
      table([1, 2]);
      console.group = (...a) => console.log('grouped', ...a);
      console.group('g');
      module.exports = { keys: Object.keys(console) };
    `;
    const first = new FakeBridge();
    const { exports } = runApp(realm, code, first);
    expect(first.logs.map((l) => [l.level, plain(l.args)])).toEqual([
      ['log', ['x: 1']],
      ['log', ['x: 2']],
      ['log', ['default: 1']],
      ['log', ['x: 1']],
      ['warn', ["No such label 'none' for console.timeLog()"]],
      ['log', [[1, 2]]],
      ['log', ['grouped', 'g']],
    ]);
    expect((exports as { keys: string[] }).keys).toEqual(expect.arrayContaining(['log', 'info', 'warn', 'error', 'debug', 'count', 'timeLog', 'table', 'group']));
    // A second session starts its counts afresh, and sees no replaced method.
    const second = new FakeBridge();
    runApp(realm, `console.count('x'); console.group('plain');`, second);
    expect(second.logs.map((l) => [l.level, plain(l.args)])).toEqual([
      ['log', ['x: 1']],
      ['log', ['plain']],
    ]);
  });
});

describe('timers', () => {
  it('arms timers through the bridge with session-local ids and fires callbacks with their arguments', () => {
    const bridge = new FakeBridge();
    const { exports } = runApp(
      realm,
      `
      const fired = [];
      const t1 = setTimeout((a, b) => fired.push(['timeout', a, b]), 50, 'x', 'y');
      const t2 = setInterval(() => fired.push(['interval']), 20);
      const t3 = setImmediate((v) => fired.push(['immediate', v]), 'now');
      const t4 = setTimeout(() => fired.push(['never']), 0);
      clearTimeout(t4);
      module.exports = { fired, t1, t2, t3, ids: [+t1, +t2, +t3, +t4], clear: () => clearInterval(t2) };
      `,
      bridge,
    );
    const out = exports as { fired: unknown[]; ids: number[]; clear: () => void };
    expect(out.ids).toEqual([1, 2, 3, 4]);
    expect(bridge.events).toEqual([
      { op: 'setTimer', id: 1, kind: 'timeout', delayMs: 50 },
      { op: 'setTimer', id: 2, kind: 'interval', delayMs: 20 },
      { op: 'setTimer', id: 3, kind: 'immediate', delayMs: 0 },
      { op: 'setTimer', id: 4, kind: 'timeout', delayMs: 1 },
      { op: 'clearTimer', id: 4 },
    ]);
    bridge.fire(3);
    bridge.fire(2);
    bridge.fire(1);
    bridge.fire(2);
    out.clear();
    expect(plain(out.fired)).toEqual([['immediate', 'now'], ['interval'], ['timeout', 'x', 'y'], ['interval']]);
    expect(bridge.events.at(-1)).toEqual({ op: 'clearTimer', id: 2 });
  });

  it('ignores fire() for cleared or already-fired timers, and clears by numeric id', () => {
    const bridge = new FakeBridge();
    const { exports } = runApp(
      realm,
      `
      let count = 0;
      const t = setTimeout(() => count++, 5);
      const u = setTimeout(() => count += 100, 5);
      module.exports = { t, u, count: () => count, clearById: () => clearTimeout(Number(u)) };
      `,
      bridge,
    );
    const out = exports as { count: () => number; clearById: () => void };
    const fireT = bridge.timers.get(1)!.fire;
    const fireU = bridge.timers.get(2)!.fire;
    fireT();
    fireT();
    out.clearById();
    fireU();
    expect(out.count()).toBe(1);
    expect(bridge.events.filter((e) => e.op === 'clearTimer')).toEqual([{ op: 'clearTimer', id: 2 }]);
  });

  it('normalizes delays like Node and supports refresh, unref and close', () => {
    const bridge = new FakeBridge();
    const { exports } = runApp(
      realm,
      `
      const f = () => {};
      const delays = [setTimeout(f), setTimeout(f, -5), setTimeout(f, 'x'), setTimeout(f, 2 ** 31), setTimeout(f, 12.9)];
      const t = setTimeout(f, 30).unref();
      const r = t.refresh();
      const closed = setInterval(f, 10).close();
      module.exports = { hasRef: t.hasRef(), same: r === t, id: +t };
      `,
      bridge,
    );
    expect(plain(exports)).toEqual({ hasRef: false, same: true, id: 7 });
    expect(bridge.events.filter((e) => e.op === 'setTimer').map((e) => (e as { delayMs: number }).delayMs)).toEqual([1, 1, 1, 1, 12, 30, 30, 10]);
    expect(bridge.events.slice(-4)).toEqual([
      { op: 'clearTimer', id: 6 },
      { op: 'setTimer', id: 7, kind: 'timeout', delayMs: 30 },
      { op: 'setTimer', id: 8, kind: 'interval', delayMs: 10 },
      { op: 'clearTimer', id: 8 },
    ]);
  });

  it('requires a function callback', () => {
    const { exports } = runApp(realm, `try { setTimeout('alert(1)', 1); } catch (e) { module.exports = e.name; }`);
    expect(exports).toBe('TypeError');
  });
});
