import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BATCH_COMMIT_FRAME_SIZE,
  HEADER_SIZE,
  JournalReader,
  nodeFileLayer,
  openJournalWriter,
  truncateJournal,
  type OpenWriterOptions,
} from '../../src/journal/index.js';
import { encodePayload } from '../../src/journal/codec.js';
import { FRAME_HEADER_SIZE } from '../../src/journal/constants.js';
import { isCommitFrame } from '../../src/journal/preallocated.js';
import { decodeSegmentHeader } from '../../src/journal/segment-header.js';
import { CorruptJournalError, OutOfRangeError } from '../../src/model/errors.js';
import type { AppendableRecord, Durability } from '../../src/model/records.js';
import { audit } from '../../src/services/audit.js';
import { info } from '../../src/services/info.js';
import { Rng, decoded, plain, recordPool } from '../helpers/arbitraries.js';
import {
  expectSameRecords,
  fingerprint,
  lostRecords,
  readAll,
  readOutcome,
  rejection,
  size,
  tempDirs,
  thrown,
  turns,
  withoutCommits,
  type Appended,
} from '../helpers/journal.js';
import { frameAt } from '../helpers/memory-journal.js';
import { REPO } from '../helpers/spawn.js';
import { SECTOR, SyncTracker, materialize, powerCut, segmentNames, syncedOnly, type CrashState } from './sector-loss.js';

// Preallocated space (format section 9): under `batch` and `always` the writer
// keeps synced zeros ahead of its write position in the last segment. Zeros at
// the end of the last segment are not journal bytes; a segment other than the
// last never ends with them; a power cut that loses some of the sectors
// written in place is an unsynced tail, never corruption; anything else
// damaged is reported as before. All on real files.

const tmp = tempDirs();
const pool = recordPool(2718, 120);

/** Write a journal through `openJournalWriter(dir, options)`: `batches` groups, each awaited. */
async function writeJournal(dir: string, batches: number, perBatch: number, options: OpenWriterOptions): Promise<Appended[]> {
  const { writer } = await openJournalWriter(dir, options);
  const appended: Appended[] = [];
  for (let b = 0; b < batches; b++) {
    const durables: Promise<void>[] = [];
    for (let i = 0; i < perBatch; i++) {
      const record = pool[(b * perBatch + i) % pool.length];
      const { position, durable } = writer.append(record);
      appended.push({ position, record });
      durables.push(durable);
    }
    await Promise.all(durables);
  }
  await writer.close();
  return appended;
}

interface SegmentFile {
  name: string;
  content: Buffer;
}

function segmentFiles(files: Map<string, Buffer>): SegmentFile[] {
  return [...files.keys()].sort().map((name) => ({ name, content: files.get(name)! }));
}

/**
 * Every segment but the last ends exactly with a batch commit, and the next
 * one starts where it ends (format sections 2 and 11): no zeros in between.
 */
function expectSealedSegments(files: Map<string, Buffer>, where: string): void {
  const segments = segmentFiles(files);
  for (let i = 0; i + 1 < segments.length; i++) {
    const { name, content } = segments[i];
    const header = decodeSegmentHeader(content.subarray(0, HEADER_SIZE));
    expect(typeof header, `${where}: ${name} header`).toBe('object');
    if (content.length > HEADER_SIZE) {
      expect(content.length, `${where}: ${name} holds a commit`).toBeGreaterThanOrEqual(HEADER_SIZE + BATCH_COMMIT_FRAME_SIZE);
      expect(isCommitFrame(content, content.length - BATCH_COMMIT_FRAME_SIZE), `${where}: ${name} ends with a batch commit`).toBe(true);
    }
    const next = decodeSegmentHeader(segments[i + 1].content.subarray(0, HEADER_SIZE));
    if (typeof next === 'object' && typeof header === 'object') {
      expect(next.baseOffset, `${where}: ${segments[i + 1].name} base offset`).toBe(header.baseOffset + content.length - HEADER_SIZE);
    }
  }
}

interface Workload {
  seed: number;
  durability: Durability;
  preallocateBytes: number;
  preallocateAhead: number;
  segmentSteps: number;
  maxBatchBytes: number;
  appenders: number;
  records: number;
  awaitChance: number;
}

interface Captured {
  state: CrashState;
  /** Positions acknowledged when the crash came. */
  acknowledged: number[];
}

interface Run {
  log: Map<number, AppendableRecord>;
  captures: Captured[];
  segments: number;
  preallocatedBytes: number;
}

const MAX_CAPTURES = 10;

/** Append in several loops through a SyncTracker, capturing crash states at random operations. */
async function runWorkload(dir: string, w: Workload): Promise<Run> {
  const rng = new Rng(w.seed);
  const acknowledged = new Set<number>();
  const captures: Captured[] = [];
  const tracker: SyncTracker = new SyncTracker(dir, (label) => {
    if (captures.length < MAX_CAPTURES && rng.chance(0.08)) captures.push({ state: tracker.capture(label), acknowledged: [...acknowledged] });
  });
  const { writer } = await openJournalWriter(dir, {
    layer: tracker.layer(),
    durability: w.durability,
    segmentBytes: w.preallocateBytes * w.segmentSteps,
    maxBatchBytes: w.maxBatchBytes,
    preallocateBytes: w.preallocateBytes,
    preallocateAhead: w.preallocateAhead,
  });
  const log = new Map<number, AppendableRecord>();
  let next = 0;
  const appender = async (): Promise<void> => {
    while (next < w.records) {
      const record = pool[next++ % pool.length];
      const { position, durable } = writer.append(record);
      log.set(position, record);
      durable.then(
        () => acknowledged.add(position),
        () => {},
      );
      if (rng.chance(w.awaitChance)) await durable;
      else await turns(rng.int(0, 2));
    }
  };
  await Promise.all(Array.from({ length: w.appenders }, appender));
  await writer.flush();
  captures.push({ state: tracker.capture('after flush'), acknowledged: [...acknowledged] });
  const { preallocatedBytes } = writer.stats;
  await writer.close();
  captures.push({ state: tracker.capture('after close'), acknowledged: [...acknowledged] });
  return { log, captures, segments: segmentNames(dir).length, preallocatedBytes };
}

/**
 * The journal `files` reads without damage, holds every acknowledged record
 * and only appended ones, each at its position; a writer recovers it,
 * reporting the reader's tail, and continues it.
 */
async function expectRecoverable(files: Map<string, Buffer>, run: Run, acknowledged: number[], w: Workload, where: string): Promise<void> {
  if (files.size === 0) {
    expect(acknowledged, `${where}: nothing on disk, so nothing was acknowledged`).toEqual([]);
    return;
  }
  const dir = tmp('prealloc-state');
  try {
    materialize(dir, files);
    const first = files.get('00000001.wbj');
    if (files.size === 1 && first && typeof decodeSegmentHeader(first.subarray(0, HEADER_SIZE)) === 'string') {
      // The journal's creation never completed: nothing was acknowledged, and a writer creates it afresh.
      expect(acknowledged, where).toEqual([]);
      const { writer, recovery } = await openJournalWriter(dir, { preallocateBytes: w.preallocateBytes });
      expect(recovery.created, where).toBe(true);
      const { position } = writer.append(pool[9]);
      await writer.close();
      expectSameRecords(readAll(dir).records, [{ position, record: pool[9] }]);
      return;
    }
    expectSealedSegments(files, where);
    const outcome = readOutcome(dir, nodeFileLayer, { verifyChain: true });
    expect(outcome.error, where).toBeNull();
    const result = outcome.result!;
    expect(result.corruption, where).toBeNull();
    const read = withoutCommits(outcome.records);
    for (const r of read) {
      const appended = run.log.get(r.position);
      expect(appended, `${where}: a record at ${r.position} that was never appended there`).toBeDefined();
      expect(fingerprint(plain(r.record)), `${where}: record at ${r.position}`).toBe(fingerprint(decoded(appended)));
    }
    const lost = lostRecords(
      outcome.records,
      acknowledged.map((position) => ({ position, record: run.log.get(position)! })),
    );
    expect(lost, where).toEqual([]);

    const { writer, recovery } = await openJournalWriter(dir, {
      durability: 'batch',
      segmentBytes: w.preallocateBytes * w.segmentSteps,
      preallocateBytes: w.preallocateBytes,
    });
    expect(recovery.truncatedBytes, `${where}: recovery reports the reader's tail`).toBe(result.tailBytes);
    expect(writer.position, where).toBe(result.committedEnd);
    const more = [pool[7], pool[8]].map((record) => ({ position: writer.append(record).position, record }));
    await writer.close();
    const after = readAll(dir, nodeFileLayer, { verifyChain: true });
    expect(after.result.tailBytes, where).toBe(0);
    expectSameRecords(after.records, [...read.map((r) => ({ position: r.position, record: run.log.get(r.position)! })), ...more]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const workload: fc.Arbitrary<Workload> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  durability: fc.constantFrom<Durability>('batch', 'batch', 'always'),
  preallocateBytes: fc.integer({ min: 256, max: 6000 }),
  preallocateAhead: fc.integer({ min: 0, max: 8000 }),
  segmentSteps: fc.integer({ min: 1, max: 5 }),
  maxBatchBytes: fc.integer({ min: 100, max: 4000 }),
  appenders: fc.integer({ min: 1, max: 6 }),
  records: fc.integer({ min: 10, max: 120 }),
  awaitChance: fc.double({ min: 0, max: 1, noNaN: true }),
});

describe('preallocated space', () => {
  it('crash at any operation, process crash or power cut losing any sectors not synced: every acknowledged record survives, nothing is damaged, and a writer continues', async () => {
    let states = 0;
    let preallocated = 0;
    let rotations = 0;
    await fc.assert(
      fc.asyncProperty(workload, async (w) => {
        const dir = tmp('prealloc-run');
        const run = await runWorkload(dir, w);
        preallocated += run.preallocatedBytes;
        rotations += run.segments - 1;
        const rng = new Rng(w.seed + 1);
        for (const { state, acknowledged } of run.captures) {
          const where = `crash before ${state.label}`;
          await expectRecoverable(state.current, run, acknowledged, w, `${where} (process crash)`);
          await expectRecoverable(syncedOnly(state), run, acknowledged, w, `${where} (power cut, nothing unsynced kept)`);
          for (let cut = 0; cut < 2; cut++) await expectRecoverable(powerCut(state, rng), run, acknowledged, w, `${where} (power cut ${cut})`);
          states++;
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: size(15, 150) },
    );
    // The campaign exercised what it is about.
    expect(states).toBeGreaterThan(size(15, 150) * 2);
    expect(preallocated).toBeGreaterThan(0);
    expect(rotations).toBeGreaterThanOrEqual(size(5, 50)); // about two a run on average: a margin for unlucky draws
  }, 300_000);

  it('a segment other than the last never ends with zeros, at any moment of a run with many rotations', async () => {
    const dir = tmp('sealed');
    const states: CrashState[] = [];
    let zeroTails = 0;
    const tracker: SyncTracker = new SyncTracker(dir, (label) => states.push(tracker.capture(label)));
    const { writer } = await openJournalWriter(dir, {
      layer: tracker.layer(),
      segmentBytes: 4096,
      preallocateBytes: 1024,
      preallocateAhead: 512,
      maxBatchBytes: 700,
    });
    const durables: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      durables.push(writer.append(pool[i % pool.length]).durable);
      if (i % 7 === 0) await turns(2);
    }
    await Promise.all(durables);
    expect(writer.stats.preallocatedBytes).toBeGreaterThan(4096);
    await writer.close();
    states.push(tracker.capture('after close'));
    for (const state of states) {
      if (state.current.size === 0) continue; // before the journal's first segment was created
      expectSealedSegments(state.current, `before ${state.label}`);
      const last = segmentFiles(state.current).at(-1)!.content;
      if (last.length > HEADER_SIZE && last[last.length - 1] === 0) zeroTails++;
    }
    // The last segment did end in preallocated zeros at many of those moments, and rotations happened.
    expect(zeroTails).toBeGreaterThan(20);
    expect(segmentNames(dir).length).toBeGreaterThan(5);
    // At rest, after close, every segment ends with its last batch commit (or is just a header): no preallocated space is left.
    for (const name of segmentNames(dir)) {
      const content = fs.readFileSync(path.join(dir, name));
      if (content.length > HEADER_SIZE) expect(isCommitFrame(content, content.length - BATCH_COMMIT_FRAME_SIZE), name).toBe(true);
    }
  });

  it('a writer that reuses more preallocated space than its segments hold cuts it before it rotates', async () => {
    // A first writer with big steps dies with its zeros in place (a copy of its directory while it runs).
    const first = tmp('reuse-first');
    const { writer: big } = await openJournalWriter(first, { segmentBytes: 1 << 20, preallocateBytes: 64 * 1024 });
    const appended: Appended[] = [];
    for (let i = 0; i < 10; i++) appended.push({ position: big.append(pool[i]).position, record: pool[i] });
    await big.flush();
    const dir = tmp('reuse-second');
    for (const name of segmentNames(first)) fs.copyFileSync(path.join(first, name), path.join(dir, name));
    await big.close();
    const crashed = fs.readFileSync(path.join(dir, '00000001.wbj'));
    expect(crashed.length).toBeGreaterThanOrEqual(64 * 1024);
    expect(crashed.length - HEADER_SIZE).toBeGreaterThan(appended.at(-1)!.position + 1000);

    // The next writer, with segments smaller than those zeros, reuses them, then rotates past them.
    const states: CrashState[] = [];
    const tracker: SyncTracker = new SyncTracker(dir, (label) => states.push(tracker.capture(label)));
    const { writer, recovery } = await openJournalWriter(dir, { layer: tracker.layer(), segmentBytes: 4096, preallocateBytes: 2048 });
    expect(recovery.truncatedBytes).toBe(0);
    for (let i = 10; i < 80; i++) {
      appended.push({ position: writer.append(pool[i]).position, record: pool[i] });
      if (i % 5 === 0) await writer.flush();
    }
    await writer.close();
    states.push(tracker.capture('after close'));
    expect(segmentNames(dir).length).toBeGreaterThanOrEqual(3);
    for (const state of states) expectSealedSegments(state.current, `before ${state.label}`);
    expectSameRecords(readAll(dir, nodeFileLayer, { verifyChain: true }).records, appended);
  });

  it('zeros in a segment other than the last are corruption, at the position where they start', async () => {
    const dir = tmp('zeros-middle');
    const appended = await writeJournal(dir, 30, 3, { segmentBytes: 2048, preallocateBytes: 1024 });
    const frames = readAll(dir).records;
    const { segments } = JournalReader.open(dir).layout;
    expect(segments.length).toBeGreaterThanOrEqual(4);
    // The next to last segment: the reader and the writer (which scans the last two) both see it.
    const second = segments.at(-2)!;
    const next = segments.at(-1)!;
    const original = fs.readFileSync(second.path);
    try {
      // A zero tail: damage where its data ends, since commits follow in the last segment.
      fs.writeFileSync(second.path, Buffer.concat([original, Buffer.alloc(4096)]));
      let outcome = readOutcome(dir);
      expect(outcome.error).toBeInstanceOf(CorruptJournalError);
      expect((outcome.error as CorruptJournalError).offset).toBe(next.header.baseOffset);
      expect((await rejection(openJournalWriter(dir))) as CorruptJournalError).toMatchObject({ offset: next.header.baseOffset });

      // A zeroed sector inside its committed data: corruption at the record holding its first byte.
      const damaged = Buffer.from(original);
      const sector = Math.ceil((HEADER_SIZE + 1) / SECTOR) * SECTOR;
      expect(sector + SECTOR).toBeLessThan(damaged.length);
      damaged.fill(0, sector, sector + SECTOR);
      fs.writeFileSync(second.path, damaged);
      outcome = readOutcome(dir);
      expect(outcome.error).toBeInstanceOf(CorruptJournalError);
      const position = frameAt(frames, second.header.baseOffset + sector - HEADER_SIZE).position;
      expect((outcome.error as CorruptJournalError).offset).toBe(position);
      expect((await rejection(openJournalWriter(dir))) as CorruptJournalError).toMatchObject({ offset: position });
    } finally {
      fs.writeFileSync(second.path, original);
    }
    expectSameRecords(readAll(dir).records, appended);
  });
});

describe('what readers report about a journal with preallocated space', () => {
  it('info, audit, the catalog and the reader count the same bytes as without it, while the writer holds it and after', async () => {
    const dir = tmp('counts');
    const { writer } = await openJournalWriter(dir, { preallocateBytes: 64 * 1024 });
    for (let i = 0; i < 40; i++) writer.append(pool[i]);
    await writer.flush();
    const end = writer.position;
    const file = path.join(dir, '00000001.wbj');
    // The premise: the file is longer than its data, by zeros.
    expect(fs.statSync(file).size).toBeGreaterThanOrEqual(HEADER_SIZE + end + 32 * 1024);
    const live = { info: info({ journal: dir }), audit: audit({ journal: dir }) };
    const reader = JournalReader.open(dir);
    expect(reader.dataEnd).toBe(end);
    const scan = readAll(dir, nodeFileLayer, { verifyChain: true }).result;
    expect(scan).toMatchObject({ committedEnd: end, dataEnd: end, tailBytes: 0, tail: null, corruption: null });
    expect(live.info).toMatchObject({ bytes: end, integrity: 'ok', tornTailBytes: 0, firstBadOffset: null, damage: null });
    expect(live.audit).toMatchObject({ ok: true, tornTail: 0, firstBadOffset: null });
    // Nothing in the preallocated space is a position.
    expect(thrown(() => truncateJournal(dir, end + 1))).toBeInstanceOf(OutOfRangeError);
    await writer.close();
    expect(fs.statSync(file).size).toBe(HEADER_SIZE + end);
    expect(info({ journal: dir })).toEqual(live.info);
    expect(audit({ journal: dir })).toEqual(live.audit);
  });

  it('the golden journal reads the same with zeros after its last segment, and is corrupt with zeros after another', () => {
    const fixture = path.join(REPO, 'fixtures/journal-v1');
    const names = segmentNames(fixture);
    const clean = readAll(fixture, nodeFileLayer, { verifyChain: true });
    const copy = (zerosAfter: string): string => {
      const dir = tmp('golden-zeros');
      for (const name of names) {
        const content = fs.readFileSync(path.join(fixture, name));
        fs.writeFileSync(path.join(dir, name), name === zerosAfter ? Buffer.concat([content, Buffer.alloc(8192)]) : content);
      }
      return dir;
    };
    const last = copy(names.at(-1)!);
    const read = readAll(last, nodeFileLayer, { verifyChain: true });
    expect(read.result).toEqual(clean.result);
    expect(read.records.map((r) => [r.position, fingerprint(plain(r.record))])).toEqual(clean.records.map((r) => [r.position, fingerprint(plain(r.record))]));
    expect(JournalReader.open(last).dataEnd).toBe(clean.result.committedEnd);
    const outcome = readOutcome(copy(names[0]));
    expect(outcome.error).toBeInstanceOf(CorruptJournalError);
    expect((outcome.error as CorruptJournalError).offset).toBe(JournalReader.open(fixture).layout.segments[1].header.baseOffset);
  });

  it('a reader that reads again behind a live writer forgets the zeros it read before: the writer may have cut them since', async () => {
    // A journal of four batches; the reader first meets three of them and
    // preallocated zeros, then (as it reads again at the first zero) the
    // fourth batch and the end of the file: the writer wrote it and closed,
    // cutting the zeros. Nothing is a tail.
    const full = tmp('four-batches');
    const appended = await writeJournal(full, 4, 3, { preallocateBytes: 64 * 1024 });
    const name = segmentNames(full)[0];
    const content = fs.readFileSync(path.join(full, name));
    const threeBatchesEnd = HEADER_SIZE + appended[9].position; // the 10th record opens the 4th batch
    const live = tmp('live-writer');
    fs.writeFileSync(path.join(live, name), Buffer.concat([content.subarray(0, threeBatchesEnd), Buffer.alloc(32 * 1024)]));
    let written = false;
    const layer = {
      ...nodeFileLayer,
      open(file: string, mode: 'read' | 'write' | 'create') {
        const inner = nodeFileLayer.open(file, mode);
        return Object.assign(Object.create(inner) as typeof inner, {
          read(into: Uint8Array, offset: number, length: number, position: number): number {
            const n = inner.read(into, offset, length, position);
            if (!written && position + n > threeBatchesEnd) {
              // The writer, meanwhile: the fourth batch over the zeros, then a close that cuts the rest.
              written = true;
              const fd = fs.openSync(file, 'r+');
              fs.writeSync(fd, content, threeBatchesEnd, content.length - threeBatchesEnd, threeBatchesEnd);
              fs.ftruncateSync(fd, content.length);
              fs.closeSync(fd);
            }
            return n;
          },
        });
      },
    };
    const outcome = readOutcome(live, layer);
    expect(written).toBe(true);
    expect(outcome.error).toBeNull();
    expect(outcome.result).toMatchObject({ committedEnd: content.length - HEADER_SIZE, tailBytes: 0, tail: null, corruption: null });
    expect(withoutCommits(outcome.records)).toHaveLength(12);
  });

  it('a reader sees the records up to the last batch commit, and no damage, while another process appends', async () => {
    const dir = tmp('live');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/journal/live-writer.child.ts'), dir, '99', '6000'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const livePool = recordPool(99, 64);
    // The child's eight loops each wait for their record before the next: a batch holds at most eight.
    const largestBatch = 8 * Math.max(...livePool.map((r) => FRAME_HEADER_SIZE + encodePayload(r).payload.byteLength)) + BATCH_COMMIT_FRAME_SIZE;
    let reads = 0;
    let sawZeros = 0;
    let lastEnd = 0;
    while (!out.includes('done\n')) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (!out.includes('ready\n') || segmentNames(dir).length === 0) continue;
      const outcome = readOutcome(dir);
      expect(outcome.error, errors).toBeNull();
      const result = outcome.result!;
      expect(result.corruption).toBeNull();
      // Up to the last batch commit: at most the batch being written is a tail, never the zeros after it.
      // (A reader that chased the writer as often as it may, MAX_REREADS in scanner.ts, reports
      // what the writer wrote meanwhile as a tail too: more than one batch, but written data.)
      if (result.tailBytes > largestBatch) expect(endsInData(dir, result.committedEnd + result.tailBytes), `tail of ${result.tailBytes} bytes`).toBe(true);
      expect(result.committedEnd).toBeGreaterThanOrEqual(lastEnd);
      lastEnd = result.committedEnd;
      let next = 0;
      for (const r of outcome.records) {
        expect(r.position).toBe(next);
        next += r.size;
      }
      const last = segmentNames(dir).at(-1)!;
      const content = fs.readFileSync(path.join(dir, last));
      if (content.length > HEADER_SIZE + 1024 && content.subarray(-1024).every((b) => b === 0)) sawZeros++;
      reads++;
    }
    expect(await exited, errors).toBe(0);
    const acknowledged = out
      .split('\n')
      .map((line) => /^(\d+) (\d+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ position: Number(m[1]), record: livePool[Number(m[2])] }));
    expect(acknowledged).toHaveLength(6000);
    expect(lostRecords(readAll(dir, nodeFileLayer, { verifyChain: true }).records, acknowledged)).toEqual([]);
    // The reads overlapped the writing, with preallocated space in place.
    expect(reads).toBeGreaterThan(5);
    expect(sawZeros).toBeGreaterThan(0);
  }, 60_000);
});

/** Whether the journal bytes just before `position` are written data (not all zeros): the end of a tail a reader reported. */
function endsInData(dir: string, position: number): boolean {
  for (const name of segmentNames(dir).reverse()) {
    const content = fs.readFileSync(path.join(dir, name));
    const header = decodeSegmentHeader(content.subarray(0, HEADER_SIZE));
    if (typeof header === 'string' || header.baseOffset >= position) continue;
    const end = HEADER_SIZE + (position - header.baseOffset);
    return content.subarray(Math.max(HEADER_SIZE, end - 8), end).some((b) => b !== 0);
  }
  return false;
}

describe('a power cut that loses sectors written in place', () => {
  /** A journal whose last segment ends with `batches` batches written after the last sync (the tail), and its files. */
  async function journalWithUnsyncedBatches(dir: string): Promise<{ committed: Appended[]; file: string; tailOffset: number; content: Buffer }> {
    const committed = await writeJournal(dir, 4, 3, { preallocateBytes: 64 * 1024 });
    const file = path.join(dir, '00000001.wbj');
    const synced = fs.readFileSync(file);
    // Two more batches, as a writer appends them before its next sync.
    const { writer } = await openJournalWriter(dir, { preallocateBytes: 64 * 1024 });
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < 6; i++) writer.append({ kind: 'value', session: 1, prev: null, source: 'random-bytes', value: new Uint8Array(300).fill(7 + i) });
      await writer.flush();
    }
    await writer.close();
    return { committed, file, tailOffset: synced.length, content: fs.readFileSync(file) };
  }

  it('a lost sector followed by a later batch commit that did reach the disk is an unsynced tail, not corruption', async () => {
    const dir = tmp('lost-sector');
    const { committed, file, tailOffset, content } = await journalWithUnsyncedBatches(dir);
    // The sector holding the first unsynced byte reads back as it was: data up to the sync, zeros after.
    const sector = Math.floor(tailOffset / SECTOR) * SECTOR;
    const lost = Buffer.from(content);
    lost.fill(0, tailOffset, sector + SECTOR);
    let end = content.length; // the tail ends at its last non-zero byte
    while (content[end - 1] === 0) end--;
    for (const damaged of [lost, Buffer.concat([lost, Buffer.alloc(64 * 1024)])]) {
      fs.writeFileSync(file, damaged);
      const read = readAll(dir, nodeFileLayer, { verifyChain: true });
      expect(read.result).toMatchObject({ corruption: null, committedEnd: tailOffset - HEADER_SIZE });
      expect(read.result.tailBytes).toBe(end - tailOffset);
      expectSameRecords(read.records, committed);
      const { writer, recovery } = await openJournalWriter(dir);
      expect(recovery.truncatedBytes).toBe(end - tailOffset);
      await writer.close();
      expect(fs.readFileSync(file).length).toBe(tailOffset);
    }
  });

  it('the same damage without zeros to the end of a sector is still corruption', async () => {
    const dir = tmp('not-lost');
    const { file, tailOffset, content } = await journalWithUnsyncedBatches(dir);
    const sector = Math.floor(tailOffset / SECTOR) * SECTOR;
    // Zeros that stop one byte short of the sector's end: no disk loses a write like that.
    for (const [from, to] of [
      [tailOffset, sector + SECTOR - 1],
      [sector + SECTOR + 7, sector + 2 * SECTOR - 1],
    ]) {
      const damaged = Buffer.from(content);
      damaged.fill(0, from, to);
      damaged[to] ||= 1;
      fs.writeFileSync(file, damaged);
      const outcome = readOutcome(dir);
      expect(outcome.error, `zeros over ${from}..${to}`).toBeInstanceOf(CorruptJournalError);
      expect(await rejection(openJournalWriter(dir))).toBeInstanceOf(CorruptJournalError);
    }
  });

  it('a new segment whose header sector was lost is a torn tail, even when later sectors of it reached the disk', async () => {
    const dir = tmp('lost-header');
    const committed = await writeJournal(dir, 6, 4, { segmentBytes: 2048, preallocateBytes: 1024 });
    const names = segmentNames(dir);
    const last = path.join(dir, names.at(-1)!);
    const content = fs.readFileSync(last);
    expect(content.length).toBeGreaterThan(SECTOR + BATCH_COMMIT_FRAME_SIZE);
    const base = JournalReader.open(dir).layout.segments.at(-1)!.header.baseOffset;
    fs.writeFileSync(last, Buffer.concat([Buffer.alloc(SECTOR), content.subarray(SECTOR)]));
    const read = readAll(dir);
    expect(read.result).toMatchObject({ corruption: null, committedEnd: base, tailBytes: content.length });
    expectSameRecords(read.records, committed.filter((a) => a.position < base));
    const { writer, recovery } = await openJournalWriter(dir);
    expect(recovery.removedSegments).toEqual([last]);
    await writer.close();
    // A header damaged any other way, in front of committed batches, is still corruption.
    const flipped = Buffer.from(content);
    flipped[3] ^= 1;
    fs.writeFileSync(last, flipped);
    expect(readOutcome(dir).error).toBeInstanceOf(CorruptJournalError);
  });
});
