import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import type { SnapshotRecord } from '../../src/model/records.js';
import { SqliteStore } from '../../src/store/index.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { expectLiveIsJournal, readJournal } from './journal-view.js';

// The live database is lost (or ahead of the journal) and must be rebuilt
// from a snapshot plus the journal, but the latest snapshots are damaged or
// gone. A snapshot is never trusted past its recorded hash and never needed:
// `replay record` passes over the bad ones with a warning each, starts from
// the latest intact one (or an empty database), and serves the journal's
// state. `replay state` takes the same snapshot.

const BANK_APP = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
const tmp = tempDirs('windback-snapshot-rebuild');
let recorder: RecorderProcess | null = null;

afterEach(async () => {
  await recorder?.kill('SIGKILL');
  recorder = null;
});

interface Recorded {
  journal: string;
  snapshots: SnapshotRecord[];
  lastTx: number;
  account: string;
  balance: number;
}

/**
 * Deposits under `replay record` with a snapshot every `every` transactions,
 * until at least `snapshots` were taken (a snapshot due while another is
 * being copied waits, so a loaded machine takes fewer); then a clean stop.
 */
async function record(every = 15, snapshots = 3): Promise<Recorded> {
  const journal = tmp();
  recorder = await spawnRecorder(BANK_APP, { journal, args: ['--durability', 'none', '--snapshot-every', String(every), '--snapshot-growth', '0'] });
  const client = new LoadClient(recorder.url);
  const opened = await client.json('/open', { owner: 'ann', initial: 100 });
  const account = (opened.value as { id: string }).id;
  let balance = 100;
  const taken = async (): Promise<number> => {
    const text = (await client.request('GET', '/_windback/metrics')).body.toString('utf8');
    return Number(/^windback_snapshots_total\{result="ok"\} (\d+)$/m.exec(text)?.[1]);
  };
  for (let i = 1; i <= 60 || ((await taken()) < snapshots && i <= 600); i++) {
    const r = await client.json('/deposit', { account, amount: i });
    expect(r.status).toBe(200);
    balance += i;
  }
  client.close();
  expect((await recorder.stop()).code).toBe(0);
  recorder = null;
  const view = readJournal(journal);
  const recorded = view.records.flatMap((e) => (e.record.kind === 'snapshot' ? [e.record] : []));
  expect(recorded.length, 'snapshots taken').toBeGreaterThanOrEqual(snapshots);
  return { journal, snapshots: recorded, lastTx: view.writeTxs.length, account, balance };
}

function flipByte(file: string, at: number): void {
  const bytes = fs.readFileSync(file);
  bytes[at] ^= 0x40;
  fs.writeFileSync(file, bytes);
}

/** Start on the damaged directory; the live state must be the journal's, with the balance the deposits made. */
async function restartAndCheck(rec: Recorded): Promise<string> {
  recorder = await spawnRecorder(BANK_APP, { journal: rec.journal, args: ['--durability', 'none', '--snapshot-every', '0'] });
  const stderr = recorder.stderr();
  const client = new LoadClient(recorder.url);
  const r = await client.json('/balance', { account: rec.account });
  client.close();
  expect(r.status).toBe(200);
  expect((r.value as { balance: number }).balance).toBe(rec.balance);
  expect((await recorder.stop()).code).toBe(0);
  recorder = null;
  expectLiveIsJournal(rec.journal, tmp('rebuilt'));
  return stderr;
}

describe('rebuilding the live database past damaged snapshots', () => {
  it('passes over a snapshot whose bytes no longer match its hash, and one whose file is gone, and starts from the next intact one', { timeout: 90_000 }, async () => {
    const rec = await record();
    const [older, previous, latest] = rec.snapshots.slice(-3);
    flipByte(path.join(rec.journal, latest.file), 5000);
    fs.rmSync(path.join(rec.journal, previous.file));
    fs.rmSync(path.join(rec.journal, 'live.sqlite'));

    // `replay info` says so before anything is started.
    const info = replay(['info', '--json', '--journal', rec.journal]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.json.snapshots).toEqual({
      count: rec.snapshots.length,
      removed: 0,
      intact: { tx: older.tx, file: older.file, bytes: older.bytes },
      passedOver: [
        { tx: latest.tx, file: latest.file, why: expect.stringMatching(/^its bytes have SHA-256 [0-9a-f]{64}, but [0-9a-f]{64} was recorded$/) },
        { tx: previous.tx, file: previous.file, why: 'its file is missing' },
      ],
    });
    const human = replay(['info', '--journal', rec.journal]).stdout;
    expect(human).toContain(`snapshots     ${rec.snapshots.length}; a rebuild starts from tx ${older.tx} (${older.file}, `);
    expect(human).toContain(`passed over: ${previous.file} (tx ${previous.tx}): its file is missing`);

    const stderr = await restartAndCheck(rec);
    expect(stderr).toMatch(new RegExp(`warning: snapshot ${latest.file} \\(transaction ${latest.tx}\\) passed over: its bytes have SHA-256 [0-9a-f]{64}, but ${latest.sha256} was recorded`));
    expect(stderr).toContain(`warning: snapshot ${previous.file} (transaction ${previous.tx}) passed over: its file is missing`);
    expect(stderr).toContain(`database rebuilt: ${rec.lastTx - older.tx} transactions from the journal after the snapshot at transaction ${older.tx} (its file was missing)`);
    expect(stderr).not.toContain('Error:');

    // Replay chooses the same snapshot for a state as of the last transaction.
    const restored = replay(['restore', '--tx', String(rec.lastTx), '--out', path.join(tmp('restored'), 'db.sqlite'), '--json', '--journal', rec.journal]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ tx: rec.lastTx, fromSnapshot: older.tx });
  });

  it('rebuilds from an empty database and the whole journal when no snapshot is intact', { timeout: 90_000 }, async () => {
    const rec = await record(6, 7);
    for (const s of rec.snapshots) flipByte(path.join(rec.journal, s.file), 100);
    // `replay info` lists the latest five it would pass over, and counts the rest.
    const human = replay(['info', '--journal', rec.journal]).stdout;
    expect(human).toContain(`snapshots     ${rec.snapshots.length}; none intact: a rebuild starts from an empty database`);
    expect(human.split('\n').filter((l) => l.includes('passed over: '))).toHaveLength(5);
    expect(human).toContain(`and ${rec.snapshots.length - 5} earlier ones passed over (--json lists them)`);
    // A database ahead of the journal is not trusted either: here, one with a transaction the journal never had.
    const live = SqliteStore.open(path.join(rec.journal, 'live.sqlite'));
    live.applyChanges(rec.lastTx + 1, []);
    live.close();

    const stderr = await restartAndCheck(rec);
    for (const s of rec.snapshots) expect(stderr).toContain(`warning: snapshot ${s.file} (transaction ${s.tx}) passed over: its bytes have SHA-256`);
    expect(stderr).toContain(
      `database rebuilt: ${rec.lastTx} transactions from the journal, from an empty database (the database had applied transaction ${rec.lastTx + 1}, but the journal ends at ${rec.lastTx})`,
    );
  });
});
