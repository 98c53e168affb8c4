import { spawn } from 'node:child_process';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logicalDifference, openSqliteStore, type SqliteStore, type TxDb } from '../../src/store/index.js';
import { REPO } from '../helpers/spawn.js';
import { tempDir, track } from './helpers.js';

// Deferred commits (commitEvery > 1): write transactions are savepoints in
// one open SQLite transaction, committed every N. Whatever happens inside,
// the store must show and keep exactly what a store committing every
// transaction shows; a crash may only leave the file behind, at a commit
// boundary, never ahead or in between.

const SCHEMA = `CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER NOT NULL DEFAULT 0)`;

type Step =
  | { kind: 'insert'; id: number; name: number }
  | { kind: 'bump'; mod: number }
  | { kind: 'delete'; id: number }
  | { kind: 'abort' } // the body throws after writing
  | { kind: 'rollbackConflict'; name: number } // INSERT OR ROLLBACK that may hit UNIQUE, caught by the body, which then carries on
  | { kind: 'read' }
  | { kind: 'snapshot' }
  | { kind: 'reopen' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), id: fc.integer({ min: 1, max: 30 }), name: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('bump' as const), mod: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rollbackConflict' as const), name: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'read' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

class Abort extends Error {}

/** Run one step as a write (or read) on a store; returns what the app would have seen. */
function apply(store: SqliteStore, s: Step): unknown {
  const body = (db: TxDb): unknown => {
    switch (s.kind) {
      case 'insert':
        try {
          return db.prepare('INSERT INTO item (id, name) VALUES (?, ?)').run(s.id, `n${s.name}`).changes;
        } catch (error) {
          if (error instanceof Database.SqliteError) return error.code; // a constraint: the app carries on
          throw error;
        }
      case 'bump':
        return db.prepare('UPDATE item SET n = n + 1 WHERE id % ? = 0').run(s.mod).changes;
      case 'delete':
        return db.prepare('DELETE FROM item WHERE id = ?').run(s.id).changes;
      case 'abort':
        db.prepare("INSERT INTO item (id, name) VALUES (99, 'aborted')").run();
        throw new Abort('the body gives up');
      case 'rollbackConflict':
        db.prepare('UPDATE item SET n = n + 100').run();
        try {
          db.prepare('INSERT OR ROLLBACK INTO item (id, name) VALUES (98, ?)').run(`n${s.name}`);
        } catch {
          // caught; the next statement must not run outside the transaction
        }
        return db.prepare("INSERT INTO item (id, name) VALUES (97, 'after')").run().changes;
      default:
        throw new Error(`not a write: ${s.kind}`);
    }
  };
  if (s.kind === 'read') return store.read((db) => db.prepare('SELECT id, name, n FROM item ORDER BY id').all());
  try {
    return { ok: store.write(store.nextTxId, body).result };
  } catch (error) {
    return { failed: (error as Error).message };
  }
}

describe('deferred commits', () => {
  it('property: a store committing every N shows, keeps and snapshots what a store committing every transaction does', async () => {
    const dir = tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.array(step, { minLength: 1, maxLength: 40 }), async (commitEvery, steps) => {
        const id = run++;
        const file = path.join(dir, `deferred-${id}.sqlite`);
        const open = (): SqliteStore => track(openSqliteStore(file, { synchronous: 'OFF', lockingMode: 'EXCLUSIVE', commitEvery }));
        let deferred = open();
        const reference = track(openSqliteStore(path.join(dir, `reference-${id}.sqlite`), { synchronous: 'OFF' }));
        for (const store of [deferred, reference]) store.applyMigration(1, 'init', SCHEMA);
        for (const [i, s] of steps.entries()) {
          if (s.kind === 'snapshot') {
            const snap = await deferred.snapshot(path.join(dir, `snap-${id}-${i}.sqlite`));
            expect(snap.tx).toBe(reference.lastAppliedTx);
            const copy = track(openSqliteStore(snap.file));
            expect(logicalDifference(copy, reference)).toBeNull();
            copy.close();
            continue;
          }
          if (s.kind === 'reopen') {
            deferred.close();
            deferred = open();
            expect(deferred.lastAppliedTx).toBe(reference.lastAppliedTx);
            continue;
          }
          expect(apply(deferred, s), `step ${i} ${s.kind}`).toEqual(apply(reference, s));
          expect(deferred.lastAppliedTx).toBe(reference.lastAppliedTx);
          expect(logicalDifference(deferred, reference), `after step ${i} ${s.kind}`).toBeNull();
        }
        deferred.close();
        const reopened = track(openSqliteStore(file));
        expect(reopened.lastAppliedTx).toBe(reference.lastAppliedTx);
        expect(logicalDifference(reopened, reference)).toBeNull();
        reopened.close();
        reference.close();
      }),
      { numRuns: Number(process.env.WINDBACK_STORE_RUNS ?? 60) },
    );
  });

  it('a statement after a caught ROLLBACK conflict is refused instead of autocommitting outside the transaction', () => {
    for (const commitEvery of [1, 4]) {
      const store = track(openSqliteStore(':memory:', { commitEvery }));
      store.applyMigration(1, 'init', SCHEMA);
      store.write(2, (db) => db.prepare("INSERT INTO item (id, name) VALUES (1, 'a')").run());
      let after: unknown = 'not reached';
      expect(() =>
        store.write(3, (db) => {
          try {
            db.prepare("INSERT OR ROLLBACK INTO item (id, name) VALUES (2, 'a')").run();
          } catch {
            // the app catches the conflict and goes on
          }
          try {
            after = db.prepare("INSERT INTO item (id, name) VALUES (3, 'c')").run();
          } catch (error) {
            after = (error as Error).message;
          }
        }),
      ).toThrow(/rolled/);
      expect(after, `commitEvery ${commitEvery}`).toMatch(/SQLite rolled this transaction back .*no statement may run in it after that/);
      expect(store.lastAppliedTx).toBe(2);
      // Transaction 2 is still there (with deferred commits, applied again after SQLite rolled it back too); nothing of 3.
      expect(store.read((db) => db.prepare('SELECT id, name FROM item').all()).result).toEqual([{ id: 1, name: 'a' }]);
    }
  });

  it('after a crash the file is behind at the last commit, never ahead or in between, and rolls forward from the changes', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'live.sqlite');
    // The child writes 25 transactions committing every 10, prints each one's changes, and SIGKILLs itself.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/store/deferred-crash-child.ts'), file, '25', '10'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
    expect(signal, err).toBe('SIGKILL');
    const written = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { tx: number; changes: never[] });
    expect(written.map((w) => w.tx)).toEqual(Array.from({ length: 25 }, (_, i) => i + 2));

    const store = track(openSqliteStore(file, { synchronous: 'OFF', lockingMode: 'EXCLUSIVE', commitEvery: 10 }));
    // Migration 1, then commits after transactions 11 and 21 (every 10 writes).
    expect(store.lastAppliedTx).toBe(21);
    const reference = track(openSqliteStore(':memory:'));
    reference.applyMigration(1, 'init', SCHEMA);
    for (const w of written.filter((w) => w.tx <= 21)) reference.applyChanges(w.tx, w.changes);
    expect(logicalDifference(store, reference)).toBeNull();
    for (const w of written.filter((w) => w.tx > 21)) {
      store.applyChanges(w.tx, w.changes);
      reference.applyChanges(w.tx, w.changes);
    }
    expect(store.lastAppliedTx).toBe(26);
    expect(logicalDifference(store, reference)).toBeNull();
  });
});
