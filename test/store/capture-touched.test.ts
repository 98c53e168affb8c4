import { describe, expect, it } from 'vitest';
import { logicalDifference } from '../../src/store/index.js';
import { expectReplicates, runTx, storeWith } from './helpers.js';

// Change capture keeps before-images in the one touched table (as wide as the
// widest user table), skips rows touched before with an upsert clause, and
// reads images through one statement up to 16 tables, one per table beyond.
// These cases pin what that design must keep: every conflict policy, a
// statement that fails half way under OR FAIL, tables of different widths,
// widths that change with migrations, and the path for many tables.

const NARROW_WIDE = `
  CREATE TABLE narrow (id INTEGER PRIMARY KEY, v);
  CREATE TABLE wide (id INTEGER PRIMARY KEY, a, b, c, d, e, f, g);
  INSERT INTO narrow VALUES (1, 'n1'), (2, 'n2');
  INSERT INTO wide VALUES (1, 1, 2.5, 'x', X'00ff', NULL, 6, 7);
`;

describe('change capture: the touched table', () => {
  it('keeps before-images of tables narrower and wider than each other, storage classes exact', () => {
    const s = storeWith(NARROW_WIDE);
    const changes = runTx(s, `UPDATE wide SET g = 70 WHERE id = 1`, `UPDATE narrow SET v = 'N1' WHERE id = 1`, `DELETE FROM narrow WHERE id = 2`, `DELETE FROM wide`);
    expect(changes.map((c) => [c.table, c.key, c.before, c.after])).toEqual([
      // Untyped columns: an INTEGER comes back as a bigint, a BLOB as bytes.
      ['wide', 1, { id: 1, a: 1n, b: 2.5, c: 'x', d: Buffer.from([0, 255]), e: null, f: 6n, g: 7n }, null],
      ['narrow', 1, { id: 1, v: 'n1' }, { id: 1, v: 'N1' }],
      ['narrow', 2, { id: 2, v: 'n2' }, null],
    ]);
    expectReplicates(NARROW_WIDE, [`UPDATE wide SET a = 2.0, b = 3 WHERE id = 1`, `INSERT INTO narrow VALUES (3, X'01')`], [`DELETE FROM wide`, `UPDATE narrow SET id = 9 WHERE id = 1`]);
  });

  it('keeps the first touch under every conflict policy, touched again in the same statement or later', () => {
    const s = storeWith(NARROW_WIDE + `CREATE UNIQUE INDEX narrow_v ON narrow(v);`);
    const changes = runTx(
      s,
      `UPDATE OR FAIL narrow SET v = 'a' WHERE id = 1`,
      `UPDATE OR IGNORE narrow SET v = 'b' WHERE id = 1`,
      `UPDATE OR REPLACE narrow SET v = 'b' WHERE id = 1`,
      // Conflicts with row 1 on v: REPLACE deletes it (the DELETE trigger fires).
      `INSERT OR REPLACE INTO narrow VALUES (5, 'b')`,
      `INSERT OR ROLLBACK INTO narrow VALUES (6, 'c')`,
      `UPDATE OR ABORT narrow SET v = 'd' WHERE id = 6`,
      `INSERT INTO narrow VALUES (7, 'e') ON CONFLICT DO NOTHING`,
      `INSERT INTO narrow VALUES (7, 'f') ON CONFLICT (id) DO UPDATE SET v = excluded.v`,
    );
    expect(changes.map((c) => [c.key, c.before, c.after])).toEqual([
      [1, { id: 1, v: 'n1' }, null],
      [5, null, { id: 5, v: 'b' }],
      [6, null, { id: 6, v: 'd' }],
      [7, null, { id: 7, v: 'f' }],
    ]);
  });

  it('keeps the rows an OR FAIL statement changed before it failed, and nothing of an ABORT one', () => {
    const sql = NARROW_WIDE + `CREATE UNIQUE INDEX narrow_v ON narrow(v);`;
    const s = storeWith(sql);
    const { changes } = s.write(s.nextTxId, (db) => {
      expect(() => db.prepare(`INSERT OR FAIL INTO narrow VALUES (10, 'p'), (11, 'q'), (12, 'n1')`).run()).toThrow(/UNIQUE/);
      expect(() => db.prepare(`INSERT INTO narrow VALUES (20, 'r'), (21, 'n2')`).run()).toThrow(/UNIQUE/);
      expect(() => db.prepare(`UPDATE OR FAIL narrow SET v = 'n2' WHERE id IN (10, 1)`).run()).toThrow(/UNIQUE/);
      return null;
    });
    expect(changes.map((c) => [c.key, c.before, c.after])).toEqual([
      [10, null, { id: 10, v: 'p' }],
      [11, null, { id: 11, v: 'q' }],
    ]);
    const b = storeWith(sql);
    b.applyChanges(2, changes);
    expect(logicalDifference(s, b)).toBeNull();
  });

  it('follows the widest table when a migration adds a wider table or columns', () => {
    const s = storeWith(`CREATE TABLE t (id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 'a');`);
    s.applyMigration(s.nextTxId, 'wider', `CREATE TABLE u (id INTEGER PRIMARY KEY, a, b, c, d, e, f, g, h, i); INSERT INTO u (id, i) VALUES (1, 'last');`);
    s.applyMigration(s.nextTxId, 'more columns', `ALTER TABLE t ADD COLUMN w; ALTER TABLE t ADD COLUMN x;`);
    const changes = runTx(s, `UPDATE u SET i = 'LAST', a = 1`, `UPDATE t SET x = 2`);
    expect(changes.map((c) => [c.table, c.before, c.after])).toEqual([
      ['u', { id: 1, a: null, b: null, c: null, d: null, e: null, f: null, g: null, h: null, i: 'last' }, { id: 1, a: 1n, b: null, c: null, d: null, e: null, f: null, g: null, h: null, i: 'LAST' }],
      ['t', { id: 1, v: 'a', w: null, x: null }, { id: 1, v: 'a', w: null, x: 2n }],
    ]);
  });

  it('orders changes by first touch across more tables than one statement reads (one statement per table)', () => {
    const tables = Array.from({ length: 20 }, (_, i) => `CREATE TABLE t${i} (id INTEGER PRIMARY KEY, v${i === 7 ? ', extra' : ''}); INSERT INTO t${i} (id, v) VALUES (1, ${i});`);
    const sql = tables.join('\n');
    const s = storeWith(sql);
    const changes = runTx(s, `UPDATE t19 SET v = 'a'`, `INSERT INTO t3 (v) VALUES ('b')`, `DELETE FROM t7`, `UPDATE t19 SET v = 'c'`, `UPDATE t0 SET id = 5`);
    expect(changes.map((c) => [c.table, c.key, c.before, c.after])).toEqual([
      ['t19', 1, { id: 1, v: 19n }, { id: 1, v: 'c' }],
      ['t3', 2, null, { id: 2, v: 'b' }],
      ['t7', 1, { id: 1, v: 7n, extra: null }, null],
      ['t0', 1, { id: 1, v: 0n }, null],
      ['t0', 5, null, { id: 5, v: 0n }],
    ]);
    expectReplicates(sql, [`UPDATE t12 SET v = 1.5`, `DELETE FROM t1`, `INSERT INTO t18 VALUES (3, X'ab')`], [`UPDATE t12 SET v = 1.5`]);
  });
});
