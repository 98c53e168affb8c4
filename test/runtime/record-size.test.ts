import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { MAX_PAYLOAD } from '../../src/journal/index.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { expectLiveIsJournal } from './journal-view.js';

// A journal record holds at most 64 MiB. A write transaction is journaled
// before it commits, so one whose record would be larger rolls back (the
// database never gets ahead of the journal, and transaction ids stay
// consecutive); a response is journaled before it is sent, so one too large
// becomes a 500 that is. Both sessions end, and replay reproduces them.

const APP = path.join(ROOT, 'fixtures', 'apps', 'oversize', 'app.ts');
const tmp = tempDirs('windback-record-size');
let recorder: RecorderProcess | null = null;

afterEach(async () => {
  await recorder?.kill('SIGKILL');
  recorder = null;
});

const TOO_LARGE = MAX_PAYLOAD + 1_000_000;

describe('values too large for a journal record', () => {
  it('a transaction rolls back with RecordTooLargeError, a response becomes a journaled 500, and both replay equal', { timeout: 120_000 }, async () => {
    const journal = tmp();
    recorder = await spawnRecorder(APP, { journal, args: ['--durability', 'none'] });
    const client = new LoadClient(recorder.url);
    expect((await client.json('/put', { k: 'a', n: 10 })).status).toBe(200);

    const refused = await client.json('/tryPut', { k: 'a', n: TOO_LARGE });
    expect(refused.status, refused.body.toString()).toBe(200);
    // The app saw the error, and the row as it was before: the write was rolled back.
    expect(refused.value).toEqual({ threw: 'RecordTooLargeError', length: 10 });
    expect((await client.json('/put', { k: 'b', n: 5 })).status).toBe(200);

    const huge = await client.json('/echo', { n: TOO_LARGE });
    expect(huge.status).toBe(500);
    expect(huge.session).not.toBeNull();
    // Like any 500, its reason is in the journal, not in the response (below).
    expect(JSON.parse(huge.body.toString()).error).toMatchObject({ name: 'InternalError' });
    expect((await client.json('/echo', { n: 3 })).value).toEqual({ text: 'zzz' });
    // A checkpoint's state: the app can catch the error. A call's result: the call ran, and the session fails.
    expect((await client.json('/bigCheckpoint', { n: TOO_LARGE })).value).toEqual({ threw: 'RecordTooLargeError' });
    expect((await client.json('/bigCall', { n: TOO_LARGE })).status).toBe(500);
    client.close();
    const first = recorder;
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;
    expect(first.stderr()).not.toMatch(/internal error|could not/);

    // The database equals the journal, transaction ids 1, 2, 3, ... (checked by the rebuild), every session ended.
    const view = expectLiveIsJournal(journal, tmp('rebuilt'));
    const ends = [...view.sessions.values()].map((s) => [s.start.sessionKind, s.end?.record.status, s.end?.record.error?.name ?? null]);
    expect(ends).toEqual([
      ['put', 'ok', null],
      ['tryPut', 'ok', null],
      ['put', 'ok', null],
      ['echo', 'error', 'ResponseTooLargeError'],
      ['echo', 'ok', null],
      ['bigCheckpoint', 'ok', null],
      ['bigCall', 'error', 'RecordTooLargeError'],
    ]);
    const aborted = view.sessions.get(refused.session!)!.records.find((e) => e.record.kind === 'read-tx' && e.record.write);
    expect(aborted?.record).toMatchObject({ error: { name: 'RecordTooLargeError' } });

    // Replay runs each one again and gets the same: the transaction refused by its size, the same 500.
    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    // And a restart finds nothing to resume.
    recorder = await spawnRecorder(APP, { journal, args: ['--durability', 'none'] });
    expect(recorder.stderr()).not.toMatch(/resum|could not/);
  });
});
