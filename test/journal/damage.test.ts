import * as path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { JournalReader, maskedCrc, openJournalWriter } from '../../src/journal/index.js';
import { CorruptJournalError } from '../../src/model/errors.js';
import type { AppendableRecord } from '../../src/model/records.js';
import { Rng, anyRecord, plain } from '../helpers/arbitraries.js';
import { appendAll, expectPrefixOf, expectSameRecords, readAll, readOutcome, rejection, size, tempDirs, withoutCommits, type ReadOutcome } from '../helpers/journal.js';
import { FIXED_NOW, buildMemoryJournal, describe as describeJournal, frameAt, lastBatchStart, placeOf, type MemoryJournal } from '../helpers/memory-journal.js';
import type { PowerLossFs } from '../helpers/power-loss-layer.js';

// Damage to a committed journal, byte by byte, in the manner of LevelDB's
// log_test: flip a bit, cut the file short, overwrite with garbage, fix up a
// checksum. Section 9 of the format decides what each must look like:
// damage followed by an intact batch commit is corruption (exit 3, at the
// damaged record's position); damage with nothing acknowledged after it is
// an unsynced tail that a reader stops before and a writer cuts off.

const tmp = tempDirs();

function records(seed: number, n: number): AppendableRecord[] {
  return fc.sample(anyRecord, { seed, numRuns: n });
}

/** Batches of 1 to 4 records; the last batch opens the last segment. */
async function journalWithLastBatchOpeningASegment(dir: string, seed: number): Promise<MemoryJournal> {
  const recs = records(seed, 24);
  const batches: AppendableRecord[][] = [];
  for (let i = 0; i < 20; ) {
    const n = 1 + (i % 4);
    batches.push(recs.slice(i, i + n));
    i += n;
  }
  // A batch bigger than a segment: the writer rotates right after it, so the
  // next (last) batch is the first one of a new segment.
  batches.push([{ kind: 'response', session: 1, prev: null, at: FIXED_NOW, status: 200, headers: {}, body: new Uint8Array(700) }]);
  batches.push(recs.slice(20, 24));
  return buildMemoryJournal(dir, batches, { segmentBytes: 700 });
}

/** Batches of 1 to 3 records in segments of several batches; the last batch follows others in its segment. */
async function journalWithLastBatchMidSegment(dir: string, seed: number): Promise<MemoryJournal> {
  // Record sizes depend on the generators; take the first seed from `seed` on
  // whose layout has the premise, so that generator changes do not break it.
  for (let attempt = 0; attempt < 64; attempt++) {
    const recs = records(seed + attempt * 1000, 20);
    const batches: AppendableRecord[][] = [];
    for (let i = 0; i < recs.length; ) {
      const n = 1 + (i % 3);
      batches.push(recs.slice(i, i + n));
      i += n;
    }
    const journal = await buildMemoryJournal(dir, batches, { segmentBytes: 900 });
    const last = journal.layout.segments[journal.layout.segments.length - 1];
    // The premise: the last segment holds more than one batch.
    if (journal.frames.filter((f) => f.record.kind === 'batch-commit' && f.position >= last.header.baseOffset).length > 1) return journal;
  }
  throw new Error(`no seed from ${seed} gives a last segment with several batches`);
}

/** What a reader returned must be an unaltered prefix of the committed records. */
function expectUnalteredPrefix(outcome: ReadOutcome, journal: MemoryJournal): void {
  expectPrefixOf(outcome.records, journal.frames);
}

function lastFile(journal: MemoryJournal): string {
  return path.basename(journal.layout.segments[journal.layout.segments.length - 1].path);
}

function flip(fs: PowerLossFs, file: string, offset: number, bit: number): void {
  const bytes = fs.readFile(file);
  bytes[offset] ^= 1 << bit;
  fs.writeFile(file, bytes);
}

describe('a bit flip anywhere in a committed journal is detected', () => {
  let journal: MemoryJournal;
  beforeAll(async () => {
    journal = await journalWithLastBatchMidSegment(tmp('flip'), 3);
  });

  it('the journal under test spans several segments and batches', () => {
    expect(journal.layout.segments.length).toBeGreaterThanOrEqual(3);
    expect(journal.frames.filter((f) => f.record.kind === 'batch-commit').length).toBeGreaterThanOrEqual(8);
  });

  it('a flipped bit is corruption at the damaged record, or a torn tail when it is in the last batch commit', () => {
    const { fs, dir, layout, frames } = journal;
    const lastCommit = frames[frames.length - 1];
    const tailStart = lastBatchStart(frames);
    const rng = new Rng(7);
    let checked = 0;
    for (const [name, content] of fs.files(dir)) {
      if (!name.endsWith('.wbj')) continue;
      const file = path.join(dir, name);
      for (let offset = 0; offset < content.length; offset++) {
        const bits = size(0, 1) ? [0, 1, 2, 3, 4, 5, 6, 7] : [rng.int(0, 7)];
        for (const bit of bits) {
          flip(fs, file, offset, bit);
          const outcome = readOutcome(dir, fs.view(), { chunkSize: 512, verifyChain: bit % 2 === 0 });
          flip(fs, file, offset, bit);
          const where = `${name} offset ${offset} bit ${bit}`;
          expectUnalteredPrefix(outcome, journal);
          const place = placeOf(layout, name, offset);
          if (place.position === null) {
            // A segment header: its checksum fails; the segment holds committed data.
            expect(outcome.error, where).toBeInstanceOf(CorruptJournalError);
            expect((outcome.error as CorruptJournalError).offset, where).toBe(layout.segments[place.index].header.baseOffset);
          } else if (place.position >= lastCommit.position) {
            // The last batch commit: the last batch was never acknowledged as far as anyone can tell.
            expect(outcome.error, where).toBeNull();
            expect(outcome.result!.corruption, where).toBeNull();
            expect(outcome.result!.committedEnd, where).toBe(tailStart);
            // Up to the last non-zero byte: zeros at the end of the last segment are preallocated space.
            const flipped = Buffer.from(content);
            flipped[offset] ^= 1 << bit;
            let end = flipped.length;
            while (flipped[end - 1] === 0) end--;
            expect(outcome.result!.tailBytes, where).toBe(end - 96 - (tailStart - layout.segments[place.index].header.baseOffset));
            expect(outcome.records.length, where).toBe(frames.findIndex((f) => f.position === tailStart));
          } else {
            expect(outcome.error, where).toBeInstanceOf(CorruptJournalError);
            expect((outcome.error as CorruptJournalError).exitCode).toBe(3);
            expect((outcome.error as CorruptJournalError).offset, where).toBe(frameAt(frames, place.position).position);
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(2000);
  });

  it('a writer refuses to open a journal with a flipped bit before its last batch commit', async () => {
    const { fs, dir, layout, frames } = journal;
    const lastCommit = frames[frames.length - 1];
    const rng = new Rng(8);
    // The writer verifies the last two segments (section 9).
    const scanned = layout.segments.slice(-2);
    for (let trial = 0; trial < size(40, 400); trial++) {
      const segment = rng.pick(scanned);
      const name = path.basename(segment.path);
      const end = Math.min(segment.fileSize, 96 + lastCommit.position - segment.header.baseOffset);
      const offset = rng.int(0, end - 1);
      const bit = rng.int(0, 7);
      flip(fs, segment.path, offset, bit);
      const before = fs.files(dir);
      const error = await rejection(openJournalWriter(dir, { layer: fs.view() }));
      expect(fs.files(dir)).toEqual(before); // nothing was cut off
      flip(fs, segment.path, offset, bit);
      const place = placeOf(layout, name, offset);
      expect(error, `${name} offset ${offset}`).toBeInstanceOf(CorruptJournalError);
      const expected = place.position === null ? segment.header.baseOffset : frameAt(frames, place.position).position;
      expect((error as CorruptJournalError).offset, `${name} offset ${offset}`).toBe(expected);
    }
    // The lock was released each time: a writer can open the undamaged journal.
    const { writer, recovery } = await openJournalWriter(dir, { layer: fs.view() });
    expect(recovery.truncatedBytes).toBe(0);
    await writer.close();
  });

  it('a checksum fixed up after the flip is still caught by the hash chain', () => {
    const { fs, dir, frames, layout } = journal;
    // Alter a payload byte of a record in the middle, then recompute its frame checksum.
    const victim = withoutCommits(frames)[Math.floor(frames.length / 3)];
    const segment = [...layout.segments].reverse().find((s) => s.header.baseOffset <= victim.position)!;
    const at = 96 + victim.position - segment.header.baseOffset;
    const bytes = fs.readFile(segment.path);
    const original = Buffer.from(bytes);
    bytes[at + victim.size - 1] ^= 0x01;
    bytes.writeUInt32LE(maskedCrc(bytes.subarray(at + 4, at + victim.size)), at);
    fs.writeFile(segment.path, bytes);
    try {
      const outcome = readOutcome(dir, fs.view(), { verifyChain: true });
      expect(outcome.error).toBeInstanceOf(CorruptJournalError);
      const batchStart = frames.filter((f) => f.record.kind === 'batch-commit' && f.position < victim.position).pop();
      expect((outcome.error as CorruptJournalError).offset).toBe(batchStart ? batchStart.position + batchStart.size : 0);
      expect((outcome.error as Error).message).toMatch(/does not match its hash/);
      expectUnalteredPrefix(outcome, journal);
    } finally {
      fs.writeFile(segment.path, original);
    }
  });
});

describe('a journal cut short after its last complete batch commit is an unsynced tail', () => {
  for (const variant of ['the first batch of its segment', 'after other batches in its segment'] as const) {
    it(`truncating at every byte of the last batch (${variant}) recovers every earlier record and the chain continues`, async () => {
      const dir = tmp('truncate');
      const journal =
        variant === 'the first batch of its segment'
          ? await journalWithLastBatchOpeningASegment(dir, 21)
          : await journalWithLastBatchMidSegment(dir, 22);
      const { frames, layout } = journal;
      const last = layout.segments[layout.segments.length - 1];
      const tailStart = lastBatchStart(frames);
      const keptFrames = frames.filter((f) => f.position < tailStart);
      const keptRecords = journal.appended.filter((a) => a.position < tailStart);
      const lastHead = keptFrames.filter((f) => f.record.kind === 'batch-commit').pop()!.record;
      // Cut the last segment file at every length from (just before its header, when the
      // last batch opens the segment) the last batch's first byte to one byte short of the end.
      const fileEnd = last.fileSize;
      const firstCut = variant === 'the first batch of its segment' ? 0 : 96 + tailStart - last.header.baseOffset;
      expect(firstCut).toBeLessThanOrEqual(96 + tailStart - last.header.baseOffset);
      for (let cut = firstCut; cut < fileEnd; cut++) {
        const fs = journal.fs.cloneDir(dir);
        const kept = fs.readFile(last.path).subarray(0, cut);
        fs.writeFile(last.path, kept);
        const where = `cut at ${cut} of ${fileEnd}`;
        const segmentTorn = cut < 96;
        // Zeros at the end of the last segment are preallocated space (section 9), even those of a torn record.
        const tailOffset = 96 + tailStart - last.header.baseOffset;
        let contentEnd = cut;
        while (contentEnd > tailOffset && kept[contentEnd - 1] === 0) contentEnd--;
        const tailBytes = segmentTorn ? cut : contentEnd - tailOffset;

        const read = readOutcome(dir, fs.view(), { verifyChain: true });
        expect(read.error, where).toBeNull();
        expect(read.result!.corruption, where).toBeNull();
        expect(read.result!.committedEnd, where).toBe(tailStart);
        expect(read.result!.tailBytes, where).toBe(tailBytes);
        expectSameRecords(read.records, keptRecords);

        const { writer, recovery } = await openJournalWriter(dir, { layer: fs.view(), now: () => FIXED_NOW });
        expect(recovery.truncatedBytes, where).toBe(tailBytes);
        expect(recovery.removedSegments, where).toEqual(segmentTorn ? [last.path] : []);
        expect(writer.position, where).toBe(tailStart);
        const more = appendAll(writer, records(cut, 2));
        await writer.close();

        const after = readAll(dir, fs.view(), { verifyChain: true });
        expectSameRecords(after.records, [...keptRecords, ...more]);
        expect(after.result.tailBytes).toBe(0);
        const newCommit = after.records[after.records.length - 1].record;
        expect(newCommit.kind).toBe('batch-commit');
        if (newCommit.kind === 'batch-commit' && lastHead.kind === 'batch-commit') {
          expect(newCommit.seq, where).toBe(lastHead.seq + 1);
          expect(plain(newCommit.prevHead), where).toEqual(plain(lastHead.head));
        }
      }
    }, 60_000);
  }

  it('a new segment whose header was cut short is removed as an unsynced tail', async () => {
    const dir = tmp('torn-header');
    // The last batch fills a segment, so the writer created an empty next segment.
    const journal = await buildMemoryJournal(dir, [records(31, 3), [{ kind: 'value', session: 1, prev: null, source: 'uuid', value: new Uint8Array(400) }]], {
      segmentBytes: 400,
    });
    const last = journal.layout.segments[journal.layout.segments.length - 1];
    expect(last.fileSize).toBe(96);
    for (let cut = 0; cut < 96; cut++) {
      const fs = journal.fs.cloneDir(dir);
      fs.writeFile(last.path, fs.readFile(last.path).subarray(0, cut));
      const read = readAll(dir, fs.view());
      expect(read.result.tailBytes).toBe(cut);
      expectSameRecords(read.records, journal.appended);
      const { writer, recovery } = await openJournalWriter(dir, { layer: fs.view() });
      expect(recovery.removedSegments).toEqual([last.path]);
      expect(recovery.truncatedBytes).toBe(cut);
      await writer.close();
      expect(fs.files(dir).has(path.basename(last.path))).toBe(false);
    }
  });

  it('records after the last batch commit are a tail even when they are intact', async () => {
    const dir = tmp('uncommitted');
    const journal = await buildMemoryJournal(dir, [records(41, 3), records(42, 3)], { segmentBytes: 1 << 20 });
    const { frames, fs } = journal;
    const lastCommit = frames[frames.length - 1];
    const file = journal.layout.segments[0].path;
    // Remove only the final commit frame: the last batch's records stay, whole and valid.
    fs.writeFile(file, fs.readFile(file).subarray(0, 96 + lastCommit.position));
    const read = readAll(dir, fs.view());
    expect(read.result.tailBytes).toBe(lastCommit.position - lastBatchStart(frames));
    expect(read.result.tail?.reason).toMatch(/no batch commit/);
    expectSameRecords(read.records, journal.appended.slice(0, 3));
  });

  it('zeros after the last batch commit of the last segment are preallocated space: no tail, nothing to cut', async () => {
    const dir = tmp('zeros');
    const journal = await buildMemoryJournal(dir, [records(51, 3)], { segmentBytes: 1 << 20 });
    const file = journal.layout.segments[0].path;
    const committed = journal.fs.readFile(file);
    for (const zeros of [1, 9, 4096]) {
      const fs = journal.fs.cloneDir(dir);
      fs.writeFile(file, Buffer.concat([committed, Buffer.alloc(zeros)]));
      const read = readAll(dir, fs.view());
      expect(read.result).toMatchObject({ tailBytes: 0, tail: null, corruption: null, dataEnd: committed.length - 96 });
      expect(JournalReader.open(dir, fs.view()).dataEnd).toBe(committed.length - 96);
      expectSameRecords(read.records, journal.appended);
      const { writer, recovery } = await openJournalWriter(dir, { layer: fs.view() });
      expect(recovery.truncatedBytes).toBe(0);
      expect(writer.position).toBe(committed.length - 96);
      const more = appendAll(writer, records(52, 2));
      await writer.close();
      expectSameRecords(readAll(dir, fs.view(), { verifyChain: true }).records, [...journal.appended, ...more]);
    }
  });

  it('a torn batch followed by zeros is a tail up to its last non-zero byte', async () => {
    const dir = tmp('torn-zeros');
    const journal = await buildMemoryJournal(dir, [records(53, 3), records(54, 2)], { segmentBytes: 1 << 20 });
    const file = journal.layout.segments[0].path;
    const full = journal.fs.readFile(file);
    const tailOffset = 96 + lastBatchStart(journal.frames);
    // Half of the last batch reached the disk, nonzero at its end; zeros follow it.
    let cut = tailOffset + Math.floor((full.length - tailOffset) / 2);
    while (full[cut - 1] === 0) cut--;
    for (const zeros of [1, 100, 4096]) {
      const fs = journal.fs.cloneDir(dir);
      fs.writeFile(file, Buffer.concat([full.subarray(0, cut), Buffer.alloc(zeros)]));
      const read = readAll(dir, fs.view());
      expect(read.result.corruption).toBeNull();
      expect(read.result.committedEnd).toBe(tailOffset - 96);
      expect(read.result.tailBytes).toBe(cut - tailOffset);
      expect(read.result.tail).not.toBeNull();
      const { writer, recovery } = await openJournalWriter(dir, { layer: fs.view() });
      expect(recovery.truncatedBytes).toBe(cut - tailOffset);
      expect(writer.position).toBe(tailOffset - 96);
      await writer.close();
      expect(fs.readFile(file).length).toBe(tailOffset);
    }
  });
});

describe('garbage before the last intact batch commit is corruption', () => {
  let journal: MemoryJournal;
  beforeAll(async () => {
    journal = await journalWithLastBatchMidSegment(tmp('garbage'), 61);
  });

  it('the reader stops at the damaged record with exit code 3, after returning only undamaged records', () => {
    const { fs, dir, frames, layout } = journal;
    const lastCommit = frames[frames.length - 1];
    const rng = new Rng(62);
    for (let trial = 0; trial < size(300, 5000); trial++) {
      const segment = rng.pick(layout.segments);
      const dataEnd = Math.min(segment.fileSize, 96 + lastCommit.position - segment.header.baseOffset);
      if (dataEnd <= 96) continue;
      const start = rng.int(96, dataEnd - 1);
      const length = rng.int(1, Math.min(40, dataEnd - start));
      const original = fs.readFile(segment.path);
      const damaged = Buffer.from(original);
      for (let i = start; i < start + length; i++) damaged[i] ^= rng.int(1, 255); // every byte changes
      fs.writeFile(segment.path, damaged);
      const outcome = readOutcome(dir, fs.view(), { chunkSize: 256 });
      fs.writeFile(segment.path, original);
      const position = segment.header.baseOffset + start - 96;
      const where = `${length} bytes of garbage at ${path.basename(segment.path)} offset ${start} (position ${position})`;
      expect(outcome.error, where).toBeInstanceOf(CorruptJournalError);
      const error = outcome.error as CorruptJournalError;
      expect(error.exitCode).toBe(3);
      expect(error.code).toBe('E_CORRUPT');
      expect(error.offset, where).toBe(frameAt(frames, position).position);
      expect(error.message).toContain(`position ${error.offset}`);
      expectUnalteredPrefix(outcome, journal);
    }
  });

  it('a writer refuses to open it, at the same position, and leaves every byte in place', async () => {
    const { fs, dir, frames, layout } = journal;
    const lastCommit = frames[frames.length - 1];
    const rng = new Rng(63);
    for (let trial = 0; trial < size(60, 600); trial++) {
      const segment = rng.pick(layout.segments.slice(-2));
      const dataEnd = Math.min(segment.fileSize, 96 + lastCommit.position - segment.header.baseOffset);
      const start = rng.int(96, dataEnd - 1);
      const length = rng.int(1, Math.min(40, dataEnd - start));
      const original = fs.readFile(segment.path);
      const damaged = Buffer.from(original);
      for (let i = start; i < start + length; i++) damaged[i] ^= rng.int(1, 255);
      fs.writeFile(segment.path, damaged);
      const before = fs.files(dir);
      const error = await rejection(openJournalWriter(dir, { layer: fs.view() }));
      const after = fs.files(dir);
      fs.writeFile(segment.path, original);
      const position = segment.header.baseOffset + start - 96;
      expect(error).toBeInstanceOf(CorruptJournalError);
      expect((error as CorruptJournalError).exitCode).toBe(3);
      expect((error as CorruptJournalError).offset, `garbage at position ${position}`).toBe(frameAt(frames, position).position);
      expect((error as Error).message).toContain(`--truncate-at ${(error as CorruptJournalError).offset}`);
      expect(after).toEqual(before);
    }
  });

  it('a segment that does not continue where the previous one ended is corruption at its start', async () => {
    const { fs, dir, layout } = journal;
    const segment = layout.segments[1];
    const original = fs.readFile(segment.path);
    // Rewrite segment 2's header with a wrong base offset and a valid checksum.
    const header = Buffer.from(original.subarray(0, 96));
    header.writeBigUInt64LE(BigInt(segment.header.baseOffset + 1), 16);
    header.writeUInt32LE(maskedCrc(header.subarray(0, 92)), 92);
    fs.writeFile(segment.path, Buffer.concat([header, original.subarray(96)]));
    try {
      const outcome = readOutcome(dir, fs.view());
      expect(outcome.error).toBeInstanceOf(CorruptJournalError);
      expect((outcome.error as CorruptJournalError).offset).toBe(segment.header.baseOffset);
      expectUnalteredPrefix(outcome, journal);
    } finally {
      fs.writeFile(segment.path, original);
    }
  });

  it('a missing middle segment is corruption', () => {
    const { dir, layout } = journal;
    const fs = journal.fs.cloneDir(dir);
    fs.removeFile(layout.segments[1].path);
    const outcome = readOutcome(dir, fs.view());
    expect(outcome.error).toBeInstanceOf(CorruptJournalError);
    expect((outcome.error as Error).message).toMatch(/missing/);
  });
});

describe('damage in segment headers', () => {
  it('a damaged header on the last segment, in front of committed batches, is corruption: no writer deletes that segment', async () => {
    const dir = tmp('last-header');
    const journal = await journalWithLastBatchMidSegment(dir, 71);
    const last = journal.layout.segments[journal.layout.segments.length - 1];
    const fs = journal.fs.cloneDir(dir);
    flip(fs, last.path, 70, 3); // inside the journal id
    const read = readOutcome(dir, fs.view());
    expect(read.error).toBeInstanceOf(CorruptJournalError);
    expect((read.error as CorruptJournalError).offset).toBe(last.header.baseOffset);
    const before = fs.files(dir);
    const error = await rejection(openJournalWriter(dir, { layer: fs.view() }));
    expect(error).toBeInstanceOf(CorruptJournalError);
    expect(fs.files(dir)).toEqual(before);
  });

  it('a damaged header on the only segment, in front of committed batches, is corruption at position 0', async () => {
    const dir = tmp('only-header');
    const journal = await buildMemoryJournal(dir, [records(72, 2)], { segmentBytes: 1 << 20 });
    const fs = journal.fs.cloneDir(dir);
    flip(fs, journal.layout.segments[0].path, 0, 0); // the magic
    const read = readOutcome(dir, fs.view());
    expect(read.error).toBeInstanceOf(CorruptJournalError);
    expect((read.error as CorruptJournalError).offset).toBe(0);
    const before = fs.files(dir);
    expect(await rejection(openJournalWriter(dir, { layer: fs.view() }))).toBeInstanceOf(CorruptJournalError);
    expect(fs.files(dir)).toEqual(before);
  });

  it('a journal whose first segment was torn while being created is created afresh by the next writer', async () => {
    const dir = tmp('torn-creation');
    const journal = await buildMemoryJournal(dir, [], { segmentBytes: 1 << 20 });
    const file = journal.layout.segments[0].path;
    const header = journal.fs.readFile(file);
    expect(header.length).toBe(96);
    const torn = [...Array.from({ length: 96 }, (_, cut) => header.subarray(0, cut)), Buffer.alloc(96), Buffer.alloc(4096)];
    for (const content of torn) {
      const fs = journal.fs.cloneDir(dir);
      fs.writeFile(file, content);
      const { writer, recovery } = await openJournalWriter(dir, { layer: fs.view() });
      expect(recovery).toMatchObject({ created: true, truncatedBytes: content.length, removedSegments: [file] });
      const more = appendAll(writer, records(73, 2));
      await writer.close();
      expectSameRecords(readAll(dir, fs.view(), { verifyChain: true }).records, more);
    }
  });

  it('a record whose length runs past the end of its segment is corruption at that record when committed data follows', async () => {
    const dir = tmp('long-length');
    const journal = await journalWithLastBatchMidSegment(dir, 74);
    const { frames, layout } = journal;
    // The second record of a batch in the first segment.
    const first = layout.segments[0];
    const victim = frames.find(
      (f, i) => i > 0 && f.record.kind !== 'batch-commit' && frames[i - 1].record.kind !== 'batch-commit' && f.position < layout.segments[1].header.baseOffset,
    )!;
    expect(victim).toBeDefined();
    const fs = journal.fs.cloneDir(dir);
    const bytes = fs.readFile(first.path);
    bytes.writeUInt32LE(first.fileSize + 1000, 96 + victim.position + 4); // fits MAX_PAYLOAD, not the segment
    fs.writeFile(first.path, bytes);
    const read = readOutcome(dir, fs.view());
    expect(read.error).toBeInstanceOf(CorruptJournalError);
    expect((read.error as CorruptJournalError).offset).toBe(victim.position);
  });
});

describe('the damage fixtures themselves', () => {
  it('a journal described after building reads back what was appended', async () => {
    const dir = tmp('self');
    const journal = await journalWithLastBatchOpeningASegment(dir, 99);
    const again = describeJournal(dir, journal.fs, journal.appended);
    expectSameRecords(again.frames, journal.appended);
    const last = journal.layout.segments[journal.layout.segments.length - 1];
    expect(lastBatchStart(journal.frames)).toBe(last.header.baseOffset);
  });
});
