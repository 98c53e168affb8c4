import * as path from 'node:path';
import { EnvironmentError, NotAJournalError } from '../model/errors.js';
import { HEADER_SIZE, ZERO_HEAD, parseSegmentFileName, segmentFileName } from './constants.js';
import type { FileLayer } from './file-layer.js';
import { decodeSegmentHeader, type SegmentHeader } from './segment-header.js';

// Which segments a journal directory holds, and where each position lives.
// Damage to the segment files themselves (a missing segment, an unreadable
// header, a header that does not belong where it is) is located here, at the
// position where the damaged segment's records would start, and reported by
// the scanner like any other damage (docs/journal-format.md, sections 3 and 9).

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

/**
 * Damage in the segment files, at `position`: a missing segment, a damaged
 * header on a segment that is not the last, a header that does not belong
 * where it is. Always corruption: segments after it exist, so the data where
 * it lies was acknowledged (format section 11: a segment is started only after
 * a batch commit). Reading stops there.
 */
export interface LayoutDamage {
  position: number;
  reason: string;
  /** The damaged segment file, or the file name a missing segment would have. */
  path: string;
}

/** Where a journal starts: its first segment, position, batch sequence and chain head. */
export interface JournalStart {
  segment: number;
  position: number;
  nextBatchSeq: number;
  chainHead: Buffer;
}

export interface JournalLayout {
  dir: string;
  /** Where the journal must start (see journalStart). */
  start: JournalStart;
  /** The journal id of the first readable segment header, null when none is readable. */
  journalId: Buffer | null;
  /**
   * The segments from the start whose headers are readable and line up, up to
   * the first damage (`damage`, `tornSegment`). Empty when the first segment
   * is missing or unreadable.
   */
  segments: SegmentInfo[];
  /** A trailing segment with a damaged header, if any (a writer died creating it). */
  tornSegment: BadSegment | null;
  /** Damage in the segment files right after `segments`, if any: the journal is corrupt there. */
  damage: LayoutDamage | null;
  /**
   * The segment files after `segments` (the torn or damaged one, and any
   * after it), in order: what a cut at the end of `segments` removes.
   */
  trailing: { segment: number; path: string; fileSize: number }[];
  /**
   * The segments after `damage`, read as a journal of their own that starts
   * where the first of them says (only to count what lies past the damage, as
   * `replay repair` does), or null.
   */
  beyondDamage: JournalLayout | null;
}

export function segmentDataEnd(info: SegmentInfo): number {
  return info.header.baseOffset + Math.max(0, info.fileSize - HEADER_SIZE);
}

/**
 * Where the journal in `dir` starts. Today every journal starts at segment 1,
 * position 0, batch sequence 1 and the zero chain head (format section 3):
 * segments are never removed, so a journal whose first segment is missing, or
 * whose first header says otherwise, has lost acknowledged data.
 *
 * Seam for retention of old segments (not implemented): a journal that drops
 * segments already covered by a snapshot will start at a later segment, at a
 * position with a chain head and batch sequence recorded durably before the
 * segments are removed. Read that record here and return it; every check
 * below and in the scanner then holds against it unchanged, and the `00000001`
 * file is no longer expected.
 */
export function journalStart(_dir: string, _layer: FileLayer): JournalStart {
  return { segment: 1, position: 0, nextBatchSeq: 1, chainHead: ZERO_HEAD };
}

/**
 * Read the segment headers of a journal directory. Throws NotAJournalError when
 * the directory holds no journal; damage to the segment files is returned in
 * the layout (`damage`, `tornSegment`), located at a position.
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
  const files = names
    .map((name) => ({ segment: parseSegmentFileName(name), name }))
    .filter((f): f is { segment: number; name: string } => f.segment !== null)
    .sort((a, b) => a.segment - b.segment)
    .map((f) => ({ segment: f.segment, path: path.join(absolute, f.name) }));
  if (files.length === 0) throw new NotAJournalError(`no journal at ${absolute}: it holds no segment files (*.wbj)`, absolute);
  return layoutOf(absolute, layer, files, journalStart(absolute, layer));
}

interface HeaderRead {
  segment: number;
  path: string;
  fileSize: number;
  decoded: SegmentHeader | string;
}

function readHeader(layer: FileLayer, file: { segment: number; path: string }): HeaderRead {
  const handle = layer.open(file.path, 'read');
  try {
    const headerBuffer = Buffer.alloc(HEADER_SIZE);
    const fileSize = handle.size();
    const n = handle.read(headerBuffer, 0, HEADER_SIZE, 0);
    return { ...file, fileSize, decoded: decodeSegmentHeader(headerBuffer.subarray(0, n)) };
  } finally {
    handle.close();
  }
}

/**
 * The layout of `files` (sorted by number), which must start at `start`; with
 * `start` null, the first readable header says where they start (used only
 * for the segments past damage).
 */
function layoutOf(dir: string, layer: FileLayer, files: { segment: number; path: string }[], start: JournalStart | null): JournalLayout {
  const segments: SegmentInfo[] = [];
  let tornSegment: BadSegment | null = null;
  let damage: LayoutDamage | null = null;
  let journalId: Buffer | null = null;
  let stoppedAt = files.length; // index of the first file not in `segments`
  let beyondFrom = files.length; // index of the first file past the damage
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const name = path.basename(file.path);
    const previous = segments.length > 0 ? segments[segments.length - 1] : null;
    const expectedSegment = previous ? previous.segment + 1 : (start?.segment ?? file.segment);
    if (file.segment !== expectedSegment) {
      // A gap in the numbering: the segments in it, and their records, are gone.
      const missing = missingNames(expectedSegment, file.segment - 1);
      const position = previous ? segmentDataEnd(previous) : start!.position;
      const where = previous
        ? `between ${path.basename(previous.path)} and ${name}`
        : `: the journal starts in ${segmentFileName(expectedSegment)} at position ${start!.position}, and its first segment file present is ${name}`;
      damage = { position, reason: `${missing} missing${previous ? ' ' : ''}${where}`, path: path.join(dir, segmentFileName(expectedSegment)) };
      stoppedAt = i;
      beyondFrom = i;
      break;
    }
    const read = readHeader(layer, file);
    const decoded = read.decoded;
    const position = previous ? segmentDataEnd(previous) : (start?.position ?? (typeof decoded === 'string' ? 0 : decoded.baseOffset));
    if (typeof decoded === 'string') {
      if (i === files.length - 1) {
        // The last segment: a torn tail when a writer died creating it, or
        // corruption when committed batches follow the header (the scanner decides).
        tornSegment = { segment: file.segment, path: file.path, fileSize: read.fileSize, reason: `${name}: ${decoded}` };
      } else {
        damage = { position, reason: `${name}: ${decoded} (not the last segment: later ones follow)`, path: file.path };
        beyondFrom = i + 1;
      }
      stoppedAt = i;
      break;
    }
    let problem: string | null = null;
    if (decoded.segment !== file.segment) {
      problem = `${name}: its header names segment ${decoded.segment}`;
    } else if (previous && !decoded.journalId.equals(previous.header.journalId)) {
      problem = `${name} belongs to another journal (journal id differs)`;
    } else if (!previous && start && (decoded.baseOffset !== start.position || decoded.nextBatchSeq !== start.nextBatchSeq || !decoded.chainHead.equals(start.chainHead))) {
      // The first segment must say the journal starts where it must start.
      problem = `${name}: its header says the journal starts at position ${decoded.baseOffset}, batch ${decoded.nextBatchSeq}${
        decoded.chainHead.equals(ZERO_HEAD) ? '' : ', with a non-zero chain head'
      }, but it starts at position ${start.position}, batch ${start.nextBatchSeq}${start.chainHead.equals(ZERO_HEAD) ? ', with the zero chain head' : ''}`;
    }
    journalId ??= decoded.journalId;
    if (problem !== null) {
      damage = { position, reason: problem, path: file.path };
      stoppedAt = i;
      // Its records may still be readable as a journal of their own (read from its
      // header); without a required start, that is what was just refused: skip it.
      beyondFrom = start === null && !previous ? i + 1 : i;
      break;
    }
    segments.push({ segment: file.segment, path: file.path, header: decoded, fileSize: read.fileSize });
  }
  const trailing = files.slice(stoppedAt).map((f) => ({ ...f, fileSize: fileSizeOf(layer, f.path) }));
  const beyond = damage !== null && beyondFrom < files.length ? layoutOf(dir, layer, files.slice(beyondFrom), null) : null;
  return {
    dir,
    start: start ?? startOf(segments, files),
    // A header past the damage still names the journal (repair keeps the id when it starts it afresh).
    journalId: journalId ?? beyond?.journalId ?? null,
    segments,
    tornSegment,
    damage,
    trailing,
    beyondDamage: beyond && beyond.segments.length > 0 ? beyond : null,
  };
}

function startOf(segments: SegmentInfo[], files: { segment: number }[]): JournalStart {
  const first = segments[0]?.header;
  return first
    ? { segment: first.segment, position: first.baseOffset, nextBatchSeq: first.nextBatchSeq, chainHead: first.chainHead }
    : { segment: files[0]?.segment ?? 1, position: 0, nextBatchSeq: 1, chainHead: ZERO_HEAD };
}

function fileSizeOf(layer: FileLayer, file: string): number {
  const handle = layer.open(file, 'read');
  try {
    return handle.size();
  } finally {
    handle.close();
  }
}

function missingNames(from: number, to: number): string {
  if (from === to) return `segment file ${segmentFileName(from)} is`;
  return `segment files ${segmentFileName(from)} to ${segmentFileName(to)} are`;
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
