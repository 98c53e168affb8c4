import * as fs from 'node:fs';
import * as path from 'node:path';
import { CATALOG_FILE } from '../catalog/index.js';
import { UsageError } from '../model/errors.js';
import { RECORD_TYPE, sessionOf, type Position, type TxId } from '../model/records.js';
import {
  BATCH_COMMIT_FRAME_SIZE,
  BATCH_COMMIT_TYPE,
  HEADER_SIZE,
  JournalReader,
  decodeFrame,
  nodeFileLayer,
  segmentIndexOf,
  truncateJournal,
  type Damage,
  type Frame,
  type ScanResult,
} from '../journal/index.js';
import { acquireLock } from '../journal/lock.js';
import { findCommitFrame } from '../journal/scanner.js';
import { parseWholeNumber } from './time.js';

// `replay repair --truncate-at <position>`: say what cutting the journal there
// would lose, and cut it only when asked (--yes) and no writer holds it.

export interface RepairOptions {
  journal: string;
  /** A record position the scan reached, the committed end, or the damage position. */
  truncateAt: number | string;
  /** Really truncate; without it nothing changes. */
  yes?: boolean;
}

export interface RepairDamage {
  kind: 'corruption' | 'torn-tail';
  position: Position;
  reason: string;
  path: string;
}

export interface RepairLoss {
  /** Records at or after the new end that can still be read (batch commits excluded). */
  records: number;
  /** Sessions with at least one of those records. */
  sessions: number;
  /** Write transactions among them, and their id range. */
  transactions: number;
  firstTx: TxId | null;
  lastTx: TxId | null;
  /** Every byte after the new end. */
  bytes: number;
  /** Of those, bytes no intact record covers (the damage, an unsynced tail). */
  unreadableBytes: number;
}

export interface RepairResult {
  journal: string;
  /** The position asked for. */
  truncateAt: Position;
  /** Where the journal ends after the cut: truncateAt, or the start of the batch holding it (batches are cut whole). */
  newEnd: Position;
  /** The first damage in the journal, if any. */
  damage: RepairDamage | null;
  lost: RepairLoss;
  /** True once the journal was cut (only with --yes, and only if there was anything to cut). */
  truncated: boolean;
  removedSegments: string[];
}

const WRITE_TX = RECORD_TYPE['write-tx'];

export function repair(options: RepairOptions): RepairResult {
  const truncateAt = parseWholeNumber(options.truncateAt, '--truncate-at', 'a journal position (a whole number)');
  const dir = JournalReader.open(options.journal).dir;
  // Hold the lock from the survey to the cut, so no writer appends in between.
  const release = options.yes ? acquireLock(dir) : null;
  try {
    const reader = JournalReader.open(dir);
    const { newEnd, scan } = locate(reader, truncateAt);
    const damage = damageOf(scan);
    const lost = survey(reader, newEnd);
    const result: RepairResult = {
      journal: reader.dir,
      truncateAt,
      newEnd,
      damage,
      lost,
      truncated: false,
      removedSegments: [],
    };
    if (options.yes && lost.bytes > 0) {
      const cut = truncateJournal(dir, newEnd);
      result.truncated = true;
      result.removedSegments = cut.removedSegments;
      // The catalog indexed what is gone; the next command rebuilds it.
      for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(path.join(dir, CATALOG_FILE + suffix), { force: true });
    }
    return result;
  } finally {
    release?.();
  }
}

/** Check that `position` is a boundary the scan reached; the new end is the start of its batch. */
function locate(reader: JournalReader, position: number): { newEnd: number; scan: ScanResult } {
  const frames = reader.scanFrames({ verifyChain: true }).frames();
  let batchStart = reader.layout.segments[0].header.baseOffset;
  let newEnd: number | null = null;
  let step = frames.next();
  for (; !step.done; step = frames.next()) {
    const frame = step.value;
    if (frame.position === position) newEnd = batchStart;
    if (frame.type === BATCH_COMMIT_TYPE) batchStart = frame.position + frame.size;
  }
  const scan = step.value;
  const damage = scan.corruption ?? scan.tail;
  if (newEnd === null && (position === scan.committedEnd || (damage !== null && position === damage.position))) {
    newEnd = scan.committedEnd;
  }
  if (newEnd === null) {
    const where = damage
      ? `the damage at position ${damage.position}`
      : `the committed end, ${scan.committedEnd}`;
    throw new UsageError(
      `position ${position} is not a record boundary the scan reached: give the position of a readable record (see 'replay info'), ${where}${
        damage && damage.position !== scan.committedEnd ? `, or the committed end, ${scan.committedEnd}` : ''
      }`,
    );
  }
  return { newEnd, scan };
}

function damageOf(scan: ScanResult): RepairDamage | null {
  const d: Damage | null = scan.corruption ?? scan.tail;
  if (!d) return null;
  return { kind: scan.corruption ? 'corruption' : 'torn-tail', position: d.position, reason: d.reason, path: d.path };
}

/** What lies after `from`: the records still readable (resyncing past corruption at the next intact batch commit), and the bytes. */
function survey(reader: JournalReader, from: number): RepairLoss {
  const layout = reader.layout;
  const end = reader.dataEnd + (layout.tornSegment ? layout.tornSegment.fileSize : 0);
  const sessions = new Set<number>();
  let records = 0;
  let readable = 0;
  let transactions = 0;
  let firstTx: number | null = null;
  let lastTx: number | null = null;
  let start: number | null = from;
  while (start !== null && start < reader.dataEnd) {
    const frames: Generator<Frame, ScanResult> = reader.scanFrames({ from: start }).frames();
    let step: IteratorResult<Frame, ScanResult> = frames.next();
    for (; !step.done; step = frames.next()) {
      const frame = step.value;
      readable += frame.size;
      if (frame.type === BATCH_COMMIT_TYPE) continue;
      records++;
      try {
        const record = decodeFrame(frame);
        const session = sessionOf(record);
        if (session !== null) sessions.add(session);
        if (frame.type === WRITE_TX && record.kind === 'write-tx') {
          transactions++;
          const tx = Number(record.tx);
          firstTx = firstTx === null ? tx : Math.min(firstTx, tx);
          lastTx = lastTx === null ? tx : Math.max(lastTx, tx);
        }
      } catch {
        // A malformed payload: counted as a record, nothing more to learn.
      }
    }
    const scan: ScanResult = step.value;
    start = scan.corruption ? nextBatchAfter(reader, scan.corruption.position) : null;
  }
  const bytes = Math.max(0, end - from);
  return { records, sessions: sessions.size, transactions, firstTx, lastTx, bytes, unreadableBytes: Math.max(0, bytes - readable) };
}

/** The position just after the first intact batch commit that starts after `position`, or null. */
function nextBatchAfter(reader: JournalReader, position: number): number | null {
  const { segments } = reader.layout;
  const first = Math.max(0, segmentIndexOf(reader.layout, position));
  for (let s = first; s < segments.length; s++) {
    const info = segments[s];
    const fromOffset = s === first ? HEADER_SIZE + (position - info.header.baseOffset) + 1 : HEADER_SIZE;
    const file = nodeFileLayer.open(info.path, 'read');
    let offset: number;
    try {
      offset = findCommitFrame(file, fromOffset);
    } finally {
      file.close();
    }
    if (offset >= 0) return info.header.baseOffset + (offset - HEADER_SIZE) + BATCH_COMMIT_FRAME_SIZE;
  }
  return null;
}
