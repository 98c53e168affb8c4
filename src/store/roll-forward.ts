import type { TxId, WriteTxRecord } from '../model/records.js';
import type { Store } from './types.js';

// Bringing a store forward from the journal: each write transaction after the
// store's last one, in order. Migrations re-run their SQL (and must produce the
// changes they produced when recorded); other transactions apply their row
// changes exactly. Used by the runtime (roll the live file forward) and by
// replay (state as of a transaction).

/** Apply transactions lastAppliedTx+1 .. upTo; `recordOf` reads one from the journal. Returns how many. */
export function rollForward(store: Store, upTo: TxId, recordOf: (tx: TxId) => WriteTxRecord): number {
  let applied = 0;
  for (let tx = store.lastAppliedTx + 1; tx <= upTo; tx++) {
    const record = recordOf(tx);
    if (record.migration !== null) store.applyMigration(tx, record.migration, String(record.result), { expectedChanges: record.changes });
    else store.applyChanges(tx, record.changes);
    applied++;
  }
  return applied;
}
