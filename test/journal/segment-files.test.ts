import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HEADER_SIZE, JournalReader, maskedCrc, openJournalWriter, readLayout, truncateJournal } from '../../src/journal/index.js';
import { nodeFileLayer } from '../../src/journal/file-layer.js';
import { CorruptJournalError } from '../../src/model/errors.js';
import type { ScanResult } from '../../src/journal/index.js';
import { readAll, readOutcome, rejection, tempDirs, withoutCommits } from '../helpers/journal.js';
import { REPO } from '../helpers/spawn.js';

// Damage to the segment files themselves (docs/journal-format.md, section 3):
// missing segments, first or not, and segment headers cut short, flipped or
// lost to zeros. It is damage at the first byte of the segment: corruption
// located at a position (the segment's base offset, 0 for the first one), or
// a torn tail when it is the last segment and nothing committed follows.

const tmp = tempDirs();
const FIXTURE = path.join(REPO, 'fixtures/journal-v1');

interface Golden {
  segments: { file: string; baseOffset: number; bytes: number }[];
  journalId: string;
  records: number;
  chainHead: string;
  entries: { position: number; kind: string }[];
}
const golden = JSON.parse(fs.readFileSync(`${FIXTURE}.json`, 'utf8')) as Golden;
const SEGMENTS = golden.segments;

function copy(label: string): string {
  const dir = tmp(label);
  fs.cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) out[name] = fs.readFileSync(path.join(dir, name)).toString('hex');
  return out;
}

/** The whole scan result, corruption included, without throwing. */
function scan(dir: string): ScanResult {
  const frames = JournalReader.open(dir).scanFrames({ verifyChain: true }).frames();
  let step = frames.next();
  while (!step.done) step = frames.next();
  return step.value;
}

/** Records of the golden journal that lie before `position`, batch commits excluded. */
function recordsBefore(position: number): number {
  return golden.entries.filter((e) => e.position < position && e.kind !== 'batch-commit').length;
}

/** Rewrite a segment header field and fix up its checksum: a header that is valid but says the wrong thing. */
function rewriteHeader(file: string, edit: (header: Buffer) => void): void {
  const bytes = fs.readFileSync(file);
  edit(bytes);
  bytes.writeUInt32LE(maskedCrc(bytes.subarray(0, 92)), 92);
  fs.writeFileSync(file, bytes);
}

async function writerRefuses(dir: string, position: number): Promise<void> {
  const before = files(dir);
  const error = await rejection(openJournalWriter(dir, { durability: 'none' }));
  expect(error).toBeInstanceOf(CorruptJournalError);
  expect((error as CorruptJournalError).offset).toBe(position);
  expect(files(dir)).toEqual(before);
}

describe('missing segments', () => {
  it('the golden journal reads whole: the premise of the cases below', () => {
    const result = scan(copy('whole'));
    expect(result.corruption).toBeNull();
    expect(result.chainHead.toString('hex')).toBe(golden.chainHead);
    expect(SEGMENTS.length).toBe(4);
  });

  it('a journal whose first segments are gone is corrupt at position 0, naming the first missing file', async () => {
    // Remove the first 1, 2 or 3 segments: what is left still chains to the expected head on its own.
    for (const k of [1, 2, 3]) {
      const dir = copy(`missing-first-${k}`);
      for (const s of SEGMENTS.slice(0, k)) fs.rmSync(path.join(dir, s.file));
      const result = scan(dir);
      expect(result.corruption, `first ${k} removed`).toMatchObject({ position: 0, path: path.join(dir, '00000001.wbj') });
      expect(result.corruption!.reason).toContain(k === 1 ? 'segment file 00000001.wbj is missing' : `segment files 00000001.wbj to ${SEGMENTS[k - 1].file} are missing`);
      expect(result).toMatchObject({ records: 0, batches: 0, committedEnd: 0, tailBytes: 0 });
      // Not the head the journal ended with: `audit --expect-head` cannot be fooled.
      expect(result.chainHead.toString('hex')).not.toBe(golden.chainHead);
      const read = readOutcome(dir);
      expect(read.error).toBeInstanceOf(CorruptJournalError);
      expect((read.error as CorruptJournalError).offset).toBe(0);
      expect((read.error as Error).message).toMatch(/^journal is corrupt at position 0 \(.*00000001\.wbj\): /);
      expect(read.records).toEqual([]);
      await writerRefuses(dir, 0);
    }
  });

  it('any missing segment is corruption at the position where its records began', () => {
    fc.assert(
      fc.property(fc.subarray([0, 1, 2, 3], { minLength: 1, maxLength: 3 }), (removed) => {
        const dir = copy('missing-any');
        for (const i of removed) fs.rmSync(path.join(dir, SEGMENTS[i].file));
        const first = Math.min(...removed);
        const result = scan(dir);
        if (removed.length === SEGMENTS.length - first) {
          // Only the last segments gone: the journal just ends earlier (audit --expect-head catches that).
          expect(result.corruption).toBeNull();
          expect(result.committedEnd).toBe(SEGMENTS[first].baseOffset);
        } else {
          expect(result.corruption).toMatchObject({ position: SEGMENTS[first].baseOffset, path: path.join(dir, SEGMENTS[first].file) });
          expect(result.corruption!.reason).toMatch(/missing/);
        }
        expect(result.records).toBe(recordsBefore(SEGMENTS[first].baseOffset));
      }),
      { numRuns: 14 },
    );
  });

  it('a first segment whose header does not start the journal is corruption at position 0', async () => {
    const edits: [string, (h: Buffer) => void][] = [
      ['base offset 826', (h) => h.writeBigUInt64LE(826n, 16)],
      ['base offset 1', (h) => h.writeBigUInt64LE(1n, 16)],
      ['next batch seq 2', (h) => h.writeBigUInt64LE(2n, 24)],
      ['a non-zero chain head', (h) => (h[40] = 1)],
    ];
    for (const [label, edit] of edits) {
      const dir = copy('first-header');
      rewriteHeader(path.join(dir, '00000001.wbj'), edit);
      const result = scan(dir);
      expect(result.corruption, label).toMatchObject({ position: 0, path: path.join(dir, '00000001.wbj') });
      expect(result.corruption!.reason).toMatch(/header says the journal starts at position \d+, batch \d+.*but it starts at position 0, batch 1/);
      expect(result.records).toBe(0);
      await writerRefuses(dir, 0);
    }
  });
});

describe('damaged segment headers', () => {
  it('a damaged header on a segment that is not the last is corruption at its base offset, whatever the damage', () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), byte: fc.integer({ min: 0, max: HEADER_SIZE - 1 }), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('cut' as const), length: fc.integer({ min: 0, max: HEADER_SIZE - 1 }) }),
      fc.record({ kind: fc.constant('zero' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SEGMENTS.length - 2 }), damage, (index, d) => {
        const dir = copy('bad-header');
        const file = path.join(dir, SEGMENTS[index].file);
        const bytes = fs.readFileSync(file);
        if (d.kind === 'flip') bytes[d.byte] ^= 1 << d.bit;
        if (d.kind === 'zero') bytes.fill(0, 0, Math.min(bytes.length, 512));
        fs.writeFileSync(file, d.kind === 'cut' ? bytes.subarray(0, d.length) : bytes);
        const base = SEGMENTS[index].baseOffset;
        const result = scan(dir);
        expect(result.corruption).toMatchObject({ position: base, path: file });
        expect(result.records).toBe(recordsBefore(base));
        const read = readOutcome(dir);
        expect((read.error as CorruptJournalError).offset).toBe(base);
        expect((read.error as Error).message).toContain(SEGMENTS[index].file);
        // Cutting there leaves every earlier record, and a journal that reads clean.
        truncateJournal(dir, base);
        const after = readAll(dir, nodeFileLayer, { verifyChain: true });
        expect(after.result).toMatchObject({ corruption: null, tailBytes: 0, committedEnd: base });
        expect(withoutCommits(after.records).length).toBe(recordsBefore(base));
      }),
      { numRuns: 40 },
    );
  });

  it('a last segment whose header was cut short, or lost to zeros, is a torn tail that a writer cuts', async () => {
    const last = SEGMENTS[SEGMENTS.length - 1];
    const variants: [string, (b: Buffer) => Buffer][] = [
      ...[0, 1, 50, 95].map((n): [string, (b: Buffer) => Buffer] => [`cut to ${n} bytes`, (b) => b.subarray(0, n)]),
      ['first sector zeroed', (b) => Buffer.alloc(b.length)],
    ];
    for (const [label, damage] of variants) {
      const dir = copy('torn-last');
      const file = path.join(dir, last.file);
      fs.writeFileSync(file, damage(fs.readFileSync(file)));
      const result = scan(dir);
      expect(result.corruption, label).toBeNull();
      expect(result.tail, label).toMatchObject({ position: last.baseOffset, path: file });
      expect(result.committedEnd).toBe(last.baseOffset);
      const { writer, recovery } = await openJournalWriter(dir, { durability: 'none' });
      await writer.close();
      expect(recovery.removedSegments).toEqual([file]);
      expect(scan(dir)).toMatchObject({ corruption: null, tail: null, committedEnd: last.baseOffset });
    }
  });

  it('a flipped header on the last segment, in front of its committed batches, is corruption there', () => {
    const last = SEGMENTS[SEGMENTS.length - 1];
    const dir = copy('flipped-last');
    const file = path.join(dir, last.file);
    const bytes = fs.readFileSync(file);
    bytes[20] ^= 0x55;
    fs.writeFileSync(file, bytes);
    expect(scan(dir).corruption).toMatchObject({ position: last.baseOffset, path: file });
  });

  it('the only segment, cut inside its header, is a torn tail at position 0 for readers (not an error)', () => {
    const dir = tmp('only-torn');
    fs.writeFileSync(path.join(dir, '00000001.wbj'), fs.readFileSync(path.join(FIXTURE, SEGMENTS[0].file)).subarray(0, 50));
    const read = readOutcome(dir);
    expect(read.error).toBeNull();
    expect(read.result).toMatchObject({ corruption: null, committedEnd: 0, tailBytes: 50, tail: { position: 0 } });
  });

  it('a cut at position 0 of a journal with no readable first segment leaves an empty journal with the same id', async () => {
    for (const damage of ['missing', 'flipped'] as const) {
      const dir = copy(`restart-${damage}`);
      const first = path.join(dir, SEGMENTS[0].file);
      if (damage === 'missing') fs.rmSync(first);
      else {
        const bytes = fs.readFileSync(first);
        bytes[20] ^= 0x55;
        fs.writeFileSync(first, bytes);
      }
      const cut = truncateJournal(dir, 0);
      expect(cut.removedSegments.map((f) => path.basename(f)).sort()).toEqual(SEGMENTS.slice(1).map((s) => s.file));
      expect(fs.readdirSync(dir).sort()).toEqual(['00000001.wbj']);
      const layout = readLayout(dir, nodeFileLayer);
      expect(layout.segments[0].header).toMatchObject({ segment: 1, baseOffset: 0, nextBatchSeq: 1 });
      expect(layout.journalId!.toString('hex')).toBe(golden.journalId);
      expect(scan(dir)).toMatchObject({ corruption: null, tail: null, committedEnd: 0, records: 0 });
      const { writer } = await openJournalWriter(dir, { durability: 'none' });
      writer.append({ kind: 'duplicate-request', at: 1, originalSession: 1, idempotencyKey: 'k', route: '/r' });
      await writer.close();
      expect(withoutCommits(readAll(dir, nodeFileLayer, { verifyChain: true }).records)).toHaveLength(1);
    }
  });
});
