import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';

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
});
