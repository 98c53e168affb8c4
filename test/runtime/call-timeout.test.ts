import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startSilentStub, type SilentStub } from '../helpers/silent-stub.js';
import { readJournal } from './journal-view.js';

// --call-timeout: an external call whose callee never answers fails after
// that long, with a TimeoutError journaled as its result, instead of holding
// its session for as long as the HTTP client waits. A replay serves the
// failure from the journal and verifies equal.

const STAMPS_APP = path.join(ROOT, 'fixtures', 'apps', 'stamps', 'app.ts');
const tmp = tempDirs('windback-call-timeout');
let recorder: RecorderProcess | null = null;
let stub: SilentStub | null = null;

afterAll(async () => {
  await recorder?.kill('SIGKILL');
  await stub?.close();
});

describe('--call-timeout', () => {
  it('fails a call the callee never answers with a journaled TimeoutError, and the session verifies equal', { timeout: 60_000 }, async () => {
    const silent = (stub = await startSilentStub());
    const hold = silent.url;
    const journal = tmp();
    recorder = await spawnRecorder(STAMPS_APP, { journal, args: ['--call-timeout', '300'] });
    const client = new LoadClient(recorder.url);
    const r = await client.json('/draws', { hold });
    client.close();
    expect(silent.received).toBe(1);
    expect(r.status).toBe(500);
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;

    const session = readJournal(journal).sessions.get(r.session!)!;
    const result = session.records.find((e) => e.record.kind === 'call-result')?.record as { ok: boolean; value: { name: string; message: string } } | undefined;
    expect(result?.ok).toBe(false);
    expect(result?.value).toMatchObject({ name: 'TimeoutError', message: `POST ${hold}: no answer within 300 ms (--call-timeout)` });
    // The app's fetch rejects as a network failure does: TypeError('fetch failed'), the TimeoutError its cause.
    expect(session.end?.record).toMatchObject({ status: 'error', error: { name: 'TypeError', message: 'fetch failed' } });

    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.json).toMatchObject({ diverged: 0 });
  });

  it('is refused when negative, with a one-line usage error', () => {
    const r = replay(['record', STAMPS_APP, '--journal', tmp(), '--call-timeout', '-5']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/call-timeout/);
  });
});
