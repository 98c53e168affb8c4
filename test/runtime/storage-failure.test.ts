import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BANK_APP, BIN, LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { Rng } from '../helpers/arbitraries.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { LONG, size } from '../helpers/journal.js';
import { expectLiveIsJournal } from './journal-view.js';

// The live database is a cache of the journal. When the storage under it
// fails (a full disk, a file-size limit, an I/O error), that is not the
// session's doing: nothing about it may be journaled as the session's
// outcome, or replay could never equal the recording. The server stops
// instead (503, exit 74), and the next start brings the database up to date
// from the journal.
//
// A file-size limit (RLIMIT_FSIZE, set on the running server with prlimit)
// stands in for a full disk: it needs no privileges, and a write past it
// fails the same way (EFBIG; SQLite reports an I/O error). The app stores
// each row's text seven times in the database and once in the journal, so the
// database meets the limit first. Its transaction catches the failed insert
// and answers, as apps do with constraint errors.

const APP = path.join(ROOT, 'fixtures', 'apps', 'bulky', 'app.ts');
const LIMIT = 2_000_000;
const tmp = tempDirs('windback-storage-failure');
let recorder: RecorderProcess | null = null;

afterEach(async () => {
  await recorder?.kill('SIGKILL');
  recorder = null;
});

describe('the live database fails under the server', () => {
  it('503 and exit 74, no session ends in error, and after a restart every session replays equal', { timeout: 120_000 }, async () => {
    const journal = tmp();
    recorder = await spawnRecorder(APP, { journal, args: ['--durability', 'none', '--snapshot-every', '0'] });
    execFileSync('prlimit', ['--pid', String(recorder.pid), `--fsize=${LIMIT}`]);
    const client = new LoadClient(recorder.url);
    const acknowledged: number[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 3000; i++) {
      let r;
      try {
        r = await client.json('/note', { size: 1000 });
      } catch {
        break; // the server exited
      }
      statuses.push(r.status);
      if (r.status === 200) {
        expect(r.value).toMatchObject({ status: 'stored' });
        acknowledged.push(r.session!);
      }
      if (r.status !== 200) break;
    }
    client.close();
    const first = recorder;
    // It stopped on the database, with a 503, and answered nothing else but 200s before.
    expect(statuses.at(-1), first.stderr()).toBe(503);
    expect(statuses.slice(0, -1).every((s) => s === 200)).toBe(true);
    expect(acknowledged.length).toBeGreaterThan(50);
    const exit = await Promise.race([first.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000))]);
    expect(exit?.code, first.stderr()).toBe(74);
    recorder = null;
    const fatal = first.stderr().split('\n').filter((line) => line.startsWith('fatal:'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(/live\.sqlite failed: .*\(SQLITE_(IOERR|FULL)\w*\); the journal holds everything acknowledged/);
    expect(first.stderr()).not.toMatch(/^\s+at /m);
    const segment = path.join(journal, '00000001.wbj');
    expect(fs.statSync(segment).size).toBeLessThan(LIMIT);

    // Without the limit, the next start rebuilds the database (a file that
    // failed is not trusted) and resumes what was running.
    recorder = await spawnRecorder(APP, { journal, args: ['--durability', 'none', '--snapshot-every', '0'] });
    const again = new LoadClient(recorder.url);
    const count = await again.json('/count', {});
    again.close();
    const second = recorder;
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;
    expect(second.stderr()).toMatch(/database rebuilt: \d+ transactions from the journal.* \(process \d+ stopped because the database failed under it: [^\n]*\(SQLITE_(IOERR|FULL)\w*\); a file that failed is not trusted\)/);

    const sessions = replay(['sessions', '-j', journal, '--json']);
    expect(sessions.code, sessions.stderr).toBe(0);
    const list = sessions.json as { id: number; kind: string; status: string }[];
    const byId = new Map(list.map((s) => [s.id, s]));
    for (const id of acknowledged) expect(byId.get(id)?.status).toBe('ok');
    expect(list.filter((s) => s.status !== 'ok')).toEqual([]);
    // Every stored note is in the database, the one in flight at the failure resumed and stored too.
    const notes = list.filter((s) => s.kind === 'note').length;
    expect(count.value).toEqual({ n: notes });

    const verify = replay(['verify', '-j', journal]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain(`${list.length} sessions replayed: ${list.length} equal`);
  });

  it('a journal that cannot preallocate its segment fails the start, not the first request: one line, exit 74, the journal intact', { timeout: 60_000 }, () => {
    const journal = tmp();
    // Batch mode writes 1 MiB of zeros ahead of the records before it listens; the limit is half that.
    const start = spawnSync('prlimit', ['--fsize=500000', '--', process.execPath, BIN, 'record', APP, '--port', '0', '--journal', journal], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 30_000,
    });
    expect(start.status, start.stderr).toBe(74);
    expect(start.stderr).not.toContain('listening on');
    const lines = start.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe(
      `replay: cannot start: a file in ${journal} would pass this process's file-size limit (EFBIG; see ulimit -f); raise it and start again: the journal and everything it acknowledged are intact`,
    );
    expect(start.stderr).not.toMatch(/^\s+at /m);
    const info = replay(['info', '-j', journal, '--json']);
    expect(info.code, info.stderr).toBe(0);
    expect(info.json).toMatchObject({ integrity: 'ok', tornTailBytes: 0 });
  });

  // The campaign: runs of a recorder that end when a file meets a random
  // file-size limit, under concurrent load, each followed by a restart
  // without the limit. The bulky app's database meets it first, the bank's
  // journal does; the limit lands anywhere (a batch, a rotation of the live
  // file's WAL, a snapshot, a preallocation). After each restart: every
  // acknowledged session is in the journal and ended ok, no session ended in
  // error, the live database equals the journal's, and every session replays
  // equal. WINDBACK_LONG=1 runs the full size.
  const RUNS = size(2, 40);
  it(`${RUNS} runs stopped by a file-size limit at random points: nothing acknowledged is lost, and every session replays equal`, { timeout: LONG ? 1_500_000 : 120_000 }, async () => {
    const rng = new Rng(20261128);
    const journals = { bulky: tmp('bulky'), bank: tmp('bank') };
    const acknowledged = { bulky: new Set<number>(), bank: new Set<number>() };
    for (let run = 0; run < RUNS; run++) {
      const which = run % 2 === 0 ? 'bulky' : 'bank';
      const journal = journals[which];
      const app = which === 'bulky' ? APP : BANK_APP;
      const args = ['--durability', rng.pick(['none', 'batch']), '--snapshot-every', String(rng.pick([0, 50, 200]))];
      const config = which === 'bank' ? { fraudUrl: 'http://127.0.0.1:1' } : undefined;
      recorder = await spawnRecorder(app, { journal, args, config });
      const largest = Math.max(...fs.readdirSync(journal, { recursive: true }).map((f) => fs.statSync(path.join(journal, String(f))).size));
      const limit = largest + rng.int(50_000, 1_500_000);
      execFileSync('prlimit', ['--pid', String(recorder.pid), `--fsize=${limit}`]);
      const client = new LoadClient(recorder.url);
      const label = `run ${run} (${which}, ${args.join(' ')}, limit ${limit})`;
      let stopped = false;
      const loop = async (n: number): Promise<void> => {
        let account: string | null = null;
        for (let i = 0; !stopped && i < 20_000; i++) {
          let r;
          try {
            if (which === 'bulky') r = await client.json('/note', { size: rng.int(100, 3000) });
            else if (account === null) r = await client.json('/open', { owner: `o${run}-${n}`, initial: 1000 });
            else r = await client.json(rng.next() < 0.7 ? '/deposit' : '/balance', { account, amount: rng.int(1, 99) });
          } catch {
            break; // the server exited
          }
          if (r.status !== 200) {
            expect(r.status, `${label}: ${r.body.toString()}`).toBe(503);
            break;
          }
          acknowledged[which].add(r.session!);
          if (account === null && which === 'bank') account = (r.value as { id: string }).id;
        }
      };
      await Promise.all(Array.from({ length: 6 }, (_, n) => loop(n)));
      stopped = true;
      client.close();
      const first = recorder;
      const exit = await Promise.race([first.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000))]);
      expect(exit?.code, `${label}: ${first.stderr()}`).toBe(74);
      expect(first.stderr().split('\n').filter((line) => line.startsWith('fatal:')), label).toHaveLength(1);
      expect(first.stderr(), label).not.toMatch(/^\s+at |internal error/m);
      recorder = null;

      // The restart, without the limit.
      recorder = await spawnRecorder(app, { journal, args, config });
      expect((await recorder.stop()).code, `${label}, restart: ${recorder.stderr()}`).toBe(0);
      recorder = null;
      const list = replay(['sessions', '-j', journal, '--json']).json as { id: number; status: string }[];
      const byId = new Map(list.map((s) => [s.id, s.status]));
      for (const id of acknowledged[which]) expect(byId.get(id), `${label}: session ${id}`).toBe('ok');
      expect(list.filter((s) => s.status !== 'ok'), label).toEqual([]);
      expectLiveIsJournal(journal, tmp('rebuilt'));
    }
    for (const journal of Object.values(journals)) {
      const verify = replay(['verify', '-j', journal, '--jobs', '2'], { timeoutMs: 600_000 });
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    }
  });
});
