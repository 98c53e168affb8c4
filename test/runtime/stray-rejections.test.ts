import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, type LoadClient, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { startRecording } from '../helpers/recording.js';
import { spawnHelper } from '../helpers/spawn.js';
import { readJournal } from './journal-view.js';

// App code that leaves a rejected promise unhandled. Under Node's default the
// first one would kill the recording server, every session in flight with it,
// and the resume after a restart would kill it again. The server reports each
// with its place in the app's source, counts them, and keeps serving; a
// replay of those sessions is equal and survives them too.

const STRAY_APP = path.join(ROOT, 'fixtures', 'apps', 'stray', 'app.ts');
const tmp = tempDirs('windback-stray');
/** The first session of each kind the first test ran. */
const sessionOf: Record<string, number> = {};
let server: RecorderProcess;
let client: LoadClient;
let journal: string;

beforeAll(async () => void ({ server, client, journal } = await startRecording(STRAY_APP, tmp())));

afterAll(async () => {
  client?.close();
  // A clean shutdown: the process was never taken down by the rejections.
  expect((await server?.stop())?.code).toBe(0);
});

async function metric(name: string): Promise<number> {
  const r = await client.request('GET', '/_windback/metrics');
  const line = r.body.toString().split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name} in:\n${r.body.toString()}`);
  return Number(line.split(' ')[1]);
}

describe('an unhandled rejection in app code', () => {
  it('is logged with its source line and counted, and the server keeps serving every session', async () => {
    const kinds = ['orphan', 'microtask', 'forgotten', 'orphan', 'orphan'];
    for (const kind of kinds) {
      const r = await client.json(`/${kind}`, {});
      expect(r.status, `${kind}: ${r.body.toString()}`).toBe(200);
      sessionOf[kind] ??= r.session!;
    }
    const count = await client.json('/count', {});
    expect(count.value).toBe(3);
    // Rejections surface after the session's microtasks; give the last one a turn.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await metric('windback_unhandled_rejections_total')).toBe(kinds.length);

    const warnings = server.stderr().split('\n').filter((l) => l.includes('unhandled rejection'));
    // One line per distinct rejection, not one per occurrence.
    expect(warnings).toHaveLength(3);
    const appFile = path.join('fixtures', 'apps', 'stray', 'app.ts');
    expect(warnings.find((l) => l.includes('nobody handles this one'))).toMatch(new RegExp(`${appFile.replace(/[/.]/g, '\\$&')}:13:\\d+: unhandled rejection in app code: Error: nobody handles this one`));
    // Sent one at a time: the session that rejected it is the one named, for `replay run`.
    expect(warnings.find((l) => l.includes('nobody handles this one'))).toContain(`nobody handles this one, surfaced while session ${sessionOf.orphan} ran;`);
    expect(warnings.find((l) => l.includes('microtask'))).toContain(`, surfaced while session ${sessionOf.microtask} ran;`);
    expect(warnings.find((l) => l.includes('microtask'))).toMatch(/app\.ts:20:\d+: unhandled rejection in app code: TypeError: thrown in a microtask/);
    expect(warnings.find((l) => l.includes('nobody waited'))).toMatch(/app\.ts:27:\d+: unhandled rejection in app code: RangeError: a transaction nobody waited for/);
    const health = await client.request('GET', '/_windback/health');
    expect(JSON.parse(health.body.toString())).toMatchObject({ status: 'ok' });
  });

  it('is what code that outlives its session gets for an effect: SessionEndedError, and nothing journaled after the session ended', async () => {
    const r = await client.json('/outlive', {});
    expect(r.status, r.body.toString()).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const warning = server.stderr().split('\n').find((l) => l.includes('SessionEndedError'));
    expect(warning).toMatch(new RegExp(`app\\.ts:\\d+:\\d+: unhandled rejection in app code: SessionEndedError: ctx\\.tx\\(\\) after session ${r.session} ended`));
    const count = await client.json('/count', {});
    expect(count.value).toBe(3); // the late transaction never ran
    const session = readJournal(journal).sessions.get(r.session!)!;
    expect(session.end?.record.status).toBe('ok');
    expect(session.records.at(-1)!.record.kind).toBe('session-end');
  });

  it('does not stop a replay: every session verifies equal', async () => {
    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.json).toMatchObject({ sessions: 8, passed: 8, diverged: 0 });
    expect(verify.stderr).toMatch(/warning: .*app\.ts:13:\d+: unhandled rejection in app code: Error: nobody handles this one/);
    // Replayed one after the other: the session being replayed is named, for `replay run`.
    expect(verify.stderr).toContain(`Error: nobody handles this one, surfaced while session ${sessionOf.orphan} ran;`);
  });
});

describe('an unhandled rejection in host code', () => {
  it("keeps Node's default in a process that runs app code: it is Windback's bug, and the process ends", async () => {
    const child = spawnHelper('../runtime/stray-host-child.ts', [STRAY_APP]);
    const exit = await child.exited;
    expect(child.lines).toContain('app loaded');
    expect(child.lines).not.toContain('still alive');
    expect(exit.code).not.toBe(0);
    expect(child.stderr()).toContain('a host promise nobody handled');
  });
});
