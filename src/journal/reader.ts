import { CorruptJournalError, OutOfRangeError } from '../model/errors.js';
import type { JournalRecord, Position } from '../model/records.js';
import { maskedCrc } from './checksum.js';
import { decodePayload, MalformedPayloadError, UnsupportedRecordError } from './codec.js';
import { FRAME_HEADER_SIZE, HEADER_SIZE, MAX_PAYLOAD } from './constants.js';
import { nodeFileLayer, type FileLayer } from './file-layer.js';
import { readLayout, segmentIndexOf, type JournalLayout } from './layout.js';
import { segmentFileDataEnd } from './preallocated.js';
import { FrameScanner, type Frame, type ScanOptions, type ScanResult } from './scanner.js';

// Reads committed records in position order with constant memory, or one
// record at a known position. Safe while another process appends.

export interface PositionedRecord {
  position: Position;
  size: number;
  record: JournalRecord;
}

export interface ReadOptions extends ScanOptions {
  /** 'throw' (default) raises CorruptJournalError at corruption; 'stop' ends quietly and reports it in the result. */
  onCorruption?: 'throw' | 'stop';
}

export class JournalReader {
  private lastDataEnd: number | null = null;

  private constructor(
    readonly layout: JournalLayout,
    private readonly layer: FileLayer,
  ) {}

  static open(dir: string, layer: FileLayer = nodeFileLayer): JournalReader {
    return new JournalReader(readLayout(dir, layer), layer);
  }

  get dir(): string {
    return this.layout.dir;
  }

  /** Raw frames, batch commits included (see FrameScanner). */
  scanFrames(options: ScanOptions = {}): FrameScanner {
    return new FrameScanner(this.layout, this.layer, options);
  }

  /** Decoded committed records, batch commits included. */
  *records(options: ReadOptions = {}): Generator<PositionedRecord, ScanResult> {
    const scanner = this.scanFrames(options);
    const frames = scanner.frames();
    for (let step = frames.next(); ; step = frames.next()) {
      if (step.done) {
        const result = step.value;
        if (result.corruption && (options.onCorruption ?? 'throw') === 'throw') throw corruptionError(result);
        return result;
      }
      yield { position: step.value.position, size: step.value.size, record: decodeFrame(step.value) };
    }
  }

  /**
   * The record at `position`, which must be the start of a record that an
   * earlier scan (or the catalog) saw as committed.
   */
  readAt(position: Position): PositionedRecord {
    const index = segmentIndexOf(this.layout, position);
    const info = index >= 0 ? this.layout.segments[index] : undefined;
    if (!info || position < 0) throw new OutOfRangeError(`position ${position} is outside the journal`);
    const file = this.layer.open(info.path, 'read');
    try {
      const fileOffset = HEADER_SIZE + (position - info.header.baseOffset);
      const header = Buffer.alloc(FRAME_HEADER_SIZE);
      if (file.read(header, 0, FRAME_HEADER_SIZE, fileOffset) < FRAME_HEADER_SIZE) {
        throw new OutOfRangeError(`position ${position} is past the end of ${info.path}`);
      }
      const length = header.readUInt32LE(4);
      if (length > MAX_PAYLOAD) throw new CorruptJournalError(`no record starts at position ${position} (${info.path})`, position, info.path);
      const frame = Buffer.alloc(FRAME_HEADER_SIZE + length);
      const n = file.read(frame, 0, frame.length, fileOffset);
      if (n < frame.length || frame.readUInt32LE(0) !== maskedCrc(frame.subarray(4))) {
        throw new CorruptJournalError(`no intact record at position ${position} (${info.path}): checksum mismatch`, position, info.path);
      }
      const type = frame[8];
      return {
        position,
        size: frame.length,
        record: decodeFrame({ position, type, payload: frame.subarray(FRAME_HEADER_SIZE), size: frame.length }),
      };
    } finally {
      file.close();
    }
  }

  /** A session's records in order, found by walking `prev` back from its last record. */
  sessionRecords(lastPosition: Position): PositionedRecord[] {
    const out: PositionedRecord[] = [];
    let position: Position | null = lastPosition;
    while (position !== null) {
      const entry = this.readAt(position);
      out.push(entry);
      const prev: Position | null = 'prev' in entry.record ? entry.record.prev : null;
      if (prev !== null && prev >= position) {
        throw new CorruptJournalError(`record at position ${position} points forward to ${prev}`, position);
      }
      position = prev;
    }
    return out.reverse();
  }

  /** Logical end of the bytes present (committed or not), preallocated space excluded; read once. */
  get dataEnd(): number {
    if (this.lastDataEnd === null) {
      const { segments, tornSegment, damage, start } = this.layout;
      const last = segments[segments.length - 1];
      if (last === undefined) {
        this.lastDataEnd = start.position; // no readable segment
      } else {
        // Only the journal's last segment can end in preallocated space.
        const fileEnd = tornSegment || damage ? last.fileSize : segmentFileDataEnd(last.path, this.layer);
        this.lastDataEnd = last.header.baseOffset + (fileEnd - HEADER_SIZE);
      }
    }
    return this.lastDataEnd;
  }
}

export function decodeFrame(frame: Frame): JournalRecord {
  try {
    return decodePayload(frame.type, frame.payload);
  } catch (error) {
    if (error instanceof UnsupportedRecordError) {
      throw new CorruptJournalError(
        `unsupported record type ${error.type} at position ${frame.position}: the journal was written by a newer Windback`,
        frame.position,
      );
    }
    if (error instanceof MalformedPayloadError) {
      throw new CorruptJournalError(`malformed record at position ${frame.position}: ${error.message}`, frame.position);
    }
    throw error;
  }
}

export function corruptionError(result: ScanResult): CorruptJournalError {
  const damage = result.corruption!;
  return new CorruptJournalError(
    `journal is corrupt at position ${damage.position} (${damage.path}): ${damage.reason}`,
    damage.position,
    damage.path,
  );
}

