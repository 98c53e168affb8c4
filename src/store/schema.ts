import type Database from 'better-sqlite3';
import { STORE_ERROR, storeUsageError } from './errors.js';

// Reading the user schema: which tables change capture covers, their columns,
// and what it refuses.

export const META_TABLE = '_windback_meta';
export const RESERVED_PREFIX = '_windback_';

export type Affinity = 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC';

export interface ColumnInfo {
  name: string;
  /** Declared type as written ('' when none). */
  type: string;
  affinity: Affinity;
  /**
   * True when the column stores values as given (no affinity, or ANY in a
   * STRICT table): its INTEGER values are captured as bigint so that they are
   * told apart from REAL values (see values.ts).
   */
  keepBigInt: boolean;
}

export interface TableInfo {
  name: string;
  /** A name that reaches the rowid and is not a column: rowid, _rowid_ or oid. */
  rowid: string;
  strict: boolean;
  /** Stored columns, in table order. Generated columns are left out: they follow from the others. */
  columns: ColumnInfo[];
}

/** SQLite's rules for the affinity of a declared type (datatype3.html, 3.1). */
export function affinityOf(type: string, strict: boolean): Affinity {
  const t = type.toUpperCase();
  if (strict && t === 'ANY') return 'BLOB';
  if (t.includes('INT')) return 'INTEGER';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT';
  if (t.includes('BLOB') || t === '') return 'BLOB';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

interface TableListRow {
  name: string;
  type: string;
  wr: number;
  strict: number;
}

interface XInfoRow {
  name: string;
  type: string;
  hidden: number;
}

export function isInternalName(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('sqlite_') || lower.startsWith(RESERVED_PREFIX);
}

/**
 * The user tables of the main schema, sorted by name, validated for change
 * capture. Throws a UsageError (E_UNSUPPORTED_SCHEMA) naming the table for
 * WITHOUT ROWID tables, virtual tables, tables whose rowid is hidden by
 * columns named rowid, _rowid_ and oid, and tables using the reserved
 * `_windback_` prefix.
 */
export function readUserTables(db: Database.Database): TableInfo[] {
  const list = db.prepare(`SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main' ORDER BY name`).all() as TableListRow[];
  const tables: TableInfo[] = [];
  for (const entry of list) {
    const lower = entry.name.toLowerCase();
    if (lower.startsWith('sqlite_')) continue;
    if (entry.type === 'view') continue;
    if (lower.startsWith(RESERVED_PREFIX)) {
      if (entry.name === META_TABLE) continue;
      throw storeUsageError(
        STORE_ERROR.unsupportedSchema,
        `table "${entry.name}" uses the reserved prefix ${RESERVED_PREFIX}: rename it`,
      );
    }
    if (entry.type === 'virtual' || entry.type === 'shadow') {
      throw storeUsageError(
        STORE_ERROR.unsupportedSchema,
        `table "${entry.name}" is a virtual table (or belongs to one): Windback cannot capture its changes, because SQLite fires no triggers on virtual tables`,
      );
    }
    if (entry.wr) {
      throw storeUsageError(
        STORE_ERROR.unsupportedSchema,
        `table "${entry.name}" is a WITHOUT ROWID table: Windback captures row changes by rowid, so every table needs one. Drop WITHOUT ROWID (a PRIMARY KEY stays unique)`,
      );
    }
    tables.push(readTable(db, entry.name, entry.strict === 1));
  }
  return tables;
}

export function readTable(db: Database.Database, name: string, strict: boolean): TableInfo {
  const xinfo = db.prepare(`SELECT name, type, hidden FROM pragma_table_xinfo(?, 'main') ORDER BY cid`).all(name) as XInfoRow[];
  const taken = new Set(xinfo.map((c) => c.name.toLowerCase()));
  const rowid = ['rowid', '_rowid_', 'oid'].find((n) => !taken.has(n));
  if (rowid === undefined) {
    throw storeUsageError(
      STORE_ERROR.unsupportedSchema,
      `table "${name}" has columns named rowid, _rowid_ and oid, which hide its rowid: rename one of them`,
    );
  }
  const columns: ColumnInfo[] = [];
  for (const c of xinfo) {
    if (c.hidden !== 0) continue; // 2 and 3: generated columns
    const affinity = affinityOf(c.type, strict);
    columns.push({ name: c.name, type: c.type, affinity, keepBigInt: affinity !== 'INTEGER' && affinity !== 'NUMERIC' });
  }
  return { name, rowid, strict, columns };
}

/** sqlite_sequence, when the schema has an AUTOINCREMENT table. */
export function hasSequenceTable(db: Database.Database): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'`).get() !== undefined;
}

export interface UserTrigger {
  name: string;
  sql: string;
}

/** User triggers of the main schema, in sqlite_schema order (the order they fire in). */
export function readUserTriggers(db: Database.Database): UserTrigger[] {
  return db
    .prepare(`SELECT name, sql FROM main.sqlite_schema WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY rowid`)
    .all() as UserTrigger[];
}
