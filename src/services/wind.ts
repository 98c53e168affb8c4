import { Catalog, type WriteTxRow } from '../catalog/index.js';
import { NotFoundError, OutOfRangeError, UsageError } from '../model/errors.js';
import type { Position, SessionId, TxId } from '../model/records.js';
import type { SessionListStatus } from './sessions.js';
import { isoTime, parseTime, parseWholeNumber } from './time.js';

// `replay wind`: the sessions in flight when a write transaction committed.

export interface WindOptions {
  journal: string;
  /** A write transaction id. Exactly one of tx and at. */
  tx?: number | string;
  /** ISO-8601: wind to the last transaction committed at or before it. */
  at?: string;
}

export interface AliveSession {
  id: SessionId;
  kind: string;
  /** The session's final status: ok | error | aborted, or open if it has not ended. */
  status: SessionListStatus;
  startedAt: string;
  startedAfterTx: TxId;
  /** The session's last checkpoint before tx's record, or null: none yet, a retry would run it from its start. */
  lastCheckpoint: { label: string; position: Position } | null;
  /** Write transactions the session committed up to and including tx. */
  txs: TxId[];
}

export interface WindResult {
  tx: TxId;
  /** tx's commit time. */
  at: string;
  /** Sessions that started before tx committed and had not ended by then, in start order. */
  alive: AliveSession[];
}

export function wind(options: WindOptions): WindResult {
  const hasTx = options.tx !== undefined && options.tx !== '';
  const hasAt = options.at !== undefined && options.at !== '';
  if (hasTx === hasAt) {
    throw new UsageError(hasTx ? 'give either --tx or --at, not both' : 'give --tx <id> or --at <time> (exactly one)');
  }
  const wanted = hasTx ? parseWholeNumber(options.tx!, '--tx', 'a transaction id (a whole number from 1)') : null;
  const atMs = hasAt ? parseTime(options.at!, '--at') : null;

  const catalog = Catalog.open(options.journal);
  try {
    const row = wanted !== null ? txById(catalog, wanted) : txAt(catalog, atMs!, options.at!);
    const alive = catalog.aliveAt(row.tx, row.position).map((s) => ({
      id: s.id,
      kind: s.kind,
      status: s.status as SessionListStatus,
      startedAt: isoTime(s.startedAt),
      startedAfterTx: s.startedAfterTx,
      lastCheckpoint: s.lastCheckpoint,
      txs: s.txs,
    }));
    return { tx: row.tx, at: isoTime(row.committedAt), alive };
  } finally {
    catalog.close();
  }
}

function range(catalog: Catalog): string {
  const last = catalog.lastTx;
  return last === 0 ? 'the journal holds no write transactions' : `the journal holds tx ${catalog.firstTx()} to ${last}`;
}

function txById(catalog: Catalog, tx: number): WriteTxRow {
  const last = catalog.lastTx;
  if (tx > last) {
    const corrupt = catalog.corruptionError(`cannot wind to tx ${tx}, past the last readable tx ${last}`);
    if (corrupt) throw corrupt;
  }
  if (tx < 1 || tx > last) throw new OutOfRangeError(`tx ${tx} is out of range: ${range(catalog)}`);
  const row = catalog.tx(tx);
  if (!row) throw new NotFoundError(`tx ${tx} is not in the journal (${range(catalog)}, but not this one)`);
  return row;
}

function txAt(catalog: Catalog, ms: number, given: string): WriteTxRow {
  const row = catalog.lastTxAtOrBefore(ms);
  if (row === null) {
    const first = catalog.firstTx() > 0 ? catalog.tx(catalog.firstTx()) : null;
    throw new OutOfRangeError(
      first
        ? `no transaction committed at or before ${given} (${isoTime(ms)}): the first, tx ${first.tx}, committed at ${isoTime(first.committedAt)}`
        : `no transaction committed at or before ${given}: the journal holds no write transactions`,
    );
  }
  if (row.tx === catalog.lastTx) {
    // A later transaction past the corruption may have committed before `ms`.
    const corrupt = catalog.corruptionError(`cannot wind to ${given}: transactions after tx ${row.tx} cannot be read`);
    if (corrupt) throw corrupt;
  }
  return row;
}
