// Time zone pinning: a session whose bridge names a zone other than the
// process's gets local time emulated through Intl. The oracle is V8 itself,
// run in a child process whose TZ is that zone.

import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeBridge, createRealm, plain, runApp, runSession, type Realm } from './harness.js';

const PROCESS_ZONE = new Intl.DateTimeFormat().resolvedOptions().timeZone;
/** Zones with whole-hour, half-hour and 45-minute offsets, 30-minute DST, southern DST, and none. */
const ZONES = ['America/New_York', 'Europe/London', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/Sao_Paulo', 'UTC'].filter(
  (zone) => new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone !== PROCESS_ZONE,
);

interface Probe {
  instants: number[];
  fields: number[][];
  strings: string[];
  /** [instant (or an unparsable string, for an invalid date), method, arguments] */
  setters: Array<[number | string, string, number[]]>;
}

/** The same computations, as a function source: run by the oracle child and inside the sandbox. */
const COMPUTE = `(probe) => ({
  instants: probe.instants.map((t) => {
    const d = new Date(t);
    return [d.toString(), d.toDateString(), d.toTimeString(), d.getFullYear(), d.getMonth(), d.getDate(), d.getDay(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds(), d.getTimezoneOffset(), d.getYear(), d.toLocaleString('en-US')];
  }),
  fields: probe.fields.map((f) => new Date(...f).getTime()),
  strings: probe.strings.map((s) => Date.parse(s)),
  setters: probe.setters.map(([t, method, args]) => { const d = new Date(t); const r = d[method](...args); return [r, d.getTime()]; }),
})`;

function oracle(zone: string, probe: Probe): unknown {
  const script = `let input = ''; process.stdin.on('data', (c) => input += c); process.stdin.on('end', () => { process.stdout.write(JSON.stringify((${COMPUTE})(JSON.parse(input)))); });`;
  const out = execFileSync(process.execPath, ['-e', script], {
    input: JSON.stringify(probe),
    env: { ...process.env, TZ: zone, LC_ALL: 'en_US.UTF-8', LANG: 'en_US.UTF-8' },
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

/** Offset transitions of `zone` in [from, to), found by scanning in 30-minute steps. */
function transitions(zone: string, from: number, to: number): number[] {
  const dtf = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  const offsetAt = (t: number): string => dtf.formatToParts(t).find((p) => p.type === 'timeZoneName')!.value;
  const found: number[] = [];
  let previous = offsetAt(from);
  for (let t = from; t < to; t += 1_800_000) {
    const now = offsetAt(t);
    if (now !== previous) {
      // Narrow down to the minute.
      let lo = t - 1_800_000;
      let hi = t;
      while (hi - lo > 60_000) {
        const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
        if (offsetAt(mid) === previous) lo = mid;
        else hi = mid;
      }
      found.push(hi);
      previous = now;
    }
  }
  return found;
}

function fieldsOf(wall: number): number[] {
  const d = new Date(wall);
  return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function stringsFor([y, m, d, h, mi, s]: number[]): string[] {
  return [
    `${y}-${pad(m + 1)}-${pad(d)}T${pad(h)}:${pad(mi)}`,
    `${y}-${pad(m + 1)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}.250`,
    `${y}-${pad(m + 1)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}Z`,
    `${y}-${pad(m + 1)}-${pad(d)}T${pad(h)}:${pad(mi)}+05:30`,
    `${y}-${pad(m + 1)}-${pad(d)}`,
    `${y}-${pad(m + 1)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`,
    `${MONTHS[m]} ${d} ${y} ${pad(h)}:${pad(mi)}`,
    `${MONTHS[m]} ${d}, ${y}`,
    `${y}/${pad(m + 1)}/${pad(d)} ${pad(h)}:${pad(mi)}`,
    `${pad(m + 1)}/${pad(d)}/${y}`,
    `${MONTHS[m]} ${d} ${y} ${pad(h)}:${pad(mi)} GMT+0100`,
    `Tue, ${pad(d)} ${MONTHS[m]} ${y} ${pad(h)}:${pad(mi)}:${pad(s)} -0500`,
    `${MONTHS[m]} ${d} ${y} ${pad(h)}:${pad(mi)} UTC`,
    `${MONTHS[m]} ${d} ${y} ${pad(h)}:${pad(mi)} PDT`,
  ];
}

function probeFor(zone: string): Probe {
  const from = Date.UTC(2023, 0, 1);
  const to = Date.UTC(2025, 0, 1);
  const edges = transitions(zone, from, to);
  const instants = fc.sample(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }), { seed: 42, numRuns: 300 });
  const fields: number[][] = fc.sample(
    fc.tuple(
      fc.integer({ min: 1900, max: 2100 }),
      fc.integer({ min: 0, max: 11 }),
      fc.integer({ min: 1, max: 28 }),
      fc.integer({ min: 0, max: 23 }),
      fc.integer({ min: 0, max: 59 }),
      fc.integer({ min: 0, max: 59 }),
    ),
    { seed: 7, numRuns: 150 },
  );
  for (const edge of edges) {
    for (const delta of [-3_600_000, -1_800_000, -60_000, -1, 0, 1, 60_000, 1_800_000, 3_600_000]) instants.push(edge + delta);
    // Wall-clock times around the transition, in 15-minute steps: these hit the gap and the overlap.
    const approxWall = edge + zoneOffset(zone, edge - 1);
    for (let w = approxWall - 7_200_000; w <= approxWall + 7_200_000; w += 900_000) fields.push(fieldsOf(w));
  }
  // Every string form for 30 random wall times and for all the wall times around transitions.
  const strings = [...fields.slice(0, 30), ...fields.slice(150)].flatMap(stringsFor);
  instants.push(0, Date.UTC(1000, 5, 1), Date.UTC(1583, 0, 1), Date.UTC(2038, 0, 19, 3, 14, 8), Date.UTC(9999, 11, 31, 23, 59, 59));
  fields.push([99, 0], [0, 0, 1], [2024, 13, 40, 25, 61], [2024, 0, 1, 0, 0, 0, 999.7]);
  strings.push('2024-02-29', '+002024-06-01T12:00', 'not a date', '2024-06-01T24:00');
  const setters: Probe['setters'] = [];
  fc.sample(fc.tuple(fc.constantFrom(...instants), fc.integer({ min: -30, max: 70 }), fc.integer({ min: 0, max: 59 })), { seed: 3, numRuns: 80 }).forEach(
    ([t, a, b], i) => {
      const calls: Array<[string, number[]]> = [
        ['setHours', [a]],
        ['setHours', [a, b, b, 500]],
        ['setMinutes', [b, a]],
        ['setSeconds', [a]],
        ['setMilliseconds', [a * 40]],
        ['setDate', [a]],
        ['setMonth', [a % 13]],
        ['setFullYear', [1950 + a, b % 12, 1 + (b % 28)]],
        ['setYear', [a + 30]],
      ];
      const [method, args] = calls[i % calls.length];
      setters.push([t, method, args]);
    },
  );
  for (const edge of edges) {
    const wall = fieldsOf(edge + zoneOffset(zone, edge - 1));
    setters.push([edge - 86_400_000, 'setHours', [wall[3], wall[4] + 30]]);
  }
  setters.push(['invalid', 'setHours', [1]], ['invalid', 'setFullYear', [2020]]);
  return { instants, fields, strings, setters };
}

/** Offset of `zone` at t in ms (wall = t + offset), by Intl, for building probes only. */
function zoneOffset(zone: string, t: number): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(t).find((p) => p.type === 'timeZoneName')!.value;
  const m = /GMT([+-])(\d\d):(\d\d)/.exec(name);
  return m === null ? 0 : (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3_600_000 + Number(m[3]) * 60_000);
}

let realm: Realm;
let compute: Function;
beforeAll(() => {
  realm = createRealm();
  compute = realm.load(`module.exports = ${COMPUTE};`);
});

function inSandbox(zone: string, probe: Probe): unknown {
  const bridge = new FakeBridge({ timeZone: zone, locale: 'en-US' });
  const { exports } = runSession(realm, compute, bridge);
  // The same JSON the oracle child parses.
  return plain((exports as unknown as (p: Probe) => unknown)(plain(probe)));
}

describe('time zone pinning', () => {
  it('covers zones other than the process zone', () => {
    expect(ZONES.length).toBeGreaterThanOrEqual(6);
  });

  it.each(ZONES)('matches V8 running with TZ=%s', (zone) => {
    const probe = probeFor(zone);
    const expected = oracle(zone, probe) as Record<string, unknown[]>;
    const actual = inSandbox(zone, probe) as Record<string, unknown[]>;
    // The one documented difference: for instants of 1970-1989 that predate a
    // zone's current naming (Europe/London's British Standard Time of
    // 1968-71, say), the name in parentheses may differ. Time and offset may not.
    const unnamed = (row: unknown, t: number): unknown =>
      t >= 0 && t < Date.UTC(1990, 0, 1) ? (row as string[]).map((v) => (typeof v === 'string' ? v.replace(/ \(.*\)$/, ' (…)') : v)) : row;
    for (const key of ['instants', 'fields', 'strings', 'setters'] as const) {
      expected[key].forEach((want, i) => {
        const input = key === 'instants' ? probe.instants[i] : key === 'fields' ? probe.fields[i] : key === 'strings' ? probe.strings[i] : probe.setters[i];
        const got = actual[key][i];
        if (key === 'instants') expect(unnamed(got, probe.instants[i]), `${zone} ${key} ${JSON.stringify(input)}`).toEqual(unnamed(want, probe.instants[i]));
        else expect(got, `${zone} ${key} ${JSON.stringify(input)}`).toEqual(want);
      });
    }
  }, 30_000);

  it('uses V8 itself when the session zone is the process zone', () => {
    const probe = probeFor(PROCESS_ZONE);
    // eslint-disable-next-line no-eval
    const host = plain((0, eval)(COMPUTE)(plain(probe)));
    expect(inSandbox(PROCESS_ZONE, probe)).toEqual(host);
  });

  it('defaults Intl.DateTimeFormat and toLocaleString to the session zone', () => {
    const { exports } = runApp(
      realm,
      `module.exports = [
        new Intl.DateTimeFormat('en-US', { hour: 'numeric', hourCycle: 'h23' }).format(0),
        new Intl.DateTimeFormat('en-US', { hour: 'numeric', hourCycle: 'h23', timeZone: 'UTC' }).format(0),
        new Date(0).toLocaleTimeString('en-US', { hour: 'numeric', hourCycle: 'h23' }),
        Intl.DateTimeFormat().resolvedOptions().timeZone,
      ];`,
      new FakeBridge({ timeZone: 'Asia/Kolkata' }),
    );
    const canonical = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Kolkata' }).resolvedOptions().timeZone;
    expect([...(exports as unknown as string[])]).toEqual(['05', '00', '05', canonical]);
  });

  it('gives every date, however made, the realm zone when installRealm is given one', () => {
    const nyRealm = createRealm({ timeZone: 'America/New_York', locale: 'en-US' });
    expect(nyRealm.info.timeZone).toBe('America/New_York');
    const { exports } = runApp(
      nyRealm,
      `module.exports = [new Date(0).getHours(), new globalThis.Date(0).getHours(), structuredClone(new Date(0)).getHours(), new Date(0) instanceof globalThis.Date, Object.getPrototypeOf(new Date(0)) === globalThis.Date.prototype];`,
      new FakeBridge({ timeZone: 'America/New_York' }),
    );
    expect([...(exports as unknown as unknown[])]).toEqual([19, 19, 19, true, true]);
  });

  it('keeps two sessions in different zones apart in one context (property)', () => {
    const factory = realm.load(`module.exports = (t) => [new Date(t).getHours(), new Date(t).getTimezoneOffset()];`);
    const tokyo = runSession(realm, factory, new FakeBridge({ timeZone: 'Asia/Tokyo' })).exports as unknown as (t: number) => number[];
    const la = runSession(realm, factory, new FakeBridge({ timeZone: 'America/Los_Angeles' })).exports as unknown as (t: number) => number[];
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2050, 0, 1) }), (t) => {
        const hoursIn = (zone: string): number => Number(new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' }).format(t));
        expect([...tokyo(t)]).toEqual([hoursIn('Asia/Tokyo'), -540]);
        expect(la(t)[0]).toBe(hoursIn('America/Los_Angeles'));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an unknown zone at createSession', () => {
    expect(() => realm.api.createSession(new FakeBridge({ timeZone: 'Mars/Olympus_Mons' }))).toThrow(/time zone/i);
  });
});
