import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStub, type RunningStub } from '../../fixtures/apps/bank/stub.js';
import { BANK_APP, bankOp, LoadClient, pool, ROOT, runReplay, seededRandom, spawnRecorder, spawnServer, type BankOp, type CallOutcome } from '../../scripts/load.js';
import { nodeFileLayer } from '../../src/journal/index.js';
import { JournalFailedError } from '../../src/model/errors.js';
import { startServer } from '../../src/runtime/server.js';
import { tempDirs } from '../helpers/cli.js';
import { FaultyLayer, errno, type Faults } from '../helpers/faulty-layer.js';
import { expectJournaled, expectLiveIsJournal, readJournal, type JournalView } from './journal-view.js';

// Fail-stop: when the journal stops accepting records (a failed write, a
// full disk, a failed fdatasync), the server acknowledges nothing more: it
// answers 503, reports the failure once, and `replay record` exits 74. Every
// response it did send is in the journal, and a restart on the same journal
// recovers: sessions resume and end, the database is the journal's.

const tmp = tempDirs('windback-failstop');
let stub: RunningStub;

beforeAll(async () => {
  stub = await startStub(0);
});

afterAll(async () => {
  await stub?.close();
});

/** Run `ops` with 16 at a time; `trigger` runs once `after` of them were answered. */
async function drive(client: LoadClient, ops: BankOp[], after: number, trigger: () => void): Promise<CallOutcome[]> {
  const out: CallOutcome[] = [];
  let answered = 0;
  await pool(ops, 16, async (op) => {
    try {
      const r = await client.call(op.transport, op.kind, op.input, { idempotencyKey: op.idempotencyKey });
      out.push(r);
      if (++answered === after) trigger();
    } catch {
      // The connection went away with the process (exit 74): not acknowledged.
    }
  });
  return out;
}

function expectFailStop(received: CallOutcome[], view: JournalView): { acknowledged: number; refused: number } {
  let acknowledged = 0;
  let refused = 0;
  for (const r of received) {
    if (r.status === 503) {
      // Refused: not a session response, nothing acknowledged.
      expect(r.session, r.body.toString()).toBeNull();
      expect(JSON.parse(r.body.toString()).error).toMatchObject({ name: 'Unavailable', message: expect.stringMatching(/journal stopped accepting records/) });
      refused++;
    } else {
      expect(r.status, r.body.toString()).toBeLessThan(500);
      expectJournaled(view, r);
      acknowledged++;
    }
  }
  return { acknowledged, refused };
}

async function recoverAndCheck(journal: string): Promise<JournalView> {
  // A restart on the same journal cuts the unacknowledged tail, resumes what was open, and ends it.
  const again = await startServer(BANK_APP, { journal, config: { fraudUrl: stub.url } });
  await again.resumed;
  await again.close();
  const view = expectLiveIsJournal(journal, tmp('rebuilt'));
  expect([...view.sessions.values()].filter((s) => s.end === null).map((s) => s.id)).toEqual([]);
  const info = await runReplay(['info', '--json', '--journal', journal]);
  expect(JSON.parse(info.stdout)).toMatchObject({ integrity: 'ok', openSessions: 0 });
  return view;
}

const FAULTS: [name: string, faults: Faults, message: RegExp][] = [
  ['a journal write fails with ENOSPC halfway', { write: ({ length }) => ({ error: errno('ENOSPC', 'no space left on device'), partial: length >> 1 }) }, /disk is full/],
  ['fdatasync fails with EIO', { datasync: () => errno('EIO', 'i/o error') }, /EIO/],
];

describe('fail-stop under load (startServer with a faulty file layer)', () => {
  it.each(FAULTS)('%s: 503 from then on, one fatal report, nothing acknowledged lost', async (_name, faults, message) => {
    const journal = tmp();
    const layer = new FaultyLayer(nodeFileLayer);
    const fatals: JournalFailedError[] = [];
    const server = await startServer(BANK_APP, { journal, config: { fraudUrl: stub.url }, layer, onFatal: (e) => fatals.push(e) });
    const client = new LoadClient(server.url);
    let received: CallOutcome[];
    try {
      const random = seededRandom(74);
      const accounts: string[] = [];
      for (let i = 0; i < 4; i++) accounts.push(((await client.json('/open', { owner: `o${i}`, initial: 40_000 })).value as { id: string }).id);
      const ops = Array.from({ length: 160 }, (_, i) => bankOp(random, accounts, 'fs', i));
      received = await drive(client, ops, 50, () => (layer.faults = faults));
      expect(fatals).toHaveLength(1);
      expect(fatals[0]).toBeInstanceOf(JournalFailedError);
      expect(fatals[0].message).toMatch(message);
      expect(server.failed).toBe(fatals[0]);
      const health = await client.request('GET', '/_windback/health');
      expect(health.status).toBe(503);
      expect(JSON.parse(health.body.toString())).toMatchObject({ status: 'failed' });
      const later = await client.json('/balance', { account: accounts[0] });
      expect(later.status).toBe(503);
      received.push(later);
    } finally {
      client.close();
      await server.close().catch(() => {});
    }
    // No write reached the journal after the failure (fail-stop, never retry).
    expect(layer.callsAfterFirstFailure().filter((c) => c.op === 'write' || c.op === 'datasync' || c.op === 'datasyncSync')).toEqual([]);
    const { acknowledged, refused } = expectFailStop(received, readJournal(journal));
    expect(acknowledged).toBeGreaterThanOrEqual(50);
    expect(refused).toBeGreaterThan(0);
    const view = await recoverAndCheck(journal);
    for (const r of received.filter((x) => x.status !== 503)) expectJournaled(view, r);
  });
});

describe('exit 74', () => {
  it('a server whose journal fails exits 74, like `replay record`, with nothing acknowledged lost', async () => {
    const journal = tmp();
    const child = await spawnServer(['--import', 'tsx', path.join(ROOT, 'test/runtime/fail-stop-child.ts'), BANK_APP, journal, JSON.stringify({ fraudUrl: stub.url })]);
    const client = new LoadClient(child.url);
    let received: CallOutcome[] = [];
    try {
      const random = seededRandom(7474);
      const accounts: string[] = [];
      for (let i = 0; i < 4; i++) accounts.push(((await client.json('/open', { owner: `o${i}`, initial: 40_000 })).value as { id: string }).id);
      const ops = Array.from({ length: 200 }, (_, i) => bankOp(random, accounts, 'x', i));
      received = await drive(client, ops, 40, () => child.child.kill('SIGUSR2'));
    } finally {
      client.close();
    }
    const exit = await Promise.race([child.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 20_000))]);
    if (exit === null) await child.kill('SIGKILL');
    expect(exit, child.stderr()).toEqual({ code: 74, signal: null });
    expect(child.stderr()).toMatch(/fatal: journal .* stopped accepting records: the disk is full/);
    const { acknowledged } = expectFailStop(received, readJournal(journal));
    expect(acknowledged).toBeGreaterThanOrEqual(40);
    await recoverAndCheck(journal);
  });
});
