import { describe, expect, it } from 'vitest';
import { openJournalWriter } from '../../src/journal/index.js';
import type { Durability } from '../../src/model/records.js';
import { Rng, recordPool } from '../helpers/arbitraries.js';
import { lostRecords, readAll, size, tempDirs, type Appended } from '../helpers/journal.js';
import { sigkill, spawnHelper } from '../helpers/spawn.js';

// A process crash (format section 8: `none` survives it, `batch` and `always`
// survive more): a child process appends in a loop and prints each position
// once its `durable` promise resolved; the parent SIGKILLs it at a random
// moment, then checks that every printed record is in the journal, intact.
// The next child reopens the same journal (taking over the stale LOCK and
// cutting the unsynced tail), so each run piles several kill points up.

const tmp = tempDirs();
const SEED = 31337;
const pool = recordPool(SEED, 64); // the same pool as test/helpers/crash-child.ts draws
const KILLS = size(5, 40);

async function killRepeatedly(durability: Durability, rng: Rng): Promise<{ acknowledged: number; events: string[] }> {
  const dir = tmp(`crash-${durability}`);
  const acknowledged = new Map<number, Appended>();
  const events: string[] = [];
  for (let kill = 0; kill < KILLS; kill++) {
    const segmentBytes = rng.pick([600, 4096, 65536]);
    const child = spawnHelper('crash-child.ts', [dir, durability, String(SEED), String(segmentBytes)]);
    const ready = await child.waitFor(/^ready /);
    const delay = rng.int(5, 120);
    await new Promise((resolve) => setTimeout(resolve, delay));
    await sigkill(child);
    let printed = 0;
    for (const line of child.lines) {
      const match = /^(\d+) (\d+)$/.exec(line);
      if (!match) continue;
      const position = Number(match[1]);
      acknowledged.set(position, { position, record: pool[Number(match[2])] });
      printed++;
    }
    events.push(`kill ${kill}: ${ready}, killed after ${delay} ms, ${printed} acknowledged`);

    const { records, result } = readAll(dir, undefined, { verifyChain: true });
    const lost = lostRecords(records, acknowledged.values());
    expect(lost, `${durability}:\n${events.join('\n')}`).toEqual([]);
    expect(result.corruption).toBeNull();
  }
  // A writer in this process recovers the journal after the last kill, and the chain verifies.
  const { writer } = await openJournalWriter(dir, { durability });
  await writer.close();
  const { records } = readAll(dir, undefined, { verifyChain: true });
  expect(lostRecords(records, acknowledged.values())).toEqual([]);
  return { acknowledged: acknowledged.size, events };
}

describe('a writer process killed with SIGKILL', () => {
  for (const durability of ['batch', 'none'] as const) {
    it(`loses nothing it acknowledged under ${durability}, at ${KILLS} random kill points`, async () => {
      const { acknowledged, events } = await killRepeatedly(durability, new Rng(durability === 'batch' ? 1 : 2));
      expect(acknowledged, events.join('\n')).toBeGreaterThan(KILLS * 5);
    }, 180_000);
  }
});
