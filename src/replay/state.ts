import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Catalog } from '../catalog/index.js';
import type { JournalReader } from '../journal/index.js';
import { OutOfRangeError } from '../model/errors.js';
import type { TxId, WriteTxRecord } from '../model/records.js';
import { rollForward, SqliteStore } from '../store/index.js';

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
}

/** Builds states as of any transaction, reusing images of states it built before. */
export class StateCache {
  private readonly images: { tx: TxId; image: Buffer }[] = [];
  /** The snapshot the last storeAt() started from, or null (an image, or the empty database). */
  lastSnapshot: TxId | null = null;
  private readonly spacing: number;
  private readonly maxImages: number;

  constructor(
    private readonly access: JournalAccess,
    options: StateCacheOptions = {},
  ) {
    this.spacing = options.spacing ?? 32;
    this.maxImages = options.maxImages ?? 32;
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
    rollForward(store, tx, (next) => writeTxRecord(this.access, next));
  }

  /**
   * The latest intact snapshot at or before `tx`. A snapshot that was removed,
   * or whose bytes no longer match the hash its record holds, is passed over:
   * the journal alone can rebuild any state, a snapshot only makes it cheaper.
   */
  private fromSnapshot(tx: TxId): SqliteStore {
    const candidates = this.access.catalog
      .snapshots()
      .filter((s) => s.tx <= tx)
      .sort((a, b) => b.tx - a.tx);
    for (const snapshot of candidates) {
      const file = path.join(this.access.journalDir, snapshot.file);
      if (!fs.existsSync(file)) continue;
      const bytes = fs.readFileSync(file);
      if (createHash('sha256').update(bytes).digest('hex') !== snapshot.sha256.toLowerCase()) continue;
      this.lastSnapshot = snapshot.tx;
      return SqliteStore.fromImage(bytes, { synchronous: 'OFF' });
    }
    return SqliteStore.open(':memory:', { synchronous: 'OFF' });
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
    throw new OutOfRangeError(last === 0 ? `transaction ${tx} is out of range: the journal holds no transactions` : `transaction ${tx} is out of range: the journal holds 1 to ${last}`);
  }
}

/** A write transaction's record, found through the catalog. */
export function writeTxRecord(access: Pick<JournalAccess, 'catalog' | 'reader'>, tx: TxId): WriteTxRecord {
  const row = access.catalog.tx(tx);
  if (!row) throw new OutOfRangeError(`transaction ${tx} is not in the journal`);
  return access.reader.readAt(row.position).record as WriteTxRecord;
}
