import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type LoadClient, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';
import { expectJournaled, readJournal } from './journal-view.js';

// The determinism guards end to end: an app served by `replay record` that
// reaches for the file system, WeakRef, SharedArrayBuffer or the wall clock
// gets a 500 for that request, the session ends in error with a
// DeterminismError naming the construct, and the server goes on serving.

const APP = path.join(ROOT, 'fixtures', 'apps', 'nondeterministic', 'app.ts');
const tmp = tempDirs('windback-determinism');
let server: RecorderProcess;
let client: LoadClient;
let journal: string;

beforeAll(async () => void ({ server, client, journal } = await startRecording(APP, tmp())));

afterAll(async () => {
  client?.close();
  expect((await server?.stop())?.code).toBe(0);
});

const CASES: [kind: string, construct: string][] = [
  ['readFile', "require('node:fs')"],
  ['dynamicImport', "import('node:fs')"],
  ['evalImport', 'import() in code compiled at run time (eval, new Function)'],
  ['functionImport', 'import() in code compiled at run time (eval, new Function)'],
  ['weakRef', 'WeakRef'],
  ['sharedMemory', 'SharedArrayBuffer'],
  ['wallClock', 'Date.now outside a session'],
];

describe('determinism guards through the server', () => {
  it.each(CASES)('%s: 500, and the session ends with a DeterminismError naming %s', async (kind, construct) => {
    for (const call of [() => client.json(`/${kind}`, {}), () => client.rpc(kind, {})]) {
      const r = await call();
      const view = readJournal(journal);
      const session = expectJournaled(view, r);
      if (r.transport === 'json') {
        expect(r.status).toBe(500);
        // A client sees that it failed, never the stack.
        expect(JSON.parse(r.body.toString())).toEqual({ error: { name: 'InternalError', message: 'the session failed; its error is in the journal' } });
      } else {
        expect(r.error).toMatchObject({ code: -32603 });
      }
      expect(session.start.sessionKind).toBe(kind);
      const end = session.end?.record;
      expect(end?.status).toBe('error');
      expect(end?.error?.name).toBe('DeterminismError');
      expect(end?.error?.message.startsWith(`${construct} is not deterministic: `), end?.error?.message).toBe(true);
      // The stack points at the app, not the sandbox.
      expect(end?.error?.stack ?? '').not.toContain('windback-sandbox');
    }
  });

  it('names the app line of a dynamic import() (not Node\'s "A dynamic import callback was not specified")', async () => {
    const r = await client.json('/dynamicImport', {});
    const end = expectJournaled(readJournal(journal), r).end?.record;
    const line = fs.readFileSync(APP, 'utf8').split('\n').findIndex((l) => l.includes("await import('node:fs')")) + 1;
    expect(line).toBeGreaterThan(0);
    expect(end?.error).toMatchObject({ name: 'DeterminismError', location: { file: APP, line, column: expect.any(Number) } });
  });

  it.each([
    ['evalImport', `await eval("import('node:fs')")`],
    ['functionImport', "await load('node:fs')"],
  ])('%s: names the app line of the import() in code compiled at run time, with no Node frame in the stack', async (kind, source) => {
    const r = await client.json(`/${kind}`, {});
    const end = expectJournaled(readJournal(journal), r).end?.record;
    const line = fs.readFileSync(APP, 'utf8').split('\n').findIndex((l) => l.includes(source)) + 1;
    expect(line).toBeGreaterThan(0);
    expect(end?.error).toMatchObject({ name: 'DeterminismError', location: { file: APP, line, column: expect.any(Number) } });
    expect(end?.error?.stack).toMatch(/^DeterminismError: import\(\) in code compiled at run time \(eval, new Function\) is not deterministic: modules are bundled when the app is built/);
    expect(end?.error?.stack).not.toMatch(/node:internal|A dynamic import callback/);
  });

  it('fails only the session whose timer callback throws, never the server', async () => {
    const r = await client.json('/throwInTimer', {});
    expect(r.status).toBe(500);
    const session = expectJournaled(readJournal(journal), r);
    expect(session.end?.record).toMatchObject({ status: 'error', error: { name: 'Error', message: 'boom in a timer' } });
    expect(server.child.exitCode).toBeNull();
  });

  it('still serves a session that uses its own clock, and the journal holds no open session', async () => {
    const r = await client.json('/sessionClock', {});
    expect(r.status).toBe(200);
    expect(r.value).toEqual({ now: true });
    const view = readJournal(journal);
    expectJournaled(view, r);
    expect([...view.sessions.values()].filter((s) => s.end === null)).toEqual([]);
    // Each case twice, the dynamic imports' locations once more (three), and the throwing timer.
    expect([...view.sessions.values()].filter((s) => s.end?.record.status === 'error')).toHaveLength(CASES.length * 2 + 4);
  });

  it('replay verify finds every session equal: replaying the same DeterminismError reproduces what was recorded', () => {
    const r = replay(['verify', '--journal', journal, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ diverged: 0, failures: [] });
    expect(r.json.sessions).toBeGreaterThanOrEqual(CASES.length * 2 + 5);
  });
});
