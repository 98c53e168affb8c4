import { UsageError } from '../model/errors.js';

// Times on the command line and in results. Results carry ISO-8601 UTC with
// milliseconds; flags accept ISO-8601 dates and date-times. A date-time with
// no zone is read as UTC, like every time the CLI prints.

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Milliseconds since the epoch for an ISO-8601 flag value; UsageError naming `flag` and the value otherwise. */
export function parseTime(value: string, flag: string): number {
  const match = ISO.exec(value.trim());
  const fail = (): never => {
    throw new UsageError(`${flag} must be an ISO-8601 time such as 2026-11-24T09:30:00Z, got "${value}"`);
  };
  if (!match) return fail();
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return fail();
  const ms = frac === '' ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  let time = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Reject dates that do not exist (2026-02-30).
  const check = new Date(time);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return fail();
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (offsetHours > 23 || offsetMinutes > 59) return fail();
    time -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return time;
}

/** ISO-8601 UTC with milliseconds. */
export function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isFinite(date.getTime()) ? date.toISOString() : String(ms);
}

export function isoTimeOrNull(ms: number | null): string | null {
  return ms === null ? null : isoTime(ms);
}

/** A whole number from `min`, given as a flag value; UsageError naming `flag` and the value otherwise. */
export function parseWholeNumber(value: string | number, flag: string, what: string, min = 0): number {
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw new UsageError(`${flag} must be ${what}, got "${value}"`);
  }
  return Number(text);
}
