import * as fs from 'node:fs';
import { UsageError } from '../model/errors.js';
import type { SqlValue } from '../model/records.js';
import { openKeptOpenReader, type KeptOpenReader } from '../replay/reader.js';
import { StateCache } from '../replay/state.js';
import type { QueryResult, SqliteStore } from '../store/index.js';
import { openJournal } from './journal-access.js';
import { checkOutputPath, replaceOutputFile } from './output-path.js';
import { parseWholeNumber } from './time.js';

// `replay state` and `replay restore`: the database as it was just after a
// transaction, queried read-only or written to a file of its own.

export interface StateOptions {
  journal: string;
  tx: number | string;
  table?: string;
  sql?: string;
  /** At most this many rows of --table or --sql (default STATE_ROW_LIMIT). */
  limit?: number;
}

/** The rows `state --table/--sql` shows unless --limit says otherwise. */
export const STATE_ROW_LIMIT = 10_000;

export type StateResult =
  | { tx: number; columns: string[]; rows: SqlValue[][]; /** More rows exist than the limit let through. */ truncated: boolean; limit: number }
  | { tx: number; tables: { name: string; rows: number }[] };

export function state(options: StateOptions): StateResult {
  if (options.table !== undefined && options.sql !== undefined) throw new UsageError('give --table or --sql, not both');
  const tx = parseWholeNumber(options.tx, '--tx', 'a transaction id (a whole number)', 0);
  if (options.limit !== undefined && options.table === undefined && options.sql === undefined) throw new UsageError('--limit applies to --table or --sql');
  const limit = options.limit ?? STATE_ROW_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number from 1, got ${options.limit}`);
  const journal = openJournal(options.journal);
  let files: KeptOpenReader | null = null;
  let store: SqliteStore | null = null;
  try {
    guardCorruption(journal.catalog, tx);
    files = openKeptOpenReader(journal.journalDir);
    store = new StateCache({ journalDir: journal.journalDir, catalog: journal.catalog, reader: files.reader }).storeAt(tx);
    if (options.sql === undefined && options.table === undefined) {
      const counts = store.tableCounts();
      return { tx, tables: Object.keys(counts).sort().map((name) => ({ name, rows: counts[name] })) };
    }
    if (options.table !== undefined) {
      const counts = store.tableCounts();
      if (!(options.table in counts)) {
        throw new UsageError(`no table ${options.table} as of tx ${tx}; tables: ${Object.keys(counts).sort().join(', ') || 'none'}`, 'E_NOT_FOUND');
      }
      return rowsResult(tx, limit, store.queryReadOnly(`SELECT * FROM "${options.table.replace(/"/g, '""')}"`, undefined, { maxRows: limit }));
    }
    return rowsResult(tx, limit, store.queryReadOnly(options.sql!, undefined, { maxRows: limit }));
  } finally {
    store?.close();
    files?.close();
    journal.close();
  }
}

function rowsResult(tx: number, limit: number, result: QueryResult): StateResult {
  return { tx, columns: result.columns, rows: result.rows, truncated: result.truncated === true, limit };
}

export interface RestoreOptions {
  journal: string;
  tx: number | string;
  out: string;
  /** Replace an existing file. */
  force?: boolean;
}

export interface RestoreResult {
  tx: number;
  out: string;
  tables: { name: string; rows: number }[];
  fromSnapshot: number | null;
}

export function restore(options: RestoreOptions): RestoreResult {
  const tx = parseWholeNumber(options.tx, '--tx', 'a transaction id (a whole number)', 0);
  const out = checkOutputPath(options.out, { flag: '--out', journal: options.journal, replaced: true, existing: { force: options.force === true } });
  const journal = openJournal(options.journal);
  let files: KeptOpenReader | null = null;
  let store: SqliteStore | null = null;
  try {
    guardCorruption(journal.catalog, tx);
    files = openKeptOpenReader(journal.journalDir);
    const states = new StateCache({ journalDir: journal.journalDir, catalog: journal.catalog, reader: files.reader });
    store = states.storeAt(tx);
    const counts = store.tableCounts();
    // The state's bytes are a complete SQLite database file.
    replaceOutputFile(out, store.image(), '--out', () => {
      // A stale WAL of an older file there would be applied to the new one.
      for (const suffix of ['-wal', '-shm']) removeStaleFile(out + suffix);
    });
    return { tx, out, tables: Object.keys(counts).sort().map((name) => ({ name, rows: counts[name] })), fromSnapshot: states.lastSnapshot };
  } finally {
    store?.close();
    files?.close();
    journal.close();
  }
}

function removeStaleFile(file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return;
  }
  if (stat.isDirectory()) throw new UsageError(`--out: ${file} is a directory; cannot write a database beside it`, 'E_BAD_PATH');
  fs.rmSync(file, { force: true });
}

function guardCorruption(catalog: { lastTx: number; corruptionError(what: string): Error | null }, tx: number): void {
  if (tx > catalog.lastTx) {
    const corrupt = catalog.corruptionError(`cannot rebuild the state as of tx ${tx}, past the last readable tx ${catalog.lastTx}`);
    if (corrupt) throw corrupt;
  }
}
