import { describe, expect, it } from 'vitest';
import { logicalDifference, type SqliteStore } from '../../src/store/index.js';
import { cell, expectReplicates, memStore, runTx, storeWith } from './helpers.js';

// Change capture: what write() reports for each kind of DML, and that
// applying it elsewhere reproduces the state exactly.

const ACCOUNTS = `
  CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT UNIQUE, bal INTEGER NOT NULL DEFAULT 0, note);
  INSERT INTO acct (id, name, bal) VALUES (1, 'ann', 100), (2, 'bob', 50), (3, 'cid', 7);
`;

describe('change capture', () => {
  it('captures an insert with its rowid and no before-image', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `INSERT INTO acct (name, bal) VALUES ('dee', 5)`)).toEqual([
      { table: 'acct', key: 4, before: null, after: { id: 4, name: 'dee', bal: 5, note: null } },
    ]);
  });

  it('captures an update with before- and after-image', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `UPDATE acct SET bal = bal - 10 WHERE id = 1`)).toEqual([
      { table: 'acct', key: 1, before: { id: 1, name: 'ann', bal: 100, note: null }, after: { id: 1, name: 'ann', bal: 90, note: null } },
    ]);
  });

  it('captures a delete with no after-image', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `DELETE FROM acct WHERE id = 2`)).toEqual([
      { table: 'acct', key: 2, before: { id: 2, name: 'bob', bal: 50, note: null }, after: null },
    ]);
  });

  it('captures INSERT OR REPLACE over the same rowid as one change', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `INSERT OR REPLACE INTO acct (id, name, bal) VALUES (1, 'ann', 1)`)).toEqual([
      { table: 'acct', key: 1, before: { id: 1, name: 'ann', bal: 100, note: null }, after: { id: 1, name: 'ann', bal: 1, note: null } },
    ]);
  });

  it('captures INSERT OR REPLACE that removes a row under another rowid (recursive_triggers)', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `INSERT OR REPLACE INTO acct (id, name, bal) VALUES (9, 'bob', 1)`)).toEqual([
      { table: 'acct', key: 2, before: { id: 2, name: 'bob', bal: 50, note: null }, after: null },
      { table: 'acct', key: 9, before: null, after: { id: 9, name: 'bob', bal: 1, note: null } },
    ]);
    expectReplicates(ACCOUNTS, [`INSERT OR REPLACE INTO acct (id, name, bal) VALUES (9, 'bob', 1)`]);
  });

  it('captures an UPSERT (ON CONFLICT DO UPDATE) as an update, and a non-conflicting one as an insert', () => {
    const s = storeWith(ACCOUNTS);
    const upsert = `INSERT INTO acct (name, bal) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET bal = bal + excluded.bal`;
    const { changes } = s.write(2, (db) => {
      db.prepare(upsert).run('ann', 5);
      db.prepare(upsert).run('eve', 5);
    });
    expect(changes).toEqual([
      { table: 'acct', key: 1, before: { id: 1, name: 'ann', bal: 100, note: null }, after: { id: 1, name: 'ann', bal: 105, note: null } },
      { table: 'acct', key: 4, before: null, after: { id: 4, name: 'eve', bal: 5, note: null } },
    ]);
  });

  it('captures multi-row statements, one change per row in first-touch order', () => {
    const s = storeWith(ACCOUNTS);
    const changes = runTx(s, `UPDATE acct SET bal = 0 WHERE id = 3`, `UPDATE acct SET bal = bal + 1`, `INSERT INTO acct (name) VALUES ('x'), ('y')`);
    expect(changes.map((c) => c.key)).toEqual([3, 1, 2, 4, 5]);
    expect(changes[0]).toEqual({
      table: 'acct',
      key: 3,
      before: { id: 3, name: 'cid', bal: 7, note: null },
      after: { id: 3, name: 'cid', bal: 1, note: null },
    });
  });

  it('orders changes by first touch across tables', () => {
    const s = storeWith(`${ACCOUNTS} CREATE TABLE log (msg TEXT);`);
    const changes = runTx(s, `INSERT INTO log VALUES ('a')`, `UPDATE acct SET bal = 1 WHERE id = 2`, `INSERT INTO log VALUES ('b')`, `UPDATE acct SET bal = 1 WHERE id = 1`);
    expect(changes.map((c) => `${c.table}:${c.key}`)).toEqual(['log:1', 'acct:2', 'log:2', 'acct:1']);
  });

  it('keeps the first before-image for update then delete', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `UPDATE acct SET bal = 1 WHERE id = 1`, `UPDATE acct SET bal = 2 WHERE id = 1`, `DELETE FROM acct WHERE id = 1`)).toEqual([
      { table: 'acct', key: 1, before: { id: 1, name: 'ann', bal: 100, note: null }, after: null },
    ]);
  });

  it('reports nothing for a row inserted then deleted', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `INSERT INTO acct (id, name) VALUES (10, 'tmp')`, `UPDATE acct SET bal = 3 WHERE id = 10`, `DELETE FROM acct WHERE id = 10`)).toEqual([]);
  });

  it('reports an insert then update as one insert with the final row', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `INSERT INTO acct (id, name) VALUES (10, 'new')`, `UPDATE acct SET bal = 3 WHERE id = 10`)).toEqual([
      { table: 'acct', key: 10, before: null, after: { id: 10, name: 'new', bal: 3, note: null } },
    ]);
  });

  it('reports nothing for an update that puts the old values back', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `UPDATE acct SET bal = 1 WHERE id = 1`, `UPDATE acct SET bal = 100 WHERE id = 1`)).toEqual([]);
    expect(runTx(s, `UPDATE acct SET bal = bal`)).toEqual([]);
  });

  it('reports a deleted rowid that is reused in the same transaction as an update', () => {
    const s = storeWith(ACCOUNTS);
    // rowid 3 is the largest, so the next insert gets 3 again.
    const changes = runTx(s, `DELETE FROM acct WHERE id = 3`, `INSERT INTO acct (name, bal) VALUES ('zed', 1)`);
    expect(changes).toEqual([
      { table: 'acct', key: 3, before: { id: 3, name: 'cid', bal: 7, note: null }, after: { id: 3, name: 'zed', bal: 1, note: null } },
    ]);
  });

  it('reports a rowid change as a delete of the old rowid and an insert of the new one', () => {
    const s = storeWith(ACCOUNTS);
    expect(runTx(s, `UPDATE acct SET id = 20 WHERE id = 1`)).toEqual([
      { table: 'acct', key: 1, before: { id: 1, name: 'ann', bal: 100, note: null }, after: null },
      { table: 'acct', key: 20, before: null, after: { id: 20, name: 'ann', bal: 100, note: null } },
    ]);
    expectReplicates(ACCOUNTS, [`UPDATE acct SET id = id + 10`], [`UPDATE OR REPLACE acct SET id = 12 WHERE id = 13`]);
  });

  it('is not disturbed by the conflict policy of the statement that fires the triggers', () => {
    // OR FAIL / OR ABORT / OR REPLACE on the outer statement override the
    // policy inside trigger bodies; capture must not hit a constraint itself.
    const s = storeWith(ACCOUNTS);
    const changes = runTx(
      s,
      `UPDATE OR FAIL acct SET bal = 1 WHERE id = 1`,
      `UPDATE OR ABORT acct SET bal = 2 WHERE id = 1`,
      `UPDATE acct SET bal = 3 WHERE id = 2`,
      `INSERT OR REPLACE INTO acct (id, name, bal) VALUES (1, 'ann', 4)`,
      `INSERT OR ROLLBACK INTO acct (id, name) VALUES (5, 'f')`,
      `UPDATE OR ROLLBACK acct SET bal = 5 WHERE id = 5`,
    );
    expect(changes.map((c) => [c.key, c.after?.bal])).toEqual([
      [1, 4],
      [2, 3],
      [5, 5],
    ]);
  });

  it('drops the partial effects of a statement that failed and was caught', () => {
    const s = storeWith(ACCOUNTS);
    const { changes } = s.write(2, (db) => {
      db.prepare(`UPDATE acct SET bal = 1 WHERE id = 1`).run();
      // The second row violates UNIQUE(name): the whole statement is undone.
      expect(() => db.prepare(`INSERT INTO acct (id, name) VALUES (10, 'new'), (11, 'ann')`).run()).toThrow(/UNIQUE/);
      return null;
    });
    expect(changes.map((c) => c.key)).toEqual([1]);
  });

  it('keeps storage classes exact: integers, big integers, reals, text, blobs, nulls', () => {
    const schema = `CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, x)`;
    const s = storeWith(schema);
    const big = 2n ** 62n + 1n;
    const blob = Buffer.from([0, 1, 2, 255]);
    const { changes } = s.write(2, (db) => {
      db.prepare(`INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)`).run(7, 1.5, 'text', blob, 3, 7n); // untyped x: INTEGER 7
      db.prepare(`INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)`).run(big, 3, '', Buffer.alloc(0), 2.5, 3); // untyped x: REAL 3.0
      db.prepare(`INSERT INTO v VALUES (NULL, NULL, NULL, NULL, NULL, NULL)`).run();
      db.prepare(`INSERT INTO v (x) VALUES (?)`).run(big);
      db.prepare(`INSERT INTO v (x) VALUES (?)`).run(blob);
    });
    expect(changes.map((c) => c.after)).toEqual([
      { i: 7, r: 1.5, t: 'text', b: blob, n: 3, x: 7n },
      { i: big, r: 3, t: '', b: Buffer.alloc(0), n: 2.5, x: 3 },
      { i: null, r: null, t: null, b: null, n: null, x: null },
      { i: null, r: null, t: null, b: null, n: null, x: big },
      { i: null, r: null, t: null, b: null, n: null, x: blob },
    ]);
    expect(typeof changes[0].after!.x).toBe('bigint');
    expect(typeof changes[1].after!.x).toBe('number');

    const b = storeWith(schema);
    b.applyChanges(2, changes);
    expect(logicalDifference(s, b)).toBeNull();
    expect(cell(b, `SELECT x AS v FROM v WHERE rowid = 1`)).toEqual(['integer', 7]);
    expect(cell(b, `SELECT x AS v FROM v WHERE rowid = 2`)).toEqual(['real', 3]);
    expect(cell(b, `SELECT i AS v FROM v WHERE rowid = 2`)).toEqual(['integer', big]);
    expect(cell(b, `SELECT b AS v FROM v WHERE rowid = 2`)).toEqual(['blob', Buffer.alloc(0)]);
    expect(cell(b, `SELECT t AS v FROM v WHERE rowid = 2`)).toEqual(['text', '']);
  });

  it('captures big rowids as bigint keys', () => {
    const s = storeWith(`CREATE TABLE t (a)`);
    const { changes } = s.write(2, (db) => db.prepare(`INSERT INTO t (rowid, a) VALUES (?, 1)`).run(2n ** 60n));
    expect(changes[0].key).toBe(2n ** 60n);
  });

  it('leaves generated columns out of the images, and applies rows that have them', () => {
    const sql = `CREATE TABLE g (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, c INTEGER GENERATED ALWAYS AS (a + 1) STORED)`;
    expectReplicates(sql, [`INSERT INTO g (a) VALUES (1), (2)`], [`UPDATE g SET a = 5 WHERE a = 1`]);
    const s = storeWith(sql);
    expect(runTx(s, `INSERT INTO g (a) VALUES (3)`)[0].after).toEqual({ a: 3 });
  });

  it('handles a table whose column is named rowid, and a column named __proto__', () => {
    const sql = `CREATE TABLE odd (rowid TEXT, "__proto__" INTEGER, "we""ird" TEXT)`;
    const s = storeWith(sql);
    const changes = runTx(s, `INSERT INTO odd VALUES ('r', 1, 'w')`);
    expect(changes[0].key).toBe(1);
    expect(Object.keys(changes[0].after!)).toEqual(['rowid', '__proto__', 'we"ird']);
    expect(Object.getPrototypeOf(changes[0].after)).toBe(Object.prototype);
    expectReplicates(sql, [`INSERT INTO odd VALUES ('r', 1, 'w'), ('s', 2, 'v')`], [`UPDATE odd SET "__proto__" = 9`]);
  });

  it('captures AUTOINCREMENT counters, so a rebuilt store hands out the same next id', () => {
    const sql = `CREATE TABLE seqd (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)`;
    const a = storeWith(sql);
    const b = storeWith(sql);
    const first = runTx(a, `INSERT INTO seqd (v) VALUES ('x')`, `INSERT INTO seqd (v) VALUES ('y')`, `DELETE FROM seqd WHERE v = 'y'`);
    expect(first.map((c) => c.table)).toEqual(['seqd', 'sqlite_sequence']);
    expect(first[1]).toEqual({ table: 'sqlite_sequence', key: 1, before: null, after: { name: 'seqd', seq: 2n } });
    b.applyChanges(2, first);
    expect(logicalDifference(a, b)).toBeNull();
    const next = (s: SqliteStore) => s.write(s.nextTxId, (db) => db.prepare(`INSERT INTO seqd (v) VALUES ('z')`).run().lastInsertRowid).result;
    expect(next(a)).toBe(3);
    expect(next(b)).toBe(3);
  });

  it('applies an UPDATE that moves a row to a higher rowid without moving the AUTOINCREMENT counter', () => {
    const sql = `CREATE TABLE seqd (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT); INSERT INTO seqd (v) VALUES ('a');`;
    expectReplicates(sql, [`UPDATE seqd SET id = 100`], [`INSERT INTO seqd (v) VALUES ('b')`]);
  });

  it('captures what user triggers do, and does not run them again when applying', () => {
    const sql = `${ACCOUNTS}
      CREATE TABLE audit (acct INTEGER, delta INTEGER);
      CREATE TRIGGER acct_audit AFTER UPDATE OF bal ON acct BEGIN
        INSERT INTO audit VALUES (NEW.id, NEW.bal - OLD.bal);
      END;`;
    const a = storeWith(sql);
    const b = storeWith(sql);
    const changes = runTx(a, `UPDATE acct SET bal = bal - 10 WHERE id = 1`);
    expect(changes.map((c) => c.table)).toEqual(['acct', 'audit']);
    b.applyChanges(2, changes);
    expect(logicalDifference(a, b)).toBeNull();
    expect(b.tableCounts()).toEqual({ acct: 3, audit: 1 });
    // The trigger is back afterwards.
    runTx(b, `UPDATE acct SET bal = 0 WHERE id = 2`);
    expect(b.tableCounts()).toEqual({ acct: 3, audit: 2 });
  });

  it('captures foreign key cascades and applies them without cascading again', () => {
    const sql = `
      CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
      CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE);
      INSERT INTO parent VALUES (1, 'p1'), (2, 'p2');
      INSERT INTO child VALUES (10, 1), (11, 1), (12, 2);`;
    const a = storeWith(sql);
    const changes = runTx(a, `DELETE FROM parent WHERE id = 1`);
    expect(changes.map((c) => `${c.table}:${c.key}`).sort()).toEqual(['child:10', 'child:11', 'parent:1']);
    expectReplicates(sql, [`DELETE FROM parent WHERE id = 1`], [`UPDATE parent SET name = 'q' WHERE id = 2`], [`UPDATE parent SET id = 3 WHERE id = 2`]);
  });

  it('regenerates capture after a migration adds a column or a table', () => {
    const s = storeWith(ACCOUNTS);
    s.applyMigration(2, 'add column', `ALTER TABLE acct ADD COLUMN flag INTEGER DEFAULT 0`);
    expect(runTx(s, `UPDATE acct SET flag = 1 WHERE id = 1`)).toEqual([
      {
        table: 'acct',
        key: 1,
        before: { id: 1, name: 'ann', bal: 100, note: null, flag: 0 },
        after: { id: 1, name: 'ann', bal: 100, note: null, flag: 1 },
      },
    ]);
    s.applyMigration(4, 'add table', `CREATE TABLE extra (k TEXT PRIMARY KEY, v)`);
    expect(runTx(s, `INSERT INTO extra VALUES ('a', 1)`)).toEqual([{ table: 'extra', key: 1, before: null, after: { k: 'a', v: 1n } }]);
    s.applyMigration(6, 'drop column', `ALTER TABLE acct DROP COLUMN note`);
    expect(runTx(s, `UPDATE acct SET bal = 0 WHERE id = 3`)[0].after).toEqual({ id: 3, name: 'cid', bal: 0, flag: 0 });
  });

  it('returns the net row changes of DML inside a migration', () => {
    const s = memStore();
    const result = s.applyMigration(
      1,
      'init',
      `CREATE TABLE a (v INTEGER); INSERT INTO a VALUES (1), (2);
       UPDATE a SET v = 10 WHERE v = 1;
       ALTER TABLE a ADD COLUMN w TEXT;
       UPDATE a SET w = 'x' WHERE v = 10;
       DELETE FROM a WHERE v = 2;`,
    );
    expect(result.statements).toBe(6);
    expect(result.changes).toEqual([{ table: 'a', key: 1, before: null, after: { v: 10, w: 'x' } }]);
    const more = s.applyMigration(2, 'more', `UPDATE a SET v = v + 1; INSERT INTO a (v) VALUES (5)`);
    expect(more.changes).toEqual([
      { table: 'a', key: 1, before: { v: 10, w: 'x' }, after: { v: 11, w: 'x' } },
      { table: 'a', key: 2, before: null, after: { v: 5, w: null } },
    ]);
  });
});
