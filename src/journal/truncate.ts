import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { OutOfRangeError } from '../model/errors.js';
import { HEADER_SIZE, segmentFileName } from './constants.js';
import { nodeFileLayer, type FileLayer } from './file-layer.js';
import { readLayout, segmentIndexOf, type JournalLayout } from './layout.js';
import { segmentFileDataEnd } from './preallocated.js';
import { encodeSegmentHeader } from './segment-header.js';

// `replay repair`: cut a journal at a position chosen by a person after
// reading what would be lost. The caller holds the journal's lock.

export interface Truncation {
  /** The journal's new end. */
  position: number;
  /** The segment file that now ends at `position`. */
  segment: string;
  /** Segment files removed because they lay wholly after `position`. */
  removedSegments: string[];
}

/**
 * Truncate the journal at `position`: the segment holding it is cut there and
 * synced, every later segment (and any segment file past damage in the
 * segment files) is removed, and the directory is synced. `position` should
 * be a batch boundary; anything else leaves an unacknowledged tail.
 *
 * Cutting at the journal's start when its first segment is missing or its
 * header is damaged leaves an empty journal: every segment file is removed
 * and a first segment with a fresh header is written (same journal id when
 * one is readable).
 */
export function truncateJournal(dir: string, position: number, layer: FileLayer = nodeFileLayer, now: () => number = Date.now): Truncation {
  const layout = readLayout(dir, layer);
  if (position === layout.start.position && layout.segments.length === 0) return restart(layout, layer, now);
  let index = segmentIndexOf(layout, position);
  if (index < 0 || position < 0) throw new OutOfRangeError(`position ${position} precedes the journal at ${layout.dir}`);
  // At the very start of a segment, keep the previous one whole and drop this one.
  if (index > 0 && position === layout.segments[index].header.baseOffset) index--;
  const keep = layout.segments[index];
  const length = HEADER_SIZE + (position - keep.header.baseOffset);
  // Preallocated space at the end of the journal's last segment holds no positions.
  const lastOfJournal = index === layout.segments.length - 1 && !layout.tornSegment && !layout.damage;
  const end = lastOfJournal ? segmentFileDataEnd(keep.path, layer) : keep.fileSize;
  if (length > end) throw new OutOfRangeError(`position ${position} is past the end of ${keep.path}`);
  const removedSegments = cutSegments(layout, layer, index, length);
  return { position, segment: path.resolve(keep.path), removedSegments };
}

/**
 * Cut segment `keepIndex` to `fileLength` bytes and sync it, remove every
 * later segment file (readable or not), and sync the directory. Returns the
 * removed files. Shared by recovery and repair.
 */
export function cutSegments(layout: JournalLayout, layer: FileLayer, keepIndex: number, fileLength: number): string[] {
  const file = layer.open(layout.segments[keepIndex].path, 'write');
  try {
    file.truncate(fileLength);
    file.datasyncSync();
  } finally {
    file.close();
  }
  const removed: string[] = [];
  for (const later of [...layout.segments.slice(keepIndex + 1), ...layout.trailing]) {
    layer.remove(later.path);
    removed.push(later.path);
  }
  layer.syncDir(layout.dir);
  return removed;
}

/** No readable segment before the cut: remove every segment file and write an empty first segment. */
function restart(layout: JournalLayout, layer: FileLayer, now: () => number): Truncation {
  const { start } = layout;
  const removed: string[] = [];
  for (const file of layout.trailing) {
    layer.remove(file.path);
    removed.push(file.path);
  }
  layer.syncDir(layout.dir);
  const first = path.join(layout.dir, segmentFileName(start.segment));
  const file = layer.open(first, 'create');
  try {
    const journalId = layout.journalId ?? randomBytes(16);
    file.write(
      encodeSegmentHeader({ segment: start.segment, baseOffset: start.position, nextBatchSeq: start.nextBatchSeq, chainHead: start.chainHead, journalId, createdAt: now() }),
      0,
    );
    file.datasyncSync();
  } finally {
    file.close();
  }
  layer.syncDir(layout.dir);
  // The first segment was rewritten, not removed.
  return { position: start.position, segment: first, removedSegments: removed.filter((f) => f !== first) };
}
