import Database from 'better-sqlite3';
import type { SqlValue } from '../model/records.js';
import { isInternalName } from './schema.js';
import { normalizeSql, quoteIdent as q } from './sql-text.js';
import type { LogicalDump } from './types.js';
import { showTyped, showValue, sqlValueEqual } from './values.js';

// The logical content of a database, for comparing two stores: the user
// schema and every row with its rowid and exact storage class. The store's own
// _windback_* tables are left out, so a live file and a rebuilt copy compare
// equal when they hold the same data, whatever transaction ids they record.
// sqlite_sequence is included: AUTOINCREMENT counters decide future rowids.

export type LogicalSource = LogicalDump | string | { dumpLogical(): LogicalDump };

/** Dump an open better-sqlite3 connection. */
export function dumpDatabase(db: Database.Database): LogicalDump {
  const entries = db
    .prepare(`SELECT type, name, sql FROM main.sqlite_schema WHERE sql IS NOT NULL ORDER BY type, name`)
    .all() as { type: string; name: string; sql: string }[];
  const schema = entries.filter((e) => !isInternalName(e.name)).map((e) => normalizeSql(e.sql));

  const list = db
    .prepare(`SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' ORDER BY name`)
    .all() as { name: string; wr: number }[];
  const tables: LogicalDump['tables'] = {};
  for (const { name, wr } of list) {
    if (isInternalName(name) && name !== 'sqlite_sequence') continue;
    const xinfo = db.prepare(`SELECT name, hidden FROM pragma_table_xinfo(?, 'main') ORDER BY cid`).all(name) as {
      name: string;
      hidden: number;
    }[];
    const cols = xinfo.filter((c) => c.hidden === 0 || c.hidden === 2 || c.hidden === 3).map((c) => c.name);
    const taken = new Set(xinfo.map((c) => c.name.toLowerCase()));
    const rowid = wr ? null : ['rowid', '_rowid_', 'oid'].find((n) => !taken.has(n)) ?? null;
    const select = cols.map(q).join(', ');
    const sql =
      rowid === null
        ? `SELECT ${select} FROM main.${q(name)} ORDER BY ${cols.map((_, i) => i + 1).join(', ')}`
        : `SELECT ${rowid}, ${select} FROM main.${q(name)} ORDER BY ${rowid}`;
    const rows = db.prepare(sql).raw(true).safeIntegers(true).all() as SqlValue[][];
    tables[name] = { columns: rowid === null ? cols : ['rowid', ...cols], rows };
  }
  return { schema, tables };
}

/** Dump a database file (opened read-only). */
export function dumpFile(file: string): LogicalDump {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return dumpDatabase(db);
  } finally {
    db.close();
  }
}

export function dumpLogical(source: LogicalSource): LogicalDump {
  if (typeof source === 'string') return dumpFile(source);
  if ('dumpLogical' in source && typeof source.dumpLogical === 'function') return source.dumpLogical();
  return source as LogicalDump;
}

/** The first difference between two databases, in words, or null when they are logically equal. */
export function logicalDifference(a: LogicalSource, b: LogicalSource): string | null {
  const x = dumpLogical(a);
  const y = dumpLogical(b);
  for (let i = 0; i < Math.max(x.schema.length, y.schema.length); i++) {
    if (x.schema[i] !== y.schema[i]) {
      return `schema differs: ${x.schema[i] ?? '(nothing)'} <> ${y.schema[i] ?? '(nothing)'}`;
    }
  }
  const names = [...new Set([...Object.keys(x.tables), ...Object.keys(y.tables)])].sort();
  for (const name of names) {
    const tx = x.tables[name];
    const ty = y.tables[name];
    if (tx === undefined || ty === undefined) return `table "${name}" exists only on the ${tx === undefined ? 'right' : 'left'}`;
    if (tx.columns.join('\u0000') !== ty.columns.join('\u0000')) {
      return `table "${name}": columns differ: (${tx.columns.join(', ')}) <> (${ty.columns.join(', ')})`;
    }
    const n = Math.max(tx.rows.length, ty.rows.length);
    for (let r = 0; r < n; r++) {
      const rx = tx.rows[r];
      const ry = ty.rows[r];
      if (rx === undefined || ry === undefined) {
        const extra = (rx ?? ry)!;
        return `table "${name}": row with ${tx.columns[0]} ${showValue(extra[0])} exists only on the ${rx === undefined ? 'right' : 'left'} (${tx.rows.length} rows <> ${ty.rows.length} rows)`;
      }
      for (let c = 0; c < rx.length; c++) {
        if (!sqlValueEqual(rx[c], ry[c])) {
          return `table "${name}": row ${r} (${tx.columns[0]} ${showValue(rx[0])}), column ${tx.columns[c]}: ${showTyped(rx[c])} <> ${showTyped(ry[c])}`;
        }
      }
    }
  }
  return null;
}

export function logicallyEqual(a: LogicalSource, b: LogicalSource): boolean {
  return logicalDifference(a, b) === null;
}
