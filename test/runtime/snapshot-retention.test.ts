import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BANK_APP, LoadClient, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import type { SnapshotRecord, SnapshotRemovedRecord } from '../../src/model/records.js';
import { snapshotsToRemove, type RetainedSnapshot } from '../../src/runtime/snapshot-retention.js';
import { logicalDifference, SqliteStore } from '../../src/store/index.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { readJournal, rebuildFromJournal } from './journal-view.js';

// --snapshot-keep: beyond N snapshots, older ones are thinned out. Their
// removal is journaled before the file goes, so no reader ever looks for a
// removed snapshot (no "passed over" warnings), and a state as of any
// transaction is still rebuilt exactly, from an older snapshot or none.

const tmp = tempDirs('windback-snapshot-retention');
let recorder: RecorderProcess | null = null;

afterEach(async () => {
  await recorder?.kill('SIGKILL');
  recorder = null;
});

const snapshotsAt = (txs: number[]): RetainedSnapshot[] => txs.map((tx) => ({ tx, file: `snapshots/tx-${String(tx).padStart(10, '0')}.sqlite` }));

describe('which snapshots retention removes', () => {
  const distinctTxs = fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 0, maxLength: 60 });

  it('leaves at most `keep`, never the newest, and only ones it was given (keep 0: none removed)', () => {
    fc.assert(
      fc.property(distinctTxs, fc.integer({ min: 0, max: 20 }), (txs, keep) => {
        const given = snapshotsAt(txs);
        const removed = snapshotsToRemove(given, keep);
        if (keep === 0 || given.length <= keep) {
          expect(removed).toEqual([]);
          return;
        }
        expect(removed).toHaveLength(given.length - keep);
        expect(new Set(removed).size).toBe(removed.length);
        for (const r of removed) expect(given).toContain(r);
        expect(removed.map((r) => r.tx)).not.toContain(Math.max(...txs));
      }),
    );
  });

  it('does not depend on the order it is given the snapshots in', () => {
    fc.assert(
      fc.property(distinctTxs, fc.integer({ min: 1, max: 20 }), fc.infiniteStream(fc.nat()), (txs, keep, order) => {
        const given = snapshotsAt(txs);
        const shuffled = given.map((s) => [order.next().value, s] as const).sort((a, b) => a[0] - b[0]).map(([, s]) => s);
        const byTx = (list: RetainedSnapshot[]): number[] => list.map((s) => s.tx).sort((a, b) => a - b);
        expect(byTx(snapshotsToRemove(shuffled, keep))).toEqual(byTx(snapshotsToRemove(given, keep)));
      }),
    );
  });

  it('over a long run, keeps the newest dense and spaces older ones ever wider', () => {
    // 2,000 snapshots, one every 1,000 transactions, pruned to 16 after each, as the runtime does.
    let kept: RetainedSnapshot[] = [];
    for (let i = 1; i <= 2000; i++) {
      kept.push(...snapshotsAt([i * 1000]));
      const removed = new Set(snapshotsToRemove(kept, 16));
      kept = kept.filter((s) => !removed.has(s));
    }
    const txs = kept.map((s) => s.tx);
    expect(txs).toHaveLength(16);
    expect(txs.slice(-2)).toEqual([1_999_000, 2_000_000]);
    // Gaps (from the empty database at 0) never shrink with age: each is at least the next newer one.
    const gaps = txs.map((tx, i) => tx - (i === 0 ? 0 : txs[i - 1]));
    for (let i = 0; i + 1 < gaps.length; i++) expect(gaps[i], `gap ${i} of ${gaps.join(', ')}`).toBeGreaterThanOrEqual(gaps[i + 1]);
    // And a state T transactions back is rebuilt from a snapshot at most about 2T further back (states before the oldest: from empty).
    for (let i = 1; i < txs.length - 1; i++) {
      const justBefore = txs[i] - 1;
      expect((justBefore - txs[i - 1]) / (txs[txs.length - 1] - justBefore)).toBeLessThan(2);
    }
  });
});

/** Metrics counter value by name (no labels). */
async function metric(client: LoadClient, name: string): Promise<number> {
  const text = (await client.request('GET', '/_windback/metrics')).body.toString('utf8');
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
}

function snapshotFiles(journal: string): string[] {
  return fs.readdirSync(path.join(journal, 'snapshots')).filter((f) => f.startsWith('tx-')).map((f) => `snapshots/${f}`).sort();
}

function journaledSnapshots(journal: string): { taken: SnapshotRecord[]; removed: SnapshotRemovedRecord[] } {
  const view = readJournal(journal);
  return {
    taken: view.records.flatMap((e) => (e.record.kind === 'snapshot' ? [e.record] : [])),
    removed: view.records.flatMap((e) => (e.record.kind === 'snapshot-removed' ? [e.record] : [])),
  };
}

describe('replay record --snapshot-keep', () => {
  it('removes old snapshots past N, journals each removal, and every state still rebuilds exactly', { timeout: 120_000 }, async () => {
    const journal = tmp();
    recorder = await spawnRecorder(BANK_APP, { journal, args: ['--durability', 'none', '--snapshot-every', '5', '--snapshot-growth', '0', '--snapshot-keep', '3'] });
    const client = new LoadClient(recorder.url);
    const account = ((await client.json('/open', { owner: 'ann', initial: 100 })).value as { id: string }).id;
    for (let i = 1; i <= 40 || ((await metric(client, 'windback_snapshots_removed_total')) < 4 && i <= 800); i++) {
      expect((await client.json('/deposit', { account, amount: i })).status).toBe(200);
    }
    client.close();
    const first = recorder;
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;
    expect(first.stderr()).not.toContain('warning');

    const { taken, removed } = journaledSnapshots(journal);
    expect(removed.length).toBeGreaterThanOrEqual(4);
    for (const r of removed) expect(r).toMatchObject({ reason: 'retention', file: taken.find((t) => t.tx === r.tx)?.file });
    const kept = taken.filter((t) => !removed.some((r) => r.file === t.file));
    expect(kept).toHaveLength(3);
    expect(kept.at(-1)).toEqual(taken.at(-1)); // the newest stays
    expect(snapshotFiles(journal)).toEqual(kept.map((k) => k.file).sort());

    const info = replay(['info', '--json', '--journal', journal]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.json.snapshots).toMatchObject({ count: 3, removed: removed.length, passedOver: [], intact: { tx: kept.at(-1)!.tx } });
    expect(replay(['info', '--journal', journal]).stdout).toContain(`; ${removed.length} older ones removed by retention`);

    // The state as of a removed snapshot's transaction: from an older kept snapshot (or none), without a warning, exactly.
    const view = readJournal(journal);
    const target = removed[removed.length - 1].tx;
    const out = path.join(tmp('restored'), 'db.sqlite');
    const restored = replay(['restore', '--tx', String(target), '--out', out, '--json', '--journal', journal]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toBe('');
    const fromSnapshot = JSON.parse(restored.stdout).fromSnapshot as number | null;
    expect(fromSnapshot === null || (fromSnapshot < target && kept.some((k) => k.tx === fromSnapshot))).toBe(true);
    const expected = rebuildFromJournal({ ...view, writeTxs: view.writeTxs.slice(0, target) }, path.join(tmp('expected'), 'db.sqlite'));
    const actual = SqliteStore.open(out);
    try {
      expect(actual.lastAppliedTx).toBe(target);
      expect(logicalDifference(actual, expected)).toBeNull();
    } finally {
      actual.close();
      expected.close();
    }
  });

  it('applies a lower N at start, and deletes the file of a removal a crash interrupted', { timeout: 120_000 }, async () => {
    const journal = tmp();
    recorder = await spawnRecorder(BANK_APP, { journal, args: ['--durability', 'none', '--snapshot-every', '5', '--snapshot-growth', '0', '--snapshot-keep', '0'] });
    let client = new LoadClient(recorder.url);
    const account = ((await client.json('/open', { owner: 'bo', initial: 5 })).value as { id: string }).id;
    for (let i = 1; i <= 30 || ((await metric(client, 'windback_snapshots_total\\{result="ok"\\}')) < 4 && i <= 600); i++) {
      expect((await client.json('/deposit', { account, amount: 1 })).status).toBe(200);
    }
    client.close();
    expect((await recorder.stop()).code).toBe(0);
    const before = journaledSnapshots(journal);
    expect(before.removed).toEqual([]); // keep 0: all of them stay
    expect(snapshotFiles(journal)).toHaveLength(before.taken.length);

    // Keep 1 now: at start, all but the newest go, with no snapshot needed first.
    recorder = await spawnRecorder(BANK_APP, { journal, args: ['--durability', 'none', '--snapshot-every', '0', '--snapshot-keep', '1'] });
    client = new LoadClient(recorder.url);
    for (let i = 0; (await metric(client, 'windback_snapshots_removed_total')) < before.taken.length - 1; i++) {
      expect(i, 'removals at start').toBeLessThan(100);
      await new Promise((r) => setTimeout(r, 50));
    }
    client.close();
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;
    const newest = before.taken.at(-1)!;
    expect(snapshotFiles(journal)).toEqual([newest.file]);
    const after = journaledSnapshots(journal);
    expect(after.removed.map((r) => r.file).sort()).toEqual(before.taken.slice(0, -1).map((t) => t.file).sort());

    // A crash between a removal record and the file's deletion leaves the file: the next start deletes it.
    const leftOver = path.join(journal, after.removed[0].file);
    fs.copyFileSync(path.join(journal, newest.file), leftOver);
    recorder = await spawnRecorder(BANK_APP, { journal, args: ['--durability', 'none', '--snapshot-every', '0', '--snapshot-keep', '1'] });
    expect(fs.existsSync(leftOver)).toBe(false);
    expect(snapshotFiles(journal)).toEqual([newest.file]);
    const last = recorder;
    const exit = await recorder.stop();
    expect(exit.code, `${exit.signal}: ${last.stderr()}`).toBe(0);
    recorder = null;
    expect(last.stderr()).not.toContain('warning');
  });
});
