import type Database from 'better-sqlite3';
import { isStorageFailure, STORE_ERROR, storeUsageError } from './errors.js';
import { DigestScratch, ReadDigest, SHAPE, statementHeader } from './digest.js';
import { RESERVED_PREFIX } from './schema.js';
import { insertEvidence, leadingKeyword } from './sql-text.js';
import type { BindArgs, RunResult, TxDb, TxStatement } from './types.js';

// The TxDb handle a transaction callback gets: a thin wrapper over
// better-sqlite3 statements that refuses what a transaction may not run and
// feeds everything returned into the read digest.

type Stmt = Database.Statement<unknown[], unknown>;

const READ_KEYWORDS = new Set(['SELECT', 'WITH', 'VALUES']);
const WRITE_KEYWORDS = new Set(['SELECT', 'WITH', 'VALUES', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE']);
const SCHEMA_KEYWORDS = new Set(['CREATE', 'DROP', 'ALTER']);

/** A better-sqlite3 statement and the modes it is currently set to. */
interface Slot {
  stmt: Stmt;
  shape: number;
  safe: boolean;
}

export interface CachedStatement {
  sql: string;
  keyword: string;
  /** How run() tells whether this statement inserted a row (sql-text.ts). */
  insertEvidence: 'none' | 'changes' | 'mark';
  mentionsReserved: boolean;
  reader: boolean;
  readonly: boolean;
  columns: string[];
  slot: Slot;
  headers: Map<number, Buffer>;
}

/** Prepared statements by SQL text, shared across transactions; cleared on schema change. */
export class StatementCache {
  private readonly map = new Map<string, CachedStatement>();

  constructor(
    private readonly db: Database.Database,
    private readonly limit = 512,
  ) {}

  peek(sql: string): CachedStatement | undefined {
    return this.map.get(sql);
  }

  get(sql: string, keyword = leadingKeyword(sql)): CachedStatement {
    let entry = this.map.get(sql);
    if (entry !== undefined) return entry;
    const mentionsReserved = sql.toLowerCase().includes(RESERVED_PREFIX);
    const stmt = this.db.prepare(sql) as Stmt;
    entry = {
      sql,
      keyword,
      insertEvidence: insertEvidence(sql),
      mentionsReserved,
      reader: stmt.reader,
      readonly: stmt.readonly,
      columns: stmt.reader ? stmt.columns().map((c) => c.name) : [],
      slot: { stmt, shape: stmt.reader ? SHAPE.object : SHAPE.run, safe: false },
      headers: new Map(),
    };
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value!);
    this.map.set(sql, entry);
    return entry;
  }

  clear(): void {
    this.map.clear();
  }
}

/** What sets the connection's last insert rowid to ROWID_MARK (the store's change capture). */
export interface RowidMark {
  markLastRowid(): void;
}

/** A rowid no insert is given (the smallest 64-bit integer), as the result of run() shows it with or without safe integers. */
export const ROWID_MARK = -9223372036854775808n;
const ROWID_MARK_NUMBER = Number(ROWID_MARK);

function isRowidMark(rowid: number | bigint): boolean {
  return typeof rowid === 'bigint' ? rowid === ROWID_MARK : rowid === ROWID_MARK_NUMBER;
}

export class TxContext {
  private closed = false;
  /** The first storage failure a statement met (statementFailed), or null. */
  storageFailure: unknown = null;
  /** The transaction's function threw (runApp): its error is the app's, not the store's. */
  appThrew = false;
  readonly digest: ReadDigest;
  /** Iterators still open (made on the first iterate(): most transactions never iterate). */
  private openIterators: Set<IterableIterator<unknown>> | null = null;
  readonly handle: TxDb;

  constructor(
    readonly db: Database.Database,
    private readonly cache: StatementCache,
    readonly mode: 'read' | 'write',
    readonly defaultSafeIntegers: boolean,
    scratch?: DigestScratch,
    private readonly rowidMark: RowidMark | null = null,
  ) {
    this.digest = new ReadDigest(scratch);
    const prepare = (sql: string): TxStatement => this.prepare(sql);
    this.handle = Object.freeze({ prepare, mode });
  }

  /** Set the connection's last insert rowid to the mark (before a statement whose insert only that shows). */
  markLastRowid(): void {
    if (this.rowidMark === null) throw new TypeError('this transaction cannot tell inserts apart: its store has no change capture');
    this.rowidMark.markLastRowid();
  }

  /**
   * Run the transaction's function. A storage failure one of its statements
   * met fails it, whatever the function made of the error.
   */
  runApp(fn: (db: TxDb) => unknown): unknown {
    let value: unknown;
    try {
      value = fn(this.handle);
    } catch (error) {
      if (this.storageFailure === null) this.appThrew = true;
      throw error;
    }
    if (this.storageFailure !== null) throw this.storageFailure;
    return value;
  }

  /**
   * A statement failed: the read digest records it, and a storage failure (a
   * full disk, an I/O error) is kept, so that the transaction fails with it
   * even if the app catches the error and goes on.
   */
  statementFailed(digest: ReadDigest, error: unknown): void {
    digest.failure(errorCode(error));
    if (this.storageFailure === null && isStorageFailure(error)) this.storageFailure = error;
  }

  check(): void {
    if (this.closed) {
      throw storeUsageError(
        STORE_ERROR.txClosed,
        'this transaction has ended: a TxDb handle and its statements are valid only while the transaction callback runs',
      );
    }
  }

  prepare(sql: string): TxStatement {
    this.check();
    if (typeof sql !== 'string') throw new TypeError('prepare() expects the SQL text as a string');
    const cached = this.cache.peek(sql);
    const keyword = cached?.keyword ?? leadingKeyword(sql);
    const allowed = this.mode === 'write' ? WRITE_KEYWORDS : READ_KEYWORDS;
    if (!allowed.has(keyword)) {
      if (this.mode === 'read' && WRITE_KEYWORDS.has(keyword)) {
        throw storeUsageError(STORE_ERROR.notReadOnly, `read() refuses a statement that writes: ${sql}`);
      }
      const why = SCHEMA_KEYWORDS.has(keyword)
        ? 'schema changes go through migrations (applyMigration), not transactions'
        : `a ${this.mode} transaction may run only ${[...allowed].join(', ')} statements`;
      throw storeUsageError(STORE_ERROR.refused, `refusing ${keyword || 'this statement'}: ${why}: ${sql}`);
    }
    let entry: CachedStatement;
    try {
      entry = cached ?? this.cache.get(sql, keyword);
    } catch (error) {
      if (isStorageFailure(error)) {
        this.storageFailure ??= error;
        throw error;
      }
      throw storeUsageError(STORE_ERROR.sql, `cannot prepare SQL: ${(error as Error).message}: ${sql}`);
    }
    if (entry.mentionsReserved) {
      throw storeUsageError(STORE_ERROR.refused, `refusing SQL that mentions ${RESERVED_PREFIX} (the store's own tables): ${sql}`);
    }
    if (this.mode === 'read' && !entry.readonly) {
      throw storeUsageError(STORE_ERROR.notReadOnly, `read() refuses a statement that writes: ${sql}`);
    }
    return new TxStatementImpl(this, entry, this.defaultSafeIntegers);
  }

  /** End the transaction's use of statements: close open iterators, refuse further calls. */
  close(): void {
    this.closeIterators();
    this.closed = true;
  }

  /** Close open iterators (so that the connection is free for capture), keep the handle usable. */
  closeIterators(): void {
    const open = this.openIterators;
    if (open === null || open.size === 0) return;
    for (const it of [...open]) it.return?.();
    open.clear();
  }

  trackIterator(it: IterableIterator<unknown>): void {
    (this.openIterators ??= new Set()).add(it);
  }

  untrackIterator(it: IterableIterator<unknown>): void {
    this.openIterators?.delete(it);
  }
}

class TxStatementImpl implements TxStatement {
  private shape: number;
  private own: Slot | null = null;

  constructor(
    private readonly ctx: TxContext,
    private readonly entry: CachedStatement,
    private safe: boolean,
  ) {
    this.shape = entry.reader ? SHAPE.object : SHAPE.run;
  }

  get source(): string {
    return this.entry.sql;
  }
  get reader(): boolean {
    return this.entry.reader;
  }
  get readonly(): boolean {
    return this.entry.readonly;
  }

  pluck(on = true): this {
    this.requireReader('pluck');
    this.shape = on ? SHAPE.pluck : this.shape === SHAPE.pluck ? SHAPE.object : this.shape;
    return this;
  }

  raw(on = true): this {
    this.requireReader('raw');
    this.shape = on ? SHAPE.raw : this.shape === SHAPE.raw ? SHAPE.object : this.shape;
    return this;
  }

  safeIntegers(on = true): this {
    this.safe = on;
    return this;
  }

  private requireReader(method: string): void {
    if (!this.entry.reader) throw new TypeError(`The ${method}() method is only for statements that return data`);
  }

  /** The statement, set to this wrapper's modes; a private copy if the shared one is mid-iteration. */
  private ready(): Stmt {
    this.ctx.check();
    // A statement with ROLLBACK conflict resolution (or an I/O error) can end
    // the whole transaction; anything run after it would autocommit, outside
    // the transaction and its change capture.
    if (this.ctx.mode === 'write' && !this.ctx.db.inTransaction) {
      throw storeUsageError(
        STORE_ERROR.txClosed,
        'SQLite rolled this transaction back (a statement with ROLLBACK conflict resolution, or an I/O error): no statement may run in it after that',
      );
    }
    let slot = this.own ?? this.entry.slot;
    if (slot.stmt.busy) {
      this.own ??= { stmt: this.ctx.db.prepare(this.entry.sql) as Stmt, shape: this.entry.reader ? SHAPE.object : SHAPE.run, safe: false };
      slot = this.own;
      if (slot.stmt.busy) throw new TypeError('This statement is busy executing a query (an iterator over it is still open)');
    }
    if (this.entry.reader && slot.shape !== this.shape) {
      if (this.shape === SHAPE.pluck) slot.stmt.pluck(true);
      else if (this.shape === SHAPE.raw) slot.stmt.raw(true);
      else slot.stmt.raw(false);
      slot.shape = this.shape;
    }
    if (slot.safe !== this.safe) {
      slot.stmt.safeIntegers(this.safe);
      slot.safe = this.safe;
    }
    return slot.stmt;
  }

  private begin(params: BindArgs, shape: number): ReadDigest {
    const code = shape | (this.safe ? SHAPE.safeIntegers : 0);
    let header = this.entry.headers.get(code);
    if (header === undefined) {
      header = statementHeader(this.entry.sql, code, this.entry.columns);
      this.entry.headers.set(code, header);
    }
    const digest = this.ctx.digest;
    digest.raw(header);
    digest.params(params);
    return digest;
  }

  run(...params: BindArgs): RunResult {
    const stmt = this.ready();
    const digest = this.begin(params, SHAPE.run);
    // SQLite keeps the last insert rowid per connection, across statements
    // and transactions, so a statement that inserts nothing reports whatever
    // was inserted last, by anyone (a rolled-back insert included). run()
    // reports 0 then, so that neither the app nor the read digest depends on
    // other sessions' work (insertEvidence says how each statement shows it).
    const evidence = this.entry.insertEvidence;
    if (evidence === 'mark') this.ctx.markLastRowid();
    let result: Database.RunResult;
    try {
      result = stmt.run(...params);
    } catch (error) {
      this.ctx.statementFailed(digest, error);
      throw error;
    }
    const inserted = evidence === 'changes' ? result.changes > 0 : evidence === 'mark' && result.changes > 0 && !isRowidMark(result.lastInsertRowid);
    const reported: RunResult = { changes: result.changes, lastInsertRowid: inserted ? result.lastInsertRowid : 0 };
    digest.runResult(reported.changes, reported.lastInsertRowid);
    return reported;
  }

  get<R = Record<string, unknown>>(...params: BindArgs): R | undefined {
    const stmt = this.ready();
    const digest = this.begin(params, this.shape);
    let row: unknown;
    try {
      row = stmt.get(...params);
    } catch (error) {
      this.ctx.statementFailed(digest, error);
      throw error;
    }
    if (row !== undefined) digest.row(row, this.shape);
    digest.end(row === undefined ? 0 : 1, true);
    return row as R | undefined;
  }

  all<R = Record<string, unknown>>(...params: BindArgs): R[] {
    const stmt = this.ready();
    const digest = this.begin(params, this.shape);
    let rows: unknown[];
    try {
      rows = stmt.all(...params);
    } catch (error) {
      this.ctx.statementFailed(digest, error);
      throw error;
    }
    for (let i = 0; i < rows.length; i++) digest.row(rows[i], this.shape);
    digest.end(rows.length, true);
    return rows as R[];
  }

  iterate<R = Record<string, unknown>>(...params: BindArgs): IterableIterator<R> {
    const stmt = this.ready();
    const shape = this.shape;
    const digest = this.begin(params, shape);
    let inner: IterableIterator<unknown>;
    try {
      inner = stmt.iterate(...params);
    } catch (error) {
      this.ctx.statementFailed(digest, error);
      throw error;
    }
    const ctx = this.ctx;
    let count = 0;
    let done = false;
    const finish = (complete: boolean): void => {
      if (done) return;
      done = true;
      digest.end(count, complete);
      ctx.untrackIterator(wrapper);
    };
    const wrapper: IterableIterator<R> = {
      next(): IteratorResult<R> {
        if (done) return { done: true, value: undefined };
        ctx.check();
        let step: IteratorResult<unknown>;
        try {
          step = inner.next();
        } catch (error) {
          done = true;
          ctx.untrackIterator(wrapper);
          ctx.statementFailed(digest, error);
          throw error;
        }
        if (step.done) {
          finish(true);
          return { done: true, value: undefined };
        }
        count++;
        digest.row(step.value, shape);
        return { done: false, value: step.value as R };
      },
      return(value?: unknown): IteratorResult<R> {
        if (!done) {
          inner.return?.();
          finish(false);
        }
        return { done: true, value: value as R };
      },
      [Symbol.iterator]() {
        return wrapper;
      },
    };
    ctx.trackIterator(wrapper as IterableIterator<unknown>);
    return wrapper;
  }
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'Error';
}
