import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { currentBootId, OPEN_MARKER_FILE } from '../../src/runtime/open-marker.js';
import { tempDirs } from '../helpers/cli.js';
import { expectLiveIsJournal } from './journal-view.js';

// live.sqlite runs without syncs. After a process crash the OS still has its
// writes and the file is rolled forward; after an OS crash or a power loss it
// may have lost some (pages older than others, in a file that still opens).
// The open marker tells the two apart by the machine's boot id: a marker left
// by an earlier boot makes the next start rebuild the file from a snapshot
// and the journal. A reboot cannot happen in a test, so the test rewrites the
// marker's boot id, and simulates the lost write by setting a row back.

const BANK_APP = path.join(ROOT, 'fixtures', 'apps', 'bank', 'app.ts');
const tmp = tempDirs('windback-open-marker');
let recorder: RecorderProcess | null = null;

afterEach(async () => {
  await recorder?.kill('SIGKILL');
  recorder = null;
});

const ARGS = ['--durability', 'batch', '--snapshot-every', '0'];

interface Killed {
  journal: string;
  /** An account last written long before the kill: roll-forward never touches its row. */
  quiet: string;
  busy: string;
}

/** Two accounts, deposits to one of them, then SIGKILL (the marker stays). */
async function recordAndKill(): Promise<Killed> {
  const journal = tmp();
  recorder = await spawnRecorder(BANK_APP, { journal, args: ARGS });
  const client = new LoadClient(recorder.url);
  const quiet = ((await client.json('/open', { owner: 'quiet', initial: 500 })).value as { id: string }).id;
  const busy = ((await client.json('/open', { owner: 'busy', initial: 100 })).value as { id: string }).id;
  // Past one deferred commit (every 64 transactions), so that the rows are in the file.
  for (let i = 0; i < 80; i++) expect((await client.json('/deposit', { account: busy, amount: 1 })).status).toBe(200);
  client.close();
  await recorder.kill('SIGKILL');
  recorder = null;
  return { journal, quiet, busy };
}

/** What a lost write looks like: the quiet account's row as of an older state, in a file that opens fine. */
function loseWrite(journal: string, account: string): void {
  const db = new Database(path.join(journal, 'live.sqlite'));
  expect(db.prepare('UPDATE accounts SET balance = 7 WHERE id = ?').run(account).changes).toBe(1);
  db.close();
}

async function balanceAfterRestart(journal: string, account: string): Promise<{ balance: number; stderr: string }> {
  recorder = await spawnRecorder(BANK_APP, { journal, args: ARGS });
  const client = new LoadClient(recorder.url);
  const r = await client.json('/balance', { account });
  client.close();
  expect(r.status).toBe(200);
  const stderr = recorder.stderr();
  expect((await recorder.stop()).code).toBe(0);
  recorder = null;
  return { balance: (r.value as { balance: number }).balance, stderr };
}

describe('the live database after the machine went down', () => {
  it('is rebuilt when its open marker is from an earlier boot', { timeout: 60_000 }, async () => {
    const { journal, quiet } = await recordAndKill();
    const markerFile = path.join(journal, OPEN_MARKER_FILE);
    const marker = JSON.parse(fs.readFileSync(markerFile, 'utf8')) as { bootId: string; pid: number };
    expect(marker.bootId).toBe(currentBootId());
    fs.writeFileSync(markerFile, JSON.stringify({ ...marker, bootId: 'an-earlier-boot' }));
    loseWrite(journal, quiet);

    const { balance, stderr } = await balanceAfterRestart(journal, quiet);
    expect(balance).toBe(500);
    expect(stderr).toMatch(
      new RegExp(`database rebuilt: \\d+ transactions from the journal, from an empty database \\(the machine restarted while process ${marker.pid} had it open without syncs`),
    );
    // Closed cleanly: synced, and the marker removed.
    expect(fs.existsSync(markerFile)).toBe(false);
    expectLiveIsJournal(journal, tmp('rebuilt'));
  });

  it('is rebuilt when its open marker is damaged', { timeout: 60_000 }, async () => {
    const { journal, quiet } = await recordAndKill();
    fs.writeFileSync(path.join(journal, OPEN_MARKER_FILE), '\0\0\0\0');
    loseWrite(journal, quiet);
    const { balance, stderr } = await balanceAfterRestart(journal, quiet);
    expect(balance).toBe(500);
    expect(stderr).toContain('(its open marker is damaged, as after an OS crash');
  });

  it('is rolled forward, not rebuilt, after a process crash in this boot, and after a clean stop', { timeout: 60_000 }, async () => {
    const { journal, busy } = await recordAndKill();
    const first = await balanceAfterRestart(journal, busy);
    expect(first.balance).toBe(180);
    expect(first.stderr).toMatch(/database rolled-forward: \d+ transactions from the journal\n/);
    expect(first.stderr).not.toContain('rebuilt');
    // That stop was clean: no marker, and the next start finds the file up to date.
    expect(fs.existsSync(path.join(journal, OPEN_MARKER_FILE))).toBe(false);
    const second = await balanceAfterRestart(journal, busy);
    expect(second.balance).toBe(180);
    expect(second.stderr).not.toContain('database ');
  });
});
