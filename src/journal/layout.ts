import * as path from 'node:path';
import { CorruptJournalError, EnvironmentError, NotAJournalError } from '../model/errors.js';
import { HEADER_SIZE, parseSegmentFileName } from './constants.js';
import type { FileLayer } from './file-layer.js';
import { decodeSegmentHeader, type SegmentHeader } from './segment-header.js';

// Which segments a journal directory holds, and where each position lives.

export interface SegmentInfo {
  segment: number;
  path: string;
  header: SegmentHeader;
  /** File size in bytes when the layout was read (the last segment may grow, and may end in preallocated space). */
  fileSize: number;
}

/** A segment whose header is unreadable. Only the last one can be a torn tail. */
export interface BadSegment {
  segment: number;
  path: string;
  fileSize: number;
  reason: string;
}

export interface JournalLayout {
  dir: string;
  segments: SegmentInfo[];
  /** A trailing segment with a damaged header, if any (a writer died creating it). */
  tornSegment: BadSegment | null;
}

export function segmentDataEnd(info: SegmentInfo): number {
  return info.header.baseOffset + Math.max(0, info.fileSize - HEADER_SIZE);
}

/**
 * Read the segment headers of a journal directory. Throws NotAJournalError when
 * the directory holds no journal, and CorruptJournalError when a segment other
 * than the last has a bad header or the segments do not line up.
 */
export function readLayout(dir: string, layer: FileLayer): JournalLayout {
  const absolute = path.resolve(dir);
  if (!layer.exists(absolute)) throw new NotAJournalError(`no journal at ${absolute}: the directory does not exist`, absolute);
  let names: string[];
  try {
    names = layer.list(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new NotAJournalError(`no journal at ${absolute}: it is not a directory`, absolute);
    if (code === 'EACCES' || code === 'EPERM') throw new EnvironmentError(`permission denied: cannot list the journal directory ${absolute}`, 'E_PERMISSION', { cause: error });
    throw new NotAJournalError(`no journal at ${absolute}: ${(error as Error).message}`, absolute);
  }
  const numbers = names
    .map((name) => parseSegmentFileName(name))
    .filter((n): n is number => n !== null)
    .sort((a, b) => a - b);
  if (numbers.length === 0) throw new NotAJournalError(`no journal at ${absolute}: it holds no segment files (*.wbj)`, absolute);

  const segments: SegmentInfo[] = [];
  let tornSegment: BadSegment | null = null;
  const headerBuffer = Buffer.alloc(HEADER_SIZE);
  for (let i = 0; i < numbers.length; i++) {
    const segment = numbers[i];
    const file = path.join(absolute, names.find((n) => parseSegmentFileName(n) === segment)!);
    const handle = layer.open(file, 'read');
    let fileSize: number;
    let decoded: SegmentHeader | string;
    try {
      fileSize = handle.size();
      const n = handle.read(headerBuffer, 0, HEADER_SIZE, 0);
      decoded = decodeSegmentHeader(headerBuffer.subarray(0, n));
    } finally {
      handle.close();
    }
    const expectedBase = segments.length > 0 ? segmentDataEnd(segments[segments.length - 1]) : null;
    if (typeof decoded === 'string') {
      if (i === numbers.length - 1 && segments.length > 0) {
        tornSegment = { segment, path: file, fileSize, reason: decoded };
        break;
      }
      // The first segment's records start at position 0.
      throw new CorruptJournalError(`${file}: ${decoded}`, expectedBase ?? 0, file);
    }
    if (decoded.segment !== segment) {
      throw new CorruptJournalError(`${file}: header names segment ${decoded.segment}`, expectedBase, file);
    }
    if (segments.length > 0) {
      const previous = segments[segments.length - 1];
      if (segment !== previous.segment + 1) {
        throw new CorruptJournalError(
          `segment ${previous.segment + 1} is missing between ${previous.path} and ${file}`,
          expectedBase,
          file,
        );
      }
      if (!decoded.journalId.equals(previous.header.journalId)) {
        throw new CorruptJournalError(`${file} belongs to another journal (journal id differs)`, expectedBase, file);
      }
    }
    segments.push({ segment, path: file, header: decoded, fileSize });
  }
  if (segments.length === 0) {
    // Only a torn first segment: a journal whose creation never completed.
    throw new CorruptJournalError(`${tornSegment?.path ?? absolute}: ${tornSegment?.reason ?? 'no readable segment'}`, 0);
  }
  return { dir: absolute, segments, tornSegment };
}

/** The index of the segment holding `position`, or -1 if it precedes the journal. */
export function segmentIndexOf(layout: JournalLayout, position: number): number {
  const { segments } = layout;
  let lo = 0;
  let hi = segments.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid].header.baseOffset <= position) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
