// Time zone and locale pinning.
//
// V8 computes local time (getHours, toString, new Date(2024, 0, 1), parsing
// "2024-01-02T10:00") in the process's time zone, and Intl and toLocale*String
// default to the process's locale. Both differ between the recording machine
// and the replaying one, so the sandbox pins them to the recorded values.
//
// A *zone kit* holds everything that depends on one (time zone, locale) pair:
// the local-time methods of Date.prototype, Date.parse, the local-time
// constructor forms, and an Intl whose constructors default to that locale and
// time zone. When the pair equals the process's own, the kit uses V8's native
// methods (exact and fast). Otherwise local time is *emulated*: the zone's UTC
// offset at an instant is read from Intl.DateTimeFormat (ICU, the same tz data
// V8 uses), and wall-clock time is converted back to UTC the way V8 does
// (a wall time in a gap or an overlap takes the offset in force before the
// transition).
//
// Limits of the emulation, all documented in docs/sandbox.md:
// - Dates within a day of the edges of the Date range (±8.64e15 ms) give NaN
//   fields.
// - Date.parse decides whether a string without an explicit offset means local
//   time with a pattern; the ISO forms and the usual legacy forms are right,
//   exotic legacy strings fall back to the process's zone.
// - The zone name in toString() comes from Intl in the pinned locale; V8
//   takes it from ICU in the process's locale. They agree for the zones tested.

import { DeterminismError } from './errors.js';
import { harden } from './harden.js';
import {
  RealmDate,
  RealmIntl,
  RealmTypeError,
  create,
  defineProperty,
  getOwnPropertyDescriptor,
  isObject,
  nameFunction,
  uncurryThis,
} from './intrinsics.js';

const { apply, construct } = Reflect;
const { trunc, abs, floor } = Math;
const DAY = 86_400_000;
/** The year whose standard and daylight zone names toString() uses (see zoneName). */
const REFERENCE_YEAR = 2024;
const MAX_TIME = 8.64e15;

const dateProto = RealmDate.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
const thisTime = uncurryThis(RealmDate.prototype.getTime);
const setTimeOf = uncurryThis(RealmDate.prototype.setTime);
const nativeParse = RealmDate.parse;
const nativeUTC = RealmDate.UTC;

const u = {
  fullYear: uncurryThis(RealmDate.prototype.getUTCFullYear),
  month: uncurryThis(RealmDate.prototype.getUTCMonth),
  date: uncurryThis(RealmDate.prototype.getUTCDate),
  day: uncurryThis(RealmDate.prototype.getUTCDay),
  hours: uncurryThis(RealmDate.prototype.getUTCHours),
  minutes: uncurryThis(RealmDate.prototype.getUTCMinutes),
  seconds: uncurryThis(RealmDate.prototype.getUTCSeconds),
  milliseconds: uncurryThis(RealmDate.prototype.getUTCMilliseconds),
  setFullYear: uncurryThis(RealmDate.prototype.setUTCFullYear),
  setHours: uncurryThis(RealmDate.prototype.setUTCHours),
};

/** The local-time methods of Date.prototype, as V8 ships them. */
const LOCAL_METHODS = [
  'getDate',
  'getDay',
  'getFullYear',
  'getHours',
  'getMilliseconds',
  'getMinutes',
  'getMonth',
  'getSeconds',
  'getTimezoneOffset',
  'getYear',
  'setDate',
  'setFullYear',
  'setHours',
  'setMilliseconds',
  'setMinutes',
  'setMonth',
  'setSeconds',
  'setYear',
  'toDateString',
  'toString',
  'toTimeString',
  'toLocaleString',
  'toLocaleDateString',
  'toLocaleTimeString',
] as const;
type LocalMethod = (typeof LOCAL_METHODS)[number];
type Methods = Record<LocalMethod, (...args: unknown[]) => unknown>;

const NATIVE: Methods = /* captured before any patching */ (() => {
  const m = {} as Methods;
  for (const name of LOCAL_METHODS) m[name] = dateProto[name];
  return m;
})();

const INTL_CONSTRUCTORS = [
  'Collator',
  'DateTimeFormat',
  'DisplayNames',
  'ListFormat',
  'NumberFormat',
  'PluralRules',
  'RelativeTimeFormat',
  'Segmenter',
] as const;
/** Intl constructors that may be called without `new`. */
const CALLABLE_INTL = new Set<string>(['Collator', 'DateTimeFormat', 'NumberFormat']);

export interface ZoneKit {
  /** Canonical IANA name. */
  readonly timeZone: string;
  /** Canonical locale. */
  readonly locale: string;
  /** True when the time zone is the process's own, so V8's local time is used as is. */
  readonly nativeTime: boolean;
  /** The prototype of this kit's dates. */
  readonly proto: object;
  /** `proto.constructor`: builds dates from explicit arguments; throws for the current time. */
  readonly DateCtor: DateConstructor;
  readonly Intl: typeof Intl;
  /** Time value of `new Date(...args)` for one or more arguments. */
  timeValue(args: ArrayLike<unknown>): number;
  parse(input: unknown): number;
  /** What `Date()` called as a function returns for the time value t. */
  dateString(t: number): string;
}

interface ResolvedZone {
  timeZone: string;
  locale: string;
  nativeTime: boolean;
  nativeLocale: boolean;
}

const processDefaults = (() => {
  const options = new RealmIntl.DateTimeFormat().resolvedOptions();
  return { timeZone: options.timeZone, locale: options.locale };
})();

function resolve(timeZone: string, locale: string): ResolvedZone {
  // Throws RangeError for an unknown time zone or a malformed locale.
  const options = new RealmIntl.DateTimeFormat(locale, { timeZone }).resolvedOptions();
  return {
    timeZone: options.timeZone,
    locale: options.locale,
    nativeTime: options.timeZone === processDefaults.timeZone,
    nativeLocale: options.locale === processDefaults.locale,
  };
}

// ---------------------------------------------------------------------------
// Offsets from Intl.

/** The zone's offset from UTC, in ms (local = utc + offset), at each instant. */
function offsetFunction(timeZone: string): (t: number) => number {
  const dtf = new RealmIntl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const scratch = new RealmDate(0);
  const cache = new Map<number, number>();
  return (t: number): number => {
    const clamped = t > MAX_TIME ? MAX_TIME : t < -MAX_TIME ? -MAX_TIME : t;
    const second = clamped - (((clamped % 1000) + 1000) % 1000);
    const hit = cache.get(second);
    if (hit !== undefined) return hit;
    let year = 1970;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let sec = 0;
    let bc = false;
    const parts = dtf.formatToParts(second);
    for (let i = 0; i < parts.length; i++) {
      const { type, value } = parts[i];
      if (type === 'year') year = +value;
      else if (type === 'month') month = +value;
      else if (type === 'day') day = +value;
      else if (type === 'hour') hour = +value;
      else if (type === 'minute') minute = +value;
      else if (type === 'second') sec = +value;
      else if (type === 'era') bc = value === 'BC' || value === 'B';
    }
    setTimeOf(scratch, 0);
    u.setFullYear(scratch, bc ? 1 - year : year, month - 1, day);
    u.setHours(scratch, hour, minute, sec, 0);
    const offset = thisTime(scratch) - second;
    if (cache.size >= 4096) cache.clear();
    cache.set(second, offset);
    return offset;
  };
}

/** V8's kMaxEpochTimeInMs: beyond it (and before 0), V8 decides daylight time in an equivalent year. */
const MAX_EPOCH_MS = 2147483647 * 1000;
const equivalentScratch = new RealmDate(0);

/** V8's DateCache::EquivalentTime: the same month, day and time in a year of 2008..2037 with the same calendar. */
function equivalentTime(t: number): number {
  const days = floor(t / DAY);
  const timeInDay = t - days * DAY;
  setTimeOf(equivalentScratch, days * DAY);
  const year = u.fullYear(equivalentScratch);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  setTimeOf(equivalentScratch, 0);
  u.setFullYear(equivalentScratch, year, 0, 1);
  const weekDay = u.day(equivalentScratch);
  const recent = (leap ? 1956 : 1967) + ((weekDay * 12) % 28);
  const equivalentYear = 2008 + ((recent + 3 * 28 - 2008) % 28);
  setTimeOf(equivalentScratch, days * DAY);
  const month = u.month(equivalentScratch);
  const date = u.date(equivalentScratch);
  return nativeUTC(equivalentYear, month, date) + timeInDay;
}

const pad2 = (n: number): string => (n < 10 ? '0' + n : '' + n);
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function yearString(y: number): string {
  const digits = '' + abs(y);
  const padded = digits.length >= 4 ? digits : '0000'.slice(digits.length) + digits;
  return y < 0 ? '-' + padded : padded;
}

// Whether a string given to Date.parse names its own offset, or is an ISO
// date-only form (which means UTC); anything else is local time.
const ISO_DATE_ONLY = /^[+-]?\d{4,6}(?:-\d\d(?:-\d\d)?)?$/;
const ISO_LOCAL = /^[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?$/;
const HAS_ZONE = /\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:z\b|[+-]\d)|\b(?:UTC?|GMT|Z|[ECMP][SD]T)\b/i;

function toPrimitive(value: unknown): unknown {
  if (!isObject(value)) return value;
  const exotic = (value as { [Symbol.toPrimitive]?: unknown })[Symbol.toPrimitive];
  if (exotic !== undefined && exotic !== null) {
    const result = apply(exotic as Function, value, ['default']);
    if (isObject(result)) throw new RealmTypeError('Cannot convert object to primitive value');
    return result;
  }
  for (const name of ['valueOf', 'toString']) {
    const method = (value as Record<string, unknown>)[name];
    if (typeof method === 'function') {
      const result = apply(method, value, []);
      if (!isObject(result)) return result;
    }
  }
  throw new RealmTypeError('Cannot convert object to primitive value');
}

function isDate(value: unknown): boolean {
  try {
    thisTime(value);
    return true;
  } catch {
    return false;
  }
}

/** Options with `timeZone` filled in unless the caller chose one. */
function withTimeZone(options: unknown, timeZone: string): unknown {
  if (options === undefined) return { timeZone };
  if (isObject(options) && (options as { timeZone?: unknown }).timeZone === undefined) {
    return create(options, { timeZone: { value: timeZone, enumerable: true } });
  }
  return options;
}

// ---------------------------------------------------------------------------
// Building kits.

interface KitCore {
  methods: Methods;
  timeValue(args: ArrayLike<unknown>): number;
  parse(input: unknown): number;
}

function buildCore(zone: ResolvedZone): KitCore {
  const { timeZone, locale } = zone;
  const methods = { ...NATIVE };
  const localeMethod = (name: 'toLocaleString' | 'toLocaleDateString' | 'toLocaleTimeString'): void => {
    const native = NATIVE[name];
    methods[name] = nameFunction(
      function (this: unknown, locales?: unknown, options?: unknown) {
        return apply(native, this, [locales === undefined ? locale : locales, zone.nativeTime ? options : withTimeZone(options, timeZone)]);
      },
      name,
      0,
    );
  };
  if (!(zone.nativeLocale && zone.nativeTime)) {
    localeMethod('toLocaleString');
    localeMethod('toLocaleDateString');
    localeMethod('toLocaleTimeString');
  }
  if (zone.nativeTime) {
    return {
      methods,
      timeValue: (args) => thisTime(construct(RealmDate, args as unknown[])),
      parse: (input) => nativeParse(String(input)),
    };
  }

  const offset = offsetFunction(timeZone);
  const nameFormat = new RealmIntl.DateTimeFormat(locale, { timeZone, timeZoneName: 'long' });
  const scratch = new RealmDate(0);
  const longNameAt = (t: number): string => {
    const parts = nameFormat.formatToParts(t);
    for (let i = 0; i < parts.length; i++) if (parts[i].type === 'timeZoneName') return parts[i].value;
    return '';
  };
  const wall = (t: number): number => t + offset(t);
  /** Sets the scratch date to t's wall-clock time (as if it were UTC). */
  const atWall = (t: number): Date => {
    setTimeOf(scratch, wall(t));
    return scratch;
  };

  const localToUtc = (w: number): number => {
    const clamp = (x: number): number => (x > MAX_TIME ? MAX_TIME : x < -MAX_TIME ? -MAX_TIME : x);
    const before = offset(clamp(w - DAY));
    const after = offset(clamp(w + DAY));
    let best = NaN;
    const a = w - before;
    if (offset(a) === before) best = a;
    if (after !== before) {
      const b = w - after;
      if (offset(b) === after && !(b >= best)) best = b;
    }
    // Neither fits: w is in a gap; take the offset from before the transition.
    return best === best ? best : a;
  };

  // V8 names the zone in toString() with ICU's display name for standard or
  // daylight time, in the zone's current naming, whatever the date; whether
  // it is daylight time comes from ICU at that instant, or, outside
  // 1970..2038, at the "equivalent" instant of a year in 2008..2037 (V8's
  // EquivalentTime). Intl names a date by the naming in force at that date
  // (a bare "GMT-05:00" before the zone's metazone began). So: take the two
  // names from recent years, use Intl's own name when it is one of them, and
  // otherwise decide daylight time at the equivalent instant.
  let standardName = '';
  let daylightName = '';
  {
    let min = Infinity;
    for (let month = 0; month < 12; month++) {
      const t = nativeUTC(REFERENCE_YEAR, month, 15);
      const off = offset(t);
      if (off < min) {
        min = off;
        standardName = longNameAt(t);
      }
    }
    // The daylight name: from the reference year, or from the latest year of
    // 2008..2037 that still had daylight time (zones that dropped it keep
    // the name in ICU).
    for (let year = REFERENCE_YEAR; year >= 2008 && daylightName === ''; year--) {
      for (let month = 0; month < 12; month++) {
        const name = longNameAt(nativeUTC(year, month, 15));
        if (name !== standardName && !name.startsWith('GMT')) {
          daylightName = name;
          break;
        }
      }
    }
    if (daylightName === '') daylightName = standardName;
  }
  const lowestByYear = new Map<number, number>();
  const lowestOffsetIn = (t: number): number => {
    setTimeOf(scratch, t);
    const year = u.fullYear(scratch);
    let lowest = lowestByYear.get(year);
    if (lowest === undefined) {
      lowest = Infinity;
      for (let month = 0; month < 12; month++) lowest = Math.min(lowest, offset(nativeUTC(year, month, 15)));
      lowestByYear.set(year, lowest);
    }
    return lowest;
  };
  let nameAt = NaN;
  let nameValue = '';
  const zoneName = (t: number): string => {
    if (t !== nameAt) {
      let name: string;
      if (t >= 0 && t <= MAX_EPOCH_MS) {
        name = longNameAt(t);
        // Before the zone's naming began: daylight if the offset is above
        // that year's lowest (a seasonal change), otherwise standard.
        if (name !== standardName && name !== daylightName) name = offset(t) > lowestOffsetIn(t) ? daylightName : standardName;
      } else name = longNameAt(equivalentTime(t)) === daylightName ? daylightName : standardName;
      nameValue = name;
      nameAt = t;
    }
    return nameValue;
  };
  const offsetMinutes = (t: number): number => trunc(-offset(t) / 60000) + 0;
  const dateString = (t: number): string => {
    const d = atWall(t);
    return `${WEEKDAYS[u.day(d)]} ${MONTHS[u.month(d)]} ${pad2(u.date(d))} ${yearString(u.fullYear(d))}`;
  };
  const timeString = (t: number): string => {
    const d = atWall(t);
    const clock = `${pad2(u.hours(d))}:${pad2(u.minutes(d))}:${pad2(u.seconds(d))}`;
    const minutes = offsetMinutes(t);
    const east = -minutes;
    const sign = east < 0 ? '-' : '+';
    const a = abs(east);
    return `${clock} GMT${sign}${pad2(floor(a / 60))}${pad2(a % 60)} (${zoneName(t)})`;
  };

  const getter = (name: LocalMethod, read: (d: Date) => number): void => {
    methods[name] = nameFunction(
      function (this: unknown) {
        const t = thisTime(this);
        return t !== t ? NaN : read(atWall(t));
      },
      name,
      0,
    );
  };
  getter('getDate', u.date);
  getter('getDay', u.day);
  getter('getFullYear', u.fullYear);
  getter('getHours', u.hours);
  getter('getMilliseconds', u.milliseconds);
  getter('getMinutes', u.minutes);
  getter('getMonth', u.month);
  getter('getSeconds', u.seconds);
  getter('getYear', (d) => u.fullYear(d) - 1900);
  methods.getTimezoneOffset = nameFunction(
    function (this: unknown) {
      const t = thisTime(this);
      return t !== t ? NaN : offsetMinutes(t);
    },
    'getTimezoneOffset',
    0,
  );

  const setter = (name: LocalMethod, utcSetter: Function, length: number, nanIsZero: boolean): void => {
    methods[name] = nameFunction(
      function (this: unknown) {
        const t = thisTime(this);
        const n = arguments.length;
        const numbers: number[] = [];
        for (let i = 0; i < n; i++) numbers.push(+arguments[i]);
        if (t !== t && !nanIsZero) return NaN;
        setTimeOf(scratch, t !== t ? 0 : wall(t));
        apply(utcSetter, scratch, numbers);
        const w = thisTime(scratch);
        return setTimeOf(this, w !== w ? NaN : localToUtc(w));
      },
      name,
      length,
    );
  };
  setter('setDate', RealmDate.prototype.setUTCDate, 1, false);
  setter('setFullYear', RealmDate.prototype.setUTCFullYear, 3, true);
  setter('setHours', RealmDate.prototype.setUTCHours, 4, false);
  setter('setMilliseconds', RealmDate.prototype.setUTCMilliseconds, 1, false);
  setter('setMinutes', RealmDate.prototype.setUTCMinutes, 3, false);
  setter('setMonth', RealmDate.prototype.setUTCMonth, 2, false);
  setter('setSeconds', RealmDate.prototype.setUTCSeconds, 2, false);
  methods.setYear = nameFunction(
    function (this: unknown, year: unknown) {
      const t = thisTime(this);
      const y = +(year as number);
      if (y !== y) return setTimeOf(this, NaN);
      let full = trunc(y);
      if (full >= 0 && full <= 99) full += 1900;
      setTimeOf(scratch, t !== t ? 0 : wall(t));
      u.setFullYear(scratch, full);
      const w = thisTime(scratch);
      return setTimeOf(this, w !== w ? NaN : localToUtc(w));
    },
    'setYear',
    1,
  );

  const stringMethod = (name: LocalMethod, format: (t: number) => string): void => {
    methods[name] = nameFunction(
      function (this: unknown) {
        const t = thisTime(this);
        return t !== t ? 'Invalid Date' : format(t);
      },
      name,
      0,
    );
  };
  stringMethod('toString', (t) => `${dateString(t)} ${timeString(t)}`);
  stringMethod('toDateString', dateString);
  stringMethod('toTimeString', timeString);

  const parse = (input: unknown): number => {
    const s = String(input);
    const processValue = nativeParse(s);
    if (processValue !== processValue) return NaN;
    if (ISO_DATE_ONLY.test(s) || HAS_ZONE.test(s)) return processValue;
    // Local time: read the wall clock by parsing the same string as UTC.
    let w = nativeParse(ISO_LOCAL.test(s) ? s + 'Z' : s + ' GMT');
    if (w !== w) w = processValue - (NATIVE.getTimezoneOffset.call(new RealmDate(processValue)) as number) * 60000;
    return localToUtc(w);
  };

  const timeValue = (args: ArrayLike<unknown>): number => {
    if (args.length === 1) {
      const v = args[0];
      if (isObject(v) && isDate(v)) return thisTime(v);
      const p = toPrimitive(v);
      return typeof p === 'string' ? parse(p) : +(p as number);
    }
    const numbers: number[] = [];
    for (let i = 0; i < args.length; i++) numbers.push(+(args[i] as number));
    const w = apply(nativeUTC, undefined, numbers) as number;
    return w !== w ? NaN : localToUtc(w);
  };

  return { methods, timeValue, parse };
}

function buildIntl(zone: ResolvedZone): typeof Intl {
  if (zone.nativeLocale && zone.nativeTime) return RealmIntl;
  const intl = create(RealmIntl) as Record<string, unknown>;
  const real = RealmIntl as unknown as Record<string, Function & { prototype: object; supportedLocalesOf?: Function }>;
  for (const name of INTL_CONSTRUCTORS) {
    const Real = real[name];
    if (Real === undefined) continue;
    const fillOptions = name === 'DateTimeFormat' && !zone.nativeTime ? (o: unknown) => withTimeZone(o, zone.timeZone) : (o: unknown) => o;
    const callable = CALLABLE_INTL.has(name);
    const Wrapped = nameFunction(
      function (this: unknown, locales?: unknown, options?: unknown) {
        if (new.target === undefined && !callable) throw new RealmTypeError(`Constructor Intl.${name} requires 'new'`);
        return construct(Real, [locales === undefined ? zone.locale : locales, fillOptions(options)], new.target ?? Wrapped);
      },
      name,
      0,
    );
    defineProperty(Wrapped, 'prototype', { value: Real.prototype, writable: false });
    if (Real.supportedLocalesOf !== undefined) {
      defineProperty(Wrapped, 'supportedLocalesOf', { value: Real.supportedLocalesOf, writable: true, configurable: true });
    }
    defineProperty(intl, name, { value: Wrapped, writable: true, configurable: true });
  }
  return intl as unknown as typeof Intl;
}

const OUTSIDE =
  "use the Date your module sees (its session's Date): Date.now(), new Date(); globalThis.Date and a date's .constructor are not the session's";

/** A Date constructor for dates of `proto`, that refuses to read the clock. */
function sessionlessDate(core: KitCore, proto: object, nativeTime: boolean): DateConstructor {
  const Ctor = nameFunction(
    function Date(this: unknown, _y?: unknown, _m?: unknown, _d?: unknown, _h?: unknown, _min?: unknown, _s?: unknown, _ms?: unknown) {
      if (new.target === undefined) throw new DeterminismError('Date() outside a session', OUTSIDE, Ctor);
      if (arguments.length === 0) throw new DeterminismError('new Date() outside a session', OUTSIDE, Ctor);
      if (nativeTime) return construct(RealmDate, arguments as unknown as unknown[], new.target);
      return construct(RealmDate, [core.timeValue(arguments)], new.target);
    },
    'Date',
    7,
  ) as unknown as DateConstructor;
  const now = nameFunction(
    function now(): number {
      throw new DeterminismError('Date.now outside a session', OUTSIDE, now);
    },
    'now',
    0,
  );
  defineProperty(Ctor, 'prototype', { value: proto, writable: false });
  defineProperty(Ctor, 'now', { value: now, writable: true, configurable: true });
  defineProperty(Ctor, 'parse', { value: nameFunction((s: unknown) => core.parse(s), 'parse', 1), writable: true, configurable: true });
  defineProperty(Ctor, 'UTC', { value: nativeUTC, writable: true, configurable: true });
  return Ctor;
}

function makeKit(zone: ResolvedZone, proto: object): ZoneKit {
  const core = buildCore(zone);
  for (const name of LOCAL_METHODS) {
    if (proto === RealmDate.prototype && core.methods[name] === NATIVE[name]) continue;
    defineProperty(proto, name, { value: core.methods[name], writable: true, enumerable: false, configurable: true });
  }
  const DateCtor = sessionlessDate(core, proto, zone.nativeTime);
  defineProperty(proto, 'constructor', { value: DateCtor, writable: true, enumerable: false, configurable: true });
  const toString = core.methods.toString;
  return {
    timeZone: zone.timeZone,
    locale: zone.locale,
    nativeTime: zone.nativeTime,
    proto,
    DateCtor,
    Intl: buildIntl(zone),
    timeValue: core.timeValue,
    parse: core.parse,
    dateString: (t) => apply(toString, new RealmDate(t), []) as string,
  };
}

// ---------------------------------------------------------------------------
// The realm's kit and the session kits.

let realmKit: ZoneKit | null = null;
let realmRequested = { timeZone: '', locale: '' };
const kits = new Map<string, ZoneKit>();

/**
 * Builds the realm's kit on the realm's own Date.prototype (patching its
 * local-time methods unless the zone is the process's) and returns it.
 * Called once, by installRealm, before hardening.
 */
export function installRealmZone(timeZone: string | undefined, locale: string | undefined): ZoneKit {
  const zone = resolve(timeZone ?? processDefaults.timeZone, locale ?? processDefaults.locale);
  realmKit = makeKit(zone, RealmDate.prototype);
  realmRequested = { timeZone: timeZone ?? processDefaults.timeZone, locale: locale ?? processDefaults.locale };
  guardIntlClock();
  return realmKit;
}

/** The kit of a session's (time zone, locale). Cached; the realm's pair costs one comparison. */
export function kitFor(timeZone: string, locale: string): ZoneKit {
  if (realmKit === null) throw new RealmTypeError('installRealm has not run in this context');
  if (timeZone === realmRequested.timeZone && locale === realmRequested.locale) return realmKit;
  const key = timeZone + '\u0000' + locale;
  let kit = kits.get(key);
  if (kit === undefined) {
    const zone = resolve(timeZone, locale);
    if (zone.timeZone === realmKit.timeZone && zone.locale === realmKit.locale) kit = realmKit;
    else {
      const sameAsCached = kits.get(zone.timeZone + '\u0000' + zone.locale);
      kit = sameAsCached ?? makeKit(zone, create(RealmDate.prototype));
      harden(kit.proto, kit.DateCtor, kit.Intl);
      kits.set(zone.timeZone + '\u0000' + zone.locale, kit);
    }
    kits.set(key, kit);
  }
  return kit;
}

/**
 * Intl.DateTimeFormat's format() and formatToParts() without a date format
 * the current time: make them throw instead.
 */
function guardIntlClock(): void {
  const proto = RealmIntl.DateTimeFormat.prototype;
  const formatGetter = getOwnPropertyDescriptor(proto, 'format')!.get!;
  const nativeFormatToParts = proto.formatToParts;
  const bound = new WeakMap<object, Function>();
  const instead = 'pass the date explicitly, e.g. format(Date.now()) with the session Date';
  defineProperty(proto, 'format', {
    get: nameFunction(
      function (this: object) {
        const format = apply(formatGetter, this, []) as (date?: unknown) => string;
        let guarded = bound.get(this);
        if (guarded === undefined) {
          const g = nameFunction(
            function (date?: unknown) {
              if (date === undefined) throw new DeterminismError('Intl.DateTimeFormat format() without a date', instead, g);
              return format(date);
            },
            '',
            1,
          );
          guarded = g;
          bound.set(this, g);
        }
        return guarded;
      },
      'get format',
    ),
    enumerable: false,
    configurable: true,
  });
  const formatToParts = nameFunction(
    function (this: unknown, date?: unknown) {
      if (date === undefined) throw new DeterminismError('Intl.DateTimeFormat formatToParts() without a date', instead, formatToParts);
      return apply(nativeFormatToParts, this, [date]);
    },
    'formatToParts',
    1,
  );
  defineProperty(proto, 'formatToParts', { value: formatToParts, writable: true, enumerable: false, configurable: true });
}

/**
 * Defaults the locale of the shared locale-sensitive methods
 * (localeCompare, toLocaleUpperCase, Number/BigInt toLocaleString) to the
 * realm's locale, when it is not the process's.
 */
export function pinRealmLocaleMethods(kit: ZoneKit): void {
  if (kit.locale === processDefaults.locale) return;
  const withLocale = (proto: object, name: string, localesIndex: number, length: number): void => {
    const native = (proto as Record<string, Function>)[name];
    const pinned = nameFunction(
      function (this: unknown) {
        const args: unknown[] = [];
        for (let i = 0; i < arguments.length; i++) args.push(arguments[i]);
        if (args[localesIndex] === undefined) {
          while (args.length <= localesIndex) args.push(undefined);
          args[localesIndex] = kit.locale;
        }
        return apply(native, this, args);
      },
      name,
      length,
    );
    defineProperty(proto, name, { value: pinned, writable: true, enumerable: false, configurable: true });
  };
  withLocale(String.prototype, 'toLocaleLowerCase', 0, 0);
  withLocale(String.prototype, 'toLocaleUpperCase', 0, 0);
  withLocale(BigInt.prototype, 'toLocaleString', 0, 0);
  // The two that sorting and formatting call in loops: V8 caches its ICU
  // objects only for the default locale, so keep one of ours for the pinned one.
  const nativeCompare = String.prototype.localeCompare;
  let collator: Intl.Collator | null = null;
  const localeCompare = nameFunction(
    function (this: unknown, that: unknown, locales?: unknown, options?: unknown) {
      if (locales !== undefined || options !== undefined || this === null || this === undefined) {
        return apply(nativeCompare, this, [that, locales === undefined ? kit.locale : locales, options]);
      }
      collator ??= new RealmIntl.Collator(kit.locale);
      return collator.compare(String(this), String(that));
    },
    'localeCompare',
    1,
  );
  defineProperty(String.prototype, 'localeCompare', { value: localeCompare, writable: true, enumerable: false, configurable: true });
  const nativeNumberToLocale = Number.prototype.toLocaleString;
  const numberValue = uncurryThis(Number.prototype.valueOf);
  let numberFormat: Intl.NumberFormat | null = null;
  const numberToLocaleString = nameFunction(
    function (this: unknown, locales?: unknown, options?: unknown) {
      if (locales !== undefined || options !== undefined) return apply(nativeNumberToLocale, this, [locales === undefined ? kit.locale : locales, options]);
      numberFormat ??= new RealmIntl.NumberFormat(kit.locale);
      return numberFormat.format(numberValue(this));
    },
    'toLocaleString',
    0,
  );
  defineProperty(Number.prototype, 'toLocaleString', { value: numberToLocaleString, writable: true, enumerable: false, configurable: true });
}

/** The Date class of one session: clock readings come from `now`. */
export function createSessionDate(kit: ZoneKit, now: () => number): DateConstructor {
  const { timeValue, nativeTime, dateString } = kit;
  const SessionDate = function Date(this: unknown, _y?: unknown, _m?: unknown, _d?: unknown, _h?: unknown, _min?: unknown, _s?: unknown, _ms?: unknown) {
    if (new.target === undefined) return dateString(now());
    const n = arguments.length;
    if (n === 0) return construct(RealmDate, [now()], new.target);
    if (nativeTime) return construct(RealmDate, arguments as unknown as unknown[], new.target);
    return construct(RealmDate, [timeValue(arguments)], new.target);
  } as unknown as DateConstructor & { prototype: object; now: () => number };
  (SessionDate as { prototype: object }).prototype = kit.proto;
  SessionDate.now = now;
  SessionDate.parse = kit.DateCtor.parse;
  SessionDate.UTC = nativeUTC;
  return SessionDate;
}
