import { createHash } from 'node:crypto';
import {
  BATCH_COMMIT_FRAME_SIZE,
  BATCH_COMMIT_PAYLOAD_SIZE,
  BATCH_COMMIT_TYPE,
  FRAME_HEADER_SIZE,
  HEADER_SIZE,
  HEAD_SIZE,
  MAX_PAYLOAD,
} from './constants.js';
import { maskedCrcOf } from './checksum.js';
import type { FileLayer, JournalFile } from './file-layer.js';
import { segmentIndexOf, type JournalLayout } from './layout.js';
import { contentEnd, lostWriteAt, readFully } from './preallocated.js';

// Walks the frames of a journal in position order, yields only those covered
// by an intact batch commit, and classifies the first damage it meets as an
// unsynced tail or as corruption (docs/journal-format.md, section 9). Zeros at
// the end of the last segment are preallocated space, not journal bytes.

export interface Frame {
  position: number;
  type: number;
  /** Valid only until the next frame is requested. */
  payload: Buffer;
  /** Header plus payload. */
  size: number;
}

export interface Damage {
  /** Logical position of the first damaged byte or record. */
  position: number;
  reason: string;
  path: string;
}

export interface ScanResult {
  /** Position just past the last intact batch commit. */
  committedEnd: number;
  /** Logical end of all the bytes present, preallocated space (format section 9) excluded. */
  dataEnd: number;
  /** Bytes after committedEnd that were never acknowledged (0 when corrupt). */
  tailBytes: number;
  /** Why the tail ends where it does, when there is a tail. */
  tail: Damage | null;
  /** Damage inside acknowledged data: the scan stopped there. */
  corruption: Damage | null;
  records: number;
  batches: number;
  /** `seq` of the last intact batch commit, 0 if none. */
  lastSeq: number;
  /** `head` of the last intact batch commit (or the start head). */
  chainHead: Buffer;
}

export interface ScanOptions {
  /** A batch boundary to start from; default 0, the start of the journal. */
  from?: number;
  /** Recompute every batch's SHA-256 head (what `audit` and `info` do). */
  verifyChain?: boolean;
  /** Bytes read per I/O; grows when one batch is larger. */
  chunkSize?: number;
}

const DEFAULT_CHUNK = 1 << 20;
/**
 * How often the end of the last segment is read again because its bytes
 * changed under the scan (a writer appending). A journal nobody writes never
 * changes, so running out of them means a live writer: what it writes is a tail.
 */
const MAX_REREADS = 16;

export class FrameScanner {
  result: ScanResult | null = null;

  constructor(
    private readonly layout: JournalLayout,
    private readonly layer: FileLayer,
    private readonly options: ScanOptions = {},
  ) {}

  *frames(): Generator<Frame, ScanResult> {
    const { layout, layer } = this;
    const from = this.options.from ?? layout.start.position;
    const verifyChain = this.options.verifyChain ?? false;
    let segmentIndex = segmentIndexOf(layout, from);
    if (segmentIndex < 0) segmentIndex = 0;
    // No readable segment (the first one is missing or its header is damaged):
    // the journal's start says where the chain begins.
    const first =
      layout.segments[segmentIndex]?.header ?? { baseOffset: layout.start.position, nextBatchSeq: layout.start.nextBatchSeq, chainHead: layout.start.chainHead };
    const startsAtSegment = from === first.baseOffset;
    // Chain state: known exactly when starting at a segment boundary.
    let expectedSeq: number | null = startsAtSegment ? first.nextBatchSeq : null;
    let chainHead: Buffer = startsAtSegment ? first.chainHead : Buffer.alloc(HEAD_SIZE);
    let headKnown = startsAtSegment;

    let records = 0;
    let batches = 0;
    let lastSeq = startsAtSegment ? first.nextBatchSeq - 1 : 0;
    let committedEnd = from;
    let damage: Damage | null = null;
    let semanticDamage = false;
    let dataEnd = from;

    let buf = Buffer.allocUnsafe(this.options.chunkSize ?? DEFAULT_CHUNK);
    // Where in buf each frame of the uncommitted batch starts; its type and
    // size are read back from buf, which keeps the batch until it is emitted.
    const pending: number[] = [];

    for (; segmentIndex < layout.segments.length && damage === null; segmentIndex++) {
      const info = layout.segments[segmentIndex];
      const header = info.header;
      const firstSegment = position0Of(from, header.baseOffset);
      const position0 = firstSegment ? from : header.baseOffset;
      if (!firstSegment) {
        // Crossing into a new segment: it must continue where the last one ended.
        if (committedEnd !== header.baseOffset || dataEnd !== header.baseOffset) {
          damage = {
            position: committedEnd,
            reason: `segment ${header.segment} starts at position ${header.baseOffset}, but the previous segment ends at ${dataEnd}${
              dataEnd !== committedEnd ? ' with an uncommitted batch' : ''
            }`,
            path: info.path,
          };
          break;
        }
        if ((expectedSeq !== null && header.nextBatchSeq !== expectedSeq) || (headKnown && !header.chainHead.equals(chainHead))) {
          damage = {
            position: header.baseOffset,
            reason: `segment ${header.segment} header does not continue the batch chain`,
            path: info.path,
          };
          semanticDamage = true;
          break;
        }
      }

      const file = layer.open(info.path, 'read');
      try {
        // bufPos: logical position of buf[0]; filled: bytes valid in buf.
        let bufPos = position0;
        let filled = 0;
        let cursor = 0;
        let batchStart = 0; // index in buf of the current batch's first byte
        let fileOffset = HEADER_SIZE + (position0 - header.baseOffset);
        let eof = false;
        pending.length = 0;

        const refill = (): void => {
          // Keep the uncommitted batch; drop what was already emitted.
          if (batchStart > 0) {
            buf.copy(buf, 0, batchStart, filled);
            filled -= batchStart;
            cursor -= batchStart;
            bufPos += batchStart;
            for (let i = 0; i < pending.length; i++) pending[i] -= batchStart;
            batchStart = 0;
          }
          if (filled === buf.length) {
            const bigger = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(bigger, 0, 0, filled);
            buf = bigger;
          }
          const n = readFully(file, buf, buf.length - filled, fileOffset, filled);
          if (n === 0) eof = true;
          filled += n;
          fileOffset += n;
          dataEnd = Math.max(dataEnd, bufPos + filled);
        };

        refill();
        // The last segment of the journal: it alone may end in a tail or preallocated space.
        const isLast = segmentIndex === layout.segments.length - 1 && layout.tornSegment === null && layout.damage === null;
        let rereads = 0;
        /** A writer got to the frame that failed since it was read: read on from it, afresh. */
        const readOnFrom = (offset: number): void => {
          rereads++;
          damage = null;
          filled = cursor;
          // What was read past the cursor is dropped, and so is where it ended:
          // the writer may have cut those bytes (preallocated zeros) since.
          dataEnd = bufPos + cursor;
          fileOffset = offset;
          eof = false;
          refill();
        };
        segmentEnd: for (;;) {
          parse: while (true) {
            const available = filled - cursor;
            if (available < FRAME_HEADER_SIZE) {
              if (eof) break;
              refill();
              continue;
            }
            const position = bufPos + cursor;
            const length = buf.readUInt32LE(cursor + 4);
            const type = buf[cursor + 8];
            if (type === 0 || length > MAX_PAYLOAD) {
              damage = {
                position,
                reason: type === 0 ? 'record type 0 (zeroed or garbage bytes)' : `record length ${length} exceeds the maximum`,
                path: info.path,
              };
              break;
            }
            const size = FRAME_HEADER_SIZE + length;
            if (available < size) {
              if (eof) break;
              refill();
              continue;
            }
            const stored = buf.readUInt32LE(cursor);
            if (stored !== maskedCrcOf(buf, cursor + 4, cursor + size)) {
              damage = { position, reason: 'checksum mismatch', path: info.path };
              break;
            }
            if (type !== BATCH_COMMIT_TYPE) {
              pending.push(cursor);
              cursor += size;
              continue;
            }
            // A batch commit: check it against the batch it closes.
            const problem = checkCommit(buf, cursor, length, pending, batchStart, expectedSeq, headKnown ? chainHead : null);
            if (problem !== null) {
              damage = { position, reason: problem, path: info.path };
              semanticDamage = true;
              break;
            }
            const payloadAt = cursor + FRAME_HEADER_SIZE;
            const seq = Number(buf.readBigUInt64LE(payloadAt));
            const prevHead = buf.subarray(payloadAt + 24, payloadAt + 24 + HEAD_SIZE);
            const head = buf.subarray(payloadAt + 24 + HEAD_SIZE, payloadAt + 24 + 2 * HEAD_SIZE);
            if (verifyChain) {
              const computed = batchHead(prevHead, seq, buf.subarray(batchStart, cursor));
              if (!computed.equals(head)) {
                damage = {
                  position: bufPos + batchStart,
                  reason: `batch ${seq} does not match its hash: bytes between positions ${bufPos + batchStart} and ${position} were altered`,
                  path: info.path,
                };
                semanticDamage = true;
                break parse;
              }
            }
            for (let i = 0; i < pending.length; i++) {
              const index = pending[i];
              const frameSize = FRAME_HEADER_SIZE + buf.readUInt32LE(index + 4);
              yield { position: bufPos + index, type: buf[index + 8], payload: buf.subarray(index + FRAME_HEADER_SIZE, index + frameSize), size: frameSize };
            }
            records += pending.length;
            pending.length = 0;
            yield { position, type, payload: buf.subarray(payloadAt, cursor + size), size };
            batches++;
            lastSeq = seq;
            expectedSeq = seq + 1;
            chainHead = Buffer.from(head);
            headKnown = true;
            cursor += size;
            batchStart = cursor;
            committedEnd = bufPos + cursor;
          }
          if (isLast && !semanticDamage && (damage !== null || committedEnd < bufPos + filled)) {
            // The end of the last segment: preallocated space, an unsynced tail,
            // a batch a live writer is writing, or corruption.
            const at = bufPos + cursor;
            const atOffset = HEADER_SIZE + (at - header.baseOffset);
            const span = frameSpan(buf, cursor, filled);
            if (rereads < MAX_REREADS && changedUnder(file, buf, cursor, filled, eof, atOffset, span)) {
              // A writer got there since: read on from the frame that failed.
              readOnFrom(atOffset);
              continue segmentEnd;
            }
            const committedOffset = HEADER_SIZE + (committedEnd - header.baseOffset);
            const end = contentEnd(file, committedOffset);
            const failed = damage !== null || filled - cursor > 0; // not just records awaiting their commit
            if (
              failed &&
              end > atOffset + 1 &&
              rereads < MAX_REREADS &&
              !lostWriteAt(file, atOffset, Math.min(end, atOffset + span)) &&
              this.intactCommitIn(info.path, atOffset + 1, end + BATCH_COMMIT_FRAME_SIZE)
            ) {
              // A batch commit after the damage: a writer that wrote the frame
              // (in file order, so before that commit) since it was read? Look again.
              if (changedUnder(file, buf, cursor, filled, eof, atOffset, span)) {
                readOnFrom(atOffset);
                continue segmentEnd;
              }
              // Corruption: acknowledged data follows, and no lost write explains the damage.
              damage ??= {
                position: at,
                reason: `torn record at position ${at}, followed by batch commits in segment ${header.segment}`,
                path: info.path,
              };
              break segmentEnd;
            }
            dataEnd = committedEnd + (end - committedOffset);
            if (dataEnd === committedEnd) {
              damage = null; // only preallocated space after the last batch commit
              break segmentEnd;
            }
            const tail: Damage =
              damage !== null && end > atOffset
                ? damage
                : {
                    position: committedEnd,
                    reason: damage === null && filled - cursor > 0 ? 'torn record at the end' : 'records with no batch commit after them',
                    path: info.path,
                  };
            this.result = this.finish(committedEnd, dataEnd, tail, null, records, batches, lastSeq, chainHead);
            return this.result;
          }
          if (damage !== null) {
            const afterDamage = HEADER_SIZE + (damage.position - header.baseOffset) + 1;
            if (semanticDamage || this.intactCommitAfter(segmentIndex, afterDamage)) break;
            // Nothing acknowledged follows: the damage is the start of the tail.
            this.result = this.finish(committedEnd, dataEnd, damage, null, records, batches, lastSeq, chainHead);
            return this.result;
          }
          if (committedEnd < bufPos + filled) {
            // Bytes after the last commit of this segment: a tail if nothing follows.
            const tailStart = committedEnd;
            const tailDamage: Damage = {
              position: tailStart,
              reason: filled - cursor > 0 ? 'torn record at the end' : 'records with no batch commit after them',
              path: info.path,
            };
            if (this.intactCommitAfter(segmentIndex, HEADER_SIZE + (tailStart - header.baseOffset) + 1)) {
              // Acknowledged data follows. A torn record is the first record that fails a
              // check (its length runs past the segment's end), so the damage is there.
              damage = {
                ...tailDamage,
                position: filled - cursor > 0 ? bufPos + cursor : tailStart,
                reason: `${tailDamage.reason} of segment ${header.segment}, followed by more segments`,
              };
              break;
            }
            this.result = this.finish(committedEnd, dataEnd, tailDamage, null, records, batches, lastSeq, chainHead);
            return this.result;
          }
          break;
        }
      } finally {
        file.close();
      }
    }

    if (damage === null && layout.damage !== null) {
      // Damage in the segment files (format section 3): a missing segment, a damaged
      // header followed by more segments. Everything before it was read intact.
      damage = { ...layout.damage };
    }
    if (damage !== null) {
      this.result = this.finish(committedEnd, dataEnd, null, damage, records, batches, lastSeq, chainHead);
      return this.result;
    }
    const torn = layout.tornSegment;
    if (torn && this.tornSegmentHoldsCommits()) {
      // A damaged header in front of committed batches is damage inside acknowledged data.
      const corruption: Damage = { position: committedEnd, reason: `${torn.reason}, but the segment holds committed batches`, path: torn.path };
      this.result = this.finish(committedEnd, dataEnd, null, corruption, records, batches, lastSeq, chainHead);
      return this.result;
    }
    const tail: Damage | null = torn ? { position: committedEnd, reason: torn.reason, path: torn.path } : null;
    this.result = this.finish(committedEnd, dataEnd + (torn ? torn.fileSize : 0), tail, null, records, batches, lastSeq, chainHead);
    return this.result;
  }

  private finish(
    committedEnd: number,
    dataEnd: number,
    tail: Damage | null,
    corruption: Damage | null,
    records: number,
    batches: number,
    lastSeq: number,
    chainHead: Buffer,
  ): ScanResult {
    return {
      committedEnd,
      dataEnd,
      tailBytes: corruption ? 0 : Math.max(0, dataEnd - committedEnd),
      tail: corruption ? null : tail,
      corruption,
      records,
      batches,
      lastSeq,
      chainHead,
    };
  }

  /** True if an intact batch-commit frame starts anywhere after `fileOffset` (a trailing segment with a damaged header included). */
  private intactCommitAfter(segmentIndex: number, fileOffset: number): boolean {
    const { segments, tornSegment, damage } = this.layout;
    for (let s = segmentIndex; s < segments.length; s++) {
      if (this.intactCommitIn(segments[s].path, s === segmentIndex ? fileOffset : HEADER_SIZE)) return true;
    }
    // Damage in the segment files means more segments follow: acknowledged data.
    if (damage !== null) return true;
    return tornSegment !== null && this.tornSegmentHoldsCommits();
  }

  /**
   * Does the trailing segment with a damaged header hold batch commits that
   * were acknowledged? Not when its header was lost to zeros: a segment's
   * header is synced before any batch in it is acknowledged, so a lost header
   * means its creation never became durable (format section 9).
   */
  private tornSegmentHoldsCommits(): boolean {
    const torn = this.layout.tornSegment!;
    const file = this.layer.open(torn.path, 'read');
    try {
      return !lostWriteAt(file, 0, HEADER_SIZE) && findCommitFrame(file, 0) >= 0;
    } finally {
      file.close();
    }
  }

  /** A commit frame is looked for up to file offset `until` (a zero-filled end holds none). */
  private intactCommitIn(path: string, fileOffset: number, until?: number): boolean {
    const file = this.layer.open(path, 'read');
    try {
      return findCommitFrame(file, fileOffset, until) >= 0;
    } finally {
      file.close();
    }
  }
}

/** Bytes the frame at `cursor` claims: header and payload, or just the header when that is garbage. */
function frameSpan(buf: Buffer, cursor: number, filled: number): number {
  if (filled - cursor < FRAME_HEADER_SIZE) return FRAME_HEADER_SIZE;
  const length = buf.readUInt32LE(cursor + 4);
  return buf[cursor + 8] === 0 || length > MAX_PAYLOAD ? FRAME_HEADER_SIZE : FRAME_HEADER_SIZE + length;
}

/**
 * Did the bytes of the frame at `cursor` change since they were read, or did
 * the file grow past where the read found its end? Only a writer appending
 * does that; a journal at rest never changes under a reader.
 */
function changedUnder(file: JournalFile, buf: Buffer, cursor: number, filled: number, eof: boolean, atOffset: number, span: number): boolean {
  const seen = buf.subarray(cursor, Math.min(filled, cursor + span));
  const length = Math.min(Math.max(span, FRAME_HEADER_SIZE), Math.max(seen.length, 1 << 16));
  const now = Buffer.allocUnsafe(length);
  const n = readFully(file, now, length, atOffset);
  if (n < seen.length || !now.subarray(0, seen.length).equals(seen)) return true;
  return eof && cursor + seen.length === filled && n > seen.length;
}

/** The first segment scanned starts at `from`; later ones at their base. */
function position0Of(from: number, baseOffset: number): boolean {
  return from >= baseOffset;
}

function checkCommit(
  buf: Buffer,
  cursor: number,
  length: number,
  pending: number[],
  batchStart: number,
  expectedSeq: number | null,
  chainHead: Buffer | null,
): string | null {
  if (length !== BATCH_COMMIT_PAYLOAD_SIZE) return `batch commit payload is ${length} bytes, expected ${BATCH_COMMIT_PAYLOAD_SIZE}`;
  const at = cursor + FRAME_HEADER_SIZE;
  const seq = Number(buf.readBigUInt64LE(at));
  const count = buf.readUInt32LE(at + 8);
  const bytes = buf.readUInt32LE(at + 12);
  if (expectedSeq !== null && seq !== expectedSeq) return `batch commit has seq ${seq}, expected ${expectedSeq}`;
  // Starting mid-journal the first batch may be partial; only check full ones.
  if (expectedSeq !== null || chainHead !== null) {
    if (count !== pending.length || bytes !== cursor - batchStart) {
      return `batch ${seq} commit says ${count} records in ${bytes} bytes, but the batch holds ${pending.length} in ${cursor - batchStart}`;
    }
  }
  if (chainHead !== null && !chainHead.equals(buf.subarray(at + 24, at + 24 + HEAD_SIZE))) {
    return `batch ${seq} does not continue the hash chain (prevHead differs)`;
  }
  return null;
}

export function batchHead(prevHead: Uint8Array, seq: number, batchBytes: Uint8Array): Buffer {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64LE(BigInt(seq));
  return createHash('sha256').update(prevHead).update(seqBytes).update(batchBytes).digest();
}

/** File offset of the first intact batch-commit frame at or after `from` (and ending by `until`), or -1. */
export function findCommitFrame(file: JournalFile, from: number, until?: number): number {
  const size = Math.min(file.size(), until ?? Number.POSITIVE_INFINITY);
  const chunk = Buffer.allocUnsafe(Math.max(1 << 20, BATCH_COMMIT_FRAME_SIZE * 2));
  let offset = from;
  while (offset + BATCH_COMMIT_FRAME_SIZE <= size) {
    const n = readFully(file, chunk, Math.min(chunk.length, size - offset), offset);
    const last = n - BATCH_COMMIT_FRAME_SIZE;
    for (let i = 0; i <= last; i++) {
      if (chunk[i + 8] !== BATCH_COMMIT_TYPE || chunk.readUInt32LE(i + 4) !== BATCH_COMMIT_PAYLOAD_SIZE) continue;
      if (chunk.readUInt32LE(i) === maskedCrcOf(chunk, i + 4, i + BATCH_COMMIT_FRAME_SIZE)) return offset + i;
    }
    if (n < chunk.length) break;
    offset += last + 1;
  }
  return -1;
}
