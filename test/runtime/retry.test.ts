import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import { BANK_APP, LoadClient, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import type { CallStartRecord, CheckpointRecord, ReadTxRecord, ValueRecord } from '../../src/model/records.js';
import { replay, tempDirs } from '../helpers/cli.js';
import { CHECKPOINTS_APP } from '../replay/implicit-fixture.js';
import { expectJournaled, readJournal, type SessionView } from './journal-view.js';

// Winding back after a retryable exception: the fraud stub answers 503, the
// bank app throws RetryableError, and the runtime runs the session again from
// its last checkpoint ('validated'): what came before it is served from the
// journal, the fraud check runs again with the same idempotency key.

const tmp = tempDirs('windback-retry');
let stub: RunningStub;
let server: RecorderProcess;
let client: LoadClient;
let journal: string;
let alice: string;
let bob: string;
/** How many of the next /score requests the stub answers with 503. */
let failNext = 0;

beforeAll(async () => {
  stub = await startStub(0, { fail: (path) => path === '/score' && failNext > 0 && failNext-- > 0 });
  journal = tmp();
  server = await spawnRecorder(BANK_APP, { journal, config: { fraudUrl: stub.url } });
  client = new LoadClient(server.url);
  alice = ((await client.json('/open', { owner: 'alice', initial: 10_000 })).value as { id: string }).id;
  bob = ((await client.json('/open', { owner: 'bob' })).value as { id: string }).id;
});

afterAll(async () => {
  client?.close();
  expect((await server?.stop())?.code).toBe(0);
  await stub?.close();
});

function recordsOf<K extends string>(session: SessionView, kind: K) {
  return session.records.filter((r) => r.record.kind === kind);
}

describe('retry from a checkpoint', () => {
  it('a 503 from the fraud service winds the session back to its "validated" checkpoint, and it ends ok', async () => {
    failNext = 1;
    const r = await client.json('/transfer', { from: alice, to: bob, amount: 1_000 });
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.value).toMatchObject({ from: alice, to: bob, amount: 1_000, balance: 9_000 });

    const session = expectJournaled(readJournal(journal), r);
    const validated = recordsOf(session, 'checkpoint').find((c) => (c.record as CheckpointRecord).label === 'validated')!;
    expect(validated).toBeDefined();
    expect(session.attempts.map((a) => a.record)).toEqual([
      expect.objectContaining({ kind: 'session-attempt', attempt: 2, reason: 'retry', fromCheckpoint: validated.position }),
    ]);
    expect(session.attempts[0].position).toBeGreaterThan(validated.position);
    expect(session.end?.record).toMatchObject({ status: 'ok', error: null });

    // Before the checkpoint: served, not redone (one read, one 'validated').
    expect(recordsOf(session, 'read-tx')).toHaveLength(1);
    expect(recordsOf(session, 'checkpoint').filter((c) => (c.record as CheckpointRecord).label === 'validated')).toHaveLength(1);
    // After it: the fraud check ran twice, with the same idempotency key; the first got the 503.
    const scores = recordsOf(session, 'call-start').filter((c) => String(((c.record as CallStartRecord).request as { url?: string }).url).endsWith('/score'));
    expect(scores).toHaveLength(2);
    expect(scores[0].position).toBeLessThan(session.attempts[0].position);
    expect(scores[1].position).toBeGreaterThan(session.attempts[0].position);
    const key = (scores[0].record as CallStartRecord).idempotencyKey;
    expect((scores[1].record as CallStartRecord).idempotencyKey).toBe(key);
    expect(stub.stats().executions[`/score ${key}`]).toBe(1);
    // One transfer committed.
    expect(recordsOf(session, 'write-tx')).toHaveLength(1);
    const balance = await client.json('/balance', { account: bob });
    expect((balance.value as { balance: number }).balance).toBe(1_000);
  });

  it('gives up after three attempts: the session ends in error, marked retryable', async () => {
    failNext = 3;
    const r = await client.json('/transfer', { from: alice, to: bob, amount: 500 });
    expect(r.status).toBe(500);
    const session = expectJournaled(readJournal(journal), r);
    expect(session.attempts.map((a) => [a.record.attempt, a.record.reason])).toEqual([
      [2, 'retry'],
      [3, 'retry'],
    ]);
    const validated = recordsOf(session, 'checkpoint').find((c) => (c.record as CheckpointRecord).label === 'validated')!;
    for (const a of session.attempts) expect(a.record.fromCheckpoint).toBe(validated.position);
    expect(session.end?.record).toMatchObject({ status: 'error', error: { name: 'RetryableError', message: 'fraud service unavailable', retryable: true } });
    expect(recordsOf(session, 'write-tx')).toHaveLength(0);
    expect(failNext).toBe(0);
  });
});

// A RetryableError before the app has taken any checkpoint of its own: no
// checkpoint is journaled for it before its handler, so the next attempt
// winds back to none (fromCheckpoint null) and runs again from the start,
// served nothing. fixtures/apps/checkpoints `flaky` reads, draws a UUID, and
// throws in each of its first `failures` attempts.
describe('retry before any checkpoint of the app\'s own', () => {
  let flakyJournal: string;
  let recorder: RecorderProcess | null = null;

  afterAll(async () => {
    await recorder?.stop();
  });

  it('runs the session again from its start, journals no checkpoint, and replays equal', async () => {
    flakyJournal = tmp();
    recorder = await spawnRecorder(CHECKPOINTS_APP, { journal: flakyJournal });
    const flakyClient = new LoadClient(recorder.url);
    let once: Awaited<ReturnType<LoadClient['json']>>;
    let never: Awaited<ReturnType<LoadClient['json']>>;
    try {
      expect((await flakyClient.json('/note', { text: 'before' })).status).toBe(200);
      once = await flakyClient.json('/flaky', { text: 'once', failures: 1 });
      never = await flakyClient.json('/flaky', { text: 'never', failures: 5 });
    } finally {
      flakyClient.close();
    }
    expect((await recorder.stop()).code).toBe(0);
    recorder = null;

    expect(once.status, once.body.toString()).toBe(200);
    expect(once.value).toMatchObject({ attempt: 2, seen: 1 });
    const view = readJournal(flakyJournal);
    const session = expectJournaled(view, once);
    expect(session.attempts.map((a) => a.record)).toEqual([expect.objectContaining({ kind: 'session-attempt', attempt: 2, reason: 'retry', fromCheckpoint: null })]);
    expect(recordsOf(session, 'checkpoint')).toEqual([]);
    // Nothing served: the read ran again and the UUID was drawn again; the answer carries the second attempt's.
    const retried = session.attempts[0].position;
    const reads = recordsOf(session, 'read-tx') as { position: number; record: ReadTxRecord }[];
    expect(reads.map((r) => r.position < retried)).toEqual([true, false]);
    const uuids = (recordsOf(session, 'value') as { position: number; record: ValueRecord }[]).filter((v) => v.record.source === 'uuid');
    expect(uuids.map((u) => u.position < retried)).toEqual([true, false]);
    expect((once.value as { token: string }).token).toBe(uuids[1].record.value);
    expect(recordsOf(session, 'write-tx')).toHaveLength(1);

    // Given up after three attempts, each from the start.
    expect(never.status).toBe(500);
    const gaveUp = expectJournaled(view, never);
    expect(gaveUp.attempts.map((a) => [a.record.attempt, a.record.reason, a.record.fromCheckpoint])).toEqual([
      [2, 'retry', null],
      [3, 'retry', null],
    ]);
    expect(recordsOf(gaveUp, 'read-tx')).toHaveLength(3);
    expect(gaveUp.end?.record).toMatchObject({ status: 'error', error: { name: 'RetryableError', retryable: true } });

    // The replay of both: every attempt, from the start, equal.
    for (const retriedSession of [session, gaveUp]) {
      const r = replay(['run', String(retriedSession.id), '--json', '-j', flakyJournal]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      // Every effect of every attempt compared (nothing inherited), and the response.
      const effects = retriedSession.records.filter((e) => ['value', 'call-start', 'call-result', 'write-tx', 'read-tx', 'checkpoint'].includes(e.record.kind));
      expect(r.json).toMatchObject({ session: retriedSession.id, equal: true, steps: effects.length + 1, divergence: null });
    }
  });
});
