import * as path from 'node:path';
import { OutOfRangeError } from '../model/errors.js';
import { HEADER_SIZE } from './constants.js';
import { nodeFileLayer, type FileLayer } from './file-layer.js';
import { readLayout, segmentIndexOf, type JournalLayout } from './layout.js';
import { segmentFileDataEnd } from './preallocated.js';

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
 * synced, every later segment (and a trailing one with a damaged header) is
 * removed, and the directory is synced. `position` should be a batch
 * boundary; anything else leaves an unacknowledged tail.
 */
export function truncateJournal(dir: string, position: number, layer: FileLayer = nodeFileLayer): Truncation {
  const layout = readLayout(dir, layer);
  let index = segmentIndexOf(layout, position);
  if (index < 0 || position < 0) throw new OutOfRangeError(`position ${position} precedes the journal at ${layout.dir}`);
  // At the very start of a segment, keep the previous one whole and drop this one.
  if (index > 0 && position === layout.segments[index].header.baseOffset) index--;
  const keep = layout.segments[index];
  const length = HEADER_SIZE + (position - keep.header.baseOffset);
  // Preallocated space at the end of the last segment holds no positions.
  const end = index === layout.segments.length - 1 && !layout.tornSegment ? segmentFileDataEnd(keep.path, layer) : keep.fileSize;
  if (length > end) throw new OutOfRangeError(`position ${position} is past the end of ${keep.path}`);
  const removedSegments = cutSegments(layout, layer, index, length);
  return { position, segment: path.resolve(keep.path), removedSegments };
}

/**
 * Cut segment `keepIndex` to `fileLength` bytes and sync it, remove every
 * later segment (and a trailing one with a damaged header), and sync the
 * directory. Returns the removed files. Shared by recovery and repair.
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
  for (const later of layout.segments.slice(keepIndex + 1)) {
    layer.remove(later.path);
    removed.push(later.path);
  }
  if (layout.tornSegment) {
    layer.remove(layout.tornSegment.path);
    removed.push(layout.tornSegment.path);
  }
  layer.syncDir(layout.dir);
  return removed;
}
