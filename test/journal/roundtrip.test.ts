import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JournalReader, openJournalWriter, packValue } from '../../src/journal/index.js';
import { CorruptJournalError } from '../../src/model/errors.js';
import type { AppendableRecord, Durability, UnknownRecord } from '../../src/model/records.js';
import { APPENDABLE_KINDS, anyRecord, decoded, plain, recordArbitraries, unknownRecord } from '../helpers/arbitraries.js';
import { appendOne, expectSameRecords, readAll, readOutcome, segmentNames, size, tempDirs, turns, withoutCommits, type Appended } from '../helpers/journal.js';

// Records written by a real writer to disk and read back by a real reader:
// same records, same positions, across batches, segments and reopenings.

const tmp = tempDirs();

const durability = fc.constantFrom<Durability>('none', 'batch', 'always');

/** Appends `groups` of records, waiting for each group to be durable (so batches form), and returns what was appended. */
async function appendGroups(
  dir: string,
  groups: (AppendableRecord | UnknownRecord)[][],
  options: { durability: Durability; segmentBytes: number; maxBatchBytes: number },
): Promise<Appended[]> {
  const { writer } = await openJournalWriter(dir, options);
  const appended: Appended[] = [];
  try {
    for (const group of groups) {
      const pending: Promise<void>[] = [];
      for (const record of group) {
        const { position, durable } = appendOne(writer, record);
        appended.push({ position, record });
        pending.push(durable);
      }
      await Promise.all(pending);
    }
  } finally {
    await writer.close();
  }
  return appended;
}

describe('writer and reader round trip', () => {
  it('every record kind read back from disk equals what was appended, at the position append returned', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.oneof({ weight: 9, arbitrary: anyRecord }, { weight: 1, arbitrary: unknownRecord }), { minLength: 1, maxLength: 8 }), {
          minLength: 1,
          maxLength: 6,
        }),
        durability,
        fc.integer({ min: 100, max: 3000 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 16, max: 600 }),
        async (groups, mode, segmentBytes, maxBatchBytes, chunkSize) => {
          const dir = tmp('roundtrip');
          const appended = await appendGroups(dir, groups, { durability: mode, segmentBytes, maxBatchBytes });
          // Collect everything first, compare afterwards: records must not change as the reader moves on.
          const { records, result } = readAll(dir, undefined, { verifyChain: true, chunkSize });
          expectSameRecords(records, appended);
          expect(result.tailBytes).toBe(0);
          expect(result.corruption).toBeNull();
          expect(result.records).toBe(appended.length);
          // Random access by position gives the same records.
          const reader = JournalReader.open(dir);
          for (const { position, record } of appended) expect(plain(reader.readAt(position).record)).toEqual(decoded(record));
        },
      ),
      { numRuns: size(40, 400) },
    );
  }, 60_000);

  it('positions are contiguous: each record starts where the previous one (or its batch commit) ended', async () => {
    const dir = tmp('contiguous');
    const records = fc.sample(anyRecord, { seed: 11, numRuns: 200 });
    const appended = await appendGroups(dir, [records.slice(0, 50), records.slice(50, 120), records.slice(120)], {
      durability: 'batch',
      segmentBytes: 4096,
      maxBatchBytes: 1500,
    });
    const { records: read, result } = readAll(dir);
    expectSameRecords(read, appended);
    let next = 0;
    let inBatch = 0;
    let batchBytes = 0;
    for (const r of read) {
      expect(r.position).toBe(next);
      next += r.size;
      if (r.record.kind === 'batch-commit') {
        expect(r.record.records).toBe(inBatch);
        expect(r.record.bytes).toBe(batchBytes);
        inBatch = 0;
        batchBytes = 0;
      } else {
        inBatch++;
        batchBytes += r.size;
      }
    }
    expect(result.committedEnd).toBe(next);
    expect(segmentNames(dir).length).toBeGreaterThan(3);
  });

  it('one record of every kind survives many reopenings, and appends continue the hash chain', async () => {
    const dir = tmp('reopen');
    const appended: Appended[] = [];
    const kinds = [...APPENDABLE_KINDS, ...APPENDABLE_KINDS];
    for (let round = 0; round < kinds.length; round++) {
      const { writer, recovery } = await openJournalWriter(dir, { segmentBytes: 700, durability: round % 3 === 0 ? 'always' : 'batch' });
      expect(recovery.truncatedBytes).toBe(0);
      expect(recovery.created).toBe(round === 0);
      const [record] = fc.sample(recordArbitraries[kinds[round]] as fc.Arbitrary<AppendableRecord>, { seed: round, numRuns: 1 });
      const a = writer.append(record);
      appended.push({ position: a.position, record });
      await a.durable;
      await writer.close();
    }
    const { records, result } = readAll(dir, undefined, { verifyChain: true });
    expectSameRecords(records, appended);
    expect(result.batches).toBe(kinds.length);
    const seqs = records.flatMap((r) => (r.record.kind === 'batch-commit' ? [r.record.seq] : []));
    expect(seqs).toEqual(kinds.map((_, i) => i + 1));
  });

  it('a record of an unknown type below 128 is read back as unknown and counted in its batch', async () => {
    const dir = tmp('unknown');
    const { writer } = await openJournalWriter(dir);
    const before = writer.append({ kind: 'duplicate-request', at: 1, originalSession: 1, idempotencyKey: 'k', route: '/r' });
    const payload = new Uint8Array([1, 2, 3, 250]);
    const unknown = writer.appendRaw(99, payload);
    const after = writer.append({ kind: 'duplicate-request', at: 2, originalSession: 2, idempotencyKey: 'k2', route: '/r' });
    await writer.close();
    const { records, result } = readAll(dir, undefined, { verifyChain: true });
    const got = withoutCommits(records);
    expect(got.map((r) => r.position)).toEqual([before.position, unknown.position, after.position]);
    expect(plain(got[1].record)).toEqual({ kind: 'unknown', type: 99, payload });
    const commit = records.find((r) => r.record.kind === 'batch-commit')!.record;
    expect(commit).toMatchObject({ kind: 'batch-commit', records: 3 });
    expect(result.records).toBe(3);
  });

  it('a record of an unknown type from 128 up stops the reader with an error naming its position', async () => {
    const dir = tmp('critical');
    const { writer } = await openJournalWriter(dir);
    const first = writer.append({ kind: 'value', session: 1, prev: null, source: 'date', value: 5 });
    const critical = writer.appendRaw(200, packValue(['from the future']));
    writer.append({ kind: 'value', session: 1, prev: first.position, source: 'date', value: 6 });
    await writer.close();
    const outcome = readOutcome(dir);
    expect(outcome.error).toBeInstanceOf(CorruptJournalError);
    expect((outcome.error as CorruptJournalError).offset).toBe(critical.position);
    expect((outcome.error as Error).message).toContain(`position ${critical.position}`);
    expect((outcome.error as Error).message).toContain('200');
    expect(outcome.records.map((r) => r.position)).toEqual([first.position]);
    expect(() => JournalReader.open(dir).readAt(critical.position)).toThrow(`position ${critical.position}`);
  });

  it('a reader running while a writer appends sees a growing prefix of committed records and no damage', async () => {
    const dir = tmp('concurrent-read');
    const { writer } = await openJournalWriter(dir, { durability: 'batch', segmentBytes: 2048 });
    const records = fc.sample(anyRecord, { seed: 5, numRuns: 300 });
    const appended: Appended[] = [];
    let seen = 0;
    for (let i = 0; i < records.length; i++) {
      appended.push({ position: writer.append(records[i]).position, record: records[i] });
      if (i % 10 === 9) {
        await turns(2);
        const { records: read, result } = readAll(dir);
        const got = withoutCommits(read);
        expect(got.length).toBeGreaterThanOrEqual(seen);
        expectSameRecords(read, appended.slice(0, got.length));
        expect(result.corruption).toBeNull();
        seen = got.length;
      }
    }
    await writer.close();
    expectSameRecords(readAll(dir).records, appended);
    expect(seen).toBeGreaterThan(0);
  });

  it('a session read backwards through prev visits all its records', async () => {
    const dir = tmp('session');
    const { writer } = await openJournalWriter(dir, { segmentBytes: 300 });
    let prev: number | null = null;
    const mine: number[] = [];
    for (let i = 0; i < 30; i++) {
      const own = writer.append({ kind: 'value', session: 7, prev, source: 'random-seed', value: i });
      writer.append({ kind: 'value', session: 8, prev: null, source: 'timer', value: -i });
      mine.push(own.position);
      prev = own.position;
    }
    await writer.close();
    const chain = JournalReader.open(dir).sessionRecords(prev!);
    expect(chain.map((r) => r.position)).toEqual(mine);
    expect(chain.map((r) => (r.record as { value: number }).value)).toEqual([...Array(30).keys()]);
  });
});
