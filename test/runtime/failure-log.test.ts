import { afterEach, describe, expect, it } from 'vitest';
import { BANK_APP, LoadClient, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';

// A client of a session that failed gets a 500 that says only that it
// failed (its error is in the journal, not in the response). The server's
// log says which session, what failed and how to look; a business error
// (a 4xx the app chose) is not logged.

const tmp = tempDirs('windback-failure-log');
let recorder: RecorderProcess | null = null;

afterEach(async () => {
  await recorder?.kill('SIGKILL');
  recorder = null;
});

describe('the server log', () => {
  it('names each session that answered 5xx, its error and the command that shows it; not business errors', { timeout: 60_000 }, async () => {
    const journal = tmp();
    // No fraud-scoring service listens there: a transfer's fetch fails, and so does the session.
    recorder = await spawnRecorder(BANK_APP, { journal, config: { fraudUrl: 'http://127.0.0.1:1' }, args: ['--durability', 'none'] });
    const client = new LoadClient(recorder.url);
    const a = (await client.json('/open', { owner: 'a', initial: 100 })).value as { id: string };
    const b = (await client.json('/open', { owner: 'b', initial: 100 })).value as { id: string };
    const unknown = await client.json('/deposit', { account: 'acc_nope', amount: 5 });
    expect(unknown.status).toBe(404);
    const failed = await client.json('/transfer', { from: a.id, to: b.id, amount: 5 });
    expect(failed.status).toBe(500);
    expect(failed.error?.message).toBe('the session failed; its error is in the journal');
    client.close();
    const first = recorder;
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;

    const lines = first.stderr().split('\n').filter((line) => line.startsWith('[session '));
    expect(lines).toEqual([`[session ${failed.session}] failed: TypeError: fetch failed (replay show ${failed.session})`]);
    const shown = replay(['show', String(failed.session), '-j', journal]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('end: error (TypeError: fetch failed');
  });
});
