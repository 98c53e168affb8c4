import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadTxRecord } from '../../src/model/records.js';
import { RealmCache, replaySession, type ReplayStep } from '../../src/replay/engine.js';
import { openJournal, type OpenJournal } from '../../src/services/journal-access.js';
import { TuiData } from '../../src/services/tui-data.js';
import { buildView } from '../../src/tui/state.js';
import { tempDirs } from '../helpers/cli.js';
import { recordBankJournal, type BankJournal } from './fixture.js';

// A session the runtime ran twice (its fraud check answered 503 once): the
// second attempt is served the first one's read and checkpoint. The steps
// pane must show what each attempt's own re-execution produced, not what the
// second attempt was served at the same journal position.

const tmp = tempDirs('windback-tui-retried');
let journal: BankJournal;
let access: OpenJournal;
let data: TuiData;
/** What the replay engine reports for the session, straight from replaySession. */
let engineSteps: ReplayStep[];

beforeAll(async () => {
  journal = await recordBankJournal(tmp(), { retried: true });
  access = openJournal(journal.dir);
  data = TuiData.open({ journal: journal.dir });
  engineSteps = [];
  const realms = new RealmCache();
  try {
    const result = await replaySession(access, journal.retried!, { observer: { step: (s) => engineSteps.push(s) } }, realms);
    expect(result.equal).toBe(true);
  } finally {
    realms.close();
  }
}, 120_000);

afterAll(() => {
  data?.close();
  access?.close();
});

describe('a retried session in the steps pane', () => {
  it('is a transfer of two attempts whose first read was re-run by attempt 1 and served to attempt 2', () => {
    const records = access.reader.sessionRecords(access.catalog.session(journal.retried!)!.lastPosition);
    expect(records.filter((r) => r.record.kind === 'session-attempt')).toHaveLength(1);
    const read = records.findIndex((r) => r.record.kind === 'read-tx');
    const own = engineSteps.find((s) => s.step === read && !s.inherited);
    const served = engineSteps.find((s) => s.step === read && s.inherited);
    expect(own?.attempt).toBe(1);
    expect(served?.attempt).toBe(2);
  });

  it("shows attempt 1's own re-run read, not the copy attempt 2 was served", async () => {
    const session = journal.retried!;
    const trace = await data.replay(session, {}, { fresh: true });
    const rows = data.steps(session).rows;
    const view = buildView(rows, { ...trace, done: true });
    const records = access.reader.sessionRecords(access.catalog.session(session)!.lastPosition);
    const read = records.findIndex((r) => r.record.kind === 'read-tx');
    const own = engineSteps.find((s) => s.step === read && !s.inherited)!;
    const recorded = records[read].record as ReadTxRecord;
    // The engine re-ran it in attempt 1 and produced the journal's result.
    expect((own.actual as { result: unknown }).result).toEqual(recorded.result);
    expect(view[read].verdict).toBe('equal');
    expect(view[read].actual).toMatchObject({ result: recorded.result, readDigest: expect.stringMatching(/^<32 bytes: [0-9a-f]{64}>$/) });
    expect(view[read].location).toMatch(new RegExp(`fixtures/apps/bank/app\\.ts:${own.location!.line}:${own.location!.column}$`));
  });

  it("stepping to attempt 1's read shows its own re-run; to attempt 2's steps, the checkpoint it inherited", async () => {
    const session = journal.retried!;
    const records = access.reader.sessionRecords(access.catalog.session(session)!.lastPosition);
    const read = records.findIndex((r) => r.record.kind === 'read-tx');
    const own = engineSteps.find((s) => s.step === read && !s.inherited)!;
    const recorded = records[read].record as ReadTxRecord;
    const state = await data.stepTo(session, read);
    expect(state).toMatchObject({ index: read, attempt: 1, verdict: 'equal', actual: { result: recorded.result } });
    expect(state.location).toMatch(new RegExp(`app\\.ts:${own.location!.line}:${own.location!.column}$`));
    // Attempt 2 starts at its session-attempt record; its first own effect runs with attempt 1's `validated` in force.
    const opening = records.findIndex((r) => r.record.kind === 'session-attempt');
    const validated = records.findIndex((r) => r.record.kind === 'checkpoint' && (r.record as { label: string }).label === 'validated');
    const first = engineSteps.find((s) => s.attempt === 2 && !s.inherited)!;
    expect(first.step).toBe(opening + 1);
    const next = await data.stepTo(session, first.step);
    expect(next).toMatchObject({ index: first.step, attempt: 2, verdict: 'equal', checkpoint: { step: validated, label: 'validated' } });
  });
});
