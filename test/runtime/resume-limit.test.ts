import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startSilentStub, type SilentStub } from '../helpers/silent-stub.js';
import { readJournal } from './journal-view.js';

// A session during which the process ends, every time: each restart resumes
// it, and it takes the process down again. `--max-resumes N` bounds that: the
// restart after the N-th resume in a row ends the session `aborted` with the
// reason, instead of resuming it once more.
//
// Here the process "ends" by SIGKILL while the session waits on a call the
// stub never answers (as a supervisor would kill a server stuck on it).

const STAMPS_APP = path.join(ROOT, 'fixtures', 'apps', 'stamps', 'app.ts');
const tmp = tempDirs('windback-resume-limit');
let recorder: RecorderProcess | null = null;
let stub: SilentStub | null = null;

afterAll(async () => {
  await recorder?.kill('SIGKILL');
  await stub?.close();
});

describe('--max-resumes', () => {
  it('aborts a session the process died in N+1 times in a row, after N resumes, and serves on', { timeout: 90_000 }, async () => {
    const silent = (stub = await startSilentStub());
    const hold = silent.url;
    const journal = tmp();
    const start = (): Promise<RecorderProcess> => spawnRecorder(STAMPS_APP, { journal, args: ['--max-resumes', '2'] });

    recorder = await start();
    const client = new LoadClient(recorder.url);
    let arrived = silent.next();
    const cut = client.json('/draws', { hold }).catch((error: unknown) => error);
    // Attempt 1, then two resumes: each reaches the call, and the process is killed there.
    for (let death = 1; death <= 3; death++) {
      await arrived;
      expect(silent.received).toBe(death);
      await recorder.kill('SIGKILL');
      if (death === 1) await cut;
      arrived = silent.next();
      recorder = await start();
      if (death < 3) expect(recorder.stderr()).toContain('resuming 1 session(s) left open (by a crash, or by a shutdown that stopped waiting for them)');
    }
    client.close();

    // The third restart does not resume it: no fourth call, and the session ends aborted with its reason.
    expect(recorder.stderr()).toMatch(
      /session (\d+) aborted: the process ended during each of its last 3 attempts \(resumed 2 times in a row, the limit\); .*replay it with: replay run \1/,
    );
    expect(recorder.stderr()).toContain('aborted 1 session(s) that could not be resumed');
    const liveClient = new LoadClient(recorder.url);
    const stamp = await liveClient.json('/stamp', {});
    expect(stamp.status, stamp.body.toString()).toBe(200);
    liveClient.close();
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;
    expect(silent.received).toBe(3);

    const session = [...readJournal(journal).sessions.values()].find((s) => s.start.sessionKind === 'draws')!;
    expect(session.attempts.map((a) => a.record.reason)).toEqual(['resume', 'resume']);
    expect(session.end?.record).toMatchObject({ status: 'aborted', error: { name: 'Aborted', message: expect.stringContaining('resumed 2 times in a row') } });
    const show = replay(['sessions', '--journal', journal, '--status', 'aborted', '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.stringify(show.json)).toContain(`"id":${session.id}`);
  });
});
