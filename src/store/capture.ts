import type Database from 'better-sqlite3';
import type { Row, RowChange, SqlValue, TxId } from '../model/records.js';
import { StoreDivergedError } from './errors.js';
import { hasSequenceTable, readTable, type TableInfo } from './schema.js';
import { quoteIdent as q } from './sql-text.js';
import { makeRow, rowsEqual, showRow, sqlValueEqual, toKey, toSqlValue } from './values.js';
import { ROWID_MARK } from './txdb.js';

// Change capture with TEMP triggers (connection-local; never in the file).
//
// One temp table, _windback_touched(tbl, k, b, c0, c1, ...), as wide as the
// widest user table, with untyped columns (so values keep their storage
// class) and UNIQUE (tbl, k). For each user table T (index i), three AFTER
// triggers:
//   INSERT: touched += (i, NEW.rowid)
//   UPDATE: touched += (i, OLD.rowid, 1, OLD row), (i, NEW.rowid)
//   DELETE: touched += (i, OLD.rowid, 1, OLD row)
// Each insert is skipped when (i, rowid) is in `touched` already, so the
// rowid order of `touched` is the first-touch order, and `b` is set exactly
// when the first touch found an existing row, whose before-image the row
// holds. At commit, the after-image is read from T by rowid.
// recursive_triggers must be ON so that the rows deleted by REPLACE conflict
// resolution fire the DELETE trigger.
//
// sqlite_sequence (AUTOINCREMENT counters) cannot carry triggers; it is
// captured by comparing its rows before and after the transaction, and its
// changes come after all others.

const TOUCHED = '_windback_touched';
/** One row whose insert sets the connection's last insert rowid to ROWID_MARK (see TxContext). */
const ROWID_MARK_TABLE = '_windback_rowid_mark';
const SEQUENCE = 'sqlite_sequence';
/**
 * Up to this many tables, one statement (a UNION ALL over the tables) reads
 * the images of every touched row in first-touch order; beyond it, one
 * statement per touched table does.
 */
const UNION_LIMIT = 16;

type Stmt = Database.Statement<unknown[], unknown>;

class CapturedTable {
  readonly names: string[];
  private readonly keep: boolean[];
  readonly liveGet: Stmt;
  /** Per touched row of this table: [order, key, hasBefore, before..., hasAfter, after...]. */
  readonly images: Stmt | null;
  private del: Stmt | null = null;
  private readonly inserts = new Map<string, Stmt>();

  constructor(
    private readonly db: Database.Database,
    readonly info: TableInfo,
    readonly index: number,
    withTouched: boolean,
  ) {
    this.names = info.columns.map((c) => c.name);
    this.keep = info.columns.map((c) => c.keepBigInt);
    const cols = this.names.map(q).join(', ');
    this.liveGet = db.prepare(`SELECT ${cols} FROM main.${q(info.name)} WHERE ${info.rowid} = ?`).raw(true).safeIntegers(true);
    if (withTouched) {
      const beforeCols = this.names.map((_, i) => `tt.c${i}`).join(', ');
      const liveCols = this.names.map((n) => `t.${q(n)}`).join(', ');
      // One statement reads both images of every row of this table that the
      // transaction touched.
      this.images = db
        .prepare(
          `SELECT tt.rowid, tt.k, tt.b IS NOT NULL, ${beforeCols}, t.${info.rowid} IS NOT NULL, ${liveCols} ` +
            `FROM temp.${TOUCHED} AS tt LEFT JOIN main.${q(info.name)} AS t ON t.${info.rowid} = tt.k WHERE tt.tbl = ${index} ORDER BY tt.rowid`,
        )
        .raw(true)
        .safeIntegers(true);
    } else {
      this.images = null;
    }
  }

  toRow(raw: unknown[], from = 0): Row {
    const n = this.names.length;
    const values: SqlValue[] = new Array(n);
    for (let i = 0; i < n; i++) values[i] = toSqlValue(raw[from + i], this.keep[i]);
    return makeRow(this.names, values);
  }

  /** The net changes of this table's touched rows, each with its first-touch order. */
  collectInto(out: { order: bigint; change: RowChange }[]): void {
    const n = this.names.length;
    for (const raw of this.images!.all() as unknown[][]) {
      const hasBefore = raw[2] === 1n;
      const hasAfter = raw[3 + n] === 1n;
      if (!hasBefore && !hasAfter) continue;
      if (hasBefore && hasAfter && rangeEqual(raw, 3, 4 + n, n)) continue;
      out.push({
        order: raw[0] as bigint,
        change: {
          table: this.info.name,
          key: toKey(raw[1]),
          before: hasBefore ? this.toRow(raw, 3) : null,
          after: hasAfter ? this.toRow(raw, 4 + n) : null,
        },
      });
    }
  }

  current(key: number | bigint): Row | null {
    const raw = this.liveGet.get(key) as unknown[] | undefined;
    return raw === undefined ? null : this.toRow(raw);
  }

  delete(key: number | bigint): void {
    this.del ??= this.db.prepare(`DELETE FROM main.${q(this.info.name)} WHERE ${this.info.rowid} = ?`);
    this.del.run(key);
  }

  insert(key: number | bigint, row: Row): void {
    const names = Object.keys(row);
    const cacheKey = names.join('\u0000');
    let stmt = this.inserts.get(cacheKey);
    if (stmt === undefined) {
      const cols = [this.info.rowid, ...names.map(q)].join(', ');
      const marks = new Array(names.length + 1).fill('?').join(', ');
      stmt = this.db.prepare(`INSERT INTO main.${q(this.info.name)} (${cols}) VALUES (${marks})`);
      this.inserts.set(cacheKey, stmt);
    }
    const args: unknown[] = new Array(names.length + 1);
    args[0] = key;
    for (let i = 0; i < names.length; i++) args[i + 1] = row[names[i]];
    stmt.run(args);
  }
}

/**
 * The images of every touched row of every table, in first-touch order, each
 * image padded to `width` columns: one scan of `touched` in rowid order (no
 * sort), each row joined to its own table's live row.
 */
function allImagesSql(tables: TableInfo[], width: number): string {
  const joins = tables.map((info, i) => `LEFT JOIN main.${q(info.name)} AS t${i} ON tt.tbl = ${i} AND t${i}.${info.rowid} = tt.k`).join(' ');
  const pick = (column: (info: TableInfo, i: number) => string | null): string =>
    `CASE tt.tbl ${tables.map((info, i) => `WHEN ${i} THEN ${column(info, i) ?? 'NULL'}`).join(' ')} END`;
  const after = [pick((info, i) => `t${i}.${info.rowid} IS NOT NULL`)];
  for (let c = 0; c < width; c++) after.push(pick((info, i) => (c < info.columns.length ? `t${i}.${q(info.columns[c].name)}` : null)));
  const before = Array.from({ length: width }, (_, c) => `tt.c${c}`);
  return `SELECT tt.rowid, tt.tbl, tt.k, tt.b IS NOT NULL, ${before.join(', ')}, ${after.join(', ')} FROM temp.${TOUCHED} AS tt ${joins} ORDER BY tt.rowid`;
}

/** The touched table, `width` image columns wide (at least one). */
function touchedSql(width: number): string {
  const cols = Array.from({ length: Math.max(1, width) }, (_, c) => `c${c}`);
  return `CREATE TEMP TABLE ${TOUCHED} (tbl INTEGER NOT NULL, k INTEGER NOT NULL, b, ${cols.join(', ')}, UNIQUE (tbl, k))`;
}

function triggerSql(table: TableInfo, index: number): string[] {
  const target = `main.${q(table.name)}`;
  const rid = table.rowid;
  const beforeCols = ['tbl', 'k', 'b', ...table.columns.map((_, i) => `c${i}`)].join(', ');
  const oldCols = [String(index), `OLD.${rid}`, '1', ...table.columns.map((c) => `OLD.${q(c.name)}`)].join(', ');
  // The conflict policy of the statement that fired the trigger (INSERT OR
  // REPLACE, UPDATE OR FAIL, ...) overrides the one written in a trigger body
  // (OR IGNORE), but not an upsert clause, which applies to its own
  // constraint whatever the policy: so a row touched before is skipped.
  const skipTouched = `ON CONFLICT (tbl, k) DO NOTHING;`;
  const keepBefore = `INSERT INTO ${TOUCHED} (${beforeCols}) VALUES (${oldCols}) ${skipTouched}`;
  return [
    `CREATE TEMP TRIGGER _windback_ins_${index} AFTER INSERT ON ${target} BEGIN INSERT INTO ${TOUCHED} (tbl, k) VALUES (${index}, NEW.${rid}) ${skipTouched} END`,
    `CREATE TEMP TRIGGER _windback_upd_${index} AFTER UPDATE ON ${target} BEGIN ${keepBefore} ` +
      `INSERT INTO ${TOUCHED} (tbl, k) SELECT ${index}, NEW.${rid} WHERE NEW.${rid} IS NOT OLD.${rid} ${skipTouched} END`,
    `CREATE TEMP TRIGGER _windback_del_${index} AFTER DELETE ON ${target} BEGIN ${keepBefore} END`,
  ];
}

export type SequenceState = Map<string, { key: number | bigint; row: Row }> | null;

export class ChangeCapture {
  private tables: CapturedTable[] = [];
  private byName = new Map<string, CapturedTable>();
  private sequence: CapturedTable | null = null;
  private sequenceAll: Stmt | null = null;
  private installed = false;
  private touchedClear: Stmt | null = null;
  private rowidMark: Stmt | null = null;
  private touchedTables: Stmt | null = null;
  /** Every touched row of every table, in first-touch order: [order, tbl, key, hasBefore, before (width), hasAfter, after (width)]. */
  private allImages: Stmt | null = null;
  /** The widest table's column count: the width of each image in allImages' rows. */
  private width = 0;

  constructor(private readonly db: Database.Database) {}

  get isInstalled(): boolean {
    return this.installed;
  }

  /** The tables under capture. */
  get tableInfos(): TableInfo[] {
    return this.tables.map((t) => t.info);
  }

  /** Create the touched table and the triggers for `tables` (replacing any). */
  install(tables: TableInfo[]): void {
    this.uninstall();
    const width = tables.length > 0 ? Math.max(...tables.map((t) => t.columns.length)) : 0;
    this.db.exec(touchedSql(width));
    this.db.exec(`CREATE TEMP TABLE ${ROWID_MARK_TABLE} (x)`);
    this.rowidMark = this.db.prepare(`INSERT OR REPLACE INTO temp.${ROWID_MARK_TABLE} (rowid) VALUES (${ROWID_MARK})`);
    this.touchedClear = this.db.prepare(`DELETE FROM temp.${TOUCHED}`);
    this.touchedTables = this.db.prepare(`SELECT DISTINCT tbl FROM temp.${TOUCHED}`).pluck(true);
    for (let i = 0; i < tables.length; i++) {
      for (const sql of triggerSql(tables[i], i)) this.db.exec(sql);
    }
    this.tables = tables.map((t, i) => new CapturedTable(this.db, t, i, true));
    this.byName = new Map(this.tables.map((t) => [t.info.name, t]));
    if (tables.length > 0 && tables.length <= UNION_LIMIT) {
      this.width = width;
      this.allImages = this.db.prepare(allImagesSql(tables, width)).raw(true).safeIntegers(true);
    }
    if (hasSequenceTable(this.db)) {
      this.sequence = new CapturedTable(this.db, readTable(this.db, SEQUENCE, false), -1, false);
      this.sequenceAll = this.db.prepare(`SELECT rowid, name, seq FROM main.${SEQUENCE}`).raw(true).safeIntegers(true);
    }
    this.installed = true;
  }

  /** Drop every capture trigger and table (whatever the temp schema holds). */
  uninstall(): void {
    const objects = this.db
      .prepare(`SELECT type, name FROM temp.sqlite_schema WHERE name LIKE '\\_windback\\_%' ESCAPE '\\'`)
      .all() as { type: string; name: string }[];
    for (const o of objects) if (o.type === 'trigger') this.db.exec(`DROP TRIGGER IF EXISTS temp.${q(o.name)}`);
    for (const o of objects) if (o.type === 'table') this.db.exec(`DROP TABLE IF EXISTS temp.${q(o.name)}`);
    this.touchedClear = null;
    this.rowidMark = null;
    this.touchedTables = null;
    this.tables = [];
    this.byName = new Map();
    this.allImages = null;
    this.width = 0;
    this.sequence = null;
    this.sequenceAll = null;
    this.installed = false;
  }

  /** sqlite_sequence as it is now, or null when there is none. */
  sequenceState(): SequenceState {
    const seq = this.sequence;
    if (seq === null) return null;
    const rows = this.sequenceAll!.all() as unknown[][];
    const state = new Map<string, { key: number | bigint; row: Row }>();
    for (const [rowid, ...rest] of rows) state.set(String(rowid), { key: toKey(rowid), row: seq.toRow(rest) });
    return state;
  }

  /**
   * The net changes since the last collect, in first-touch order (then
   * sqlite_sequence's), and reset the capture tables.
   */
  collect(sequenceBefore: SequenceState = null): RowChange[] {
    if (this.allImages !== null) {
      const changes = this.collectAll(this.allImages);
      if (sequenceBefore !== null) diffSequence(sequenceBefore, this.sequenceState(), changes);
      return changes;
    }
    if (this.touchedTables === null) return [];
    const tbls = this.touchedTables.all() as number[];
    let changes: RowChange[] = [];
    if (tbls.length > 0) {
      const found: { order: bigint; change: RowChange }[] = [];
      for (const tbl of tbls) this.tables[tbl].collectInto(found);
      if (tbls.length > 1) found.sort((x, y) => (x.order < y.order ? -1 : 1));
      changes = found.map((f) => f.change);
      this.touchedClear!.run();
    }
    if (sequenceBefore !== null) diffSequence(sequenceBefore, this.sequenceState(), changes);
    return changes;
  }

  /** collect() with one statement for all tables (see UNION_LIMIT). */
  private collectAll(images: Stmt): RowChange[] {
    const rows = images.all() as unknown[][];
    const changes: RowChange[] = [];
    if (rows.length === 0) return changes;
    const width = this.width;
    for (let r = 0; r < rows.length; r++) {
      const raw = rows[r];
      const table = this.tables[Number(raw[1])];
      const hasBefore = raw[3] === 1n;
      const hasAfter = raw[4 + width] === 1n;
      if (!hasBefore && !hasAfter) continue;
      if (hasBefore && hasAfter && rangeEqual(raw, 4, 5 + width, table.names.length)) continue;
      changes.push({
        table: table.info.name,
        key: toKey(raw[2]),
        before: hasBefore ? table.toRow(raw, 4) : null,
        after: hasAfter ? table.toRow(raw, 5 + width) : null,
      });
    }
    this.touchedClear!.run();
    return changes;
  }

  /** Set the connection's last insert rowid to ROWID_MARK (a temp table's row; no trigger, no capture). */
  markLastRowid(): void {
    this.rowidMark!.run();
  }

  /** Forget what the triggers recorded (after applying changes, where capture is not wanted). */
  discard(): void {
    this.touchedClear?.run();
  }

  /**
   * Apply recorded changes exactly. Runs inside the caller's transaction.
   * First every before-image is checked against the database; then every
   * touched row is deleted and every after-image inserted with its rowid, so
   * that no UNIQUE constraint sees a transient duplicate.
   */
  apply(tx: TxId, changes: readonly RowChange[]): void {
    const seqStart = this.sequenceState();
    const resolved: CapturedTable[] = new Array(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i];
      const table = change.table === SEQUENCE ? this.sequence : this.byName.get(change.table);
      if (table === null || table === undefined) {
        throw new StoreDivergedError(`transaction ${tx} changes table "${change.table}", which the database does not have`, tx);
      }
      resolved[i] = table;
      if (table === this.sequence) {
        const current = seqStart!.get(String(change.key))?.row ?? null;
        checkBefore(tx, change, current);
      } else {
        checkBefore(tx, change, table.current(change.key));
      }
    }
    for (let i = 0; i < changes.length; i++) {
      if (changes[i].before !== null && resolved[i] !== this.sequence) resolved[i].delete(changes[i].key);
    }
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i];
      if (change.after === null || resolved[i] === this.sequence) continue;
      try {
        resolved[i].insert(change.key, change.after);
      } catch (error) {
        throw new StoreDivergedError(
          `transaction ${tx}: cannot insert the after-image of "${change.table}" rowid ${change.key}: ${(error as Error).message}`,
          tx,
        );
      }
    }
    if (seqStart !== null) {
      // Inserting rows with explicit rowids moved the counters; set them to
      // exactly what the recorded transaction left.
      const final = new Map(seqStart);
      for (let i = 0; i < changes.length; i++) {
        if (resolved[i] !== this.sequence) continue;
        const change = changes[i];
        if (change.after === null) final.delete(String(change.key));
        else final.set(String(change.key), { key: change.key, row: change.after });
      }
      this.db.prepare(`DELETE FROM main.${SEQUENCE}`).run();
      for (const { key, row } of final.values()) this.sequence!.insert(key, row);
    }
  }
}

function checkBefore(tx: TxId, change: RowChange, current: Row | null): void {
  if (rowsEqual(current, change.before, true)) return;
  throw new StoreDivergedError(
    `transaction ${tx}: "${change.table}" rowid ${change.key} is ${showRow(current)} in the database, ` +
      `but the journal says it was ${showRow(change.before)} before the transaction; the database does not match the journal`,
    tx,
  );
}

function rangeEqual(raw: unknown[], a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (!sqlValueEqual(raw[a + i], raw[b + i])) return false;
  return true;
}

function diffSequence(before: NonNullable<SequenceState>, after: SequenceState, out: RowChange[]): void {
  const keys = new Set<string>([...before.keys(), ...(after?.keys() ?? [])]);
  const sorted = [...keys].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : BigInt(x) > BigInt(y) ? 1 : 0));
  for (const k of sorted) {
    const b = before.get(k);
    const a = after?.get(k);
    if (b !== undefined && a !== undefined && rowsEqual(b.row, a.row)) continue;
    out.push({ table: SEQUENCE, key: (a ?? b)!.key, before: b?.row ?? null, after: a?.row ?? null });
  }
}
