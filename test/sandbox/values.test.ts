// Nondeterministic values inside a session come from the bridge, in program
// order: Date, performance.now, crypto.randomUUID, crypto.getRandomValues.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeBridge, createRealm, plain, runApp, thrown, type Realm } from './harness.js';

let realm: Realm;
beforeAll(() => {
  realm = createRealm({ timeZone: 'UTC', locale: 'en-US' });
});

const UUID = '123e4567-e89b-42d3-a456-426614174000';

describe('values from the bridge', () => {
  it('consumes date, performance, uuid and random-bytes values in program order', () => {
    const bridge = new FakeBridge({
      values: {
        date: [1_700_000_000_000, 1_700_000_000_500, 1_700_000_001_000],
        performance: [12.5, 40.25],
        uuid: [UUID],
        'random-bytes': [[1, 2, 3, 4]],
      },
    });
    const { exports } = runApp(
      realm,
      `
      const out = [];
      out.push(Date.now());
      out.push(performance.now());
      out.push(new Date().getTime());
      out.push(crypto.randomUUID());
      out.push(Array.from(crypto.getRandomValues(new Uint8Array(4))));
      out.push(performance.now());
      out.push(Date());
      module.exports = out;
      `,
      bridge,
    );
    expect(plain(exports)).toEqual([
      1_700_000_000_000,
      12.5,
      1_700_000_000_500,
      UUID,
      [1, 2, 3, 4],
      40.25,
      'Tue Nov 14 2023 22:13:21 GMT+0000 (Coordinated Universal Time)',
    ]);
    expect(bridge.valueSources).toEqual(['date', 'performance', 'date', 'uuid', 'random-bytes', 'performance', 'date']);
    expect(bridge.events.find((e) => e.op === 'value' && e.source === 'random-bytes')).toEqual({
      op: 'value',
      source: 'random-bytes',
      args: [4],
    });
  });

  it('shadows Date.now and new Date() with whatever the bridge serves (property)', () => {
    const factory = realm.load(`
      module.exports = { now: Date.now(), made: new Date().getTime(), iso: new Date().toISOString(), isDate: new Date() instanceof Date };
    `);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -8.64e15, max: 8.64e15 }), { minLength: 4, maxLength: 4 }), (times) => {
        const bridge = new FakeBridge({ values: { date: times } });
        const scope = realm.api.createSession(bridge);
        const out = realm.api.runFactory(factory, scope) as Record<string, unknown>;
        expect(out.now).toBe(times[0]);
        expect(out.made).toBe(times[1]);
        expect(out.iso).toBe(new Date(times[2]).toISOString());
        expect(out.isDate).toBe(true);
        expect(bridge.valueSources).toEqual(['date', 'date', 'date', 'date']);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves new Date(x), Date.parse and Date.UTC alone (no bridge call)', () => {
    const bridge = new FakeBridge();
    const { exports } = runApp(
      realm,
      `
      module.exports = [
        new Date(0).toISOString(),
        new Date('2024-02-03T04:05:06Z').getTime(),
        new Date(2024, 1, 3, 4, 5, 6).toISOString(),
        Date.parse('2024-02-03T04:05:06.789Z'),
        Date.UTC(2024, 1, 3),
        new Date(new Date(5)).getTime(),
      ];
      `,
      bridge,
    );
    expect(plain(exports)).toEqual([
      '1970-01-01T00:00:00.000Z',
      Date.UTC(2024, 1, 3, 4, 5, 6),
      '2024-02-03T04:05:06.000Z',
      Date.UTC(2024, 1, 3, 4, 5, 6, 789),
      Date.UTC(2024, 1, 3),
      5,
    ]);
    expect(bridge.events).toEqual([]);
  });

  it('lets app classes extend the session Date', () => {
    const bridge = new FakeBridge({ values: { date: [86_400_000] } });
    const { exports } = runApp(
      realm,
      `
      class Day extends Date { label() { return this.toISOString().slice(0, 10); } }
      const d = new Day();
      module.exports = [d.label(), d instanceof Date, d instanceof Day, new Day(0).label()];
      `,
      bridge,
    );
    expect(plain(exports)).toEqual(['1970-01-02', true, true, '1970-01-01']);
  });

  it('fills getRandomValues byte for byte, in platform byte order for wider arrays', () => {
    const bridge = new FakeBridge({ values: { 'random-bytes': [new Uint8Array([1, 0, 0, 0, 0, 1, 0, 0])] } });
    const { exports } = runApp(realm, `const a = new Uint32Array(2); module.exports = { same: crypto.getRandomValues(a) === a, values: Array.from(a) };`, bridge);
    expect(plain(exports)).toEqual({ same: true, values: [1, 256] });
    expect(bridge.events[0]).toEqual({ op: 'value', source: 'random-bytes', args: [8] });
  });

  it('rejects float arrays and more than 65536 bytes before asking the bridge', () => {
    const bridge = new FakeBridge();
    const { exports } = runApp(
      realm,
      `
      const names = [];
      for (const make of [() => new Float64Array(1), () => new Uint8Array(65537), () => ({ length: 1 })]) {
        try { crypto.getRandomValues(make()); names.push('no error'); } catch (e) { names.push(e.name); }
      }
      module.exports = names;
      `,
      bridge,
    );
    expect(plain(exports)).toEqual(['TypeMismatchError', 'QuotaExceededError', 'TypeMismatchError']);
    expect(bridge.events).toEqual([]);
  });

  it('reports a bridge that serves the wrong shape as a BridgeProtocolError', () => {
    const cases: Array<[string, unknown, string]> = [
      ['date', 'yesterday', 'Date.now()'],
      ['performance', Number.NaN, 'performance.now()'],
      ['uuid', 42, 'crypto.randomUUID()'],
      ['random-bytes', [1, 2], 'crypto.getRandomValues(new Uint8Array(4))'],
      ['random-bytes', [1, 2, 3, 256], 'crypto.getRandomValues(new Uint8Array(4))'],
      ['random-seed', [1, 2, 3], 'Math.random()'],
      ['random-seed', [1, 2, 3, -1], 'Math.random()'],
    ];
    for (const [source, value, expression] of cases) {
      const bridge = new FakeBridge({ values: { [source]: [value] } });
      const factory = realm.load(`module.exports = () => ${expression};`);
      const { exports } = { exports: realm.api.runFactory(factory, realm.api.createSession(bridge)) as () => unknown };
      const error = thrown(() => exports());
      expect(error.name, `${source} ${String(value)}`).toBe('BridgeProtocolError');
      expect(error.message).toContain(`'${source}'`);
    }
  });
});
