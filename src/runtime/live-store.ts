import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Catalog } from '../catalog/index.js';
import type { JournalReader, JournalWriter } from '../journal/index.js';
import type { TxId, WriteTxRecord } from '../model/records.js';
import type { AppDb, LiveDatabase, LiveWrite } from '../executor/types.js';
import { clearOpenMarker, distrustAfterOpen, markFailed, writeOpenMarker } from './open-marker.js';
import { DEFAULT_SNAPSHOT_KEEP, isRuntimeSnapshot, snapshotsToRemove, type RetainedSnapshot } from './snapshot-retention.js';
import { appDb, latestIntactSnapshot, openSnapshotCopy, rollForward, SqliteStore, StoreDivergedError } from '../store/index.js';

// The live database: a cache of the journal. It may run without syncs; on
// every start it is rolled forward from the journal, or rebuilt from the
// latest snapshot when it is ahead of the journal or does not match it
// (DESIGN.md, "The database").

export const LIVE_DB_FILE = 'live.sqlite';
export const SNAPSHOT_DIR = 'snapshots';

/**
 * The live file needs no syncs (the journal is the source of truth), and only
 * the recording process opens it (the journal's lock): it holds the file's
 * lock for as long as it runs, which spares the lock calls of every
 * transaction, and it commits once every 64 write transactions, which spares
 * a commit for the others (docs/store.md, "Deferred commits"; a crash leaves
 * the file up to 63 transactions behind the journal, which the next start
 * rolls forward).
 */
const LIVE_OPTIONS = { synchronous: 'OFF', lockingMode: 'EXCLUSIVE', commitEvery: 64 } as const;

export interface LiveStoreOptions {
  journalDir: string;
  catalog: Catalog;
  reader: JournalReader;
  /** Take a snapshot every this many write transactions (0: never). */
  snapshotEvery: number;
  /**
   * ...and not before the journal has grown by this fraction of the
   * database's size since the last snapshot (0: every snapshotEvery
   * transactions exactly; default DEFAULT_SNAPSHOT_GROWTH).
   */
  snapshotGrowth?: number;
  /** Keep at most this many snapshots, removing older ones (0: keep all; default DEFAULT_SNAPSHOT_KEEP). */
  snapshotKeep?: number;
  now: () => number;
  /** Where a failed snapshot is reported (it only makes later rebuilds longer). */
  log?: (line: string) => void;
}

/** Snapshot counters for the server's metrics. */
export interface SnapshotStats {
  taken: number;
  failed: number;
  /** Wall time of the snapshots taken, start to record appended, in ms. */
  millis: number;
  /** The transaction of the latest one taken by this process, or null. */
  lastTx: TxId | null;
  /** Snapshots this process removed by retention. */
  removed: number;
}

export interface StoreRecovery {
  /** 'rolled-forward', 'rebuilt' (the file was ahead, damaged or missing) or 'up-to-date'. */
  action: 'rolled-forward' | 'rebuilt' | 'up-to-date';
  /** Transactions applied from the journal. */
  applied: number;
  fromSnapshot: TxId | null;
  reason: string | null;
  /** Snapshots a rebuild passed over (missing or damaged), latest first, one line each. */
  passedOver: string[];
}

/**
 * A snapshot copies the whole database, so taking one every N transactions
 * costs more per transaction as the database grows. Waiting until the journal
 * has also grown by half the database's size keeps the copying to at most two
 * bytes per journal byte written, and rebuilding from the latest snapshot to at
 * most half a database's worth of journal (docs/server.md, "Snapshots").
 */
export const DEFAULT_SNAPSHOT_GROWTH = 0.5;

export class LiveStore implements LiveDatabase {
  private writer: JournalWriter | null = null;
  private sinceSnapshot = 0;
  /** The snapshot being taken, if any. */
  private inFlight: Promise<void> | null = null;
  /** The journal writer's byte count when the last snapshot started. */
  private journalBytesAtSnapshot = 0;
  /** The database's size at the last snapshot (at open, before the first). */
  private dbBytes: number;
  readonly snapshotStats: SnapshotStats = { taken: 0, failed: 0, millis: 0, lastTx: null, removed: 0 };
  /** The runtime's snapshots that are not removed, in journal order: what retention chooses from. */
  private retained: RetainedSnapshot[];

  private constructor(
    readonly store: SqliteStore,
    readonly recovery: StoreRecovery,
    private readonly options: LiveStoreOptions,
  ) {
    this.dbBytes = fileSize(store.file);
    this.lastCommittedAt = options.catalog.lastTx > 0 ? (options.catalog.tx(options.catalog.lastTx)?.committedAt ?? 0) : 0;
    removeUnfinishedSnapshots(path.join(options.journalDir, SNAPSHOT_DIR));
    this.retained = retainedSnapshots(options.catalog);
    removeLeftOverSnapshots(options.journalDir, options.catalog, this.retained);
  }

  static open(options: LiveStoreOptions): LiveStore {
    const file = path.join(options.journalDir, LIVE_DB_FILE);
    const journalLast = options.catalog.lastTx;
    let store: SqliteStore | null = null;
    let reason: string | null = null;
    const exists = fs.existsSync(file);
    if (exists) reason = distrustAfterOpen(options.journalDir);
    // Before anything writes to the file (a roll-forward, a rebuild): from
    // here until a clean close, an OS crash may leave it with lost writes.
    writeOpenMarker(options.journalDir);
    if (exists && reason === null) {
      try {
        store = SqliteStore.open(file, LIVE_OPTIONS);
        if (store.lastAppliedTx > journalLast) {
          reason = `the database had applied transaction ${store.lastAppliedTx}, but the journal ends at ${journalLast}`;
        }
      } catch (error) {
        reason = `the database could not be opened: ${(error as Error).message}`;
      }
      if (reason !== null) {
        store?.close();
        store = null;
      }
    }
    if (store !== null) {
      const before = store.lastAppliedTx;
      try {
        const applied = rollForwardFromJournal(store, options, journalLast);
        return new LiveStore(store, { action: applied > 0 ? 'rolled-forward' : 'up-to-date', applied, fromSnapshot: null, reason: null, passedOver: [] }, options);
      } catch (error) {
        if (!(error instanceof StoreDivergedError)) throw error;
        reason = `the database does not match the journal after transaction ${before}: ${error.message}`;
        store.close();
      }
    }
    if (store === null && reason === null && journalLast > 0) reason = 'its file was missing';
    const rebuilt = rebuild(file, options, journalLast);
    // A new journal's first database is created empty: there was nothing to rebuild.
    const action = reason === null && rebuilt.applied === 0 && rebuilt.passedOver.length === 0 ? 'up-to-date' : 'rebuilt';
    return new LiveStore(rebuilt.store, { action, applied: rebuilt.applied, fromSnapshot: rebuilt.fromSnapshot, reason, passedOver: rebuilt.passedOver }, options);
  }

  /** The latest `committedAt` journaled: commit times never go back (commitTime). */
  private lastCommittedAt: number;

  /**
   * The time a transaction commits at: the clock, or the last commit's time
   * if the clock is behind it (stepped back by NTP, a VM resumed), so that
   * journal order and time order agree and \`replay wind --at\` means one
   * transaction.
   */
  private commitTime(): number {
    const now = this.options.now();
    if (now > this.lastCommittedAt) this.lastCommittedAt = now;
    return this.lastCommittedAt;
  }

  /** The writer new transactions are journaled through (for snapshot records). */
  attach(writer: JournalWriter): void {
    this.writer = writer;
    // A --snapshot-keep lower than before takes effect now, not at the next snapshot.
    if (snapshotsToRemove(this.retained, this.keep).length > 0) {
      this.inFlight = this.removeOldSnapshots(writer).finally(() => {
        this.inFlight = null;
      });
    }
  }

  private get keep(): number {
    return this.options.snapshotKeep ?? DEFAULT_SNAPSHOT_KEEP;
  }

  get lastTx(): TxId {
    return this.store.lastAppliedTx;
  }

  /** Apply the app's migrations that the journal does not hold yet, each as a journaled write transaction. */
  migrate(migrations: readonly { name: string; sql: string }[], applied: ReadonlySet<string>, onApplied?: (name: string, tx: TxId) => void): string[] {
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.name)) continue;
      const tx = this.store.lastAppliedTx + 1;
      const result = this.store.applyMigration(tx, migration.name, migration.sql);
      // Awaited by the caller's flush(); handled here so a failure is not also an unhandled rejection.
      void this.writer!.append({
        kind: 'write-tx',
        session: null,
        prev: null,
        tx,
        committedAt: this.commitTime(),
        readAtTx: tx - 1,
        changes: result.changes,
        readDigest: new Uint8Array(32),
        result: migration.sql,
        migration: migration.name,
      }).durable.catch(() => {});
      done.push(migration.name);
      onApplied?.(migration.name, tx);
    }
    return done;
  }

  write<T>(body: (db: AppDb) => T, journal: (committing: LiveWrite<T>) => void): LiveWrite<T> {
    const tx = this.store.lastAppliedTx + 1;
    let out: LiveWrite<T> | null = null;
    this.store.write(
      tx,
      (db) => body(appDb(db)),
      (r) => {
        out = { tx, committedAt: this.commitTime(), readAtTx: r.readAtTx, changes: r.changes, readDigest: r.readDigest, result: r.result };
        journal(out);
      },
    );
    this.afterCommit();
    return out!;
  }

  read<T>(body: (db: AppDb) => T): { readAtTx: TxId; readDigest: Uint8Array; result: T } {
    const r = this.store.read((db) => body(appDb(db)));
    return { readAtTx: r.readAtTx, readDigest: r.readDigest, result: r.result as T };
  }

  /** Take a snapshot now, or join the one being taken; resolves once its record is appended. */
  snapshot(): Promise<void> {
    if (!this.writer) return Promise.resolve();
    if (this.inFlight === null) {
      const started = performance.now();
      const writer = this.writer;
      this.inFlight = this.takeSnapshot(writer).then(
        async (tx) => {
          if (tx !== null) {
            this.snapshotStats.taken++;
            this.snapshotStats.millis += performance.now() - started;
            this.snapshotStats.lastTx = tx;
            await this.removeOldSnapshots(writer);
          }
          this.inFlight = null;
        },
        (error: unknown) => {
          this.inFlight = null;
          this.snapshotStats.failed++;
          this.options.log?.(`warning: snapshot failed: ${(error as Error).message}; rebuilds start from an earlier snapshot until one succeeds`);
          throw error;
        },
      );
    }
    return this.inFlight;
  }

  /** Resolves when no snapshot is being taken (before closing the journal and the store). */
  async idle(): Promise<void> {
    await this.inFlight?.catch(() => {});
  }

  private async takeSnapshot(writer: JournalWriter): Promise<TxId | null> {
    this.sinceSnapshot = 0;
    this.journalBytesAtSnapshot = writer.stats.bytes;
    const dir = path.join(this.options.journalDir, SNAPSHOT_DIR);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const partial = path.join(dir, `pending-${process.pid}.sqlite`);
    const info = await this.store.snapshot(partial);
    this.dbBytes = info.bytes;
    const name = `tx-${String(info.tx).padStart(10, '0')}.sqlite`;
    fs.renameSync(info.file, path.join(dir, name));
    if (writer.failed) return null; // fail-stop: the server is going down, and says why
    const file = `${SNAPSHOT_DIR}/${name}`;
    await writer.append({ kind: 'snapshot', at: this.options.now(), tx: info.tx, file, bytes: info.bytes, sha256: info.sha256 }).durable;
    this.retained = this.retained.filter((s) => s.file !== file);
    this.retained.push({ tx: info.tx, file });
    return info.tx;
  }

  /**
   * Retention: journal the removal of the snapshots beyond --snapshot-keep,
   * then delete their files (a crash in between leaves files that the next
   * start deletes). Never throws: a failure only leaves files on disk.
   */
  private async removeOldSnapshots(writer: JournalWriter): Promise<void> {
    const victims = snapshotsToRemove(this.retained, this.keep);
    if (victims.length === 0 || writer.failed) return;
    try {
      const at = this.options.now();
      await Promise.all(victims.map((v) => writer.append({ kind: 'snapshot-removed', at, tx: v.tx, file: v.file, reason: 'retention' }).durable));
      this.retained = this.retained.filter((s) => !victims.includes(s));
      for (const v of victims) await fs.promises.rm(path.join(this.options.journalDir, v.file), { force: true });
      this.snapshotStats.removed += victims.length;
    } catch (error) {
      this.options.log?.(`warning: removing old snapshots failed: ${(error as Error).message}; they stay on disk until a later snapshot removes them`);
    }
  }

  private afterCommit(): void {
    const every = this.options.snapshotEvery;
    if (every <= 0 || ++this.sinceSnapshot < every || this.inFlight !== null || !this.writer) return;
    const growth = this.options.snapshotGrowth ?? DEFAULT_SNAPSHOT_GROWTH;
    if (this.writer.stats.bytes - this.journalBytesAtSnapshot < growth * this.dbBytes) return;
    // Off the request path; a failed snapshot only costs a longer rebuild later.
    this.snapshot().catch(() => {});
  }

  /** Close the file, sync it and say it was closed cleanly; or, after it failed, that it must be rebuilt. */
  close(): void {
    const failure = this.store.failed;
    this.store.close();
    if (failure !== null) {
      try {
        const cause = failure.cause as { message?: unknown; code?: unknown } | undefined;
        markFailed(this.options.journalDir, cause?.code !== undefined ? `${String(cause.message)} (${String(cause.code)})` : failure.message);
      } catch (error) {
        // The open marker from the start stays: the file is rolled forward, not rebuilt.
        this.options.log?.(`warning: cannot mark the failed database for a rebuild: ${(error as Error).message}`);
      }
      return;
    }
    try {
      clearOpenMarker(this.options.journalDir, this.store.file);
    } catch (error) {
      // The marker stays: the file is trusted after a process restart and rebuilt after a reboot, as after a crash.
      this.options.log?.(`warning: the live database could not be synced at shutdown: ${(error as Error).message}; it is rebuilt if the machine restarts before the next start`);
    }
  }
}

/** Apply the journal's write transactions after the store's last one. */
function rollForwardFromJournal(store: SqliteStore, options: LiveStoreOptions, journalLast: TxId): number {
  return rollForward(store, journalLast, (tx) => {
    const row = options.catalog.tx(tx);
    if (!row) throw new StoreDivergedError(`transaction ${tx} is missing from the catalog`, tx);
    return options.reader.readAt(row.position).record as WriteTxRecord;
  });
}

/** A snapshot being written is named pending-<pid>.sqlite[.partial] until it is complete. */
const UNFINISHED_SNAPSHOT = /^pending-\d+\.sqlite(\.partial)?(-wal|-shm|-journal)?$/;

/**
 * Remove what a process that died while taking a snapshot left behind (as
 * large as the database). The journal's lock makes this process the only
 * recorder, so no such file is still being written.
 */
function removeUnfinishedSnapshots(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (UNFINISHED_SNAPSHOT.test(name)) fs.rmSync(path.join(dir, name), { force: true });
}

/** The runtime's own snapshots that the journal has not removed, one per file, in journal order. */
function retainedSnapshots(catalog: Catalog): RetainedSnapshot[] {
  const byFile = new Map<string, RetainedSnapshot>();
  for (const s of catalog.snapshots()) {
    if (!isRuntimeSnapshot(s.file)) continue;
    byFile.delete(s.file); // a later record for the same file supersedes it
    byFile.set(s.file, { tx: s.tx, file: s.file });
  }
  return [...byFile.values()];
}

/** Delete the files of snapshots whose removal is journaled, which a crash kept from being deleted. */
function removeLeftOverSnapshots(journalDir: string, catalog: Catalog, retained: readonly RetainedSnapshot[]): void {
  const kept = new Set(retained.map((s) => s.file));
  for (const s of catalog.removedSnapshots()) {
    if (isRuntimeSnapshot(s.file) && !kept.has(s.file)) fs.rmSync(path.join(journalDir, s.file), { force: true });
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function rebuild(file: string, options: LiveStoreOptions, journalLast: TxId): { store: SqliteStore; applied: number; fromSnapshot: TxId | null; passedOver: string[] } {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  const { intact, passedOver } = latestIntactSnapshot(options.journalDir, options.catalog.snapshots(), journalLast);
  // Checked just now, so the copy is not hashed again.
  const store = intact !== null ? openSnapshotCopy(intact.path, file, LIVE_OPTIONS) : SqliteStore.open(file, LIVE_OPTIONS);
  const applied = rollForwardFromJournal(store, options, journalLast);
  return {
    store,
    applied,
    fromSnapshot: intact?.snapshot.tx ?? null,
    passedOver: passedOver.map((p) => `snapshot ${p.snapshot.file} (transaction ${p.snapshot.tx}) passed over: ${p.why}`),
  };
}
