
import { RECORD_TYPE, type SnapshotRecord, type SnapshotRemovedRecord, type WriteTxRecord } from '../model/records.js';
import { FORMAT_VERSION, JournalReader, decodeFrame } from '../journal/index.js';
import { latestIntactSnapshot } from '../store/index.js';

// `replay info`: what a journal holds and whether it is intact. It verifies
// every checksum and the hash chain itself; nothing is taken from a cache.
// Of the database snapshots it checks the one a rebuild would start from
// (and any later ones it would pass over), by the hashes their records hold.

export type Integrity = 'ok' | 'torn-tail' | 'corrupt';

export interface InfoOptions {
  journal: string;
}

export interface InfoResult {
  journal: string;
  formatVersion: number;
  /** Committed records, batch commits excluded. */
  records: number;
  batches: number;
  /** Logical bytes present, segment headers excluded (the committed end plus any tail). */
  bytes: number;
  segments: number;
  sessions: number;
  openSessions: number;
  /** Write transactions only; null when there are none. */
  transactions: { first: number | null; last: number | null };
  integrity: Integrity;
  /** First damaged position (the corruption, or the start of a torn tail), else null. */
  firstBadOffset: number | null;
  tornTailBytes: number;
  damage: string | null;
  /** Head of the last intact batch commit, 64 lowercase hex digits. */
  chainHead: string;
  snapshots: SnapshotsInfo;
}

export interface SnapshotsInfo {
  /** Snapshot records in the journal whose files were not removed since. */
  count: number;
  /** Snapshots whose removal is journaled (retention, docs/server.md "Snapshots"). */
  removed: number;
  /** The latest snapshot whose file is there with its recorded bytes: where a rebuild of the last state starts (null: from an empty database). */
  intact: { tx: number; file: string; bytes: number } | null;
  /** Later snapshots that a rebuild passes over, latest first, with why. */
  passedOver: { tx: number; file: string; why: string }[];
}

const SESSION_START = RECORD_TYPE['session-start'];
const SESSION_END = RECORD_TYPE['session-end'];
const WRITE_TX = RECORD_TYPE['write-tx'];
const SNAPSHOT = RECORD_TYPE.snapshot;
const SNAPSHOT_REMOVED = RECORD_TYPE['snapshot-removed'];

export function info(options: InfoOptions): InfoResult {
  const reader = JournalReader.open(options.journal);
  let sessions = 0;
  let ended = 0;
  let firstTx: number | null = null;
  let lastTxPosition: number | null = null;
  const snapshots: SnapshotRecord[] = [];
  const removals: SnapshotRemovedRecord[] = [];
  const frames = reader.scanFrames({ verifyChain: true }).frames();
  let step = frames.next();
  for (; !step.done; step = frames.next()) {
    const frame = step.value;
    if (frame.type === SESSION_START) sessions++;
    else if (frame.type === SESSION_END) ended++;
    else if (frame.type === WRITE_TX) {
      if (firstTx === null) firstTx = (decodeFrame(frame) as WriteTxRecord).tx;
      lastTxPosition = frame.position;
    } else if (frame.type === SNAPSHOT) snapshots.push(decodeFrame(frame) as SnapshotRecord);
    else if (frame.type === SNAPSHOT_REMOVED) removals.push(decodeFrame(frame) as SnapshotRemovedRecord);
  }
  const scan = step.value;
  const lastTx = lastTxPosition === null ? null : (reader.readAt(lastTxPosition).record as WriteTxRecord).tx;
  const integrity: Integrity = scan.corruption ? 'corrupt' : scan.tailBytes > 0 || scan.tail ? 'torn-tail' : 'ok';
  const damage = scan.corruption ?? scan.tail;
  return {
    journal: reader.dir,
    formatVersion: FORMAT_VERSION,
    records: scan.records,
    batches: scan.batches,
    bytes: scan.committedEnd + scan.tailBytes,
    segments: reader.layout.segments.length + reader.layout.trailing.length,
    sessions,
    openSessions: sessions - ended,
    transactions: { first: firstTx, last: lastTx },
    integrity,
    firstBadOffset: damage ? damage.position : null,
    tornTailBytes: scan.tailBytes,
    damage: damage ? `${damage.reason} (${damage.path})` : null,
    chainHead: scan.chainHead.toString('hex'),
    snapshots: snapshotsInfo(reader.dir, snapshots, removals, lastTx ?? 0),
  };
}

function snapshotsInfo(dir: string, all: SnapshotRecord[], removals: SnapshotRemovedRecord[], lastTx: number): SnapshotsInfo {
  // A removal names the snapshot it removes (its file and transaction), which precedes it in the journal.
  const removedKeys = new Set(removals.map((r) => `${r.tx} ${r.file}`));
  const kept = all.filter((s) => !removedKeys.has(`${s.tx} ${s.file}`));
  const removed = all.length - kept.length;
  const { intact, passedOver } = latestIntactSnapshot(dir, kept, lastTx);
  return {
    count: kept.length,
    removed,
    intact: intact === null ? null : { tx: intact.snapshot.tx, file: intact.snapshot.file, bytes: intact.snapshot.bytes },
    passedOver: passedOver.map((p) => ({ tx: p.snapshot.tx, file: p.snapshot.file, why: p.why })),
  };
}

