import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { StoreFailedError } from '../model/errors.js';
import type { RowChange, TxId } from '../model/records.js';
import { ChangeCapture } from './capture.js';
import { CorruptSnapshotError, isStorageFailure, STORE_ERROR, StoreDivergedError, storeFailed, TxOrderError, storeUsageError } from './errors.js';
import { datasyncFile, fsyncDir, parentDir, removeDatabaseFiles, sha256OfFile, sha256OfFileSync } from './files.js';
import { dumpDatabase } from './logical.js';
import { META_TABLE, RESERVED_PREFIX, isInternalName, readUserTables, readUserTriggers, type UserTrigger } from './schema.js';
import { leadingKeyword, quoteIdent as q, splitStatements } from './sql-text.js';
import { DigestScratch } from './digest.js';
import { StatementCache, TxContext } from './txdb.js';
import type {
  AbortedTx,
  LogicalDump,
  MigrationOptions,
  MigrationResult,
  QueryOptions,
  QueryResult,
  ReadResult,
  SnapshotInfo,
  Store,
  TxDb,
  WriteResult,
} from './types.js';
import { cloneResult, rowsEqual, showRow, toSqlValue } from './values.js';

// The SQLite store. docs/store.md describes the design; types.ts the contract.

export type Synchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteStoreOptions {
  /**
   * PRAGMA synchronous for the live file (journal_mode is WAL). The journal is
   * the source of truth, so the file need not sync on commit: 'NORMAL' (the
   * default) syncs only at WAL checkpoints and cannot corrupt the file; 'OFF'
   * never syncs, and after an OS crash or power loss the file may be damaged
   * (rebuild it from a snapshot).
   */
  synchronous?: Synchronous;
  /** Enforce FOREIGN KEY constraints in transactions (default true). */
  foreignKeys?: boolean;
  /** TxDb statements return INTEGER values as bigint by default (default false: numbers). */
  safeIntegers?: boolean;
  /** How long to wait for another connection's lock, in ms (default 5000). */
  timeout?: number;
  /**
   * PRAGMA locking_mode (default 'NORMAL'). 'EXCLUSIVE' holds the file's lock
   * from the first transaction until close, and keeps the WAL index in
   * process memory instead of a -shm file: no lock calls per transaction, but
   * no other connection can read the file while this one has it open. For a
   * file only this connection uses (the runtime's live database).
   */
  lockingMode?: 'NORMAL' | 'EXCLUSIVE';
  /**
   * Commit the file once every this many write transactions (default 1:
   * each one). In between, each write() is a savepoint inside one open SQLite
   * transaction, which spares a commit (WAL frames, the meta row) per
   * transaction. For a file whose journal is the source of truth: a crash
   * loses up to N-1 transactions from the file, and rolling it forward from
   * the journal restores them (docs/store.md, "Deferred commits"). Every other
   * operation (snapshot, image, migrations, applyChanges, close) commits first.
   */
  commitEvery?: number;
}

/** A write transaction the file has not committed yet: enough to apply it again. */
interface Uncommitted {
  txId: TxId;
  changes: readonly RowChange[];
}

const FORMAT = 1;
const MIGRATION_KEYWORDS = new Set(['CREATE', 'DROP', 'ALTER', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'WITH', 'SELECT', 'VALUES', 'ANALYZE', 'REINDEX']);
const SCHEMA_KEYWORDS = new Set(['CREATE', 'DROP', 'ALTER']);

type TxBody<A extends unknown[], R> = Database.Transaction<(...args: A) => R>;

/** Open (or create) a Windback SQLite store; ':memory:' for an in-memory one. */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): SqliteStore {
  return SqliteStore.open(file, options);
}

/**
 * Copy a snapshot to `tmpFile` (replacing it) and open the copy, for rebuilding
 * the state as of a transaction. With `sha256`, the snapshot is checked first.
 */
export function openSnapshotCopy(
  snapshotFile: string,
  tmpFile: string,
  options: SqliteStoreOptions & { sha256?: string } = {},
): SqliteStore {
  if (options.sha256 !== undefined) {
    const actual = sha256OfFileSync(snapshotFile);
    if (actual !== options.sha256.toLowerCase()) {
      throw new CorruptSnapshotError(`snapshot ${snapshotFile} has SHA-256 ${actual}, but ${options.sha256} was recorded`, snapshotFile);
    }
  }
  removeDatabaseFiles(tmpFile);
  fs.copyFileSync(snapshotFile, tmpFile);
  return SqliteStore.open(tmpFile, { synchronous: 'OFF', ...options });
}

export class SqliteStore implements Store {
  private _lastAppliedTx: TxId;
  private busy: string | null = null;
  private _lastAbort: AbortedTx | null = null;
  private fkOn: boolean;
  private closed = false;
  /** Set by the first storage failure (failureOf): every later call fails with it. */
  private failure: StoreFailedError | null = null;
  private readonly capture: ChangeCapture;
  private readonly cache: StatementCache;
  private readonly scratch = new DigestScratch();
  private userTriggers: UserTrigger[];
  private readonly setLast: Database.Statement<[TxId], unknown>;
  private readonly writeTx: TxBody<[TxContext, TxId, (db: TxDb) => unknown, ((r: WriteResult<unknown>) => void) | undefined], WriteResult<unknown>>;
  private readonly readTx: TxBody<[TxContext, (db: TxDb) => unknown], ReadResult<unknown>>;
  private readonly readBody: ((ctx: TxContext, fn: (db: TxDb) => unknown) => ReadResult<unknown>) | null;
  private readonly applyTx: TxBody<[TxId, readonly RowChange[]], void>;
  private readonly migrateTx: TxBody<[TxId, string, string[], MigrationOptions], MigrationResult>;
  private readonly commitEvery: number;
  /** An outer SQLite transaction of deferred commits is open. */
  private outer = false;
  /** The write transactions the open outer transaction holds. */
  private uncommitted: Uncommitted[] = [];
  /**
   * Transactions SQLite rolled back with the outer transaction (a statement
   * with ROLLBACK conflict resolution, an I/O error, a failed commit): the
   * connection no longer shows them, so every operation applies them again first.
   */
  private lost: Uncommitted[] = [];
  private readonly beginOuter: Database.Statement;
  private readonly commitOuterStmt: Database.Statement;
  private readonly rollbackOuter: Database.Statement;

  static open(file: string, options: SqliteStoreOptions = {}): SqliteStore {
    let db: Database.Database;
    try {
      db = new Database(file, { timeout: options.timeout ?? 5000 });
    } catch (error) {
      throw storeUsageError(STORE_ERROR.notAStore, `cannot open the database ${file}: ${(error as Error).message}`);
    }
    try {
      return new SqliteStore(db, file, options);
    } catch (error) {
      db.close();
      if ((error as { code?: unknown }).code === 'SQLITE_NOTADB') {
        throw storeUsageError(STORE_ERROR.notAStore, `${file} is not a SQLite database`);
      }
      throw error;
    }
  }

  /**
   * An in-memory store from an image made by image() (or the bytes of a
   * database file): cheap copies of a state, for rebuilding it many times.
   */
  static fromImage(image: Buffer, options: SqliteStoreOptions = {}): SqliteStore {
    const db = new Database(image);
    try {
      return new SqliteStore(db, ':memory:', options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The database's bytes (SQLite serialization): a consistent copy of its state, for fromImage(). */
  image(): Buffer {
    this.assertIdle('image()');
    this.settle();
    return this.db.serialize();
  }

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    private readonly options: SqliteStoreOptions,
  ) {
    const locking = options.lockingMode ?? 'NORMAL';
    if (locking !== 'NORMAL' && locking !== 'EXCLUSIVE') throw new TypeError(`lockingMode must be NORMAL or EXCLUSIVE, not ${String(locking)}`);
    // Before the first access in WAL mode, so that the WAL index lives in memory (no -shm file).
    if (locking === 'EXCLUSIVE') db.pragma('locking_mode = EXCLUSIVE');
    if (!db.memory) db.pragma('journal_mode = WAL');
    const sync = options.synchronous ?? 'NORMAL';
    if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(sync)) throw new TypeError(`synchronous must be OFF, NORMAL, FULL or EXTRA, not ${sync}`);
    db.pragma(`synchronous = ${sync}`);
    db.pragma('recursive_triggers = ON');
    db.pragma('temp_store = MEMORY');
    db.pragma(`foreign_keys = ${this.foreignKeys ? 'ON' : 'OFF'}`);
    this.fkOn = this.foreignKeys;
    this._lastAppliedTx = initMeta(db, file);
    this.setLast = db.prepare(`UPDATE ${META_TABLE} SET value = ? WHERE key = 'lastAppliedTx'`);
    const commitEvery = options.commitEvery ?? 1;
    if (!Number.isSafeInteger(commitEvery) || commitEvery < 1) throw new TypeError(`commitEvery must be an integer from 1, not ${String(commitEvery)}`);
    this.commitEvery = commitEvery;
    this.beginOuter = db.prepare('BEGIN IMMEDIATE');
    this.commitOuterStmt = db.prepare('COMMIT');
    this.rollbackOuter = db.prepare('ROLLBACK');
    this.capture = new ChangeCapture(db);
    this.capture.install(readUserTables(db));
    this.cache = new StatementCache(db);
    this.userTriggers = readUserTriggers(db);

    this.writeTx = db.transaction((ctx: TxContext, txId: TxId, fn: (db: TxDb) => unknown, beforeCommit: ((r: WriteResult<unknown>) => void) | undefined) => {
      const sequence = this.capture.sequenceState();
      const value = ctx.runApp(fn);
      refuseThenable(value, 'write()');
      ctx.closeIterators();
      const result = cloneResult(value, 'write()');
      requireTransaction(db);
      const changes = this.capture.collect(sequence);
      // Inside an outer transaction the meta row is written once, at its commit.
      if (!this.outer) this.setLast.run(txId);
      const out = { result, changes, readDigest: ctx.digest.finish(), readAtTx: txId - 1 };
      beforeCommit?.(out);
      return out;
    });

    const readBody = (ctx: TxContext, fn: (db: TxDb) => unknown): ReadResult<unknown> => {
      const value = ctx.runApp(fn);
      refuseThenable(value, 'read()');
      ctx.closeIterators();
      const result = cloneResult(value, 'read()');
      return { result, readDigest: ctx.digest.finish(), readAtTx: this._lastAppliedTx };
    };
    this.readTx = db.transaction(readBody);
    // A read needs a transaction only to see one state across its statements.
    // When no other connection can write the file (it is in memory, or this one
    // holds the exclusive lock) and this store runs one transaction at a time,
    // nothing can commit between them: run it in autocommit mode, without the
    // BEGIN and COMMIT. Its statements are read-only, so there is nothing to roll back.
    this.readBody = locking === 'EXCLUSIVE' || db.memory ? readBody : null;

    this.applyTx = db.transaction((txId: TxId, changes: readonly RowChange[]) => {
      // User triggers already did their work when the transaction was
      // recorded; their effects are among the changes. Keep them from firing
      // twice by dropping them for the duration of this transaction.
      for (const trigger of this.userTriggers) db.exec(`DROP TRIGGER main.${q(trigger.name)}`);
      this.capture.apply(txId, changes);
      for (const trigger of this.userTriggers) db.exec(trigger.sql);
      this.capture.discard();
      this.setLast.run(txId);
    });

    this.migrateTx = db.transaction((txId: TxId, name: string, statements: string[], options: MigrationOptions) =>
      this.runMigration(txId, name, statements, options),
    );
  }

  private get foreignKeys(): boolean {
    return this.options.foreignKeys ?? true;
  }

  get lastAppliedTx(): TxId {
    return this._lastAppliedTx;
  }

  /** The storage failure every call now fails with (failureOf), or null. */
  get failed(): StoreFailedError | null {
    return this.failure;
  }

  get lastAbort(): AbortedTx | null {
    return this._lastAbort;
  }

  /** The id the next write or applyChanges must use. */
  get nextTxId(): TxId {
    return this._lastAppliedTx + 1;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  // ---- transactions -------------------------------------------------------

  write<T>(txId: TxId, fn: (db: TxDb) => T, beforeCommit?: (result: WriteResult<T>) => void): WriteResult<T> {
    this.enter('write()');
    let ctx: TxContext | null = null;
    try {
      this.checkOrder(txId, 'write()');
      this.restoreLost();
      // Committed before this transaction runs, so that a failed commit fails this write, not one already answered.
      if (this.uncommitted.length >= this.commitEvery) this.commitOuter();
      this.setForeignKeys(true);
      this._lastAbort = null;
      if (this.commitEvery > 1 && !this.outer && this.backups === 0) {
        this.beginOuter.run();
        this.outer = true;
      }
      ctx = new TxContext(this.db, this.cache, 'write', this.options.safeIntegers ?? false, this.scratch, this.capture);
      try {
        // Inside the outer transaction, better-sqlite3 makes this a savepoint.
        const out = this.writeTx.immediate(ctx, txId, fn as (db: TxDb) => unknown, beforeCommit as ((r: WriteResult<unknown>) => void) | undefined) as WriteResult<T>;
        this._lastAppliedTx = txId;
        if (this.outer) this.uncommitted.push({ txId, changes: out.changes });
        return out;
      } catch (error) {
        this._lastAbort = aborted(ctx, 'write', txId - 1);
        this.checkOuter();
        throw error;
      } finally {
        ctx.close();
      }
    } catch (error) {
      throw this.failureOf(error, ctx);
    } finally {
      this.busy = null;
    }
  }

  /**
   * The error a failed call ends with: a storage failure (a full disk, an
   * I/O error) met by the store's own statements or by the transaction's,
   * as a StoreFailedError that every later call fails with too (the file no
   * longer matches what this store knows of it); anything else as it is,
   * an error the transaction's function threw included.
   */
  private failureOf(error: unknown, ctx: TxContext | null): unknown {
    if (error instanceof StoreFailedError) return error;
    const storage = ctx?.storageFailure ?? (ctx?.appThrew !== true && isStorageFailure(error) ? error : null);
    if (storage === null) return error;
    this.failure ??= storeFailed(this.file, storage);
    return this.failure;
  }

  /** Commit the outer transaction of deferred commits, if one is open. */
  private commitOuter(): void {
    if (!this.outer) return;
    try {
      this.setLast.run(this._lastAppliedTx);
      this.commitOuterStmt.run();
      this.outer = false;
      this.uncommitted = [];
    } catch (error) {
      if (this.db.inTransaction) this.rollbackOuter.run();
      this.loseOuter();
      throw error;
    }
  }

  /** After a failed write: did SQLite roll back the whole outer transaction, and the transactions in it? */
  private checkOuter(): void {
    if (this.outer && !this.db.inTransaction) this.loseOuter();
  }

  private loseOuter(): void {
    this.outer = false;
    this.lost = [...this.lost, ...this.uncommitted];
    this.uncommitted = [];
  }

  /** Apply again, each committed on its own, the transactions SQLite rolled back with an outer transaction. */
  private restoreLost(): void {
    while (this.lost.length > 0) {
      const { txId, changes } = this.lost[0];
      this.withoutForeignKeys(() => this.applyTx.immediate(txId, changes));
      this.lost.shift();
    }
  }

  /** Before anything but a write or a read: no deferred transaction left uncommitted or lost. */
  private settle(): void {
    this.restoreLost();
    this.commitOuter();
  }

  read<T>(fn: (db: TxDb) => T): ReadResult<T> {
    this.enter('read()');
    let ctx: TxContext | null = null;
    try {
      this.restoreLost();
      this.setForeignKeys(true);
      this._lastAbort = null;
      ctx = new TxContext(this.db, this.cache, 'read', this.options.safeIntegers ?? false, this.scratch);
      try {
        const body = fn as (db: TxDb) => unknown;
        return (this.readBody !== null ? this.readBody(ctx, body) : this.readTx.deferred(ctx, body)) as ReadResult<T>;
      } catch (error) {
        this._lastAbort = aborted(ctx, 'read', this._lastAppliedTx);
        this.checkOuter();
        throw error;
      } finally {
        ctx.close();
      }
    } catch (error) {
      throw this.failureOf(error, ctx);
    } finally {
      this.busy = null;
    }
  }

  applyChanges(txId: TxId, changes: readonly RowChange[]): void {
    this.enter('applyChanges()');
    try {
      this.checkOrder(txId, 'applyChanges()');
      this.settle();
      this.withoutForeignKeys(() => this.applyTx.immediate(txId, changes));
      this._lastAppliedTx = txId;
    } catch (error) {
      throw this.failureOf(error, null);
    } finally {
      this.busy = null;
    }
  }

  applyMigration(txId: TxId, name: string, sql: string, options: MigrationOptions = {}): MigrationResult {
    this.enter('applyMigration()');
    try {
      this.checkOrder(txId, 'applyMigration()');
      this.settle();
      const statements = splitStatements(sql);
      if (statements.length === 0) throw storeUsageError(STORE_ERROR.sql, `migration "${name}" has no statements`);
      statements.forEach((statement, i) => {
        const keyword = leadingKeyword(statement);
        if (!MIGRATION_KEYWORDS.has(keyword)) {
          throw storeUsageError(
            STORE_ERROR.refused,
            `migration "${name}", statement ${i + 1}: ${keyword || 'this statement'} is not allowed in a migration ` +
              `(migrations run inside the store's own transaction; allowed: ${[...MIGRATION_KEYWORDS].join(', ')}): ${statement}`,
          );
        }
        if (statement.toLowerCase().includes(RESERVED_PREFIX)) {
          throw storeUsageError(
            STORE_ERROR.refused,
            `migration "${name}", statement ${i + 1}: refusing SQL that mentions ${RESERVED_PREFIX} (the store's own tables): ${statement}`,
          );
        }
      });
      let result: MigrationResult;
      try {
        result = this.withoutForeignKeys(() => this.migrateTx.immediate(txId, name, statements, options));
      } catch (error) {
        // The transaction rolled back, and with it the temp capture objects
        // the migration dropped or made: rebuild capture from the schema as it is.
        this.capture.install(readUserTables(this.db));
        throw error;
      } finally {
        this.cache.clear();
      }
      this.userTriggers = readUserTriggers(this.db);
      this._lastAppliedTx = txId;
      return result;
    } catch (error) {
      throw this.failureOf(error, null);
    } finally {
      this.busy = null;
    }
  }

  private runMigration(txId: TxId, name: string, statements: string[], options: MigrationOptions): MigrationResult {
    const db = this.db;
    // Net changes across the migration, merged from the segments between
    // schema changes (capture is rebuilt after each one).
    const merged = new Map<string, RowChange>();
    let sequence = this.capture.isInstalled ? this.capture.sequenceState() : null;
    const flush = (): void => {
      if (!this.capture.isInstalled) return;
      for (const change of this.capture.collect(sequence)) {
        const id = `${change.table}\u0000${String(change.key)}`;
        const seen = merged.get(id);
        if (seen === undefined) merged.set(id, { ...change });
        else seen.after = change.after;
      }
    };
    statements.forEach((statement, i) => {
      if (SCHEMA_KEYWORDS.has(leadingKeyword(statement))) {
        flush();
        this.capture.uninstall();
        sequence = null;
      } else if (!this.capture.isInstalled) {
        this.capture.install(readUserTables(db));
        sequence = this.capture.sequenceState();
      }
      try {
        db.exec(statement);
      } catch (error) {
        if (isStorageFailure(error)) throw error;
        throw storeUsageError(STORE_ERROR.sql, `migration "${name}", statement ${i + 1} failed: ${(error as Error).message}: ${statement}`);
      }
    });
    flush();
    this.capture.install(readUserTables(db));

    const temp = db
      .prepare(
        `SELECT type, name FROM temp.sqlite_schema WHERE name NOT LIKE '\\_windback\\_%' ESCAPE '\\' AND tbl_name NOT LIKE '\\_windback\\_%' ESCAPE '\\'`,
      )
      .all() as { type: string; name: string }[];
    if (temp.length > 0) {
      throw storeUsageError(
        STORE_ERROR.unsupportedSchema,
        `migration "${name}" creates temporary ${temp[0].type} "${temp[0].name}": temporary objects are not part of the database and would not be replayed`,
      );
    }
    if (this.foreignKeys) {
      const violations = db.prepare('PRAGMA foreign_key_check').all() as { table: string; rowid: number | null; parent: string }[];
      if (violations.length > 0) {
        const v = violations[0];
        throw storeUsageError(
          STORE_ERROR.sql,
          `migration "${name}" leaves ${violations.length} foreign key violation(s); the first: table "${v.table}" rowid ${v.rowid} references a missing row of "${v.parent}"`,
        );
      }
    }
    const changes = [...merged.values()].filter((c) => !rowsEqual(c.before, c.after));
    if (options.expectedChanges !== undefined) {
      const diff = changesDifference(options.expectedChanges, changes);
      if (diff !== null) {
        throw new StoreDivergedError(
          `migration "${name}" (transaction ${txId}) produced different row changes than when it was recorded (${diff}): its DML is not deterministic, or the database does not match the journal`,
          txId,
        );
      }
    }
    this.setLast.run(txId);
    return { changes, statements: statements.length };
  }

  // ---- snapshots ----------------------------------------------------------

  async snapshot(toFile: string): Promise<SnapshotInfo> {
    this.assertIdle('snapshot()');
    this.settle();
    const target = path.resolve(toFile);
    const partial = `${target}.partial`;
    removeDatabaseFiles(partial);
    try {
      // One file copy at a time: another one's checkpoint would write into the file being copied.
      const copied = this.ownsFile() && this.fileCopies.size === 0 ? await this.copyFileAfterCheckpoint(partial) : await this.backupTo(partial);
      const tx = convertCopy(partial);
      if (copied !== null && tx !== copied) {
        throw new Error(`the snapshot copy of ${this.file} holds transaction ${tx}, not ${copied}`);
      }
      await datasyncFile(partial);
      fs.renameSync(partial, target);
      await fsyncDir(parentDir(target));
      const bytes = fs.statSync(target).size;
      return { file: target, tx, bytes, sha256: await sha256OfFile(target) };
    } catch (error) {
      removeDatabaseFiles(partial);
      throw error;
    }
  }

  /** Snapshots in progress through the backup API: writes do not defer their commits meanwhile. */
  private backups = 0;
  /** File copies in progress; close() marks them torn (closing checkpoints the WAL into the file). */
  private readonly fileCopies = new Set<{ torn: boolean }>();

  /**
   * Can a snapshot copy the file itself? Only when no other connection can
   * write to it or checkpoint it: this one holds the exclusive lock.
   */
  private ownsFile(): boolean {
    return !this.db.memory && (this.options.lockingMode ?? 'NORMAL') === 'EXCLUSIVE';
  }

  /**
   * The snapshot of a file this connection owns (docs/store.md, "Snapshots"):
   * checkpoint the whole WAL into the file, then copy the file on the thread
   * pool while automatic checkpoints are off. In WAL mode only a checkpoint
   * writes to the database file, so the copy is the state as of the
   * checkpoint while transactions go on committing to the WAL; the event loop
   * pays for the checkpoint only, whatever the size of the database.
   * Resolves with the transaction the copy holds; falls back to the backup
   * API if the checkpoint cannot complete.
   */
  private async copyFileAfterCheckpoint(partial: string): Promise<TxId | null> {
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
    if (result.busy !== 0 || result.log !== result.checkpointed) return this.backupTo(partial);
    const tx = this._lastAppliedTx;
    const autocheckpoint = this.db.pragma('wal_autocheckpoint', { simple: true }) as number;
    this.db.pragma('wal_autocheckpoint = 0');
    const copy = { torn: false };
    this.fileCopies.add(copy);
    try {
      await fs.promises.copyFile(this.file, partial);
    } finally {
      this.fileCopies.delete(copy);
      if (!this.closed) this.db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
    }
    if (copy.torn) throw storeUsageError(STORE_ERROR.closed, `the store ${this.file} was closed while a snapshot copied it`);
    return tx;
  }

  /**
   * The snapshot through SQLite's online backup, which copies pages in steps
   * between event-loop turns; transactions committed meanwhile by this
   * connection are carried into the copy, so it is consistent as of the moment
   * it completes. No outer transaction meanwhile: each write commits on its
   * own, as without deferral.
   */
  private async backupTo(partial: string): Promise<null> {
    this.backups++;
    try {
      await this.db.backup(partial);
    } finally {
      this.backups--;
    }
    return null;
  }

  // ---- inspection ---------------------------------------------------------

  dumpLogical(): LogicalDump {
    this.assertIdle('dumpLogical()');
    this.restoreLost(); // what the connection shows: uncommitted deferred transactions included
    return dumpDatabase(this.db);
  }

  queryReadOnly(sql: string, params?: unknown[] | Record<string, unknown>, options: QueryOptions = {}): QueryResult {
    this.assertIdle('queryReadOnly()');
    this.restoreLost(); // what the connection shows: uncommitted deferred transactions included
    let stmt: Database.Statement<unknown[], unknown>;
    try {
      stmt = this.db.prepare(sql);
    } catch (error) {
      throw storeUsageError(STORE_ERROR.sql, `cannot run SQL: ${(error as Error).message}: ${sql}`);
    }
    if (!stmt.readonly || !stmt.reader) {
      throw storeUsageError(STORE_ERROR.notReadOnly, `refusing SQL that is not a read-only query: ${sql}`);
    }
    const columns = stmt.columns().map((c) => c.name);
    const args = params === undefined ? [] : Array.isArray(params) ? params : [params];
    const max = options.maxRows;
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 0)) throw new TypeError(`maxRows must be a whole number, not ${String(max)}`);
    let raw: unknown[][];
    let truncated = false;
    try {
      if (max === undefined) {
        raw = stmt.raw(true).safeIntegers(true).all(...args) as unknown[][];
      } else {
        // Row by row: a query with no end (a recursive CTE) stops at the cap instead of filling the heap.
        raw = [];
        for (const row of stmt.raw(true).safeIntegers(true).iterate(...args) as IterableIterator<unknown[]>) {
          if (raw.length === max) {
            truncated = true;
            break;
          }
          raw.push(row);
        }
      }
    } catch (error) {
      throw storeUsageError(STORE_ERROR.sql, `cannot run SQL: ${(error as Error).message}: ${sql}`);
    }
    const rows = raw.map((row) => row.map((v) => toSqlValue(v, false)));
    return max === undefined ? { columns, rows } : { columns, rows, truncated };
  }

  tableCounts(): Record<string, number> {
    this.assertIdle('tableCounts()');
    this.restoreLost(); // what the connection shows: uncommitted deferred transactions included
    const counts: Record<string, number> = {};
    for (const table of this.capture.tableInfos) {
      counts[table.name] = Number(this.db.prepare(`SELECT count(*) FROM main.${q(table.name)}`).pluck(true).safeIntegers(true).get());
    }
    return counts;
  }

  close(): void {
    if (this.closed) return;
    if (this.busy !== null) throw storeUsageError(STORE_ERROR.busy, `cannot close the store while ${this.busy} is running`);
    try {
      // After a storage failure nothing more is written: closing rolls back what is open.
      if (this.failure === null) this.settle();
    } catch {
      // The file stays behind its journal, as after a crash: the next open rolls it forward.
    }
    this.closed = true;
    for (const copy of this.fileCopies) copy.torn = true;
    this.db.close();
  }

  // ---- helpers ------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw storeUsageError(STORE_ERROR.closed, `the store ${this.file} is closed`);
  }

  private assertIdle(what: string): void {
    this.assertOpen();
    if (this.failure !== null) throw this.failure;
    if (this.busy !== null) {
      throw storeUsageError(STORE_ERROR.busy, `${what} called while ${this.busy} is running: the store runs one transaction at a time`);
    }
  }

  private enter(what: string): void {
    this.assertIdle(what);
    this.busy = what;
  }

  private checkOrder(txId: TxId, what: string): void {
    if (!Number.isSafeInteger(txId) || txId < 1) throw new TypeError(`${what}: a transaction id is an integer from 1, not ${String(txId)}`);
    if (txId !== this._lastAppliedTx + 1) throw new TxOrderError(this._lastAppliedTx + 1, txId, what);
  }

  /**
   * PRAGMA foreign_keys cannot change inside a transaction, and changing it
   * expires every prepared statement; so it is switched lazily: off for
   * applying changes and migrations, on again before the next transaction.
   */
  private setForeignKeys(on: boolean): void {
    if (!this.foreignKeys || this.fkOn === on) return;
    this.db.pragma(`foreign_keys = ${on ? 'ON' : 'OFF'}`);
    this.fkOn = on;
  }

  private withoutForeignKeys<R>(fn: () => R): R {
    this.setForeignKeys(false);
    return fn();
  }
}

function initMeta(db: Database.Database, file: string): TxId {
  const exists = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`).get(META_TABLE) !== undefined;
  if (!exists) {
    const tables = (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).pluck(true).all() as string[]).filter(
      (n) => !isInternalName(n),
    );
    if (tables.length > 0) {
      throw storeUsageError(
        STORE_ERROR.notAStore,
        `${file} holds tables (${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', ...' : ''}) but no ${META_TABLE} table: it is not a Windback store, and its state cannot be tied to a journal`,
      );
    }
    db.transaction(() => {
      db.exec(`CREATE TABLE ${META_TABLE} (key TEXT PRIMARY KEY NOT NULL, value)`);
      db.prepare(`INSERT INTO ${META_TABLE} (key, value) VALUES ('format', ?), ('lastAppliedTx', 0)`).run(FORMAT);
    })();
  }
  const format = db.prepare(`SELECT value FROM ${META_TABLE} WHERE key = 'format'`).pluck(true).get();
  if (format !== FORMAT) {
    throw storeUsageError(STORE_ERROR.notAStore, `${file} is a Windback store of format ${String(format)}; this version reads format ${FORMAT}`);
  }
  return readLastApplied(db);
}

/**
 * Make a copy of a live file a standalone database, and read the transaction
 * it holds. The copy is in WAL mode (its first page came from the live file).
 * With the lock held and no syncs, SQLite needs no -shm file and does not
 * fsync on the way to rollback-journal mode (the caller syncs the file once).
 */
function convertCopy(file: string): TxId {
  const copy = new Database(file, { fileMustExist: true });
  try {
    copy.pragma('locking_mode = EXCLUSIVE');
    copy.pragma('synchronous = OFF');
    copy.pragma('journal_mode = DELETE');
    return readLastApplied(copy);
  } finally {
    copy.close();
  }
}

function readLastApplied(db: Database.Database): TxId {
  const value = db.prepare(`SELECT value FROM ${META_TABLE} WHERE key = 'lastAppliedTx'`).pluck(true).get();
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw storeUsageError(STORE_ERROR.notAStore, `${db.name}: ${META_TABLE}.lastAppliedTx is ${String(value)}, not a transaction id`);
  }
  return value;
}

function aborted(ctx: TxContext, mode: 'read' | 'write', readAtTx: TxId): AbortedTx {
  ctx.closeIterators();
  return { mode, readDigest: ctx.digest.finish(), readAtTx };
}

function refuseThenable(value: unknown, what: string): void {
  if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function') {
    // Keep a rejection of the abandoned promise from becoming an unhandled one.
    (value as PromiseLike<unknown>).then(undefined, () => undefined);
    throw storeUsageError(
      STORE_ERROR.asyncTx,
      `${what} callback returned a Promise: transactions run synchronously, so the callback must not be async or await anything`,
    );
  }
}

function requireTransaction(db: Database.Database): void {
  if (!db.inTransaction) {
    throw new Error('SQLite rolled the transaction back on its own after an error inside it (disk full, I/O error or similar); nothing was committed');
  }
}

/** The first difference between two change lists, in words, or null. */
export function changesDifference(expected: readonly RowChange[], actual: readonly RowChange[]): string | null {
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = expected[i];
    const a = actual[i];
    if (e === undefined || a === undefined) {
      return `${expected.length} changes recorded, ${actual.length} now`;
    }
    if (e.table !== a.table || String(e.key) !== String(a.key)) {
      return `change ${i + 1} was to "${e.table}" rowid ${e.key}, now to "${a.table}" rowid ${a.key}`;
    }
    if (!rowsEqual(e.before, a.before, true) || !rowsEqual(e.after, a.after, true)) {
      return `change ${i + 1} to "${e.table}" rowid ${e.key} was ${showRow(e.before)} -> ${showRow(e.after)}, now ${showRow(a.before)} -> ${showRow(a.after)}`;
    }
  }
  return null;
}
