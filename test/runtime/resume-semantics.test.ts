import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadClient, ROOT, spawnRecorder, type RecorderOptions, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { listenLocally } from '../helpers/local-server.js';
import { readJournal, type SessionView } from './journal-view.js';

// What a session resumed after a crash runs with, through `replay record`
// killed while one of its calls is in doubt and started again: the code
// version, config, time zone and locale it started with (the process-start
// record before it, as a replay has them), whatever the restart was given.

const APP = path.join(ROOT, 'fixtures', 'apps', 'resumes', 'app.ts');
const tmp = tempDirs('windback-resume-semantics');
const recorders: RecorderProcess[] = [];
const callees: Callee[] = [];

afterAll(async () => {
  for (const r of recorders) await r.kill('SIGKILL');
  for (const c of callees) await c.close();
});

interface Callee {
  url: string;
  /** Every request, in order: its path and Authorization header. */
  received: { path: string; authorization: string | undefined }[];
  /** Leave the `nth` request (from 1) to `path` unanswered, and resolve once it has arrived. */
  hold(path: string, nth: number): Promise<void>;
  close(): Promise<void>;
}

/** A callee that answers `<path> #<n>` (n counts that path's requests), but for the requests it holds. */
async function startCallee(): Promise<Callee> {
  const received: Callee['received'] = [];
  const holds: { path: string; nth: number; arrived: () => void }[] = [];
  const server = await listenLocally((req, res) => {
    req.resume();
    req.on('end', () => {
      const pathname = req.url ?? '/';
      received.push({ path: pathname, authorization: req.headers.authorization });
      const n = received.filter((r) => r.path === pathname).length;
      const held = holds.find((h) => h.path === pathname && h.nth === n);
      if (held) return held.arrived();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${pathname} #${n}`);
    });
  });
  const callee: Callee = {
    url: server.url,
    received,
    hold: (pathname, nth) => new Promise((arrived) => holds.push({ path: pathname, nth, arrived })),
    close: server.close,
  };
  callees.push(callee);
  return callee;
}

async function record(journal: string, options: Omit<RecorderOptions, 'journal'> = {}): Promise<RecorderProcess> {
  const recorder = await spawnRecorder(APP, { journal, ...options });
  recorders.push(recorder);
  return recorder;
}

/** Send `POST /<kind>` and kill the recorder once `held` resolves (the callee holds the call): the session stays open. */
async function crashWhileHeld(recorder: RecorderProcess, kind: string, input: unknown, held: Promise<void>, idempotencyKey?: string): Promise<void> {
  const client = new LoadClient(recorder.url);
  const cut = client.json(`/${kind}`, input, { idempotencyKey }).catch((error: unknown) => error);
  await held;
  await recorder.kill('SIGKILL');
  await cut;
  client.close();
}

async function ended(journal: string, id: number): Promise<SessionView> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const session = readJournal(journal).sessions.get(id);
    if (session?.end) return session;
  }
  throw new Error(`session ${id} did not end`);
}

const bodyOf = (session: SessionView): unknown => JSON.parse(Buffer.from(session.responses[0].record.body).toString('utf8'));

describe('a session resumed by a restart with another --config, time zone and locale', () => {
  it("runs with the restart's, as a new session would, and replays each attempt with those of the process that ran it: verify finds it equal", { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const first = await record(journal, {
      config: { service: callee.url, greeting: 'hello', apiKey: 'FIRST-KEY-1234' },
      env: { TZ: 'UTC', LC_ALL: 'en_US.UTF-8' },
    });
    await crashWhileHeld(first, 'greet', {}, callee.hold('/greet', 1));

    const second = await record(journal, {
      config: { service: callee.url, greeting: 'bonjour', apiKey: 'SECOND-KEY-5678' },
      env: { TZ: 'Asia/Tokyo', LC_ALL: 'de_DE.UTF-8' },
    });
    const session = await ended(journal, 1);
    expect((await second.stop()).code).toBe(0);
    expect(session.attempts.map((a) => a.record.reason)).toEqual(['resume']);
    expect(session.end?.record).toMatchObject({ status: 'ok', error: null });
    // The call in doubt was made again with the rotated key, and the rest is the restart's too.
    expect(callee.received).toEqual([
      { path: '/greet', authorization: 'Bearer FIRST-KEY-1234' },
      { path: '/greet', authorization: 'Bearer SECOND-KEY-5678' },
    ]);
    const expected = { answer: '/greet #2', greeting: 'bonjour', epoch: 'Thu Jan 01 1970 09:00:00 GMT+0900 (Japanische Normalzeit)', number: '1.234,5' };
    expect(bodyOf(session)).toEqual(expected);

    // The replay of attempt 2 runs with the restart's config, time zone and locale, not those the session started with.
    const run = replay(['run', '1', '--journal', journal, '--json']);
    expect(run.json, run.stdout + run.stderr).toMatchObject({ session: 1, equal: true, divergence: null });
    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('performance.now() in a resumed session', () => {
  it('goes on from the value the session was served, never back, though the resumed attempt\'s clock starts again', { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const config = { service: callee.url };
    await crashWhileHeld(await record(journal, { config }), 'elapsed', {}, callee.hold('/elapsed', 1));
    const second = await record(journal, { config });
    const session = await ended(journal, 1);
    expect((await second.stop()).code).toBe(0);
    const { before, after } = bodyOf(session) as { before: number; after: number };
    expect(before).toBeGreaterThanOrEqual(300);
    expect(after).toBeGreaterThanOrEqual(before);
    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('setInterval() in a resumed session', () => {
  it('goes on ticking after the ticks the journal holds, and the session ends', { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const config = { service: callee.url };
    const first = await record(journal, { config });
    const held = callee.hold('/ticks', 1);
    const ticks = (): number => (readJournal(journal).sessions.get(1)?.records ?? []).filter((e) => e.record.kind === 'value' && e.record.source === 'timer').length;
    // Killed once the interval has ticked twice (journaled), while the call is held.
    const journaledTwice = (async () => {
      await held;
      while (ticks() < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    })();
    await crashWhileHeld(first, 'ticks', { ticks: 6 }, journaledTwice);
    const before = ticks();
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(6);

    const second = await record(journal, { config });
    const session = await ended(journal, 1);
    expect((await second.stop()).code).toBe(0);
    expect(bodyOf(session)).toEqual({ answer: '/ticks #2', n: 6 });
    expect(ticks()).toBe(6);
    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('a session whose retry a crash cut', () => {
  it('runs at most three attempts in all when resumed: the resume re-runs the attempt the crash cut, and is not one more', { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const config = { service: callee.url };
    // Attempt 1 fails; the crash comes while attempt 2 (its retry) waits on its call.
    const first = await record(journal, { config });
    await crashWhileHeld(first, 'flaky', { failures: 5 }, callee.hold('/flaky', 2));

    const second = await record(journal, { config });
    const session = await ended(journal, 1);
    expect((await second.stop()).code).toBe(0);
    // Attempt 3 resumes attempt 2 (its call in doubt, made again) and fails; attempt 4 is the third and last.
    expect(session.attempts.map((a) => [a.record.attempt, a.record.reason])).toEqual([
      [2, 'retry'],
      [3, 'resume'],
      [4, 'retry'],
    ]);
    expect(session.end?.record).toMatchObject({ status: 'error', error: { name: 'RetryableError', message: 'attempt 4 fails', retryable: true } });
    expect(callee.received.map((r) => r.path)).toEqual(['/flaky', '/flaky', '/flaky', '/flaky']);

    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('the Idempotency-Key of a session that ended aborted', () => {
  it('answers its duplicates with a 500 that says so, not a 503 to retry, in the process that aborted it and after', { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const options = { config: { service: callee.url }, args: ['--max-resumes', '0'] };
    await crashWhileHeld(await record(journal, options), 'greet', {}, callee.hold('/greet', 1), 'key-1');

    // --max-resumes 0: the restart ends the session aborted instead of resuming it.
    const expected = {
      name: 'Aborted',
      message: expect.stringMatching(/^the original request with Idempotency-Key key-1 \(session 1\) ended aborted, without a response: the process ended during each of its last 1 attempts .*; it is not run again$/),
    };
    for (let restart = 1; restart <= 2; restart++) {
      const recorder = await record(journal, options);
      if (restart === 1) expect(recorder.stderr()).toContain('session 1 aborted');
      const client = new LoadClient(recorder.url);
      const duplicate = await client.json('/greet', {}, { idempotencyKey: 'key-1' });
      client.close();
      expect((await recorder.stop()).code).toBe(0);
      expect(duplicate.status, duplicate.body.toString()).toBe(500);
      expect(duplicate.session).toBe(1);
      expect(duplicate.error).toEqual(expected);
    }
    // Nothing ran again, and no duplicate-request record says it was answered a response.
    expect(callee.received).toHaveLength(1);
    const view = readJournal(journal);
    expect(view.sessions.size).toBe(1);
    expect(view.duplicates).toEqual([]);
    expect(view.sessions.get(1)!.end?.record.status).toBe('aborted');
  });
});

describe('SIGTERM while a session waits on nothing', () => {
  it('waits --drain-timeout, stops it, closes the journal and exits 0, whether its client went away or it was resumed without one', { timeout: 90_000 }, async () => {
    const journal = tmp();
    const options = { args: ['--drain-timeout', '300'] };
    const first = await record(journal, options);
    // The client gives up: the session holds no handle of its own (no socket, no timer, no call).
    const request = http.request(`${first.url}/forever`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    request.on('error', () => {});
    request.end('{}');
    for (const deadline = Date.now() + 20_000; !readJournal(journal).records.some((e) => e.record.kind === 'write-tx' && e.record.migration === null); ) {
      if (Date.now() > deadline) throw new Error('the session did not commit');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const closed = new Promise((resolve) => request.once('close', resolve));
    request.destroy();
    await closed;

    for (let run = 1; run <= 2; run++) {
      const recorder = run === 1 ? first : await record(journal, options);
      if (run === 2) expect(recorder.stderr()).toContain('resuming 1 session(s)');
      const exit = await recorder.stop();
      expect(exit, recorder.stderr()).toEqual({ code: 0, signal: null });
      expect(recorder.stderr()).toContain('shutting down: 1 session(s) still running after the 300 ms drain timeout (1) stopped where they were; the next start resumes them');
    }
    const session = readJournal(journal).sessions.get(1)!;
    expect(session.end).toBeNull();
    expect(session.attempts.map((a) => a.record.reason)).toEqual(['resume']);
  });
});

describe('a resumed session whose code asks for another call than the one in doubt', () => {
  it('logs the nondeterminism, which the app gets only as "TypeError: fetch failed", and verify names the call', { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const config = { service: callee.url };
    await crashWhileHeld(await record(journal, { config }), 'attempted', {}, callee.hold('/attempt-1', 1));

    const second = await record(journal, { config });
    const session = await ended(journal, 1);
    expect((await second.stop()).code).toBe(0);
    expect(session.end?.record).toMatchObject({ status: 'error', error: { name: 'TypeError', message: 'fetch failed' } });
    expect(second.stderr()).toMatch(
      /warning: nondeterminism detected while resuming session 1: call 0 is fetch\(.*\/attempt-2.*\); the journal holds fetch\(.*\/attempt-1.*\); the app was given an error there \(replay run 1 shows the step\)/,
    );
    expect(callee.received.map((r) => r.path)).toEqual(['/attempt-1']);
    expect(second.stderr()).not.toContain('ended without');

    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code).toBe(1);
    expect(verify.json.failures[0].divergence).toMatchObject({ kind: 'call', message: expect.stringMatching(/^call 0 is fetch\(.*attempt-2/) });
  });
});

describe('a resumed session whose call in doubt held a config value the restart changed', () => {
  it('is told so as an error, and the log and verify show where the requests differ, however long they are', { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    await crashWhileHeld(await record(journal, { config: { service: callee.url, greeting: 'hello' } }), 'sendGreeting', {}, callee.hold('/greet', 1));

    const second = await record(journal, { config: { service: callee.url, greeting: 'bonjour' } });
    const session = await ended(journal, 1);
    expect((await second.stop()).code).toBe(0);
    expect(session.end?.record).toMatchObject({ status: 'error', error: { name: 'TypeError', message: 'fetch failed' } });
    const difference = /call 0 is fetch\(\.\.\..*"body":"bonjour"\}\); the journal holds fetch\(\.\.\..*"body":"hello"\}\)/;
    expect(second.stderr()).toMatch(difference);
    expect(callee.received).toHaveLength(1);

    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code).toBe(1);
    expect(verify.json.failures[0].divergence).toMatchObject({ kind: 'call', message: expect.stringMatching(difference) });
  });
});

describe('a resumed session that never makes the call in doubt again', () => {
  it('ends, and the log says it ended without that call', { timeout: 90_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const config = { service: callee.url };
    await crashWhileHeld(await record(journal, { config }), 'firstOnly', {}, callee.hold('/first', 1));

    const second = await record(journal, { config });
    const session = await ended(journal, 1);
    expect((await second.stop()).code).toBe(0);
    expect(session.end?.record).toMatchObject({ status: 'ok' });
    const call = session.records.find((e) => e.record.kind === 'call-start')!;
    expect(second.stderr()).toContain(
      `warning: nondeterminism detected while resuming session 1: attempt 2 ended without the call 0 (fetch) at position ${call.position} that the attempt it re-ran journaled, a call it never made again (replay show 1 lists its attempts)`,
    );
    expect(callee.received).toHaveLength(1);
  });
});
