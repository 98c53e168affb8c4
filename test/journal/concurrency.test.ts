import { describe, expect, it } from 'vitest';
import { openJournalWriter } from '../../src/journal/index.js';
import type { AppendableRecord, Durability } from '../../src/model/records.js';
import { recordPool } from '../helpers/arbitraries.js';
import { expectSameRecords, readAll, size, tempDirs, type Appended } from '../helpers/journal.js';

// Group commit (format section 8): many appenders awaiting durability at once
// all get their acknowledgement, every record is in the journal, and under
// `batch` one fdatasync serves many appenders.

const tmp = tempDirs();
const APPENDERS = 64;
const PER_APPENDER = size(12, 150);

async function runAppenders(durability: Durability): Promise<{ appended: Appended[]; dir: string; syncs: number }> {
  const dir = tmp(`group-${durability}`);
  const { writer } = await openJournalWriter(dir, { durability, segmentBytes: 32 * 1024 });
  const pool = recordPool(1234, 97);
  const appended: Appended[] = [];
  let acknowledged = 0;
  const loop = async (id: number): Promise<void> => {
    for (let i = 0; i < PER_APPENDER; i++) {
      const record: AppendableRecord = pool[(id * 31 + i) % pool.length];
      const { position, durable } = writer.append(record);
      appended.push({ position, record });
      await durable;
      acknowledged++;
    }
  };
  await Promise.all(Array.from({ length: APPENDERS }, (_, id) => loop(id)));
  expect(acknowledged).toBe(APPENDERS * PER_APPENDER);
  const syncs = writer.stats.syncs;
  await writer.close();
  appended.sort((a, b) => a.position - b.position);
  return { appended, dir, syncs };
}

describe('many concurrent appenders', () => {
  it('under batch, all 64 appenders are acknowledged, every record is read back, and batches group several records', async () => {
    const { appended, dir, syncs } = await runAppenders('batch');
    const { records, result } = readAll(dir, undefined, { verifyChain: true });
    expectSameRecords(records, appended);
    const commits = records.flatMap((r) => (r.record.kind === 'batch-commit' ? [r.record] : []));
    expect(commits.reduce((n, c) => n + c.records, 0)).toBe(appended.length);
    expect(result.batches).toBe(commits.length);
    // Group commit: far fewer batches (and syncs) than records, and big groups.
    expect(commits.length).toBeLessThan(appended.length / 4);
    expect(Math.max(...commits.map((c) => c.records))).toBeGreaterThanOrEqual(APPENDERS / 2);
    expect(syncs).toBeLessThan(appended.length / 4);
  });

  it('under always, all 64 appenders are acknowledged and every record is its own batch', async () => {
    const { appended, dir, syncs } = await runAppenders('always');
    const { records } = readAll(dir, undefined, { verifyChain: true });
    expectSameRecords(records, appended);
    const commits = records.flatMap((r) => (r.record.kind === 'batch-commit' ? [r.record] : []));
    expect(commits.length).toBe(appended.length);
    expect(commits.every((c) => c.records === 1)).toBe(true);
    expect(syncs).toBeGreaterThanOrEqual(appended.length);
  });

  it('under none, all 64 appenders are acknowledged without a single fdatasync', async () => {
    const { appended, dir, syncs } = await runAppenders('none');
    expectSameRecords(readAll(dir, undefined, { verifyChain: true }).records, appended);
    expect(syncs).toBe(0);
  });

  it('records appended without waiting are all acknowledged by one flush, in append order', async () => {
    const dir = tmp('burst');
    const { writer } = await openJournalWriter(dir, { durability: 'batch', segmentBytes: 8 * 1024, maxBatchBytes: 2048 });
    const pool = recordPool(99, 50);
    const appended: Appended[] = [];
    const promises: Promise<void>[] = [];
    for (let i = 0; i < size(1000, 20000); i++) {
      const { position, durable } = writer.append(pool[i % pool.length]);
      appended.push({ position, record: pool[i % pool.length] });
      promises.push(durable);
    }
    await writer.flush();
    const settled = await Promise.allSettled(promises);
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
    await writer.close();
    const { records } = readAll(dir, undefined, { verifyChain: true });
    expectSameRecords(records, appended);
    // A batch is sealed once it reaches maxBatchBytes: it exceeds it by less than one record.
    const biggest = Math.max(...records.filter((r) => r.record.kind !== 'batch-commit').map((r) => r.size));
    const commits = records.flatMap((r) => (r.record.kind === 'batch-commit' ? [r.record] : []));
    for (const c of commits) expect(c.bytes).toBeLessThan(2048 + biggest);
    expect(commits.length).toBeGreaterThan(1);
  });
});
