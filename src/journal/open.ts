import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { CorruptJournalError, EnvironmentError, NotAJournalError } from '../model/errors.js';
import type { Durability } from '../model/records.js';
import { DEFAULT_SEGMENT_BYTES, HEADER_SIZE, ZERO_HEAD, parseSegmentFileName, segmentFileName } from './constants.js';
import { nodeFileLayer, NotADirectoryError, type FileLayer } from './file-layer.js';
import { readLayout, segmentIndexOf, type JournalLayout } from './layout.js';
import { acquireLock } from './lock.js';
import { lostWriteAt } from './preallocated.js';
import { FrameScanner, findCommitFrame, type ScanResult } from './scanner.js';
import { decodeSegmentHeader, encodeSegmentHeader } from './segment-header.js';
import { cutSegments } from './truncate.js';
import { JournalWriter, preallocationStep } from './writer.js';

// Opening a journal for appending: take the lock, recover the unsynced tail
// (or refuse on corruption), then hand the writer its starting state.

/** Zeros kept ahead of the write position, in steps of this size (chosen with bench/journal-append.ts). */
export const DEFAULT_PREALLOCATE_BYTES = 1024 * 1024;
/**
 * Syncs on the event loop cost two thread hand-offs less, but stop the server
 * for as long as they take: worth it only while they take well under a
 * millisecond (a cached or battery-backed disk, not a network volume).
 */
export const DEFAULT_INLINE_SYNC_LIMIT_MICROS = 1000;

export interface OpenWriterOptions {
  durability?: Durability;
  /** Rotate to a new segment once one reaches this many bytes (default 64 MiB). */
  segmentBytes?: number;
  /** Seal a batch early once it holds this many bytes (default 1 MiB). */
  maxBatchBytes?: number;
  /**
   * Keep this many bytes of zeros, written and synced, ahead of the write
   * position (default 1 MiB; 0 disables). Only under `batch` and `always`, and
   * only when a segment holds at least this many bytes.
   */
  preallocateBytes?: number;
  /** Preallocate the next step once the write position is this close to the end of the zeros (default: half a step). */
  preallocateAhead?: number;
  /**
   * Under `batch`, run a group commit's fdatasync on the event loop when no
   * other sync is in flight (default true); false keeps every sync on the
   * thread pool, so that the event loop never waits for the disk.
   */
  inlineSync?: boolean;
  /**
   * With inlineSync, the event loop syncs only while the recent fdatasyncs
   * averaged at most this many microseconds (default 1000); above it, syncs
   * go to the thread pool until they average under half of it.
   */
  inlineSyncLimitMicros?: number;
  layer?: FileLayer;
  now?: () => number;
}

export interface Recovery {
  /** Bytes of unsynced tail that were cut off. */
  truncatedBytes: number;
  /** Why the tail ended, when there was one. */
  reason: string | null;
  /** Segment files removed because they held only tail. */
  removedSegments: string[];
  created: boolean;
}

export interface OpenedWriter {
  writer: JournalWriter;
  recovery: Recovery;
}

export async function openJournalWriter(dir: string, options: OpenWriterOptions = {}): Promise<OpenedWriter> {
  const layer = options.layer ?? nodeFileLayer;
  const now = options.now ?? Date.now;
  const absolute = path.resolve(dir);
  try {
    layer.mkdir(absolute);
  } catch (error) {
    throw directoryError(error, absolute);
  }
  const release = acquireLock(absolute);
  try {
    const settings = {
      dir: absolute,
      layer,
      durability: options.durability ?? 'batch',
      segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      maxBatchBytes: options.maxBatchBytes ?? 1 << 20,
      preallocateBytes: options.preallocateBytes ?? DEFAULT_PREALLOCATE_BYTES,
      preallocateAhead: options.preallocateAhead ?? (options.preallocateBytes ?? DEFAULT_PREALLOCATE_BYTES) / 2,
      inlineSync: options.inlineSync ?? true,
      inlineSyncLimitMicros: options.inlineSyncLimitMicros ?? DEFAULT_INLINE_SYNC_LIMIT_MICROS,
      now,
      onClose: release,
    };
    let layout: JournalLayout | null;
    let tornCreation: Recovery | null = null;
    try {
      layout = readLayout(absolute, layer);
    } catch (error) {
      if (!(error instanceof NotAJournalError)) throw error;
      layout = null;
    }
    if (layout !== null && layout.segments.length === 0 && layout.damage === null) {
      // Only a first segment with a damaged header: its creation never completed,
      // unless committed batches follow the header (the scan below reports that).
      tornCreation = removeTornFirstSegment(absolute, layer);
      if (tornCreation !== null) layout = null;
    }
    if (layout === null) {
      const journalId = randomBytes(16);
      const segmentFile = layer.open(path.join(absolute, segmentFileName(1)), 'create');
      segmentFile.write(
        encodeSegmentHeader({ segment: 1, baseOffset: 0, nextBatchSeq: 1, chainHead: ZERO_HEAD, journalId, createdAt: now() }),
        0,
      );
      const writer = new JournalWriter({
        ...settings,
        journalId,
        segment: 1,
        segmentFile,
        segmentSize: HEADER_SIZE,
        preallocatedEnd: HEADER_SIZE,
        nextPosition: 0,
        nextSeq: 1,
        chainHead: ZERO_HEAD,
        segmentDirty: true,
      });
      return { writer, recovery: tornCreation ?? { truncatedBytes: 0, reason: null, removedSegments: [], created: true } };
    }

    const scan = scanTail(layout, layer);
    if (scan.corruption) {
      const { position, reason, path: file } = scan.corruption;
      throw new CorruptJournalError(
        `journal is corrupt at position ${position} (${file}): ${reason}; see what would be lost with 'replay repair --truncate-at ${position}'`,
        position,
        file,
      );
    }
    const recovery = cutTail(layout, layer, scan);
    const fresh = readLayout(absolute, layer);
    const last = fresh.segments[fresh.segments.length - 1];
    // The scan found only zeros after the committed end (preallocated space,
    // format section 9), or cutTail cut there: the data ends at the committed end.
    const dataSize = HEADER_SIZE + (scan.committedEnd - last.header.baseOffset);
    if (dataSize < HEADER_SIZE || dataSize > last.fileSize) {
      throw new Error(`internal error: the committed end ${scan.committedEnd} is not in the last segment ${last.path}`);
    }
    if (last.fileSize > dataSize && preallocationStep(settings.durability, settings.preallocateBytes, settings.segmentBytes) === 0) {
      cutPreallocatedSpace(last.path, layer, dataSize);
    }
    // Zeros kept are synced here, and so reusable as preallocated space.
    syncSegments(fresh, layer);
    const segmentFile = layer.open(last.path, 'write');
    const writer = new JournalWriter({
      ...settings,
      journalId: last.header.journalId,
      segment: last.segment,
      segmentFile,
      segmentSize: dataSize,
      preallocatedEnd: segmentFile.size(),
      nextPosition: scan.committedEnd,
      nextSeq: scan.lastSeq + 1,
      chainHead: scan.chainHead,
      segmentDirty: false,
    });
    return { writer, recovery };
  } catch (error) {
    release();
    throw environmentError(error, absolute);
  }
}

/**
 * A journal whose creation never completed (a crash or power loss before its
 * first sync): its only segment, number 1, has no valid header and holds no
 * batch commit, or its header was lost to zeros (format section 9). That
 * segment is a torn tail (format section 3): remove it, so that the journal
 * is created afresh. Returns null for anything else.
 */
function removeTornFirstSegment(dir: string, layer: FileLayer): Recovery | null {
  const names = layer.list(dir).filter((name) => parseSegmentFileName(name) !== null);
  if (names.length !== 1 || parseSegmentFileName(names[0]) !== 1) return null;
  const file = path.join(dir, names[0]);
  const handle = layer.open(file, 'read');
  let size: number;
  let reason: string;
  try {
    size = handle.size();
    const header = Buffer.alloc(HEADER_SIZE);
    const decoded = decodeSegmentHeader(header.subarray(0, handle.read(header, 0, HEADER_SIZE, 0)));
    // Commits behind a header lost to zeros were never acknowledged: the header is synced first.
    if (typeof decoded !== 'string' || (findCommitFrame(handle, 0) >= 0 && !lostWriteAt(handle, 0, HEADER_SIZE))) return null;
    reason = decoded;
  } finally {
    handle.close();
  }
  layer.remove(file);
  layer.syncDir(dir);
  return { truncatedBytes: size, reason, removedSegments: [file], created: true };
}

/** A writer that will not preallocate leaves no zeros behind it to rotate away from. */
function cutPreallocatedSpace(file: string, layer: FileLayer, dataSize: number): void {
  const handle = layer.open(file, 'write');
  try {
    handle.truncate(dataSize);
  } finally {
    handle.close();
  }
}

/**
 * Make every segment and the directory durable. A writer that crashed (or ran
 * with durability `none`) may have left committed batches, whole segments and
 * their directory entries in the page cache only; what is acknowledged from
 * now on must not rest on them.
 */
function syncSegments(layout: JournalLayout, layer: FileLayer): void {
  for (const segment of layout.segments) {
    const file = layer.open(segment.path, 'write');
    try {
      file.datasyncSync();
    } finally {
      file.close();
    }
  }
  layer.syncDir(layout.dir);
}

/** Scan the last two segments, which hold everything a crash can have left unsynced. */
function scanTail(layout: JournalLayout, layer: FileLayer): ScanResult {
  const first = Math.max(0, layout.segments.length - 2);
  const from = layout.segments[first]?.header.baseOffset ?? layout.start.position;
  const scanner = new FrameScanner(layout, layer, { from, verifyChain: true });
  const frames = scanner.frames();
  let step = frames.next();
  while (!step.done) step = frames.next();
  return step.value;
}

/** Truncate the unsynced tail and remove segments that held nothing else. */
export function cutTail(layout: JournalLayout, layer: FileLayer, scan: ScanResult): Recovery {
  if (scan.tailBytes === 0 && layout.trailing.length === 0) {
    return { truncatedBytes: 0, reason: null, removedSegments: [], created: false };
  }
  const keepIndex = Math.max(0, segmentIndexOf(layout, scan.committedEnd));
  const keep = layout.segments[keepIndex];
  const removedSegments = cutSegments(layout, layer, keepIndex, HEADER_SIZE + (scan.committedEnd - keep.header.baseOffset));
  return { truncatedBytes: scan.tailBytes, reason: scan.tail?.reason ?? null, removedSegments, created: false };
}

/** Why the journal directory could not be made: one line naming the path, exit 74. */
function directoryError(error: unknown, dir: string): unknown {
  if (error instanceof NotADirectoryError) {
    const what = error.path === dir ? 'it' : `${error.path}, on its path,`;
    return new EnvironmentError(`cannot create the journal directory ${dir}: ${what} exists and is not a directory`, 'E_NOT_A_DIRECTORY', { cause: error });
  }
  const mapped = environmentError(error, dir);
  if (mapped !== error) return mapped;
  // It cannot be made there (ENOENT where nothing can be created, as under /proc): the error names the level.
  if (typeof (error as NodeJS.ErrnoException)?.code === 'string') {
    return new EnvironmentError(`cannot create the journal directory ${dir}: ${(error as Error).message}`, 'E_CREATE', { cause: error });
  }
  return error;
}

function environmentError(error: unknown, dir: string): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM') return new EnvironmentError(`permission denied: ${dir}`, 'E_PERMISSION', { cause: error });
  if (code === 'ENOSPC') return new EnvironmentError(`disk full: ${dir}`, 'E_DISK_FULL', { cause: error });
  if (code === 'EROFS') return new EnvironmentError(`read-only file system: ${dir}`, 'E_READ_ONLY', { cause: error });
  return error;
}
