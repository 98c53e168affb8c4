import { BATCH_COMMIT_FRAME_SIZE, BATCH_COMMIT_PAYLOAD_SIZE, BATCH_COMMIT_TYPE, HEADER_SIZE } from './constants.js';
import { maskedCrcOf } from './checksum.js';
import type { FileLayer, JournalFile } from './file-layer.js';

// Preallocated space (docs/journal-format.md, section 9): a writer keeps zeros
// ahead of its write position in the last segment, so that a batch's
// fdatasync overwrites blocks already allocated and synced. Readers must tell
// those zeros apart from journal bytes.

/** The unit in which a disk loses writes: a lost write reads back as zeros up to a multiple of it. */
export const SECTOR_SIZE = 512;

const BLOCK = 64 * 1024;
/**
 * Shared zeros, never written to: the writer pwrites pieces of this size (a
 * piece holds the inode lock, and a batch waiting for it, only briefly).
 */
export const ZEROS: Buffer = Buffer.alloc(256 * 1024);

/**
 * The file offset just past the last non-zero byte at or after `from`, or
 * `from` when everything from there to the end of the file is zero. Reads
 * backwards from the end, so a long zero run costs one memcmp per block.
 */
export function contentEnd(file: JournalFile, from: number, size: number = file.size()): number {
  const block = Buffer.allocUnsafe(BLOCK);
  let end = size;
  while (end > from) {
    const start = Math.max(from, end - BLOCK);
    const n = readFully(file, block, end - start, start);
    if (n < end - start) {
      // The file shrank while we read it (a writer cut its preallocated space): only what is there counts.
      end = start + n;
      continue;
    }
    if (!block.subarray(0, n).equals(ZEROS.subarray(0, n))) {
      let i = n - 1;
      while (block[i] === 0) i--;
      return start + i + 1;
    }
    end = start;
  }
  return from;
}

/**
 * Where a segment's data ends, preallocated space excluded, when no scan has
 * found its committed end: past the last non-zero byte, or past a batch commit
 * whose own last bytes happen to be zero (its `head` may end in zero bytes).
 */
export function dataEndOf(file: JournalFile): number {
  const size = file.size();
  const end = Math.max(HEADER_SIZE, contentEnd(file, HEADER_SIZE, size));
  const frame = Buffer.alloc(BATCH_COMMIT_FRAME_SIZE);
  for (let zeros = 1; zeros < BATCH_COMMIT_FRAME_SIZE && end + zeros <= size; zeros++) {
    const start = end + zeros - BATCH_COMMIT_FRAME_SIZE;
    if (start < HEADER_SIZE) continue;
    if (readFully(file, frame, BATCH_COMMIT_FRAME_SIZE, start) < BATCH_COMMIT_FRAME_SIZE) break;
    if (isCommitFrame(frame, 0)) return end + zeros;
  }
  return end;
}

/** `dataEndOf` for a segment file given by path. */
export function segmentFileDataEnd(path: string, layer: FileLayer): number {
  const file = layer.open(path, 'read');
  try {
    return dataEndOf(file);
  } finally {
    file.close();
  }
}

/**
 * True when damage at file offset `start` (a record spanning to `end`) looks
 * like a lost write: some sector it overlaps holds only zeros from the
 * record's start, or from the sector's start, to the sector's end. A power
 * loss can keep later sectors of preallocated space and lose earlier ones,
 * which then read back as the zeros that were there before.
 */
export function lostWriteAt(file: JournalFile, start: number, end: number): boolean {
  const first = Math.floor(start / SECTOR_SIZE) * SECTOR_SIZE;
  const buf = Buffer.allocUnsafe(BLOCK);
  for (let at = first; at < end; at += BLOCK) {
    const n = readFully(file, buf, BLOCK, at);
    for (let sector = 0; sector + SECTOR_SIZE <= n && at + sector < end; sector += SECTOR_SIZE) {
      const from = Math.max(0, start - (at + sector));
      if (buf.subarray(sector + from, sector + SECTOR_SIZE).equals(ZEROS.subarray(0, SECTOR_SIZE - from))) return true;
    }
    if (n < BLOCK) {
      // The end of the file inside a sector: zeros up to there count as that sector's.
      const sector = n - (n % SECTOR_SIZE);
      const from = Math.max(sector, start - at);
      if (n > from && at + sector < end && buf.subarray(from, n).equals(ZEROS.subarray(0, n - from))) return true;
      break;
    }
  }
  return false;
}

export function isCommitFrame(buf: Buffer, at: number): boolean {
  return (
    buf[at + 8] === BATCH_COMMIT_TYPE &&
    buf.readUInt32LE(at + 4) === BATCH_COMMIT_PAYLOAD_SIZE &&
    buf.readUInt32LE(at) === maskedCrcOf(buf, at + 4, at + BATCH_COMMIT_FRAME_SIZE)
  );
}

export function readFully(file: JournalFile, into: Buffer, length: number, position: number, offset = 0): number {
  let total = 0;
  while (total < length) {
    const n = file.read(into, offset + total, length - total, position + total);
    if (n === 0) break;
    total += n;
  }
  return total;
}
