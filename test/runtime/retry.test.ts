import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import { BANK_APP, LoadClient, spawnRecorder, type RecorderProcess } from '../../scripts/load.js';
import type { CallStartRecord, CheckpointRecord } from '../../src/model/records.js';
import { tempDirs } from '../helpers/cli.js';
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
