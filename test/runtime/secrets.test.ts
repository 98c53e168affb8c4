import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, LoadClient, ROOT, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { listenLocally } from '../helpers/local-server.js';
import { readJournal } from './journal-view.js';

// Secret config fields (docs/server.md, "Secrets"), end to end through
// `replay record --config`: no record holds a secret's value (the journal
// directory's bytes are searched for it), the live app and its callee still
// see the real value, and `replay verify` finds the sessions equal, since a
// replay runs with the placeholders the journal holds in their place.

const SECRETS_APP = path.join(ROOT, 'fixtures', 'apps', 'secrets', 'app.ts');
const API_KEY = 'RUNTIMESECRET_ZZZ';
// A quote and a backslash: escaped in JSON response bodies, which must not hide it.
const PASSWORD = 'pa"ss\\word-QQQ9';
const tmp = tempDirs('windback-secrets');
const recorders: RecorderProcess[] = [];
const callees: Callee[] = [];

afterAll(async () => {
  for (const r of recorders) await r.kill('SIGKILL');
  for (const c of callees) await c.close();
});

interface Callee {
  url: string;
  /** The Authorization header and body of each request it got. */
  received: { authorization: string | undefined; body: string }[];
  /** Hold the next request unanswered until release() (to crash the recorder while a call is in doubt). */
  holdNext(): void;
  arrived(): Promise<void>;
  close(): Promise<void>;
}

/** A callee that answers each request with the Authorization header and the body it was sent. */
async function startCallee(): Promise<Callee> {
  const received: Callee['received'] = [];
  let hold = false;
  const arrivals: (() => void)[] = [];
  const server = await listenLocally((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ authorization: req.headers.authorization, body });
      arrivals.shift()?.();
      if (hold) {
        hold = false;
        return; // never answered: the recorder is killed meanwhile
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.headers.authorization} ${body}`);
    });
  });
  const callee: Callee = {
    url: server.url,
    received,
    holdNext: () => void (hold = true),
    arrived: () => new Promise((resolve) => arrivals.push(resolve)),
    close: server.close,
  };
  callees.push(callee);
  return callee;
}

async function record(journal: string, config: Record<string, unknown>): Promise<{ recorder: RecorderProcess; client: LoadClient }> {
  const recorder = await spawnRecorder(SECRETS_APP, { journal, config });
  recorders.push(recorder);
  return { recorder, client: new LoadClient(recorder.url) };
}

async function stop(recorder: RecorderProcess, client: LoadClient): Promise<void> {
  client.close();
  const exit = await recorder.stop();
  expect(exit.code, recorder.stderr()).toBe(0);
}

/** Every file of the journal directory (segments, catalog, snapshots, bundles), concatenated. */
function journalBytes(dir: string): Buffer {
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  expect(files.some((f) => f.name.endsWith('.wbj'))).toBe(true);
  return Buffer.concat(files.map((f) => fs.readFileSync(path.join(f.parentPath, f.name))));
}

function expectNoSecret(dir: string, ...secrets: string[]): void {
  const bytes = journalBytes(dir);
  for (const secret of secrets) {
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) {
      expect(bytes.includes(Buffer.from(form)), `the journal holds ${JSON.stringify(form)}`).toBe(false);
    }
  }
}

describe('secret config fields', () => {
  it('are journaled nowhere, reach the app and its callee, and the sessions verify equal', { timeout: 60_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const { recorder, client } = await record(journal, { apiKey: API_KEY, db: { password: PASSWORD }, callee: callee.url });

    const fetched = await client.json('/usefetch', {});
    expect(fetched.status).toBe(200);
    // Live, the callee got the real credentials, and the app the real answer.
    expect(callee.received[0]).toEqual({ authorization: `Bearer ${API_KEY}`, body: JSON.stringify({ password: PASSWORD }) });
    expect(fetched.value).toEqual({ status: 200, echoed: `Bearer ${API_KEY} ${JSON.stringify({ password: PASSWORD })}` });
    const called = await client.json('/usecall', {});
    expect(called.value).toEqual({ r: `signed with ${API_KEY}` });
    const echoed = await client.json('/echo', {});
    expect(echoed.value).toEqual({ key: API_KEY, read: { [API_KEY]: PASSWORD } });
    const failed = await client.json('/fail', {});
    expect(failed.status).toBe(500);
    const retried = await client.json('/retried', {});
    expect(retried.value).toEqual({ r: `signed with ${API_KEY}`, attempt: 2 });
    // A client's own Authorization header is not journaled either (unless --journal-secrets).
    const plain = await client.json('/plain', {}, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(plain.status).toBe(200);
    await stop(recorder, client);

    expectNoSecret(journal, API_KEY, PASSWORD);

    // What the journal holds instead: the placeholder the replay's config holds.
    const view = readJournal(journal);
    const processStart = view.records.find((e) => e.record.kind === 'process-start')!.record as { config: unknown };
    expect(processStart.config).toEqual({ apiKey: '__redacted.apiKey__', db: { password: '__redacted.db.password__' }, callee: callee.url });
    const fetchStart = view.sessions.get(fetched.session!)!.records.find((e) => e.record.kind === 'call-start')!.record as { request: unknown };
    expect(fetchStart.request).toMatchObject({
      headers: { authorization: 'Bearer __redacted.apiKey__' },
      body: JSON.stringify({ password: '__redacted.db.password__' }),
    });
    const echoResponse = view.sessions.get(echoed.session!)!.responses[0].record;
    expect(JSON.parse(Buffer.from(echoResponse.body).toString('utf8'))).toEqual({
      key: '__redacted.apiKey__',
      read: { '__redacted.apiKey__': '__redacted.db.password__' },
    });
    expect(view.sessions.get(failed.session!)!.end!.record.error).toMatchObject({ message: 'the callee refused __redacted.apiKey__' });

    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json).toMatchObject({ sessions: 6, passed: 6, diverged: 0 });
  });

  it('a value computed from a secret outside ctx.call() replays differently; the secret used as a credential does not', { timeout: 60_000 }, async () => {
    const journal = tmp();
    // Not 19 characters long, as the placeholder '__redacted.apiKey__' is.
    const key = 'ANOTHER_RUNTIMESECRET';
    const { recorder, client } = await record(journal, { apiKey: key, db: { password: PASSWORD } });
    const called = await client.json('/usecall', {});
    expect(called.value).toEqual({ r: `signed with ${key}` });
    const r = await client.json('/uselen', {});
    expect(r.value).toEqual({ len: key.length });
    await stop(recorder, client);
    expectNoSecret(journal, key, PASSWORD);

    // The replay's handler returns the placeholder's length: its response differs, and verify names that step.
    const verify = replay(['verify', '--journal', journal]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(1);
    expect(verify.stdout).toMatch(new RegExp(`DIVERGED session ${r.session}: step \\d+ \\(response\\): the response body differs`));
    expect(verify.stdout).toMatch(/2 sessions replayed: 1 equal, 1 diverged/);
  });

  it('resume after a crash while a call with a secret was in doubt, and the session verifies equal', { timeout: 60_000 }, async () => {
    const callee = await startCallee();
    const journal = tmp();
    const config = { apiKey: API_KEY, db: { password: PASSWORD }, callee: callee.url };
    const first = await record(journal, config);
    callee.holdNext();
    const arrived = callee.arrived();
    const pending = first.client.json('/signedfetch', {}).catch(() => null);
    await arrived;
    await first.recorder.kill('SIGKILL');
    first.client.close();
    await pending;

    // The restart resumes the session: its journaled calls (placeholders) are the calls the live code makes (the key).
    const second = await record(journal, config);
    const deadline = Date.now() + 20_000;
    while (callee.received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await stop(second.recorder, second.client);
    expect(second.recorder.stderr()).not.toMatch(/nondeterminism|could not resume/);
    expect(callee.received).toHaveLength(2);
    // The resumed session sent what it sent before: the key, and the journaled call result (placeholder) with the key back in.
    expect(callee.received[1]).toEqual({ authorization: `Bearer ${API_KEY}`, body: `signed with ${API_KEY}` });
    expect(callee.received[0]).toEqual(callee.received[1]);
    const session = readJournal(journal).sessions.get(1)!;
    expect(session.attempts.map((a) => a.record.reason)).toEqual(['resume']);
    expect(session.end?.record.status).toBe('ok');
    expectNoSecret(journal, API_KEY, PASSWORD);

    const verify = replay(['verify', '--journal', journal, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.json).toMatchObject({ diverged: 0 });
  });

  it('in a keyed request and its response: a duplicate after a restart is answered the original response', { timeout: 60_000 }, async () => {
    const journal = tmp();
    const config = { apiKey: API_KEY, db: { password: PASSWORD } };
    const first = await record(journal, config);
    const original = await first.client.json('/echo', { token: API_KEY }, { idempotencyKey: 'key-1' });
    expect(original.value).toEqual({ key: API_KEY, read: { [API_KEY]: PASSWORD } });
    await stop(first.recorder, first.client);
    expect(readJournal(journal).sessions.get(original.session!)!.start.input).toEqual({ token: '__redacted.apiKey__' });

    // The journal holds the input and the response with placeholders; the duplicate is the same request, and gets what the original got.
    const second = await record(journal, config);
    const duplicate = await second.client.json('/echo', { token: API_KEY }, { idempotencyKey: 'key-1' });
    const other = await second.client.json('/echo', { token: 'something else' }, { idempotencyKey: 'key-1' });
    await stop(second.recorder, second.client);
    expect(duplicate.status, duplicate.body.toString()).toBe(200);
    expect(duplicate.session).toBe(original.session);
    expect(duplicate.body.equals(original.body)).toBe(true);
    expect(other.status).toBe(422);
    expectNoSecret(journal, API_KEY, PASSWORD);
  });

  it('shorter than 8 characters is refused with a usage error', { timeout: 60_000 }, async () => {
    const journal = tmp();
    // Were it accepted, the server would start and keep listening: stopped after a while.
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'record', SECRETS_APP, '--journal', journal, '--port', '0', '--config', JSON.stringify({ apiKey: 'abc' })], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/secret field "apiKey" is 3 characters long; secrets must have at least 8/);
    expect(fs.readdirSync(journal).some((f) => f.endsWith('.wbj')) && readJournal(journal).records.some((e) => e.record.kind === 'process-start')).toBe(false);
  });
});
