import type { RowChange, SqlValue, TxId } from '../model/records.js';

// The store behind the recording runtime and the replay engine. SQLite is the
// first implementation (sqlite-store.ts); the interface is kept small so that
// another engine (PostgreSQL) can implement it later. docs/store.md explains
// the semantics; this file is the contract.

/** Arguments bound to a statement, exactly as better-sqlite3 takes them:
 * positional values, arrays of them, or one object of named parameters. */
export type BindArgs = unknown[];

export interface RunResult {
  /** Rows inserted, updated or deleted by the statement (not by triggers). */
  changes: number;
  lastInsertRowid: number | bigint;
}

/**
 * A prepared statement inside one transaction. Everything it returns (rows,
 * and for `run` the change count and last rowid) is fed into the transaction's
 * read digest. Valid only until the transaction's callback returns.
 */
export interface TxStatement {
  /** The SQL text. */
  readonly source: string;
  /** True when the statement returns rows (SELECT, or RETURNING). */
  readonly reader: boolean;
  /** True when the statement does not write to the database. */
  readonly readonly: boolean;
  run(...params: BindArgs): RunResult;
  /** The first row, or undefined. */
  get<R = Record<string, unknown>>(...params: BindArgs): R | undefined;
  all<R = Record<string, unknown>>(...params: BindArgs): R[];
  /** Rows one at a time. Only rows actually pulled count as read. */
  iterate<R = Record<string, unknown>>(...params: BindArgs): IterableIterator<R>;
  /** Return only the first column of each row (default on). */
  pluck(on?: boolean): this;
  /** Return each row as an array of values instead of an object (default on). */
  raw(on?: boolean): this;
  /** Return INTEGER values as bigint instead of number (default on). */
  safeIntegers(on?: boolean): this;
}

/**
 * The handle a transaction callback receives. SQL is restricted to one
 * statement per prepare, and to SELECT, WITH and VALUES (and, in write
 * transactions, INSERT, UPDATE, DELETE and REPLACE). Schema changes, PRAGMA,
 * ATTACH and transaction control are refused, and so is any SQL that mentions
 * `_windback_` (the store's own tables).
 */
export interface TxDb {
  prepare(sql: string): TxStatement;
  /** 'write' inside write(), 'read' inside read(). */
  readonly mode: 'read' | 'write';
}

export interface WriteResult<T> {
  /** The callback's return value, as structuredClone returned it. */
  result: T;
  /** Net row changes, one per (table, rowid), in first-touch order. */
  changes: RowChange[];
  /** SHA-256 over everything the transaction read (docs/store.md, "Read digest"). */
  readDigest: Uint8Array;
  /** The transaction id the callback read at: txId - 1. */
  readAtTx: TxId;
}

export interface ReadResult<T> {
  result: T;
  readDigest: Uint8Array;
  /** The last transaction id applied when the read ran. */
  readAtTx: TxId;
}

/** What a transaction whose callback threw had read before it threw. */
export interface AbortedTx {
  /** 'write' or 'read': which kind of transaction it was. */
  mode: 'read' | 'write';
  /** The read digest of the statements executed before the throw. */
  readDigest: Uint8Array;
  readAtTx: TxId;
}

export interface MigrationResult {
  /** Net row changes of the migration's DML (informational: roll-forward re-runs the SQL). */
  changes: RowChange[];
  /** How many statements the migration ran. */
  statements: number;
}

export interface MigrationOptions {
  /**
   * When rolling a migration forward, the changes it produced when it was
   * recorded. If the re-run produces different changes, the migration is
   * rolled back and a StoreDivergedError is thrown (nondeterministic SQL such
   * as random() or CURRENT_TIMESTAMP in DML).
   */
  expectedChanges?: readonly RowChange[];
}

export interface SnapshotInfo {
  /** The absolute path of the snapshot file. */
  file: string;
  /** The last transaction id the snapshot contains. */
  tx: TxId;
  bytes: number;
  /** Lowercase hex SHA-256 of the file. */
  sha256: string;
}

/** The logical content of a database: what must be equal for two stores to be "the same". */
export interface LogicalDump {
  /** CREATE statements of user tables, indexes, views and triggers, whitespace-normalized, sorted by type then name. */
  schema: string[];
  /**
   * Every user table (and sqlite_sequence when present), by name. `columns[0]`
   * is "rowid"; each row holds the rowid then the column values, sorted by
   * rowid. INTEGER values are bigint, REAL values number, TEXT string, BLOB
   * Uint8Array: the storage class is exact.
   */
  tables: Record<string, { columns: string[]; rows: SqlValue[][] }>;
}

export interface QueryResult {
  columns: string[];
  /** INTEGER values are numbers when they fit in a double exactly, bigint otherwise. */
  rows: SqlValue[][];
  /** With `maxRows`: whether the query had more rows than those returned. */
  truncated?: boolean;
}

export interface QueryOptions {
  /** Read at most this many rows (one at a time, so memory stays bounded); set `truncated` if there were more. */
  maxRows?: number;
}

/**
 * A Windback database. Every method is synchronous except snapshot(), because
 * transaction bodies are synchronous by design (DESIGN.md, "Suspend and
 * prefetch"). One transaction at a time; calling into the store from inside a
 * transaction callback throws.
 */
export interface Store {
  /** The last transaction id whose effects the database holds (0 for none). */
  readonly lastAppliedTx: TxId;

  /**
   * Run a migration (DDL and DML; several statements) in one transaction as
   * transaction `txId`, which must be lastAppliedTx + 1. Regenerates change
   * capture for the new schema. Refuses WITHOUT ROWID and virtual tables.
   */
  applyMigration(txId: TxId, name: string, sql: string, options?: MigrationOptions): MigrationResult;

  /**
   * Run `fn` synchronously inside one transaction as transaction `txId`
   * (lastAppliedTx + 1), capturing its row changes and read digest. If `fn`
   * throws, the transaction rolls back, lastAppliedTx stays, and the error
   * propagates. `beforeCommit` sees the result while the transaction can
   * still roll back: it journals the transaction (write-ahead), and if it
   * throws, the transaction rolls back the same way.
   */
  write<T>(txId: TxId, fn: (db: TxDb) => T, beforeCommit?: (result: WriteResult<T>) => void): WriteResult<T>;

  /**
   * Set when the last write() or read() ended by an exception after its
   * callback started (the callback threw, or its result was refused): what it
   * had read, so that an aborted transaction can be journaled and replayed.
   * Null after a transaction that succeeded.
   */
  readonly lastAbort: AbortedTx | null;

  /** Run `fn` in a read transaction; statements that would write are refused. */
  read<T>(fn: (db: TxDb) => T): ReadResult<T>;

  /**
   * Apply recorded row changes of transaction `txId` (lastAppliedTx + 1)
   * exactly, in one transaction. Each before-image is checked against the
   * database first; a mismatch throws StoreDivergedError and applies nothing.
   */
  applyChanges(txId: TxId, changes: readonly RowChange[]): void;

  /** Write a consistent copy of the database to `toFile`, tied to the transaction it contains. */
  snapshot(toFile: string): Promise<SnapshotInfo>;

  dumpLogical(): LogicalDump;

  /** One read-only query (SELECT, read-only PRAGMA); anything else is a UsageError. */
  queryReadOnly(sql: string, params?: unknown[] | Record<string, unknown>, options?: QueryOptions): QueryResult;

  /** Row count of every user table, by name. */
  tableCounts(): Record<string, number>;

  close(): void;
}
