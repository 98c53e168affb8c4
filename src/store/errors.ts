import { EXIT, StoreFailedError, UsageError, WindbackError } from '../model/errors.js';
import type { TxId } from '../model/records.js';

// Store errors. What the caller (app code, a migration, a CLI flag) must change
// is a UsageError with a specific code; a store that does not match its
// journal is a StoreDivergedError; asking for transactions out of order is a
// TxOrderError (a bug in the caller, so exit 70).

export const STORE_ERROR = {
  /** A statement that may not run where it was prepared (DDL in write(), a write in read()). */
  refused: 'E_STATEMENT_REFUSED',
  notReadOnly: 'E_NOT_READONLY',
  unsupportedSchema: 'E_UNSUPPORTED_SCHEMA',
  notCloneable: 'E_NOT_CLONEABLE',
  asyncTx: 'E_ASYNC_TX',
  txClosed: 'E_TX_CLOSED',
  busy: 'E_STORE_BUSY',
  closed: 'E_STORE_CLOSED',
  sql: 'E_SQL',
  notAStore: 'E_NOT_A_STORE',
} as const;

export function storeUsageError(code: (typeof STORE_ERROR)[keyof typeof STORE_ERROR], message: string): UsageError {
  return new UsageError(message, code);
}

/** A transaction id that is not lastAppliedTx + 1. */
export class TxOrderError extends WindbackError {
  readonly code = 'E_TX_ORDER';
  readonly exitCode = EXIT.internal;
  constructor(
    readonly expected: TxId,
    readonly got: TxId,
    what: string,
  ) {
    super(`${what}: transaction ${got} is out of order; the store has applied ${expected - 1}, so the next must be ${expected}`);
  }
}

/**
 * The database does not hold what the journal says it held (a before-image
 * differs), or a migration re-run produced different changes. The live file
 * cannot be trusted: rebuild it from a snapshot.
 */
export class StoreDivergedError extends WindbackError {
  readonly code = 'E_STORE_DIVERGED';
  readonly exitCode = EXIT.corrupt;
  constructor(
    message: string,
    readonly tx: TxId,
  ) {
    super(message);
  }
}

/** A snapshot file whose SHA-256 is not the one recorded for it. */
export class CorruptSnapshotError extends WindbackError {
  readonly code = 'E_CORRUPT_SNAPSHOT';
  readonly exitCode = EXIT.corrupt;
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/**
 * SQLite's result codes for a failure of the storage under the database, not
 * of the SQL: the disk is full, an I/O error, a damaged or vanished file, no
 * memory. Extended codes (SQLITE_IOERR_WRITE, ...) start with these.
 */
const STORAGE_FAILURES = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CANTOPEN', 'SQLITE_NOMEM', 'SQLITE_READONLY', 'SQLITE_PROTOCOL', 'SQLITE_NOLFS'];

/** Is this an error of the storage under the database (STORAGE_FAILURES) rather than of the SQL? */
export function isStorageFailure(error: unknown): boolean {
  if (error === null || typeof error !== 'object' || (error as { name?: unknown }).name !== 'SqliteError') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  for (const prefix of STORAGE_FAILURES) {
    if (code === prefix || code.startsWith(`${prefix}_`)) return true;
  }
  return false;
}

/** The StoreFailedError for a storage failure of the database in `file`. */
export function storeFailed(file: string, error: unknown): StoreFailedError {
  const e = error as { message?: unknown; code?: unknown };
  return new StoreFailedError(`the database ${file} failed: ${String(e.message ?? error)} (${String(e.code ?? 'unknown')})`, file, { cause: error });
}
