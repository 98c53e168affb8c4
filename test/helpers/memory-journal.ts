import * as path from 'node:path';
import { JournalReader, openJournalWriter, type PositionedRecord } from '../../src/journal/index.js';
import type { JournalLayout } from '../../src/journal/layout.js';
import type { AppendableRecord, Durability, UnknownRecord } from '../../src/model/records.js';
import { appendOne, readAll, type Appended } from './journal.js';
import { PowerLossFs } from './power-loss-layer.js';

// Builds small journals in a PowerLossFs, for tests that damage them byte by
// byte thousands of times (bit flips, truncations, garbage). The LOCK file
// still goes to the real directory `dir`, which must exist.

export const FIXED_NOW = 1_700_000_000_000;

export interface MemoryJournal {
  dir: string;
  fs: PowerLossFs;
  appended: Appended[];
  /** Every committed record, batch commits included, as a reader sees it. */
  frames: PositionedRecord[];
  layout: JournalLayout;
}

/** Write `batches`, one batch each (flush after each), and close. */
export async function buildMemoryJournal(
  dir: string,
  batches: (AppendableRecord | UnknownRecord)[][],
  options: { segmentBytes: number; durability?: Durability; fs?: PowerLossFs } = { segmentBytes: 1 << 20 },
): Promise<MemoryJournal> {
  const fs = options.fs ?? new PowerLossFs();
  fs.mkdir(dir);
  const { writer } = await openJournalWriter(dir, {
    layer: fs.view(),
    segmentBytes: options.segmentBytes,
    maxBatchBytes: 1 << 30,
    durability: options.durability ?? 'batch',
    now: () => FIXED_NOW,
  });
  const appended: Appended[] = [];
  for (const batch of batches) {
    for (const record of batch) appended.push({ position: appendOne(writer, record).position, record });
    await writer.flush();
  }
  await writer.close();
  return describe(dir, fs, appended);
}

export function describe(dir: string, fs: PowerLossFs, appended: Appended[]): MemoryJournal {
  const { records } = readAll(dir, fs.view(), { verifyChain: true });
  return { dir, fs, appended, frames: records, layout: JournalReader.open(dir, fs.view()).layout };
}

export interface Place {
  file: string;
  /** Segment index in the layout. */
  index: number;
  offset: number;
  /** Logical position, or null inside the segment header. */
  position: number | null;
}

export function placeOf(layout: JournalLayout, file: string, offset: number): Place {
  const index = layout.segments.findIndex((s) => path.basename(s.path) === file);
  const base = layout.segments[index].header.baseOffset;
  return { file, index, offset, position: offset < 96 ? null : base + offset - 96 };
}

/** The frame (record or batch commit) holding `position`. */
export function frameAt(frames: PositionedRecord[], position: number): PositionedRecord {
  const frame = frames.find((f) => f.position <= position && position < f.position + f.size);
  if (!frame) throw new Error(`no frame holds position ${position}`);
  return frame;
}

/** Position where the last batch starts (just after the previous batch commit). */
export function lastBatchStart(frames: PositionedRecord[]): number {
  const commits = frames.filter((f) => f.record.kind === 'batch-commit');
  const previous = commits[commits.length - 2];
  return previous ? previous.position + previous.size : 0;
}
