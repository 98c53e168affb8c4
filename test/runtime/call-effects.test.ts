import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type LoadClient, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';
import { crashDuringCall } from '../helpers/crash-in-call.js';
import { expectJournaled, readJournal, type SessionView } from './journal-view.js';

// What a ctx.call() function does, end to end through `replay record` and
// `replay verify` (docs/sandbox.md, "Inside a ctx.call() function"): on replay
// and on a resume that serves the call's result, the function does not run,
// so its timers and Math.random draws must be live and unjournaled (and must
// not move the session's own sequences), and the effects whose results would
// have to be served are refused with a DeterminismError naming the construct
// and the app line.

const APP = path.join(ROOT, 'fixtures', 'apps', 'calls', 'app.ts');
const SOURCE = fs.readFileSync(APP, 'utf8').split('\n');
/** The 1-based line of the app's source that contains `text` (once). */
const lineOf = (text: string): number => {
  const lines = SOURCE.flatMap((line, i) => (line.includes(text) ? [i + 1] : []));
  expect(lines, text).toHaveLength(1);
  return lines[0];
};

const tmp = tempDirs('windback-call-effects');
let server: RecorderProcess;
let client: LoadClient;
let journal: string;

beforeAll(async () => void ({ server, client, journal } = await startRecording(APP, tmp())));

afterAll(async () => {
  client?.close();
  await server?.stop();
});

type Rec = SessionView['records'][number]['record'];
const values = (session: SessionView, source: string): unknown[] =>
  session.records
    .map((e) => e.record)
    .filter((r): r is Extract<Rec, { kind: 'value' }> => r.kind === 'value' && r.source === source)
    .map((r) => (ArrayBuffer.isView(r.value) || Array.isArray(r.value) ? Array.from(r.value as ArrayLike<number>) : r.value));

interface EffectsOutput {
  before: number;
  inside: { key: string; draws: number[]; at: number; late: number };
  outside: { drawn: number; at: number };
  fast: number;
  after: number;
}

describe('timers and Math.random inside a ctx.call() function', () => {
  it('are live and unjournaled, leave the session sequences alone, and the session verifies', async () => {
    const r = await client.json('/effects', {});
    expect(r.status, r.body.toString()).toBe(200);
    const out = r.value as EffectsOutput;
    const session = expectJournaled(readJournal(journal), r);
    // Only the handler's own timers (its sleep(2) and sleep(8): ids 1 and 2) are journaled, not the calls' five.
    expect(values(session, 'timer')).toEqual([1, 2]);
    // One seed, the session's; the call's generator got its own, unjournaled.
    expect(values(session, 'random-seed')).toHaveLength(1);
    // Its Date.now() is the handler's one; the call's is not journaled.
    expect(values(session, 'date')).toEqual([out.outside.at]);
    // Three draws of the session's own (before, drawn, after): the calls' four do not count.
    const checkpoint = session.records.map((e) => e.record).find((rec) => rec.kind === 'checkpoint') as { randomDraws: number };
    expect(checkpoint.randomDraws).toBe(3);
    expect(session.end?.record).toMatchObject({ status: 'ok', randomDraws: 3 });
    expect(new Set([out.before, out.outside.drawn, out.after, ...out.inside.draws, out.inside.late, out.fast]).size).toBe(7);

    const run = replay(['run', String(session.id), '--journal', journal, '--json']);
    expect(run.json, run.stdout + run.stderr).toMatchObject({ session: session.id, equal: true, divergence: null });
  });

  it('fail the call when a timer callback of the call throws', async () => {
    const r = await client.json('/throwInCallTimer', {});
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.value).toEqual({ failed: true, message: 'boom in a call timer' });
    const session = expectJournaled(readJournal(journal), r);
    expect(session.records.map((e) => e.record).find((rec) => rec.kind === 'call-result')).toMatchObject({ ok: false, value: { message: 'boom in a call timer' } });
  });
});

const REFUSED: [kind: string, construct: string, line: string][] = [
  ['txInCall', 'ctx.tx() inside ctx.call("c")', "ctx.call('c', async () => ctx.tx("],
  ['readInCall', 'ctx.read() inside ctx.call("c")', 'return ctx.read('],
  ['checkpointInCall', 'ctx.checkpoint("inside") inside ctx.call("c")', "ctx.checkpoint('inside')"],
  ['nestedCall', 'ctx.call("inner") inside ctx.call("outer")', "ctx.call('inner'"],
];

describe('effects refused inside a ctx.call() function', () => {
  it.each(REFUSED)('%s: the call fails with a DeterminismError naming %s and the app line', async (kind, construct, line) => {
    const r = await client.json(`/${kind}`, {});
    expect(r.status).toBe(500);
    const session = expectJournaled(readJournal(journal), r);
    const end = session.end!.record;
    expect(end.status).toBe('error');
    expect(end.error?.name).toBe('DeterminismError');
    expect(end.error?.message.startsWith(`${construct} is not deterministic: `), end.error?.message).toBe(true);
    expect(end.error?.location).toEqual({ file: APP, line: lineOf(line), column: expect.any(Number) });
    // Nothing of the refused effect reached the journal: the call's failure is its only outcome.
    expect(session.records.map((e) => e.record.kind).filter((k) => k !== 'response')).toEqual(['session-start', 'call-start', 'call-result', 'session-end']);
  });
});

describe('a session whose call was in flight when the recorder crashed', () => {
  it('resumes: the call runs again with its timers and draws live, and the whole journal verifies', { timeout: 60_000 }, async () => {
    const dir = tmp();
    const crashed = await crashDuringCall(APP, dir, 'effects', 'ok');
    try {
      const { session, bodies: keys } = crashed;
      expect(session.end!.record).toMatchObject({ status: 'ok', randomDraws: 3 });
      // The call ran twice, with the same key; the session's timers are the handler's only.
      expect(keys).toHaveLength(2);
      expect(keys[1]).toBe(keys[0]);
      expect(values(session, 'timer')).toEqual([1, 2]);
    } finally {
      await crashed.close();
    }
    const verify = replay(['verify', '--journal', dir, '--json']);
    expect(verify.json, verify.stdout + verify.stderr).toMatchObject({ sessions: 1, passed: 1, diverged: 0 });
  });
});

describe('replay verify', () => {
  it('replays every session the recorder journaled equal', async () => {
    expect((await server.stop()).code).toBe(0);
    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json).toMatchObject({ diverged: 0, failures: [] });
    expect(verify.json.sessions).toBe(2 + REFUSED.length);
  });
});
