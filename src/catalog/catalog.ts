import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { CorruptJournalError, EnvironmentError } from '../model/errors.js';
import type { Position, SessionId, TxId } from '../model/records.js';
import {
  BATCH_COMMIT_FRAME_SIZE,
  JournalReader,
  nodeFileLayer,
  parseSegmentFileName,
  segmentFileName,
  segmentIndexOf,
  type Damage,
  type FileLayer,
} from '../journal/index.js';
import { Indexer, MalformedRecordError, StaleCatalogError, type IndexPoint, type PassResult } from './indexer.js';
import { CATALOG_FILE, CATALOG_SCHEMA_VERSION, INDEXES, MAX_LEVEL, META, OPEN_LEVEL, TABLES } from './schema.js';

// The catalog: a SQLite index of a journal, at <journal>/catalog.sqlite. It is
// never the source of truth. Opening it brings it up to date: incrementally
// (scanning only what was appended since) when it still matches the journal,
// from scratch when it is missing, stale, or from another schema version.

type DB = Database.Database;

export type CatalogStorage = 'file' | 'read-only' | 'memory';

export interface CatalogOptions {
  /** 'auto' (default): the file in the journal directory, or memory when that directory is read-only. */
  storage?: 'auto' | 'memory';
  layer?: FileLayer;
  /** SQLite busy timeout in milliseconds while another process updates the catalog (default 10 s). */
  busyTimeoutMs?: number;
}

export interface CatalogStatus {
  storage: CatalogStorage;
  /** Built from scratch by this open. */
  rebuilt: boolean;
  /** Bytes of journal scanned by this open (0 when it was already up to date). */
  scannedBytes: number;
  /** Everything before this position is indexed; a batch boundary. */
  indexedUpTo: Position;
  /** Corruption where indexing stopped, if any. */
  corruption: Damage | null;
  /** Unacknowledged bytes after indexedUpTo (an unsynced tail) at the last scan. */
  tailBytes: number;
}

export interface SessionRow {
  id: SessionId;
  kind: string;
  route: string;
  /** ok | error | aborted | open */
  status: string;
  startedAt: number;
  endedAt: number | null;
  startedAfterTx: TxId;
  endedAtTx: TxId | null;
  startPosition: Position;
  /** The session's latest record: follow `prev` back from here to read them all. */
  lastPosition: Position;
  endPosition: Position | null;
  attempts: number;
  codeVersion: string;
  idempotencyKey: string | null;
}

export interface WriteTxRow {
  tx: TxId;
  session: SessionId | null;
  position: Position;
  committedAt: number;
  readAtTx: TxId;
  migration: string | null;
}

export interface CheckpointRow {
  session: SessionId;
  position: Position;
  label: string;
}

export interface SnapshotRow {
  position: Position;
  tx: TxId;
  at: number;
  file: string;
  bytes: number;
  sha256: string;
}

export interface ProcessStartRow {
  position: Position;
  at: number;
  codeVersion: string;
  pid: number;
  durability: string;
  node: string;
}

export interface DuplicateRequestRow {
  position: Position;
  at: number;
  originalSession: SessionId;
  idempotencyKey: string;
  route: string;
}

export interface AliveRow {
  id: SessionId;
  kind: string;
  status: string;
  startedAt: number;
  startedAfterTx: TxId;
  lastCheckpoint: { label: string; position: Position } | null;
  txs: TxId[];
}

export interface SessionFilter {
  kind?: string;
  status?: string;
  /** startedAt >= since (ms) */
  since?: number;
  /** startedAt <= until (ms) */
  until?: number;
  /** Keep the `limit` most recent; the result is still in start order. */
  limit?: number;
}

interface Meta {
  schemaVersion: number;
  journalId: string;
  indexedUpTo: number;
  lastSeq: number;
  chainHead: string;
  lastTx: number;
  files: string;
  corruption: Damage | null;
  tailBytes: number;
}

const SESSION_COLUMNS = `s.id, s.kind, s.route, s.status, s.startedAt, s.endedAt, s.startedAfterTx, s.endedAtTx,
  s.startPosition, s.lastPosition, s.endPosition, s.attempts, cv.hash AS codeVersion, s.idempotencyKey`;

export class Catalog {
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    /** The SQLite handle, for callers that need a query the catalog does not offer. */
    readonly db: DB,
    readonly reader: JournalReader,
    readonly status: CatalogStatus,
    private lastTxCache: number,
  ) {}

  /** Open the catalog of the journal at `journal`, bringing it up to date. */
  static open(journal: string, options: CatalogOptions = {}): Catalog {
    const layer = options.layer ?? nodeFileLayer;
    // Fingerprint the segment files before reading them: whatever is appended
    // after this is indexed now or by the next open, never skipped.
    const files = fingerprint(journal);
    const reader = JournalReader.open(journal, layer);
    const busy = options.busyTimeoutMs ?? 10_000;
    if (options.storage === 'memory') return build(reader, files, null, 'memory', busy);

    const file = path.join(reader.dir, CATALOG_FILE);
    refuseNonFile(file);
    if (!writable(reader.dir)) return openReadOnly(reader, file, files, busy);

    if (fs.existsSync(file)) {
      let db: DB | null = null;
      try {
        db = new Database(file, { timeout: busy, fileMustExist: true });
        db.pragma('synchronous = OFF');
        const status = update(db, reader, files, 'file');
        if (status) return new Catalog(db, reader, status, readMeta(db)!.lastTx);
        db.close();
      } catch (error) {
        db?.close();
        if (!isSqliteError(error)) throw error;
        // Not a database, or a damaged one: rebuild it.
      }
    }
    try {
      return build(reader, files, file, 'file', busy);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException)?.code;
      if (isSqliteError(error) || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC') {
        return build(reader, files, null, 'memory', busy);
      }
      throw error;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** The error for data that lies past the corruption, or null when the journal is readable to its end. */
  corruptionError(what: string): CorruptJournalError | null {
    const damage = this.status.corruption;
    if (!damage) return null;
    return new CorruptJournalError(
      `${what}: the journal is corrupt at position ${damage.position} (${damage.path}): ${damage.reason}; see 'replay repair --truncate-at ${damage.position}'`,
      damage.position,
      damage.path,
    );
  }

  // --- transactions ---------------------------------------------------------

  /** The last write transaction indexed, 0 if none. */
  get lastTx(): TxId {
    return this.lastTxCache;
  }

  /** The first write transaction indexed, 0 if none. */
  firstTx(): TxId {
    const row = this.stmt('firstTx', 'SELECT min(tx) AS tx FROM write_txs').get() as { tx: number | null };
    return row.tx ?? 0;
  }

  tx(id: TxId): WriteTxRow | null {
    return (this.stmt('tx', 'SELECT * FROM write_txs WHERE tx = ?').get(id) as WriteTxRow | undefined) ?? null;
  }

  /** The last transaction committed at or before `ms`, or null. */
  lastTxAtOrBefore(ms: number): WriteTxRow | null {
    const row = this.stmt(
      'txAt',
      'SELECT * FROM write_txs WHERE committedAt <= ? ORDER BY committedAt DESC, tx DESC LIMIT 1',
    ).get(ms) as WriteTxRow | undefined;
    return row ?? null;
  }

  /** The write transactions a session committed, in order. */
  txsOf(session: SessionId): WriteTxRow[] {
    return this.stmt('txsOf', 'SELECT * FROM write_txs WHERE session = ? ORDER BY tx').all(session) as WriteTxRow[];
  }

  // --- sessions -------------------------------------------------------------

  session(id: SessionId): SessionRow | null {
    const row = this.stmt(
      'session',
      `SELECT ${SESSION_COLUMNS} FROM sessions s JOIN code_versions cv ON cv.id = s.codeVersion WHERE s.id = ?`,
    ).get(id) as SessionRow | undefined;
    return row ?? null;
  }

  sessionCount(): number {
    return (this.stmt('sessionCount', 'SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
  }

  /** Sessions in start order, filtered. */
  sessions(filter: SessionFilter = {}): SessionRow[] {
    const [stmt, params] = this.sessionsQuery(filter);
    return stmt.all(params) as SessionRow[];
  }

  /** The same, one row at a time (constant memory; the catalog must stay open meanwhile). */
  iterateSessions(filter: SessionFilter = {}): IterableIterator<SessionRow> {
    const [stmt, params] = this.sessionsQuery(filter);
    return stmt.iterate(params) as IterableIterator<SessionRow>;
  }

  private sessionsQuery(filter: SessionFilter): [Database.Statement, Record<string, unknown>] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.kind !== undefined) {
      where.push('s.kind = @kind');
      params.kind = filter.kind;
    }
    if (filter.status !== undefined) {
      where.push('s.status = @status');
      params.status = filter.status;
    }
    if (filter.since !== undefined) {
      where.push('s.startedAt >= @since');
      params.since = filter.since;
    }
    if (filter.until !== undefined) {
      where.push('s.startedAt <= @until');
      params.until = filter.until;
    }
    const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    let sql = `SELECT ${SESSION_COLUMNS} FROM sessions s JOIN code_versions cv ON cv.id = s.codeVersion ${whereSql}`;
    if (filter.limit !== undefined) {
      params.limit = filter.limit;
      sql = `SELECT * FROM (${sql} ORDER BY s.id DESC LIMIT @limit) ORDER BY id`;
    } else {
      sql += ' ORDER BY s.id';
    }
    return [this.stmt(`sessions:${Object.keys(params).join(',')}`, sql), params];
  }

  /**
   * Sessions alive when tx `tx` committed: started before it (startedAfterTx
   * < tx) and not ended by then (endedAtTx null or >= tx), in start order.
   * Index-driven (see spanLevel in schema.ts): two bucket ranges per level of
   * the sessions_span index, plus the open sessions. `txPosition` is tx's
   * record position, for each session's last checkpoint before it.
   */
  aliveAt(tx: TxId, txPosition: Position): AliveRow[] {
    const rows = this.stmt(
      'alive',
      `WITH RECURSIVE levels(l) AS (SELECT 1 UNION ALL SELECT l + 1 FROM levels WHERE l < ${MAX_LEVEL}),
       alive(id) AS (
         SELECT s.id FROM levels JOIN sessions s INDEXED BY sessions_span
           ON s.spanLevel = levels.l
          AND s.spanBucket BETWEEN (max(@tx - (1 << levels.l) + 1, 0) >> levels.l) AND ((@tx - 1) >> levels.l)
          AND s.startedAfterTx < @tx AND s.endedAtTx >= @tx
         UNION ALL
         SELECT s.id FROM sessions s INDEXED BY sessions_span
          WHERE s.spanLevel = ${OPEN_LEVEL} AND s.spanBucket < @tx
       )
       SELECT s.id, s.kind, s.status, s.startedAt, s.startedAfterTx,
         (SELECT c.position FROM checkpoints c WHERE c.session = s.id AND c.position < @pos ORDER BY c.position DESC LIMIT 1) AS cpPosition,
         (SELECT c.label FROM checkpoints c WHERE c.session = s.id AND c.position < @pos ORDER BY c.position DESC LIMIT 1) AS cpLabel,
         (SELECT group_concat(w.tx, ',' ORDER BY w.tx) FROM write_txs w WHERE w.session = s.id AND w.tx <= @tx) AS txs
       FROM alive a JOIN sessions s ON s.id = a.id
       ORDER BY s.id`,
    ).all({ tx, pos: txPosition }) as {
      id: number;
      kind: string;
      status: string;
      startedAt: number;
      startedAfterTx: number;
      cpPosition: number | null;
      cpLabel: string | null;
      txs: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      status: r.status,
      startedAt: r.startedAt,
      startedAfterTx: r.startedAfterTx,
      lastCheckpoint: r.cpPosition === null ? null : { label: r.cpLabel!, position: r.cpPosition },
      txs: r.txs === null ? [] : r.txs.split(',').map(Number),
    }));
  }

  checkpointsOf(session: SessionId): CheckpointRow[] {
    return this.stmt('checkpointsOf', 'SELECT * FROM checkpoints WHERE session = ? ORDER BY position').all(session) as CheckpointRow[];
  }

  // --- other records --------------------------------------------------------

  /** Every snapshot record whose file has not been removed since, in journal order. */
  snapshots(): SnapshotRow[] {
    return this.stmt('snapshots', 'SELECT position, tx, at, file, bytes, sha256 FROM snapshots WHERE removedBy IS NULL ORDER BY position').all() as SnapshotRow[];
  }

  /** Snapshots whose removal is journaled (snapshot-removed records), in journal order. */
  removedSnapshots(): SnapshotRow[] {
    return this.stmt('removedSnapshots', 'SELECT position, tx, at, file, bytes, sha256 FROM snapshots WHERE removedBy IS NOT NULL ORDER BY position').all() as SnapshotRow[];
  }

  processStarts(): ProcessStartRow[] {
    return this.stmt('processStarts', 'SELECT * FROM process_starts ORDER BY position').all() as ProcessStartRow[];
  }

  duplicateRequests(): DuplicateRequestRow[] {
    return this.stmt('duplicates', 'SELECT * FROM duplicate_requests ORDER BY position').all() as DuplicateRequestRow[];
  }

  private stmt(key: string, sql: string): Database.Statement {
    let s = this.statements.get(key);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(key, s);
    }
    return s;
  }
}

// --- opening, updating, building -----------------------------------------------

/** `[[segment, size, mtimeMs], ...]` of the segment files, as JSON. */
function fingerprint(journal: string): string {
  const dir = path.resolve(journal);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return '[]'; // JournalReader.open reports what is wrong
  }
  const out: [number, number, number][] = [];
  for (const name of names) {
    const n = parseSegmentFileName(name);
    if (n === null) continue;
    try {
      const st = fs.statSync(path.join(dir, name));
      out.push([n, st.size, st.mtimeMs]);
    } catch {
      // removed meanwhile
    }
  }
  out.sort((a, b) => a[0] - b[0]);
  return JSON.stringify(out);
}

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isSqliteError(error: unknown): boolean {
  return error instanceof Database.SqliteError;
}

function readMeta(db: DB): Meta | null {
  let rows: { key: string; value: unknown }[];
  try {
    rows = db.prepare('SELECT key, value FROM meta').all() as { key: string; value: unknown }[];
  } catch (error) {
    if (isSqliteError(error)) return null;
    throw error;
  }
  const m = new Map(rows.map((r) => [r.key, r.value]));
  if (m.get(META.schemaVersion) !== CATALOG_SCHEMA_VERSION || !m.has(META.indexedUpTo)) return null;
  const corruption = m.get(META.corruption);
  return {
    schemaVersion: Number(m.get(META.schemaVersion)),
    journalId: String(m.get(META.journalId)),
    indexedUpTo: Number(m.get(META.indexedUpTo)),
    lastSeq: Number(m.get(META.lastSeq)),
    chainHead: String(m.get(META.chainHead)),
    lastTx: Number(m.get(META.lastTx)),
    files: String(m.get(META.files)),
    corruption: typeof corruption === 'string' ? (JSON.parse(corruption) as Damage) : null,
    tailBytes: Number(m.get(META.tailBytes) ?? 0),
  };
}

function writeMeta(db: DB, meta: Meta): void {
  const put = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  put.run(META.schemaVersion, meta.schemaVersion);
  put.run(META.journalId, meta.journalId);
  put.run(META.indexedUpTo, meta.indexedUpTo);
  put.run(META.lastSeq, meta.lastSeq);
  put.run(META.chainHead, meta.chainHead);
  put.run(META.lastTx, meta.lastTx);
  put.run(META.files, meta.files);
  put.run(META.corruption, meta.corruption ? JSON.stringify(meta.corruption) : null);
  put.run(META.tailBytes, meta.tailBytes);
}

function journalIdOf(reader: JournalReader): string {
  return reader.layout.journalId?.toString('hex') ?? '';
}

function startOf(reader: JournalReader): number {
  return reader.layout.start.position;
}

/** Does the catalog still describe (a prefix of) this journal? */
function consistent(meta: Meta, reader: JournalReader, files: string): boolean {
  if (meta.journalId !== journalIdOf(reader)) return false;
  // Sealed segments (all but the last one indexed) must be exactly as they were.
  const before = JSON.parse(meta.files) as [number, number, number][];
  const now = new Map((JSON.parse(files) as [number, number, number][]).map((f) => [f[0], f]));
  for (let i = 0; i < before.length - 1; i++) {
    const f = now.get(before[i][0]);
    if (!f || f[1] !== before[i][1] || f[2] !== before[i][2]) return false;
  }
  // The last one may have grown or lost an unsynced tail. Rewritten in place
  // at the same size, it was edited (index it again from scratch), unless it
  // ends in preallocated zeros, which a writer fills in place
  // (docs/journal-format.md, "Preallocated space"). Either way what was
  // indexed must still end where it did, with the same batch commit (below).
  // (Damage elsewhere in a live segment goes unnoticed here; reading the
  // damaged records fails with their position, and `replay info` and
  // `replay audit` verify every byte.)
  const last = before[before.length - 1];
  const lastNow = last ? now.get(last[0]) : undefined;
  if (last && lastNow && lastNow[1] === last[1] && lastNow[2] !== last[2] && !endsInZeros(path.join(reader.dir, segmentFileName(last[0])))) return false;
  if (meta.indexedUpTo > reader.dataEnd) return false;
  if (meta.indexedUpTo < startOf(reader)) return false;
  if (meta.indexedUpTo === startOf(reader)) return true;
  // The batch commit that ends the indexed part must still be there, unchanged.
  try {
    const { record } = reader.readAt(meta.indexedUpTo - BATCH_COMMIT_FRAME_SIZE);
    return record.kind === 'batch-commit' && record.seq === meta.lastSeq && Buffer.from(record.head).toString('hex') === meta.chainHead;
  } catch {
    return false;
  }
}

/** Whether a segment file ends in preallocated space: a batch commit ends in a hash, never in 16 zero bytes. */
function endsInZeros(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const tail = Buffer.alloc(16);
    const n = fs.readSync(fd, tail, 0, 16, Math.max(0, size - 16));
    return n === 16 && tail.every((b) => b === 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** Bring an existing catalog up to date; null when it must be rebuilt. */
function update(db: DB, reader: JournalReader, files: string, storage: CatalogStorage): CatalogStatus | null {
  const meta = readMeta(db);
  if (!meta || !consistent(meta, reader, files)) return null;
  if (meta.files === files) return statusOf(meta, storage, false, 0);
  db.exec('BEGIN IMMEDIATE');
  try {
    // Another process may have updated it while we waited for the lock.
    const current = readMeta(db);
    if (!current || !consistent(current, reader, files)) {
      db.exec('ROLLBACK');
      return null;
    }
    if (current.files === files) {
      db.exec('COMMIT');
      return statusOf(current, storage, false, 0);
    }
    let next: Meta;
    db.exec('SAVEPOINT pass');
    try {
      next = indexPass(db, reader, current, files, false, null);
    } catch (error) {
      if (!(error instanceof MalformedRecordError)) throw error;
      db.exec('ROLLBACK TO pass');
      next = indexPass(db, reader, current, files, false, error);
    }
    db.exec('RELEASE pass');
    db.exec('COMMIT');
    return statusOf(next, storage, false, next.indexedUpTo - current.indexedUpTo + next.tailBytes);
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    if (error instanceof StaleCatalogError) return null;
    throw error;
  }
}

/**
 * Index from `from.indexedUpTo` to the end of the journal, or up to `stopAt`
 * (the start of the batch holding a malformed record, which is then recorded
 * as the corruption). Runs inside the caller's transaction.
 */
function indexPass(
  db: DB,
  reader: JournalReader,
  from: Meta,
  files: string,
  bulk: boolean,
  malformed: MalformedRecordError | null,
): Meta {
  const indexer = new Indexer(db);
  const point: IndexPoint = { lastSeq: from.lastSeq, chainHead: Buffer.from(from.chainHead, 'hex'), lastTx: from.lastTx };
  const start = from.indexedUpTo;
  const frames = reader.scanFrames({ from: start }).frames();
  const stopAt = malformed ? malformed.batchStart : Number.POSITIVE_INFINITY;
  const pass: PassResult = indexer.run(frames, point, start, stopAt, start > startOf(reader));
  indexer.flush();
  if (bulk) indexer.finishBulk(INDEXES);
  const scan = pass.scan;
  const corruption: Damage | null = malformed
    ? { position: malformed.position, reason: malformed.reason, path: pathOf(reader, malformed.position) }
    : (scan?.corruption ?? null);
  const meta: Meta = {
    schemaVersion: CATALOG_SCHEMA_VERSION,
    journalId: journalIdOf(reader),
    indexedUpTo: pass.committedEnd,
    lastSeq: pass.point.lastSeq,
    chainHead: pass.point.chainHead.toString('hex'),
    lastTx: pass.point.lastTx,
    files,
    corruption,
    tailBytes: scan && !scan.corruption ? scan.tailBytes : 0,
  };
  writeMeta(db, meta);
  return meta;
}

function pathOf(reader: JournalReader, position: number): string {
  const index = segmentIndexOf(reader.layout, position);
  return reader.layout.segments[Math.max(0, index)]?.path ?? reader.dir;
}

function statusOf(meta: Meta, storage: CatalogStorage, rebuilt: boolean, scannedBytes: number): CatalogStatus {
  return { storage, rebuilt, scannedBytes, indexedUpTo: meta.indexedUpTo, corruption: meta.corruption, tailBytes: meta.tailBytes };
}

function emptyMeta(reader: JournalReader): Meta {
  return {
    schemaVersion: CATALOG_SCHEMA_VERSION,
    journalId: journalIdOf(reader),
    indexedUpTo: startOf(reader),
    lastSeq: reader.layout.start.nextBatchSeq - 1,
    chainHead: reader.layout.start.chainHead.toString('hex'),
    lastTx: 0,
    files: '[]',
    corruption: null,
    tailBytes: 0,
  };
}

/**
 * Build a catalog from scratch: into a temporary file renamed over `file`
 * (so that readers never see a half-built catalog), or into memory.
 */
function build(
  reader: JournalReader,
  files: string,
  file: string | null,
  storage: CatalogStorage,
  busy: number,
  malformed: MalformedRecordError | null = null,
): Catalog {
  if (file !== null) removeAbandonedBuilds(file);
  const target = file === null ? ':memory:' : `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const db = new Database(target);
  let meta: Meta;
  try {
    if (file !== null) {
      db.pragma('journal_mode = OFF');
      db.pragma('locking_mode = EXCLUSIVE');
    }
    db.pragma('synchronous = OFF');
    db.pragma('temp_store = MEMORY');
    db.pragma('cache_size = -131072'); // 128 MiB while building
    db.exec(TABLES);
    db.exec('BEGIN');
    meta = indexPass(db, reader, emptyMeta(reader), files, true, malformed);
    db.exec('COMMIT');
  } catch (error) {
    db.close();
    if (file !== null) fs.rmSync(target, { force: true });
    // Without a rollback journal, start over and stop before the bad batch.
    if (error instanceof MalformedRecordError && malformed === null) return build(reader, files, file, storage, busy, error);
    throw error;
  }
  if (file === null) {
    db.pragma('cache_size = -16000');
    return new CatalogImpl(db, reader, statusOf(meta, storage, true, meta.indexedUpTo - startOf(reader) + meta.tailBytes), meta.lastTx);
  }
  db.close();
  fs.chmodSync(target, 0o600); // like the segments: it holds routes and keys
  fs.renameSync(target, file);
  const opened = new Database(file, { timeout: busy, fileMustExist: true });
  opened.pragma('synchronous = OFF');
  return new CatalogImpl(opened, reader, statusOf(meta, storage, true, meta.indexedUpTo - startOf(reader) + meta.tailBytes), meta.lastTx);
}

/**
 * Something other than a file where the catalog goes (a directory, a FIFO):
 * not ours to remove, and nothing could be renamed over it. One line, exit 74.
 */
function refuseNonFile(file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return; // Absent (or unreadable: opening it says why).
  }
  if (stat.isFile()) return;
  const what = stat.isDirectory() ? 'a directory' : 'not a regular file';
  throw new EnvironmentError(`${file} is ${what}, not the catalog; remove it (the catalog is rebuilt on next use)`, 'E_NOT_A_CATALOG');
}

/** Remove temporary catalogs left by builds whose process died (`catalog.sqlite.<pid>.<random>.tmp`). */
function removeAbandonedBuilds(file: string): void {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') fs.rmSync(path.join(dir, name), { force: true });
    }
  }
}

/** The journal directory is read-only: use the catalog there if it is current, else work in memory. */
function openReadOnly(reader: JournalReader, file: string, files: string, busy: number): Catalog {
  if (fs.existsSync(file)) {
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true, timeout: busy });
      const meta = readMeta(db);
      if (meta && consistent(meta, reader, files)) {
        if (meta.files === files) return new CatalogImpl(db, reader, statusOf(meta, 'read-only', false, 0), meta.lastTx);
        // Behind: continue from a copy in memory.
        const copy = new Database(db.serialize());
        db.close();
        const status = update(copy, reader, files, 'memory');
        if (status) return new CatalogImpl(copy, reader, status, readMeta(copy)!.lastTx);
        copy.close();
      } else {
        db.close();
      }
    } catch (error) {
      if (!isSqliteError(error)) throw error;
    }
  }
  return build(reader, files, null, 'memory', busy);
}

// The constructor is private to keep callers on Catalog.open; the module's own
// functions reach it through this alias.
const CatalogImpl = Catalog as unknown as new (db: DB, reader: JournalReader, status: CatalogStatus, lastTx: number) => Catalog;


