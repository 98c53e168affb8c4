import * as fs from 'node:fs';
import * as path from 'node:path';
import { CATALOG_FILE } from '../catalog/index.js';
import { UsageError } from '../model/errors.js';
import { RECORD_TYPE, sessionOf, type Position, type TxId } from '../model/records.js';
import {
  BATCH_COMMIT_FRAME_SIZE,
  BATCH_COMMIT_TYPE,
  FRAME_HEADER_SIZE,
  FrameScanner,
  HEADER_SIZE,
  JournalReader,
  MAX_PAYLOAD,
  decodeFrame,
  maskedCrc,
  nodeFileLayer,
  segmentIndexOf,
  truncateJournal,
  type Damage,
  type Frame,
  type JournalLayout,
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
  let batchStart = reader.layout.start.position;
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
      `position ${position} is not a record boundary the scan reached: give the position of a readable record ('replay show <session> --json' lists them), ${where}${
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

/**
 * What lies after `from`: every record that can still be read there, and the
 * bytes. Past corruption, the records of the damaged batch that are still
 * intact count too (a cut loses them with the batch), and reading resumes
 * after that batch's commit, or at the next intact batch commit; past damage
 * in the segment files, the segments after it are read as far as they go.
 */
function survey(reader: JournalReader, from: number): RepairLoss {
  const tally = new Tally();
  let bytes = Math.max(0, reader.dataEnd - from);
  let layout: JournalLayout | null = reader.layout;
  let start: number | null = from;
  while (layout !== null) {
    while (start !== null && start < dataEndOf(layout, reader)) {
      const frames: Generator<Frame, ScanResult> = new FrameScanner(layout, nodeFileLayer, { from: start }).frames();
      let step: IteratorResult<Frame, ScanResult> = frames.next();
      for (; !step.done; step = frames.next()) tally.add(step.value);
      const scan: ScanResult = step.value;
      const corruption = scan.corruption;
      if (corruption === null || corruption === layout.damage || isLayoutDamage(corruption, layout)) break;
      start = damagedBatch(layout, scan.committedEnd, tally);
    }
    // Past damage in the segment files: the segment files after it.
    for (const file of layout.trailing) bytes += file.fileSize;
    layout = layout.beyondDamage;
    start = layout?.start.position ?? null;
  }
  return { ...tally.loss(), bytes, unreadableBytes: Math.max(0, bytes - tally.readable) };
}

class Tally {
  readonly sessions = new Set<number>();
  records = 0;
  readable = 0;
  transactions = 0;
  firstTx: number | null = null;
  lastTx: number | null = null;

  add(frame: Frame): void {
    this.readable += frame.size;
    if (frame.type === BATCH_COMMIT_TYPE) return;
    this.records++;
    try {
      const record = decodeFrame(frame);
      const session = sessionOf(record);
      if (session !== null) this.sessions.add(session);
      if (frame.type === WRITE_TX && record.kind === 'write-tx') {
        this.transactions++;
        const tx = Number(record.tx);
        this.firstTx = this.firstTx === null ? tx : Math.min(this.firstTx, tx);
        this.lastTx = this.lastTx === null ? tx : Math.max(this.lastTx, tx);
      }
    } catch {
      // A malformed payload: counted as a record, nothing more to learn.
    }
  }

  loss(): Omit<RepairLoss, 'bytes' | 'unreadableBytes'> {
    return { records: this.records, sessions: this.sessions.size, transactions: this.transactions, firstTx: this.firstTx, lastTx: this.lastTx };
  }
}

function isLayoutDamage(damage: Damage, layout: JournalLayout): boolean {
  return layout.damage !== null && damage.position === layout.damage.position && damage.path === layout.damage.path && damage.reason === layout.damage.reason;
}

function dataEndOf(layout: JournalLayout, reader: JournalReader): number {
  if (layout === reader.layout) return reader.dataEnd;
  const last = layout.segments[layout.segments.length - 1];
  return last ? last.header.baseOffset + Math.max(0, last.fileSize - HEADER_SIZE) : layout.start.position;
}

/**
 * The batch at `batchStart` holds damage: tally its frames that are still
 * intact (a frame whose checksum fails but whose length fits its segment is
 * stepped over), up to its batch commit. Returns where reading resumes: after
 * that commit, or after the next intact batch commit when the framing is
 * lost; null when none follows.
 */
function damagedBatch(layout: JournalLayout, batchStart: number, tally: Tally): number | null {
  const index = segmentIndexOf(layout, batchStart);
  if (index < 0) return null;
  const info = layout.segments[index];
  const file = nodeFileLayer.open(info.path, 'read');
  try {
    const size = file.size();
    let offset = HEADER_SIZE + (batchStart - info.header.baseOffset);
    const header = Buffer.alloc(FRAME_HEADER_SIZE);
    while (offset + FRAME_HEADER_SIZE <= size) {
      if (file.read(header, 0, FRAME_HEADER_SIZE, offset) < FRAME_HEADER_SIZE) break;
      const length = header.readUInt32LE(4);
      const type = header[8];
      if (type === 0 || length > MAX_PAYLOAD || offset + FRAME_HEADER_SIZE + length > size) break; // the framing is lost
      const frame = Buffer.alloc(FRAME_HEADER_SIZE + length);
      if (file.read(frame, 0, frame.length, offset) < frame.length) break;
      const position = info.header.baseOffset + (offset - HEADER_SIZE);
      offset += frame.length;
      if (frame.readUInt32LE(0) !== maskedCrc(frame.subarray(4))) continue; // the damaged record itself
      tally.add({ position, type, payload: frame.subarray(FRAME_HEADER_SIZE), size: frame.length });
      if (type === BATCH_COMMIT_TYPE) return position + frame.length;
    }
    return nextBatchAfter(layout, info.header.baseOffset + (offset - HEADER_SIZE));
  } finally {
    file.close();
  }
}

/** The position just after the first intact batch commit that starts at or after `position`, or null. */
function nextBatchAfter(layout: JournalLayout, position: number): number | null {
  const { segments } = layout;
  const first = Math.max(0, segmentIndexOf(layout, position));
  for (let s = first; s < segments.length; s++) {
    const info = segments[s];
    const fromOffset = s === first ? HEADER_SIZE + Math.max(0, position - info.header.baseOffset) : HEADER_SIZE;
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
