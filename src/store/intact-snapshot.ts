import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TxId } from '../model/records.js';
import { sha256OfFileSync } from './files.js';

// Which snapshot to start a state from. The runtime (rebuilding its live
// database) and replay (a state as of a transaction) both use this one rule:
// the latest snapshot at or before the transaction whose file is there and
// whose bytes match the SHA-256 its record holds. A missing or damaged
// snapshot is passed over, never trusted and never fatal: the journal alone
// can rebuild any state, and a snapshot only makes that cheaper.

/** A snapshot as the journal recorded it; `file` is relative to the journal directory. */
export interface RecordedSnapshot {
  tx: TxId;
  file: string;
  sha256: string;
}

export interface PassedOverSnapshot<S extends RecordedSnapshot = RecordedSnapshot> {
  snapshot: S;
  /** One line: why it was not used. */
  why: string;
}

export interface IntactSnapshot<S extends RecordedSnapshot = RecordedSnapshot> {
  snapshot: S;
  /** Its absolute path. */
  path: string;
  /** Its bytes, when asked for (`read: true`), so that they are read once. */
  bytes: Buffer | null;
}

export interface SnapshotChoice<S extends RecordedSnapshot = RecordedSnapshot> {
  /** The snapshot to start from, or null: start from an empty database. */
  intact: IntactSnapshot<S> | null;
  /** Later snapshots that were passed over, latest first. */
  passedOver: PassedOverSnapshot<S>[];
}

export function latestIntactSnapshot<S extends RecordedSnapshot>(
  journalDir: string,
  snapshots: readonly S[],
  atOrBefore: TxId,
  options: { read?: boolean } = {},
): SnapshotChoice<S> {
  const candidates = snapshots.filter((s) => s.tx <= atOrBefore).sort((a, b) => b.tx - a.tx);
  const passedOver: PassedOverSnapshot<S>[] = [];
  for (const snapshot of candidates) {
    const file = path.join(journalDir, snapshot.file);
    let bytes: Buffer | null = null;
    let actual: string;
    try {
      if (options.read) {
        bytes = fs.readFileSync(file);
        actual = createHash('sha256').update(bytes).digest('hex');
      } else {
        actual = sha256OfFileSync(file);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      passedOver.push({ snapshot, why: code === 'ENOENT' ? 'its file is missing' : `its file cannot be read: ${(error as Error).message}` });
      continue;
    }
    if (actual !== snapshot.sha256.toLowerCase()) {
      passedOver.push({ snapshot, why: `its bytes have SHA-256 ${actual}, but ${snapshot.sha256.toLowerCase()} was recorded` });
      continue;
    }
    return { intact: { snapshot, path: file, bytes }, passedOver };
  }
  return { intact: null, passedOver };
}
