import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/model/errors.js';
import {
  CorruptSnapshotError,
  StoreDivergedError,
  TxOrderError,
  dumpLogical,
  logicalDifference,
  logicallyEqual,
  openSnapshotCopy,
  openSqliteStore,
  sha256OfFile,
  sha256OfFileSync,
  type SqliteStore,
  type TxDb,
} from '../../src/store/index.js';
import { memStore, storeWith, tempDir, track } from './helpers.js';

const BANK = `
  CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, bal INTEGER NOT NULL);
  INSERT INTO acct VALUES (1, 'ann', 100), (2, 'bob', 50);
`;

function transfer(db: TxDb, from: number, to: number, amount: number): number {
  const bal = db.prepare('SELECT bal FROM acct WHERE id = ?').pluck().get<number>(from)!;
  if (bal < amount) throw new Error('insufficient funds');
  db.prepare('UPDATE acct SET bal = bal - ? WHERE id = ?').run(amount, from);
  db.prepare('UPDATE acct SET bal = bal + ? WHERE id = ?').run(amount, to);
  return bal - amount;
}

function expectUsage(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UsageError);
  expect((caught as UsageError).code).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

describe('opening', () => {
  it('starts at transaction 0 and keeps lastAppliedTx in the file across reopening', () => {
    const file = path.join(tempDir(), 'live.db');
    const s = openSqliteStore(file);
    expect(s.lastAppliedTx).toBe(0);
    s.applyMigration(1, 'init', BANK);
    s.write(2, (db) => transfer(db, 1, 2, 10));
    s.close();
    const again = track(openSqliteStore(file));
    expect(again.lastAppliedTx).toBe(2);
    expect(again.queryReadOnly('SELECT bal FROM acct ORDER BY id').rows).toEqual([[90], [60]]);
    // Capture works in the reopened store (temp triggers are per connection).
    expect(again.write(3, (db) => transfer(db, 2, 1, 5)).changes).toHaveLength(2);
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare(`SELECT count(*) FROM sqlite_schema WHERE name LIKE '%windback_before%'`).pluck().get()).toBe(0);
    raw.close();
  });

  it('refuses a database that has tables but is not a Windback store', () => {
    const file = path.join(tempDir(), 'other.db');
    const raw = new Database(file);
    raw.exec('CREATE TABLE stuff (a)');
    raw.close();
    expectUsage(() => openSqliteStore(file), 'E_NOT_A_STORE', /stuff.*not a Windback store/);
  });

  it('refuses a file that is not a database', () => {
    const file = path.join(tempDir(), 'junk.db');
    fs.writeFileSync(file, 'x'.repeat(4096));
    expectUsage(() => openSqliteStore(file), 'E_NOT_A_STORE', /not a SQLite database/);
  });
});

describe('write transactions', () => {
  it('returns the result, the changes, a 32-byte read digest, and advances lastAppliedTx', () => {
    const s = storeWith(BANK);
    const out = s.write(2, (db) => transfer(db, 1, 2, 30));
    expect(out.result).toBe(70);
    expect(out.readAtTx).toBe(1);
    expect(out.readDigest).toBeInstanceOf(Uint8Array);
    expect(out.readDigest.byteLength).toBe(32);
    expect(out.changes.map((c) => [c.key, c.before?.bal, c.after?.bal])).toEqual([
      [1, 100, 70],
      [2, 50, 80],
    ]);
    expect(s.lastAppliedTx).toBe(2);
  });

  it('rolls back when the callback throws, consumes no transaction id, and rethrows', () => {
    const s = storeWith(BANK);
    const before = dumpLogical(s);
    const boom = new Error('boom');
    expect(() =>
      s.write(2, (db) => {
        transfer(db, 1, 2, 10);
        db.prepare(`INSERT INTO acct VALUES (3, 'cy', 1)`).run();
        throw boom;
      }),
    ).toThrow(boom);
    expect(s.lastAppliedTx).toBe(1);
    expect(logicalDifference(before, s)).toBeNull();
    // The same id is still the next one, and capture holds nothing stale.
    const out = s.write(2, (db) => transfer(db, 2, 1, 5));
    expect(out.changes.map((c) => c.key)).toEqual([2, 1]);
  });

  it('refuses transaction ids out of order', () => {
    const s = storeWith(BANK);
    expect(() => s.write(3, () => 0)).toThrow(TxOrderError);
    expect(() => s.write(1, () => 0)).toThrow(/out of order.*next must be 2/);
    expect(() => s.applyChanges(5, [])).toThrow(TxOrderError);
    expect(() => s.applyMigration(1, 'again', 'CREATE TABLE x (a)')).toThrow(TxOrderError);
    expect(s.lastAppliedTx).toBe(1);
  });

  it('refuses a result that is not structured-cloneable, naming the part, and rolls back', () => {
    const s = storeWith(BANK);
    expectUsage(
      () =>
        s.write(2, (db) => {
          transfer(db, 1, 2, 10);
          return { ok: true, items: [{ id: 1, save: () => 1 }] };
        }),
      'E_NOT_CLONEABLE',
      /result\.items\[0\]\.save is a function/,
    );
    expect(s.lastAppliedTx).toBe(1);
    expect(s.queryReadOnly('SELECT bal FROM acct WHERE id = 1').rows).toEqual([[100]]);
  });

  it('returns a structured clone of the result', () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const s = storeWith(BANK);
    const out = s.write(2, () => ({ m: new Money(5), when: new Date(0), tags: new Set(['a']) }));
    expect(out.result.m).not.toBeInstanceOf(Money);
    expect(out.result.m).toEqual({ cents: 5 });
    expect(out.result.tags).toEqual(new Set(['a']));
  });

  it('refuses an async callback and rolls back', () => {
    const s = storeWith(BANK);
    expectUsage(
      () =>
        s.write(2, async (db) => {
          transfer(db, 1, 2, 10);
        }),
      'E_ASYNC_TX',
      /returned a Promise/,
    );
    expect(s.lastAppliedTx).toBe(1);
    expect(s.queryReadOnly('SELECT bal FROM acct WHERE id = 1').rows).toEqual([[100]]);
  });

  it('refuses schema changes, PRAGMA and the store tables inside a transaction', () => {
    const s = storeWith(BANK);
    expectUsage(() => s.write(2, (db) => db.prepare('CREATE TABLE t (a)')), 'E_STATEMENT_REFUSED', /migrations/);
    expectUsage(() => s.write(2, (db) => db.prepare('PRAGMA recursive_triggers = OFF')), 'E_STATEMENT_REFUSED', /PRAGMA/);
    expectUsage(() => s.write(2, (db) => db.prepare('BEGIN')), 'E_STATEMENT_REFUSED', /BEGIN/);
    expectUsage(() => s.write(2, (db) => db.prepare(`UPDATE _windback_meta SET value = 9`)), 'E_STATEMENT_REFUSED', /_windback_/);
    expect(s.lastAppliedTx).toBe(1);
  });

  it('refuses statements once the callback has returned', () => {
    const s = storeWith(BANK);
    let kept: TxDb | null = null;
    const { result: stmt } = s.write(2, (db) => {
      kept = db;
      return null;
    });
    expect(stmt).toBeNull();
    expectUsage(() => kept!.prepare('SELECT 1'), 'E_TX_CLOSED', /has ended/);
  });

  it('refuses to start a transaction from inside another', () => {
    const s = storeWith(BANK);
    expectUsage(() => s.write(2, () => s.read(() => 1)), 'E_STORE_BUSY', /one transaction at a time/);
    expect(s.lastAppliedTx).toBe(1);
  });

  it('closes iterators the callback left open, and counts only the rows it pulled', () => {
    const s = storeWith(BANK);
    const partial = s.write(2, (db) => {
      db.prepare('UPDATE acct SET bal = 0 WHERE id = 2').run();
      const it = db.prepare('SELECT * FROM acct ORDER BY id').iterate();
      it.next();
      return 'left open';
    });
    expect(partial.changes).toHaveLength(1);
    // The connection is free again.
    expect(s.write(3, (db) => db.prepare('UPDATE acct SET bal = 1 WHERE id = 2').run().changes).result).toBe(1);
  });

  it('supports pluck, raw and safeIntegers on statements', () => {
    const s = storeWith(BANK);
    const { result } = s.write(2, (db) => {
      const st = db.prepare('SELECT id, name FROM acct ORDER BY id');
      return {
        objects: st.all(),
        plucked: st.pluck().all(),
        raw: st.raw().all(),
        big: st.safeIntegers().raw().get(),
        back: st.raw(false).safeIntegers(false).get(),
        run: db.prepare(`INSERT INTO acct VALUES (9, 'z', 0)`).run(),
      };
    });
    expect(result).toEqual({
      objects: [
        { id: 1, name: 'ann' },
        { id: 2, name: 'bob' },
      ],
      plucked: [1, 2],
      raw: [
        [1, 'ann'],
        [2, 'bob'],
      ],
      big: [1n, 'ann'],
      back: { id: 1, name: 'ann' },
      run: { changes: 1, lastInsertRowid: 9 },
    });
  });
});

describe('lastInsertRowid of run()', () => {
  // SQLite keeps the last insert rowid per connection, across transactions:
  // a statement that inserts nothing reports whatever was last inserted, by
  // any transaction. run() reports 0 then, so that what a session sees never
  // depends on another session's work, however the store learns the value.
  const ignored = (db: TxDb) => db.prepare(`INSERT OR IGNORE INTO acct VALUES (1, 'ann', 0)`).run();
  // Changes a row and inserts none: only the rowid the connection holds tells.
  const updated = (db: TxDb) => db.prepare(`INSERT INTO acct VALUES (2, 'bob', 5) ON CONFLICT (id) DO UPDATE SET bal = bal + 1`).run();

  it('is the new rowid after an insert, and 0 when a statement inserted nothing, whatever the transaction before did', () => {
    const s = storeWith(BANK);
    expect(s.write(2, (db) => db.prepare(`INSERT INTO acct VALUES (7, 'cy', 0)`).run()).result).toEqual({ changes: 1, lastInsertRowid: 7 });
    expect(s.write(3, ignored).result).toEqual({ changes: 0, lastInsertRowid: 0 });
    expect(s.write(4, (db) => db.prepare('UPDATE acct SET bal = 1 WHERE id = 1').run()).result).toEqual({ changes: 1, lastInsertRowid: 0 });
    // An upsert that updated changed a row and inserted none.
    const upsert = s.write(5, (db) => db.prepare(`INSERT INTO acct VALUES (2, 'bob', 5) ON CONFLICT (id) DO UPDATE SET bal = 5`).run()).result;
    expect(upsert).toEqual({ changes: 1, lastInsertRowid: 0 });
  });

  it('is 0 for a statement that inserted nothing after changes were applied, a migration ran, or a write failed', () => {
    const s = storeWith(BANK);
    s.write(2, (db) => db.prepare(`INSERT INTO acct VALUES (7, 'cy', 0)`).run());
    // Applied changes insert their after-images with their rowids (here 40).
    s.applyChanges(3, [{ table: 'acct', key: 40, before: null, after: { id: 40, name: 'dee', bal: 0 } }]);
    expect(s.write(4, updated).result).toEqual({ changes: 1, lastInsertRowid: 0 });
    s.applyMigration(5, 'seed', `INSERT INTO acct VALUES (50, 'eve', 0)`);
    expect(s.write(6, updated).result).toEqual({ changes: 1, lastInsertRowid: 0 });
    expect(() =>
      s.write(7, (db) => {
        db.prepare(`INSERT INTO acct VALUES (60, 'fay', 0)`).run();
        throw new Error('after an insert');
      }),
    ).toThrow('after an insert');
    expect(s.write(7, updated).result).toEqual({ changes: 1, lastInsertRowid: 0 });
    expect(s.write(8, ignored).result).toEqual({ changes: 0, lastInsertRowid: 0 });
  });

  it('is the new rowid when a rolled-back insert had been given the same one', () => {
    const s = storeWith(BANK);
    expect(() =>
      s.write(2, (db) => {
        db.prepare(`INSERT INTO acct (name, bal) VALUES ('cy', 0)`).run();
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    // SQLite still holds rowid 3 as the connection's last insert; the next insert is given 3 again.
    expect(s.write(2, (db) => db.prepare(`INSERT INTO acct (name, bal) VALUES ('dee', 0)`).run()).result).toEqual({ changes: 1, lastInsertRowid: 3 });
    // The same through an upsert that inserts, after another rolled-back insert.
    expect(() =>
      s.write(3, (db) => {
        db.prepare(`INSERT INTO acct (name, bal) VALUES ('eve', 0)`).run();
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    const upsert = s.write(3, (db) => db.prepare(`INSERT INTO acct (name, bal) VALUES ('fay', 0) ON CONFLICT (name) DO UPDATE SET bal = 1`).run()).result;
    expect(upsert).toEqual({ changes: 1, lastInsertRowid: 4 });
  });

  it('is 0 for a statement that inserted nothing after an INSERT ... RETURNING read through get()', () => {
    const s = storeWith(BANK);
    const { result } = s.write(2, (db) => {
      const before = ignored(db); // the transaction learns the connection's rowid
      const returned = db.prepare(`INSERT INTO acct VALUES (8, 'gus', 0) RETURNING id`).pluck().get();
      return { before, returned, after: updated(db) };
    });
    expect(result).toEqual({ before: { changes: 0, lastInsertRowid: 0 }, returned: 8, after: { changes: 1, lastInsertRowid: 0 } });
  });

  it('compares by value with safe integers: an UPDATE reports 0, an insert its rowid as a bigint', () => {
    const s = storeWith(BANK);
    s.write(2, (db) => db.prepare(`INSERT INTO acct VALUES (7, 'cy', 0)`).run());
    const { result } = s.write(3, (db) => ({
      update: db.prepare('UPDATE acct SET bal = 2 WHERE id = 1').safeIntegers().run(),
      insert: db.prepare(`INSERT INTO acct VALUES (9, 'hal', 0)`).safeIntegers().run(),
    }));
    expect(result).toEqual({ update: { changes: 1, lastInsertRowid: 0 }, insert: { changes: 1, lastInsertRowid: 9n } });
  });
});

describe('read digest', () => {
  const read = (s: SqliteStore, fn: (db: TxDb) => unknown) => Buffer.from(s.read(fn).readDigest).toString('hex');
  const balances = (db: TxDb) => db.prepare('SELECT * FROM acct ORDER BY id').all();

  it('is the same for the same reads of the same data, in any store', () => {
    const a = storeWith(BANK);
    const b = storeWith(BANK);
    expect(read(a, balances)).toBe(read(b, balances));
    expect(read(a, balances)).toBe(read(a, balances));
    // A write transaction that reads the same gets the same digest as well.
    const wa = a.write(2, (db) => transfer(db, 1, 2, 1)).readDigest;
    const wb = b.write(2, (db) => transfer(db, 1, 2, 1)).readDigest;
    expect(Buffer.from(wa).equals(Buffer.from(wb))).toBe(true);
  });

  it('changes when a value read differs', () => {
    const a = storeWith(BANK);
    const b = storeWith(BANK);
    b.write(2, (db) => db.prepare('UPDATE acct SET bal = 51 WHERE id = 2').run());
    expect(read(a, balances)).not.toBe(read(b, balances));
    // Reading only the row that is equal gives equal digests.
    const ann = (db: TxDb) => db.prepare('SELECT bal FROM acct WHERE id = ?').get(1);
    expect(read(a, ann)).toBe(read(b, ann));
  });

  it('changes with the parameters, the SQL, the storage class and the number of rows pulled', () => {
    const s = storeWith(`${BANK} CREATE TABLE v (x); INSERT INTO v VALUES (1);`);
    const get = (id: number) => (db: TxDb) => db.prepare('SELECT bal FROM acct WHERE id = ?').get(id);
    expect(read(s, get(1))).not.toBe(read(s, get(3)));
    expect(read(s, (db) => db.prepare('SELECT 1').get())).not.toBe(read(s, (db) => db.prepare('SELECT  1').get()));
    const typed = memStore();
    typed.applyMigration(1, 'v', 'CREATE TABLE v (x); INSERT INTO v VALUES (1);');
    const real = memStore();
    real.applyMigration(1, 'v', 'CREATE TABLE v (x); INSERT INTO v VALUES (1.0);');
    const x = (db: TxDb) => db.prepare('SELECT x FROM v').safeIntegers().get();
    expect(read(typed, x)).not.toBe(read(real, x));
    const pull = (n: number) => (db: TxDb) => {
      const it = db.prepare('SELECT * FROM acct ORDER BY id').iterate();
      for (let i = 0; i < n; i++) it.next();
      it.return?.();
    };
    expect(read(s, pull(1))).not.toBe(read(s, pull(2)));
  });

  it('covers what a write statement returned and the errors the callback caught', () => {
    const a = storeWith(BANK);
    const b = storeWith(`${BANK} INSERT INTO acct VALUES (3, 'cy', 0);`);
    const insert = (db: TxDb) => {
      try {
        db.prepare(`INSERT INTO acct VALUES (3, 'cy', 0)`).run();
      } catch {
        return 'exists';
      }
      return 'inserted';
    };
    const da = a.write(a.nextTxId, insert);
    const db_ = b.write(b.nextTxId, insert);
    expect([da.result, db_.result]).toEqual(['inserted', 'exists']);
    expect(Buffer.from(da.readDigest).equals(Buffer.from(db_.readDigest))).toBe(false);
  });
});

describe('aborted transactions', () => {
  it('keep what the callback read before it threw, and forget it after the next success', () => {
    const s = storeWith(BANK);
    expect(s.lastAbort).toBeNull();
    expect(() => s.write(2, (db) => transfer(db, 2, 1, 1000))).toThrow('insufficient funds');
    const abort = s.lastAbort!;
    expect(abort.mode).toBe('write');
    expect(abort.readAtTx).toBe(1);
    // The same read, done by read(), gives the same digest.
    const same = s.read((db) => db.prepare('SELECT bal FROM acct WHERE id = ?').pluck().get<number>(2));
    expect(s.lastAbort).toBeNull();
    expect(Buffer.from(abort.readDigest).equals(Buffer.from(same.readDigest))).toBe(true);
    // A different balance read gives a different digest.
    expect(() => s.write(2, (db) => transfer(db, 1, 2, 1000))).toThrow('insufficient funds');
    expect(Buffer.from(s.lastAbort!.readDigest).equals(Buffer.from(abort.readDigest))).toBe(false);
    expect(() => s.read(() => { throw new Error('r'); })).toThrow('r');
    expect(s.lastAbort).toMatchObject({ mode: 'read', readAtTx: 1 });
    s.write(2, (db) => transfer(db, 1, 2, 1));
    expect(s.lastAbort).toBeNull();
  });
});

describe('read-only reads', () => {
  it('returns the result, the digest and the transaction it read at', () => {
    const s = storeWith(BANK);
    s.write(2, (db) => transfer(db, 1, 2, 10));
    const out = s.read((db) => db.prepare('SELECT sum(bal) FROM acct').pluck().get());
    expect(out.result).toBe(150);
    expect(out.readAtTx).toBe(2);
    expect(out.readDigest.byteLength).toBe(32);
  });

  it('refuses statements that write', () => {
    const s = storeWith(BANK);
    expectUsage(() => s.read((db) => db.prepare('UPDATE acct SET bal = 0').run()), 'E_NOT_READONLY', /read\(\) refuses.*UPDATE acct/);
    expectUsage(() => s.read((db) => db.prepare('WITH x AS (SELECT 1) DELETE FROM acct').run()), 'E_NOT_READONLY', /DELETE/);
    expectUsage(() => s.read((db) => db.prepare(`INSERT INTO acct VALUES (5, 'e', 0) RETURNING id`).get()), 'E_NOT_READONLY', /INSERT/);
    expectUsage(() => s.read((db) => db.prepare('DROP TABLE acct')), 'E_STATEMENT_REFUSED', /DROP/);
    expect(s.tableCounts()).toEqual({ acct: 2 });
  });
});

describe('migrations', () => {
  it('refuses WITHOUT ROWID tables with a clear error and leaves the store as it was', () => {
    const s = storeWith(BANK);
    expectUsage(
      () => s.applyMigration(2, 'kv', `CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID; INSERT INTO acct VALUES (3, 'c', 0);`),
      'E_UNSUPPORTED_SCHEMA',
      /"kv" is a WITHOUT ROWID table/,
    );
    expect(s.lastAppliedTx).toBe(1);
    expect(s.dumpLogical().schema.join()).not.toMatch(/kv/);
    expect(s.tableCounts()).toEqual({ acct: 2 });
    expect(s.write(2, (db) => transfer(db, 1, 2, 1)).changes).toHaveLength(2);
  });

  it('refuses virtual tables, temporary objects, reserved names and transaction control', () => {
    const s = storeWith(BANK);
    expectUsage(() => s.applyMigration(2, 'fts', `CREATE VIRTUAL TABLE doc USING fts5 (body)`), 'E_UNSUPPORTED_SCHEMA', /virtual table/);
    expectUsage(() => s.applyMigration(2, 'tmp', `CREATE TEMP TABLE scratch (a)`), 'E_UNSUPPORTED_SCHEMA', /temporary table "scratch"/);
    expectUsage(() => s.applyMigration(2, 'res', `CREATE TABLE _windback_x (a)`), 'E_STATEMENT_REFUSED', /_windback_/);
    expectUsage(() => s.applyMigration(2, 'tx', `BEGIN; CREATE TABLE t (a); COMMIT;`), 'E_STATEMENT_REFUSED', /BEGIN is not allowed/);
    expectUsage(() => s.applyMigration(2, 'pragma', `PRAGMA user_version = 3`), 'E_STATEMENT_REFUSED', /PRAGMA/);
    expectUsage(() => s.applyMigration(2, 'empty', `-- nothing`), 'E_SQL', /no statements/);
    expectUsage(() => s.applyMigration(2, 'bad', `CREATE TABLE ok (a); INSERT INTO nope VALUES (1);`), 'E_SQL', /statement 2 failed: no such table: nope/);
    expect(s.lastAppliedTx).toBe(1);
    expect(Object.keys(s.dumpLogical().tables)).toEqual(['acct']);
  });

  it('refuses a migration that leaves foreign key violations', () => {
    const s = storeWith(BANK);
    expectUsage(
      () => s.applyMigration(2, 'fk', `CREATE TABLE c (a INTEGER REFERENCES acct (id)); INSERT INTO c VALUES (99);`),
      'E_SQL',
      /foreign key violation/,
    );
    expect(s.lastAppliedTx).toBe(1);
  });

  it('runs triggers with BEGIN ... END bodies as one statement', () => {
    const s = memStore();
    const out = s.applyMigration(
      1,
      'init',
      `CREATE TABLE t (a); CREATE TABLE log (a);
       CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO log VALUES (NEW.a); SELECT CASE WHEN NEW.a < 0 THEN RAISE(ABORT, 'negative') END; END;
       INSERT INTO t VALUES (1);`,
    );
    expect(out.statements).toBe(4);
    expect(s.tableCounts()).toEqual({ log: 1, t: 1 });
    expect(() => s.write(2, (db) => db.prepare('INSERT INTO t VALUES (-1)').run())).toThrow(/negative/);
  });

  it('checks a re-run migration against the changes it recorded', () => {
    const sql = `CREATE TABLE t (a); INSERT INTO t VALUES (abs(random()) % 1000000 + 1);`;
    const a = memStore();
    const recorded = a.applyMigration(1, 'rand', sql);
    const b = memStore();
    expect(() => b.applyMigration(1, 'rand', sql, { expectedChanges: recorded.changes })).toThrow(StoreDivergedError);
    expect(b.lastAppliedTx).toBe(0);
    expect(b.tableCounts()).toEqual({});
    const c = memStore();
    c.applyMigration(1, 'init', BANK, { expectedChanges: memStore().applyMigration(1, 'init', BANK).changes });
    expect(c.lastAppliedTx).toBe(1);
  });
});

describe('applying recorded changes', () => {
  it('refuses changes whose before-image does not match, and applies nothing', () => {
    const a = storeWith(BANK);
    const b = storeWith(BANK);
    b.write(2, (db) => db.prepare('UPDATE acct SET bal = 0 WHERE id = 2').run());
    const { changes } = a.write(2, (db) => transfer(db, 1, 2, 10));
    const before = dumpLogical(b);
    expect(() => b.applyChanges(3, changes)).toThrow(StoreDivergedError);
    expect(() => b.applyChanges(3, changes)).toThrow(/"acct" rowid 2 is \{id: 2, name: "bob", bal: 0\}.* was \{id: 2, name: "bob", bal: 50\}/);
    expect(b.lastAppliedTx).toBe(2);
    expect(logicalDifference(before, b)).toBeNull();
  });

  it('refuses an insert over a row that exists, and a change to an unknown table', () => {
    const b = storeWith(BANK);
    expect(() => b.applyChanges(2, [{ table: 'acct', key: 1, before: null, after: { id: 1, name: 'x', bal: 0 } }])).toThrow(/journal says it was \(none\)/);
    expect(() => b.applyChanges(2, [{ table: 'nope', key: 1, before: null, after: { a: 1 } }])).toThrow(/"nope", which the database does not have/);
  });

  it('applies changes that swap unique values between rows', () => {
    const a = storeWith(BANK);
    const b = storeWith(BANK);
    const { changes } = a.write(2, (db) => {
      db.prepare(`UPDATE acct SET name = 'tmp' WHERE id = 1`).run();
      db.prepare(`UPDATE acct SET name = 'ann' WHERE id = 2`).run();
      db.prepare(`UPDATE acct SET name = 'bob' WHERE id = 1`).run();
    });
    b.applyChanges(2, changes);
    expect(logicalDifference(a, b)).toBeNull();
  });
});

// A store in locking mode NORMAL snapshots through SQLite's backup API; one
// that holds the exclusive lock (the live store) copies its file after a
// checkpoint. Both must give the same guarantees.
const SNAPSHOT_MODES = [
  { mode: 'backup API (locking NORMAL)', options: {} },
  { mode: 'file copy (locking EXCLUSIVE, deferred commits)', options: { lockingMode: 'EXCLUSIVE', synchronous: 'OFF', commitEvery: 64 } },
] as const;

describe.each(SNAPSHOT_MODES)('snapshots: $mode', ({ options }) => {
  it('writes a consistent copy tied to lastAppliedTx, which rebuilds the state with the later changes', async () => {
    const dir = tempDir();
    const live = track(openSqliteStore(path.join(dir, 'live.db'), options));
    live.applyMigration(1, 'init', BANK);
    live.write(2, (db) => transfer(db, 1, 2, 10));
    const snap = await live.snapshot(path.join(dir, 'snap-2.db'));
    expect(snap.tx).toBe(2);
    expect(snap.file).toBe(path.join(dir, 'snap-2.db'));
    expect(snap.bytes).toBe(fs.statSync(snap.file).size);
    expect(snap.sha256).toBe(await sha256OfFile(snap.file));
    expect(snap.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.existsSync(`${snap.file}-wal`)).toBe(false);

    const later = [live.write(3, (db) => transfer(db, 2, 1, 7)).changes, live.write(4, (db) => transfer(db, 1, 2, 1)).changes];
    const copy = track(openSnapshotCopy(snap.file, path.join(dir, 'rebuild.db'), { sha256: snap.sha256 }));
    expect(copy.lastAppliedTx).toBe(2);
    copy.applyChanges(3, later[0]);
    copy.applyChanges(4, later[1]);
    expect(logicalDifference(live, copy)).toBeNull();
    expect(logicallyEqual(live, copy)).toBe(true);
    // The snapshot itself was not touched by the copy.
    expect(await sha256OfFile(snap.file)).toBe(snap.sha256);
  });

  it('snapshots while transactions keep committing', async () => {
    const dir = tempDir();
    const live = track(openSqliteStore(path.join(dir, 'live.db'), options));
    live.applyMigration(1, 'init', `CREATE TABLE blob (b BLOB)`);
    for (let i = 0; i < 20; i++) {
      live.write(live.nextTxId, (db) => {
        for (let j = 0; j < 50; j++) db.prepare('INSERT INTO blob VALUES (?)').run(Buffer.alloc(1000, i));
      });
    }
    const pending = live.snapshot(path.join(dir, 'snap.db'));
    const interleaved = setInterval(() => live.write(live.nextTxId, (db) => db.prepare("INSERT INTO blob VALUES (X'01')").run()), 0);
    const snap = await pending;
    clearInterval(interleaved);
    const copy = track(openSnapshotCopy(snap.file, path.join(dir, 'copy.db')));
    expect(copy.lastAppliedTx).toBe(snap.tx);
    expect(copy.tableCounts().blob).toBe(1000 + (snap.tx - 21));
  });

  it('refuses a snapshot whose SHA-256 does not match', async () => {
    const dir = tempDir();
    const live = track(openSqliteStore(path.join(dir, 'live.db'), options));
    live.applyMigration(1, 'init', BANK);
    const snap = await live.snapshot(path.join(dir, 's.db'));
    expect(() => openSnapshotCopy(snap.file, path.join(dir, 'c.db'), { sha256: '0'.repeat(64) })).toThrow(CorruptSnapshotError);
  });

  it('leaves the live file working: later writes, a second snapshot, reopening', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'live.db');
    const live = openSqliteStore(file, options);
    live.applyMigration(1, 'init', BANK);
    live.write(2, (db) => transfer(db, 1, 2, 10));
    const first = await live.snapshot(path.join(dir, 'a.db'));
    live.write(3, (db) => transfer(db, 2, 1, 3));
    const second = await live.snapshot(path.join(dir, 'b.db'));
    expect([first.tx, second.tx]).toEqual([2, 3]);
    live.write(4, (db) => transfer(db, 1, 2, 1));
    live.close();
    const again = track(openSqliteStore(file, options));
    expect(again.lastAppliedTx).toBe(4);
    expect(again.queryReadOnly('SELECT bal FROM acct ORDER BY id').rows).toEqual([[92], [58]]);
    const copy = track(openSnapshotCopy(second.file, path.join(dir, 'copy.db'), { sha256: second.sha256 }));
    expect(copy.queryReadOnly('SELECT bal FROM acct ORDER BY id').rows).toEqual([[93], [57]]);
  });
});

describe('snapshots by file copy', () => {
  const LIVE = { lockingMode: 'EXCLUSIVE', synchronous: 'OFF', commitEvery: 64 } as const;

  it('takes two snapshots asked for at once, each a sound copy of its own transaction', async () => {
    const dir = tempDir();
    const live = track(openSqliteStore(path.join(dir, 'live.db'), LIVE));
    live.applyMigration(1, 'init', `CREATE TABLE blob (b BLOB)`);
    live.write(2, (db) => {
      for (let j = 0; j < 3000; j++) db.prepare('INSERT INTO blob VALUES (?)').run(Buffer.alloc(1000, j % 256));
    });
    const first = live.snapshot(path.join(dir, 'a.db'));
    for (let i = 0; i < 30; i++) {
      live.write(live.nextTxId, (db) => {
        for (let j = 0; j < 50; j++) db.prepare('INSERT INTO blob VALUES (?)').run(Buffer.alloc(2000, i));
      });
    }
    const second = live.snapshot(path.join(dir, 'b.db'));
    const [a, b] = await Promise.all([first, second]);
    expect([a.tx, b.tx]).toEqual([2, 32]);
    for (const [snap, rows] of [[a, 3000], [b, 4500]] as const) {
      const copy = track(openSnapshotCopy(snap.file, path.join(dir, `copy-${snap.tx}.db`), { sha256: snap.sha256 }));
      expect(copy.lastAppliedTx).toBe(snap.tx);
      expect(copy.tableCounts().blob).toBe(rows);
    }
  });

  it('fails, leaving no partial file, when the store is closed while the file is being copied', async () => {
    const dir = tempDir();
    const live = openSqliteStore(path.join(dir, 'live.db'), LIVE);
    live.applyMigration(1, 'init', `CREATE TABLE blob (b BLOB)`);
    live.write(2, (db) => {
      for (let j = 0; j < 2000; j++) db.prepare('INSERT INTO blob VALUES (?)').run(Buffer.alloc(1000, j % 256));
    });
    const pending = live.snapshot(path.join(dir, 'snap.db'));
    live.close(); // checkpoints the WAL into the file: a copy taken meanwhile could be torn
    await expect(pending).rejects.toThrow(/was closed while a snapshot copied it/);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('snap.db'))).toEqual([]);
  });

  it('copies the state as of the snapshot: while it copies, transactions commit to the WAL and nothing writes the file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'live.db');
    const live = track(openSqliteStore(file, LIVE));
    live.applyMigration(1, 'init', `CREATE TABLE blob (b BLOB)`);
    live.write(2, (db) => {
      for (let j = 0; j < 5000; j++) db.prepare('INSERT INTO blob VALUES (?)').run(Buffer.alloc(1000, j % 256));
    });
    const pending = live.snapshot(path.join(dir, 'snap.db'));
    const checkpointed = sha256OfFileSync(file);
    // 10 MB, past the automatic checkpoint's 1,000 pages, which would write
    // them into the file being copied.
    for (let i = 0; i < 100; i++) {
      live.write(live.nextTxId, (db) => {
        for (let j = 0; j < 50; j++) db.prepare('INSERT INTO blob VALUES (?)').run(Buffer.alloc(2000, i));
      });
    }
    expect(sha256OfFileSync(file)).toBe(checkpointed);
    const snap = await pending;
    expect(snap.tx).toBe(2);
    const copy = track(openSnapshotCopy(snap.file, path.join(dir, 'copy.db'), { sha256: snap.sha256 }));
    expect(copy.tableCounts().blob).toBe(5000);
    expect(live.tableCounts().blob).toBe(10_000);
    // Automatic checkpoints are back on: the next commits move the WAL into the file.
    for (let i = 0; i < 70; i++) live.write(live.nextTxId, (db) => db.prepare("INSERT INTO blob VALUES (X'01')").run());
    expect(sha256OfFileSync(file)).not.toBe(checkpointed);
    const raw = new Database(snap.file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('delete');
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      raw.close();
    }
  });
});

describe('inspection', () => {
  it('answers read-only queries with exact values and refuses anything else', () => {
    const s = storeWith(`${BANK} CREATE TABLE big (v INTEGER); INSERT INTO big VALUES (9007199254740993);`);
    expect(s.queryReadOnly('SELECT id, name FROM acct WHERE bal > ? ORDER BY id', [60])).toEqual({ columns: ['id', 'name'], rows: [[1, 'ann']] });
    expect(s.queryReadOnly('SELECT v FROM big').rows).toEqual([[9007199254740993n]]);
    expect(s.queryReadOnly('SELECT name FROM acct WHERE id = :id', { id: 2 }).rows).toEqual([['bob']]);
    expect(s.queryReadOnly('PRAGMA table_info(acct)').columns).toContain('name');
    expectUsage(() => s.queryReadOnly('DELETE FROM acct'), 'E_NOT_READONLY', /not a read-only query: DELETE FROM acct/);
    expectUsage(() => s.queryReadOnly('PRAGMA journal_mode = DELETE'), 'E_NOT_READONLY', /journal_mode/);
    expectUsage(() => s.queryReadOnly(`ATTACH 'x.db' AS x`), 'E_NOT_READONLY', /ATTACH/);
    expectUsage(() => s.queryReadOnly('SELEC 1'), 'E_SQL', /syntax error: SELEC 1/);
    expect(s.tableCounts()).toEqual({ acct: 2, big: 1 });
  });

  it('dumps the logical content of a store or a file, without the store tables', () => {
    const dir = tempDir();
    const file = path.join(dir, 'live.db');
    const s = track(openSqliteStore(file));
    s.applyMigration(1, 'init', `${BANK}  CREATE INDEX   acct_bal ON acct (bal);`);
    const dump = s.dumpLogical();
    expect(dump.schema).toEqual([
      'CREATE INDEX acct_bal ON acct (bal)',
      'CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, bal INTEGER NOT NULL)',
    ]);
    expect(dump.tables).toEqual({
      acct: {
        columns: ['rowid', 'id', 'name', 'bal'],
        rows: [
          [1n, 1n, 'ann', 100n],
          [2n, 2n, 'bob', 50n],
        ],
      },
    });
    expect(dumpLogical(file)).toEqual(dump);
    const other = storeWith(BANK);
    expect(logicalDifference(s, other)).toMatch(/schema differs/);
    const same = storeWith(`${BANK} CREATE INDEX acct_bal ON acct (bal);`);
    expect(logicallyEqual(s, same)).toBe(true);
    same.write(2, (db) => db.prepare('UPDATE acct SET bal = 50.5 WHERE id = 2').run());
    expect(logicalDifference(s, same)).toBe('table "acct": row 1 (rowid 2), column bal: INTEGER 50 <> REAL 50.5');
  });
});
