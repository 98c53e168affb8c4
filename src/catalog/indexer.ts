import type { Database, Statement } from 'better-sqlite3';
import { CorruptJournalError } from '../model/errors.js';
import { RECORD_TYPE, type JournalRecord } from '../model/records.js';
import { decodeFrame, type Frame, type ScanResult } from '../journal/index.js';
import { FieldError, FieldReader } from './fields.js';
import { spanBucket, spanLevel } from './schema.js';

// Turns committed frames into catalog rows. It decodes only the record types
// it needs, and only their leading fields (FieldReader), so that indexing
// runs at close to the scanner's speed. Sessions still open are kept in
// memory during a pass and written when they end, or when the pass ends.

const T = RECORD_TYPE;
const FIRST_CRITICAL_TYPE = 128;

/** Where the previous pass stopped: the chain and transaction state to continue from. */
export interface IndexPoint {
  lastSeq: number;
  chainHead: Buffer;
  lastTx: number;
}

/** The catalog no longer matches the journal it indexes: rebuild from scratch. */
export class StaleCatalogError extends Error {}

/** A committed record the codec cannot decode: corruption at its position. */
export class MalformedRecordError extends Error {
  /** Start of the batch holding the record: index up to here, no further. */
  batchStart = 0;
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

interface SessionRow {
  id: number;
  kind: string;
  route: string;
  status: string;
  startedAt: number;
  endedAt: number | null;
  startedAfterTx: number;
  endedAtTx: number | null;
  startPosition: number;
  lastPosition: number;
  endPosition: number | null;
  attempts: number;
  codeVersion: number;
  idempotencyKey: string | null;
}

/** A session being indexed. */
interface SessionState extends SessionRow {
  /** The row exists in the database (written by an earlier pass or earlier in this one). */
  persisted: boolean;
}

/** Buffers rows and inserts them many per statement (about twice as fast as one by one). */
class BulkInsert {
  private readonly one: Statement;
  private readonly many: Statement;
  private readonly args: unknown[];
  private filled = 0;

  constructor(
    db: Database,
    table: string,
    private readonly columns: readonly string[],
    private readonly rows = 64,
  ) {
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    const head = `INSERT OR REPLACE INTO ${table} (${columns.join(', ')}) VALUES `;
    this.one = db.prepare(head + tuple);
    this.many = db.prepare(head + new Array(rows).fill(tuple).join(', '));
    this.args = new Array(rows * columns.length);
  }

  add(values: unknown[]): void {
    const width = this.columns.length;
    const at = this.filled * width;
    for (let i = 0; i < width; i++) this.args[at + i] = values[i];
    if (++this.filled === this.rows) {
      this.many.run(this.args);
      this.filled = 0;
    }
  }

  flush(): void {
    const width = this.columns.length;
    for (let r = 0; r < this.filled; r++) this.one.run(this.args.slice(r * width, (r + 1) * width));
    this.filled = 0;
  }
}

export interface PassResult {
  /** The scan's result, or null when the pass stopped early at `stopAt`. */
  scan: ScanResult | null;
  /** Position just past the last batch commit applied (a batch boundary). */
  committedEnd: number;
  point: IndexPoint;
  records: number;
}

export class Indexer {
  private readonly fields = new FieldReader();
  private readonly open = new Map<number, SessionState>();
  /** Sessions with records but no session-start in the catalog (e.g. dropped by retention). */
  private readonly unknown = new Set<number>();
  private readonly codeVersions = new Map<string, number>();

  private readonly insertSession: BulkInsert;
  private readonly updateSession: Statement;
  private readonly selectSession: Statement;
  private readonly insertTx: BulkInsert;
  private readonly insertCheckpoint: BulkInsert;
  private readonly insertSnapshot: Statement;
  private readonly removeSnapshot: Statement;
  private readonly insertProcessStart: Statement;
  private readonly insertDuplicate: Statement;
  private readonly insertCodeVersion: Statement;

  private lastTx = 0;

  constructor(private readonly db: Database) {
    this.insertSession = new BulkInsert(db, 'sessions', [
      'id',
      'kind',
      'route',
      'status',
      'startedAt',
      'endedAt',
      'startedAfterTx',
      'endedAtTx',
      'startPosition',
      'lastPosition',
      'endPosition',
      'attempts',
      'codeVersion',
      'idempotencyKey',
      'spanLevel',
      'spanBucket',
    ]);
    this.updateSession = db.prepare(
      `UPDATE sessions SET status = ?, endedAt = ?, endedAtTx = ?, lastPosition = ?, endPosition = ?, attempts = ?, spanLevel = ?, spanBucket = ? WHERE id = ?`,
    );
    this.selectSession = db.prepare(
      `SELECT id, kind, route, status, startedAt, endedAt, startedAfterTx, endedAtTx, startPosition, lastPosition, endPosition, attempts, codeVersion, idempotencyKey
       FROM sessions WHERE id = ?`,
    );
    this.insertTx = new BulkInsert(db, 'write_txs', ['tx', 'session', 'position', 'committedAt', 'readAtTx', 'migration']);
    this.insertCheckpoint = new BulkInsert(db, 'checkpoints', ['position', 'session', 'label']);
    this.insertSnapshot = db.prepare(
      'INSERT OR REPLACE INTO snapshots (position, tx, at, file, bytes, sha256) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.removeSnapshot = db.prepare('UPDATE snapshots SET removedBy = ? WHERE file = ? AND tx = ? AND removedBy IS NULL');
    this.insertProcessStart = db.prepare(
      'INSERT OR REPLACE INTO process_starts (position, at, codeVersion, pid, durability, node) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.insertDuplicate = db.prepare(
      'INSERT OR REPLACE INTO duplicate_requests (position, at, originalSession, idempotencyKey, route) VALUES (?, ?, ?, ?, ?)',
    );
    this.insertCodeVersion = db.prepare('INSERT INTO code_versions (id, hash) VALUES (?, ?)');
    for (const row of db.prepare('SELECT id, hash FROM code_versions').all() as { id: number; hash: string }[]) {
      this.codeVersions.set(row.hash, row.id);
    }
  }

  /**
   * Index frames until the scan ends or a frame at or after `stopAt` (a batch
   * boundary). `from` is the state the previous pass ended in; when
   * `checkChain`, the first batch commit must continue it.
   */
  run(frames: Generator<Frame, ScanResult>, from: IndexPoint, startPosition: number, stopAt: number, checkChain: boolean): PassResult {
    this.lastTx = from.lastTx;
    let lastSeq = from.lastSeq;
    let chainHead = from.chainHead;
    let committedEnd = startPosition;
    let records = 0;
    let firstCommit = checkChain;
    let scan: ScanResult | null = null;
    for (;;) {
      const step = frames.next();
      if (step.done) {
        scan = step.value;
        break;
      }
      const frame = step.value;
      if (frame.position >= stopAt) break;
      if (frame.type === 15) {
        const payload = frame.payload;
        const seq = Number(payload.readBigUInt64LE(0));
        if (firstCommit) {
          firstCommit = false;
          if (seq !== lastSeq + 1 || !chainHead.equals(payload.subarray(24, 56))) {
            throw new StaleCatalogError(`batch commit at position ${frame.position} does not continue the indexed chain`);
          }
        }
        lastSeq = seq;
        chainHead = Buffer.from(payload.subarray(56, 88));
        committedEnd = frame.position + frame.size;
        continue;
      }
      records++;
      try {
        this.apply(frame);
      } catch (error) {
        if (error instanceof MalformedRecordError) error.batchStart = committedEnd;
        throw error;
      }
    }
    return { scan, committedEnd, point: { lastSeq, chainHead, lastTx: this.lastTx }, records };
  }

  /** Write the sessions still open at the end of the pass, and every buffered row. */
  flush(): void {
    for (const s of this.open.values()) this.writeSession(s);
    this.open.clear();
    this.flushRows();
  }

  private flushRows(): void {
    this.insertSession.flush();
    this.insertTx.flush();
    this.insertCheckpoint.flush();
  }

  /** After a bulk pass into bare tables: create the secondary indexes (faster than row by row). */
  finishBulk(indexes: string): void {
    this.db.exec(indexes);
  }

  private apply(frame: Frame): void {
    const type = frame.type;
    const position = frame.position;
    const r = this.fields;
    try {
      switch (type) {
        case T.value:
        case T['call-start']:
        case T['call-result']:
        case T['read-tx']:
        case T.response:
        case T.suspension: {
          r.reset(frame.payload);
          this.touch(r.number(), position);
          return;
        }
        case T['session-start']: {
          if (r.reset(frame.payload) < 11) break;
          const session = r.number();
          r.pass(); // prev
          const at = r.number();
          const kind = r.str();
          const route = r.str();
          r.pass(); // transport
          r.pass(); // input
          const codeVersion = r.str();
          const startedAfterTx = r.number();
          const idempotencyKey = r.strOrNil();
          this.onSessionStart(position, session, at, kind, route, codeVersion, startedAfterTx, idempotencyKey);
          return;
        }
        case T['session-attempt']: {
          r.reset(frame.payload);
          this.onAttempt(position, r.number());
          return;
        }
        case T['session-end']: {
          if (r.reset(frame.payload) < 6) break;
          const session = r.number();
          r.pass();
          const at = r.number();
          const status = r.str();
          this.onSessionEnd(position, session, at, status);
          return;
        }
        case T['write-tx']: {
          if (r.reset(frame.payload) < 9) break;
          const session = r.numberOrNil();
          r.pass();
          const tx = r.number();
          const committedAt = r.number();
          const readAtTx = r.number();
          r.pass(); // changes
          r.pass(); // readDigest
          r.pass(); // result
          const migration = r.strOrNil();
          this.onWriteTx(position, session, tx, committedAt, readAtTx, migration);
          return;
        }
        case T.checkpoint: {
          if (r.reset(frame.payload) < 6) break;
          const session = r.number();
          r.pass();
          r.pass(); // at
          const label = r.str();
          this.onCheckpoint(position, session, label);
          return;
        }
        case T.snapshot: {
          if (r.reset(frame.payload) < 5) break;
          const at = r.number();
          const tx = r.number();
          const file = r.str();
          const bytes = r.number();
          const sha256 = r.str();
          this.insertSnapshot.run(position, tx, at, file, bytes, sha256);
          return;
        }
        case T['process-start']: {
          if (r.reset(frame.payload) < 10) break;
          const at = r.number();
          const codeVersion = r.str();
          r.pass(); // app
          r.pass(); // config
          const node = r.str();
          r.pass(); // v8
          r.pass(); // timeZone
          r.pass(); // locale
          const pid = r.number();
          const durability = r.str();
          this.insertProcessStart.run(position, at, codeVersion, pid, durability, node);
          return;
        }
        case T['duplicate-request']: {
          if (r.reset(frame.payload) < 4) break;
          const at = r.number();
          const originalSession = r.number();
          const idempotencyKey = r.str();
          const route = r.str();
          this.insertDuplicate.run(position, at, originalSession, idempotencyKey, route);
          return;
        }
        case T['snapshot-removed']:
          break; // rare: the slow path
        default:
          if (type < FIRST_CRITICAL_TYPE) return; // unknown, forward-compatible: skip
          break;
      }
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
    }
    // Anything the fast path did not expect: decode fully (or report it).
    this.applyRecord(position, decodeOrThrow(frame));
  }

  /** The slow path, from a fully decoded record. */
  private applyRecord(position: number, record: JournalRecord): void {
    switch (record.kind) {
      case 'session-start':
        return this.onSessionStart(
          position,
          record.session,
          num(record.at),
          String(record.sessionKind),
          String(record.route),
          String(record.codeVersion),
          num(record.startedAfterTx),
          record.idempotencyKey == null ? null : String(record.idempotencyKey),
        );
      case 'session-attempt':
        return this.onAttempt(position, num(record.session));
      case 'session-end':
        return this.onSessionEnd(position, num(record.session), num(record.at), String(record.status));
      case 'write-tx':
        return this.onWriteTx(
          position,
          record.session == null ? null : num(record.session),
          num(record.tx),
          num(record.committedAt),
          num(record.readAtTx),
          record.migration == null ? null : String(record.migration),
        );
      case 'checkpoint':
        return this.onCheckpoint(position, num(record.session), String(record.label));
      case 'snapshot':
        this.insertSnapshot.run(position, num(record.tx), num(record.at), String(record.file), num(record.bytes), String(record.sha256));
        return;
      case 'snapshot-removed':
        this.removeSnapshot.run(position, String(record.file), num(record.tx));
        return;
      case 'process-start':
        this.insertProcessStart.run(position, num(record.at), String(record.codeVersion), num(record.pid), String(record.durability), String(record.node));
        return;
      case 'duplicate-request':
        this.insertDuplicate.run(position, num(record.at), num(record.originalSession), String(record.idempotencyKey), String(record.route));
        return;
      case 'value':
      case 'call-start':
      case 'call-result':
      case 'read-tx':
      case 'response':
      case 'suspension':
        return this.touch(num(record.session), position);
      default:
        return;
    }
  }

  private onSessionStart(
    position: number,
    session: number,
    at: number,
    kind: string,
    route: string,
    codeVersion: string,
    startedAfterTx: number,
    idempotencyKey: string | null,
  ): void {
    this.unknown.delete(session);
    this.open.set(session, {
      id: session,
      kind,
      route,
      status: 'open',
      startedAt: at,
      endedAt: null,
      startedAfterTx,
      endedAtTx: null,
      startPosition: position,
      lastPosition: position,
      endPosition: null,
      attempts: 1,
      codeVersion: this.codeVersionId(codeVersion),
      idempotencyKey,
      persisted: false,
    });
  }

  private onAttempt(position: number, session: number): void {
    const s = this.session(session);
    if (!s) return;
    s.attempts++;
    s.lastPosition = position;
  }

  private onSessionEnd(position: number, session: number, at: number, status: string): void {
    const s = this.session(session);
    if (!s) return;
    s.status = status;
    s.endedAt = at;
    s.endedAtTx = this.lastTx;
    s.endPosition = position;
    s.lastPosition = position;
    this.writeSession(s);
    this.open.delete(session);
  }

  private onWriteTx(position: number, session: number | null, tx: number, committedAt: number, readAtTx: number, migration: string | null): void {
    this.insertTx.add([tx, session, position, committedAt, readAtTx, migration]);
    if (tx > this.lastTx) this.lastTx = tx;
    if (session !== null) this.touch(session, position);
  }

  private onCheckpoint(position: number, session: number, label: string): void {
    this.insertCheckpoint.add([position, session, label]);
    this.touch(session, position);
  }

  private touch(session: number, position: number): void {
    const s = this.session(session);
    if (s) s.lastPosition = position;
  }

  /** A session's in-memory state, loaded from the database when an earlier pass wrote it. */
  private session(id: number): SessionState | undefined {
    const known = this.open.get(id);
    if (known) return known;
    if (this.unknown.has(id)) return undefined;
    this.insertSession.flush();
    const row = this.selectSession.get(id) as SessionRow | undefined;
    if (!row) {
      if (this.unknown.size < 100_000) this.unknown.add(id);
      return undefined;
    }
    const state: SessionState = { ...row, persisted: true };
    this.open.set(id, state);
    return state;
  }

  private writeSession(s: SessionState): void {
    const level = spanLevel(s.startedAfterTx, s.endedAtTx);
    const bucket = spanBucket(s.startedAfterTx, level);
    if (s.persisted) {
      this.insertSession.flush();
      this.updateSession.run(s.status, s.endedAt, s.endedAtTx, s.lastPosition, s.endPosition, s.attempts, level, bucket, s.id);
    } else {
      this.insertSession.add([
        s.id,
        s.kind,
        s.route,
        s.status,
        s.startedAt,
        s.endedAt,
        s.startedAfterTx,
        s.endedAtTx,
        s.startPosition,
        s.lastPosition,
        s.endPosition,
        s.attempts,
        s.codeVersion,
        s.idempotencyKey,
        level,
        bucket,
      ]);
      s.persisted = true;
    }
  }

  private codeVersionId(hash: string): number {
    let id = this.codeVersions.get(hash);
    if (id === undefined) {
      id = this.codeVersions.size + 1;
      this.insertCodeVersion.run(id, hash);
      this.codeVersions.set(hash, id);
    }
    return id;
  }
}

function num(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : Number(value);
}

function decodeOrThrow(frame: Frame): JournalRecord {
  try {
    return decodeFrame(frame);
  } catch (error) {
    if (error instanceof CorruptJournalError) throw new MalformedRecordError(frame.position, error.message);
    throw error;
  }
}
