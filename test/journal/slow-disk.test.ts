import { describe, expect, it } from 'vitest';
import { nodeFileLayer, openJournalWriter } from '../../src/journal/index.js';
import { recordPool } from '../helpers/arbitraries.js';
import { withSlowSyncs } from '../helpers/faulty-layer.js';
import { readAll, tempDirs, withoutCommits } from '../helpers/journal.js';

// Under `batch` the group commit's fdatasync runs on the event loop (two
// thread hand-offs cheaper) only while syncs are fast. On a disk whose syncs
// take milliseconds it would stop the server for each one, so once the recent
// syncs average over the limit (1 ms by default) they go to the thread pool,
// and come back once they average under half of it.

const tmp = tempDirs();
const pool = recordPool(99, 40);

describe('batch syncs on a slow disk', () => {
  it('moves the group commit fdatasync off the event loop while syncs are slow, and back once they are fast', { timeout: 30_000 }, async () => {
    const dir = tmp();
    let delayMs = 0;
    const calls: ('datasync' | 'datasyncSync')[] = [];
    const { writer } = await openJournalWriter(dir, { durability: 'batch', layer: withSlowSyncs(nodeFileLayer, () => delayMs, calls) });
    const appendOne = async (i: number): Promise<void> => {
      await writer.append(pool[i % pool.length]).durable;
    };
    // Appends on a fast disk until the preallocated zeros written at open are
    // synced: from there on, every sync is a group commit's.
    let i = 0;
    for (let n = 0; n < 3; n++) await appendOne(i++);
    calls.length = 0;
    const statsAtStart = { ...writer.stats };
    delayMs = 5;

    // 5 ms syncs: the moving average (weight 1/8) passes 1 ms at the second,
    // or at the first when the wait overshot to 8 ms or more (a loaded machine).
    for (let n = 0; n < 12; n++, i++) await appendOne(i);
    const slow = calls.splice(0);
    const firstOnPool = slow.indexOf('datasync');
    expect(slow[0], 'the first sync, before the average shows a slow disk').toBe('datasyncSync');
    expect([1, 2], `the thread pool from the second or third sync: ${slow.join(' ')}`).toContain(firstOnPool);
    expect(slow.slice(firstOnPool).every((c) => c === 'datasync'), `then only the thread pool: ${slow.join(' ')}`).toBe(true);
    expect(slow.length).toBeGreaterThanOrEqual(12);
    expect(writer.stats.threadPoolSyncs - statsAtStart.threadPoolSyncs).toBe(slow.filter((c) => c === 'datasync').length);

    // While a sync is slow, the event loop keeps turning: a timer set before an
    // append fires before that append's 5 ms sync is done.
    let fired = false;
    setTimeout(() => (fired = true), 1);
    await appendOne(i++);
    expect(fired, 'a 1 ms timer fired during a 5 ms thread-pool sync').toBe(true);
    calls.length = 0;

    // The disk is fast again: back on the event loop once the average is under 0.5 ms.
    delayMs = 0;
    for (let n = 0; n < 60; n++, i++) await appendOne(i);
    const fast = calls.splice(0);
    expect(fast.at(-1), `syncs after the disk became fast: ${fast.join(' ')}`).toBe('datasyncSync');
    const back = fast.indexOf('datasyncSync');
    expect(fast.slice(back).every((c) => c === 'datasyncSync'), 'and it stays there').toBe(true);
    await writer.close();

    // Nothing was lost along the way.
    expect(withoutCommits(readAll(dir).records)).toHaveLength(i);
  });

  it('does not leave the event loop because thread-pool syncs looked slow: their time includes the event loop being busy', { timeout: 30_000 }, async () => {
    const dir = tmp();
    const calls: ('datasync' | 'datasyncSync')[] = [];
    // The disk is fast; a sync on the thread pool comes back late (its callback waits for a busy loop).
    const { writer } = await openJournalWriter(dir, { durability: 'batch', layer: withSlowSyncs(nodeFileLayer, () => 0, calls, () => 10) });
    // Appends one turn apart: while the zeros written at open are synced, and
    // then while a sync is in flight, their group commits go to the thread pool.
    const durables: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      durables.push(writer.append(pool[i % pool.length]).durable);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(durables);
    // The zeros' sync, and at least one group commit's (10 ms: alone, over the 1 ms average).
    expect(calls.filter((c) => c === 'datasync').length, calls.join(' ')).toBeGreaterThanOrEqual(2);
    calls.length = 0;
    for (let i = 0; i < 20; i++) await writer.append(pool[i % pool.length]).durable;
    await writer.close();
    expect(calls).toEqual(new Array(20).fill('datasyncSync'));
  });

  it('keeps syncs on the event loop on a fast disk', { timeout: 30_000 }, async () => {
    const dir = tmp();
    const calls: ('datasync' | 'datasyncSync')[] = [];
    const { writer } = await openJournalWriter(dir, { durability: 'batch', layer: withSlowSyncs(nodeFileLayer, () => 0, calls) });
    for (let i = 0; i < 3; i++) await writer.append(pool[i]).durable; // past the zeros written at open
    calls.length = 0;
    for (let i = 0; i < 30; i++) await writer.append(pool[i % pool.length]).durable;
    await writer.close();
    expect(calls).toEqual(new Array(30).fill('datasyncSync'));
  });
});
