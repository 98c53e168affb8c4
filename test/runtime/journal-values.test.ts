import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type LoadClient, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';
import { expectJournaled, readJournal } from './journal-view.js';
import { sameRefusal } from '../../src/journal/app-values.js';

// Values the app hands to the journal (a checkpoint's state, a transaction's,
// read's or call's result) that the journal's codec cannot hold (a Map, a
// Set) are refused where the app hands them over, naming the part that is
// one, instead of being journaled as something else: a Map stored as an
// object made every replay and retry report the checkpoint as diverged, and
// handed a resumed session an object where it had had a Map.

const APP = path.join(ROOT, 'fixtures', 'apps', 'values', 'app.ts');
const SOURCE = fs.readFileSync(APP, 'utf8').split('\n');
const lineOf = (text: string): number => SOURCE.findIndex((line) => line.includes(text)) + 1;
const PLAIN = '; the journal holds plain data: objects, arrays, strings, numbers, bigints, booleans, null, undefined, Dates and Uint8Arrays: convert it';

const tmp = tempDirs('windback-journal-values');
let server: RecorderProcess;
let client: LoadClient;
let journal: string;

beforeAll(async () => void ({ server, client, journal } = await startRecording(APP, tmp())));

afterAll(async () => {
  client?.close();
  await server?.stop();
});

const REFUSED: [kind: string, message: string, line: string][] = [
  ['checkpointMap', 'ctx.checkpoint("c"): the state .m is a Map', "ctx.checkpoint('c', { m: new Map"],
  ['txMap', 'ctx.tx(): the result .m is a Map', 'await ctx.tx('],
  ['txAsync', 'ctx.tx(): the result is a Promise', 'return ctx.tx(async'],
  ['readSet', 'ctx.read(): the result .ids is a Set', 'await ctx.read('],
];
const ADVICE: Record<string, string> = {
  txAsync: ': is its function async? It runs synchronously inside the transaction, which ends when it returns: make it a plain function, and await what it needs before ctx.tx()',
};
const CONVERT = ' (a Map with Object.fromEntries(map) or [...map], a Set with [...set])';

describe('values the journal cannot hold', () => {
  it.each(REFUSED)('%s: refused with "%s" at the app line', async (kind, message, line) => {
    const r = await client.json(`/${kind}`, {});
    expect(r.status).toBe(500);
    const session = expectJournaled(readJournal(journal), r);
    const error = session.end!.record.error!;
    expect(error.name).toBe('TypeError');
    expect(error.message).toBe(message + (ADVICE[kind] === undefined ? PLAIN + CONVERT : PLAIN.slice(0, -': convert it'.length) + ADVICE[kind]));
    expect(error.location).toEqual({ file: APP, line: lineOf(line), column: expect.any(Number) });
    const kinds = session.records.map((e) => e.record.kind);
    // Nothing was journaled as something else: no checkpoint, no committed transaction (the refusal rolled it back).
    expect(kinds).not.toContain('checkpoint');
    expect(kinds).not.toContain('write-tx');
  });

  it("fail the call when a call's result holds one", async () => {
    const r = await client.json('/callSet', {});
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.value).toEqual({ failed: true, message: expect.stringMatching(/^call 0: its result \.list\[0\] is a Set; the journal holds plain data/) });
  });

  it('take a state of everything the journal does hold through a retry, equal on replay', async () => {
    const r = await client.json('/checkpointPlain', {});
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.value).toEqual({ attempt: 2 });
  });

  it('are compared on replay by what was refused, not by the advice, which may be worded otherwise in an older journal', () => {
    const now = `ctx.tx(): the result is a Promise${PLAIN.slice(0, -': convert it'.length)}${ADVICE.txAsync}`;
    const older = `ctx.tx(): the result is a Promise${PLAIN}${CONVERT}`;
    expect(sameRefusal(now, older)).toBe(true);
    expect(sameRefusal(now, `ctx.tx(): the result .m is a Map${PLAIN}${CONVERT}`)).toBe(false);
    expect(sameRefusal('no such table: t', 'no such table: u')).toBe(false);
  });

  it('leave every recorded session to replay equal', async () => {
    expect((await server.stop()).code).toBe(0);
    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json).toMatchObject({ sessions: REFUSED.length + 2, diverged: 0 });
    // The async function's rejected promise was the refusal's: no unhandled rejection reported.
    expect(server.stderr()).not.toContain('unhandled rejection');
  });
});
