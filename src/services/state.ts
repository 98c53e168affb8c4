import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../model/errors.js';
import type { SqlValue } from '../model/records.js';
import { openKeptOpenReader, type KeptOpenReader } from '../replay/reader.js';
import { StateCache } from '../replay/state.js';
import type { SqliteStore } from '../store/index.js';
import { openJournal } from './journal-access.js';
import { parseWholeNumber } from './time.js';

// `replay state` and `replay restore`: the database as it was just after a
// transaction, queried read-only or written to a file of its own.

export interface StateOptions {
  journal: string;
  tx: number | string;
  table?: string;
  sql?: string;
}

export type StateResult = { tx: number; columns: string[]; rows: SqlValue[][] } | { tx: number; tables: { name: string; rows: number }[] };

export function state(options: StateOptions): StateResult {
  if (options.table !== undefined && options.sql !== undefined) throw new UsageError('give --table or --sql, not both');
  const tx = parseWholeNumber(options.tx, '--tx', 'a transaction id (a whole number)', 0);
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
      return { tx, ...store.queryReadOnly(`SELECT * FROM "${options.table.replace(/"/g, '""')}"`) };
    }
    return { tx, ...store.queryReadOnly(options.sql!) };
  } finally {
    store?.close();
    files?.close();
    journal.close();
  }
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
  const out = path.resolve(options.out);
  if (fs.existsSync(out) && !options.force) throw new UsageError(`${out} exists; pass --force to replace it`);
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
    const partial = `${out}.partial`;
    fs.writeFileSync(partial, store.image(), { mode: 0o600 });
    for (const suffix of ['-wal', '-shm']) fs.rmSync(out + suffix, { force: true });
    fs.renameSync(partial, out);
    return { tx, out, tables: Object.keys(counts).sort().map((name) => ({ name, rows: counts[name] })), fromSnapshot: states.lastSnapshot };
  } finally {
    store?.close();
    files?.close();
    journal.close();
  }
}

function guardCorruption(catalog: { lastTx: number; corruptionError(what: string): Error | null }, tx: number): void {
  if (tx > catalog.lastTx) {
    const corrupt = catalog.corruptionError(`cannot rebuild the state as of tx ${tx}, past the last readable tx ${catalog.lastTx}`);
    if (corrupt) throw corrupt;
  }
}
