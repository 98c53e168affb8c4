// Shared constants of journal format version 1 (docs/journal-format.md).
// The writer and the reader both import this file, and never each other.

export const FORMAT_VERSION = 1;
export const MAGIC = Buffer.from('WNDBKJNL', 'ascii');
export const HEADER_SIZE = 96;
export const FRAME_HEADER_SIZE = 9;
export const MAX_PAYLOAD = 64 * 1024 * 1024;
/**
 * A session's input may nest at most this many levels: the codec (and
 * replay's decoder) recurse once per level. The server refuses deeper inputs
 * on every transport (src/runtime/input-check.ts, and the XML-RPC pre-scan).
 */
export const MAX_INPUT_DEPTH = 512;
export const BATCH_COMMIT_TYPE = 15;
export const BATCH_COMMIT_PAYLOAD_SIZE = 88;
export const BATCH_COMMIT_FRAME_SIZE = FRAME_HEADER_SIZE + BATCH_COMMIT_PAYLOAD_SIZE;
/** Types at or above this must be understood by a reader (section 10). */
export const FIRST_CRITICAL_TYPE = 128;
export const HEAD_SIZE = 32;
export const ZERO_HEAD: Buffer = Buffer.alloc(HEAD_SIZE);
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const SEGMENT_SUFFIX = '.wbj';
export const LOCK_FILE = 'LOCK';
export const FILE_MODE = 0o600;

/** Segment header field offsets. */
export const H = {
  magic: 0,
  version: 8,
  headerSize: 10,
  segment: 12,
  baseOffset: 16,
  nextBatchSeq: 24,
  chainHead: 32,
  journalId: 64,
  createdAt: 80,
  reserved: 88,
  checksum: 92,
} as const;

export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(8, '0')}${SEGMENT_SUFFIX}`;
}

export function parseSegmentFileName(name: string): number | null {
  const match = /^(\d{8})\.wbj$/.exec(name);
  return match ? Number(match[1]) : null;
}
