import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect } from 'vitest';
import type { RowChange } from '../../src/model/records.js';
import { logicalDifference, openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../../src/store/index.js';

// Shared by the store tests: stores that close themselves, and temp dirs.

const open: SqliteStore[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const store of open.splice(0)) if (store.isOpen) store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export function memStore(options?: SqliteStoreOptions): SqliteStore {
  return track(openSqliteStore(':memory:', options));
}

export function track(store: SqliteStore): SqliteStore {
  open.push(store);
  return store;
}

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'windback-store-'));
  dirs.push(dir);
  return dir;
}

/** A store with one migration applied. */
export function storeWith(sql: string, options?: SqliteStoreOptions): SqliteStore {
  const store = memStore(options);
  store.applyMigration(1, 'init', sql);
  return store;
}

/** The type and value of one cell, as SQLite sees it. */
export function cell(store: SqliteStore, sql: string, params: unknown[] = []): [string, unknown] {
  const { rows } = store.queryReadOnly(`SELECT typeof(v), v FROM (${sql})`, params);
  return rows[0] as [string, unknown];
}

/** Run statements as one write transaction; its captured changes. */
export function runTx(store: SqliteStore, ...sql: string[]): RowChange[] {
  return store.write(store.nextTxId, (db) => {
    for (const s of sql) db.prepare(s).run();
  }).changes;
}

/** Apply A's changes to a fresh copy of A's migration history, transaction by transaction, and compare. */
export function expectReplicates(sql: string, ...txs: string[][]): void {
  const a = storeWith(sql);
  const b = storeWith(sql);
  for (const tx of txs) {
    const id = a.nextTxId;
    b.applyChanges(id, runTx(a, ...tx));
    expect(logicalDifference(a, b)).toBeNull();
  }
}
