import type { RunResult, TxDb } from './types.js';

// The handle app code gets inside ctx.tx and ctx.read (the app API's WriteDb
// and ReadDb): one call per statement, parameters inline. Statements are
// prepared through the transaction's TxDb, so every read feeds its digest.

export interface AppDb {
  all(sql: string, ...params: unknown[]): unknown[];
  get(sql: string, ...params: unknown[]): unknown;
  run(sql: string, ...params: unknown[]): RunResult;
}

export function appDb(db: TxDb): AppDb {
  return Object.freeze({
    all: (sql: string, ...params: unknown[]) => db.prepare(sql).all(...params),
    get: (sql: string, ...params: unknown[]) => db.prepare(sql).get(...params),
    run: (sql: string, ...params: unknown[]) => db.prepare(sql).run(...params),
  });
}
