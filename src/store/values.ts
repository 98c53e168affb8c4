import type { Row, SqlValue } from '../model/records.js';
import { STORE_ERROR, storeUsageError } from './errors.js';

// SQLite values as row changes carry them, and the structured-clone check on
// transaction results.
//
// Storage classes map to JavaScript exactly:
//   INTEGER -> number when it is a safe integer and the column's affinity is
//              INTEGER or NUMERIC (binding that number back as a double is
//              converted to the same INTEGER by the affinity); bigint otherwise
//   REAL    -> number
//   TEXT    -> string
//   BLOB    -> Uint8Array (a Buffer)
//   NULL    -> null
// So in a column without affinity conversion (no declared type, BLOB, or ANY
// in a STRICT table) an INTEGER is always a bigint and a number always a REAL.

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** A value read with safeIntegers on, to its row-change form. */
export function toSqlValue(value: unknown, keepBigInt: boolean): SqlValue {
  if (typeof value === 'bigint') {
    if (keepBigInt || value > MAX_SAFE || value < MIN_SAFE) return value;
    return Number(value);
  }
  return value as SqlValue;
}

/** A rowid read with safeIntegers on, as a key: number when safe. */
export function toKey(value: unknown): number | bigint {
  if (typeof value === 'bigint') return value > MAX_SAFE || value < MIN_SAFE ? value : Number(value);
  return value as number;
}

/** Same value, same storage class. Numbers compare with Object.is (so -0 is not 0). */
export function sqlValueEqual(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== 'number' || Object.is(a, b);
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesEqual(a, b);
  return false;
}

/** Like sqlValueEqual, but -0 equals 0 (the journal stores -0 as 0). */
export function sqlValueLooselyEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesEqual(a, b);
  return false;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Build a row object; a column named __proto__ becomes an own property. */
export function makeRow(names: readonly string[], values: readonly SqlValue[]): Row {
  const row: Row = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === '__proto__') Object.defineProperty(row, name, { value: values[i], enumerable: true, writable: true, configurable: true });
    else row[name] = values[i];
  }
  return row;
}

export function rowsEqual(a: Row | null, b: Row | null, loose = false): boolean {
  if (a === null || b === null) return a === b;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  const eq = loose ? sqlValueLooselyEqual : sqlValueEqual;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(b, key) || !eq(a[key], b[key])) return false;
  }
  return true;
}

/** A short rendering of a value for error messages. */
export function showValue(value: unknown): string {
  if (value === null) return 'NULL';
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (value instanceof Uint8Array) {
    const hex = Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, 24)).toString('hex');
    return `x'${hex}${value.byteLength > 24 ? '...' : ''}'`;
  }
  if (value === undefined) return 'undefined';
  return typeof value;
}

export function showRow(row: Row | null): string {
  if (row === null) return '(none)';
  return `{${Object.entries(row)
    .map(([k, v]) => `${k}: ${showValue(v)}`)
    .join(', ')}}`;
}

/**
 * structuredClone the value, or throw a UsageError naming the first part of
 * it that cannot be cloned (a function, a symbol, a Promise, ...).
 */
export function cloneResult<T>(value: T, what: string): T {
  // structuredClone returns these as they are: spare the call (most write()s return a number or nothing).
  if (value === null || value === undefined) return value;
  const type = typeof value;
  if (type === 'number' || type === 'string' || type === 'boolean' || type === 'bigint') return value;
  try {
    return structuredClone(value);
  } catch (error) {
    const culprit = findUncloneable(value, 'result', new Set());
    const reason = error instanceof Error ? error.message : String(error);
    throw storeUsageError(
      STORE_ERROR.notCloneable,
      `${what} returned a value that is not structured-cloneable: ${culprit ?? 'result'} (${reason}). ` +
        'Return plain data: objects, arrays, strings, numbers, bigints, booleans, null, Dates, Uint8Arrays (the journal holds no Map or Set: docs/journal-format.md, section 7).',
    );
  }
}

function findUncloneable(value: unknown, path: string, seen: Set<object>): string | null {
  if (typeof value === 'function') return `${path} is a function`;
  if (typeof value === 'symbol') return `${path} is a symbol`;
  if (value === null || typeof value !== 'object') return null;
  if (seen.has(value)) return null;
  seen.add(value);
  try {
    structuredClone(value);
    return null;
  } catch {
    // Look for the deepest part that fails.
  }
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      const found = findUncloneable(k, `${path}.<key ${i}>`, seen) ?? findUncloneable(v, `${path}.get(${describeKey(k)})`, seen);
      if (found) return found;
      i++;
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const v of value) {
      const found = findUncloneable(v, `${path}.<element ${i}>`, seen);
      if (found) return found;
      i++;
    }
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUncloneable(value[i], `${path}[${i}]`, seen);
      if (found) return found;
    }
  } else {
    for (const key of Object.keys(value)) {
      const found = findUncloneable((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
      if (found) return found;
    }
  }
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return `${path} is ${name ? `a ${name}` : 'an object'} that cannot be cloned`;
}

function describeKey(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : String(key);
}

/** A value with its storage class, for comparing dumps (where INTEGERs are bigint). */
export function showTyped(value: unknown): string {
  if (typeof value === 'bigint') return `INTEGER ${value}`;
  if (typeof value === 'number') return `REAL ${showValue(value)}`;
  if (typeof value === 'string') return `TEXT ${showValue(value)}`;
  if (value instanceof Uint8Array) return `BLOB ${showValue(value)}`;
  return showValue(value);
}
