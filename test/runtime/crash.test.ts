import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import {
  BANK_APP,
  bankOp,
  LoadClient,
  runReplay,
  seededRandom,
  spawnRecorder,
  type BankOp,
  type CallOutcome,
  type RecorderOptions,
  type RecorderProcess,
} from '../../scripts/load.js';
import type { CallStartRecord, Durability } from '../../src/model/records.js';
import { SqliteStore, logicalDifference } from '../../src/store/index.js';
import { tempDirs } from '../helpers/cli.js';
import { bankTables, expectJournaled, readJournal, rebuildFromJournal } from './journal-view.js';

// The crash campaign: `replay record` under concurrent load over the three
// transports, SIGKILLed at random points (some right after it starts
// listening, while the sessions the last crash interrupted are resuming) and
// restarted on the same journal each time. Then:
// - every response a client received is in the journal, byte for byte;
// - the live database equals the state rebuilt from the journal's write
//   transactions, and the bank's books balance;
// - every session ended; the journal verifies;
// - the fraud stub executed no idempotency key twice, and every key it
//   executed was journaled as a call's intent first.
// WINDBACK_LONG=1 runs many more kill points.

const LONG = process.env.WINDBACK_LONG === '1';
const KILLS = LONG ? 150 : 20;
const CONCURRENCY = 24;
const SEED = Number(process.env.WINDBACK_SEED ?? 20_261_124);

const tmp = tempDirs('windback-crash');
let stub: RunningStub | null = null;
let server: RecorderProcess | null = null;

afterAll(async () => {
  await server?.kill('SIGKILL');
  await stub?.close();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Received {
  op: BankOp;
  outcome: CallOutcome;
}

describe('crash campaign', () => {
  it(`${KILLS} SIGKILLs under concurrent load: nothing acknowledged is lost, the database is the journal's, no call ran twice`, { timeout: LONG ? 1_200_000 : 150_000 }, async () => {
    const random = seededRandom(SEED);
    stub = await startStub(0);
    const journal = tmp();
    const durabilities: Durability[] = ['batch', 'none', 'batch', 'always'];
    const options = (i: number): RecorderOptions => ({
      journal,
      config: { fraudUrl: stub!.url },
      args: ['--snapshot-every', '25', '--snapshot-growth', '0', '--durability', durabilities[i % durabilities.length]],
    });
    server = await spawnRecorder(BANK_APP, options(0));
    const client = new LoadClient(server.url, { maxSockets: CONCURRENCY });
    const received: Received[] = [];
    const accounts: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await client.json('/open', { owner: `owner-${i}`, initial: 50_000 });
      expect(r.status, r.body.toString()).toBe(200);
      received.push({ op: { transport: 'json', kind: 'open', input: { owner: `owner-${i}`, initial: 50_000 }, label: 'open' }, outcome: r });
      accounts.push((r.value as { id: string }).id);
    }

    // Requests with an Idempotency-Key that a crash cut are sent again later: the
    // answer must come from the session the first one started (resumed), not a new one.
    const cut: BankOp[] = [];
    let resent = 0;
    let index = 0;
    // A kill point is the k-th answer of a run (k random), so that every run
    // kills under load however fast the machine is.
    let killAt: { answers: number; reached: () => void } | null = null;
    const answer = (op: BankOp, outcome: CallOutcome): void => {
      received.push({ op, outcome });
      if (op.kind === 'open' && outcome.ok) accounts.push((outcome.value as { id: string }).id);
      if (killAt && received.length >= killAt.answers) killAt.reached();
    };
    for (let kill = 0; kill < KILLS; kill++) {
      let running = true;
      const workers = Array.from({ length: CONCURRENCY }, async () => {
        while (running) {
          const again = cut.length > 0 && random.chance(0.3);
          const op = again ? cut.shift()! : bankOp(random, accounts, `k${SEED}`, index++);
          if (again) resent++;
          try {
            answer(op, await client.call(op.transport, op.kind, op.input, { idempotencyKey: op.idempotencyKey }));
          } catch {
            if (op.idempotencyKey) cut.push(op);
          }
        }
      });
      // A kill point: right away (while the sessions the last crash cut resume),
      // or after 1 to 120 more answers, then up to 5 ms more.
      const more = random.chance(0.15) ? 0 : 1 + random.int(120);
      if (more > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 20_000); // a stuck server is caught by the checks below
          killAt = { answers: received.length + more, reached: () => (clearTimeout(timer), resolve()) };
        });
        killAt = null;
        await sleep(random.int(6));
      }
      running = false;
      await server.kill('SIGKILL');
      await Promise.all(workers);
      if (process.env.WINDBACK_DEBUG) console.log(`kill ${kill} after ${more} more answers: ${received.length} answers so far, ${cut.length} cut`);
      server = await spawnRecorder(BANK_APP, options(kill + 1));
      client.url = server.url;
    }

    // The last run: every cut keyed request again, then a clean shutdown.
    while (cut.length > 0) {
      const op = cut.shift()!;
      resent++;
      answer(op, await client.call(op.transport, op.kind, op.input, { idempotencyKey: op.idempotencyKey }));
    }
    client.close();
    const exit = await server.stop();
    expect(exit.code, server.stderr()).toBe(0);
    server = null;
    await stub.close();
    const stats = stub.stats();
    stub = null;

    const view = readJournal(journal);
    const sessions = [...view.sessions.values()];

    // Every answer a client got is journaled, byte for byte, under its session.
    expect(received.length).toBeGreaterThan(KILLS * 5);
    for (const { op, outcome } of received) {
      expect(outcome.status, `${op.kind} over ${op.transport}: ${outcome.body.toString()}`).toBeLessThan(500);
      expectJournaled(view, outcome);
    }
    // A resumed session answers what it would have answered: all its responses agree.
    for (const s of sessions) {
      for (const r of s.responses.slice(1)) expect(Buffer.from(r.record.body).equals(Buffer.from(s.responses[0].record.body)), `session ${s.id}`).toBe(true);
    }
    // A keyed request sent again was answered by the session the key started.
    const byKey = new Map<string, number[]>();
    for (const s of sessions) if (s.start.idempotencyKey) byKey.set(s.start.idempotencyKey, [...(byKey.get(s.start.idempotencyKey) ?? []), s.id]);
    for (const [key, ids] of byKey) expect(ids, `sessions with Idempotency-Key ${key}`).toHaveLength(1);
    for (const { op, outcome } of received) if (op.idempotencyKey && byKey.has(op.idempotencyKey)) expect(outcome.session).toBe(byKey.get(op.idempotencyKey)![0]);

    // Every session ended, none aborted; the crashes made some resume.
    const open = sessions.filter((s) => s.end === null).map((s) => s.id);
    expect(open, 'sessions never ended').toEqual([]);
    expect(sessions.filter((s) => s.end!.record.status === 'aborted').map((s) => s.id)).toEqual([]);
    const resumed = sessions.filter((s) => s.attempts.some((a) => a.record.reason === 'resume'));
    expect(resumed.length).toBeGreaterThan(0);
    for (const s of resumed) expect(s.end!.record.status === 'ok' || s.end!.record.error?.name === 'BusinessError', `session ${s.id}: ${JSON.stringify(s.end!.record.error)}`).toBe(true);
    const info = await runReplay(['info', '--json', '--journal', journal]);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ integrity: 'ok', openSessions: 0, sessions: sessions.length });

    // The live database is the journal's state.
    const rebuilt = rebuildFromJournal(view, path.join(tmp('rebuilt'), 'rebuilt.sqlite'));
    const live = SqliteStore.open(path.join(journal, 'live.sqlite'));
    try {
      expect(live.lastAppliedTx).toBe(view.writeTxs.length);
      expect(logicalDifference(live, rebuilt)).toBeNull();
      const tables = bankTables(live);
      expect(tables).toEqual(bankTables(rebuilt));
      // The books balance: every account's balance is the sum of its ledger.
      const ledger = new Map<string, number>();
      for (const [, account, amount] of tables.ledger as [number, string, number][]) ledger.set(account, (ledger.get(account) ?? 0) + amount);
      for (const [id, , balance] of tables.accounts as [string, string, number][]) expect(balance, `account ${id}`).toBe(ledger.get(id) ?? 0);
      // One transfers row per transfer session that ended ok.
      const okTransfers = sessions.filter((s) => s.start.sessionKind === 'transfer' && s.end!.record.status === 'ok');
      expect(tables.transfers.length).toBe(okTransfers.length);
    } finally {
      live.close();
      rebuilt.close();
    }

    // No idempotency key executed twice; each executed key was journaled as intent first;
    // every call of a session that ended ok was executed exactly once.
    const intents = new Map<string, string>();
    for (const s of sessions) {
      for (const { record } of s.records) {
        if (record.kind !== 'call-start') continue;
        const call = record as CallStartRecord;
        const url = call.name === 'fetch' ? new URL((call.request as { url: string }).url).pathname : '/notify';
        intents.set(`${url} ${call.idempotencyKey}`, `session ${s.id} (${s.end!.record.status})`);
      }
    }
    for (const [key, count] of Object.entries(stats.executions)) {
      expect(count, `stub executions of ${key}`).toBe(1);
      expect(intents.has(key), `${key} was executed but never journaled as a call-start`).toBe(true);
    }
    for (const s of sessions.filter((x) => x.start.sessionKind === 'transfer' && x.end!.record.status === 'ok')) {
      for (const { record } of s.records.filter((r) => r.record.kind === 'call-start')) {
        const call = record as CallStartRecord;
        const url = call.name === 'fetch' ? new URL((call.request as { url: string }).url).pathname : '/notify';
        expect(stats.executions[`${url} ${call.idempotencyKey}`], `session ${s.id}: ${url} ${call.idempotencyKey}`).toBe(1);
      }
    }

    console.log(
      `crash campaign: ${KILLS} kills, ${received.length} answers (${resent} cut keyed requests sent again), ${sessions.length} sessions, ` +
        `${resumed.length} resumed, ${view.writeTxs.length} transactions, ${Object.keys(stats.executions).length} stub executions`,
    );
  });
});
