import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';
import { crashDuringCall } from '../helpers/crash-in-call.js';
import { xoshiroDraws } from '../helpers/xoshiro.js';
import { expectJournaled, readJournal, type SessionView } from './journal-view.js';

// A transaction or read served from the journal (resume, retry from a
// checkpoint, an inherited step on replay) does not run its body. The values
// that body took when recorded (a uuid for a row id, Date.now() for a column)
// must be passed over, not handed to the next code that asks for one.

const STAMPS_APP = path.join(ROOT, 'fixtures', 'apps', 'stamps', 'app.ts');
const tmp = tempDirs('windback-served-bodies');
let server: RecorderProcess;
let client: LoadClient;
let journal: string;

beforeAll(async () => void ({ server, client, journal } = await startRecording(STAMPS_APP, tmp())));

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

// Math.random inside a served body: the write-tx and read-tx records carry the
// draw count the body left, and serving them brings the session's generator
// there. The expected draws are derived from the journaled seed with an
// independent xoshiro128** (test/helpers/xoshiro.ts).

interface DrawsOutput {
  before: number[];
  inTx: number[];
  inRead: [number, number];
  inAborted: number | null;
  after: number;
  attempt: number;
}

type Rec = SessionView['records'][number]['record'];
const ofKind = (session: SessionView, kind: string): Rec[] => session.records.map((e) => e.record).filter((r) => r.kind === kind);

/** The session's one journaled seed (the attempts share it: the later ones are served it). */
function seedOf(session: SessionView): number[] {
  const seeds = ofKind(session, 'value').filter((r) => (r as { source: string }).source === 'random-seed');
  expect(seeds).toHaveLength(1);
  return Array.from((seeds[0] as { value: ArrayLike<number> }).value);
}

/** The draw counts journaled on the session's transaction and read records, in order. */
function journaledDraws(session: SessionView): unknown[] {
  return session.records.map((e) => e.record).filter((r) => r.kind === 'write-tx' || r.kind === 'read-tx').map((r) => (r as { randomDraws?: number }).randomDraws);
}

const CASES = [
  { name: 'the seed first drawn inside the transaction', before: 0, inside: 1 },
  { name: 'the seed drawn before it', before: 1, inside: 2 },
];

describe('Math.random draws inside a served transaction body', () => {
  it('continue where the body left them on a retry, and the retried sessions replay equal', async () => {
    const dir = tmp();
    const recorder = await spawnRecorder(STAMPS_APP, { journal: dir });
    const drawsClient = new LoadClient(recorder.url);
    const sessions: number[] = [];
    try {
      for (const { name, before, inside } of CASES) {
        const r = await drawsClient.json('/draws', { before, inside });
        expect(r.status, `${name}: ${r.body.toString()}`).toBe(200);
        const out = r.value as DrawsOutput;
        expect(out.attempt, name).toBe(2);

        const session = expectJournaled(readJournal(dir), r);
        sessions.push(session.id);
        expect(session.attempts.map((a) => a.record)).toEqual([expect.objectContaining({ attempt: 2, reason: 'retry' })]);
        // before, the transaction's, the read's, the aborted transaction's; then one after the checkpoint.
        const atCheckpoint = before + inside + 2;
        const ref = xoshiroDraws(seedOf(session), atCheckpoint + 1);
        // Attempt 1's (served) results are the generator's draws in order: the derivation holds.
        expect(out.before, name).toEqual(ref.slice(0, before));
        expect(out.inTx, name).toEqual(ref.slice(before, before + inside));
        expect(out.inRead[1], name).toBe(ref[before + inside]);
        expect(out.inAborted, name).toBeNull(); // served: its body did not run
        // Attempt 2's draw after the checkpoint is the one attempt 1 made there.
        expect(out.after, name).toBe(ref[atCheckpoint]);

        // Attempt 1's write-tx, read-tx and aborted tx (a read-tx) carry the count their bodies left; attempt 2 ran none.
        expect(journaledDraws(session), name).toEqual([before + inside, before + inside + 1, atCheckpoint]);
        const drawn = ofKind(session, 'checkpoint').filter((c) => (c as { label: string }).label === 'drawn');
        expect(drawn.map((c) => (c as { randomDraws: number }).randomDraws), name).toEqual([atCheckpoint]);
        expect(session.end?.record.randomDraws, name).toBe(atCheckpoint + 1);
      }
    } finally {
      drawsClient.close();
      expect((await recorder.stop()).code).toBe(0);
    }
    for (const id of sessions) {
      const run = replay(['run', String(id), '--journal', dir, '--json']);
      expect(run.json, run.stderr).toMatchObject({ session: id, equal: true, divergence: null });
    }
  });
});

describe('Math.random draws inside a transaction served on a crash resume', () => {
  it('continue where the body left them, so the in-doubt call is made again with the same request', { timeout: 60_000 }, async () => {
    // The recorder is killed while the stub holds the call, after the call's intent is durable. The
    // restarted recorder resumes the session: its transaction, read and aborted transaction are served.
    const dir = tmp();
    const crashed = await crashDuringCall(STAMPS_APP, dir, 'draws');
    try {
      const { session, bodies } = crashed;
      expect(session.end!.record.status).toBe('ok');
      const ref = xoshiroDraws(seedOf(session), 4);
      expect(bodies).toHaveLength(2);
      expect(JSON.parse(bodies[0])).toEqual({ after: ref[3] }); // attempt 1, before the crash
      expect(bodies[1]).toBe(bodies[0]);
      const out = JSON.parse(Buffer.from(session.responses[0].record.body).toString('utf8')) as DrawsOutput;
      expect(out).toMatchObject({ inTx: [ref[0]], inRead: [1, ref[1]], inAborted: null, after: ref[3], attempt: 2 });
    } finally {
      expect((await crashed.close()).code).toBe(0);
    }
    const id = [...readJournal(dir).sessions.values()].find((s) => s.start.sessionKind === 'draws')!.id;
    const run = replay(['run', String(id), '--journal', dir, '--json']);
    expect(run.json, run.stderr).toMatchObject({ session: id, equal: true, divergence: null });
  });
});
