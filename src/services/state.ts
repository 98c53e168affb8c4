import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { EnvironmentError, UsageError } from '../model/errors.js';
import type { SqlValue } from '../model/records.js';
import { openKeptOpenReader, type KeptOpenReader } from '../replay/reader.js';
import { StateCache } from '../replay/state.js';
import type { QueryResult, SqliteStore } from '../store/index.js';
import { openJournal } from './journal-access.js';
import { forwardedError, type ForwardedFailure } from './forwarded-error.js';
import { checkOutputPath, replaceOutputFile } from './output-path.js';
import { siblingModule } from './replay-child.js';
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

/** What the child process running a --sql query (queryState) needs to know of state()'s progress. */
export interface StateHooks {
  /** Called once the state is rebuilt, right before the --sql query runs. */
  beforeQuery?: () => void;
}

export function state(options: StateOptions, hooks: StateHooks = {}): StateResult {
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
    hooks.beforeQuery?.();
    return rowsResult(tx, limit, store.queryReadOnly(options.sql!, undefined, { maxRows: limit }));
  } finally {
    store?.close();
    files?.close();
    journal.close();
  }
}

/** How long a --sql query may run by default, in seconds (`state --timeout`). */
export const STATE_QUERY_TIMEOUT = 30;

export interface StateQueryOptions extends StateOptions {
  /** Seconds the --sql query may run once the state is rebuilt (default STATE_QUERY_TIMEOUT); 0: no limit. */
  timeout?: number;
}

/**
 * `replay state`: state(), with the --sql query stopped after `timeout`
 * seconds. SQLite can interrupt a statement, but better-sqlite3 does not
 * expose that (no sqlite3_interrupt, no progress handler), and a worker
 * thread stuck in a statement can be neither terminated nor left behind
 * (Node waits for it at exit). So the state is rebuilt and queried in a
 * child process (state-query-child.ts), which is killed when the time is up:
 * E_TIMEOUT, exit 2. The clock starts when the query does (the child says so
 * on a pipe, synchronously, before it runs it), not during the rebuild.
 * Without --sql, or with timeout 0, it all runs here.
 */
export async function queryState(options: StateQueryOptions): Promise<StateResult> {
  if (options.timeout !== undefined && options.sql === undefined) throw new UsageError('--timeout applies to --sql');
  const timeout = options.timeout ?? STATE_QUERY_TIMEOUT;
  if (!Number.isFinite(timeout) || timeout < 0) throw new UsageError(`--timeout must be a number of seconds from 0 (0: no limit), got ${options.timeout}`);
  const stateOptions: StateOptions = { journal: options.journal, tx: options.tx, table: options.table, sql: options.sql, limit: options.limit };
  if (options.sql === undefined || timeout === 0) return state(stateOptions);
  return stateInChild(stateOptions, timeout);
}

/** The child's word, on fd QUERY_PHASE_FD: written synchronously right before the query runs. */
export const QUERY_PHASE_FD = 3;
export const QUERYING = 'querying\n';

/** The child → parent message, over IPC. */
export type StateChildMessage = { result: StateResult } | { error: ForwardedFailure };

function stateInChild(options: StateOptions, timeout: number): Promise<StateResult> {
  const entry = siblingModule('state-query-child', import.meta.url);
  const args = [...(entry.tsx ? ['--import', entry.tsx.loader] : []), entry.file];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
    let timer: NodeJS.Timeout | null = null;
    let timedOut = false;
    let settled: StateChildMessage | null = null;
    const stderr: string[] = [];
    const kill = (): void => void child.kill('SIGKILL');
    // Whatever ends this process ends the query too.
    process.once('exit', kill);
    (child.stderr as Readable).setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
    (child.stdio[QUERY_PHASE_FD] as Readable).setEncoding('utf8').on('data', (text: string) => {
      if (timer === null && text.includes(QUERYING.trim())) {
        timer = setTimeout(() => {
          timedOut = true;
          kill();
        }, timerMs(timeout));
      }
    });
    child.on('message', (message: StateChildMessage) => {
      settled = message;
    });
    child.on('error', (error) => reject(new EnvironmentError(`cannot start the process that runs the query: ${error.message}`, 'E_ENVIRONMENT', { cause: error })));
    // 'close', not 'exit': it comes once the IPC channel is closed too, so after any message the child sent.
    child.on('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer);
      process.removeListener('exit', kill);
      if (timedOut) {
        return reject(new UsageError(`the query ran longer than --timeout ${timeout} s and was stopped (raise --timeout, or 0 for no limit): ${oneLine(options.sql ?? '')}`, 'E_TIMEOUT'));
      }
      const message = settled as StateChildMessage | null;
      if (message !== null && 'result' in message) return resolve(message.result);
      if (message !== null) return reject(forwardedError(message.error));
      const why = stderr.join('').trim().split('\n').pop();
      reject(new Error(`the process that runs the query ended (${signal ?? `code ${code}`}) without a result${why ? `: ${why}` : ''}`));
    });
    child.send({ options, timeout });
  });
}

/** Seconds as a timer's milliseconds: setTimeout fires at once for more than 2^31 - 1 (about 24 days). */
export function timerMs(seconds: number): number {
  return Math.min(Math.round(seconds * 1000), 2 ** 31 - 1);
}

function oneLine(sql: string): string {
  const line = sql.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
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
