import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BANK_APP, LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { tempDirs } from '../helpers/cli.js';
import { listenLocally, type LocalServer } from '../helpers/local-server.js';
import { readJournal } from './journal-view.js';

// SIGTERM: stop accepting, wait for in-flight sessions (at most
// --drain-timeout), close the journal, exit 0. A session that finishes within
// the wait is answered; one that does not stays open in the journal and is
// resumed at the next start.

const STAMPS_APP = path.join(ROOT, 'fixtures', 'apps', 'stamps', 'app.ts');
const tmp = tempDirs('windback-shutdown');
let stub: LocalServer | null = null;
let stubUrl: string;
const arrivals: ((path: string) => void)[] = [];
const recorders: RecorderProcess[] = [];

beforeAll(async () => {
  // /slow answers after 300 ms; /hold never answers.
  stub = await listenLocally((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.shift()?.(req.url ?? '');
      if (req.url === '/slow') setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 300);
    });
  });
  stubUrl = stub.url;
});

afterAll(async () => {
  for (const r of recorders) await r.kill('SIGKILL').catch(() => {});
  await stub?.close();
});

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const arrived = (): Promise<string> => new Promise((resolve) => arrivals.push(resolve));

async function start(journal: string, args: string[] = []): Promise<RecorderProcess> {
  const r = await spawnRecorder(STAMPS_APP, { journal, args });
  recorders.push(r);
  return r;
}

describe('shutdown on SIGTERM', () => {
  it('answers a session that finishes within the drain timeout, then exits 0', { timeout: 30_000 }, async () => {
    const journal = tmp();
    const recorder = await start(journal, ['--drain-timeout', '5000']);
    const client = new LoadClient(recorder.url);
    const came = arrived();
    const answer = client.json('/draws', { hold: `${stubUrl}/slow` });
    await came;
    recorder.child.kill('SIGTERM');
    const r = await answer;
    expect(r.status, r.body.toString()).toBe(200);
    expect((await recorder.exited).code, recorder.stderr()).toBe(0);
    expect(recorder.stderr()).toContain('shutting down: draining in-flight sessions');
    client.close();
    const session = readJournal(journal).sessions.get(r.session!)!;
    expect(session.end?.record.status).toBe('ok');
  });

  it('stops waiting after --drain-timeout, exits 0, and the next start resumes the session it left open', { timeout: 30_000 }, async () => {
    const journal = tmp();
    const recorder = await start(journal, ['--drain-timeout', '300']);
    const client = new LoadClient(recorder.url);
    const came = arrived();
    const cut = client.json('/draws', { hold: `${stubUrl}/hold` }).catch((error: unknown) => error);
    await came;
    const t0 = Date.now();
    recorder.child.kill('SIGTERM');
    expect((await recorder.exited).code, recorder.stderr()).toBe(0);
    // Not the default 10 s.
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(await cut).toBeInstanceOf(Error);
    // A journal closed by the shutdown is not a failure, and the session it cut is no internal error.
    expect(recorder.stderr()).not.toMatch(/fatal|internal error|could not resume/);
    client.close();
    const open = [...readJournal(journal).sessions.values()].filter((s) => s.end === null || s.end === undefined);
    expect(open.map((s) => s.start.sessionKind)).toEqual(['draws']);
    // And the shutdown said which it left.
    expect(recorder.stderr()).toContain(
      `shutting down: 1 session(s) still running after the 300 ms drain timeout (${open[0].id}) stopped where they were; the next start resumes them\n`,
    );

    const again = arrived();
    const restarted = await start(journal);
    expect(restarted.stderr()).toContain('resuming 1 session(s) left open (by a crash, or by a shutdown that stopped waiting for them)');
    // The resumed session makes its in-doubt call again.
    expect(await again).toBe('/hold');
  });

  it('exits soon after --drain-timeout when a session waits on a long timer, and the next start resumes it where it was', { timeout: 60_000 }, async () => {
    const journal = tmp();
    const recorder = await start(journal, ['--drain-timeout', '300']);
    const client = new LoadClient(recorder.url);
    // The first attempt waits 20 s on a timer of its own; a resume, 1 ms.
    const cut = client.json('/wait', { ms: 20_000, resumedMs: 1 }).catch((error: unknown) => error);
    await until(() => recorder.stderr().includes('waiting 20000 ms'));
    const t0 = Date.now();
    recorder.child.kill('SIGTERM');
    expect((await recorder.exited).code, recorder.stderr()).toBe(0);
    // Not when the session's timer would have fired (20 s).
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(await cut).toBeInstanceOf(Error);
    // Left, not failed: no error of the session or the journal is logged.
    expect(recorder.stderr()).not.toMatch(/fatal|internal error|could not resume|Abandoned|SessionEnded|warning/);
    client.close();
    const left = [...readJournal(journal).sessions.values()].find((s) => s.start.sessionKind === 'wait')!;
    expect(left.end).toBeNull();
    // Nothing after what it did before the shutdown: its first transaction.
    expect(left.records.map((r) => r.record.kind)).toEqual(['session-start', 'write-tx']);

    const restarted = await start(journal);
    expect(restarted.stderr()).toContain('resuming 1 session(s) left open (by a crash, or by a shutdown that stopped waiting for them)');
    // The default drain timeout (10 s) lets the resumed session finish.
    expect((await restarted.stop()).code, restarted.stderr()).toBe(0);
    const resumed = readJournal(journal).sessions.get(left.id)!;
    expect(resumed.end?.record.status, restarted.stderr()).toBe('ok');
    // Its first transaction served from the journal, not done again; the second done live.
    expect(resumed.records.filter((r) => r.record.kind === 'write-tx')).toHaveLength(2);
    expect(resumed.attempts.map((a) => a.record.reason)).toEqual(['resume']);
  });

  it('a SIGTERM during start-up stops the server once it has started, closing the journal and the database cleanly', { timeout: 30_000 }, async () => {
    const journal = tmp();
    const first = await spawnRecorder(BANK_APP, { journal, args: ['--durability', 'none'] });
    recorders.push(first);
    const client = new LoadClient(first.url);
    for (let i = 0; i < 5; i++) expect((await client.json('/open', { owner: `o${i}`, initial: 1 })).status).toBe(200);
    client.close();
    expect((await first.stop()).code).toBe(0);
    // Without its live database, the next start rebuilds it, and says so before it listens: that is when the signal comes.
    fs.rmSync(path.join(journal, 'live.sqlite'));
    let signalled = false;
    const second = await spawnRecorder(BANK_APP, {
      journal,
      args: ['--durability', 'none'],
      onLine: (line, child) => {
        if (line.startsWith('database rebuilt') && !signalled) signalled = child.kill('SIGTERM');
      },
    });
    recorders.push(second);
    expect(signalled).toBe(true);
    const exit = await second.exited;
    expect(exit, second.stderr()).toEqual({ code: 0, signal: null });
    expect(second.stderr()).toContain('shutting down: draining in-flight sessions');
    // A clean close: no open marker, so the next start trusts the file it left.
    expect(fs.existsSync(path.join(journal, 'live.sqlite.open'))).toBe(false);
  });
});
