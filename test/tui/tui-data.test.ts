import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BANK_APP } from '../../scripts/load.js';
import { HEADER_SIZE } from '../../src/journal/constants.js';
import type { JournalRecord, ResponseRecord } from '../../src/model/records.js';
import { openJournal } from '../../src/services/journal-access.js';
import { openTui, TuiData, type ReplayEvent } from '../../src/services/tui-data.js';
import { tempDirs } from '../helpers/cli.js';
import { renderTui } from './render.js';
import { BANK_CHANGED_APP, recordBankJournal, type BankJournal } from './fixture.js';

// The TUI's service over a journal recorded by the real server: the
// timeline, the sessions alive at a transaction, a session's steps, and its
// re-execution by the replay engine, cached.

const tmp = tempDirs('windback-tui-data');
let journal: BankJournal;
let data: TuiData;

beforeAll(async () => {
  journal = await recordBankJournal(tmp());
  data = TuiData.open({ journal: journal.dir });
});

afterAll(() => data?.close());

describe('the timeline', () => {
  it('spans the transactions and says what each one did', () => {
    expect(data.range()).toEqual({ first: 1, last: 8 });
    const tx = data.tx(8);
    expect(tx).toMatchObject({ tx: 8, session: journal.transfer.session, sessionKind: 'transfer', migration: null });
    expect(tx.tables).toEqual([
      { table: 'accounts', rows: 2 },
      { table: 'ledger', rows: 2 },
      { table: 'transfers', rows: 1 },
    ]);
    expect(data.tx(1).migration).toBe('001-accounts');
  });

  it('resolves a transaction id or an ISO time, and names the range when out of it', () => {
    expect(data.resolveTx('7')).toBe(7);
    expect(data.resolveTx('tx 3')).toBe(3);
    expect(data.resolveTx(data.tx(6).at)).toBe(6);
    expect(data.resolveTx('2999-01-01T00:00:00Z')).toBe(8);
    expect(() => data.resolveTx('9')).toThrow('tx 9 is out of range: the journal holds tx 1 to 8');
    expect(() => data.resolveTx('2000-01-01')).toThrow(`none committed by then: tx 1 at ${data.tx(1).at}`);
    expect(() => data.resolveTx('soon')).toThrow('not a tx id nor an ISO-8601 time (2026-11-24T09:30Z)');
  });
});

describe('the sessions alive at a transaction', () => {
  it('are the held transfer, past its validated checkpoint, and the deposit that committed tx 7 (no checkpoint: from its start)', () => {
    const alive = data.alive(7);
    expect(alive.map((s) => [s.id, s.kind, s.status, s.lastCheckpoint?.label ?? null])).toEqual([
      [5, 'transfer', 'ok', 'validated'],
      [6, 'deposit', 'ok', null],
    ]);
    expect(alive[0].ageMs).toBe(data.tx(7).atMs - Date.parse(alive[0].startedAt));
    expect(alive[1].txs).toEqual([7]);
  });

  it('a session given alone starts at its first transaction', () => {
    expect(data.txForSession(5)).toBe(8);
    expect(data.txForSession(7)).toBe(8); // a read: the first transaction after it started
  });
});

describe("a session's steps and their re-execution", () => {
  it('lists the records as `replay show` numbers them', () => {
    const { session, rows } = data.steps(5);
    expect(session).toMatchObject({ id: 5, kind: 'transfer', status: 'ok', txs: [8] });
    // The one checkpoint is the app's own ('validated'): none is journaled before the handler or after it.
    expect(rows.map((r) => r.kind)).toEqual([
      'session-start', 'read-tx', 'checkpoint', 'value', 'call-start', 'call-result',
      'value', 'value', 'value', 'write-tx', 'call-start', 'call-result', 'response', 'session-end',
    ]);
    expect(rows[2].record).toMatchObject({ label: 'validated' });
    expect(rows.map((r) => r.index)).toEqual(rows.map((_, i) => i));
    const response = rows[12].record;
    expect(response.body).toMatchObject({ from: journal.alice, to: journal.bob, amount: 1_200 });
  });

  it('reports every step to the listener as the engine runs, numbered as replay show numbers them, the response last, then the end', async () => {
    const events: ReplayEvent[] = [];
    const trace = await data.replay(5, { event: (e) => events.push(e) }, { fresh: true });
    expect(trace).toMatchObject({ session: 5, equal: true, divergences: [], error: null, cached: false });
    const access = openJournal(journal.dir);
    let records: JournalRecord[];
    try {
      records = access.reader.sessionRecords(access.catalog.session(5)!.lastPosition).map((r) => r.record);
    } finally {
      access.close();
    }
    const compared = records.flatMap((r, i) => (['session-start', 'session-end'].includes(r.kind) ? [] : [i]));
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.map((e) => e.step)).toEqual(compared);
    expect(steps.every((e) => e.attempt === 1 && !e.inherited)).toBe(true);
    expect(events[events.length - 1]).toEqual({ type: 'end', equal: true, steps: expect.any(Number) });
    const tx = events.find((e) => e.type === 'step' && e.kind === 'tx');
    expect(tx).toMatchObject({ location: expect.stringMatching(/fixtures\/apps\/bank\/app\.ts:\d+:\d+$/), actual: { changes: expect.any(Array) } });
    // The response's step carries the replayed response, its body parsed as the recorded one is shown.
    const response = records.find((r) => r.kind === 'response') as ResponseRecord;
    expect(steps[steps.length - 1]).toMatchObject({ kind: 'response', actual: { status: response.status, body: JSON.parse(Buffer.from(response.body).toString('utf8')) } });
  });

  it('serves a session replayed before from its cache, with the same events', async () => {
    const first = await data.replay(3);
    const events: ReplayEvent[] = [];
    const again = await data.replay(3, { event: (e) => events.push(e) });
    expect(again.cached).toBe(true);
    expect(events).toEqual(first.events);
    expect((await data.replay(3, {}, { fresh: true })).cached).toBe(false);
  });

  it('a step move right after the replay starts from a checkpoint the replay reached, not from the start', async () => {
    const fresh = TuiData.open({ journal: journal.dir });
    try {
      const rows = fresh.steps(5).rows;
      const tx = rows.findIndex((r) => r.kind === 'write-tx');
      const checkpoint = rows.findLastIndex((r, i) => r.kind === 'checkpoint' && i < tx);
      expect(checkpoint).toBeGreaterThan(0);
      expect((await fresh.replay(5)).equal).toBe(true);
      const moved = await fresh.stepTo(5, tx);
      expect(moved.ran?.from).toBe(checkpoint);
    } finally {
      fresh.close();
    }
  });

  it('a what-if replay with the changed code diverges at the transfer transaction', async () => {
    const whatIf = TuiData.open({ journal: journal.dir, code: BANK_CHANGED_APP });
    try {
      const trace = await whatIf.replay(5);
      expect(trace.equal).toBe(false);
      const tx = whatIf.steps(5).rows.find((r) => r.kind === 'write-tx')!;
      expect(trace.divergences[0]).toMatchObject({ kind: 'tx', position: tx.position, message: 'transaction 8 wrote different rows' });
      expect(trace.events.some((e) => e.type === 'divergence')).toBe(true);
    } finally {
      whatIf.close();
    }
  });

  it('a what-if that throws: the full replay names the error where it diverges; a move there finds the same divergence', async () => {
    // The bank app, throwing a TypeError after the fraud check: the transfer ends without its value steps and transaction.
    const app = fs.readFileSync(BANK_APP, 'utf8');
    const line = 'const latencyMs = Math.round(performance.now() - started);';
    expect(app).toContain(line);
    const code = path.join(tmp(), 'throws.ts');
    fs.writeFileSync(code, app.replace(line, `${line} (config as unknown as { limits: { daily: number } }).limits.daily.toFixed();`));
    const whatIf = TuiData.open({ journal: journal.dir, code });
    try {
      const trace = await whatIf.replay(5);
      const first = trace.divergences[0];
      expect(first).toMatchObject({ kind: 'missing-step', message: expect.stringMatching(/; the replay threw TypeError: Cannot read properties of undefined \(reading 'daily'\)$/) });
      expect(first.location).toMatch(/throws\.ts:\d+:\d+$/);
      // The diff pane's state of that step comes from the stepping API: the same divergence (a run to a step leaves the error out;
      // the diff tells it as the full replay does, diff.ts `fuller`).
      const moved = await whatIf.stepTo(5, first.step);
      expect(moved.verdict).toBe('diverged');
      expect(moved.divergence).toMatchObject({ kind: 'missing-step', step: first.step, position: first.position });
      expect(first.message.startsWith(moved.divergence!.message)).toBe(true);
    } finally {
      whatIf.close();
    }
  });

  it('refuses an unknown session and a missing --code file', () => {
    expect(() => data.steps(999)).toThrow('unknown session 999: the journal holds 9 sessions');
    expect(() => TuiData.open({ journal: journal.dir, code: '/nonexistent/app.ts' })).toThrow('--code /nonexistent/app.ts: no such file');
  });
});

describe('where the TUI starts', () => {
  it('at a tx, at a time, at a session\'s first transaction, or at the last one', () => {
    const starts = [{ tx: '3' }, { at: data.tx(6).at }, { session: '5' }, {}].map((flags) => {
      const start = openTui({ journal: journal.dir, ...flags });
      start.source.close();
      return [start.tx, start.session];
    });
    expect(starts).toEqual([
      [3, undefined],
      [6, undefined],
      [8, 5],
      [undefined, undefined],
    ]);
  });

  it('refuses bad flags before anything is drawn', () => {
    expect(() => openTui({ journal: journal.dir, tx: '3', at: '2026-01-01' })).toThrow('give either --tx or --at, not both');
    expect(() => openTui({ journal: journal.dir, tx: 'three' })).toThrow('--tx must be a transaction id (a whole number from 1), got "three"');
    expect(() => openTui({ journal: journal.dir, tx: '42' })).toThrow('tx 42 is out of range: the journal holds tx 1 to 8');
    expect(() => openTui({ journal: journal.dir, at: 'noon' })).toThrow('--at must be an ISO-8601 time');
    expect(() => openTui({ journal: journal.dir, session: 'x' })).toThrow('--session must be a session id (a whole number from 1), got "x"');
    expect(() => openTui({ journal: journal.dir, session: '999' })).toThrow('unknown session 999');
  });
});

describe('a journal damaged in the middle', () => {
  it('opens, shows what precedes the damage, and says where the damage is', async () => {
    // A copy with one byte changed inside transaction 6's record (acknowledged data: corruption, not a tail).
    const dir = tmp('damaged');
    for (const name of fs.readdirSync(journal.dir)) {
      if (name.endsWith('.wbj')) fs.copyFileSync(path.join(journal.dir, name), path.join(dir, name));
    }
    const access = openJournal(journal.dir);
    const position = access.catalog.tx(6)!.position;
    access.close();
    const segment = path.join(dir, '00000001.wbj');
    const bytes = fs.readFileSync(segment);
    bytes[HEADER_SIZE + position + 20] ^= 0x55;
    fs.writeFileSync(segment, bytes);

    const start = openTui({ journal: dir });
    try {
      expect(start.source.damage).toBe(`journal corrupt at position ${position}: shown up to there`);
      expect(start.source.range()).toEqual({ first: 1, last: 5 });
      expect(start.source.tx(5).tx).toBe(5);
      expect(start.source.alive(5).length).toBeGreaterThan(0);
      // The TUI opens at the last transaction before the damage, and its status bar says where the damage is.
      const tui = renderTui(start.source);
      try {
        const frame = await tui.waitFor((f) => f.includes('Timeline · tx 5 of 1–5'), 'the first frame');
        expect(frame.split('\n').at(-1)).toMatch(new RegExp(`^journal corrupt at position ${position}: shown up to there +\\? help`));
      } finally {
        tui.unmount();
      }
    } finally {
      start.source.close();
    }
  });
});
