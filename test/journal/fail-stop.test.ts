import { describe, expect, it } from 'vitest';
import { nodeFileLayer, openJournalWriter } from '../../src/journal/index.js';
import type { JournalWriter } from '../../src/journal/writer.js';
import { JournalFailedError } from '../../src/model/errors.js';
import type { Durability } from '../../src/model/records.js';
import { recordPool } from '../helpers/arbitraries.js';
import { FaultyLayer, errno, type Faults } from '../helpers/faulty-layer.js';
import { lostRecords, readAll, rejection, tempDirs, thrown, type Appended } from '../helpers/journal.js';
import { PowerLossFs } from '../helpers/power-loss-layer.js';

// Fail-stop (format section 8): after a failed write, a full disk or a failed
// fdatasync the writer acknowledges nothing more, rejects every pending and
// later append with E_JOURNAL_FAILED (exit 74), never retries the fsync, and
// everything it did acknowledge is durable.

const tmp = tempDirs();
const pool = recordPool(777, 64);

interface Tracked extends Appended {
  status: 'pending' | 'acknowledged' | 'rejected';
  error?: unknown;
}

/** 16 appenders, half awaiting each record, half appending in bursts, until append throws. */
async function appendUntilFailure(writer: JournalWriter): Promise<{ tracked: Tracked[]; appendErrors: unknown[] }> {
  const tracked: Tracked[] = [];
  const appendErrors: unknown[] = [];
  const loop = async (id: number): Promise<void> => {
    for (let i = 0; i < 3000; i++) {
      const burst = id % 2 === 0 ? 1 : 3;
      const durables: Promise<void>[] = [];
      for (let b = 0; b < burst; b++) {
        const record = pool[(id * 7 + i * 3 + b) % pool.length];
        let appended;
        try {
          appended = writer.append(record);
        } catch (error) {
          appendErrors.push(error);
          return;
        }
        const entry: Tracked = { position: appended.position, record, status: 'pending' };
        tracked.push(entry);
        appended.durable.then(
          () => (entry.status = 'acknowledged'),
          (error: unknown) => {
            entry.status = 'rejected';
            entry.error = error;
          },
        );
        durables.push(appended.durable);
      }
      await Promise.allSettled(durables);
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, id) => loop(id)));
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { tracked, appendErrors };
}

interface Scenario {
  name: string;
  durabilities: Durability[];
  faults: Faults;
  /** A phrase the failure message must contain. */
  message: RegExp;
}

const scenarios: Scenario[] = [
  {
    name: 'the disk is full (ENOSPC) in the middle of a write',
    durabilities: ['none', 'batch', 'always'],
    faults: { write: ({ index, length }) => (index === 40 ? { error: errno('ENOSPC', 'no space left on device'), partial: length >> 1 } : null) },
    message: /disk is full/,
  },
  {
    name: 'fdatasync fails (EIO)',
    durabilities: ['batch', 'always'],
    faults: { datasync: ({ index }) => (index === 12 ? errno('EIO', 'i/o error') : null) },
    message: /EIO/,
  },
  {
    name: 'the next segment cannot be created (ENOSPC)',
    durabilities: ['none', 'batch', 'always'],
    faults: { open: ({ file, mode }) => (mode === 'create' && file.endsWith('00000003.wbj') ? errno('ENOSPC', 'no space left on device') : null) },
    message: /disk is full/,
  },
  {
    name: 'the directory sync after a new segment fails',
    durabilities: ['batch', 'always'],
    faults: { syncDir: ({ index }) => (index === 2 ? errno('EIO', 'directory sync failed') : null) },
    message: /directory sync failed/,
  },
];

async function checkFailStop(writer: JournalWriter, layer: FaultyLayer, scenario: Scenario): Promise<Tracked[]> {
  const { tracked, appendErrors } = await appendUntilFailure(writer);
  const failure = writer.failed;
  expect(failure, 'the writer must have failed').toBeInstanceOf(JournalFailedError);
  expect(failure!.exitCode).toBe(74);
  expect(failure!.code).toBe('E_JOURNAL_FAILED');
  expect(failure!.message).toMatch(scenario.message);

  // Every promise settled; the ones not acknowledged were rejected with the failure.
  expect(tracked.filter((t) => t.status === 'pending')).toEqual([]);
  const rejected = tracked.filter((t) => t.status === 'rejected');
  expect(rejected.length).toBeGreaterThan(0);
  expect(tracked.filter((t) => t.status === 'acknowledged').length).toBeGreaterThan(0);
  for (const t of rejected) expect(t.error).toBe(failure);

  // Later appends throw, flush and close reject, all with the same failure.
  expect(appendErrors.length).toBe(16);
  for (const e of appendErrors) expect(e).toBe(failure);
  expect(thrown(() => writer.append(pool[0]))).toBe(failure);
  expect(await rejection(writer.flush())).toBe(failure);
  expect(await rejection(writer.close())).toBe(failure);

  // Nothing was written or synced after the first failed call: a failed fsync is never retried.
  const after = layer.callsAfterFirstFailure();
  expect(after.filter((c) => c.op === 'datasync' || c.op === 'datasyncSync' || c.op === 'write' || c.op === 'syncDir')).toEqual([]);
  return tracked;
}

describe('fail-stop on I/O errors', () => {
  for (const scenario of scenarios) {
    for (const durability of scenario.durabilities) {
      it(`when ${scenario.name} under ${durability}, pending appends reject with E_JOURNAL_FAILED and nothing more is acknowledged`, async () => {
        const dir = tmp('failstop');
        const fs = new PowerLossFs();
        fs.mkdir(dir);
        const layer = new FaultyLayer(fs.view(), scenario.faults);
        // Small batches: several are sealed per turn, so some are still pending when the failure comes.
        const { writer } = await openJournalWriter(dir, { layer, durability, segmentBytes: 1500, maxBatchBytes: 300 });
        const tracked = await checkFailStop(writer, layer, scenario);
        const acknowledged = tracked.filter((t) => t.status === 'acknowledged');

        // What was acknowledged survives: a power loss under batch and always, a crash under none.
        if (durability === 'none') fs.crash();
        else fs.powerLoss('drop');
        const { writer: reopened } = await openJournalWriter(dir, { layer: fs.view() });
        await reopened.close();
        const { records } = readAll(dir, fs.view(), { verifyChain: true });
        expect(lostRecords(records, acknowledged)).toEqual([]);
      });
    }
  }

  it('on a slow disk (every group commit synced on the thread pool, several in flight), no fdatasync starts after one failed', async () => {
    // Syncs chained on the thread pool: the next one's wait for the failed one
    // can end before the code that awaits the failed one runs. It must still not start.
    for (let round = 0; round < 5; round++) {
      const dir = tmp('failstop-slow');
      const fs = new PowerLossFs();
      fs.mkdir(dir);
      const layer = new FaultyLayer(fs.view(), scenarios[1].faults);
      const { writer } = await openJournalWriter(dir, { layer, durability: 'batch', segmentBytes: 1500, maxBatchBytes: 300, inlineSyncLimitMicros: 0 });
      const tracked = await checkFailStop(writer, layer, scenarios[1]);
      fs.powerLoss('drop');
      const { writer: reopened } = await openJournalWriter(dir, { layer: fs.view() });
      await reopened.close();
      const { records } = readAll(dir, fs.view(), { verifyChain: true });
      expect(lostRecords(records, tracked.filter((t) => t.status === 'acknowledged'))).toEqual([]);
    }
  });

  it('on a real disk, a failed fdatasync under batch stops the writer and the journal reopens with every acknowledged record', async () => {
    const dir = tmp('failstop-disk');
    const scenario = scenarios[1];
    const layer = new FaultyLayer(nodeFileLayer, scenario.faults);
    const { writer } = await openJournalWriter(dir, { layer, durability: 'batch', segmentBytes: 1500, maxBatchBytes: 300 });
    const tracked = await checkFailStop(writer, layer, scenario);
    const { writer: reopened } = await openJournalWriter(dir);
    await reopened.close();
    const { records } = readAll(dir, undefined, { verifyChain: true });
    expect(lostRecords(records, tracked.filter((t) => t.status === 'acknowledged'))).toEqual([]);
  });
});
