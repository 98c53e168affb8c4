import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { expectJournaled, readJournal } from './journal-view.js';

// A transaction or read served from the journal (resume, retry from a
// checkpoint, an inherited step on replay) does not run its body. The values
// that body took when recorded (a uuid for a row id, Date.now() for a column)
// must be passed over, not handed to the next code that asks for one.

const STAMPS_APP = path.join(ROOT, 'fixtures', 'apps', 'stamps', 'app.ts');
const tmp = tempDirs('windback-served-bodies');
let server: RecorderProcess;
let client: LoadClient;
let journal: string;

beforeAll(async () => {
  journal = tmp();
  server = await spawnRecorder(STAMPS_APP, { journal });
  client = new LoadClient(server.url);
});

afterAll(async () => {
  client?.close();
  expect((await server?.stop())?.code).toBe(0);
});

describe('values taken inside a served transaction body', () => {
  it('are not handed to the code after it on a retry, and the retried session replays equal', async () => {
    const r = await client.json('/stamp', {});
    expect(r.status, r.body.toString()).toBe(200);
    const out = r.value as { inside: string; token: string; after: string; at: number };

    const session = expectJournaled(readJournal(journal), r);
    expect(session.attempts.map((a) => a.record)).toEqual([expect.objectContaining({ attempt: 2, reason: 'retry' })]);
    const uuids = session.records.filter((e) => e.record.kind === 'value' && (e.record as { source: string }).source === 'uuid');
    // Attempt 1 took three (in the tx, in the read, after the checkpoint); attempt 2 only the last one again.
    expect(uuids).toHaveLength(4);
    const [inTx, inRead, afterFirst, afterRetry] = uuids.map((e) => (e.record as { value: string }).value);
    expect(out.inside).toBe(inTx);
    expect(out.token.endsWith(inRead)).toBe(true);
    expect(out.after).toBe(afterRetry);
    expect(new Set([inTx, inRead, afterFirst, afterRetry]).size).toBe(4);

    await server.stop();
    const run = replay(['run', String(session.id), '--journal', journal, '--json']);
    expect(run.json, run.stderr).toMatchObject({ session: session.id, equal: true, divergence: null });
  });
});
