import type { Catalog } from '../catalog/index.js';
import type { JournalReader } from '../journal/index.js';
import { OutOfRangeError } from '../model/errors.js';
import type { TxId, WriteTxRecord } from '../model/records.js';
import { latestIntactSnapshot, rollForward, SqliteStore } from '../store/index.js';

// The database as of a transaction: the nearest known state at or before it
// (an in-memory image this process made earlier, or a snapshot the runtime
// took), copied into a private in-memory database, plus the journal's row
// changes up to it. Never the live database; its cost is bounded by the
// distance to the nearest state.

export interface JournalAccess {
  journalDir: string;
  catalog: Catalog;
  reader: JournalReader;
}

export interface StateCacheOptions {
  /** Keep an image every this many transactions (default 32). */
  spacing?: number;
  /** At most this many images in memory (default 32). */
  maxImages?: number;
  /** At most this many stores kept open for reuse by acquire() (default 8). */
  maxPooled?: number;
}

/** Builds states as of any transaction, reusing images of states it built before, and stores given back. */
export class StateCache {
  private readonly images: { tx: TxId; image: Buffer }[] = [];
  /** The snapshot the last storeAt() started from, or null (an image, or the empty database). */
  lastSnapshot: TxId | null = null;
  private readonly spacing: number;
  private readonly maxImages: number;
  /**
   * Open stores given back with release(), each holding exactly the journal's
   * state as of its lastAppliedTx. Sessions replayed one after the other need
   * states a few transactions apart (a session reads at one transaction and
   * writes a few later, while other sessions commit in between), so the
   * nearest pooled store is usually only a few transactions behind: rolling
   * it forward is much cheaper than a new store from an image.
   */
  private readonly pool: SqliteStore[] = [];
  private readonly maxPooled: number;
  /** Decoded write transactions, by id: each one is applied to many stores. */
  private readonly records = new Map<TxId, WriteTxRecord>();

  constructor(
    private readonly access: JournalAccess,
    options: StateCacheOptions = {},
  ) {
    this.spacing = options.spacing ?? 32;
    this.maxImages = options.maxImages ?? 32;
    this.maxPooled = options.maxPooled ?? 8;
  }

  /**
   * A store holding the state just after transaction `tx`, like storeAt(),
   * but made from a pooled store at or before `tx` when one is close enough.
   * Give it back with release() while its state is still the journal's, or
   * close it.
   */
  acquire(tx: TxId): SqliteStore {
    checkRange(this.access.catalog, tx);
    let best = -1;
    for (let i = 0; i < this.pool.length; i++) {
      const at = this.pool[i].lastAppliedTx;
      if (at <= tx && (best < 0 || at > this.pool[best].lastAppliedTx)) best = i;
    }
    if (best >= 0) {
      const distance = tx - this.pool[best].lastAppliedTx;
      if (distance <= 4 * this.spacing || distance <= tx - this.nearestImageTx(tx)) {
        const [store] = this.pool.splice(best, 1);
        this.advance(store, tx);
        return store;
      }
    }
    return this.storeAt(tx);
  }

  /** Keep a store from acquire() or storeAt() for reuse. Only for a store whose state is the journal's as of its lastAppliedTx. */
  release(store: SqliteStore): void {
    if (!store.isOpen || this.pool.includes(store)) return;
    this.pool.push(store);
    if (this.pool.length > this.maxPooled) {
      // The oldest state is the least likely to be wanted again.
      let oldest = 0;
      for (let i = 1; i < this.pool.length; i++) if (this.pool[i].lastAppliedTx < this.pool[oldest].lastAppliedTx) oldest = i;
      this.pool.splice(oldest, 1)[0].close();
    }
  }

  /** Close the pooled stores. */
  close(): void {
    for (const store of this.pool.splice(0)) store.close();
  }

  private nearestImageTx(tx: TxId): TxId {
    let best = 0;
    for (const entry of this.images) if (entry.tx <= tx && entry.tx > best) best = entry.tx;
    return best;
  }

  /** A fresh in-memory store holding the state just after transaction `tx` (0: before any). Close it when done. */
  storeAt(tx: TxId): SqliteStore {
    checkRange(this.access.catalog, tx);
    let base: { tx: TxId; image: Buffer } | undefined;
    for (const entry of this.images) if (entry.tx <= tx && (!base || entry.tx > base.tx)) base = entry;
    this.lastSnapshot = null;
    const store = base ? SqliteStore.fromImage(base.image, { synchronous: 'OFF' }) : this.fromSnapshot(tx);
    const from = store.lastAppliedTx;
    this.advance(store, tx);
    if (this.images.length === 0 || tx - (base?.tx ?? from) >= this.spacing) this.remember(tx, store.image());
    return store;
  }

  /** Apply the journal's transactions up to and including `tx`. */
  advance(store: SqliteStore, tx: TxId): void {
    rollForward(store, tx, (next) => this.writeTx(next));
  }

  private writeTx(tx: TxId): WriteTxRecord {
    let record = this.records.get(tx);
    if (record === undefined) {
      record = writeTxRecord(this.access, tx);
      if (this.records.size >= 4096) this.records.delete(this.records.keys().next().value!);
      this.records.set(tx, record);
    }
    return record;
  }

  /** The latest intact snapshot at or before `tx` (store/intact-snapshot.ts), or an empty database. */
  private fromSnapshot(tx: TxId): SqliteStore {
    const { intact } = latestIntactSnapshot(this.access.journalDir, this.access.catalog.snapshots(), tx, { read: true });
    if (intact === null) return SqliteStore.open(':memory:', { synchronous: 'OFF' });
    this.lastSnapshot = intact.snapshot.tx;
    return SqliteStore.fromImage(intact.bytes!, { synchronous: 'OFF' });
  }

  private remember(tx: TxId, image: Buffer): void {
    if (this.images.some((e) => e.tx === tx)) return;
    this.images.push({ tx, image });
    this.images.sort((a, b) => a.tx - b.tx);
    if (this.images.length > this.maxImages) this.images.shift();
  }
}

export function checkRange(catalog: Catalog, tx: TxId): void {
  const last = catalog.lastTx;
  if (!Number.isInteger(tx) || tx < 0 || tx > last) {
    throw new OutOfRangeError(last === 0 ? `tx ${tx} is out of range: the journal holds no transactions` : `tx ${tx} is out of range: the journal holds tx 1 to ${last}`);
  }
}

/** A write transaction's record, found through the catalog. */
export function writeTxRecord(access: Pick<JournalAccess, 'catalog' | 'reader'>, tx: TxId): WriteTxRecord {
  const row = access.catalog.tx(tx);
  if (!row) throw new OutOfRangeError(`transaction ${tx} is not in the journal`);
  return access.reader.readAt(row.position).record as WriteTxRecord;
}
