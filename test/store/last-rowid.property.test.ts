import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TxDb } from '../../src/store/index.js';
import { storeWith } from './helpers.js';

// Property: run()'s lastInsertRowid is the rowid the statement inserted, or 0
// when it inserted none, whatever ran on the connection before: earlier
// transactions (which the store carries the value from), failed ones, applied
// changes, and INSERT ... RETURNING read through get(). The oracle runs each
// statement on a fresh connection to a copy of the database as it was just
// before, where nothing inserted earlier: there, SQLite's own value is exact.

const SCHEMA = 'CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE NOT NULL, v INTEGER)';

type Op =
  | { kind: 'insert' | 'ignore' | 'upsert' | 'replace' | 'update' | 'delete' | 'returning'; k: string; v: number; safe: boolean }
  | { kind: 'apply'; v: number };

const SQL: Record<Exclude<Op['kind'], 'apply'>, string> = {
  insert: 'INSERT INTO t (k, v) VALUES (@k, @v)',
  ignore: 'INSERT OR IGNORE INTO t (k, v) VALUES (@k, @v)',
  upsert: 'INSERT INTO t (k, v) VALUES (@k, @v) ON CONFLICT (k) DO UPDATE SET v = excluded.v',
  replace: 'INSERT OR REPLACE INTO t (k, v) VALUES (@k, @v)',
  update: 'UPDATE t SET v = @v WHERE k = @k',
  delete: 'DELETE FROM t WHERE k = @k',
  returning: 'INSERT OR IGNORE INTO t (k, v) VALUES (@k, @v) RETURNING id',
};

const statementOp: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('insert', 'ignore', 'upsert', 'replace', 'update', 'delete', 'returning'),
  k: fc.constantFrom('a', 'b', 'c', 'd'),
  v: fc.integer({ min: 0, max: 9 }),
  safe: fc.boolean(),
});

/** A transaction: some statements, then commit or throw; or changes applied as replay applies them. */
const step = fc.oneof(
  { weight: 5, arbitrary: fc.record({ ops: fc.array(statementOp, { minLength: 1, maxLength: 3 }), fail: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ ops: fc.constant([{ kind: 'apply' as const, v: 0 }]), fail: fc.constant(false) }) },
);

/** What the statement reports on a connection that has inserted nothing before: the truth. */
function oracle(image: Buffer, op: Exclude<Op, { kind: 'apply' }>): { image: Buffer; result: unknown } {
  const db = new Database(image);
  try {
    const stmt = db.prepare(SQL[op.kind]).safeIntegers(op.safe);
    const params = op.kind === 'delete' ? { k: op.k } : { k: op.k, v: op.v };
    let result: unknown;
    try {
      result = op.kind === 'returning' ? (stmt.get(params) as { id: unknown } | undefined)?.id ?? null : stmt.run(params);
    } catch (error) {
      result = { failed: (error as { code?: string }).code };
    }
    return { image: db.serialize(), result };
  } finally {
    db.close();
  }
}

function plainResult(result: unknown): unknown {
  if (result === null || typeof result !== 'object' || 'failed' in result) return result;
  const r = result as { changes: number; lastInsertRowid: number | bigint };
  return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
}

describe('lastInsertRowid of run() (property)', () => {
  it('is what a fresh connection reports, across transactions, failures, applied changes and RETURNING', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
        const store = storeWith(SCHEMA);
        let image = new Database(':memory:').serialize();
        {
          const seed = new Database(image);
          seed.exec(SCHEMA);
          image = seed.serialize();
          seed.close();
        }
        let tx = 2;
        let applied = 0;
        try {
          for (const s of steps) {
            if (s.ops[0].kind === 'apply') {
              // A row with a rowid of its own, as roll-forward inserts it: the connection's value moves.
              // (Negative, so that it never takes a rowid an insert would be given.)
              const id = -1 - applied++;
              store.applyChanges(tx++, [{ table: 't', key: id, before: null, after: { id, k: `applied-${id}`, v: 0 } }]);
              const db = new Database(image);
              db.prepare('INSERT INTO t VALUES (?, ?, 0)').run(id, `applied-${id}`);
              image = db.serialize();
              db.close();
              continue;
            }
            const expected: unknown[] = [];
            let after = image;
            for (const op of s.ops as Exclude<Op, { kind: 'apply' }>[]) {
              const o = oracle(after, op);
              expected.push(plainResult(o.result));
              after = o.image;
            }
            const seen: unknown[] = [];
            const body = (db: TxDb): void => {
              for (const op of s.ops as Exclude<Op, { kind: 'apply' }>[]) {
                const stmt = db.prepare(SQL[op.kind]).safeIntegers(op.safe);
                const params = op.kind === 'delete' ? { k: op.k } : { k: op.k, v: op.v };
                try {
                  seen.push(plainResult(op.kind === 'returning' ? ((stmt.get(params) as { id: unknown } | undefined)?.id ?? null) : stmt.run(params)));
                } catch (error) {
                  seen.push({ failed: (error as { code?: string }).code });
                  throw error;
                }
              }
              if (s.fail) throw new Error('the app fails after its statements');
            };
            try {
              store.write(tx, body);
              tx++;
              image = after;
            } catch {
              // Rolled back: the database stays as it was, but the connection's rowid may have moved.
            }
            // What ran reported what a fresh connection reports (a RETURNING id compares as a number).
            expect(seen.map((v) => (typeof v === 'bigint' ? Number(v) : v))).toEqual(expected.slice(0, seen.length).map((v) => (typeof v === 'bigint' ? Number(v) : v)));
          }
        } finally {
          store.close();
        }
      }),
      { numRuns: Number(process.env.WINDBACK_STORE_RUNS ?? 150) },
    );
  });
});
