import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openJournalWriter, type FileLayer } from '../../src/journal/index.js';
import type { Durability } from '../../src/model/records.js';
import { Rng, recordPool } from '../helpers/arbitraries.js';
import { withoutSyncs } from '../helpers/faulty-layer.js';
import { lostRecords, readAll, size, tempDirs, turns, type Appended } from '../helpers/journal.js';
import { POWER_LOSS_MODES, PowerLossFs, type PowerLossMode } from '../helpers/power-loss-layer.js';

// Power loss (format section 8): under `batch` and `always`, a record whose
// promise resolved survives a power cut at any moment, whatever the disk did
// with the writes that were not yet synced. The writer runs over PowerLossFs
// (test/helpers/power-loss-layer.ts), which forgets what was not fdatasynced
// (file data) or directory-synced (new and removed files).

const tmp = tempDirs();
const pool = recordPool(4242, 80);

interface CampaignOptions {
  seed: number;
  durability: Durability;
  epochs: number;
  modes: readonly PowerLossMode[];
  /** Also end some epochs with a process crash instead of a power cut. */
  crashes: boolean;
  /** Wrap the layer the writer sees (to break it on purpose). */
  wrap?: (layer: FileLayer) => FileLayer;
}

interface CampaignResult {
  /** Acknowledged records missing or altered after some reboot. */
  lost: string[];
  acknowledged: number;
  events: string[];
}

async function campaign(options: CampaignOptions): Promise<CampaignResult> {
  const rng = new Rng(options.seed);
  const disk = new PowerLossFs(new Rng(options.seed + 1));
  const dir = tmp('power');
  disk.mkdir(dir);
  const wrap = options.wrap ?? ((layer: FileLayer) => layer);
  const acknowledged = new Map<number, Appended>();
  const events: string[] = [];

  const check = (): string[] => {
    try {
      const { records } = readAll(dir, disk.view(), { verifyChain: true });
      return lostRecords(records, acknowledged.values());
    } catch (error) {
      return [`the journal cannot be read: ${(error as Error).message}`];
    }
  };

  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const segmentBytes = rng.pick([250, 600, 1500, 8000]);
    // Preallocated space too, in steps a segment can hold or not (then there is none).
    const preallocateBytes = rng.pick([0, 128, 700, 4096]);
    let opened;
    try {
      opened = await openJournalWriter(dir, {
        layer: wrap(disk.view()),
        durability: options.durability,
        segmentBytes,
        maxBatchBytes: rng.pick([200, 2000, 1 << 20]),
        preallocateBytes,
      });
    } catch (error) {
      return { lost: [`the journal cannot be opened: ${(error as Error).message}`], acknowledged: acknowledged.size, events };
    }
    const { writer, recovery } = opened;
    events.push(`epoch ${epoch}: segments of ${segmentBytes} bytes, preallocating ${preallocateBytes}, recovered ${recovery.truncatedBytes} bytes`);
    const lost = check();
    if (lost.length > 0) {
      await writer.close().catch(() => {});
      return { lost, acknowledged: acknowledged.size, events };
    }

    let down = false;
    const appender = async (): Promise<void> => {
      while (!down) {
        const record = pool[rng.int(0, pool.length - 1)];
        let appended;
        try {
          appended = writer.append(record);
        } catch {
          return; // the writer failed: the machine went down under it
        }
        const { position } = appended;
        appended.durable.then(
          () => {
            if (!down) acknowledged.set(position, { position, record });
          },
          () => {},
        );
        if (rng.chance(0.6)) await appended.durable.catch(() => {});
        else await turns(rng.int(0, 2));
      }
    };
    const appenders = Array.from({ length: rng.int(1, 12) }, () => appender());
    await turns(rng.int(1, 80));

    down = true;
    if (options.crashes && rng.chance(0.3)) {
      disk.crash();
      events.push(`epoch ${epoch}: process crash`);
    } else {
      const report = disk.powerLoss(rng.pick(options.modes), new Rng(rng.int(0, 2 ** 31)));
      events.push(`epoch ${epoch}: power loss ${JSON.stringify(report)}`);
    }
    // A writer that never notices the machine went down would hang its appenders: report it.
    const settled = await Promise.race([
      Promise.all(appenders).then(() => writer.close().catch(() => {})).then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
    ]);
    if (!settled) return { lost: ['the writer hung after the machine went down'], acknowledged: acknowledged.size, events };
  }

  const { writer } = await openJournalWriter(dir, { layer: disk.view(), durability: options.durability });
  await writer.close();
  return { lost: check(), acknowledged: acknowledged.size, events };
}

const SEEDS = size(8, 250);
const EPOCHS = size(6, 12);

describe('power loss', () => {
  for (const durability of ['batch', 'always'] as const) {
    it(`under ${durability}, nothing acknowledged is lost after power cuts and crashes at random moments`, async () => {
      let acknowledged = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const result = await campaign({ seed, durability, epochs: EPOCHS, modes: POWER_LOSS_MODES, crashes: true });
        expect(result.lost, `seed ${seed}:\n${result.events.join('\n')}`).toEqual([]);
        acknowledged += result.acknowledged;
      }
      expect(acknowledged).toBeGreaterThan(SEEDS * 20);
    }, 120_000);
  }

  it('the check has teeth: a writer whose syncs do nothing loses acknowledged records', async () => {
    let caught = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const result = await campaign({ seed, durability: 'batch', epochs: 3, modes: ['drop'], crashes: false, wrap: withoutSyncs });
      if (result.lost.length > 0) caught++;
    }
    expect(caught).toBe(4);
  });

  it('the check has teeth: a writer acknowledging under none loses records to a power cut', async () => {
    const result = await campaign({ seed: 9, durability: 'none', epochs: 3, modes: ['drop'], crashes: false });
    expect(result.lost.length).toBeGreaterThan(0);
  });

  it('a writer reopened after a crash makes the earlier unsynced segments durable before it acknowledges anything', async () => {
    const dir = tmp('crash-then-power');
    const disk = new PowerLossFs();
    disk.mkdir(dir);
    // A first writer (durability none) fills several segments and dies: all of it is in the page cache only.
    const first = await openJournalWriter(dir, { layer: disk.view(), durability: 'none', segmentBytes: 400 });
    for (const record of pool.slice(0, 20)) await first.writer.append(record).durable;
    disk.crash();
    await first.writer.close().catch(() => {});
    // A second writer (durability batch) acknowledges a record; then the power goes.
    const second = await openJournalWriter(dir, { layer: disk.view(), durability: 'batch', segmentBytes: 400 });
    const a = second.writer.append(pool[21]);
    await a.durable;
    disk.powerLoss('drop');
    await second.writer.close().catch(() => {});
    const { records } = readAll(dir, disk.view(), { verifyChain: true });
    expect(lostRecords(records, [{ position: a.position, record: pool[21] }])).toEqual([]);
  });

  it('while a new segment is not yet durable, the writer does not start another one', async () => {
    // Hold every fdatasync until released: the first segment's creation stays unsynced meanwhile.
    const dir = tmp('rotation-gate');
    const disk = new PowerLossFs();
    disk.mkdir(dir);
    const view = disk.view();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const layer: FileLayer = {
      ...view,
      open(file, mode) {
        const real = view.open(file, mode);
        return {
          path: real.path,
          write: (data, position) => real.write(data, position),
          read: (into, offset, length, position) => real.read(into, offset, length, position),
          datasync: async () => {
            await held;
            await real.datasync();
          },
          datasyncSync: () => real.datasyncSync(),
          size: () => real.size(),
          truncate: (length) => real.truncate(length),
          close: () => real.close(),
        };
      },
    };
    // Syncs on the thread pool, so that holding them holds the writer (an inline sync cannot wait).
    const { writer } = await openJournalWriter(dir, { layer, durability: 'batch', segmentBytes: 300, maxBatchBytes: 1, inlineSync: false });
    const durables = pool.slice(0, 30).map((record) => writer.append(record).durable);
    await turns(10);
    // Each record was sealed and written at once (maxBatchBytes 1), far past 300 bytes, yet no rotation.
    expect([...disk.files(dir).keys()]).toEqual(['00000001.wbj']);
    expect(disk.readFile(path.join(dir, '00000001.wbj')).length).toBeGreaterThan(1000);
    // Once segment 1 is durable, the next batch written starts segment 2.
    release();
    await Promise.all(durables);
    await writer.append(pool[31]).durable;
    expect([...disk.files(dir).keys()]).toEqual(['00000001.wbj', '00000002.wbj']);
    await writer.close();
    expect(readAll(dir, disk.view(), { verifyChain: true }).result.records).toBe(31);
  });

  it('a writer creating a journal syncs the new segment and the directory before acknowledging', async () => {
    for (const durability of ['batch', 'always'] as const) {
      const dir = tmp('create');
      const disk = new PowerLossFs();
      disk.mkdir(dir);
      const { writer } = await openJournalWriter(dir, { layer: disk.view(), durability });
      const a = writer.append(pool[0]);
      await a.durable;
      disk.powerLoss('drop');
      await writer.close().catch(() => {});
      expect(lostRecords(readAll(dir, disk.view()).records, [{ position: a.position, record: pool[0] }])).toEqual([]);
    }
  });

  it('the journal directory holds only the LOCK on the real disk: segments live in PowerLossFs', async () => {
    // Guards the premise of this file: the writer really writes through the layer it is given.
    const dir = tmp('premise');
    const disk = new PowerLossFs();
    disk.mkdir(dir);
    const { writer } = await openJournalWriter(dir, { layer: disk.view() });
    await writer.append(pool[0]).durable;
    expect(fs.readdirSync(dir)).toEqual(['LOCK']);
    await writer.close();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect([...disk.files(dir).keys()]).toEqual(['00000001.wbj']);
    expect(path.isAbsolute(dir)).toBe(true);
  });
});
