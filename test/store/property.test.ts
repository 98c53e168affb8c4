import * as path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from '../../src/journal/codec.js';
import type { RowChange, WriteTxRecord } from '../../src/model/records.js';
import {
  dumpLogical,
  logicalDifference,
  openSnapshotCopy,
  openSqliteStore,
  type SnapshotInfo,
  type SqliteStore,
  type TxDb,
} from '../../src/store/index.js';
import { tempDir, track } from './helpers.js';

// Property: for random schemas and random DML, the changes write() captures on
// store A, carried through the journal's codec and applied with applyChanges()
// to store B (same migrations), leave B logically equal to A after every
// transaction; and a snapshot of A taken at transaction k, rolled forward with
// the records after k, reaches A's final state too.

const TYPES = ['INTEGER', 'REAL', 'TEXT', 'BLOB', '', 'NUMERIC'] as const;
type ColType = (typeof TYPES)[number];

interface TableSpec {
  pk: 'none' | 'ipk' | 'autoinc';
  strict: boolean;
  types: ColType[];
  unique: number | null;
}

interface Mirror {
  name: string;
  cols: string[];
}

type Value = null | bigint | number | string | Buffer;

type Op =
  | { kind: 'insert'; t: number; rows: Value[][]; id: number | null }
  | { kind: 'replace'; t: number; id: number; row: Value[] }
  | { kind: 'upsert'; t: number; id: number; row: Value[] }
  | { kind: 'update'; t: number; col: number; value: Value; mod: number; rem: number }
  | { kind: 'copyColumn'; t: number; from: number; to: number }
  | { kind: 'moveRowid'; t: number; from: number; delta: number }
  | { kind: 'delete'; t: number; mod: number; rem: number }
  | { kind: 'insertSelect'; t: number; rem: number };

type Step =
  | { kind: 'tx'; ops: Op[]; abort: boolean }
  | { kind: 'addColumn'; t: number; type: ColType }
  | { kind: 'addTable'; spec: TableSpec; row: Value[] }
  | { kind: 'migrationDml'; t: number; col: number };

const value: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -3, max: 3 }).map(BigInt), // INTEGER
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), // INTEGER, any size
  fc.integer({ min: -3, max: 3 }), // a JS number binds as REAL: 2.0, which affinity may turn into INTEGER
  // -0 is left out: the journal stores -0 as 0 (docs/journal-format.md, section 7).
  fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)),
  fc.string({ maxLength: 4 }),
  fc.constantFrom('1', '2.5', ' 3', '0x10', '1e3'), // text that numeric affinity converts
  fc.uint8Array({ maxLength: 3 }).map((b) => Buffer.from(b)),
);

const tableSpec: fc.Arbitrary<TableSpec> = fc.record({
  pk: fc.constantFrom('none' as const, 'ipk' as const, 'autoinc' as const),
  strict: fc.boolean(),
  types: fc.array(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 4 }),
  unique: fc.option(fc.nat(3), { nil: null }),
});

const row = fc.array(value, { minLength: 5, maxLength: 5 });
const small = fc.integer({ min: 1, max: 8 });

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), t: fc.nat(5), rows: fc.array(row, { minLength: 1, maxLength: 3 }), id: fc.option(small, { nil: null }) }),
  fc.record({ kind: fc.constant('replace' as const), t: fc.nat(5), id: small, row }),
  fc.record({ kind: fc.constant('upsert' as const), t: fc.nat(5), id: small, row }),
  fc.record({ kind: fc.constant('update' as const), t: fc.nat(5), col: fc.nat(5), value, mod: fc.integer({ min: 1, max: 3 }), rem: fc.nat(2) }),
  fc.record({ kind: fc.constant('copyColumn' as const), t: fc.nat(5), from: fc.nat(5), to: fc.nat(5) }),
  fc.record({ kind: fc.constant('moveRowid' as const), t: fc.nat(5), from: small, delta: fc.integer({ min: -3, max: 5 }) }),
  fc.record({ kind: fc.constant('delete' as const), t: fc.nat(5), mod: fc.integer({ min: 1, max: 3 }), rem: fc.nat(2) }),
  fc.record({ kind: fc.constant('insertSelect' as const), t: fc.nat(5), rem: fc.nat(1) }),
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('tx' as const), ops: fc.array(op, { minLength: 1, maxLength: 6 }), abort: fc.constant(false) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tx' as const), ops: fc.array(op, { minLength: 1, maxLength: 3 }), abort: fc.constant(true) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addColumn' as const), t: fc.nat(5), type: fc.constantFrom(...TYPES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addTable' as const), spec: tableSpec, row }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('migrationDml' as const), t: fc.nat(5), col: fc.nat(5) }) },
);

interface Scenario {
  tables: TableSpec[];
  audit: boolean;
  steps: Step[];
  snapshotAfter: number;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  tables: fc.array(tableSpec, { minLength: 1, maxLength: 3 }),
  audit: fc.boolean(),
  steps: fc.array(step, { minLength: 1, maxLength: 14 }),
  snapshotAfter: fc.nat(14),
});

function colType(type: ColType, strict: boolean): string {
  if (!strict) return type;
  if (type === '') return 'ANY';
  if (type === 'NUMERIC') return 'INT';
  return type;
}

function createTable(name: string, spec: TableSpec): { sql: string; mirror: Mirror } {
  const defs: string[] = [];
  if (spec.pk !== 'none') defs.push(`id INTEGER PRIMARY KEY${spec.pk === 'autoinc' ? ' AUTOINCREMENT' : ''}`);
  const cols = spec.types.map((_, i) => `c${i}`);
  spec.types.forEach((type, i) => {
    defs.push(`c${i} ${colType(type, spec.strict)}${spec.unique === i ? ' UNIQUE' : ''}`.trimEnd());
  });
  return { sql: `CREATE TABLE ${name} (${defs.join(', ')})${spec.strict ? ' STRICT' : ''}`, mirror: { name, cols } };
}

/** A value as a SQL literal, for migrations (which are plain SQL text). */
function literal(v: Value): string {
  if (v === null) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return v > 0 ? '9e999' : '-9e999';
    const s = v.toExponential();
    return `CAST('${s}' AS REAL)`;
  }
  if (typeof v === 'string') return `'${v.replaceAll("'", "''")}'`;
  return `X'${v.toString('hex')}'`;
}

function execOp(db: TxDb, tables: Mirror[], o: Op): void {
  const t = tables[o.t % tables.length];
  const cols = t.cols;
  const list = (n: number) => new Array(n).fill('?').join(', ');
  switch (o.kind) {
    case 'insert': {
      const withId = o.id !== null && o.rows.length === 1;
      const names = [...(withId ? ['rowid'] : []), ...cols];
      const tuples = o.rows.map(() => `(${list(names.length)})`).join(', ');
      const args = o.rows.flatMap((r) => [...(withId ? [o.id] : []), ...cols.map((_, i) => r[i % r.length])]);
      db.prepare(`INSERT INTO ${t.name} (${names.join(', ')}) VALUES ${tuples}`).run(...args);
      return;
    }
    case 'replace':
      db.prepare(`INSERT OR REPLACE INTO ${t.name} (rowid, ${cols.join(', ')}) VALUES (${list(cols.length + 1)})`).run(o.id, ...cols.map((_, i) => o.row[i % 5]));
      return;
    case 'upsert':
      db.prepare(
        `INSERT INTO ${t.name} (rowid, ${cols.join(', ')}) VALUES (${list(cols.length + 1)}) ON CONFLICT DO UPDATE SET ${cols[0]} = excluded.${cols[cols.length - 1]}`,
      ).run(o.id, ...cols.map((_, i) => o.row[i % 5]));
      return;
    case 'update':
      db.prepare(`UPDATE ${t.name} SET ${cols[o.col % cols.length]} = ? WHERE rowid % ? = ?`).run(o.value, o.mod, o.rem % o.mod);
      return;
    case 'copyColumn':
      db.prepare(`UPDATE ${t.name} SET ${cols[o.to % cols.length]} = ${cols[o.from % cols.length]}`).run();
      return;
    case 'moveRowid':
      db.prepare(`UPDATE OR REPLACE ${t.name} SET rowid = rowid + ? WHERE rowid = ?`).run(o.delta, o.from);
      return;
    case 'delete':
      db.prepare(`DELETE FROM ${t.name} WHERE rowid % ? = ?`).run(o.mod, o.rem % o.mod);
      return;
    case 'insertSelect':
      db.prepare(`INSERT INTO ${t.name} (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM ${t.name} WHERE rowid % 2 = ? LIMIT 4`).run(o.rem);
      return;
  }
}

/** Changes as the journal would give them back. */
function throughJournal(tx: number, changes: RowChange[]): RowChange[] {
  const record: WriteTxRecord = {
    kind: 'write-tx',
    session: 1,
    prev: null,
    tx,
    committedAt: 0,
    readAtTx: tx - 1,
    changes,
    readDigest: new Uint8Array(32),
    result: null,
    migration: null,
  };
  const { type, payload } = encodePayload(record);
  return (decodePayload(type, payload) as WriteTxRecord).changes;
}

class Abort extends Error {}

type Rec = { tx: number; kind: 'changes'; changes: RowChange[] } | { tx: number; kind: 'migration'; name: string; sql: string; changes: RowChange[] };

async function check(s: Scenario, dir: string): Promise<void> {
  const a = track(openSqliteStore(':memory:'));
  const b = track(openSqliteStore(':memory:'));
  const tables: Mirror[] = [];
  const ddl: string[] = [];
  s.tables.forEach((spec, i) => {
    const { sql, mirror } = createTable(`t${i}`, spec);
    ddl.push(sql);
    tables.push(mirror);
  });
  if (s.audit) {
    ddl.push(`CREATE TABLE audit (r, n INTEGER)`);
    ddl.push(`CREATE TRIGGER t0_audit AFTER UPDATE ON t0 BEGIN INSERT INTO audit VALUES (NEW.rowid, (SELECT count(*) FROM audit)); END`);
  }
  const records: Rec[] = [];
  const migrate = (name: string, sql: string): void => {
    const tx = a.nextTxId;
    const { changes } = a.applyMigration(tx, name, sql);
    b.applyMigration(tx, name, sql, { expectedChanges: throughJournal(tx, changes) });
    records.push({ tx, kind: 'migration', name, sql, changes });
  };
  migrate('init', ddl.join(';\n'));
  expect(logicalDifference(a, b)).toBeNull();

  let snapshot: SnapshotInfo | null = null;
  for (let i = 0; i < s.steps.length; i++) {
    const st = s.steps[i];
    if (st.kind === 'tx') {
      const tx = a.nextTxId;
      const before = st.abort ? dumpLogical(a) : null;
      let changes: RowChange[];
      try {
        changes = a.write(tx, (db) => {
          for (const o of st.ops) {
            try {
              execOp(db, tables, o);
            } catch (error) {
              if (!(error instanceof Database.SqliteError)) throw error; // constraint, datatype mismatch: the app carries on
            }
          }
          if (st.abort) throw new Abort();
        }).changes;
      } catch (error) {
        if (!(error instanceof Abort)) throw error;
        // Rolled back: no id consumed, nothing changed.
        expect(a.lastAppliedTx).toBe(tx - 1);
        expect(logicalDifference(before!, a)).toBeNull();
        changes = [];
      }
      if (!st.abort) {
        const journaled = throughJournal(tx, changes);
        b.applyChanges(tx, journaled);
        records.push({ tx, kind: 'changes', changes: journaled });
      }
    } else if (st.kind === 'addColumn') {
      const t = tables[st.t % tables.length];
      const name = `c${t.cols.length}`;
      const strict = /STRICT$/.test(ddl.find((d) => d.startsWith(`CREATE TABLE ${t.name} `)) ?? '');
      // In a STRICT table the integer may not fit the new column's type.
      const fill = strict ? '' : `; UPDATE ${t.name} SET ${name} = rowid * 2 WHERE rowid % 2 = 0`;
      migrate(`add ${t.name}.${name}`, `ALTER TABLE ${t.name} ADD COLUMN ${name} ${colType(st.type, strict)}${fill}`);
      t.cols.push(name);
    } else if (st.kind === 'addTable') {
      const { sql, mirror } = createTable(`t${tables.length}`, st.spec);
      const values = mirror.cols.map((_, i) => literal(st.row[i % 5])).join(', ');
      // The literal may not fit a STRICT column: then insert nothing.
      const insert = st.spec.strict ? '' : `; INSERT INTO ${mirror.name} (${mirror.cols.join(', ')}) VALUES (${values})`;
      ddl.push(sql);
      migrate(`add ${mirror.name}`, sql + insert);
      tables.push(mirror);
    } else {
      const t = tables[st.t % tables.length];
      migrate(`dml on ${t.name}`, `UPDATE ${t.name} SET ${t.cols[st.col % t.cols.length]} = NULL WHERE rowid % 3 = 1; DELETE FROM ${t.name} WHERE rowid % 5 = 4`);
    }
    expect(b.lastAppliedTx).toBe(a.lastAppliedTx);
    expect(logicalDifference(a, b)).toBeNull();
    if (i === s.snapshotAfter % s.steps.length) snapshot = await a.snapshot(path.join(dir, 'snap.db'));
  }

  // Roll a copy of the snapshot forward with the records after it.
  expect(snapshot).not.toBeNull();
  const copy = track(openSnapshotCopy(snapshot!.file, path.join(dir, 'rebuild.db'), { sha256: snapshot!.sha256 }));
  expect(copy.lastAppliedTx).toBe(snapshot!.tx);
  for (const rec of records) {
    if (rec.tx <= snapshot!.tx) continue;
    if (rec.kind === 'changes') copy.applyChanges(rec.tx, rec.changes);
    else copy.applyMigration(rec.tx, rec.name, rec.sql, { expectedChanges: rec.changes });
  }
  expect(copy.lastAppliedTx).toBe(a.lastAppliedTx);
  expect(logicalDifference(a, copy)).toBeNull();
  for (const store of [a, b, copy]) store.close();
}

describe('property: captured changes replicate the state exactly', () => {
  it('random DML on random schemas: A via write(), B via applyChanges(), and a snapshot rolled forward', async () => {
    const dir = tempDir();
    await fc.assert(
      fc.asyncProperty(scenario, (s) => check(s, dir)),
      { numRuns: Number(process.env.WINDBACK_STORE_RUNS ?? 150) },
    );
  });
});
