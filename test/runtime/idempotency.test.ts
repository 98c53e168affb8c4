import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import { BANK_APP, LoadClient, spawnRecorder, type CallOutcome, type RecorderProcess } from '../../scripts/load.js';
import { tempDirs } from '../helpers/cli.js';
import { expectJournaled, readJournal } from './journal-view.js';

// Idempotency-Key through `replay record`: a duplicate gets the journaled
// response of the first request without a new session; the same key for a
// different request is refused; a duplicate of a request still running waits
// for its result, also across a restart and a crash.

const tmp = tempDirs('windback-idem');

/**
 * Lets a test hold the stub's answers to `path` open: `held` resolves with the
 * idempotency key of the first one that arrives, `release` lets them all go.
 */
function gate(path = '/score'): { hold: (path: string, key: string) => Promise<void> | void; held: Promise<string>; release: () => void; on: boolean } {
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  let arrived!: (key: string) => void;
  const held = new Promise<string>((resolve) => (arrived = resolve));
  const g = {
    on: false,
    held,
    release,
    hold: (to: string, key: string): Promise<void> | void => {
      if (!g.on || to !== path) return;
      arrived(key);
      return open;
    },
  };
  return g;
}

let current = gate();
let stub: RunningStub;
let server: RecorderProcess;
let client: LoadClient;
let journal: string;
let alice: string;
let bob: string;

async function start(): Promise<void> {
  server = await spawnRecorder(BANK_APP, { journal, config: { fraudUrl: stub.url } });
  client.url = server.url;
}

async function inFlight(): Promise<number> {
  const r = await client.request('GET', '/_windback/health');
  return (JSON.parse(r.body.toString()) as { inFlight: number }).inFlight;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}

beforeAll(async () => {
  stub = await startStub(0, { hold: (path, key) => current.hold(path, key) });
  journal = tmp();
  client = new LoadClient('http://127.0.0.1:1');
  await start();
  alice = ((await client.json('/open', { owner: 'alice', initial: 100_000 })).value as { id: string }).id;
  bob = ((await client.json('/open', { owner: 'bob' })).value as { id: string }).id;
});

afterAll(async () => {
  current.release();
  client?.close();
  await server?.stop();
  await stub?.close();
});

function expectSame(a: CallOutcome, b: CallOutcome): void {
  expect(b.status).toBe(a.status);
  expect(b.session).toBe(a.session);
  expect(b.body.equals(a.body), `${b.body} equals ${a.body}`).toBe(true);
}

describe('Idempotency-Key', () => {
  it('a duplicate gets the journaled response, with no new session, over each transport', async () => {
    const first = await client.json('/deposit', { account: bob, amount: 100 }, { idempotencyKey: 'dup-json' });
    const again = await client.json('/deposit', { account: bob, amount: 100 }, { idempotencyKey: 'dup-json' });
    const rpc1 = await client.rpc('deposit', { account: bob, amount: 10 }, { idempotencyKey: 'dup-rpc', id: 1 });
    const rpc2 = await client.rpc('deposit', { account: bob, amount: 10 }, { idempotencyKey: 'dup-rpc', id: 1 });
    const xml1 = await client.xmlRpc('deposit', [{ account: bob, amount: 1 }], { idempotencyKey: 'dup-xml' });
    const xml2 = await client.xmlRpc('deposit', [{ account: bob, amount: 1 }], { idempotencyKey: 'dup-xml' });
    for (const [a, b] of [
      [first, again],
      [rpc1, rpc2],
      [xml1, xml2],
    ]) {
      expect(a.ok, a.body.toString()).toBe(true);
      expectSame(a, b);
    }
    expect((first.value as { balance: number }).balance).toBe(100);
    expect((rpc2.value as { balance: number }).balance).toBe(110);
    expect((xml2.value as { balance: number }).balance).toBe(111);

    const view = readJournal(journal);
    for (const [key, r] of [
      ['dup-json', first],
      ['dup-rpc', rpc1],
      ['dup-xml', xml1],
    ] as const) {
      expectJournaled(view, r);
      expect([...view.sessions.values()].filter((s) => s.start.idempotencyKey === key).map((s) => s.id)).toEqual([r.session]);
      expect(view.duplicates.filter((d) => d.record.idempotencyKey === key).map((d) => d.record.originalSession)).toEqual([r.session]);
    }
    const balance = await client.json('/balance', { account: bob });
    expect((balance.value as { balance: number }).balance).toBe(111);
  });

  it('the same key with a different request is refused with 422, and starts nothing', async () => {
    const first = await client.json('/deposit', { account: bob, amount: 7 }, { idempotencyKey: 'conflict' });
    expect(first.status).toBe(200);
    const before = readJournal(journal);
    const other = await client.json('/deposit', { account: bob, amount: 8 }, { idempotencyKey: 'conflict' });
    const otherRoute = await client.json('/open', { owner: 'eve' }, { idempotencyKey: 'conflict' });
    for (const r of [other, otherRoute]) {
      expect(r.status).toBe(422);
      expect(r.error).toMatchObject({ name: 'IdempotencyKeyReused', message: expect.stringContaining(`session ${first.session}`) });
      expect(r.session).toBeNull();
    }
    const after = readJournal(journal);
    expect(after.sessions.size).toBe(before.sessions.size);
    expect(after.duplicates.length).toBe(before.duplicates.length);
  });

  it('a JSON-RPC retry under a new id gets the response with its own id, journaled in its duplicate-request record', async () => {
    const first = await client.rpc('deposit', { account: bob, amount: 3 }, { idempotencyKey: 'rpc-ids', id: 7 });
    const retry = await client.rpc('deposit', { account: bob, amount: 3 }, { idempotencyKey: 'rpc-ids', id: 8 });
    const same = await client.rpc('deposit', { account: bob, amount: 3 }, { idempotencyKey: 'rpc-ids', id: 7 });
    expect(first.ok, first.body.toString()).toBe(true);
    const body = JSON.parse(first.body.toString()) as { id: unknown };
    expect(body.id).toBe(7);
    expect(JSON.parse(retry.body.toString())).toEqual({ ...body, id: 8 });
    expect(retry.session).toBe(first.session);
    expectSame(first, same);
    // A retry sent as a notification is answered as one: 204, no body.
    const notification = await client.request('POST', '/rpc', JSON.stringify({ jsonrpc: '2.0', method: 'deposit', params: { account: bob, amount: 3 } }), { 'idempotency-key': 'rpc-ids' });
    expect(notification).toMatchObject({ status: 204, session: first.session });
    expect(notification.body.length).toBe(0);

    const view = readJournal(journal);
    expectJournaled(view, first);
    expect([...view.sessions.values()].filter((s) => s.start.idempotencyKey === 'rpc-ids')).toHaveLength(1);
    // The record says what each duplicate was sent: the journaled bytes (no rpcId), or them with its id, or nothing ("").
    expect(view.duplicates.filter((d) => d.record.idempotencyKey === 'rpc-ids').map((d) => ({ ...d.record, at: 0 }))).toEqual([
      { kind: 'duplicate-request', at: 0, originalSession: first.session, idempotencyKey: 'rpc-ids', route: '/rpc', rpcId: '8' },
      { kind: 'duplicate-request', at: 0, originalSession: first.session, idempotencyKey: 'rpc-ids', route: '/rpc' },
      { kind: 'duplicate-request', at: 0, originalSession: first.session, idempotencyKey: 'rpc-ids', route: '/rpc', rpcId: '' },
    ]);

    // A notification has no response to give a retry that wants one.
    const sent = await client.request('POST', '/rpc', JSON.stringify({ jsonrpc: '2.0', method: 'deposit', params: { account: bob, amount: 4 } }), { 'idempotency-key': 'rpc-note' });
    expect(sent.status).toBe(204);
    const wants = await client.rpc('deposit', { account: bob, amount: 4 }, { idempotencyKey: 'rpc-note', id: 1 });
    expect(wants.status).toBe(422);
    expect(JSON.parse(wants.body.toString()).error).toEqual({
      name: 'IdempotencyKeyReused',
      message: `Idempotency-Key rpc-note was used for a notification (session ${sent.session}), which has no response to send; use a new key`,
    });
  });

  it('a different request with the key of one still running is refused, naming that session', async () => {
    current = gate();
    current.on = true;
    const first = client.json('/transfer', { from: alice, to: bob, amount: 55 }, { idempotencyKey: 'running-conflict' });
    await current.held;
    const other = await client.json('/transfer', { from: alice, to: bob, amount: 56 }, { idempotencyKey: 'running-conflict' });
    current.release();
    const a = await first;
    expect(a.status, a.body.toString()).toBe(200);
    expect(other.status).toBe(422);
    expect(other.error).toEqual({ name: 'IdempotencyKeyReused', message: `Idempotency-Key running-conflict was used for a different request (session ${a.session})` });
  });

  it('a duplicate of a request still running waits for its result', async () => {
    current = gate();
    current.on = true;
    const input = { from: alice, to: bob, amount: 321 };
    const first = client.json('/transfer', input, { idempotencyKey: 'slow-1' });
    await current.held; // the first request is inside its fraud check, held by the stub
    let settled = false;
    const duplicate = client.json('/transfer', input, { idempotencyKey: 'slow-1' }).finally(() => (settled = true));
    await until(async () => (await inFlight()) >= 2, 'the duplicate to reach the server');
    expect(settled).toBe(false);
    current.release();
    const [a, b] = await Promise.all([first, duplicate]);
    expect(a.status, a.body.toString()).toBe(200);
    expectSame(a, b);

    const view = readJournal(journal);
    const session = expectJournaled(view, a);
    expect([...view.sessions.values()].filter((s) => s.start.idempotencyKey === 'slow-1')).toHaveLength(1);
    const dup = view.duplicates.find((d) => d.record.idempotencyKey === 'slow-1')!;
    expect(dup.record.originalSession).toBe(a.session);
    // The duplicate was answered after the original's response was journaled.
    expect(dup.position).toBeGreaterThan(session.responses[0].position);
    expect(Object.entries(stub.stats().executions).filter(([k]) => k.startsWith('/score ') && k.endsWith(`-${a.session}-0`))).toHaveLength(1);
  });

  it('after a restart, a duplicate is answered from the journal, and a conflicting reuse is still refused', async () => {
    const json = await client.json('/deposit', { account: bob, amount: 5 }, { idempotencyKey: 'restart-json' });
    const rpc = await client.rpc('deposit', { account: bob, amount: 6 }, { idempotencyKey: 'restart-rpc', id: 'r1' });
    const xml = await client.xmlRpc('deposit', [{ account: bob, amount: 7 }], { idempotencyKey: 'restart-xml' });
    expect((await server.stop()).code).toBe(0);
    await start();
    // Sent again differently spaced: the key binds the request, not its bytes.
    const jsonAgain = await client.request('POST', '/deposit', `{ "account" : "${bob}", "amount" : 5 }`, { 'idempotency-key': 'restart-json' });
    const rpcAgain = await client.rpc('deposit', { account: bob, amount: 6 }, { idempotencyKey: 'restart-rpc', id: 'r1' });
    const xmlAgain = await client.xmlRpc('deposit', [{ account: bob, amount: 7 }], { idempotencyKey: 'restart-xml' });
    expectSame(json, { ...jsonAgain, transport: 'json', ok: true, value: null, error: null });
    expectSame(rpc, rpcAgain);
    expectSame(xml, xmlAgain);
    const conflict = await client.rpc('deposit', { account: bob, amount: 60 }, { idempotencyKey: 'restart-rpc', id: 'r1' });
    expect(conflict.status).toBe(422);
    const view = readJournal(journal);
    for (const key of ['restart-json', 'restart-rpc', 'restart-xml']) {
      expect([...view.sessions.values()].filter((s) => s.start.idempotencyKey === key)).toHaveLength(1);
      expect(view.duplicates.filter((d) => d.record.idempotencyKey === key)).toHaveLength(1);
    }
  });

  it('after a crash, a duplicate of a request the crash cut waits for the resumed session and gets its response', async () => {
    current = gate();
    current.on = true;
    const input = { from: alice, to: bob, amount: 444 };
    const cut = client.json('/transfer', input, { idempotencyKey: 'crash-1' }).then(
      () => 'answered',
      () => 'cut',
    );
    const key = await current.held; // the call is in doubt: started, its result not journaled
    await server.kill('SIGKILL');
    expect(await cut).toBe('cut');
    current.release(); // the stub answers the dead connection, and keeps the answer for the key
    // The session resumes: its fraud check runs again with the same key (the stub
    // answers from its cache), it commits, and is held at its notification.
    current = gate('/notify');
    current.on = true;
    await start();
    await current.held;
    const duplicate = client.json('/transfer', input, { idempotencyKey: 'crash-1' });
    await until(async () => (await inFlight()) >= 2, 'the duplicate to reach the server');
    current.release();
    const r = await duplicate;
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.value).toMatchObject({ from: alice, to: bob, amount: 444 });

    const view = readJournal(journal);
    const session = expectJournaled(view, r);
    expect(session.start.idempotencyKey).toBe('crash-1');
    expect(session.attempts.map((a) => a.record.reason)).toEqual(['resume']);
    expect(session.end?.record.status).toBe('ok');
    expect(view.duplicates.filter((d) => d.record.idempotencyKey === 'crash-1').map((d) => d.record.originalSession)).toEqual([r.session]);
    // The call in doubt ran again with the same key, and the stub executed it once.
    expect(stub.stats().executions[`/score ${key}`]).toBe(1);
  });
});
