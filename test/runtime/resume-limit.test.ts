import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
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
let stub: http.Server | null = null;

afterAll(async () => {
  await recorder?.kill('SIGKILL');
  stub?.closeAllConnections();
  await new Promise((resolve) => stub?.close(resolve) ?? resolve(null));
});

describe('--max-resumes', () => {
  it('aborts a session the process died in N+1 times in a row, after N resumes, and serves on', { timeout: 90_000 }, async () => {
    const arrivals: (() => void)[] = [];
    let received = 0;
    const next = (): Promise<void> => new Promise((resolve) => arrivals.push(resolve));
    stub = http.createServer((req) => {
      req.resume();
      req.on('end', () => {
        received++;
        arrivals.shift()?.();
        // never answered
      });
    });
    await new Promise<void>((resolve) => stub!.listen(0, '127.0.0.1', resolve));
    const hold = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/hold`;
    const journal = tmp();
    const start = (): Promise<RecorderProcess> => spawnRecorder(STAMPS_APP, { journal, args: ['--max-resumes', '2'] });

    recorder = await start();
    const client = new LoadClient(recorder.url);
    let arrived = next();
    const cut = client.json('/draws', { hold }).catch((error: unknown) => error);
    // Attempt 1, then two resumes: each reaches the call, and the process is killed there.
    for (let death = 1; death <= 3; death++) {
      await arrived;
      expect(received).toBe(death);
      await recorder.kill('SIGKILL');
      if (death === 1) await cut;
      arrived = next();
      recorder = await start();
      if (death < 3) expect(recorder.stderr()).toContain('resuming 1 session(s) a crash interrupted');
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
    expect(received).toBe(3);

    const session = [...readJournal(journal).sessions.values()].find((s) => s.start.sessionKind === 'draws')!;
    expect(session.attempts.map((a) => a.record.reason)).toEqual(['resume', 'resume']);
    expect(session.end?.record).toMatchObject({ status: 'aborted', error: { name: 'Aborted', message: expect.stringContaining('resumed 2 times in a row') } });
    const show = replay(['sessions', '--journal', journal, '--status', 'aborted', '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.stringify(show.json)).toContain(`"id":${session.id}`);
  });
});
