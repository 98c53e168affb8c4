import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Catalog } from '../catalog/index.js';
import type { JournalReader } from '../journal/index.js';
import { OutOfRangeError } from '../model/errors.js';
import type { TxId, WriteTxRecord } from '../model/records.js';
import { openSnapshotCopy, rollForward, SqliteStore } from '../store/index.js';

// The database as of a transaction: the nearest snapshot at or before it,
// copied, plus the journal's row changes up to it. Always a private file,
// never the live database; its cost is bounded by the snapshot interval.

export interface JournalAccess {
  journalDir: string;
  catalog: Catalog;
  reader: JournalReader;
}

export class StateBuilder {
  private constructor(
    private readonly access: JournalAccess,
    readonly file: string,
    private owned: boolean,
    public store: SqliteStore,
    readonly fromSnapshot: TxId | null,
  ) {}

  /**
   * A database as of transaction `tx` (0 for the empty database before any).
   * `file` names where to build it (kept); by default a temporary file that close() removes.
   */
  static open(access: JournalAccess, tx: TxId, file?: string): StateBuilder {
    const last = access.catalog.lastTx;
    if (!Number.isInteger(tx) || tx < 0 || tx > last) {
      throw new OutOfRangeError(last === 0 ? `transaction ${tx} is out of range: the journal holds no transactions` : `transaction ${tx} is out of range: the journal holds 1 to ${last}`);
    }
    const target = file ? path.resolve(file) : path.join(os.tmpdir(), `windback-state-${process.pid}-${randomBytes(6).toString('hex')}.sqlite`);
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(target + suffix, { force: true });
    const snapshot = access.catalog.snapshotAtOrBefore(tx);
    let store: SqliteStore;
    let fromSnapshot: TxId | null = null;
    const snapshotFile = snapshot ? path.join(access.journalDir, snapshot.file) : null;
    if (snapshot && snapshotFile && fs.existsSync(snapshotFile)) {
      store = openSnapshotCopy(snapshotFile, target, { sha256: snapshot.sha256, synchronous: 'OFF' });
      fromSnapshot = snapshot.tx;
    } else {
      store = SqliteStore.open(target, { synchronous: 'OFF' });
    }
    const builder = new StateBuilder(access, target, file === undefined, store, fromSnapshot);
    builder.advanceTo(tx);
    return builder;
  }

  get tx(): TxId {
    return this.store.lastAppliedTx;
  }

  /** Apply the journal's transactions up to and including `tx`. */
  advanceTo(tx: TxId): void {
    rollForward(this.store, tx, (next) => writeTxRecord(this.access, next));
  }

  /** Keep the file on close (for `replay restore`). */
  keep(): void {
    this.owned = false;
  }

  close(): void {
    this.store.close();
    if (this.owned) for (const suffix of ['', '-wal', '-shm']) fs.rmSync(this.file + suffix, { force: true });
  }
}

/** A write transaction's record, found through the catalog. */
export function writeTxRecord(access: Pick<JournalAccess, 'catalog' | 'reader'>, tx: TxId): WriteTxRecord {
  const row = access.catalog.tx(tx);
  if (!row) throw new OutOfRangeError(`transaction ${tx} is not in the journal`);
  return access.reader.readAt(row.position).record as WriteTxRecord;
}
